//! ScatterElements (and the older Scatter) and ScatterND: a copy of `data` with `updates` written at
//! (data-dependent) indices, combined by `reduction` (none: replace; add, mul, max, min). Indices are checked
//! when evaluated: negative ones count from the end, any other out-of-range index is an error. Updates apply
//! in index order, so duplicates with `none` keep the last.
use super::util::arity;
use super::values::{coords, is_int, resolve_index, Values};
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reduction {
    None,
    Add,
    Mul,
    Max,
    Min,
}

impl Reduction {
    fn float(self, a: f64, b: f64) -> f64 {
        match self {
            Reduction::None => b,
            Reduction::Add => a + b,
            Reduction::Mul => a * b,
            Reduction::Max => a.max(b),
            Reduction::Min => a.min(b),
        }
    }

    fn int(self, a: i128, b: i128) -> i128 {
        match self {
            Reduction::None => b,
            Reduction::Add => a.wrapping_add(b),
            Reduction::Mul => a.wrapping_mul(b),
            Reduction::Max => a.max(b),
            Reduction::Min => a.min(b),
        }
    }
}

/// Where each update goes: ScatterElements along `axis`, or ScatterND (`axis: None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scatter {
    pub axis: Option<usize>,
    pub reduction: Reduction,
}

impl Scatter {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 3, 3)?;
        let (d, i, u) = (&inputs[0], &inputs[1], &inputs[2]);
        if !is_int(i.dtype) {
            return Err(OpError::DType { index: 1, expected: "int32 or int64".into(), got: i.dtype.to_string() });
        }
        if u.dtype != d.dtype || d.dtype == DType::Bool && self.reduction != Reduction::None {
            return Err(OpError::DType { index: 2, expected: d.dtype.to_string(), got: u.dtype.to_string() });
        }
        let (dd, id, ud) = (d.shape.dims(), i.shape.dims(), u.shape.dims());
        let fits = match self.axis {
            Some(axis) => axis < dd.len() && id == ud && id.len() == dd.len(),
            None => match id.split_last() {
                // updates: indices' leading dims, then data's dims after the first k.
                Some((&k, lead)) => {
                    k >= 1
                        && k <= dd.len()
                        && ud.len() == lead.len() + dd.len() - k
                        && ud[..lead.len()] == *lead
                        && ud[lead.len()..] == dd[k..]
                }
                None => false,
            },
        };
        if !fits {
            return Err(OpError::shape(
                2,
                format!("indices {} and updates {} do not fit data {}", i.shape, u.shape, d.shape),
            ));
        }
        Ok(d.clone())
    }

    /// The flat data index each update element goes to, in update order.
    fn targets(&self, data: &[usize], indices: &[usize], idx: &[i64]) -> Result<Vec<usize>, OpError> {
        let strides: Vec<usize> = (0..data.len()).map(|a| data[a + 1..].iter().product()).collect();
        match self.axis {
            Some(axis) => idx
                .iter()
                .enumerate()
                .map(|(flat, &k)| {
                    let mut c = coords(indices, flat);
                    c[axis] = resolve_index(k, data[axis], "index")?;
                    if c.iter().zip(data).any(|(&x, &d)| x >= d) {
                        return Err(OpError::Other(format!("indices {indices:?} reach outside data {data:?}")));
                    }
                    Ok(c.iter().zip(&strides).map(|(x, s)| x * s).sum())
                })
                .collect(),
            None => {
                let k = indices.last().copied().unwrap_or(0);
                let slice: usize = data[k..].iter().product();
                let mut out = Vec::with_capacity(idx.len() / k.max(1) * slice);
                for tuple in idx.chunks(k.max(1)) {
                    let mut base = 0;
                    for (a, &i) in tuple.iter().enumerate() {
                        base += resolve_index(i, data[a], "index")? * strides[a];
                    }
                    out.extend(base..base + slice);
                }
                Ok(out)
            }
        }
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let idx = inputs[1].to_i64_vec()?;
        let targets = self.targets(inputs[0].dims(), inputs[1].dims(), &idx)?;
        let result = match (Values::of(inputs[0]), Values::of(inputs[2])) {
            (Values::Float(mut y), Values::Float(u)) => {
                for (&t, &v) in targets.iter().zip(&u) {
                    y[t] = self.reduction.float(y[t], v);
                }
                Values::Float(y)
            }
            (Values::Int(mut y), Values::Int(u)) => {
                for (&t, &v) in targets.iter().zip(&u) {
                    y[t] = self.reduction.int(y[t], v);
                }
                Values::Int(y)
            }
            (Values::Bool(mut y), Values::Bool(u)) => {
                for (&t, &v) in targets.iter().zip(&u) {
                    y[t] = v;
                }
                Values::Bool(y)
            }
            _ => return Err(OpError::Other("updates of another kind than the data".into())),
        };
        result.into_tensor(out.dtype, out.shape.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &Scatter, d: &Tensor, i: &Tensor, u: &Tensor) -> Result<Vec<f32>, OpError> {
        let out = s.infer(&[d.ty(), i.ty(), u.ty()])?;
        Ok(s.eval(&[d, i, u], &out)?.as_f32()?.to_vec())
    }

    #[test]
    fn elements_and_nd_with_reductions() {
        let d = Tensor::from_f32(vec![2, 3], vec![0.0; 6]).unwrap();
        let i = Tensor::from_i64(vec![1, 2], vec![2, -3]).unwrap();
        let u = Tensor::from_f32(vec![1, 2], vec![5.0, 7.0]).unwrap();
        let along1 = Scatter { axis: Some(1), reduction: Reduction::None };
        assert_eq!(run(&along1, &d, &i, &u).unwrap(), [7.0, 0.0, 5.0, 0.0, 0.0, 0.0]);
        // Duplicates add up with `add`.
        let dup = Tensor::from_i64(vec![1, 2], vec![1, 1]).unwrap();
        let add = Scatter { axis: Some(1), reduction: Reduction::Add };
        assert_eq!(run(&add, &d, &dup, &u).unwrap(), [0.0, 12.0, 0.0, 0.0, 0.0, 0.0]);
        // ScatterND: whole rows.
        let rows = Tensor::from_i64(vec![1, 1], vec![1]).unwrap();
        let upd = Tensor::from_f32(vec![1, 3], vec![1.0, 2.0, 3.0]).unwrap();
        let nd = Scatter { axis: None, reduction: Reduction::None };
        assert_eq!(run(&nd, &d, &rows, &upd).unwrap(), [0.0, 0.0, 0.0, 1.0, 2.0, 3.0]);
        let out_of_range = Tensor::from_i64(vec![1, 1], vec![2]).unwrap();
        assert!(run(&nd, &d, &out_of_range, &upd).is_err());
    }
}
