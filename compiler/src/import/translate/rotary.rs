//! RotaryEmbedding (opset 23) expanded at import as the ONNX reference computes it: the cos and sin rows of
//! each position (gathered by `position_ids`, or given per batch and position), the first
//! `rotary_embedding_dim` features of every head rotated as pairs (halves, or even/odd features when
//! `interleaved`), the rest passed through. The input stays in its own layout: 4-D is `[batch, heads, seq,
//! head]`, 3-D `[batch, seq, heads * head]` is viewed as `[batch, seq, heads, head]`.
use super::composite::Expand;
use super::layout::constant_indices;
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use crate::ir::ValueId;
use accel_ops::op::take::Take;
use accel_ops::op::{BinaryOp, Concat, Gather, HostOnly, Op, Reshape, Slice};
use accel_ops::{DType, Shape};

type Res = Result<(), ImportError>;

/// `x[..., start + step * i]` for `i < len` along the last axis.
fn slice_last(
    b: &mut Builder<'_>,
    n: &OnnxNode<'_>,
    what: &str,
    x: ValueId,
    start: usize,
    len: usize,
    step: usize,
) -> Result<ValueId, ImportError> {
    let mut lens = b.dims(x).to_vec();
    let last = lens.len() - 1;
    lens[last] = len;
    let mut starts = vec![0; lens.len()];
    starts[last] = start;
    let mut steps = vec![1; lens.len()];
    steps[last] = step;
    Expand { n }.op(b, what, Op::Slice(Slice { starts, lens, steps }), &[x])
}

/// The rows of `cache` (`[max_position, half]`) at `positions`: a `Gather` when they are constant (checked
/// here), else a host `Take` that checks them when run.
fn rows_at(
    b: &mut Builder<'_>,
    n: &OnnxNode<'_>,
    what: &str,
    cache: ValueId,
    positions: ValueId,
) -> Result<ValueId, ImportError> {
    let e = Expand { n };
    let len = b.dims(cache).first().copied().unwrap_or(0);
    let Some(p) = b.constant(positions) else {
        return e.op(b, what, Op::HostOnly(HostOnly::Take(Take { axis: 0 })), &[cache, positions]);
    };
    let index_shape = p.shape().clone();
    let indices =
        constant_indices(n, p, len, |i| format!("position id {i} is out of range for {len} cached positions"))?;
    e.op(b, what, Op::Gather(Gather { axis: 0, indices, index_shape }), &[cache])
}

