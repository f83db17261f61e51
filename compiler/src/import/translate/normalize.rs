//! Normalizations expanded at import into operators accel has, as their ONNX definitions read:
//! InstanceNormalization (per sample and channel over the spatial axes, then a per-channel scale and bias),
//! GroupNormalization (over groups of channels; scale and bias per channel from opset 21, per group before)
//! MeanVarianceNormalization, LpNormalization (`x / ||x||_p` along one axis, p = 1 or 2) and BatchNormalization
//! in training mode (the batch's own statistics, plus the updated running ones). The e-graph then fuses and
//! places the pieces like any exported subgraph (the trailing-axes mean and variance become one `LayerNorm`).
use super::composite::Expand;
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use crate::ir::ValueId;
use accel_ops::op::{BinaryOp, Op, Reduce, ReduceKind, Reshape, UnaryOp};
use accel_ops::{DType, Shape};

type Res = Result<(), ImportError>;

/// The f32 input's dims, rank >= 3 (`[N, C, spatial...]`).
fn nc_dims(b: &Builder<'_>, n: &OnnxNode<'_>, x: ValueId) -> Result<Vec<usize>, ImportError> {
    let dims = b.dims(x).to_vec();
    if b.ty(x).dtype != DType::F32 || dims.len() < 3 {
        return Err(n.err(format!("{} needs an f32 input of rank >= 3, got {}", n.op_type(), b.ty(x))));
    }
    Ok(dims)
}

/// Checks that operand `i` has `len` elements in one axis.
fn vector_of(b: &Builder<'_>, n: &OnnxNode<'_>, v: ValueId, i: usize, len: usize) -> Res {
    if b.dims(v) != [len] {
        return Err(n.err(format!("input #{i} must have shape [{len}], got {}", b.ty(v))));
    }
    Ok(())
}

/// `y * scale + bias` with `scale` and `bias` (each `[len]`) broadcast along axis 1 of a rank-`rank` `y`.
fn affine(b: &mut Builder<'_>, n: &OnnxNode<'_>, y: ValueId, scale: ValueId, bias: ValueId, rank: usize) -> Res {
    let len = b.dims(scale)[0];
    let mut per = vec![1; rank - 1];
    per[0] = len;
    let s = Expand { n }.reshape(b, "scale_c", scale, per.clone())?;
    let c = Expand { n }.reshape(b, "bias_c", bias, per)?;
    let e = Expand { n };
    let scaled = e.binary(b, "scaled", BinaryOp::Mul, y, s)?;
    b.emit_out(n, Op::Binary(accel_ops::op::Binary { op: BinaryOp::Add }), &[scaled, c])?;
    Ok(())
}

pub(super) fn instance_norm(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 3, 3)?;
    let (x, scale, bias) = (b.input(n, 0)?, b.input(n, 1)?, b.input(n, 2)?);
    let dims = nc_dims(b, n, x)?;
    vector_of(b, n, scale, 1, dims[1])?;
    vector_of(b, n, bias, 2, dims[1])?;
    let eps = n.finite_float_or("epsilon", 1e-5)?;
    let axes: Vec<usize> = (2..dims.len()).collect();
    let (_, _, y) = Expand { n }.standardize(b, x, &axes, eps)?;
    affine(b, n, y, scale, bias, dims.len())
}

pub(super) fn group_norm(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 3, 3)?;
    let (x, scale, bias) = (b.input(n, 0)?, b.input(n, 1)?, b.input(n, 2)?);
    let dims = nc_dims(b, n, x)?;
    let c = dims[1];
    let groups = n.int("num_groups")?.ok_or_else(|| n.err("attribute `num_groups` is required"))?;
    let groups = usize::try_from(groups)
        .ok()
        .filter(|&g| g >= 1 && c % g == 0)
        .ok_or_else(|| n.err(format!("num_groups {groups} must be >= 1 and divide the {c} channels")))?;
    let eps = n.finite_float_or("epsilon", 1e-5)?;
    // Per channel (opset 21) or per group (opset 18): decided by the operands' length.
    let len = b.dims(scale).first().copied().unwrap_or(0);
    if len != c && len != groups {
        return Err(n.err(format!("scale must have {c} (channels) or {groups} (groups) elements, got {}", b.ty(scale))));
    }
    vector_of(b, n, scale, 1, len)?;
    vector_of(b, n, bias, 2, len)?;
    let rest: usize = dims[2..].iter().product();
    let grouped = Expand { n }.reshape(b, "grouped", x, vec![dims[0], groups, (c / groups) * rest])?;
    let e = Expand { n };
    let (_, _, y) = e.standardize(b, grouped, &[2], eps)?;
    if len == c {
        let back = Expand { n }.reshape(b, "ungrouped", y, dims.clone())?;
        return affine(b, n, back, scale, bias, dims.len());
    }
    let s = Expand { n }.reshape(b, "scale_g", scale, vec![groups, 1])?;
    let t = Expand { n }.reshape(b, "bias_g", bias, vec![groups, 1])?;
    let scaled = e.binary(b, "scaled", BinaryOp::Mul, y, s)?;
    let shifted = e.binary(b, "shifted", BinaryOp::Add, scaled, t)?;
    b.emit_out(n, Op::Reshape(Reshape { shape: Shape(dims) }), &[shifted])?;
    Ok(())
}

