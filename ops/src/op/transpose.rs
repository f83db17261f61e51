//! Axis permutation.
use super::util::arity;
use crate::error::OpError;
use crate::shape::Shape;
use crate::tensor::{Tensor, TensorType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transpose {
    pub perm: Vec<usize>,
}

impl Transpose {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        let dims = inputs[0].shape.dims();
        let mut seen = vec![false; dims.len()];
        if self.perm.len() != dims.len() {
            return Err(OpError::attr("perm", format!("{:?} does not match rank {}", self.perm, dims.len())));
        }
        for &p in &self.perm {
            if p >= dims.len() || seen[p] {
                return Err(OpError::attr("perm", format!("{:?} is not a permutation", self.perm)));
            }
            seen[p] = true;
        }
        let shape = Shape(self.perm.iter().map(|&p| dims[p]).collect());
        Ok(TensorType { dtype: inputs[0].dtype, shape })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let in_strides = inputs[0].shape().strides();
        let od = out.shape.dims().to_vec();
        let index = (0..out.shape.numel()).map(|mut flat| {
            let mut src = 0;
            for axis in (0..od.len()).rev() {
                src += (flat % od[axis]) * in_strides[self.perm[axis]];
                flat /= od[axis];
            }
            src
        });
        inputs[0].gather_flat(out.shape.clone(), index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Op;

    #[test]
    fn transposes_a_matrix() {
        let x = Tensor::from_f32(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let y = Op::Transpose(Transpose { perm: vec![1, 0] }).eval(&[&x]).unwrap();
        assert_eq!(y.as_f32().unwrap(), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert!(Op::Transpose(Transpose { perm: vec![0, 0] }).eval(&[&x]).is_err());
    }
}
