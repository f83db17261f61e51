//! Structured programs from fuzzer bytes (`arbitrary::Unstructured`): a small target, DRAM layout, model
//! inputs and outputs, host kernels and command queues whose fields are biased towards the values that break
//! verifiers: zero, one, small sizes that fit, the last bytes of a memory, `NONE`, and values whose sums or
//! products wrap in 32 or 64 bits.
use accel_ops::command::{Act, BinCode, Command, Copy3, DramAddr, PoolCode, Queue, QueueId, SramAddr, Unit};
use accel_ops::op::{
    Binary, BinaryOp, Concat, Gather, Op, PoolKind, Reduce, ReduceKind, Softmax, Transpose, Unary, UnaryOp,
};
use accel_ops::program::{DebugInfo, DramTensor, HostKernel, IoDesc, Meta, Program};
use accel_ops::target::Target;
use accel_ops::{DType, Shape, TensorType};
use arbitrary::{Result, Unstructured};

/// True about once in `n` draws, and false once the input runs out (an exhausted `Unstructured` yields the
/// low end of every range), so that short inputs give plain programs rather than hostile ones.
pub fn rare(u: &mut Unstructured<'_>, n: u8) -> Result<bool> {
    Ok(!u.ratio(n - 1, n)?)
}

/// SRAM sizes the generated targets use: small, so that every valid command stays cheap to simulate.
const SRAM_SIZES: [u64; 3] = [64 << 10, 128 << 10, 256 << 10];

fn pick<T: Copy>(u: &mut Unstructured<'_>, xs: &[T]) -> Result<T> {
    Ok(*u.choose(xs)?)
}

/// A count or dimension: mostly small, sometimes an edge value.
fn dim(u: &mut Unstructured<'_>) -> Result<u32> {
    Ok(match u.int_in_range(0u8..=15)? {
        0 => 0,
        1 => 1,
        2..=11 => u.int_in_range(1..=16)?,
        12 => u.int_in_range(17..=600)?,
        13 => u32::MAX,
        14 => 1 << 31,
        _ => 1 << 16,
    })
}

/// An SRAM address: mostly in range and 4-aligned, sometimes at the end, absent or wrapping.
fn sram(u: &mut Unstructured<'_>, size: u64) -> Result<SramAddr> {
    let words = (size / 4) as u32;
    Ok(SramAddr(match u.int_in_range(0u8..=9)? {
        0..=5 => 4 * u.int_in_range(0..=words.saturating_sub(1))?,
        6 => (size as u32).saturating_sub(u.int_in_range(0..=64)?),
        7 => u.arbitrary()?,
        8 => u32::MAX - 3,
        _ => return Ok(SramAddr::NONE),
    }))
}

/// A DRAM address: mostly inside `dram_bytes`, sometimes near `u64::MAX`.
fn dram(u: &mut Unstructured<'_>, dram_bytes: u64) -> Result<u64> {
    Ok(match u.int_in_range(0u8..=7)? {
        0..=4 => 4 * u.int_in_range(0..=(dram_bytes / 4).saturating_sub(1))?,
        5 => dram_bytes.saturating_sub(u.int_in_range(0..=64)?),
        6 => u64::MAX - u.int_in_range(0..=64)?,
        _ => u.arbitrary()?,
    })
}

fn act(u: &mut Unstructured<'_>) -> Result<Act> {
    let op = match u.int_in_range(0u8..=6)? {
        0 | 1 => return Ok(Act(None)),
        2 => UnaryOp::Relu,
        3 => UnaryOp::Clip { min: -1.0, max: 6.0 },
        4 => UnaryOp::LeakyRelu { alpha: 0.1 },
        5 => UnaryOp::Sigmoid,
        _ => UnaryOp::Exp,
    };
    Ok(Act(Some(op)))
}

fn copy3(u: &mut Unstructured<'_>) -> Result<Copy3> {
    if u.ratio(1u8, 2)? {
        return Ok(Copy3::contiguous(4 * dim(u)?.min(1 << 16)));
    }
    Ok(Copy3 {
        len: dim(u)?,
        n1: dim(u)?,
        dram_stride1: if rare(u, 8)? { u64::MAX / 2 } else { u64::from(dim(u)?) },
        sram_stride1: dim(u)?,
        n2: dim(u)?,
        dram_stride2: if rare(u, 8)? { u64::MAX - 7 } else { u64::from(dim(u)?) },
        sram_stride2: dim(u)?,
    })
}

