//! Value-level operators: Constant, ConstantOfShape, Shape and Size (static shapes make them constants),
//! Cast, the aliases (Identity, Dropout: no node), and the operators accel supports only when every input is
//! a constant (comparisons, logic, Where, Range, Expand), which are folded through `fold`.
use super::Builder;
use crate::import::arange::Stash;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use crate::import::fold::{self, Cmp, Logic};
use crate::import::proto::{checked_dims, dtype_of, tensor_from_proto};
use accel_ops::op::{Cast, Op};
use accel_ops::{DType, Shape, Tensor};

type Res = Result<(), ImportError>;

fn tensor_err(n: &OnnxNode<'_>, e: impl ToString) -> ImportError {
    n.err(e.to_string())
}

pub(super) fn constant(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 0, 0)?;
    for unsupported in ["sparse_value", "value_string", "value_strings"] {
        if n.has_attr(unsupported) {
            return Err(n.err(format!("attribute `{unsupported}` is unsupported")));
        }
    }
    let given = ["value", "value_float", "value_floats", "value_int", "value_ints"]
        .into_iter()
        .filter(|a| n.has_attr(a))
        .count();
    if given != 1 {
        return Err(n.err(format!("needs exactly one value attribute, got {given}")));
    }
    let t = if let Some(t) = n.tensor("value")? {
        let name = format!("value of node {}", n.label);
        tensor_from_proto(t, &name, b.model_dir, b.limits)?
    } else if let Some(f) = n.float("value_float")? {
        Tensor::from_f32(vec![], vec![f]).map_err(|e| tensor_err(n, e))?
    } else if let Some(f) = n.floats("value_floats")? {
        Tensor::from_f32(vec![f.len()], f.to_vec()).map_err(|e| tensor_err(n, e))?
    } else if let Some(i) = n.int("value_int")? {
        Tensor::from_i64(vec![], vec![i]).map_err(|e| tensor_err(n, e))?
    } else if let Some(i) = n.ints("value_ints")? {
        Tensor::from_i64(vec![i.len()], i.to_vec()).map_err(|e| tensor_err(n, e))?
    } else {
        return Err(n.err("no value attribute"));
    };
    b.const_out(n, t)
}

pub(super) fn constant_of_shape(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let dims = b.const_ints(n, 0, "shape")?.ok_or_else(|| n.err("input #0 (shape) is required"))?;
    let shape: Shape = checked_dims(&dims, b.limits).map_err(|e| n.err(format!("shape {dims:?}: {e}")))?;
    let value = match n.tensor("value")? {
        Some(t) => tensor_from_proto(t, &format!("value of node {}", n.label), b.model_dir, b.limits)?,
        None => Tensor::from_f32(vec![1], vec![0.0]).map_err(|e| tensor_err(n, e))?,
    };
    let t = fold::fill(&value, shape, &b.limits.tensor).map_err(|e| n.err(e))?;
    b.const_out(n, t)
}

pub(super) fn shape(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let dims: Vec<i64> = b.dims(x).iter().map(|&d| d as i64).collect();
    let r = dims.len() as i64;
    // Opset 15: `start`/`end` slice the shape, clamped like Slice.
    let clamp = |v: i64| (if v < 0 { v.saturating_add(r) } else { v }).clamp(0, r) as usize;
    let start = clamp(n.int_or("start", 0)?);
    let end = clamp(n.int_or("end", r)?).max(start);
    let part = dims[start..end].to_vec();
    let t = Tensor::from_i64(vec![part.len()], part).map_err(|e| tensor_err(n, e))?;
    b.const_out(n, t)
}

pub(super) fn size(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let count = b.ty(x).shape.numel() as i64;
    let t = Tensor::from_i64(vec![], vec![count]).map_err(|e| tensor_err(n, e))?;
    b.const_out(n, t)
}

pub(super) fn cast(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let to = n.int("to")?.ok_or_else(|| n.err("attribute `to` is required"))?;
    let to = dtype_of(to).ok_or_else(|| n.err(format!("cast to ONNX data type {to} is unsupported")))?;
    if b.ty(x).dtype == to {
        return b.alias_out(n, x);
    }
    b.emit_out(n, Op::Cast(Cast { to }), &[x])?;
    Ok(())
}

/// EyeLike: ones on diagonal `k` of a rank-2 tensor shaped as the input (whose values are not read), of the
/// `dtype` attribute or the input's. A constant: nothing runs.
pub(super) fn eye_like(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let &[rows, cols] = b.dims(x) else {
        return Err(n.err(format!("EyeLike needs a rank-2 input, got {}", b.ty(x))));
    };
    let dtype = match n.int("dtype")? {
        Some(code) => dtype_of(code).ok_or_else(|| n.err(format!("dtype {code} is unsupported")))?,
        None => b.ty(x).dtype,
    };
    let k = n.int_or("k", 0)?;
    let on = |r: usize, c: usize| c as i64 - r as i64 == k;
    let ones: Vec<f32> =
        (0..rows * cols).map(|i| if on(i / cols.max(1), i % cols.max(1)) { 1.0 } else { 0.0 }).collect();
    let t = Tensor::from_f32(vec![rows, cols], ones).map_err(|e| n.err(e.to_string()))?;
    let t = Op::Cast(Cast { to: dtype }).eval(&[&t]).map_err(|e| n.err(e.to_string()))?;
    b.const_out(n, t)
}

