//! Operators that run on the host in operator form (`Op::HostOnly`): comparisons, logic, Where and Expand on
//! computed operands (all-constant ones still fold through `constant::constant_only`), integer arithmetic,
//! Mod, bit shifts and bitwise logic, ArgMax/ArgMin, GatherElements, Gather with computed indices, Trilu and
//! the rarer f32 math functions. Attributes are validated here; data-dependent indices are checked when run.
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use crate::ir::ValueId;
use accel_ops::op::arg_reduce::ArgReduce;
use accel_ops::op::arith::{Arith, ArithOp};
use accel_ops::op::compare::{Compare, CompareOp};
use accel_ops::op::conv_transpose::ConvTranspose;
use accel_ops::op::cumsum::CumSum;
use accel_ops::op::expand::Expand;
use accel_ops::op::gather_elements::GatherElements;
use accel_ops::op::gather_nd::GatherNd;
use accel_ops::op::hardmax::Hardmax;
use accel_ops::op::logic::{Logic, LogicOp};
use accel_ops::op::math_fn::{MathFn, MathFnOp};
use accel_ops::op::scatter::{Reduction, Scatter};
use accel_ops::op::select::Select;
use accel_ops::op::take::Take;
use accel_ops::op::top_k::TopK;
use accel_ops::op::trilu::Trilu;
use accel_ops::op::values::Values;
use accel_ops::op::{HostOnly, Op};
use accel_ops::Shape;

type Res = Result<(), ImportError>;

fn emit(b: &mut Builder<'_>, n: &OnnxNode<'_>, op: HostOnly, inputs: &[ValueId]) -> Res {
    b.emit_out(n, Op::HostOnly(op), inputs)?;
    Ok(())
}

/// Comparisons, logic, Where and Expand: folded when every input is a constant, else a host node.
pub(super) fn computed(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let count = n.proto.input.len();
    let inputs = (0..count).map(|i| b.input(n, i)).collect::<Result<Vec<_>, _>>()?;
    if inputs.iter().all(|&v| b.constant(v).is_some()) {
        return super::constant::constant_only(b, n);
    }
    let cmp = |op| HostOnly::Compare(Compare { op });
    let logic = |op| HostOnly::Logic(Logic { op });
    let (op, want) = match n.op_type() {
        "Equal" => (cmp(CompareOp::Equal), 2),
        "Less" => (cmp(CompareOp::Less), 2),
        "Greater" => (cmp(CompareOp::Greater), 2),
        "LessOrEqual" => (cmp(CompareOp::LessOrEqual), 2),
        "GreaterOrEqual" => (cmp(CompareOp::GreaterOrEqual), 2),
        "And" => (logic(LogicOp::And), 2),
        "Or" => (logic(LogicOp::Or), 2),
        "Xor" => (logic(LogicOp::Xor), 2),
        "Not" => (logic(LogicOp::Not), 1),
        "Where" => (HostOnly::Select(Select), 3),
        "Expand" => {
            b.arity(n, 2, 2)?;
            let shape = b.const_ints(n, 1, "shape")?.ok_or_else(|| n.err("input #1 (shape) is required"))?;
            let shape = shape.iter().map(|&d| n.to_usize(d, "shape")).collect::<Result<Vec<_>, _>>()?;
            return emit(b, n, HostOnly::Expand(Expand { shape }), &inputs[..1]);
        }
        other => return Err(n.err(format!("`{other}` is not a comparison or logic operator"))),
    };
    b.arity(n, want, want)?;
    emit(b, n, op, &inputs)
}

/// Integer (or non-f32) arithmetic that `Binary` cannot carry, as a host node `a op c` named `name`.
pub(super) fn arith(
    b: &mut Builder<'_>,
    n: &OnnxNode<'_>,
    op: ArithOp,
    a: ValueId,
    c: ValueId,
    name: &str,
) -> Result<ValueId, ImportError> {
    b.emit(n, Op::HostOnly(HostOnly::Arith(Arith { op })), &[a, c], name)
}

/// Mod(a, b): `fmod` picks the sign of the dividend, else of the divisor (also on floats, as numpy).
pub(super) fn modulo(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 2)?;
    let fmod = n.flag("fmod", false)?;
    let (x, y) = (b.input(n, 0)?, b.input(n, 1)?);
    let name = b.output_name(n, 0)?.to_string();
    let v = arith(b, n, ArithOp::Mod { fmod }, x, y, &name)?;
    b.define(n, 0, v)
}

