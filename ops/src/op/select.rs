//! Where: `cond ? x : y` elementwise, the three operands broadcast together (numpy rules).
use super::compare::same_dtype;
use super::util::{arity, broadcast_index, want_dtype};
use super::values::Values;
use crate::error::OpError;
use crate::shape::broadcast;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Select;

impl Select {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 3, 3)?;
        want_dtype(inputs, 0, DType::Bool)?;
        same_dtype(&inputs[1..])?;
        let shape = broadcast(&broadcast(&inputs[0].shape, &inputs[1].shape)?, &inputs[2].shape)?;
        Ok(TensorType { dtype: inputs[1].dtype, shape })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let c = inputs[0].as_bool()?;
        let od = out.shape.dims();
        let (cd, xd, yd) = (inputs[0].dims(), inputs[1].dims(), inputs[2].dims());
        // Index into the concatenation [x ++ y]: y's elements follow x's.
        let nx = inputs[1].len();
        let both = match (Values::of(inputs[1]), Values::of(inputs[2])) {
            (Values::Float(mut a), Values::Float(b)) => Values::Float({
                a.extend(b);
                a
            }),
            (Values::Int(mut a), Values::Int(b)) => Values::Int({
                a.extend(b);
                a
            }),
            (Values::Bool(mut a), Values::Bool(b)) => Values::Bool({
                a.extend(b);
                a
            }),
            _ => return Err(OpError::Other("operands of different kinds".into())),
        };
        let index = (0..out.shape.numel()).map(|i| {
            if c[broadcast_index(od, cd, i)] {
                broadcast_index(od, xd, i)
            } else {
                nx + broadcast_index(od, yd, i)
            }
        });
        both.pick(index).into_tensor(out.dtype, out.shape.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_with_broadcast() {
        let c = Tensor::from_bool(vec![2, 1], vec![true, false]).unwrap();
        let x = Tensor::from_i64(vec![2], vec![1, 2]).unwrap();
        let y = Tensor::from_i64(vec![1], vec![9]).unwrap();
        let out = Select.infer(&[c.ty(), x.ty(), y.ty()]).unwrap();
        assert_eq!(out.shape.dims(), &[2, 2]);
        assert_eq!(Select.eval(&[&c, &x, &y], &out).unwrap().as_i64().unwrap(), &[1, 2, 9, 9]);
        let f = Tensor::from_f32(vec![1], vec![0.5]).unwrap();
        assert!(Select.infer(&[c.ty(), x.ty(), f.ty()]).is_err());
    }
}
