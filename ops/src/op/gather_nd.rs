//! GatherND: slices of `data` picked by index tuples (the last axis of `indices`), after `batch_dims` leading
//! axes that data and indices share. Indices are checked when evaluated: negative ones count from the end,
//! any other out-of-range index is an error.
use super::util::arity;
use super::values::{is_int, resolve_index, Values};
use crate::error::OpError;
use crate::shape::Shape;
use crate::tensor::{Tensor, TensorType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatherNd {
    pub batch_dims: usize,
}

impl GatherNd {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 2, 2)?;
        let (d, i) = (inputs[0].shape.dims(), inputs[1].shape.dims());
        if !is_int(inputs[1].dtype) {
            let got = inputs[1].dtype.to_string();
            return Err(OpError::DType { index: 1, expected: "int32 or int64".into(), got });
        }
        let b = self.batch_dims;
        let ok = i.len() > b && d.len() > b && d[..b] == i[..b] && {
            let k = i[i.len() - 1];
            k >= 1 && b + k <= d.len()
        };
        if !ok {
            return Err(OpError::shape(1, format!("indices {:?} do not fit data {:?} (batch_dims {b})", i, d)));
        }
        let k = i[i.len() - 1];
        let mut out = i[..i.len() - 1].to_vec();
        out.extend_from_slice(&d[b + k..]);
        Ok(TensorType { dtype: inputs[0].dtype, shape: Shape(out) })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let (d, i) = (inputs[0].dims(), inputs[1].dims());
        let b = self.batch_dims;
        let k = i[i.len() - 1];
        let idx = inputs[1].to_i64_vec()?;
        let strides: Vec<usize> = (0..d.len()).map(|a| d[a + 1..].iter().product()).collect();
        let slice: usize = d[b + k..].iter().product();
        // Index tuples per batch entry.
        let per_batch: usize = i[b..i.len() - 1].iter().product();
        let mut picks = Vec::with_capacity(out.shape.numel());
        for (t, tuple) in idx.chunks(k).enumerate() {
            let batch = t / per_batch.max(1);
            // The batch entry's flat offset in data (batch axes are row-major like the data's).
            let mut base = if b > 0 { batch * strides[b - 1] } else { 0 };
            for (a, &v) in tuple.iter().enumerate() {
                base += resolve_index(v, d[b + a], "index")? * strides[b + a];
            }
            picks.extend(base..base + slice);
        }
        Values::of(inputs[0]).pick(picks.into_iter()).into_tensor(out.dtype, out.shape.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_elements_rows_and_batched() {
        let d = Tensor::from_f32(vec![2, 2], vec![0.0, 1.0, 2.0, 3.0]).unwrap();
        let run = |g: &GatherNd, i: &Tensor| {
            let out = g.infer(&[d.ty(), i.ty()]).unwrap();
            g.eval(&[&d, i], &out).unwrap().as_f32().unwrap().to_vec()
        };
        let g = GatherNd { batch_dims: 0 };
        assert_eq!(run(&g, &Tensor::from_i64(vec![2, 2], vec![0, 0, 1, 1]).unwrap()), [0.0, 3.0]);
        assert_eq!(run(&g, &Tensor::from_i64(vec![2, 1], vec![1, 0]).unwrap()), [2.0, 3.0, 0.0, 1.0]);
        let batched = GatherNd { batch_dims: 1 };
        assert_eq!(run(&batched, &Tensor::from_i64(vec![2, 1], vec![1, 0]).unwrap()), [1.0, 2.0]);
    }
}
