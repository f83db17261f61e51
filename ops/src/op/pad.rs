//! Constant padding (reflect and edge modes are host-only and come later).
use super::util::arity;
use crate::error::OpError;
use crate::shape::Shape;
use crate::tensor::{Tensor, TensorType};
use serde::{Deserialize, Serialize};

/// Pads before (`begin`) and after (`end`) each axis with `value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pad {
    pub begin: Vec<usize>,
    pub end: Vec<usize>,
    pub value: f32,
}

impl Pad {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        let dims = inputs[0].shape.dims();
        if self.begin.len() != dims.len() || self.end.len() != dims.len() {
            return Err(OpError::attr("pads", format!("need two entries per axis of {}", inputs[0].shape)));
        }
        let out: Option<Vec<usize>> =
            dims.iter().zip(&self.begin).zip(&self.end).map(|((d, b), e)| d.checked_add(*b)?.checked_add(*e)).collect();
        let out = out.ok_or_else(|| OpError::Overflow("padded shape".into()))?;
        Ok(TensorType { dtype: inputs[0].dtype, shape: Shape(out) })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let x = inputs[0].as_f32()?;
        let strides = inputs[0].shape().strides();
        let (od, id) = (out.shape.dims().to_vec(), inputs[0].dims().to_vec());
        let y = (0..out.shape.numel())
            .map(|mut flat| {
                let mut src = 0;
                let mut inside = true;
                for a in (0..od.len()).rev() {
                    let c = flat % od[a];
                    flat /= od[a];
                    if c < self.begin[a] || c - self.begin[a] >= id[a] {
                        inside = false;
                    } else {
                        src += (c - self.begin[a]) * strides[a];
                    }
                }
                if inside {
                    x[src]
                } else {
                    self.value
                }
            })
            .collect();
        Tensor::from_f32(od, y)
    }
}
