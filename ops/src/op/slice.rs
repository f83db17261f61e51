//! Static strided slice (Slice and Split import as this), with bounds already clamped at import.
use super::util::arity;
use crate::error::OpError;
use crate::shape::Shape;
use crate::tensor::{Tensor, TensorType};
use serde::{Deserialize, Serialize};

/// One slice per axis of the input: `start`, element count `len` and positive `step`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slice {
    pub starts: Vec<usize>,
    pub lens: Vec<usize>,
    pub steps: Vec<usize>,
}

impl Slice {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        let dims = inputs[0].shape.dims();
        let r = dims.len();
        if self.starts.len() != r || self.lens.len() != r || self.steps.len() != r {
            return Err(OpError::attr("starts/ends", format!("need one entry per axis of {}", inputs[0].shape)));
        }
        for (a, &dim) in dims.iter().enumerate() {
            let last = if self.lens[a] == 0 {
                Some(self.starts[a])
            } else {
                (self.lens[a] - 1).checked_mul(self.steps[a]).and_then(|x| x.checked_add(self.starts[a]))
            };
            if self.steps[a] == 0 || last.is_none_or(|l| l >= dim && self.lens[a] > 0) {
                return Err(OpError::attr(
                    "starts/ends",
                    format!("axis {a} slice out of bounds of {}", inputs[0].shape),
                ));
            }
        }
        Ok(TensorType { dtype: inputs[0].dtype, shape: Shape(self.lens.clone()) })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let strides = inputs[0].shape().strides();
        let od = out.shape.dims().to_vec();
        let index = (0..out.shape.numel()).map(|mut flat| {
            let mut src = 0;
            for a in (0..od.len()).rev() {
                src += (self.starts[a] + (flat % od[a]) * self.steps[a]) * strides[a];
                flat /= od[a];
            }
            src
        });
        inputs[0].gather_flat(out.shape.clone(), index)
    }
}