/// BitShift and the bitwise operators.
pub(super) fn bitwise(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 2)?;
    let op = match n.op_type() {
        "BitShift" => match n.string("direction")? {
            Some("LEFT") => ArithOp::ShiftLeft,
            Some("RIGHT") => ArithOp::ShiftRight,
            other => return Err(n.err(format!("direction must be LEFT or RIGHT, got {other:?}"))),
        },
        "BitwiseAnd" => ArithOp::BitAnd,
        "BitwiseOr" => ArithOp::BitOr,
        "BitwiseXor" => ArithOp::BitXor,
        other => return Err(n.err(format!("`{other}` is not a bitwise operator"))),
    };
    let (x, y) = (b.input(n, 0)?, b.input(n, 1)?);
    let name = b.output_name(n, 0)?.to_string();
    let v = arith(b, n, op, x, y, &name)?;
    b.define(n, 0, v)
}

/// BitwiseNot: `x ^ !0`, an xor with the all-ones value of x's integer type.
pub(super) fn bitwise_not(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let dtype = b.ty(x).dtype;
    let ones = Values::Int(vec![-1]).into_tensor(dtype, Shape::new(vec![])).map_err(|e| n.err(e.to_string()))?;
    let name = b.output_name(n, 0)?.to_string();
    let ones = b.add_const(n, &format!("{name}#ones"), ones)?;
    let v = arith(b, n, ArithOp::BitXor, x, ones, &name)?;
    b.define(n, 0, v)
}

/// ArgMax / ArgMin.
pub(super) fn arg_reduce(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let axis = n.axis(n.int_or("axis", 0)?, b.dims(x).len(), "axis")?;
    let op = ArgReduce {
        max: n.op_type() == "ArgMax",
        axis,
        keepdims: n.flag("keepdims", true)?,
        select_last_index: n.flag("select_last_index", false)?,
    };
    emit(b, n, HostOnly::ArgReduce(op), &[x])
}

/// TopK(x, k): `k` must be a constant; each used output (values, indices) becomes its own host node.
pub(super) fn top_k(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 2)?;
    let x = b.input(n, 0)?;
    let k = n.to_usize(b.const_int(n, 1, "k")?, "k")?;
    let axis = n.axis(n.int_or("axis", -1)?, b.dims(x).len(), "axis")?;
    let largest = n.flag("largest", true)?;
    // `sorted = 0` leaves the order unspecified: sorted order is one valid answer.
    for (slot, indices) in [(0, false), (1, true)] {
        let name = b.output_name(n, slot)?.to_string();
        if name.is_empty() {
            continue;
        }
        let v = b.emit(n, Op::HostOnly(HostOnly::TopK(TopK { axis, k, largest, indices })), &[x], &name)?;
        b.define(n, slot, v)?;
    }
    Ok(())
}

/// CumSum(x, axis) and CumProd(x, axis): the axis must be a constant.
pub(super) fn cumulative(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 2)?;
    let x = b.input(n, 0)?;
    let axis = n.axis(b.const_int(n, 1, "axis")?, b.dims(x).len(), "axis")?;
    let (exclusive, reverse) = (n.flag("exclusive", false)?, n.flag("reverse", false)?);
    let op = CumSum { axis, exclusive, reverse, product: n.op_type() == "CumProd" };
    emit(b, n, HostOnly::CumSum(op), &[x])
}

/// Hardmax (opset 13+: along `axis`, default -1; earlier opsets flatten to 2-D at `axis`, default 1).
pub(super) fn hardmax(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    if n.opset < 13 {
        return Err(n.err(format!("Hardmax before opset 13 (flattening at `axis`) is unsupported (opset {})", n.opset)));
    }
    let axis = n.axis(n.int_or("axis", -1)?, b.dims(x).len(), "axis")?;
    emit(b, n, HostOnly::Hardmax(Hardmax { axis }), &[x])
}

