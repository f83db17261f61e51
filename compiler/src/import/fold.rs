//! Constant folding helpers for what `Op::eval` cannot compute: integer arithmetic on shape tensors (the
//! f32-only `Binary` op cannot), comparisons, logic, `Where`, `Range`, `Expand`, integer reductions and fills.
//! Everything here runs on constants at import, with checked arithmetic and every result size checked against
//! the limits before it is allocated. Folding of ops that `Op::eval` can compute lives in `Builder::emit`.
use super::arange::Stash;
use accel_ops::op::{BinaryOp, ReduceKind};
use accel_ops::shape::broadcast;
use accel_ops::tensor::Data;
use accel_ops::{DType, Limits, Shape, Tensor};

/// A comparison producing booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

/// A boolean connective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Logic {
    And,
    Or,
    Xor,
}

type R<T> = Result<T, String>;

fn checked_shape(s: Shape, limits: &Limits) -> R<Shape> {
    s.check(limits).map_err(|e| e.to_string())?;
    Ok(s)
}

/// Maps a flat output index to the flat index of a numpy-broadcast source of dims `src`.
fn broadcast_index(out: &[usize], src: &[usize], mut flat: usize) -> usize {
    let offset = out.len() - src.len();
    let (mut idx, mut stride) = (0, 1);
    for axis in (0..out.len()).rev() {
        let coord = flat % out[axis];
        flat /= out[axis];
        if axis >= offset {
            let d = src[axis - offset];
            if d != 1 {
                idx += coord * stride;
            }
            stride *= d;
        }
    }
    idx
}

/// Broadcasts `t` to `shape` (which must be a broadcast of its shape), any dtype.
fn broadcast_to(t: &Tensor, shape: &Shape) -> R<Tensor> {
    let od = shape.dims().to_vec();
    let sd = t.dims().to_vec();
    t.gather_flat(shape.clone(), (0..shape.numel()).map(|i| broadcast_index(&od, &sd, i))).map_err(|e| e.to_string())
}

/// The integer dtypes folded here through i64 (u64 is not: it may not fit; `Op::eval` folds it exactly).
pub(crate) fn is_int(d: DType) -> bool {
    matches!(d, DType::I64 | DType::I32 | DType::I8 | DType::U8 | DType::I16 | DType::U16 | DType::U32)
}

/// Integer elements back into `dtype`, range-checked.
fn ints_to(dtype: DType, shape: Shape, v: Vec<i64>) -> R<Tensor> {
    fn narrow<T: TryFrom<i64>>(v: Vec<i64>, dtype: DType) -> R<Vec<T>> {
        v.into_iter().map(|x| T::try_from(x).map_err(|_| format!("{x} overflows {dtype}"))).collect()
    }
    let data = match dtype {
        DType::I64 => Data::I64(v),
        DType::I32 => Data::I32(narrow(v, dtype)?),
        DType::I8 => Data::I8(narrow(v, dtype)?),
        DType::U8 => Data::U8(narrow(v, dtype)?),
        DType::I16 => Data::I16(narrow(v, dtype)?),
        DType::U16 => Data::U16(narrow(v, dtype)?),
        DType::U32 => Data::U32(narrow(v, dtype)?),
        other => return Err(format!("{other} is not an integer type")),
    };
    Tensor::new(shape, data).map_err(|e| e.to_string())
}

/// Integer `a op b` with numpy broadcasting and checked arithmetic (integer division truncates, as in C).
pub(crate) fn int_binary(op: BinaryOp, a: &Tensor, b: &Tensor, limits: &Limits) -> R<Tensor> {
    if a.dtype() != b.dtype() || !is_int(a.dtype()) {
        return Err(format!("{} on {} and {} is unsupported", op.name(), a.ty(), b.ty()));
    }
    let shape = checked_shape(broadcast(a.shape(), b.shape()).map_err(|e| e.to_string())?, limits)?;
    let (x, y) = (a.to_i64_vec().map_err(|e| e.to_string())?, b.to_i64_vec().map_err(|e| e.to_string())?);
    let od = shape.dims().to_vec();
    let out = (0..shape.numel())
        .map(|i| {
            let (p, q) = (x[broadcast_index(&od, a.dims(), i)], y[broadcast_index(&od, b.dims(), i)]);
            let r = match op {
                BinaryOp::Add => p.checked_add(q),
                BinaryOp::Sub => p.checked_sub(q),
                BinaryOp::Mul => p.checked_mul(q),
                BinaryOp::Div => p.checked_div(q),
                BinaryOp::Pow => u32::try_from(q).ok().and_then(|e| p.checked_pow(e)),
                BinaryOp::Max => Some(p.max(q)),
                BinaryOp::Min => Some(p.min(q)),
            };
            r.ok_or_else(|| format!("integer {} of {p} and {q} overflows or divides by zero", op.name()))
        })
        .collect::<R<Vec<i64>>>()?;
    ints_to(a.dtype(), shape, out)
}