fn small16(u: &mut Unstructured<'_>) -> Result<u16> {
    Ok(match u.int_in_range(0u8..=9)? {
        0 => 0,
        1..=7 => u.int_in_range(1..=4)?,
        8 => u.int_in_range(5..=300)?,
        _ => u16::MAX,
    })
}

/// One command; its unit may or may not match the queue it ends up in.
fn command(u: &mut Unstructured<'_>, sram_size: u64, dram_bytes: u64, sems: u32) -> Result<Command> {
    let s = |u: &mut Unstructured<'_>| sram(u, sram_size);
    let sem = |u: &mut Unstructured<'_>| -> Result<u16> {
        Ok(if rare(u, 10)? { u.arbitrary()? } else { u.int_in_range(0..=(sems.max(1) - 1).min(15) as u16)? })
    };
    Ok(match u.int_in_range(0u8..=10)? {
        0 if rare(u, 8)? => Command::Multicast {
            sram: s(u)?,
            dram: DramAddr(dram(u, dram_bytes)?),
            copy: copy3(u)?,
            tiles: if rare(u, 10)? { u.arbitrary()? } else { u.int_in_range(0..=15)? },
        },
        0 => Command::Load { sram: s(u)?, dram: DramAddr(dram(u, dram_bytes)?), copy: copy3(u)? },
        1 => Command::Store { sram: s(u)?, dram: DramAddr(dram(u, dram_bytes)?), copy: copy3(u)? },
        2 => Command::Conv {
            dtype: if rare(u, 10)? { DType::I8 } else { DType::F32 },
            input: s(u)?,
            in_c: dim(u)?,
            in_h: dim(u)?,
            in_w: dim(u)?,
            in_row_pitch: dim(u)?,
            in_plane_rows: dim(u)?,
            weights: s(u)?,
            bias: s(u)?,
            residual: if u.ratio(1u8, 2)? { SramAddr::NONE } else { s(u)? },
            res_row_pitch: dim(u)?,
            res_plane_rows: dim(u)?,
            quant: if u.ratio(9u8, 10)? { SramAddr::NONE } else { s(u)? },
            output: s(u)?,
            out_c: dim(u)?,
            out_h: dim(u)?,
            out_w: dim(u)?,
            kernel_h: small16(u)?,
            kernel_w: small16(u)?,
            stride_h: small16(u)?,
            stride_w: small16(u)?,
            dilation_h: small16(u)?,
            dilation_w: small16(u)?,
            pad_top: small16(u)?,
            pad_left: small16(u)?,
            pad_bottom: small16(u)?,
            pad_right: small16(u)?,
            groups: dim(u)?,
            act: act(u)?,
        },
        3 => Command::MatMul {
            dtype: DType::F32,
            a: s(u)?,
            b: s(u)?,
            bias: s(u)?,
            quant: SramAddr::NONE,
            output: s(u)?,
            m: dim(u)?,
            k: dim(u)?,
            n: dim(u)?,
            act: act(u)?,
        },
        4 => Command::Unary { func: act(u)?, src: s(u)?, dst: s(u)?, len: dim(u)? },
        5 => Command::Binary {
            op: BinCode(pick(u, &[BinaryOp::Add, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Max])?),
            a: s(u)?,
            b: s(u)?,
            dst: s(u)?,
            len: dim(u)?,
            b_period: dim(u)?,
            b_repeat: dim(u)?,
        },
        6 => Command::Pool {
            kind: PoolCode(pick(
                u,
                &[PoolKind::Max, PoolKind::Avg { count_include_pad: false }, PoolKind::Avg { count_include_pad: true }],
            )?),
            src: s(u)?,
            dst: s(u)?,
            c: dim(u)?,
            in_h: dim(u)?,
            in_w: dim(u)?,
            out_h: dim(u)?,
            out_w: dim(u)?,
            kernel_h: small16(u)?,
            kernel_w: small16(u)?,
            stride_h: small16(u)?,
            stride_w: small16(u)?,
            pad_top: small16(u)?,
            pad_left: small16(u)?,
            pad_bottom: small16(u)?,
            pad_right: small16(u)?,
        },
        7 => Command::Affine { src: s(u)?, dst: s(u)?, params: s(u)?, c: dim(u)?, inner: dim(u)? },
        8 => Command::HostCall { kernel: if rare(u, 8)? { u.arbitrary()? } else { u.int_in_range(0..=3)? } },
        9 => Command::Signal { sem: sem(u)? },
        _ => Command::Wait { sem: sem(u)?, value: if rare(u, 10)? { u.arbitrary()? } else { u.int_in_range(0..=3)? } },
    })
}

