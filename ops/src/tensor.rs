//! Tensors with typed storage: the values the reference semantics compute on.
use crate::dtype::DType;
use crate::error::OpError;
use crate::shape::Shape;
use half::{bf16, f16};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The static type of a value: element type and shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TensorType {
    pub dtype: DType,
    pub shape: Shape,
}

impl TensorType {
    pub fn new(dtype: DType, shape: impl Into<Vec<usize>>) -> Self {
        TensorType { dtype, shape: Shape::new(shape) }
    }
    pub fn f32(shape: impl Into<Vec<usize>>) -> Self {
        Self::new(DType::F32, shape)
    }
    pub fn checked_bytes(&self) -> Result<usize, OpError> {
        self.shape.checked_bytes(self.dtype.size())
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.dtype, self.shape)
    }
}

/// Element storage, one variant per dtype.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Data {
    F32(Vec<f32>),
    BF16(Vec<bf16>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
    F16(Vec<f16>),
    F64(Vec<f64>),
    I16(Vec<i16>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
}

/// A dense row-major tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tensor {
    shape: Shape,
    data: Data,
}

macro_rules! typed_access {
    ($ctor:ident, $get:ident, $variant:ident, $t:ty) => {
        /// Builds a tensor, checking that the payload length matches the shape.
        pub fn $ctor(shape: impl Into<Vec<usize>>, data: Vec<$t>) -> Result<Tensor, OpError> {
            Tensor::new(Shape::new(shape), Data::$variant(data))
        }
        /// The elements, or a dtype error.
        pub fn $get(&self) -> Result<&[$t], OpError> {
            match &self.data {
                Data::$variant(v) => Ok(v),
                _ => Err(OpError::DType {
                    index: 0,
                    expected: stringify!($variant).into(),
                    got: self.dtype().to_string(),
                }),
            }
        }
    };
}

impl Tensor {
    /// Builds a tensor, checking that the payload length matches the shape (tract #2390: never trust it).
    pub fn new(shape: Shape, data: Data) -> Result<Tensor, OpError> {
        let n = shape.checked_numel()?;
        let len = data_len(&data);
        if n != len {
            return Err(OpError::shape(0, format!("shape {shape} needs {n} elements, payload has {len}")));
        }
        Ok(Tensor { shape, data })
    }

    typed_access!(from_f32, as_f32, F32, f32);
    typed_access!(from_bf16, as_bf16, BF16, bf16);
    typed_access!(from_i8, as_i8, I8, i8);
    typed_access!(from_u8, as_u8, U8, u8);
    typed_access!(from_i32, as_i32, I32, i32);
    typed_access!(from_i64, as_i64, I64, i64);
    typed_access!(from_bool, as_bool, Bool, bool);
    typed_access!(from_f16, as_f16, F16, f16);
    typed_access!(from_f64, as_f64, F64, f64);
    typed_access!(from_i16, as_i16, I16, i16);
    typed_access!(from_u16, as_u16, U16, u16);
    typed_access!(from_u32, as_u32, U32, u32);
    typed_access!(from_u64, as_u64, U64, u64);

    /// A tensor of zeros.
    pub fn zeros(ty: &TensorType) -> Result<Tensor, OpError> {
        let n = ty.shape.checked_numel()?;
        let data = match ty.dtype {
            DType::F32 => Data::F32(vec![0.0; n]),
            DType::BF16 => Data::BF16(vec![bf16::ZERO; n]),
            DType::I8 => Data::I8(vec![0; n]),
            DType::U8 => Data::U8(vec![0; n]),
            DType::I32 => Data::I32(vec![0; n]),
            DType::I64 => Data::I64(vec![0; n]),
            DType::Bool => Data::Bool(vec![false; n]),
            DType::F16 => Data::F16(vec![f16::ZERO; n]),
            DType::F64 => Data::F64(vec![0.0; n]),
            DType::I16 => Data::I16(vec![0; n]),
            DType::U16 => Data::U16(vec![0; n]),
            DType::U32 => Data::U32(vec![0; n]),
            DType::U64 => Data::U64(vec![0; n]),
        };
        Tensor::new(ty.shape.clone(), data)
    }

