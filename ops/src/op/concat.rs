//! Concatenation along one axis.
use super::util::arity;
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concat {
    pub axis: usize,
}

impl Concat {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, usize::MAX)?;
        let first = &inputs[0];
        if self.axis >= first.shape.rank() {
            return Err(OpError::attr("axis", format!("{} out of range for {}", self.axis, first.shape)));
        }
        let mut dims = first.shape.dims().to_vec();
        dims[self.axis] = 0;
        for (i, t) in inputs.iter().enumerate() {
            let same = t.dtype == first.dtype
                && t.shape.rank() == first.shape.rank()
                && t.shape
                    .dims()
                    .iter()
                    .zip(first.shape.dims())
                    .enumerate()
                    .all(|(a, (x, y))| a == self.axis || x == y);
            if !same {
                return Err(OpError::shape(i, format!("{t} does not concatenate with {first} on axis {}", self.axis)));
            }
            dims[self.axis] += t.shape.dims()[self.axis];
        }
        Ok(TensorType::new(first.dtype, dims))
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        // Flat index of the output is (outer, axis position, inner); map each run to its source tensor.
        let od = out.shape.dims();
        let outer: usize = od[..self.axis].iter().product();
        let inner: usize = od[self.axis + 1..].iter().product();
        let mut parts = Vec::new();
        for o in 0..outer {
            for (src, t) in inputs.iter().enumerate() {
                let run = t.dims()[self.axis] * inner;
                parts.push((src, o * run, run));
            }
        }
        // Concatenate through f32-agnostic byte copies: encode every input and gather bytes.
        let elem = out.dtype.size();
        let bytes: Vec<Vec<u8>> = inputs.iter().map(|t| t.to_le_bytes()).collect();
        let mut y = Vec::with_capacity(out.checked_bytes()?);
        for (src, start, len) in parts {
            y.extend_from_slice(&bytes[src][start * elem..(start + len) * elem]);
        }
        Tensor::from_le_bytes(out, &y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Op;

    #[test]
    fn concat_channels() {
        let a = Tensor::from_f32(vec![1, 1, 2], vec![1.0, 2.0]).unwrap();
        let b = Tensor::from_f32(vec![1, 2, 2], vec![3.0, 4.0, 5.0, 6.0]).unwrap();
        let y = Op::Concat(Concat { axis: 1 }).eval(&[&a, &b]).unwrap();
        assert_eq!(y.dims(), &[1, 3, 2]);
        assert_eq!(y.as_f32().unwrap(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }
}