fn shape(u: &mut Unstructured<'_>) -> Result<Shape> {
    let rank = u.int_in_range(0..=4)?;
    let mut dims = Vec::with_capacity(rank);
    for _ in 0..rank {
        dims.push(match u.int_in_range(0u8..=99)? {
            98 => 0,
            99 => usize::MAX / 3,
            _ => u.int_in_range(1..=6)?,
        });
    }
    Ok(Shape(dims))
}

fn tensor(u: &mut Unstructured<'_>, dram_bytes: u64) -> Result<DramTensor> {
    let dtype = if rare(u, 6)? { pick(u, &[DType::I64, DType::I32, DType::Bool])? } else { DType::F32 };
    let ty = TensorType { dtype, shape: shape(u)? };
    Ok(DramTensor { dram: place(u, &ty, dram_bytes)?, ty })
}

/// A DRAM address for a tensor of `ty`: mostly one where it fits, sometimes any address.
fn place(u: &mut Unstructured<'_>, ty: &TensorType, dram_bytes: u64) -> Result<u64> {
    let room = ty.checked_bytes().ok().and_then(|b| dram_bytes.checked_sub(b as u64));
    match room {
        Some(room) if !rare(u, 24)? => Ok(4 * u.int_in_range(0..=room / 4)?),
        _ => dram(u, dram_bytes),
    }
}

/// A host kernel whose declared types may or may not agree with its operator.
fn kernel(u: &mut Unstructured<'_>, dram_bytes: u64) -> Result<HostKernel> {
    let kind = u.int_in_range(0u8..=7)?;
    // Mostly the operator's arity, with inputs of one shape (so that broadcasts and concats type-check).
    let arity = match kind {
        1 => 2,
        4 => u.int_in_range(1..=3)?,
        _ => 1,
    };
    let n_in = if rare(u, 16)? { u.int_in_range(0..=3)? } else { arity };
    let mut inputs: Vec<DramTensor> = Vec::with_capacity(n_in);
    for i in 0..n_in {
        let t = match inputs.first() {
            Some(first) if i > 0 && u.ratio(7u8, 8)? => {
                let ty = first.ty.clone();
                DramTensor { dram: place(u, &ty, dram_bytes)?, ty }
            }
            _ => tensor(u, dram_bytes)?,
        };
        inputs.push(t);
    }
    let rank = inputs.first().map_or(0, |t| t.ty.shape.rank());
    let axis = |u: &mut Unstructured<'_>| -> Result<usize> {
        Ok(if rare(u, 12)? { u.arbitrary()? } else { u.int_in_range(0..=rank.saturating_sub(1))? })
    };
    let op = match kind {
        0 => Op::Unary(Unary { op: pick(u, &[UnaryOp::Relu, UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sqrt])? }),
        1 => Op::Binary(Binary { op: pick(u, &[BinaryOp::Add, BinaryOp::Div, BinaryOp::Pow])? }),
        2 => Op::Softmax(Softmax { axis: axis(u)?, log: u.arbitrary()? }),
        3 => {
            let mut perm: Vec<usize> = (0..rank).collect();
            for i in (1..rank).rev() {
                perm.swap(i, u.int_in_range(0..=i)?);
            }
            if rare(u, 10)? && rank > 0 {
                perm[0] = axis(u)?;
            }
            Op::Transpose(Transpose { perm })
        }
        4 => Op::Concat(Concat { axis: axis(u)? }),
        5 => {
            let a = axis(u)?;
            let len = inputs.first().and_then(|t| t.ty.shape.dims().get(a).copied()).unwrap_or(1);
            let n = u.int_in_range(0..=4)?;
            let indices = (0..n)
                .map(|_| Ok(if rare(u, 10)? { u.arbitrary()? } else { u.int_in_range(0..=len.saturating_sub(1))? }))
                .collect::<Result<Vec<usize>>>()?;
            let index_shape = Shape(vec![indices.len()]);
            Op::Gather(Gather { axis: a, indices, index_shape })
        }
        6 => Op::Reduce(Reduce {
            kind: pick(u, &[ReduceKind::Mean, ReduceKind::Max, ReduceKind::Prod])?,
            axes: (0..u.int_in_range(0..=2)?).map(|_| axis(u)).collect::<Result<_>>()?,
            keepdims: u.arbitrary()?,
        }),
        _ => Op::Unary(Unary { op: UnaryOp::Clip { min: 0.0, max: 1.0 } }),
    };
    // Mostly declare what the operator infers, so that kernels get past type checking and run.
    let types: Vec<TensorType> = inputs.iter().map(|t| t.ty.clone()).collect();
    let ty = match op.infer(&types) {
        Ok(ty) if u.ratio(7u8, 8)? => ty,
        _ => TensorType { dtype: DType::F32, shape: shape(u)? },
    };
    Ok(HostKernel::fallback(op, inputs, DramTensor { dram: place(u, &ty, dram_bytes)?, ty }))
}

