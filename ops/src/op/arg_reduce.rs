//! ArgMax / ArgMin along one axis: the int64 index of the first (or, with `select_last_index`, the last)
//! extreme element. The axis is normalized at import.
use super::util::arity;
use super::values::Values;
use crate::error::OpError;
use crate::shape::Shape;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArgReduce {
    /// ArgMax when true, ArgMin otherwise.
    pub max: bool,
    pub axis: usize,
    pub keepdims: bool,
    pub select_last_index: bool,
}

impl ArgReduce {
    pub fn name(&self) -> &'static str {
        if self.max {
            "arg-max"
        } else {
            "arg-min"
        }
    }

    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        let dims = inputs[0].shape.dims();
        match dims.get(self.axis) {
            None => return Err(OpError::attr("axis", format!("{} out of range for {}", self.axis, inputs[0].shape))),
            Some(0) => return Err(OpError::shape(0, "the reduced axis is empty")),
            Some(_) => {}
        }
        if inputs[0].dtype == DType::Bool {
            return Err(OpError::DType { index: 0, expected: "a number".into(), got: "bool".into() });
        }
        let mut out = dims.to_vec();
        if self.keepdims {
            out[self.axis] = 1;
        } else {
            out.remove(self.axis);
        }
        Ok(TensorType { dtype: DType::I64, shape: Shape(out) })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let dims = inputs[0].dims();
        let len = dims[self.axis];
        let inner: usize = dims[self.axis + 1..].iter().product();
        let outer: usize = dims[..self.axis].iter().product();
        let better = |a: f64, b: f64| {
            if self.select_last_index {
                if self.max {
                    a >= b
                } else {
                    a <= b
                }
            } else if self.max {
                a > b
            } else {
                a < b
            }
        };
        let v: Vec<f64> = match Values::of(inputs[0]) {
            Values::Float(v) => v,
            // Exact: the comparison only needs the order, and i64 values beyond 2^53 are not indices' business.
            Values::Int(v) => v.into_iter().map(|x| x as f64).collect(),
            Values::Bool(_) => return Err(OpError::Other("argmax of booleans".into())),
        };
        let mut y = Vec::with_capacity(outer * inner);
        for o in 0..outer {
            for i in 0..inner {
                let at = |k: usize| v[(o * len + k) * inner + i];
                let mut best = 0;
                for k in 1..len {
                    if better(at(k), at(best)) {
                        best = k;
                    }
                }
                y.push(best as i64);
            }
        }
        Tensor::from_i64(out.shape.dims().to_vec(), y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_and_last_extreme() {
        let x = Tensor::from_f32(vec![2, 3], vec![1.0, 5.0, 5.0, 7.0, 0.0, 0.0]).unwrap();
        let run = |max, axis, keepdims, last| {
            let a = ArgReduce { max, axis, keepdims, select_last_index: last };
            let out = a.infer(&[x.ty()]).unwrap();
            (out.shape.dims().to_vec(), a.eval(&[&x], &out).unwrap().as_i64().unwrap().to_vec())
        };
        assert_eq!(run(true, 1, true, false), (vec![2, 1], vec![1, 0]));
        assert_eq!(run(true, 1, false, true), (vec![2], vec![2, 0]));
        assert_eq!(run(false, 1, false, true), (vec![2], vec![0, 2]));
        assert_eq!(run(false, 0, false, false), (vec![3], vec![0, 1, 1]));
        let bad = ArgReduce { max: true, axis: 2, keepdims: true, select_last_index: false };
        assert!(bad.infer(&[x.ty()]).is_err());
    }
}
