//! Comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual) of two tensors of one dtype, with numpy
//! broadcasting, into booleans. Floats compare as IEEE numbers (NaN is unequal to everything).
use super::util::{arity, broadcast_index};
use super::values::Values;
use crate::error::OpError;
use crate::shape::broadcast;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CompareOp {
    Equal,
    Less,
    Greater,
    LessOrEqual,
    GreaterOrEqual,
}

impl CompareOp {
    pub fn name(self) -> &'static str {
        match self {
            CompareOp::Equal => "equal",
            CompareOp::Less => "less",
            CompareOp::Greater => "greater",
            CompareOp::LessOrEqual => "less-or-equal",
            CompareOp::GreaterOrEqual => "greater-or-equal",
        }
    }

    fn test<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            CompareOp::Equal => a == b,
            CompareOp::Less => a < b,
            CompareOp::Greater => a > b,
            CompareOp::LessOrEqual => a <= b,
            CompareOp::GreaterOrEqual => a >= b,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compare {
    pub op: CompareOp,
}

impl Compare {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 2, 2)?;
        same_dtype(inputs)?;
        Ok(TensorType { dtype: DType::Bool, shape: broadcast(&inputs[0].shape, &inputs[1].shape)? })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let (od, ad, bd) = (out.shape.dims(), inputs[0].dims(), inputs[1].dims());
        let at = |i| (broadcast_index(od, ad, i), broadcast_index(od, bd, i));
        let n = out.shape.numel();
        let y: Vec<bool> = match (Values::of(inputs[0]), Values::of(inputs[1])) {
            (Values::Float(a), Values::Float(b)) => (0..n).map(&at).map(|(i, j)| self.op.test(a[i], b[j])).collect(),
            (Values::Int(a), Values::Int(b)) => (0..n).map(&at).map(|(i, j)| self.op.test(a[i], b[j])).collect(),
            (Values::Bool(a), Values::Bool(b)) => (0..n).map(at).map(|(i, j)| self.op.test(a[i], b[j])).collect(),
            _ => return Err(OpError::Other("operands of different kinds".into())),
        };
        Tensor::from_bool(od.to_vec(), y)
    }
}

/// Checks that both operands have one dtype.
pub(crate) fn same_dtype(inputs: &[TensorType]) -> Result<(), OpError> {
    if inputs[0].dtype != inputs[1].dtype {
        return Err(OpError::DType {
            index: 1,
            expected: inputs[0].dtype.to_string(),
            got: inputs[1].dtype.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasts_and_handles_nan() {
        let a = Tensor::from_f32(vec![2, 2], vec![1.0, 2.0, f32::NAN, 4.0]).unwrap();
        let b = Tensor::from_f32(vec![2], vec![2.0, 2.0]).unwrap();
        let c = Compare { op: CompareOp::Less };
        let out = c.infer(&[a.ty(), b.ty()]).unwrap();
        assert_eq!(c.eval(&[&a, &b], &out).unwrap().as_bool().unwrap(), &[true, false, false, false]);
        let ge = Compare { op: CompareOp::GreaterOrEqual };
        assert_eq!(ge.eval(&[&a, &b], &out).unwrap().as_bool().unwrap(), &[false, true, false, true]);
        let i = Tensor::from_i64(vec![3], vec![-1, 5, 7]).unwrap();
        let j = Tensor::from_i64(vec![1], vec![5]).unwrap();
        let eq = Compare { op: CompareOp::Equal };
        let out = eq.infer(&[i.ty(), j.ty()]).unwrap();
        assert_eq!(eq.eval(&[&i, &j], &out).unwrap().as_bool().unwrap(), &[false, true, false]);
        assert!(eq.infer(&[i.ty(), b.ty()]).is_err());
    }
}
