//! The ONNX backend comparison: same element type and shape; floats within `|a - b| <= atol + rtol |b|`
//! (rtol 1e-3, atol 1e-7, as onnx's backend runner uses numpy's `assert_allclose`), NaN equal to NaN and
//! infinities equal to themselves; every other type exactly.
use tract_onnx::prelude::{DatumType, Tensor as TractTensor};

pub const RTOL: f64 = 1e-3;
pub const ATOL: f64 = 1e-7;

/// `Ok` when `got` matches `want`, else what differs (the first element out of tolerance).
pub fn compare(got: &TractTensor, want: &TractTensor) -> Result<(), String> {
    if got.datum_type() != want.datum_type() {
        return Err(format!("element type {:?}, expected {:?}", got.datum_type(), want.datum_type()));
    }
    if got.shape() != want.shape() {
        return Err(format!("shape {:?}, expected {:?}", got.shape(), want.shape()));
    }
    if matches!(want.datum_type(), DatumType::F16 | DatumType::F32 | DatumType::F64) {
        let (g, w) = match (got.cast_to::<f64>(), want.cast_to::<f64>()) {
            (Ok(g), Ok(w)) => (g, w),
            _ => return Err("cannot read the values as numbers".into()),
        };
        let (g, w) = match (g.to_plain_array_view::<f64>(), w.to_plain_array_view::<f64>()) {
            (Ok(g), Ok(w)) => (g.iter().copied().collect::<Vec<f64>>(), w.iter().copied().collect::<Vec<f64>>()),
            _ => return Err("cannot read the values as numbers".into()),
        };
        for (i, (a, b)) in g.iter().zip(&w).enumerate() {
            if !close(*a, *b) {
                return Err(format!("element {i} is {a}, expected {b}"));
            }
        }
        return Ok(());
    }
    if got != want {
        return Err(format!("values differ ({:?})", want.datum_type()));
    }
    Ok(())
}

/// One element against the backend tolerance.
pub fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        // `RTOL * inf` would accept any value against an infinity, even the other one.
        return a == b;
    }
    a == b || (a - b).abs() <= ATOL + RTOL * b.abs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::prelude::tensor1;

    #[test]
    fn tolerance_nan_and_exact_ints() {
        assert!(close(1.0005, 1.0));
        assert!(!close(1.002, 1.0));
        assert!(close(f64::NAN, f64::NAN));
        assert!(!close(f64::NAN, 0.0));
        assert!(close(f64::INFINITY, f64::INFINITY));
        assert!(!close(f64::NEG_INFINITY, f64::INFINITY));
        assert!(compare(&tensor1(&[1i64, 2]), &tensor1(&[1i64, 2])).is_ok());
        assert!(compare(&tensor1(&[1i64, 3]), &tensor1(&[1i64, 2])).is_err());
        assert!(compare(&tensor1(&[1i32, 2]), &tensor1(&[1i64, 2])).is_err());
        assert!(compare(&tensor1(&[1.0f32, 2.0]), &tensor1(&[1.0f32])).is_err());
    }
}
