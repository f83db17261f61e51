//! Local response normalization across channels (AlexNet, GoogLeNet).
use super::util::{arity, f32_input, f32_output, want_dtype};
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lrn {
    pub size: usize,
    pub alpha: f32,
    pub beta: f32,
    pub bias: f32,
}

impl Lrn {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        want_dtype(inputs, 0, DType::F32)?;
        if inputs[0].shape.rank() < 3 || self.size == 0 {
            return Err(OpError::shape(0, "lrn needs [N,C,...] input and size >= 1"));
        }
        Ok(inputs[0].clone())
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let x = f32_input(inputs, 0)?;
        let dims = inputs[0].dims();
        let c = dims[1];
        let inner: usize = dims[2..].iter().product();
        let (lo, hi) = ((self.size - 1) / 2, self.size.div_ceil(2) - 1);
        let y = (0..x.len())
            .map(|i| {
                let ch = (i / inner) % c;
                let base = i - ch * inner;
                let first = ch.saturating_sub(lo);
                let last = (ch + hi).min(c - 1);
                let sq: f32 = (first..=last).map(|j| x[base + j * inner].powi(2)).sum();
                x[i] / (self.bias + self.alpha / self.size as f32 * sq).powf(self.beta)
            })
            .collect();
        f32_output(out, y)
    }
}
