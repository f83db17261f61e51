//! TopK along one axis: the `k` largest (or smallest) elements in order, ties broken by the lower index as
//! ONNX specifies, and their int64 indices. One operator per output (`indices` selects which), so that each
//! node has one result; a model using both gets two host nodes computing the same order.
use super::util::arity;
use super::values::Values;
use crate::error::OpError;
use crate::shape::Shape;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopK {
    pub axis: usize,
    pub k: usize,
    /// The largest elements (true) or the smallest.
    pub largest: bool,
    /// Produces the indices (int64) instead of the values.
    pub indices: bool,
}

impl TopK {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        let dims = inputs[0].shape.dims();
        let Some(&len) = dims.get(self.axis) else {
            return Err(OpError::attr("axis", format!("{} out of range for {}", self.axis, inputs[0].shape)));
        };
        if self.k > len {
            return Err(OpError::attr(
                "k",
                format!("{} is more than the {len} elements along axis {}", self.k, self.axis),
            ));
        }
        if inputs[0].dtype == DType::Bool {
            return Err(OpError::DType { index: 0, expected: "a number".into(), got: "bool".into() });
        }
        let mut out = dims.to_vec();
        out[self.axis] = self.k;
        let dtype = if self.indices { DType::I64 } else { inputs[0].dtype };
        Ok(TensorType { dtype, shape: Shape(out) })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let dims = inputs[0].dims();
        let len = dims[self.axis];
        let inner: usize = dims[self.axis + 1..].iter().product();
        let outer: usize = dims[..self.axis].iter().product();
        let values = Values::of(inputs[0]);
        let key: Vec<f64> = match &values {
            Values::Float(v) => v.clone(),
            Values::Int(v) => v.iter().map(|&x| x as f64).collect(),
            Values::Bool(_) => return Err(OpError::Other("top-k of booleans".into())),
        };
        // Per (outer, inner) position: the slice's indices ordered by value (NaN greatest, as numpy sorts
        // them), ties by index.
        let mut picked = vec![0usize; outer * self.k * inner];
        let mut order: Vec<usize> = Vec::with_capacity(len);
        for o in 0..outer {
            for i in 0..inner {
                let at = |j: usize| key[(o * len + j) * inner + i];
                order.clear();
                order.extend(0..len);
                order.sort_by(|&a, &b| {
                    let by_value = at(a).total_cmp(&at(b));
                    let by_value = if self.largest { by_value.reverse() } else { by_value };
                    by_value.then(a.cmp(&b))
                });
                for (r, &j) in order.iter().take(self.k).enumerate() {
                    picked[(o * self.k + r) * inner + i] = j;
                }
            }
        }
        if self.indices {
            return Tensor::from_i64(out.shape.dims().to_vec(), picked.iter().map(|&j| j as i64).collect());
        }
        let flat = (0..picked.len()).map(|p| {
            let (i, o) = (p % inner, p / inner / self.k.max(1));
            (o * len + picked[p]) * inner + i
        });
        values.pick(flat).into_tensor(out.dtype, out.shape.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &TopK, x: &Tensor) -> Tensor {
        let out = t.infer(&[x.ty()]).unwrap();
        t.eval(&[x], &out).unwrap()
    }

    #[test]
    fn largest_and_smallest_with_ties_by_index() {
        let x = Tensor::from_f32(vec![2, 4], vec![1.0, 3.0, 3.0, 0.0, -1.0, 5.0, 2.0, 5.0]).unwrap();
        let top = |largest, indices| TopK { axis: 1, k: 2, largest, indices };
        assert_eq!(run(&top(true, false), &x).as_f32().unwrap(), &[3.0, 3.0, 5.0, 5.0]);
        assert_eq!(run(&top(true, true), &x).as_i64().unwrap(), &[1, 2, 1, 3]);
        assert_eq!(run(&top(false, true), &x).as_i64().unwrap(), &[3, 0, 0, 2]);
        // Along axis 0.
        let down = TopK { axis: 0, k: 1, largest: true, indices: true };
        assert_eq!(run(&down, &x).as_i64().unwrap(), &[0, 1, 0, 1]);
        let too_many = TopK { axis: 1, k: 5, largest: true, indices: false };
        assert!(too_many.infer(&[x.ty()]).is_err());
    }
}