pub(super) fn identity(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    b.alias_out(n, x)
}

pub(super) fn dropout(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 3)?;
    let x = b.input(n, 0)?;
    // Opset 12+: training_mode (input 2) must be absent or a constant false, or true with a constant ratio
    // (input 1) of 0, which drops nothing either.
    if let Some(t) = b.const_input(n, 2, "training_mode")? {
        if t.to_f32_vec().iter().any(|&v| v != 0.0) {
            let ratio = b.const_input(n, 1, "ratio")?.map_or(vec![0.5], |r| r.to_f32_vec());
            if ratio.iter().any(|&r| r != 0.0) {
                return Err(n.err("training_mode=true with a ratio above 0 is unsupported (inference only)"));
            }
        }
    }
    b.alias_out(n, x)?;
    // The mask keeps every element: a constant of trues, made only when the mask is an output.
    if n.proto.output.get(1).is_some_and(|o| !o.is_empty()) {
        let dims = b.dims(x).to_vec();
        let mask =
            Tensor::from_bool(dims.clone(), vec![true; dims.iter().product()]).map_err(|e| n.err(e.to_string()))?;
        let name = b.output_name(n, 1)?.to_string();
        let v = b.add_const(n, &name, mask)?;
        b.define(n, 1, v)?;
    }
    Ok(())
}

/// Range's `stash_type` (opset 27: the precision an f16 or bf16 range computes in, f32 by default); the
/// reference computes in f64 before opset 27.
fn range_stash(n: &OnnxNode<'_>) -> Result<Stash, ImportError> {
    match n.int("stash_type")? {
        None if n.opset >= 27 => Ok(Stash::F32),
        None => Ok(Stash::F64),
        Some(1) => Ok(Stash::F32),
        Some(11) => Ok(Stash::F64),
        Some(t) => Err(n.err(format!("stash_type {t} is unsupported (1: float, 11: double)"))),
    }
}

/// Operators accel evaluates only at import, when all inputs are constant.
pub(super) fn constant_only(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let count = n.proto.input.len();
    let mut args = Vec::with_capacity(count);
    for i in 0..count {
        let v = b.input(n, i)?;
        let t = b.constant(v).ok_or_else(|| {
            n.err(format!("input #{i} is not a constant: {} is supported only on constants", n.op_type()))
        })?;
        args.push(t);
    }
    let limits = &b.limits.tensor;
    let need = |k: usize| -> Result<(), ImportError> {
        if args.len() != k {
            return Err(n.err(format!("expected {k} inputs, got {}", args.len())));
        }
        Ok(())
    };
    let cmp = |c| -> Result<Tensor, ImportError> {
        need(2)?;
        fold::compare(c, args[0], args[1], limits).map_err(|e| n.err(e))
    };
    let logic = |l| -> Result<Tensor, ImportError> {
        need(2)?;
        fold::logic(l, args[0], args[1], limits).map_err(|e| n.err(e))
    };
    let t = match n.op_type() {
        "Equal" => cmp(Cmp::Eq)?,
        "Less" => cmp(Cmp::Lt)?,
        "Greater" => cmp(Cmp::Gt)?,
        "LessOrEqual" => cmp(Cmp::Le)?,
        "GreaterOrEqual" => cmp(Cmp::Ge)?,
        "And" => logic(Logic::And)?,
        "Or" => logic(Logic::Or)?,
        "Xor" => logic(Logic::Xor)?,
        "Not" => {
            need(1)?;
            fold::not(args[0]).map_err(|e| n.err(e))?
        }
        "Where" => {
            need(3)?;
            if args[0].dtype() != DType::Bool {
                return Err(n.err(format!("condition must be bool, got {}", args[0].ty())));
            }
            fold::where_(args[0], args[1], args[2], limits).map_err(|e| n.err(e))?
        }
        "Range" => {
            need(3)?;
            fold::range(args[0], args[1], args[2], range_stash(n)?, limits).map_err(|e| n.err(e))?
        }
        "Expand" => {
            need(2)?;
            if !matches!(args[1].dtype(), DType::I64 | DType::I32) || args[1].shape().rank() != 1 {
                return Err(n.err(format!("shape must be a 1-D int64 list, got {}", args[1].ty())));
            }
            let shape = args[1].to_i64_vec().map_err(|e| tensor_err(n, e))?;
            fold::expand(args[0], &shape, limits).map_err(|e| n.err(e))?
        }
        other => return Err(n.err(format!("`{other}` is not a constant-only operator"))),
    };
    b.const_out(n, t)
}
