//! Integrality, a fact of the e-class analysis: an f32 class whose every element is an integer of magnitude at
//! most a known bound. The imported forms of ConvInteger and MatMulInteger (`Quant` to f32 with scale 1, exact
//! integer weights, f32 sums) have it, and it is what makes `Cast` to int32 and back to f32 the identity
//! (`simplify/int-cast-roundtrip`). Any f32 sum of integers is an integer (below 2^24 exactly, above it every
//! f32 is one), so the fact holds whatever order the MAC array adds in. Only proves, never guesses: an
//! operator not listed here gives `None`.
use super::analysis::Facts;
use accel_ops::op::{BinaryOp, Op, UnaryOp};
use accel_ops::{DType, Tensor, TensorType};

/// The largest |element| of an f32 constant whose elements are all integers (`None` otherwise).
pub fn const_bound(t: &Tensor) -> Option<f64> {
    let v = t.as_f32().ok()?;
    v.iter().try_fold(0f64, |m, &x| (x.is_finite() && x.fract() == 0.0).then(|| m.max(x.abs() as f64)))
}

/// The bound of a splat value, if it is an integer.
pub fn splat_bound(v: f32) -> Option<f64> {
    (v.is_finite() && v.fract() == 0.0).then_some(v.abs() as f64)
}

/// The bound of every element of integer dtype `dt` read as f32.
fn dtype_bound(dt: DType) -> Option<f64> {
    match dt {
        DType::I8 => Some(128.0),
        DType::U8 => Some(255.0),
        DType::I32 => Some(2_147_483_648.0),
        DType::I64 => Some(9.223_372_036_854_776e18),
        DType::Bool => Some(1.0),
        DType::I16 => Some(32_768.0),
        DType::U16 => Some(65_535.0),
        DType::U32 => Some(4_294_967_295.0),
        DType::U64 => Some(1.844_674_407_370_955_2e19),
        DType::F32 | DType::BF16 | DType::F16 | DType::F64 => None,
    }
}

/// The bound of `op`'s f32 output from its operands' facts (`None`: not known to be integral).
pub fn bound_of(op: &Op, args: &[&Facts], out: &TensorType) -> Option<f64> {
    if out.dtype != DType::F32 {
        return None;
    }
    let b = |i: usize| args.get(i).and_then(|f| f.int_bound);
    let dims = |i: usize| args.get(i).map_or(&[][..], |f| f.ty.shape.dims());
    let bound = match op {
        Op::Quant(q) if q.scale == 1.0 => 128.0 + (q.zero_point as f64).abs(),
        Op::Cast(_) => match args.first()?.ty.dtype {
            DType::F32 => b(0)?,
            dt => dtype_bound(dt)?,
        },
        Op::Conv(c) if matches!(c.act, None | Some(UnaryOp::Relu)) => {
            let k: usize = dims(1).iter().skip(1).product();
            let mut s = k as f64 * b(0)? * b(1)?;
            for i in 2..args.len() {
                s += b(i)?;
            }
            s
        }
        Op::MatMul(_) => *dims(0).last()? as f64 * b(0)? * b(1)?,
        Op::Gemm(g)
            if g.alpha == 1.0 && (g.beta == 1.0 || args.len() < 3) && matches!(g.act, None | Some(UnaryOp::Relu)) =>
        {
            let d = dims(0);
            let k = if g.trans_a { *d.first()? } else { *d.last()? };
            k as f64 * b(0)? * b(1)? + if args.len() > 2 { b(2)? } else { 0.0 }
        }
        Op::Unary(u) if matches!(u.op, UnaryOp::Relu | UnaryOp::Neg | UnaryOp::Abs) => b(0)?,
        Op::Binary(x) => match x.op {
            BinaryOp::Add | BinaryOp::Sub => b(0)? + b(1)?,
            BinaryOp::Mul => b(0)? * b(1)?,
            _ => return None,
        },
        Op::Pad(p) => b(0)?.max(splat_bound(p.value)?),
        Op::Reshape(_) | Op::Transpose(_) | Op::Slice(_) | Op::Gather(_) => b(0)?,
        Op::Concat(_) => args.iter().map(|f| f.int_bound).try_fold(0f64, |m, x| Some(m.max(x?)))?,
        _ => return None,
    };
    bound.is_finite().then_some(bound)
}

/// The smaller of two bounds of the same value (either alone when only one is known).
pub fn merge(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}
