//! Float `Range` folded at import exactly as the ONNX reference computes it with numpy's `arange`, so that
//! reduced-precision results match to the bit: the length from the f64 bounds, then the elements in the
//! computation type (`start`, `start + delta`, and `start + i * (x1 - x0)` from the third on), rounded once to
//! the tensor's type. Integer ranges stay in `fold::range`.
use accel_ops::tensor::Data;
use accel_ops::{DType, Limits, Shape, Tensor};
use half::{bf16, f16};

type R<T> = Result<T, String>;

/// The precision a float Range computes in: ONNX `stash_type` (opset 27) for f16 and bf16; f64 for every float
/// type otherwise (the reference's `np.arange` on Python floats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stash {
    F32,
    F64,
}

/// The one element of a float scalar, exactly.
fn scalar(t: &Tensor) -> R<f64> {
    match t.data() {
        Data::F32(v) if v.len() == 1 => Ok(f64::from(v[0])),
        Data::F64(v) if v.len() == 1 => Ok(v[0]),
        Data::F16(v) if v.len() == 1 => Ok(f64::from(v[0])),
        Data::BF16(v) if v.len() == 1 => Ok(f64::from(v[0])),
        _ => Err(format!("Range needs a float scalar, got {}", t.ty())),
    }
}

/// numpy's element count `ceil((limit - start) / delta)`, at least 0, checked against the limits.
fn count(s: f64, l: f64, d: f64, limits: &Limits) -> R<usize> {
    if d == 0.0 || !s.is_finite() || !l.is_finite() || !d.is_finite() {
        return Err("Range needs finite bounds and a non-zero delta".into());
    }
    let n = ((l - s) / d).ceil().max(0.0);
    if n > limits.max_elements as f64 {
        return Err(format!("Range of {n} elements exceeds the limit"));
    }
    let n = n as usize;
    Shape(vec![n]).check(limits).map_err(|e| e.to_string())?;
    Ok(n)
}

/// numpy's `arange` fill in f32: `x0 = start`, `x1 = start + delta` (added in f64), then `x0 + i * (x1 - x0)`.
fn fill_f32(s: f64, d: f64, n: usize) -> Vec<f32> {
    let (x0, x1) = (s as f32, (s + d) as f32);
    let step = x1 - x0;
    (0..n)
        .map(|i| match i {
            0 => x0,
            1 => x1,
            _ => x0 + i as f32 * step,
        })
        .collect()
}

/// As `fill_f32`, in f64.
fn fill_f64(s: f64, d: f64, n: usize) -> Vec<f64> {
    let (x0, x1) = (s, s + d);
    let step = x1 - x0;
    (0..n)
        .map(|i| match i {
            0 => x0,
            1 => x1,
            _ => x0 + i as f64 * step,
        })
        .collect()
}

/// ONNX Range on float scalars of type `dt`, computed in `stash` (ignored for f32 and f64, which the reference
/// always computes in f64).
pub(crate) fn float_range(start: &Tensor, limit: &Tensor, delta: &Tensor, stash: Stash, limits: &Limits) -> R<Tensor> {
    let dt = start.dtype();
    let (s, l, d) = (scalar(start)?, scalar(limit)?, scalar(delta)?);
    let n = count(s, l, d, limits)?;
    let data = match (dt, stash) {
        (DType::F16, Stash::F32) => Data::F16(fill_f32(s, d, n).into_iter().map(f16::from_f32).collect()),
        (DType::BF16, Stash::F32) => Data::BF16(fill_f32(s, d, n).into_iter().map(bf16::from_f32).collect()),
        (DType::F16, Stash::F64) => Data::F16(fill_f64(s, d, n).into_iter().map(f16::from_f64).collect()),
        (DType::BF16, Stash::F64) => Data::BF16(fill_f64(s, d, n).into_iter().map(bf16::from_f64).collect()),
        (DType::F32, _) => Data::F32(fill_f64(s, d, n).into_iter().map(|x| x as f32).collect()),
        (DType::F64, _) => Data::F64(fill_f64(s, d, n)),
        (other, _) => return Err(format!("Range on {other} is unsupported")),
    };
    Tensor::new(Shape(vec![n]), data).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: f32) -> Tensor {
        Tensor::new(Shape(vec![]), Data::F16(vec![f16::from_f32(v)])).unwrap()
    }

    fn f16s(t: &Tensor) -> Vec<f32> {
        match t.data() {
            Data::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
            other => panic!("not f16: {other:?}"),
        }
    }

    #[test]
    fn f16_range_matches_the_reference() {
        let l = Limits::default();
        // test_range_float16_type_positive_delta: arange(1, 5, 2) in f32, as f16.
        let y = float_range(&h(1.0), &h(5.0), &h(2.0), Stash::F32, &l).unwrap();
        assert_eq!(f16s(&y), [1.0, 3.0]);
        // np.arange(0.1, 1.0, 0.1, dtype=np.float32).astype(np.float16) on the f16 bounds: the f32 steps
        // round to these f16 values (x1 is added in f64, the rest as x0 + i * (x1 - x0) in f32).
        let y = float_range(&h(0.1), &h(1.0), &h(0.1), Stash::F32, &l).unwrap();
        assert_eq!(y.dims(), &[10]);
        let want: Vec<f32> =
            [0.099975586, 0.19995117, 0.2998047, 0.39990234, 0.5, 0.5996094, 0.69970703, 0.7998047, 0.89990234, 1.0]
                .to_vec();
        assert_eq!(f16s(&y), want);
        // Empty and descending ranges.
        assert_eq!(float_range(&h(5.0), &h(1.0), &h(1.0), Stash::F32, &l).unwrap().dims(), &[0]);
        assert_eq!(f16s(&float_range(&h(3.0), &h(0.0), &h(-1.5), Stash::F64, &l).unwrap()), [3.0, 1.5]);
        assert!(float_range(&h(0.0), &h(1.0), &h(0.0), Stash::F32, &l).is_err());
    }

    #[test]
    fn f32_range_computes_in_f64() {
        let l = Limits::default();
        let f = |v: f32| Tensor::from_f32(vec![], vec![v]).unwrap();
        // np.arange(0.1, 2.1, 0.1) on the f32 bounds: the 7th element rounds to 0.7f32 from f64, where
        // `0.1 + 6 * 0.1` in f32 gives the next f32 up.
        let y = float_range(&f(0.1), &f(2.1), &f(0.1), Stash::F64, &l).unwrap();
        assert_eq!(y.dims(), &[20]);
        assert_eq!(y.to_f32_vec()[6], 0.7_f32);
        assert_ne!(0.1f32 + 6.0 * 0.1f32, 0.7_f32);
    }
}
