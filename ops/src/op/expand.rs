//! Expand: broadcast a tensor of any dtype to a constant shape (numpy rules; the output may be larger than the
//! target shape when the input has more or longer axes).
use super::util::{arity, broadcast_index};
use super::values::Values;
use crate::error::OpError;
use crate::shape::{broadcast, Shape};
use crate::tensor::{Tensor, TensorType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expand {
    pub shape: Vec<usize>,
}

impl Expand {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        let shape = broadcast(&inputs[0].shape, &Shape(self.shape.clone()))?;
        Ok(TensorType { dtype: inputs[0].dtype, shape })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let (od, xd) = (out.shape.dims(), inputs[0].dims());
        let index = (0..out.shape.numel()).map(|i| broadcast_index(od, xd, i));
        Values::of(inputs[0]).pick(index).into_tensor(out.dtype, out.shape.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasts_both_ways() {
        let x = Tensor::from_i32(vec![3, 1], vec![1, 2, 3]).unwrap();
        let e = Expand { shape: vec![2, 1, 2] };
        let out = e.infer(&[x.ty()]).unwrap();
        assert_eq!(out.shape.dims(), &[2, 3, 2]);
        assert_eq!(e.eval(&[&x], &out).unwrap().as_i32().unwrap(), &[1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]);
        assert!(Expand { shape: vec![2] }.infer(&[x.ty()]).is_ok());
        assert!(Expand { shape: vec![4, 2] }.infer(&[x.ty()]).is_err());
    }
}