pub(super) fn rotary_embedding(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 3, 4)?;
    let (x, cos, sin) = (b.input(n, 0)?, b.input(n, 1)?, b.input(n, 2)?);
    let positions = b.opt_input(n, 3)?;
    for (i, v) in [x, cos, sin].into_iter().enumerate() {
        if b.ty(v).dtype != DType::F32 {
            return Err(n.err(format!("input #{i} is {}: RotaryEmbedding is imported on float32 only", b.ty(v))));
        }
    }
    let dims = b.dims(x).to_vec();
    let e = Expand { n };
    // The working view: [batch, heads, seq, head] (4-D) or [batch, seq, heads, head] (3-D).
    let (xw, batch, seq) = match dims.len() {
        4 => (x, dims[0], dims[2]),
        3 => {
            let heads = n.int("num_heads")?.ok_or_else(|| n.err("3-D input needs the attribute `num_heads`"))?;
            let heads = n.to_positive(heads, "num_heads")?;
            if dims[2] % heads != 0 {
                return Err(n.err(format!("hidden size {} is not a multiple of num_heads {heads}", dims[2])));
            }
            (e.reshape(b, "heads", x, vec![dims[0], dims[1], heads, dims[2] / heads])?, dims[0], dims[1])
        }
        _ => return Err(n.err(format!("input must be 3-D or 4-D, got {}", b.ty(x)))),
    };
    let head = b.dims(xw)[3];
    let rot = match n.int_or("rotary_embedding_dim", 0)? {
        0 => head,
        r => n.to_positive(r, "rotary_embedding_dim")?,
    };
    if rot > head || rot % 2 != 0 {
        return Err(n.err(format!("rotary_embedding_dim {rot} must be even and at most the head size {head}")));
    }
    let half = rot / 2;

    let (cos, sin) = match positions {
        Some(p) => {
            if !matches!(b.ty(p).dtype, DType::I64) || b.dims(p).len() != 2 || b.dims(cos).len() != 2 {
                return Err(n.err(format!(
                    "position_ids must be int64 [batch, seq] and the caches 2-D, got {}, {}",
                    b.ty(p),
                    b.ty(cos)
                )));
            }
            (rows_at(b, n, "cos_rows", cos, p)?, rows_at(b, n, "sin_rows", sin, p)?)
        }
        None => (cos, sin),
    };
    let cd = b.dims(cos).to_vec();
    let fits = cd.len() == 3 && [1, batch].contains(&cd[0]) && [1, seq].contains(&cd[1]) && cd[2] == half;
    if !fits || b.dims(sin) != cd.as_slice() {
        return Err(n.err(format!(
            "cos / sin per position must be [batch, seq, {half}] (rotary_embedding_dim / 2), got {} and {}",
            b.ty(cos),
            b.ty(sin)
        )));
    }
    let per = if dims.len() == 4 { vec![cd[0], 1, cd[1], half] } else { vec![cd[0], cd[1], 1, half] };
    let cos = e.reshape(b, "cos_b", cos, per.clone())?;
    let sin = e.reshape(b, "sin_b", sin, per)?;

    let interleaved = n.flag("interleaved", false)?;
    let (x1, x2) = if interleaved {
        (slice_last(b, n, "x_even", xw, 0, half, 2)?, slice_last(b, n, "x_odd", xw, 1, half, 2)?)
    } else {
        (slice_last(b, n, "x_lo", xw, 0, half, 1)?, slice_last(b, n, "x_hi", xw, half, half, 1)?)
    };
    let c1 = e.binary(b, "cos_x1", BinaryOp::Mul, cos, x1)?;
    let s2 = e.binary(b, "sin_x2", BinaryOp::Mul, sin, x2)?;
    let real = e.binary(b, "real", BinaryOp::Sub, c1, s2)?;
    let s1 = e.binary(b, "sin_x1", BinaryOp::Mul, sin, x1)?;
    let c2 = e.binary(b, "cos_x2", BinaryOp::Mul, cos, x2)?;
    let imag = e.binary(b, "imag", BinaryOp::Add, s1, c2)?;

    // Name the last op after the node's output.
    let out = b.output_name(n, 0)?.to_string();
    let rotated_last = dims.len() == 4 && rot == head;
    let rot_name = if rotated_last { out.clone() } else { b.helper_name(n, "rotated")? };
    let mut rot_dims = b.dims(xw).to_vec();
    rot_dims[3] = rot;
    let rotated = if interleaved {
        let mut pair = b.dims(real).to_vec();
        pair.push(1);
        let r = e.reshape(b, "real_pair", real, pair.clone())?;
        let i = e.reshape(b, "imag_pair", imag, pair)?;
        let pairs = e.op(b, "pairs", Op::Concat(Concat { axis: 4 }), &[r, i])?;
        b.emit(n, Op::Reshape(Reshape { shape: Shape(rot_dims) }), &[pairs], &rot_name)?
    } else {
        b.emit(n, Op::Concat(Concat { axis: 3 }), &[real, imag], &rot_name)?
    };
    let y = if rot < head {
        let pass = slice_last(b, n, "x_pass", xw, rot, head - rot, 1)?;
        let name = if dims.len() == 4 { out.clone() } else { b.helper_name(n, "full")? };
        b.emit(n, Op::Concat(Concat { axis: 3 }), &[rotated, pass], &name)?
    } else {
        rotated
    };
    let y = if dims.len() == 3 { b.emit(n, Op::Reshape(Reshape { shape: Shape(dims) }), &[y], &out)? } else { y };
    b.define(n, 0, y)
}