/// Elements in a comparable form: integers as i64, floats as f32, booleans as bool.
enum Num {
    Int(Vec<i64>),
    Float(Vec<f32>),
    Bool(Vec<bool>),
}

fn num(t: &Tensor) -> R<Num> {
    Ok(match t.dtype() {
        DType::F32 | DType::BF16 => Num::Float(t.to_f32_vec()),
        DType::Bool => Num::Bool(t.as_bool().map_err(|e| e.to_string())?.to_vec()),
        _ => Num::Int(t.to_i64_vec().map_err(|e| e.to_string())?),
    })
}

/// Elementwise comparison with broadcasting; inputs must have the same dtype.
pub(crate) fn compare(cmp: Cmp, a: &Tensor, b: &Tensor, limits: &Limits) -> R<Tensor> {
    if a.dtype() != b.dtype() {
        return Err(format!("comparing {} with {}", a.ty(), b.ty()));
    }
    let shape = checked_shape(broadcast(a.shape(), b.shape()).map_err(|e| e.to_string())?, limits)?;
    let od = shape.dims().to_vec();
    fn go<T: PartialOrd + Copy>(cmp: Cmp, x: &[T], y: &[T], od: &[usize], ad: &[usize], bd: &[usize]) -> Vec<bool> {
        let n: usize = od.iter().product();
        (0..n)
            .map(|i| {
                let (p, q) = (x[broadcast_index(od, ad, i)], y[broadcast_index(od, bd, i)]);
                match cmp {
                    Cmp::Eq => p == q,
                    Cmp::Lt => p < q,
                    Cmp::Gt => p > q,
                    Cmp::Le => p <= q,
                    Cmp::Ge => p >= q,
                }
            })
            .collect()
    }
    let out = match (num(a)?, num(b)?) {
        (Num::Int(x), Num::Int(y)) => go(cmp, &x, &y, &od, a.dims(), b.dims()),
        (Num::Float(x), Num::Float(y)) => go(cmp, &x, &y, &od, a.dims(), b.dims()),
        (Num::Bool(x), Num::Bool(y)) => go(cmp, &x, &y, &od, a.dims(), b.dims()),
        _ => return Err("mismatched operand types".into()),
    };
    Tensor::new(shape, Data::Bool(out)).map_err(|e| e.to_string())
}

/// Boolean connective with broadcasting.
pub(crate) fn logic(op: Logic, a: &Tensor, b: &Tensor, limits: &Limits) -> R<Tensor> {
    let (x, y) = (a.as_bool().map_err(|e| e.to_string())?, b.as_bool().map_err(|e| e.to_string())?);
    let shape = checked_shape(broadcast(a.shape(), b.shape()).map_err(|e| e.to_string())?, limits)?;
    let od = shape.dims().to_vec();
    let out = (0..shape.numel())
        .map(|i| {
            let (p, q) = (x[broadcast_index(&od, a.dims(), i)], y[broadcast_index(&od, b.dims(), i)]);
            match op {
                Logic::And => p && q,
                Logic::Or => p || q,
                Logic::Xor => p != q,
            }
        })
        .collect();
    Tensor::new(shape, Data::Bool(out)).map_err(|e| e.to_string())
}

pub(crate) fn not(a: &Tensor) -> R<Tensor> {
    let x = a.as_bool().map_err(|e| e.to_string())?;
    Tensor::new(a.shape().clone(), Data::Bool(x.iter().map(|v| !v).collect())).map_err(|e| e.to_string())
}

/// Integer Neg or Abs (checked: `-i64::MIN` overflows).
pub(crate) fn int_unary(neg: bool, a: &Tensor) -> R<Tensor> {
    if !is_int(a.dtype()) {
        return Err(format!("{} is not an integer tensor", a.ty()));
    }
    let v = a.to_i64_vec().map_err(|e| e.to_string())?;
    let out = v
        .into_iter()
        .map(|x| if neg { x.checked_neg() } else { x.checked_abs() }.ok_or_else(|| format!("{x} overflows")))
        .collect::<R<Vec<i64>>>()?;
    ints_to(a.dtype(), a.shape().clone(), out)
}

