//! DynamicQuantizeLinear (opset 11), as onnxruntime's dynamic quantization writes it before every
//! MatMulInteger: the scale and zero point come from the tensor's own range at run time, so it expands into
//! plain f32 operators exactly as the operator defines them (`scale = (max(0, max x) - min(0, min x)) / 255`,
//! `zero = saturate(round(0 - min / scale))`, `y = saturate(round(x / scale) + zero)`, rounding half to even),
//! with uint8 outputs. MatMulInteger and ConvInteger take such a computed zero point (`integer.rs`).
use super::composite::Expand;
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use crate::ir::ValueId;
use accel_ops::op::math_fn::{MathFn, MathFnOp};
use accel_ops::op::{BinaryOp, Cast, HostOnly, Op, Reduce, ReduceKind, Unary, UnaryOp};
use accel_ops::DType;

type Res = Result<(), ImportError>;

pub(super) fn dynamic_quantize_linear(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    if b.ty(x).dtype != DType::F32 {
        return Err(n.err(format!("DynamicQuantizeLinear on {} is unsupported (f32 only)", b.ty(x))));
    }
    let e = Expand { n };
    let all: Vec<usize> = (0..b.dims(x).len()).collect();
    let reduce = |b: &mut Builder<'_>, what: &str, kind| {
        e.op(b, what, Op::Reduce(Reduce { kind, axes: all.clone(), keepdims: false }), &[x])
    };
    let hi = reduce(b, "max", ReduceKind::Max)?;
    let lo = reduce(b, "min", ReduceKind::Min)?;
    let zero = e.scalar(b, "zero", 0.0)?;
    let hi = e.binary(b, "max0", BinaryOp::Max, hi, zero)?;
    let lo = e.binary(b, "min0", BinaryOp::Min, lo, zero)?;
    let span = e.binary(b, "span", BinaryOp::Sub, hi, lo)?;
    let levels = e.scalar(b, "levels", 255.0)?;
    let scale = e.binary(b, "scale", BinaryOp::Div, span, levels)?;
    let shift = e.binary(b, "lo_over_scale", BinaryOp::Div, lo, scale)?;
    let shift = e.binary(b, "neg_shift", BinaryOp::Sub, zero, shift)?;
    let zp = saturate(b, &e, "zero_point", shift)?;
    let q = e.binary(b, "scaled", BinaryOp::Div, x, scale)?;
    let q = e.op(b, "rounded", Op::HostOnly(HostOnly::MathFn(MathFn { op: MathFnOp::Round })), &[q])?;
    let q = e.binary(b, "shifted", BinaryOp::Add, q, zp)?;
    let clip = Op::Unary(Unary { op: UnaryOp::Clip { min: 0.0, max: 255.0 } });
    let q = e.op(b, "saturated", clip, &[q])?;
    let y = e.op(b, "y", Op::Cast(Cast { to: DType::U8 }), &[q])?;
    let zp = e.op(b, "y_zero_point", Op::Cast(Cast { to: DType::U8 }), &[zp])?;
    e.define(b, 0, y)?;
    e.define(b, 1, scale)?;
    e.define(b, 2, zp)
}

/// `clip(round(v), 0, 255)` in f32 (round half to even first, as the operator says).
fn saturate(b: &mut Builder<'_>, e: &Expand<'_, '_>, what: &str, v: ValueId) -> Result<ValueId, ImportError> {
    let r = e.op(b, &format!("{what}_round"), Op::HostOnly(HostOnly::MathFn(MathFn { op: MathFnOp::Round })), &[v])?;
    e.op(b, &format!("{what}_clip"), Op::Unary(Unary { op: UnaryOp::Clip { min: 0.0, max: 255.0 } }), &[r])
}