fn io(u: &mut Unstructured<'_>, prefix: &str, i: usize, dram_bytes: u64) -> Result<IoDesc> {
    let t = tensor(u, dram_bytes)?;
    let name = if rare(u, 60)? { String::new() } else { format!("{prefix}{}", i % 3) };
    Ok(IoDesc { name, ty: t.ty, dram: t.dram })
}

/// A whole program. Mostly consistent (so that many pass the verifier and run), never trusted.
pub fn program(u: &mut Unstructured<'_>) -> Result<Program> {
    let mut target = Target::x1();
    target.tiles = u.int_in_range(1..=4)?;
    target.tile.sram_bytes = pick(u, &SRAM_SIZES)?;
    let sram_size = target.tile.sram_bytes;
    let dram_bytes = match u.int_in_range(0u8..=39)? {
        0 => 0,
        1 => u64::MAX,
        2 => target.dram.capacity_bytes + 1,
        _ => 64 * u64::from(u.int_in_range(1u32..=16 << 10)?),
    };
    let semaphores = if rare(u, 20)? { u.arbitrary()? } else { u.int_in_range(0..=8)? };
    let n_const = if rare(u, 20)? { dram_bytes.min(4096) as usize } else { u.int_in_range(0..=64)? };
    let constants = u.bytes(n_const)?.to_vec();
    let inputs = (0..u.int_in_range(0..=2)?).map(|i| io(u, "in", i, dram_bytes)).collect::<Result<_>>()?;
    let outputs = (0..u.int_in_range(0..=2)?).map(|i| io(u, "out", i, dram_bytes)).collect::<Result<_>>()?;
    let kernels = (0..u.int_in_range(0..=3)?).map(|_| kernel(u, dram_bytes)).collect::<Result<_>>()?;
    let mut queues: Vec<Queue> = Vec::new();
    for _ in 0..u.int_in_range(0..=6)? {
        let unit = pick(u, &Unit::ALL)?;
        let tile = match u.int_in_range(0u8..=9)? {
            0 => u.arbitrary()?,
            _ if unit == Unit::Host => 0,
            _ => u.int_in_range(0..=(target.tiles - 1) as u16)?,
        };
        let n = u.int_in_range(0..=12)?;
        let mut commands = Vec::with_capacity(n);
        for _ in 0..n {
            let c = command(u, sram_size, dram_bytes, semaphores)?;
            // Put most commands on a queue of their own unit, so that they get past the unit check.
            if c.unit().is_none_or(|needs| needs == unit) || rare(u, 8)? {
                commands.push(c);
            }
        }
        queues.push(Queue { id: QueueId { tile, unit }, commands });
    }
    let debug = if u.arbitrary()? {
        DebugInfo {
            layers: vec!["fuzz".into()],
            command_layer: queues.iter().map(|q| vec![0; q.commands.len()]).collect(),
            dram_buffers: vec![],
            layer_macs: vec![u.arbitrary()?],
        }
    } else {
        DebugInfo::default()
    };
    let meta = Meta {
        target,
        compiler_version: "fuzz".into(),
        target_name: "x1".into(),
        options: String::new(),
        inputs,
        outputs,
        dram_bytes,
        semaphores,
        stages: Vec::new(),
    };
    Ok(Program { meta, queues, constants, kernels, debug })
}
