//! Arithmetic: Gemm and MatMul, the unary activations, Clip, PRelu, and the broadcasting binary ops with
//! their variadic forms (Sum/Max/Min/Mean become chains). Integer operands (shape arithmetic) are folded by
//! `fold` because the `Binary` op is f32-only; integer arithmetic on non-constants is an error.
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use crate::import::fold;
use crate::ir::ValueId;
use accel_ops::op::arith::ArithOp;
use accel_ops::op::{Binary, BinaryOp, Cast, Gemm, MatMul, Op, Unary, UnaryOp};
use accel_ops::{DType, Tensor};

type Res = Result<(), ImportError>;

pub(super) fn gemm(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 3)?;
    let (x, w, c) = (b.input(n, 0)?, b.input(n, 1)?, b.opt_input(n, 2)?);
    let op = Gemm {
        alpha: n.finite_float_or("alpha", 1.0)?,
        beta: n.finite_float_or("beta", 1.0)?,
        trans_a: n.flag("transA", false)?,
        trans_b: n.flag("transB", false)?,
        act: None,
    };
    let inputs: Vec<_> = [Some(x), Some(w), c].into_iter().flatten().collect();
    b.emit_out(n, Op::Gemm(op), &inputs)?;
    Ok(())
}

pub(super) fn matmul(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 2)?;
    let (x, y) = (b.input(n, 0)?, b.input(n, 1)?);
    b.emit_out(n, Op::MatMul(MatMul), &[x, y])?;
    Ok(())
}

pub(super) fn unary(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let op = match n.op_type() {
        "Relu" => UnaryOp::Relu,
        "Sigmoid" => UnaryOp::Sigmoid,
        "Tanh" => UnaryOp::Tanh,
        "Exp" => UnaryOp::Exp,
        "Log" => UnaryOp::Log,
        "Sqrt" => UnaryOp::Sqrt,
        "Reciprocal" => UnaryOp::Reciprocal,
        "Neg" => UnaryOp::Neg,
        "Abs" => UnaryOp::Abs,
        "Erf" => UnaryOp::Erf,
        "Floor" => UnaryOp::Floor,
        "Ceil" => UnaryOp::Ceil,
        "Softplus" => UnaryOp::Softplus,
        "HardSwish" => UnaryOp::HardSwish,
        "LeakyRelu" => UnaryOp::LeakyRelu { alpha: n.finite_float_or("alpha", 0.01)? },
        "HardSigmoid" => {
            UnaryOp::HardSigmoid { alpha: n.finite_float_or("alpha", 0.2)?, beta: n.finite_float_or("beta", 0.5)? }
        }
        "Elu" => UnaryOp::Elu { alpha: n.finite_float_or("alpha", 1.0)? },
        other => return Err(n.err(format!("`{other}` is not a unary operator"))),
    };
    // Neg and Abs also appear in integer shape arithmetic.
    if let (Some(t), UnaryOp::Neg | UnaryOp::Abs) = (b.constant(x), op) {
        if t.dtype() != DType::F32 {
            let y = fold::int_unary(op == UnaryOp::Neg, t).map_err(|e| n.err(e))?;
            return b.const_out(n, y);
        }
    }
    b.emit_out(n, Op::Unary(Unary { op }), &[x])?;
    Ok(())
}

/// A constant scalar bound of Clip (opset 11+ passes them as inputs).
fn clip_bound(b: &Builder<'_>, n: &OnnxNode<'_>, i: usize, what: &str) -> Result<Option<f32>, ImportError> {
    let Some(v) = b.const_floats(n, i, what)? else { return Ok(None) };
    match v[..] {
        [x] if !x.is_nan() => Ok(Some(x)),
        _ => Err(n.err(format!("{what} must be one number, got {v:?}"))),
    }
}