/// ScatterElements / Scatter (along `axis`) and ScatterND, with their `reduction`.
pub(super) fn scatter(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 3, 3)?;
    let (x, i, u) = (b.input(n, 0)?, b.input(n, 1)?, b.input(n, 2)?);
    let reduction = match n.string_or("reduction", "none")? {
        "none" => Reduction::None,
        "add" => Reduction::Add,
        "mul" => Reduction::Mul,
        "max" => Reduction::Max,
        "min" => Reduction::Min,
        other => return Err(n.err(format!("reduction `{other}` is unsupported"))),
    };
    let axis = match n.op_type() {
        "ScatterND" => None,
        _ => Some(n.axis(n.int_or("axis", 0)?, b.dims(x).len(), "axis")?),
    };
    emit(b, n, HostOnly::Scatter(Scatter { axis, reduction }), &[x, i, u])
}

/// GatherND(data, indices) with `batch_dims`.
pub(super) fn gather_nd(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 2)?;
    let (x, i) = (b.input(n, 0)?, b.input(n, 1)?);
    let batch_dims = n.to_usize(n.int_or("batch_dims", 0)?, "batch_dims")?;
    emit(b, n, HostOnly::GatherNd(GatherNd { batch_dims }), &[x, i])
}

/// ConvTranspose(x, w, b?): pads resolved here from `pads`, `auto_pad` or `output_shape` as the ONNX
/// definition gives them, into the begin pads and the output size.
pub(super) fn conv_transpose(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 3)?;
    let (x, w) = (b.input(n, 0)?, b.input(n, 1)?);
    let bias = b.opt_input(n, 2)?;
    let (xd, wd) = (b.dims(x).to_vec(), b.dims(w).to_vec());
    if xd.len() < 3 || wd.len() != xd.len() {
        return Err(n.err(format!("input {} and weights {} must have the same rank >= 3", b.ty(x), b.ty(w))));
    }
    let sp = xd.len() - 2;
    let list = |name: &str, default: usize| -> Result<Vec<usize>, ImportError> {
        match n.ints(name)? {
            None => Ok(vec![default; sp]),
            Some(v) if v.len() == sp => v.iter().map(|&x| n.to_usize(x, name)).collect(),
            Some(v) => Err(n.err(format!("`{name}` has {} values for {sp} spatial axes", v.len()))),
        }
    };
    let strides = list("strides", 1)?;
    let dilations = list("dilations", 1)?;
    let out_pad = list("output_padding", 0)?;
    let kernel = match n.ints("kernel_shape")? {
        Some(_) => list("kernel_shape", 1)?,
        None => wd[2..].to_vec(),
    };
    if kernel != wd[2..] {
        return Err(n.err(format!("kernel_shape {kernel:?} differs from the weights {:?}", &wd[2..])));
    }
    // The full extent of each axis before padding: stride * (in - 1) + output_padding + dilated kernel.
    let full: Vec<i64> = (0..sp)
        .map(|a| {
            let span = strides[a].checked_mul(xd[a + 2].max(1) - 1)?;
            let reach = (kernel[a].max(1) - 1).checked_mul(dilations[a])?;
            i64::try_from(span.checked_add(out_pad[a])?.checked_add(reach)?.checked_add(1)?).ok()
        })
        .collect::<Option<_>>()
        .ok_or_else(|| n.err("strides, dilations or output_padding overflow the output size"))?;
    let auto = n.string_or("auto_pad", "NOTSET")?;
    let output_shape = match n.ints("output_shape")? {
        Some(v) if v.len() >= sp => {
            Some(v[v.len() - sp..].iter().map(|&d| n.to_usize(d, "output_shape")).collect::<Result<Vec<_>, _>>()?)
        }
        Some(v) => return Err(n.err(format!("output_shape {v:?} has fewer than {sp} values"))),
        None if auto == "SAME_UPPER" || auto == "SAME_LOWER" => Some((0..sp).map(|a| xd[a + 2] * strides[a]).collect()),
        None => None,
    };
    let (pads_begin, out_spatial) = match output_shape {
        Some(out) => {
            let mut begin = Vec::with_capacity(sp);
            for a in 0..sp {
                // Negative when the output is larger than the transposed convolution gives: the extra end
                // positions hold only the bias (floor division, as the ONNX definition computes it).
                let total = full[a] - out[a] as i64;
                let start = if auto == "SAME_UPPER" { total.div_euclid(2) } else { total - total.div_euclid(2) };
                let start = usize::try_from(start).map_err(|_| {
                    n.err(format!("output_shape {out:?} would need a negative begin pad along axis {}", a + 2))
                })?;
                begin.push(start);
            }
            (begin, out)
        }
        None => {
            let pads = match n.ints("pads")? {
                None => vec![0; 2 * sp],
                Some(p) if p.len() == 2 * sp => {
                    p.iter().map(|&x| n.to_usize(x, "pads")).collect::<Result<Vec<_>, _>>()?
                }
                Some(p) => return Err(n.err(format!("`pads` has {} values for {sp} spatial axes", p.len()))),
            };
            let mut out = Vec::with_capacity(sp);
            for a in 0..sp {
                let o = full[a] - (pads[a] + pads[sp + a]) as i64;
                if o < 1 {
                    return Err(n.err(format!("the pads {pads:?} leave no output along axis {}", a + 2)));
                }
                out.push(o as usize);
            }
            (pads[..sp].to_vec(), out)
        }
    };
    let group = n.to_positive(n.int_or("group", 1)?, "group")?;
    let op = ConvTranspose { strides, dilations, pads_begin, out_spatial, group };
    let mut operands = vec![x, w];
    operands.extend(bias);
    emit(b, n, HostOnly::ConvTranspose(op), &operands)
}

