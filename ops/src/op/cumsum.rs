//! CumSum and CumProd along one axis (the axis operand is a constant, normalized at import): each element the
//! sum (`product`: the product) of those before it (`exclusive`: strictly before, starting from 0 or 1;
//! `reverse`: from the end). Floats accumulate in f64 then round; integers wrap.
use super::util::arity;
use super::values::Values;
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CumSum {
    pub axis: usize,
    pub exclusive: bool,
    pub reverse: bool,
    /// CumProd: multiply instead of add.
    pub product: bool,
}

impl CumSum {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        if self.axis >= inputs[0].shape.rank() {
            return Err(OpError::attr("axis", format!("{} out of range for {}", self.axis, inputs[0].shape)));
        }
        if inputs[0].dtype == DType::Bool {
            return Err(OpError::DType { index: 0, expected: "a number".into(), got: "bool".into() });
        }
        Ok(inputs[0].clone())
    }

    /// The flat indices of the scan order of each line along the axis.
    fn lines(&self, dims: &[usize]) -> impl Iterator<Item = Vec<usize>> + '_ {
        let len = dims[self.axis];
        let inner: usize = dims[self.axis + 1..].iter().product();
        let outer: usize = dims[..self.axis].iter().product();
        (0..outer * inner).map(move |p| {
            let (o, i) = (p / inner.max(1), p % inner.max(1));
            let mut idx: Vec<usize> = (0..len).map(|k| (o * len + k) * inner + i).collect();
            if self.reverse {
                idx.reverse();
            }
            idx
        })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let dims = inputs[0].dims();
        let result = match Values::of(inputs[0]) {
            Values::Float(v) => {
                let mut y = vec![0f64; v.len()];
                for line in self.lines(dims) {
                    let mut acc = if self.product { 1f64 } else { 0f64 };
                    for &j in &line {
                        let before = acc;
                        acc = if self.product { acc * v[j] } else { acc + v[j] };
                        y[j] = if self.exclusive { before } else { acc };
                    }
                }
                Values::Float(y)
            }
            Values::Int(v) => {
                let mut y = vec![0i128; v.len()];
                for line in self.lines(dims) {
                    let mut acc = i128::from(self.product);
                    for &j in &line {
                        let before = acc;
                        acc = if self.product { acc.wrapping_mul(v[j]) } else { acc.wrapping_add(v[j]) };
                        y[j] = if self.exclusive { before } else { acc };
                    }
                }
                Values::Int(y)
            }
            Values::Bool(_) => return Err(OpError::Other("cumulative sum or product of booleans".into())),
        };
        result.into_tensor(out.dtype, out.shape.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan of `[[1, 2, 3], [4, 5, 6]]` along `axis`.
    fn scan(axis: usize, exclusive: bool, reverse: bool, product: bool) -> Vec<f32> {
        let x = Tensor::from_f32(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let c = CumSum { axis, exclusive, reverse, product };
        c.eval(&[&x], &c.infer(&[x.ty()]).unwrap()).unwrap().as_f32().unwrap().to_vec()
    }

    #[test]
    fn inclusive_exclusive_reverse() {
        let run = |axis, exclusive, reverse| scan(axis, exclusive, reverse, false);
        assert_eq!(run(1, false, false), [1.0, 3.0, 6.0, 4.0, 9.0, 15.0]);
        assert_eq!(run(1, true, false), [0.0, 1.0, 3.0, 0.0, 4.0, 9.0]);
        assert_eq!(run(1, false, true), [6.0, 5.0, 3.0, 15.0, 11.0, 6.0]);
        assert_eq!(run(0, true, true), [4.0, 5.0, 6.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn products_start_from_one() {
        let run = |axis, exclusive, reverse| scan(axis, exclusive, reverse, true);
        assert_eq!(run(1, false, false), [1.0, 2.0, 6.0, 4.0, 20.0, 120.0]);
        assert_eq!(run(1, true, false), [1.0, 1.0, 2.0, 1.0, 4.0, 20.0]);
        assert_eq!(run(1, false, true), [6.0, 6.0, 3.0, 120.0, 30.0, 6.0]);
        assert_eq!(run(0, true, true), [4.0, 5.0, 6.0, 1.0, 1.0, 1.0]);
    }
}