pub(super) fn clip(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let (min, max) = if n.opset < 11 {
        b.arity(n, 1, 1)?;
        (n.float_or("min", f32::MIN)?, n.float_or("max", f32::MAX)?)
    } else {
        b.arity(n, 1, 3)?;
        let computed = |i| b.opt_input(n, i).map(|v| v.is_some_and(|v| b.constant(v).is_none()));
        if computed(1)? || computed(2)? || b.ty(b.input(n, 0)?).dtype != DType::F32 {
            return clip_as_max_min(b, n);
        }
        (clip_bound(b, n, 1, "min")?.unwrap_or(f32::MIN), clip_bound(b, n, 2, "max")?.unwrap_or(f32::MAX))
    };
    if min.is_nan() || max.is_nan() {
        return Err(n.err("clip bounds must be numbers"));
    }
    let x = b.input(n, 0)?;
    b.emit_out(n, Op::Unary(Unary { op: UnaryOp::Clip { min, max } }), &[x])?;
    Ok(())
}

/// Clip with computed bounds or on integers: `min(max(x, lo), hi)` as broadcasting binary ops.
fn clip_as_max_min(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let mut acc = b.input(n, 0)?;
    let out = b.output_name(n, 0)?.to_string();
    let (lo, hi) = (b.opt_input(n, 1)?, b.opt_input(n, 2)?);
    for (bound, op, what) in [(lo, BinaryOp::Max, "lo"), (hi, BinaryOp::Min, "hi")] {
        let Some(v) = bound else { continue };
        if b.dims(v).iter().product::<usize>() != 1 {
            return Err(n.err(format!("the {what} bound must be a scalar, got {}", b.ty(v))));
        }
        let last = op == BinaryOp::Min || hi.is_none();
        let name = if last { out.clone() } else { format!("{out}#{what}") };
        acc = apply(b, n, op, acc, v, &name)?;
    }
    b.define(n, 0, acc)
}

/// PRelu(x, slope) = relu(x) + slope * min(x, 0): four elementwise ops.
pub(super) fn prelu(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 2)?;
    let (x, slope) = (b.input(n, 0)?, b.input(n, 1)?);
    // The slope broadcasts to x, never the other way.
    let (xs, ss) = (&b.ty(x).shape, &b.ty(slope).shape);
    if accel_ops::shape::broadcast(xs, ss).ok().as_ref() != Some(xs) {
        return Err(n.err(format!("slope {ss} does not broadcast to the input {xs}")));
    }
    let zero_name = b.helper_name(n, "zero")?;
    let zero = b.add_const(n, &zero_name, Tensor::from_f32(vec![], vec![0.0]).map_err(|e| n.err(e.to_string()))?)?;
    let pos_name = b.helper_name(n, "pos")?;
    let pos = b.emit(n, Op::Unary(Unary { op: UnaryOp::Relu }), &[x], &pos_name)?;
    let neg_name = b.helper_name(n, "neg")?;
    let neg = b.emit(n, Op::Binary(Binary { op: BinaryOp::Min }), &[x, zero], &neg_name)?;
    let scaled_name = b.helper_name(n, "scaled")?;
    let scaled = b.emit(n, Op::Binary(Binary { op: BinaryOp::Mul }), &[slope, neg], &scaled_name)?;
    b.emit_out(n, Op::Binary(Binary { op: BinaryOp::Add }), &[pos, scaled])?;
    Ok(())
}

