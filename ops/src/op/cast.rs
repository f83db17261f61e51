//! Element type conversion.
use super::util::arity;
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
        };
        Tensor::new(out.shape.clone(), data)
    }
}
