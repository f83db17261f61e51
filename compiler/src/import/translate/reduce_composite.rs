//! The reductions that are a ReduceSum between elementwise steps: ReduceL1 = sum |x|, ReduceL2 = sqrt(sum x^2),
//! ReduceSumSquare = sum x^2, ReduceLogSum = log(sum x), ReduceLogSumExp = log(sum exp x). f32 only.
use super::reduce::reduce_axes;
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use accel_ops::op::{Binary, BinaryOp, Op, Reduce, ReduceKind, Unary, UnaryOp};
use accel_ops::DType;

type Res = Result<(), ImportError>;

pub(super) fn reduce_composite(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let (pre, post) = match n.op_type() {
        "ReduceL1" => (Some(UnaryOp::Abs), None),
        "ReduceL2" => (None, Some(UnaryOp::Sqrt)),
        "ReduceSumSquare" => (None, None),
        "ReduceLogSum" => (None, Some(UnaryOp::Log)),
        "ReduceLogSumExp" => (Some(UnaryOp::Exp), Some(UnaryOp::Log)),
        other => return Err(n.err(format!("`{other}` is not a composite reduction"))),
    };
    let square = matches!(n.op_type(), "ReduceL2" | "ReduceSumSquare");
    let x = b.input(n, 0)?;
    if b.ty(x).dtype != DType::F32 {
        return Err(n.err(format!("{} on {} is unsupported (f32 only)", n.op_type(), b.ty(x))));
    }
    let (axes, keepdims) = match reduce_axes(b, n, false)? {
        Some(a) => a,
        // An identity reduction still applies the elementwise steps.
        None => (Vec::new(), true),
    };
    let mut v = x;
    if square {
        let name = b.helper_name(n, "square")?;
        v = b.emit(n, Op::Binary(Binary { op: BinaryOp::Mul }), &[v, v], &name)?;
    }
    if let Some(op) = pre {
        let name = b.helper_name(n, "pre")?;
        v = b.emit(n, Op::Unary(Unary { op }), &[v], &name)?;
    }
    let out = b.output_name(n, 0)?.to_string();
    if !axes.is_empty() {
        let name = if post.is_some() { b.helper_name(n, "sum")? } else { out.clone() };
        v = b.emit(n, Op::Reduce(Reduce { kind: ReduceKind::Sum, axes, keepdims }), &[v], &name)?;
    }
    if let Some(op) = post {
        v = b.emit(n, Op::Unary(Unary { op }), &[v], &out)?;
    }
    if v == x {
        return b.alias_out(n, x);
    }
    b.define(n, 0, v)
}
