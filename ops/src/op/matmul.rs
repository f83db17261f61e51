//! Numpy-style batched matrix multiply (ONNX MatMul).
use super::util::{arity, broadcast_index, f32_input, f32_output, want_dtype};
use crate::error::OpError;
use crate::numerics::conv_rows::axpy;
use crate::shape::{broadcast, Shape};
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// MatMul has no attributes; 1-D operands are promoted as numpy does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatMul;

struct Dims {
    batch: Vec<usize>,
    a_batch: Vec<usize>,
    b_batch: Vec<usize>,
    m: usize,
    k: usize,
    n: usize,
    out: Vec<usize>,
}

impl MatMul {
    fn dims(inputs: &[TensorType]) -> Result<Dims, OpError> {
        let (a, b) = (inputs[0].shape.dims(), inputs[1].shape.dims());
        if a.is_empty() || b.is_empty() {
            return Err(OpError::shape(0, "matmul operands must have rank >= 1"));
        }
        let (a_batch, m, k) = match a.len() {
            1 => (vec![], 1, a[0]),
            r => (a[..r - 2].to_vec(), a[r - 2], a[r - 1]),
        };
        let (b_batch, kb, n) = match b.len() {
            1 => (vec![], b[0], 1),
            r => (b[..r - 2].to_vec(), b[r - 2], b[r - 1]),
        };
        if k != kb {
            return Err(OpError::shape(1, format!("inner dims differ: {} vs {}", inputs[0].shape, inputs[1].shape)));
        }
        let batch = broadcast(&Shape(a_batch.clone()), &Shape(b_batch.clone()))?.0;
        let mut out = batch.clone();
        if a.len() > 1 {
            out.push(m);
        }
        if b.len() > 1 {
            out.push(n);
        }
        Ok(Dims { batch, a_batch, b_batch, m, k, n, out })
    }

    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 2, 2)?;
        want_dtype(inputs, 0, DType::F32)?;
        want_dtype(inputs, 1, DType::F32)?;
        Ok(TensorType::f32(Self::dims(inputs)?.out))
    }

    pub fn macs(&self, inputs: &[TensorType], _out: &TensorType) -> u64 {
        Self::dims(inputs).map(|d| (d.batch.iter().product::<usize>() * d.m * d.k * d.n) as u64).unwrap_or(0)
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let types: Vec<_> = inputs.iter().map(|t| t.ty()).collect();
        let d = Self::dims(&types)?;
        let (a, b) = (f32_input(inputs, 0)?, f32_input(inputs, 1)?);
        let nb: usize = d.batch.iter().product();
        let mut y = vec![0f32; out.shape.numel()];
        if d.n == 0 || y.len() != nb * d.m * d.n {
            return f32_output(out, y);
        }
        // `y[i, j] = sum over p of a[i, p] * b[p, j]`, `p` in order from 0.0: a row of `y` at a time (every
        // element of it adds `a[i, p] * b[p, :]` for one `p` per pass, so the pass vectorizes), rows in parallel.
        y.par_chunks_mut(d.n).enumerate().for_each(|(r, row)| {
            let (bi, i) = (r / d.m, r % d.m);
            let ab = broadcast_index(&d.batch, &d.a_batch, bi);
            let bb = broadcast_index(&d.batch, &d.b_batch, bi);
            let a_row = &a[(ab * d.m + i) * d.k..][..d.k];
            for (p, &av) in a_row.iter().enumerate() {
                axpy(row, &b[(bb * d.k + p) * d.n..][..d.n], av);
            }
        });
        f32_output(out, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Op;

    #[test]
    fn batched_times_shared_matrix() {
        let a = Tensor::from_f32(vec![2, 1, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let b = Tensor::from_f32(vec![2, 1], vec![1.0, 1.0]).unwrap();
        let y = Op::MatMul(MatMul).eval(&[&a, &b]).unwrap();
        assert_eq!(y.dims(), &[2, 1, 1]);
        assert_eq!(y.as_f32().unwrap(), &[3.0, 7.0]);
    }
}
