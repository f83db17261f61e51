//! Gather along one axis with constant indices (negative indices normalized and checked at import).
use super::util::arity;
use crate::error::OpError;
use crate::shape::Shape;
use crate::tensor::{Tensor, TensorType};
use serde::{Deserialize, Serialize};

/// Gathers `indices` (shape `index_shape`) along `axis`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gather {
    pub axis: usize,
    pub indices: Vec<usize>,
    pub index_shape: Shape,
}

impl Gather {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        let dims = inputs[0].shape.dims();
        let Some(&len) = dims.get(self.axis) else {
            return Err(OpError::attr("axis", format!("{} out of range for {}", self.axis, inputs[0].shape)));
        };
        if self.index_shape.checked_numel()? != self.indices.len() {
            return Err(OpError::attr("indices", "count does not match their shape"));
        }
        if let Some(bad) = self.indices.iter().find(|&&i| i >= len) {
            return Err(OpError::attr("indices", format!("{bad} out of range for axis of length {len}")));
        }
        let mut out = dims[..self.axis].to_vec();
        out.extend_from_slice(self.index_shape.dims());
        out.extend_from_slice(&dims[self.axis + 1..]);
        Ok(TensorType { dtype: inputs[0].dtype, shape: Shape(out) })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let dims = inputs[0].dims();
        let inner: usize = dims[self.axis + 1..].iter().product();
        let len = dims[self.axis];
        let k = self.indices.len();
        let index = (0..out.shape.numel()).map(|flat| {
            let i = flat % inner;
            let j = (flat / inner) % k;
            let o = flat / inner / k;
            (o * len + self.indices[j]) * inner + i
        });
        inputs[0].gather_flat(out.shape.clone(), index)
    }
}