    pub fn shape(&self) -> &Shape {
        &self.shape
    }
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }
    pub fn data(&self) -> &Data {
        &self.data
    }
    pub fn into_data(self) -> Data {
        self.data
    }
    pub fn len(&self) -> usize {
        data_len(&self.data)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn dtype(&self) -> DType {
        match &self.data {
            Data::F32(_) => DType::F32,
            Data::BF16(_) => DType::BF16,
            Data::I8(_) => DType::I8,
            Data::U8(_) => DType::U8,
            Data::I32(_) => DType::I32,
            Data::I64(_) => DType::I64,
            Data::Bool(_) => DType::Bool,
            Data::F16(_) => DType::F16,
            Data::F64(_) => DType::F64,
            Data::I16(_) => DType::I16,
            Data::U16(_) => DType::U16,
            Data::U32(_) => DType::U32,
            Data::U64(_) => DType::U64,
        }
    }
    pub fn ty(&self) -> TensorType {
        TensorType { dtype: self.dtype(), shape: self.shape.clone() }
    }

    /// Same data, new shape of the same element count.
    pub fn reshaped(self, shape: Shape) -> Result<Tensor, OpError> {
        Tensor::new(shape, self.data)
    }

    /// Elements as f64, for integer-valued inputs such as shapes and indices.
    pub fn to_i64_vec(&self) -> Result<Vec<i64>, OpError> {
        Ok(match &self.data {
            Data::I64(v) => v.clone(),
            Data::I32(v) => v.iter().map(|&x| x as i64).collect(),
            Data::I8(v) => v.iter().map(|&x| x as i64).collect(),
            Data::U8(v) => v.iter().map(|&x| x as i64).collect(),
            Data::Bool(v) => v.iter().map(|&x| x as i64).collect(),
            Data::F32(v) => v.iter().map(|&x| x as i64).collect(),
            Data::BF16(v) => v.iter().map(|&x| x.to_f32() as i64).collect(),
            Data::F16(v) => v.iter().map(|&x| x.to_f32() as i64).collect(),
            Data::F64(v) => v.iter().map(|&x| x as i64).collect(),
            Data::I16(v) => v.iter().map(|&x| x as i64).collect(),
            Data::U16(v) => v.iter().map(|&x| x as i64).collect(),
            Data::U32(v) => v.iter().map(|&x| x as i64).collect(),
            // Wraps above i64::MAX: callers read shapes and indices, which a larger value cannot be.
            Data::U64(v) => v.iter().map(|&x| x as i64).collect(),
        })
    }

    /// Elements converted to f32 (lossy for large integers), for comparisons and reports.
    pub fn to_f32_vec(&self) -> Vec<f32> {
        match &self.data {
            Data::F32(v) => v.clone(),
            Data::BF16(v) => v.iter().map(|x| x.to_f32()).collect(),
            Data::I8(v) => v.iter().map(|&x| x as f32).collect(),
            Data::U8(v) => v.iter().map(|&x| x as f32).collect(),
            Data::I32(v) => v.iter().map(|&x| x as f32).collect(),
            Data::I64(v) => v.iter().map(|&x| x as f32).collect(),
            Data::Bool(v) => v.iter().map(|&x| x as u8 as f32).collect(),
            Data::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
            Data::F64(v) => v.iter().map(|&x| x as f32).collect(),
            Data::I16(v) => v.iter().map(|&x| x as f32).collect(),
            Data::U16(v) => v.iter().map(|&x| x as f32).collect(),
            Data::U32(v) => v.iter().map(|&x| x as f32).collect(),
            Data::U64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    /// Little-endian bytes of the elements, as the accelerator's memories hold them.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match &self.data {
            Data::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::BF16(v) => v.iter().flat_map(|x| x.to_bits().to_le_bytes()).collect(),
            Data::I8(v) => v.iter().map(|&x| x as u8).collect(),
            Data::U8(v) => v.clone(),
            Data::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::Bool(v) => v.iter().map(|&x| x as u8).collect(),
            Data::F16(v) => v.iter().flat_map(|x| x.to_bits().to_le_bytes()).collect(),
            Data::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::I16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::U16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::U32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::U64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }

    /// Parses little-endian bytes of `ty`; the length must match exactly.
    pub fn from_le_bytes(ty: &TensorType, bytes: &[u8]) -> Result<Tensor, OpError> {
        let need = ty.checked_bytes()?;
        if bytes.len() != need {
            return Err(OpError::shape(0, format!("{ty} needs {need} bytes, got {}", bytes.len())));
        }
        let data = match ty.dtype {
            DType::F32 => {
                Data::F32(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
            }
            DType::BF16 => {
                Data::BF16(bytes.chunks_exact(2).map(|c| bf16::from_bits(u16::from_le_bytes([c[0], c[1]]))).collect())
            }
            DType::I8 => Data::I8(bytes.iter().map(|&b| b as i8).collect()),
            DType::U8 => Data::U8(bytes.to_vec()),
            DType::I32 => {
                Data::I32(bytes.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
            }
            DType::I64 => Data::I64(
                bytes
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect(),
            ),
            DType::Bool => Data::Bool(bytes.iter().map(|&b| b != 0).collect()),
            DType::F16 => Data::F16(le(bytes, |b| f16::from_bits(u16::from_le_bytes(b)))),
            DType::F64 => Data::F64(le(bytes, f64::from_le_bytes)),
            DType::I16 => Data::I16(le(bytes, i16::from_le_bytes)),
            DType::U16 => Data::U16(le(bytes, u16::from_le_bytes)),
            DType::U32 => Data::U32(le(bytes, u32::from_le_bytes)),
            DType::U64 => Data::U64(le(bytes, u64::from_le_bytes)),
        };
        Tensor::new(ty.shape.clone(), data)
    }

    /// Gathers elements by flat index into a new tensor of `shape` (used by layout operators).
    pub fn gather_flat(&self, shape: Shape, index: impl Iterator<Item = usize>) -> Result<Tensor, OpError> {
        fn pick<T: Copy>(v: &[T], index: impl Iterator<Item = usize>) -> Result<Vec<T>, OpError> {
            index.map(|i| v.get(i).copied().ok_or_else(|| OpError::Other(format!("index {i} out of bounds")))).collect()
        }
        let data = match &self.data {
            Data::F32(v) => Data::F32(pick(v, index)?),
            Data::BF16(v) => Data::BF16(pick(v, index)?),
            Data::I8(v) => Data::I8(pick(v, index)?),
            Data::U8(v) => Data::U8(pick(v, index)?),
            Data::I32(v) => Data::I32(pick(v, index)?),
            Data::I64(v) => Data::I64(pick(v, index)?),
            Data::Bool(v) => Data::Bool(pick(v, index)?),
            Data::F16(v) => Data::F16(pick(v, index)?),
            Data::F64(v) => Data::F64(pick(v, index)?),
            Data::I16(v) => Data::I16(pick(v, index)?),
            Data::U16(v) => Data::U16(pick(v, index)?),
            Data::U32(v) => Data::U32(pick(v, index)?),
            Data::U64(v) => Data::U64(pick(v, index)?),
        };
        Tensor::new(shape, data)
    }
}

/// Elements of `N` little-endian bytes each, decoded by `f` (the caller checked the length).
fn le<T, const N: usize>(bytes: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
    bytes.chunks_exact(N).map(|c| f(c.try_into().unwrap_or([0; N]))).collect()
}

fn data_len(d: &Data) -> usize {
    match d {
        Data::F16(v) => v.len(),
        Data::F64(v) => v.len(),
        Data::I16(v) => v.len(),
        Data::U16(v) => v.len(),
        Data::U32(v) => v.len(),
        Data::U64(v) => v.len(),
        Data::F32(v) => v.len(),
        Data::BF16(v) => v.len(),
        Data::I8(v) => v.len(),
        Data::U8(v) => v.len(),
        Data::I32(v) => v.len(),
        Data::I64(v) => v.len(),
        Data::Bool(v) => v.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_length_is_checked() {
        assert!(Tensor::from_f32(vec![2, 3], vec![0.0; 5]).is_err());
        assert!(Tensor::from_f32(vec![2, 3], vec![0.0; 6]).is_ok());
    }

    #[test]
    fn bytes_round_trip() {
        let t = Tensor::from_f32(vec![2], vec![1.5, -2.0]).unwrap();
        let back = Tensor::from_le_bytes(&t.ty(), &t.to_le_bytes()).unwrap();
        assert_eq!(t, back);
        assert!(Tensor::from_le_bytes(&t.ty(), &[0; 7]).is_err());
    }
}
