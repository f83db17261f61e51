//! OneHot expanded at import into host comparisons and a Where, as the ONNX reference defines it: position `k`
//! of the new axis holds `values[1]` (on) where the index equals `k`, or `k - depth` for a negative index,
//! and `values[0]` (off) elsewhere, so indices outside `[-depth, depth)` give an all-off slice. `depth` must be
//! a constant (it fixes the output shape); the indices may be computed at run time.
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use accel_ops::op::compare::{Compare, CompareOp};
use accel_ops::op::logic::{Logic, LogicOp};
use accel_ops::op::select::Select;
use accel_ops::op::{HostOnly, Op, Reshape, Slice};
use accel_ops::{DType, Shape, Tensor};

type Res = Result<(), ImportError>;

/// `depth` as a whole number >= 1 (ONNX converts a float depth to int64; a fractional one is refused rather
/// than truncated, since the reference would then disagree with the spec).
fn depth(b: &Builder<'_>, n: &OnnxNode<'_>) -> Result<usize, ImportError> {
    let t = b.const_input(n, 1, "depth")?.ok_or_else(|| n.err("input #1 (depth) is required"))?;
    if t.len() != 1 || t.shape().rank() > 1 {
        return Err(n.err(format!("depth must be a scalar, got {}", t.ty())));
    }
    let d = t.to_i64_vec().map_err(|e| n.err(e.to_string()))?[0];
    let whole = match t.dtype() {
        DType::F32 | DType::F16 | DType::BF16 | DType::F64 => t.to_f32_vec()[0] == d as f32,
        _ => true,
    };
    let d = match usize::try_from(d) {
        Ok(d) if whole && d >= 1 => d,
        _ => return Err(n.err(format!("depth must be a whole number >= 1, got {:?}", t.to_f32_vec()[0]))),
    };
    // Checked before the positions are allocated.
    Shape(vec![d]).check(&b.limits.tensor).map_err(|e| n.err(format!("depth {d}: {e}")))?;
    Ok(d)
}

/// The positions `first..first + depth` along axis 0 of `dims`, in the indices' type so they compare directly.
fn positions(n: &OnnxNode<'_>, dtype: DType, first: i64, dims: Vec<usize>) -> Result<Tensor, ImportError> {
    let len = dims.first().copied().unwrap_or(1) as i64;
    let v = first..first + len;
    let t = match dtype {
        DType::I64 => Tensor::from_i64(dims, v.collect()),
        // `depth` fits the index type: the output (depth times the indices) is within the tensor limits.
        DType::I32 => Tensor::from_i32(dims, v.map(|x| x as i32).collect()),
        DType::F32 => Tensor::from_f32(dims, v.map(|x| x as f32).collect()),
        other => return Err(n.err(format!("indices of type {other} are unsupported (int64, int32 or float)"))),
    };
    t.map_err(|e| n.err(e.to_string()))
}

pub(super) fn one_hot(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 3, 3)?;
    let (indices, values) = (b.input(n, 0)?, b.input(n, 2)?);
    let depth = depth(b, n)?;
    if b.dims(values) != [2] {
        return Err(n.err(format!("values must be [off, on] (shape [2]), got {}", b.ty(values))));
    }
    let dims = b.dims(indices).to_vec();
    let axis = n.axis(n.int_or("axis", -1)?, dims.len() + 1, "axis")?;
    let dtype = b.ty(indices).dtype;
    // Indices as [..before, 1, ..after] against positions [depth, 1 per axis after]: the comparison broadcasts
    // to the output shape [..before, depth, ..after].
    let mut keyed = dims.clone();
    keyed.insert(axis, 1);
    let mut along = vec![1; dims.len() - axis + 1];
    along[0] = depth;
    let name = |what: &str| b.helper_name(n, what);
    let (keyed_name, pos_name, neg_name) = (name("keyed")?, name("positions")?, name("wrapped_positions")?);
    let (hit_name, wrapped_name, any_name) = (name("hit")?, name("wrapped_hit")?, name("any_hit")?);
    let (off_name, on_name) = (name("off")?, name("on")?);
    let keyed = b.emit(n, Op::Reshape(Reshape { shape: Shape(keyed) }), &[indices], &keyed_name)?;
    let depth_i = i64::try_from(depth).map_err(|_| n.err("depth overflows int64"))?;
    let pos = positions(n, dtype, 0, along.clone())?;
    let neg = positions(n, dtype, -depth_i, along)?;
    let pos = b.add_const(n, &pos_name, pos)?;
    let neg = b.add_const(n, &neg_name, neg)?;
    let eq = HostOnly::Compare(Compare { op: CompareOp::Equal });
    let hit = b.emit(n, Op::HostOnly(eq.clone()), &[keyed, pos], &hit_name)?;
    let wrapped = b.emit(n, Op::HostOnly(eq), &[keyed, neg], &wrapped_name)?;
    let any = b.emit(n, Op::HostOnly(HostOnly::Logic(Logic { op: LogicOp::Or })), &[hit, wrapped], &any_name)?;
    let pick = |start| Op::Slice(Slice { starts: vec![start], lens: vec![1], steps: vec![1] });
    let off = b.emit(n, pick(0), &[values], &off_name)?;
    let on = b.emit(n, pick(1), &[values], &on_name)?;
    b.emit_out(n, Op::HostOnly(HostOnly::Select(Select)), &[any, on, off])?;
    Ok(())
}
