//! Regression tests for what the fuzz targets in `tests/fuzz` found (README "Fuzzing"): each test is the
//! minimized crasher rebuilt in code, asserting the fixed behaviour.
use accel_ops::blob::encode;
use accel_ops::command::{Act, Command, Queue, QueueId, SramAddr, Unit};
use accel_ops::cost::command_cost;
use accel_ops::op::{Op, Softmax};
use accel_ops::program::{DebugInfo, DramTensor, HostKernel, IoDesc, Meta, Program};
use accel_ops::target::Target;
use accel_ops::{DType, Tensor, TensorType};
use accel_runtime::{RuntimeError, Session, VerifyError};

fn program(queues: Vec<Queue>, dram_bytes: u64) -> Program {
    Program {
        meta: Meta {
            target: Target::x1(),
            compiler_version: "regression".into(),
            target_name: "x1".into(),
            options: String::new(),
            inputs: vec![],
            outputs: vec![],
            dram_bytes,
            semaphores: 0,
            stages: Vec::new(),
        },
        queues,
        constants: vec![],
        kernels: vec![],
        debug: DebugInfo::default(),
    }
}

/// A verified `mac.conv` whose window is 1024 x 256: `kernel_h * kernel_w` overflowed `u16` in the cost
/// model (a panic with overflow checks, a wrong SRAM byte count without). Found by auditing `ops::cost`
/// for the fuzz harness's work estimate, before the first fuzz run.
#[test]
fn conv_cost_with_a_window_larger_than_u16() {
    let conv = Command::Conv {
        dtype: DType::F32,
        input: SramAddr(0),
        in_c: 1,
        in_h: 1024,
        in_w: 256,
        in_row_pitch: 256,
        in_plane_rows: 1024,
        weights: SramAddr(1 << 20),
        bias: SramAddr::NONE,
        residual: SramAddr::NONE,
        res_row_pitch: 0,
        res_plane_rows: 0,
        quant: SramAddr::NONE,
        output: SramAddr(0),
        out_c: 1,
        out_h: 1,
        out_w: 1,
        kernel_h: 1024,
        kernel_w: 256,
        stride_h: 1,
        stride_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: 0,
        pad_left: 0,
        pad_bottom: 0,
        pad_right: 0,
        groups: 1,
        act: Act(None),
    };
    let cost = command_cost(&conv, &Target::x1());
    assert_eq!(cost.macs, 1024 * 256);
    assert_eq!(cost.sram_bytes, (1024 * 256 * 2 + 1) * 4);
    let q = Queue { id: QueueId { tile: 0, unit: Unit::Mac }, commands: vec![conv] };
    let mut s = Session::load(&encode(&program(vec![q], 64)).unwrap()).unwrap();
    s.run(&[]).unwrap();
}

/// A host-kernel softmax: `x` at DRAM 0, `y` at 64, one `host.call`.
fn softmax_program(axis: usize, ty: TensorType) -> Program {
    let host = Queue { id: QueueId { tile: 0, unit: Unit::Host }, commands: vec![Command::HostCall { kernel: 0 }] };
    let mut p = program(vec![host], 128);
    p.meta.inputs = vec![IoDesc { name: "x".into(), ty: ty.clone(), dram: 0 }];
    p.meta.outputs = vec![IoDesc { name: "y".into(), ty: ty.clone(), dram: 64 }];
    p.kernels = vec![HostKernel::fallback(
        Op::Softmax(Softmax { axis, log: false }),
        vec![DramTensor { dram: 0, ty: ty.clone() }],
        DramTensor { dram: 64, ty },
    )];
    p
}

/// Softmax of a scalar (rank 0, axis 0) passed type checking and then sliced `dims[1..]` of an empty shape:
/// a panic in the runtime on a verified blob. Found by `command_stream` (crash-825974927bdd...).
#[test]
fn softmax_of_a_scalar_runs() {
    let mut s = Session::load(&encode(&softmax_program(0, TensorType::f32(vec![]))).unwrap()).unwrap();
    let x = Tensor::from_f32(vec![], vec![3.5]).unwrap();
    let out = s.run(&[("x".into(), x)]).unwrap().outputs;
    assert_eq!(out[0].1.as_f32().unwrap(), &[1.0]);
}

/// The stored axis was cast to i64 for `normalize_axis`, so `usize::MAX` became -1 and was accepted.
#[test]
fn softmax_axis_that_wraps_in_i64_is_refused() {
    let p = softmax_program(usize::MAX, TensorType::f32(vec![4]));
    match Session::load(&encode(&p).unwrap()) {
        Err(RuntimeError::Verify(VerifyError::Kernel { kernel: 0, why, .. })) => assert!(why.contains("axis"), "{why}"),
        other => panic!("expected a host-kernel error, got {:?}", other.err()),
    }
}

/// A verified stride-1 `mac.conv` of a 16-channel 1x1 block padded by 65535 on the top and left: the fast
/// convolution copied the input into zero-padded planes first, asking for 16 x 65536^2 floats (275 GB) and
/// aborting the process. Padding is not bounded by SRAM; the kernel now takes the im2col path when the padded
/// copy would be large. Found by `blob_load_run` on the integrated tree.
#[test]
fn conv_with_huge_padding_runs_in_bounded_memory() {
    let conv = Command::Conv {
        dtype: DType::F32,
        input: SramAddr(0),
        in_c: 16,
        in_h: 1,
        in_w: 1,
        in_row_pitch: 1,
        in_plane_rows: 1,
        weights: SramAddr(64),
        bias: SramAddr::NONE,
        residual: SramAddr::NONE,
        res_row_pitch: 0,
        res_plane_rows: 0,
        quant: SramAddr::NONE,
        output: SramAddr(128),
        out_c: 1,
        out_h: 2,
        out_w: 2,
        kernel_h: 1,
        kernel_w: 1,
        stride_h: 1,
        stride_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: u16::MAX,
        pad_left: u16::MAX,
        pad_bottom: 0,
        pad_right: 0,
        groups: 1,
        act: Act(None),
    };
    let q = Queue { id: QueueId { tile: 0, unit: Unit::Mac }, commands: vec![conv] };
    let mut s = Session::load(&encode(&program(vec![q], 64)).unwrap()).unwrap();
    s.run(&[]).unwrap();
    // Every output position reads padding only.
    assert_eq!(&s.machine().sram(0)[128..144], &[0u8; 16]);
}
