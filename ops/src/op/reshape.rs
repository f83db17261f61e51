//! Reshape to a static shape (Reshape, Flatten, Squeeze and Unsqueeze all import as this).
use super::util::arity;
use crate::error::OpError;
use crate::shape::Shape;
use crate::tensor::{Tensor, TensorType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reshape {
    pub shape: Shape,
}

impl Reshape {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        if inputs[0].shape.checked_numel()? != self.shape.checked_numel()? {
            return Err(OpError::shape(0, format!("cannot reshape {} to {}", inputs[0].shape, self.shape)));
        }
        Ok(TensorType { dtype: inputs[0].dtype, shape: self.shape.clone() })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        inputs[0].clone().reshaped(out.shape.clone())
    }
}
