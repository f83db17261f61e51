//! Inference-mode batch normalization over the channel axis (axis 1).
use super::util::{arity, f32_input, f32_output, want_dtype};
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

/// Inputs: X `[N,C,...]`, scale, bias, mean, var (each `[C]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchNorm {
    pub epsilon: f32,
}

impl BatchNorm {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 5, 5)?;
        for i in 0..5 {
            want_dtype(inputs, i, DType::F32)?;
        }
        let x = inputs[0].shape.dims();
        if x.len() < 2 {
            return Err(OpError::shape(0, "batch norm needs rank >= 2"));
        }
        for (i, t) in inputs.iter().enumerate().skip(1) {
            if t.shape.dims() != [x[1]] {
                return Err(OpError::shape(i, format!("{} must be [{}]", t.shape, x[1])));
            }
        }
        Ok(inputs[0].clone())
    }

    /// Per-channel `(multiplier, offset)` so that `y = x * m + o`: the form folded into convolutions.
    pub fn affine(&self, inputs: &[&Tensor]) -> Result<(Vec<f32>, Vec<f32>), OpError> {
        let (s, b, m, v) = (f32_input(inputs, 1)?, f32_input(inputs, 2)?, f32_input(inputs, 3)?, f32_input(inputs, 4)?);
        let mul: Vec<f32> = s.iter().zip(v).map(|(s, v)| s / (v + self.epsilon).sqrt()).collect();
        let off = b.iter().zip(m).zip(&mul).map(|((b, m), k)| b - m * k).collect();
        Ok((mul, off))
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let x = f32_input(inputs, 0)?;
        let (s, b, m, v) = (f32_input(inputs, 1)?, f32_input(inputs, 2)?, f32_input(inputs, 3)?, f32_input(inputs, 4)?);
        let dims = inputs[0].dims();
        let c = dims[1];
        let inner: usize = dims[2..].iter().product();
        let y = x
            .iter()
            .enumerate()
            .map(|(i, &xv)| {
                let ch = (i / inner) % c;
                (xv - m[ch]) / (v[ch] + self.epsilon).sqrt() * s[ch] + b[ch]
            })
            .collect();
        f32_output(out, y)
    }
}
