//! Hardmax along one axis: 1 at the first maximum of each line, 0 elsewhere (f32).
use super::util::{arity, f32_output, want_dtype};
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hardmax {
    pub axis: usize,
}

impl Hardmax {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        want_dtype(inputs, 0, DType::F32)?;
        if self.axis >= inputs[0].shape.rank() {
            return Err(OpError::attr("axis", format!("{} out of range for {}", self.axis, inputs[0].shape)));
        }
        Ok(inputs[0].clone())
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let x = inputs[0].as_f32()?;
        let dims = inputs[0].dims();
        let len = dims[self.axis];
        let inner: usize = dims[self.axis + 1..].iter().product();
        let outer: usize = dims[..self.axis].iter().product();
        let mut y = vec![0f32; x.len()];
        for o in 0..outer {
            for i in 0..inner {
                let at = |k: usize| (o * len + k) * inner + i;
                // The first maximum; NaN never wins (a line of NaNs marks its first element).
                let best = (1..len).fold(0, |b, k| if x[at(k)] > x[at(b)] { k } else { b });
                if len > 0 {
                    y[at(best)] = 1.0;
                }
            }
        }
        f32_output(out, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_the_first_maximum() {
        let x = Tensor::from_f32(vec![2, 3], vec![1.0, 3.0, 3.0, -1.0, -2.0, -3.0]).unwrap();
        let h = Hardmax { axis: 1 };
        let y = h.eval(&[&x], &h.infer(&[x.ty()]).unwrap()).unwrap();
        assert_eq!(y.as_f32().unwrap(), &[0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
        let h = Hardmax { axis: 0 };
        let y = h.eval(&[&x], &h.infer(&[x.ty()]).unwrap()).unwrap();
        assert_eq!(y.as_f32().unwrap(), &[1.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
    }
}