/// `cond ? x : y` with three-way broadcasting; `x` and `y` share a dtype.
pub(crate) fn where_(c: &Tensor, x: &Tensor, y: &Tensor, limits: &Limits) -> R<Tensor> {
    if x.dtype() != y.dtype() {
        return Err(format!("Where branches differ in type: {} and {}", x.ty(), y.ty()));
    }
    let s = broadcast(c.shape(), x.shape()).map_err(|e| e.to_string())?;
    let shape = checked_shape(broadcast(&s, y.shape()).map_err(|e| e.to_string())?, limits)?;
    let c = broadcast_to(c, &shape)?;
    let c = c.as_bool().map_err(|e| e.to_string())?;
    let (x, y) = (broadcast_to(x, &shape)?, broadcast_to(y, &shape)?);
    fn pick<T: Copy>(c: &[bool], a: &[T], b: &[T]) -> Vec<T> {
        c.iter().zip(a.iter().zip(b)).map(|(&c, (&a, &b))| if c { a } else { b }).collect()
    }
    let data = match (x.data(), y.data()) {
        (Data::F32(a), Data::F32(b)) => Data::F32(pick(c, a, b)),
        (Data::BF16(a), Data::BF16(b)) => Data::BF16(pick(c, a, b)),
        (Data::I8(a), Data::I8(b)) => Data::I8(pick(c, a, b)),
        (Data::U8(a), Data::U8(b)) => Data::U8(pick(c, a, b)),
        (Data::I32(a), Data::I32(b)) => Data::I32(pick(c, a, b)),
        (Data::I64(a), Data::I64(b)) => Data::I64(pick(c, a, b)),
        (Data::Bool(a), Data::Bool(b)) => Data::Bool(pick(c, a, b)),
        _ => return Err("Where branches differ in type".into()),
    };
    Tensor::new(shape, data).map_err(|e| e.to_string())
}

/// ONNX Range: `max(ceil((limit - start) / delta), 0)` elements `start + i * delta`, integers exactly here,
/// floats as numpy computes them (`arange.rs`, in `stash` for f16 and bf16).
pub(crate) fn range(start: &Tensor, limit: &Tensor, delta: &Tensor, stash: Stash, limits: &Limits) -> R<Tensor> {
    let dt = start.dtype();
    if limit.dtype() != dt || delta.dtype() != dt || start.len() != 1 || limit.len() != 1 || delta.len() != 1 {
        return Err("Range needs three scalars of one type".into());
    }
    let cap = |n: u128| -> R<usize> {
        let n = usize::try_from(n).map_err(|_| format!("{n} elements"))?;
        checked_shape(Shape(vec![n]), limits)?;
        Ok(n)
    };
    if is_int(dt) {
        let s = i128::from(start.to_i64_vec().map_err(|e| e.to_string())?[0]);
        let l = i128::from(limit.to_i64_vec().map_err(|e| e.to_string())?[0]);
        let d = i128::from(delta.to_i64_vec().map_err(|e| e.to_string())?[0]);
        if d == 0 {
            return Err("Range delta is 0".into());
        }
        let diff = l - s;
        let n = if (diff > 0) != (d > 0) || diff == 0 { 0 } else { (diff.abs() + d.abs() - 1) / d.abs() };
        let n = cap(n as u128)?;
        let v = (0..n as i128).map(|i| (s + i * d) as i64).collect();
        ints_to(dt, Shape(vec![n]), v)
    } else {
        super::arange::float_range(start, limit, delta, stash, limits)
    }
}

/// ONNX Expand: bidirectional broadcast of `x` with `shape`.
pub(crate) fn expand(x: &Tensor, shape: &[i64], limits: &Limits) -> R<Tensor> {
    let dims = shape
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("Expand dim {d} is negative")))
        .collect::<R<Vec<usize>>>()?;
    let out = checked_shape(broadcast(x.shape(), &Shape(dims)).map_err(|e| e.to_string())?, limits)?;
    broadcast_to(x, &out)
}

/// A tensor of `shape` filled with the single element of `value` (ConstantOfShape).
pub(crate) fn fill(value: &Tensor, shape: Shape, limits: &Limits) -> R<Tensor> {
    if value.len() != 1 {
        return Err(format!("the fill value must have one element, got {}", value.ty()));
    }
    let shape = checked_shape(shape, limits)?;
    let n = shape.numel();
    value.gather_flat(shape, std::iter::repeat_n(0, n)).map_err(|e| e.to_string())
}

