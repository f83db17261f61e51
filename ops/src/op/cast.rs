//! Element type conversion.
use super::util::arity;
use super::values::{is_float, is_int, Values};
use crate::error::OpError;
use crate::tensor::{Data, Tensor, TensorType};
use crate::DType;
use half::bf16;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cast {
    pub to: DType,
}

impl Cast {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        Ok(TensorType { dtype: self.to, shape: inputs[0].shape.clone() })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        if let Some(t) = wide_cast(inputs[0], self.to, out)? {
            return Ok(t);
        }
        let v = inputs[0].to_f32_vec();
        let data = match self.to {
            DType::F32 => Data::F32(v),
            // bf16 from f32 rounds to nearest even (the `half` crate's conversion).
            DType::BF16 => Data::BF16(v.into_iter().map(bf16::from_f32).collect()),
            DType::I8 => Data::I8(v.into_iter().map(|x| x as i8).collect()),
            DType::U8 => Data::U8(v.into_iter().map(|x| x as u8).collect()),
            DType::I32 => Data::I32(v.into_iter().map(|x| x as i32).collect()),
            DType::I64 => Data::I64(inputs[0].to_i64_vec()?),
            DType::Bool => Data::Bool(v.into_iter().map(|x| x != 0.0).collect()),
            DType::F16 | DType::F64 | DType::I16 | DType::U16 | DType::U32 | DType::U64 => {
                return Err(OpError::Other(format!("cast to {}: handled by wide_cast", self.to)))
            }
        };
        Tensor::new(out.shape.clone(), data)
    }
}

/// Casts from or to a host-only dtype (f16, f64, 16-bit and unsigned 32/64-bit integers), through the exact
/// plain values (`Values`: f64 or i128) rather than f32, so that no value is rounded twice; float to integer
/// truncates toward zero and saturates (as Rust's `as` and numpy on in-range values), NaN becomes 0.
/// `None` when neither side is host-only: the f32 path above (which the kernel IR mirrors) applies.
fn wide_cast(x: &Tensor, to: DType, out: &TensorType) -> Result<Option<Tensor>, OpError> {
    let host_only = |d: DType| d.value_type_checked().is_none();
    if !host_only(x.dtype()) && !host_only(to) {
        return Ok(None);
    }
    let v = match Values::of(x) {
        Values::Bool(b) => Values::Int(b.into_iter().map(i128::from).collect()),
        v => v,
    };
    let v = match (v, to) {
        (Values::Int(v), DType::Bool) => Values::Bool(v.into_iter().map(|x| x != 0).collect()),
        (Values::Float(v), DType::Bool) => Values::Bool(v.into_iter().map(|x| x != 0.0).collect()),
        (Values::Int(v), d) if is_float(d) => Values::Float(v.into_iter().map(|x| x as f64).collect()),
        (Values::Float(v), d) if is_int(d) => Values::Int(v.into_iter().map(|x| float_to_int(x, d)).collect()),
        (v, _) => v,
    };
    v.into_tensor(to, out.shape.clone()).map(Some)
}

/// `x` truncated toward zero and saturated to `d`'s range (NaN to 0).
fn float_to_int(x: f64, d: DType) -> i128 {
    let (lo, hi): (i128, i128) = match d {
        DType::I8 => (i8::MIN.into(), i8::MAX.into()),
        DType::U8 => (0, u8::MAX.into()),
        DType::I16 => (i16::MIN.into(), i16::MAX.into()),
        DType::U16 => (0, u16::MAX.into()),
        DType::I32 => (i32::MIN.into(), i32::MAX.into()),
        DType::U32 => (0, u32::MAX.into()),
        DType::U64 => (0, u64::MAX.into()),
        _ => (i64::MIN.into(), i64::MAX.into()),
    };
    (x as i128).clamp(lo, hi)
}