/// `a op c` into the value `name`: folded on integers, a `Binary` node on f32.
fn apply(
    b: &mut Builder<'_>,
    n: &OnnxNode<'_>,
    op: BinaryOp,
    a: ValueId,
    c: ValueId,
    name: &str,
) -> Result<ValueId, ImportError> {
    let (ta, tc) = (b.ty(a).dtype, b.ty(c).dtype);
    if ta == DType::F32 && tc == DType::F32 {
        return b.emit(n, Op::Binary(Binary { op }), &[a, c], name);
    }
    // Pow may take an integer exponent with a float base: make the (constant) exponent f32.
    if op == BinaryOp::Pow && ta == DType::F32 {
        if let Some(y) = b.constant(c) {
            let e = Tensor::from_f32(y.dims().to_vec(), y.to_f32_vec()).map_err(|e| n.err(e.to_string()))?;
            let ev = b.add_const(n, &format!("{name}#exponent"), e)?;
            return b.emit(n, Op::Binary(Binary { op }), &[a, ev], name);
        }
    }
    if let (Some(x), Some(y), true) = (b.constant(a), b.constant(c), fold::is_int(ta)) {
        let t = fold::int_binary(op, x, y, &b.limits.tensor).map_err(|e| n.err(e))?;
        return b.add_const(n, name, t);
    }
    // Computed integer operands of one dtype run on the host (wrapping integer arithmetic).
    let int_op = match op {
        BinaryOp::Add => Some(ArithOp::Add),
        BinaryOp::Sub => Some(ArithOp::Sub),
        BinaryOp::Mul => Some(ArithOp::Mul),
        BinaryOp::Div => Some(ArithOp::Div),
        BinaryOp::Max => Some(ArithOp::Max),
        BinaryOp::Min => Some(ArithOp::Min),
        BinaryOp::Pow => None,
    };
    if let Some(int_op) = int_op.filter(|_| ta == tc && ta != DType::Bool) {
        return super::host_only::arith(b, n, int_op, a, c, name);
    }
    // Pow with an integer operand computes in f32 and keeps the base's type (as ONNX's reference does).
    let is_num = |d: DType| d == DType::F32 || accel_ops::op::values::is_int(d);
    if op == BinaryOp::Pow && is_num(ta) && is_num(tc) {
        let as_f32 = |b: &mut Builder<'_>, v: ValueId, what: &str| -> Result<ValueId, ImportError> {
            if b.ty(v).dtype == DType::F32 {
                return Ok(v);
            }
            b.emit(n, Op::Cast(Cast { to: DType::F32 }), &[v], &format!("{name}#{what}-f32"))
        };
        let (x, y) = (as_f32(b, a, "base")?, as_f32(b, c, "exponent")?);
        if ta == DType::F32 {
            return b.emit(n, Op::Binary(Binary { op }), &[x, y], name);
        }
        let p = b.emit(n, Op::Binary(Binary { op }), &[x, y], &format!("{name}#f32"))?;
        return b.emit(n, Op::Cast(Cast { to: ta }), &[p], name);
    }
    Err(n.err(format!(
        "{} on {} and {} is supported only on f32, or on constant integers",
        op.name(),
        b.ty(a),
        b.ty(c)
    )))
}

fn binary_op(op_type: &str) -> Option<BinaryOp> {
    Some(match op_type {
        "Add" | "Sum" | "Mean" => BinaryOp::Add,
        "Sub" => BinaryOp::Sub,
        "Mul" => BinaryOp::Mul,
        "Div" => BinaryOp::Div,
        "Pow" => BinaryOp::Pow,
        "Max" => BinaryOp::Max,
        "Min" => BinaryOp::Min,
        _ => return None,
    })
}

pub(super) fn binary(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 2)?;
    let op = binary_op(n.op_type()).ok_or_else(|| n.err("not a binary operator"))?;
    let (x, y) = (b.input(n, 0)?, b.input(n, 1)?);
    let name = b.output_name(n, 0)?.to_string();
    let v = apply(b, n, op, x, y, &name)?;
    b.define(n, 0, v)
}

/// Sum, Max, Min, Mean over one or more inputs: a left-to-right chain of binary ops (Mean then divides).
pub(super) fn variadic(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let op = binary_op(n.op_type()).ok_or_else(|| n.err("not a variadic operator"))?;
    let count = n.proto.input.len();
    if count == 0 {
        return Err(n.err("needs at least one input"));
    }
    let inputs = (0..count).map(|i| b.input(n, i)).collect::<Result<Vec<_>, _>>()?;
    let mean = n.op_type() == "Mean";
    let out = b.output_name(n, 0)?.to_string();
    let mut acc = inputs[0];
    for (i, &v) in inputs.iter().enumerate().skip(1) {
        let last = i + 1 == count && !mean;
        let name = if last { out.clone() } else { format!("{out}#{i}") };
        acc = apply(b, n, op, acc, v, &name)?;
    }
    if mean && count > 1 {
        let k = Tensor::from_f32(vec![], vec![count as f32]).map_err(|e| n.err(e.to_string()))?;
        let k = b.add_const(n, &format!("{out}#count"), k)?;
        acc = apply(b, n, BinaryOp::Div, acc, k, &out)?;
    }
    b.define(n, 0, acc)
}