/// GatherElements(data, indices).
pub(super) fn gather_elements(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 2)?;
    let (x, i) = (b.input(n, 0)?, b.input(n, 1)?);
    let axis = n.axis(n.int_or("axis", 0)?, b.dims(x).len(), "axis")?;
    emit(b, n, HostOnly::GatherElements(GatherElements { axis }), &[x, i])
}

/// Gather with computed indices (`layout::gather` takes constant ones).
pub(super) fn take(b: &mut Builder<'_>, n: &OnnxNode<'_>, x: ValueId, axis: usize) -> Res {
    let i = b.input(n, 1)?;
    emit(b, n, HostOnly::Take(Take { axis }), &[x, i])
}

/// Trilu(x, k?): a constant `k` becomes the attribute, a computed one stays an operand.
pub(super) fn trilu(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 2)?;
    let x = b.input(n, 0)?;
    let upper = n.flag("upper", true)?;
    if let Some(k) = b.opt_input(n, 1)?.filter(|&k| b.constant(k).is_none()) {
        return emit(b, n, HostOnly::Trilu(Trilu { upper, k: 0 }), &[x, k]);
    }
    let k = match b.const_ints(n, 1, "k")?.as_deref() {
        None => 0,
        Some([k]) => *k,
        Some(v) => return Err(n.err(format!("k must be one integer, got {v:?}"))),
    };
    emit(b, n, HostOnly::Trilu(Trilu { upper, k }), &[x])
}

/// The f32 math functions without a tile form.
pub(super) fn math_fn(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let op = match n.op_type() {
        "Cos" => MathFnOp::Cos,
        "Sin" => MathFnOp::Sin,
        "Tan" => MathFnOp::Tan,
        "Acos" => MathFnOp::Acos,
        "Asin" => MathFnOp::Asin,
        "Atan" => MathFnOp::Atan,
        "Cosh" => MathFnOp::Cosh,
        "Sinh" => MathFnOp::Sinh,
        "Acosh" => MathFnOp::Acosh,
        "Asinh" => MathFnOp::Asinh,
        "Atanh" => MathFnOp::Atanh,
        "Softsign" => MathFnOp::Softsign,
        "Mish" => MathFnOp::Mish,
        "Sign" => MathFnOp::Sign,
        "Round" => MathFnOp::Round,
        "IsNaN" => MathFnOp::IsNaN,
        "Selu" => MathFnOp::Selu {
            alpha: n.finite_float_or("alpha", 1.673_263_2)?,
            gamma: n.finite_float_or("gamma", 1.050_701)?,
        },
        "ThresholdedRelu" => MathFnOp::ThresholdedRelu { alpha: n.finite_float_or("alpha", 1.0)? },
        "Celu" => {
            let alpha = n.finite_float_or("alpha", 1.0)?;
            if alpha == 0.0 {
                return Err(n.err("alpha must not be 0"));
            }
            MathFnOp::Celu { alpha }
        }
        "Shrink" => MathFnOp::Shrink { bias: n.finite_float_or("bias", 0.0)?, lambd: n.finite_float_or("lambd", 0.5)? },
        "IsInf" => {
            MathFnOp::IsInf { positive: n.flag("detect_positive", true)?, negative: n.flag("detect_negative", true)? }
        }
        other => return Err(n.err(format!("`{other}` is not a math function"))),
    };
    emit(b, n, HostOnly::MathFn(MathFn { op }), &[x])
}