/// Integer ReduceSum/Prod/Max/Min over sorted `axes` (checked arithmetic).
pub(crate) fn int_reduce(kind: ReduceKind, x: &Tensor, axes: &[usize], keepdims: bool) -> R<Tensor> {
    if !is_int(x.dtype()) {
        return Err(format!("{} is not an integer tensor", x.ty()));
    }
    let dims = x.dims().to_vec();
    let v = x.to_i64_vec().map_err(|e| e.to_string())?;
    let out_dims: Vec<usize> = dims
        .iter()
        .enumerate()
        .filter_map(|(a, &d)| match (axes.contains(&a), keepdims) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    let kept: Vec<usize> = dims.iter().enumerate().map(|(a, &d)| if axes.contains(&a) { 1 } else { d }).collect();
    let n_out: usize = kept.iter().product();
    let mut acc: Vec<Option<i64>> = vec![None; n_out];
    let strides = Shape(dims.clone()).strides();
    for (i, &e) in v.iter().enumerate() {
        let mut o = 0;
        for (a, (&d, &s)) in dims.iter().zip(&strides).enumerate() {
            let c = if axes.contains(&a) { 0 } else { (i / s) % d };
            o = o * kept[a] + c;
        }
        acc[o] = Some(match (acc[o], kind) {
            (None, _) => e,
            (Some(p), ReduceKind::Sum) => p.checked_add(e).ok_or("integer sum overflows")?,
            (Some(p), ReduceKind::Prod) => p.checked_mul(e).ok_or("integer product overflows")?,
            (Some(p), ReduceKind::Max) => p.max(e),
            (Some(p), ReduceKind::Min) => p.min(e),
            (Some(_), ReduceKind::Mean) => return Err("integer ReduceMean is unsupported".into()),
        });
    }
    let empty = match kind {
        ReduceKind::Sum => Some(0),
        ReduceKind::Prod => Some(1),
        _ => None,
    };
    let out = acc
        .into_iter()
        .map(|a| a.or(empty).ok_or_else(|| "reduction over an empty axis".to_string()))
        .collect::<R<Vec<i64>>>()?;
    ints_to(x.dtype(), Shape(out_dims), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i64s(dims: &[usize], v: &[i64]) -> Tensor {
        Tensor::from_i64(dims.to_vec(), v.to_vec()).unwrap()
    }

    #[test]
    fn integer_arithmetic_broadcasts_and_checks() {
        let l = Limits::default();
        let y = int_binary(BinaryOp::Mul, &i64s(&[2], &[3, 4]), &i64s(&[], &[5]), &l).unwrap();
        assert_eq!(y.as_i64().unwrap(), &[15, 20]);
        let y = int_binary(BinaryOp::Div, &i64s(&[2], &[-7, 7]), &i64s(&[1], &[2]), &l).unwrap();
        assert_eq!(y.as_i64().unwrap(), &[-3, 3]);
        assert!(int_binary(BinaryOp::Div, &i64s(&[1], &[1]), &i64s(&[1], &[0]), &l).is_err());
        assert!(int_binary(BinaryOp::Mul, &i64s(&[1], &[i64::MAX]), &i64s(&[1], &[2]), &l).is_err());
    }

    #[test]
    fn range_where_expand_reduce() {
        let l = Limits::default();
        let s = |v| i64s(&[], &[v]);
        assert_eq!(range(&s(0), &s(10), &s(3), Stash::F64, &l).unwrap().as_i64().unwrap(), &[0, 3, 6, 9]);
        assert_eq!(range(&s(5), &s(0), &s(-2), Stash::F64, &l).unwrap().as_i64().unwrap(), &[5, 3, 1]);
        assert!(range(&s(0), &s(i64::MAX), &s(1), Stash::F64, &l).is_err());
        let c = Tensor::from_bool(vec![2], vec![true, false]).unwrap();
        let w = where_(&c, &i64s(&[2], &[1, 2]), &i64s(&[], &[9]), &l).unwrap();
        assert_eq!(w.as_i64().unwrap(), &[1, 9]);
        let e = expand(&i64s(&[2, 1], &[1, 2]), &[1, 3], &l).unwrap();
        assert_eq!(e.as_i64().unwrap(), &[1, 1, 1, 2, 2, 2]);
        let p = int_reduce(ReduceKind::Prod, &i64s(&[2, 3], &[1, 2, 3, 4, 5, 6]), &[1], false).unwrap();
        assert_eq!(p.as_i64().unwrap(), &[6, 120]);
        let eq = compare(Cmp::Eq, &i64s(&[3], &[1, 2, 3]), &s(2), &l).unwrap();
        assert_eq!(eq.as_bool().unwrap(), &[false, true, false]);
    }
}