/// MeanVarianceNormalization: `(x - mean) / sqrt(var + 1e-9)` over `axes` (default N, H, W).
pub(super) fn mvn(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let rank = b.dims(x).len();
    if b.ty(x).dtype != DType::F32 {
        return Err(n.err(format!("MeanVarianceNormalization on {} is unsupported (f32 only)", b.ty(x))));
    }
    let axes = n.axes(n.ints("axes")?.unwrap_or(&[0, 2, 3]), rank, "axes")?;
    let (_, _, y) = Expand { n }.standardize(b, x, &axes, 1e-9)?;
    b.define(n, 0, y)
}

pub(super) fn lp_norm(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    if b.ty(x).dtype != DType::F32 {
        return Err(n.err(format!("LpNormalization on {} is unsupported (f32 only)", b.ty(x))));
    }
    let axis = n.axis(n.int_or("axis", -1)?, b.dims(x).len(), "axis")?;
    let e = Expand { n };
    let sum = |b: &mut Builder<'_>, what: &str, v: ValueId| -> Result<ValueId, ImportError> {
        let name = b.helper_name(n, what)?;
        b.emit(n, Op::Reduce(Reduce { kind: ReduceKind::Sum, axes: vec![axis], keepdims: true }), &[v], &name)
    };
    let norm = match n.int_or("p", 2)? {
        1 => {
            let a = e.unary(b, "abs", UnaryOp::Abs, x)?;
            sum(b, "l1", a)?
        }
        2 => {
            let sq = e.binary(b, "square", BinaryOp::Mul, x, x)?;
            let s = sum(b, "sum_square", sq)?;
            e.unary(b, "l2", UnaryOp::Sqrt, s)?
        }
        p => return Err(n.err(format!("p = {p} is unsupported (1 or 2)"))),
    };
    // A zero norm means a zero slice, which stays zero (not 0/0): divide by the least normal f32 instead.
    let tiny = e.scalar(b, "tiny", f32::MIN_POSITIVE)?;
    let norm = e.binary(b, "norm", BinaryOp::Max, norm, tiny)?;
    b.emit_out(n, Op::Binary(accel_ops::op::Binary { op: BinaryOp::Div }), &[x, norm])?;
    Ok(())
}

/// BatchNormalization with `training_mode=1` (opset 14+), as the ONNX reference computes it: `y` normalizes `x`
/// with the batch's mean and biased variance over every axis but 1; outputs 1 and 2 are the running statistics
/// `input * momentum + batch * (1 - momentum)` (the biased variance too).
pub(super) fn batch_norm_training(b: &mut Builder<'_>, n: &OnnxNode<'_>, eps: f32) -> Res {
    let [x, scale, bias, mean, var] = [0, 1, 2, 3, 4].map(|i| b.input(n, i));
    let (x, scale, bias, mean, var) = (x?, scale?, bias?, mean?, var?);
    let dims = b.dims(x).to_vec();
    if b.ty(x).dtype != DType::F32 || dims.len() < 2 {
        return Err(n.err(format!("training-mode BatchNormalization needs an f32 input of rank >= 2, got {}", b.ty(x))));
    }
    let c = dims[1];
    for (i, v) in [(1, scale), (2, bias), (3, mean), (4, var)] {
        vector_of(b, n, v, i, c)?;
        if b.ty(v).dtype != DType::F32 {
            return Err(n.err(format!("input #{i} must be f32, got {}", b.ty(v))));
        }
    }
    let momentum = n.finite_float_or("momentum", 0.9)?;
    let axes: Vec<usize> = (0..dims.len()).filter(|&a| a != 1).collect();
    let e = Expand { n };
    // `standardize`'s steps, kept apart because the running variance needs the batch variance itself.
    let batch_mean = e.mean(b, "mean", x, &axes)?;
    let centered = e.binary(b, "centered", BinaryOp::Sub, x, batch_mean)?;
    let square = e.binary(b, "square", BinaryOp::Mul, centered, centered)?;
    let batch_var = e.mean(b, "var", square, &axes)?;
    let inv = e.inv_sqrt(b, batch_var, eps)?;
    let y = e.binary(b, "normalized", BinaryOp::Mul, centered, inv)?;
    affine(b, n, y, scale, bias, dims.len())?;
    // numpy multiplies the f32 statistics by the f64 `1 - momentum` rounded to f32.
    let keep = e.scalar(b, "momentum", momentum)?;
    let take = e.scalar(b, "one_minus_momentum", (1.0 - f64::from(momentum)) as f32)?;
    for (slot, running, batch, what) in [(1, mean, batch_mean, "mean"), (2, var, batch_var, "var")] {
        let Some(out) = n.proto.output.get(slot).filter(|o| !o.is_empty()).cloned() else { continue };
        let batch = e.reshape(b, &format!("batch_{what}"), batch, vec![c])?;
        let kept = e.binary(b, &format!("kept_{what}"), BinaryOp::Mul, running, keep)?;
        let taken = e.binary(b, &format!("taken_{what}"), BinaryOp::Mul, batch, take)?;
        let v = b.emit(n, Op::Binary(accel_ops::op::Binary { op: BinaryOp::Add }), &[kept, taken], &out)?;
        b.define(n, slot, v)?;
    }
    Ok(())
}
