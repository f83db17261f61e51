//! Trilu: keep the upper (or lower) triangle of the last two axes, offset by the diagonal `k`, zero the rest.
//! `k` is the attribute, or a computed int64 scalar given as a second operand.
use super::util::arity;
use super::values::{coords, is_int, Values};
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trilu {
    pub upper: bool,
    pub k: i64,
}

impl Trilu {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 2)?;
        if let Some(k) = inputs.get(1) {
            if !is_int(k.dtype) || k.shape.numel() != 1 {
                return Err(OpError::shape(1, format!("k must be one integer, got {k}")));
            }
        }
        if inputs[0].shape.rank() < 2 {
            return Err(OpError::shape(0, format!("needs rank 2 or more, got {}", inputs[0].shape)));
        }
        Ok(inputs[0].clone())
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let dims = out.shape.dims();
        let r = dims.len();
        let k = match inputs.get(1) {
            Some(t) => t.to_i64_vec()?.first().copied().unwrap_or(0),
            None => self.k,
        };
        let keep = |flat: usize| {
            let c = coords(dims, flat);
            let (i, j) = (c[r - 2] as i64, c[r - 1] as i64);
            if self.upper {
                j - i >= k
            } else {
                j - i <= k
            }
        };
        let y = match Values::of(inputs[0]) {
            Values::Float(v) => {
                Values::Float(v.iter().enumerate().map(|(f, &x)| if keep(f) { x } else { 0.0 }).collect())
            }
            Values::Int(v) => Values::Int(v.iter().enumerate().map(|(f, &x)| if keep(f) { x } else { 0 }).collect()),
            Values::Bool(v) => Values::Bool(v.iter().enumerate().map(|(f, &x)| keep(f) && x).collect()),
        };
        y.into_tensor(out.dtype, out.shape.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triangles_with_offset() {
        let x = Tensor::from_i64(vec![2, 3], vec![1, 2, 3, 4, 5, 6]).unwrap();
        let run = |upper, k| Trilu { upper, k }.eval(&[&x], &x.ty()).unwrap().as_i64().unwrap().to_vec();
        assert_eq!(run(true, 0), [1, 2, 3, 0, 5, 6]);
        assert_eq!(run(true, 1), [0, 2, 3, 0, 0, 6]);
        assert_eq!(run(false, 0), [1, 0, 0, 4, 5, 0]);
        assert_eq!(run(false, -1), [0, 0, 0, 4, 0, 0]);
        let v = Tensor::from_i64(vec![3], vec![1, 2, 3]).unwrap();
        assert!(Trilu { upper: true, k: 0 }.infer(&[v.ty()]).is_err());
        let k = Tensor::from_i64(vec![], vec![-1]).unwrap();
        let lower = Trilu { upper: false, k: 0 };
        lower.infer(&[x.ty(), k.ty()]).unwrap();
        assert_eq!(lower.eval(&[&x, &k], &x.ty()).unwrap().as_i64().unwrap(), &[0, 0, 0, 4, 0, 0]);
    }
}
