//! Gather along one axis with computed (data-dependent) indices, the second operand. Each index is checked
//! when evaluated: negative ones count from the end, any other out-of-range index is an error. Constant
//! indices use `Gather`, which the host kernels lower.
use super::util::arity;
use super::values::{is_int, resolve_index, Values};
use crate::error::OpError;
use crate::shape::Shape;
use crate::tensor::{Tensor, TensorType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Take {
    pub axis: usize,
}

impl Take {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 2, 2)?;
        let dims = inputs[0].shape.dims();
        if self.axis >= dims.len() {
            return Err(OpError::attr("axis", format!("{} out of range for {}", self.axis, inputs[0].shape)));
        }
        if !is_int(inputs[1].dtype) {
            let got = inputs[1].dtype.to_string();
            return Err(OpError::DType { index: 1, expected: "int32 or int64".into(), got });
        }
        let mut out = dims[..self.axis].to_vec();
        out.extend_from_slice(inputs[1].shape.dims());
        out.extend_from_slice(&dims[self.axis + 1..]);
        Ok(TensorType { dtype: inputs[0].dtype, shape: Shape(out) })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let dims = inputs[0].dims();
        let (len, inner) = (dims[self.axis], dims[self.axis + 1..].iter().product::<usize>());
        let idx = inputs[1]
            .to_i64_vec()?
            .into_iter()
            .map(|i| resolve_index(i, len, "index"))
            .collect::<Result<Vec<usize>, _>>()?;
        let k = idx.len();
        let index = (0..out.shape.numel()).map(|flat| {
            let (i, j, o) = (flat % inner, (flat / inner) % k.max(1), flat / inner / k.max(1));
            (o * len + idx[j]) * inner + i
        });
        Values::of(inputs[0]).pick(index).into_tensor(out.dtype, out.shape.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_rows_and_checks_indices() {
        let x = Tensor::from_f32(vec![3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let i = Tensor::from_i64(vec![2], vec![2, -3]).unwrap();
        let t = Take { axis: 0 };
        let out = t.infer(&[x.ty(), i.ty()]).unwrap();
        assert_eq!(out.shape.dims(), &[2, 2]);
        assert_eq!(t.eval(&[&x, &i], &out).unwrap().as_f32().unwrap(), &[5.0, 6.0, 1.0, 2.0]);
        let c = Take { axis: 1 };
        let j = Tensor::from_i32(vec![1], vec![1]).unwrap();
        let out = c.infer(&[x.ty(), j.ty()]).unwrap();
        assert_eq!(c.eval(&[&x, &j], &out).unwrap().as_f32().unwrap(), &[2.0, 4.0, 6.0]);
        let bad = Tensor::from_i64(vec![2], vec![3, 0]).unwrap();
        assert!(t.eval(&[&x, &bad], &out).is_err());
    }
}
