//! Element values of any dtype as one of three plain forms (floats as f64, integers as i128, booleans), for the
//! reference semantics of the host-only operators that accept several dtypes. Converting back wraps integers
//! to the output dtype's width, as two's-complement hardware does.
use crate::error::OpError;
use crate::shape::Shape;
use crate::tensor::{Data, Tensor};
use crate::DType;
use half::bf16;

/// The elements of a tensor in the plain form of its dtype.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Float(Vec<f64>),
    /// Wide enough for every integer dtype, u64 included, so ordering and division are exact; wrapping
    /// arithmetic then narrowing keeps the low bits two's-complement hardware keeps.
    Int(Vec<i128>),
    Bool(Vec<bool>),
}

impl Values {
    pub fn of(t: &Tensor) -> Values {
        match t.data() {
            Data::F32(v) => Values::Float(v.iter().map(|&x| f64::from(x)).collect()),
            Data::BF16(v) => Values::Float(v.iter().map(|x| f64::from(x.to_f32())).collect()),
            Data::I8(v) => Values::Int(v.iter().map(|&x| i128::from(x)).collect()),
            Data::U8(v) => Values::Int(v.iter().map(|&x| i128::from(x)).collect()),
            Data::I32(v) => Values::Int(v.iter().map(|&x| i128::from(x)).collect()),
            Data::I64(v) => Values::Int(v.iter().map(|&x| i128::from(x)).collect()),
            Data::Bool(v) => Values::Bool(v.clone()),
            Data::F16(v) => Values::Float(v.iter().map(|x| f64::from(x.to_f32())).collect()),
            Data::F64(v) => Values::Float(v.clone()),
            Data::I16(v) => Values::Int(v.iter().map(|&x| i128::from(x)).collect()),
            Data::U16(v) => Values::Int(v.iter().map(|&x| i128::from(x)).collect()),
            Data::U32(v) => Values::Int(v.iter().map(|&x| i128::from(x)).collect()),
            Data::U64(v) => Values::Int(v.iter().map(|&x| i128::from(x)).collect()),
        }
    }

    /// Picks elements by index (every index must be in range: the callers compute them from checked shapes).
    pub fn pick(&self, index: impl Iterator<Item = usize>) -> Values {
        match self {
            Values::Float(v) => Values::Float(index.map(|i| v[i]).collect()),
            Values::Int(v) => Values::Int(index.map(|i| v[i]).collect()),
            Values::Bool(v) => Values::Bool(index.map(|i| v[i]).collect()),
        }
    }

    /// A tensor of `dtype` and `shape` from these values (floats round to the dtype, integers wrap).
    pub fn into_tensor(self, dtype: DType, shape: Shape) -> Result<Tensor, OpError> {
        let data = match (self, dtype) {
            (Values::Float(v), DType::F32) => Data::F32(v.into_iter().map(|x| x as f32).collect()),
            (Values::Float(v), DType::BF16) => Data::BF16(v.into_iter().map(|x| bf16::from_f32(x as f32)).collect()),
            (Values::Int(v), DType::I8) => Data::I8(v.into_iter().map(|x| x as i8).collect()),
            (Values::Int(v), DType::U8) => Data::U8(v.into_iter().map(|x| x as u8).collect()),
            (Values::Int(v), DType::I32) => Data::I32(v.into_iter().map(|x| x as i32).collect()),
            (Values::Int(v), DType::I64) => Data::I64(v.into_iter().map(|x| x as i64).collect()),
            (Values::Int(v), DType::I16) => Data::I16(v.into_iter().map(|x| x as i16).collect()),
            (Values::Int(v), DType::U16) => Data::U16(v.into_iter().map(|x| x as u16).collect()),
            (Values::Int(v), DType::U32) => Data::U32(v.into_iter().map(|x| x as u32).collect()),
            (Values::Int(v), DType::U64) => Data::U64(v.into_iter().map(|x| x as u64).collect()),
            // f16 from f64: the one rounding is exact for the operations computed in f64 (`half` rounds to
            // nearest even; f64 holds every f16 sum, product and quotient's correctly rounded value).
            (Values::Float(v), DType::F16) => Data::F16(v.into_iter().map(half::f16::from_f64).collect()),
            (Values::Float(v), DType::F64) => Data::F64(v),
            (Values::Bool(v), DType::Bool) => Data::Bool(v),
            (_, d) => return Err(OpError::Other(format!("values of another kind cannot become {d}"))),
        };
        Tensor::new(shape, data)
    }
}

/// Whether `d` is a floating-point dtype.
pub fn is_float(d: DType) -> bool {
    matches!(d, DType::F32 | DType::BF16 | DType::F16 | DType::F64)
}

/// Whether `d` is an integer dtype.
pub fn is_int(d: DType) -> bool {
    matches!(d, DType::I8 | DType::U8 | DType::I32 | DType::I64 | DType::I16 | DType::U16 | DType::U32 | DType::U64)
}

/// The row-major coordinates of flat index `flat` in `dims`.
pub fn coords(dims: &[usize], mut flat: usize) -> Vec<usize> {
    let mut c = vec![0; dims.len()];
    for axis in (0..dims.len()).rev() {
        let d = dims[axis].max(1);
        c[axis] = flat % d;
        flat /= d;
    }
    c
}

/// An index read from a tensor, made non-negative against `len` (ONNX counts negative indices from the end).
pub fn resolve_index(i: i64, len: usize, what: &str) -> Result<usize, OpError> {
    let n = len as i64;
    let j = if i < 0 { i + n } else { i };
    if !(0..n).contains(&j) {
        return Err(OpError::Other(format!("{what} {i} is out of range for an axis of length {len}")));
    }
    Ok(j as usize)
}
