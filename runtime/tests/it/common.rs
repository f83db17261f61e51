//! Builders for small hand-made programs: the one place tests construct `Program`s.
use accel_ops::command::{Act, Command, Copy3, DramAddr, Queue, QueueId, SramAddr, Unit};
use accel_ops::op::UnaryOp;
use accel_ops::program::{DebugInfo, HostKernel, IoDesc, Meta, Program};
use accel_ops::target::Target;
use accel_ops::{DType, TensorType};

pub fn queue(tile: u16, unit: Unit, commands: Vec<Command>) -> Queue {
    Queue { id: QueueId { tile, unit }, commands }
}

pub fn io(name: &str, ty: TensorType, dram: u64) -> IoDesc {
    IoDesc { name: name.into(), ty, dram }
}

/// A program on `x1` with the given parts and no debug info.
pub fn program(
    queues: Vec<Queue>,
    constants: Vec<u8>,
    inputs: Vec<IoDesc>,
    outputs: Vec<IoDesc>,
    dram_bytes: u64,
    semaphores: u32,
) -> Program {
    Program {
        meta: Meta {
            target: Target::x1(),
            compiler_version: "test".into(),
            target_name: "x1".into(),
            options: String::new(),
            inputs,
            outputs,
            dram_bytes,
            semaphores,
            stages: Vec::new(),
        },
        queues,
        constants,
        kernels: Vec::<HostKernel>::new(),
        debug: DebugInfo::default(),
    }
}

pub fn load(sram: u32, dram: u64, len: u32) -> Command {
    Command::Load { sram: SramAddr(sram), dram: DramAddr(dram), copy: Copy3::contiguous(len) }
}

pub fn store(sram: u32, dram: u64, len: u32) -> Command {
    Command::Store { sram: SramAddr(sram), dram: DramAddr(dram), copy: Copy3::contiguous(len) }
}

pub fn signal(sem: u16) -> Command {
    Command::Signal { sem }
}

pub fn wait(sem: u16, value: u32) -> Command {
    Command::Wait { sem, value }
}

pub fn matmul(m: u32, k: u32, n: u32) -> Command {
    Command::MatMul {
        dtype: DType::F32,
        a: SramAddr(0),
        b: SramAddr(0x10000),
        bias: SramAddr::NONE,
        quant: SramAddr::NONE,
        output: SramAddr(0x20000),
        m,
        k,
        n,
        act: Act(None),
    }
}

/// A 3x3 convolution (pad 1, stride 1) of `[c, h, w]` at SRAM 0 with weights, bias and output at fixed
/// addresses, as `conv_program` lays them out.
pub fn conv3x3(c: u32, k: u32, h: u32, w: u32, layout: &ConvLayout, act: Option<UnaryOp>) -> Command {
    Command::Conv {
        dtype: DType::F32,
        input: SramAddr(layout.x),
        in_c: c,
        in_h: h,
        in_w: w,
        in_row_pitch: w,
        in_plane_rows: h,
        weights: SramAddr(layout.w),
        bias: SramAddr(layout.b),
        residual: SramAddr::NONE,
        res_row_pitch: 0,
        res_plane_rows: 0,
        quant: SramAddr::NONE,
        output: SramAddr(layout.y),
        out_c: k,
        out_h: h,
        out_w: w,
        kernel_h: 3,
        kernel_w: 3,
        stride_h: 1,
        stride_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: 1,
        pad_left: 1,
        pad_bottom: 1,
        pad_right: 1,
        groups: 1,
        act: Act(act),
    }
}

/// SRAM addresses of the conv program's buffers.
pub struct ConvLayout {
    pub x: u32,
    pub w: u32,
    pub b: u32,
    pub y: u32,
}

/// The conv program and the constants it holds.
pub struct ConvProgram {
    pub program: Program,
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// load -> conv -> store on tile 0, synchronised with semaphores: x `[1,c,h,w]` in, y `[1,k,h,w]` out.
pub fn conv_program(c: u32, k: u32, h: u32, w: u32, act: Option<UnaryOp>, seed: u64) -> ConvProgram {
    let mut rng = accel_runtime::random::SplitMix64::new(seed);
    let weights = rng.f32_vec((k * c * 9) as usize);
    let bias = rng.f32_vec(k as usize);
    let (w_bytes, b_bytes) = (k * c * 9 * 4, k * 4);
    let (x_bytes, y_bytes) = (c * h * w * 4, k * h * w * 4);
    let mut constants = f32_bytes(&weights);
    constants.extend(f32_bytes(&bias));
    let x_dram = (constants.len() as u64).next_multiple_of(64);
    let y_dram = (x_dram + x_bytes as u64).next_multiple_of(64);
    let dram_bytes = y_dram + y_bytes as u64;
    let l = ConvLayout { x: 0, w: x_bytes.next_multiple_of(64), b: 0, y: 0 };
    let l = ConvLayout { b: (l.w + w_bytes).next_multiple_of(64), ..l };
    let l = ConvLayout { y: (l.b + b_bytes).next_multiple_of(64), ..l };
    let queues = vec![
        queue(
            0,
            Unit::DmaIn,
            vec![load(l.x, x_dram, x_bytes), load(l.w, 0, w_bytes), load(l.b, w_bytes as u64, b_bytes), signal(0)],
        ),
        queue(0, Unit::Mac, vec![wait(0, 1), conv3x3(c, k, h, w, &l, act), signal(1)]),
        queue(0, Unit::DmaOut, vec![wait(1, 1), store(l.y, y_dram, y_bytes)]),
    ];
    let program = program(
        queues,
        constants,
        vec![io("x", TensorType::f32(vec![1, c as usize, h as usize, w as usize]), x_dram)],
        vec![io("y", TensorType::f32(vec![1, k as usize, h as usize, w as usize]), y_dram)],
        dram_bytes,
        2,
    );
    ConvProgram { program, weights, bias }
}
