//! General matrix multiply `alpha * op(A) * op(B) + beta * C` (ONNX Gemm), with an optional fused activation.
use super::unary::UnaryOp;
use super::util::{arity, broadcast_index, f32_input, f32_output, want_dtype};
use crate::error::OpError;
use crate::numerics::conv_rows::axpy;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Attributes of Gemm. Inputs: A `[M,K]` (or `[K,M]` transposed), B `[K,N]` (or `[N,K]`), optional C
/// broadcastable to `[M,N]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gemm {
    pub alpha: f32,
    pub beta: f32,
    pub trans_a: bool,
    pub trans_b: bool,
    pub act: Option<UnaryOp>,
}

impl Gemm {
    fn mkn(&self, inputs: &[TensorType]) -> Result<(usize, usize, usize), OpError> {
        let (a, b) = (inputs[0].shape.dims(), inputs[1].shape.dims());
        let (&[a0, a1], &[b0, b1]) = (a, b) else {
            return Err(OpError::shape(
                0,
                format!("gemm needs 2-D inputs, got {} and {}", inputs[0].shape, inputs[1].shape),
            ));
        };
        let (m, k) = if self.trans_a { (a1, a0) } else { (a0, a1) };
        let (kb, n) = if self.trans_b { (b1, b0) } else { (b0, b1) };
        if k != kb {
            return Err(OpError::shape(1, format!("inner dims differ: {k} vs {kb}")));
        }
        Ok((m, k, n))
    }

    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 2, 3)?;
        for i in 0..inputs.len() {
            want_dtype(inputs, i, DType::F32)?;
        }
        let (m, _, n) = self.mkn(inputs)?;
        if let Some(c) = inputs.get(2) {
            let d = c.shape.dims();
            let fits = d.len() <= 2 && d.iter().rev().zip([n, m]).all(|(&x, want)| x == 1 || x == want);
            if !fits {
                return Err(OpError::shape(2, format!("C {} does not broadcast to [{m}x{n}]", c.shape)));
            }
        }
        Ok(TensorType::f32(vec![m, n]))
    }

    pub fn macs(&self, inputs: &[TensorType], _out: &TensorType) -> u64 {
        self.mkn(inputs).map(|(m, k, n)| (m * k * n) as u64).unwrap_or(0)
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let types: Vec<_> = inputs.iter().map(|t| t.ty()).collect();
        let (m, k, n) = self.mkn(&types)?;
        let (a, b) = (f32_input(inputs, 0)?, f32_input(inputs, 1)?);
        let c = if inputs.len() > 2 { Some((f32_input(inputs, 2)?, inputs[2].dims())) } else { None };
        let mut y = vec![0f32; m * n];
        if n == 0 {
            return f32_output(out, y);
        }
        // Each `acc[i, j]` adds `a[i, p] * b[p, j]` for `p` in order from 0.0, then `alpha`, `beta * c` and the
        // activation: a row at a time over B in `[k, n]` layout (transposed once when `trans_b`), so every pass
        // adds one `p` to a whole row and vectorizes; rows in parallel.
        let b_kn: Vec<f32> =
            if self.trans_b { (0..k * n).map(|at| b[(at % n) * k + at / n]).collect() } else { b[..k * n].to_vec() };
        y.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
            for p in 0..k {
                let av = if self.trans_a { a[p * m + i] } else { a[i * k + p] };
                axpy(row, &b_kn[p * n..][..n], av);
            }
            for (j, o) in row.iter_mut().enumerate() {
                let mut v = self.alpha * *o;
                if let Some((c, cd)) = c {
                    v += self.beta * c[broadcast_index(&[m, n], cd, i * n + j)];
                }
                *o = self.act.map_or(v, |a| a.apply(v));
            }
        });
        f32_output(out, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Op;

    /// Row-at-a-time evaluation gives the per-element definition's bits: `acc` from 0.0 adding `a[i, p] *
    /// b[p, j]` for `p` in order, then `alpha`, `beta * c` (broadcast) and the activation; both transposes.
    #[test]
    fn rows_match_the_per_element_definition_bit_for_bit() {
        let mut next = crate::numerics::tests::xorshift(0x853c49e6748fea9b);
        for case in 0..200 {
            let (m, k, n) = (1 + next(7), next(9), 1 + next(17));
            let g = Gemm {
                alpha: [1.0, 0.5][case % 2],
                beta: [1.0, -2.0][next(2)],
                trans_a: next(2) == 0,
                trans_b: next(2) == 0,
                act: [None, Some(UnaryOp::Relu)][next(2)],
            };
            let mut vals = |len: usize| (0..len).map(|_| next(2001) as f32 / 997.0 - 1.0).collect::<Vec<f32>>();
            let (a, b, c) = (vals(m * k), vals(k * n), vals(n));
            let (ad, bd) =
                (if g.trans_a { vec![k, m] } else { vec![m, k] }, if g.trans_b { vec![n, k] } else { vec![k, n] });
            let ts = [
                Tensor::from_f32(ad, a.clone()).unwrap(),
                Tensor::from_f32(bd, b.clone()).unwrap(),
                Tensor::from_f32(vec![n], c.clone()).unwrap(),
            ];
            let got = g.eval(&ts.iter().collect::<Vec<_>>(), &TensorType::f32(vec![m, n])).unwrap();
            let mut want = Vec::new();
            for i in 0..m {
                for j in 0..n {
                    let mut acc = 0f32;
                    for p in 0..k {
                        let av = if g.trans_a { a[p * m + i] } else { a[i * k + p] };
                        acc += av * if g.trans_b { b[j * k + p] } else { b[p * n + j] };
                    }
                    let v = g.alpha * acc + g.beta * c[j];
                    want.push(g.act.map_or(v, |f| f.apply(v)).to_bits());
                }
            }
            let bits: Vec<u32> = got.as_f32().unwrap().iter().map(|v| v.to_bits()).collect();
            assert_eq!(bits, want, "{g:?} {m}x{k}x{n}");
        }
    }

    #[test]
    fn linear_layer_with_trans_b() {
        let x = Tensor::from_f32(vec![1, 2], vec![1.0, 2.0]).unwrap();
        let w = Tensor::from_f32(vec![3, 2], vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
        let b = Tensor::from_f32(vec![3], vec![0.5, 0.5, 0.5]).unwrap();
        let g = Gemm { alpha: 1.0, beta: 1.0, trans_a: false, trans_b: true, act: None };
        let y = Op::Gemm(g).eval(&[&x, &w, &b]).unwrap();
        assert_eq!(y.as_f32().unwrap(), &[1.5, 2.5, 3.5]);
    }
}
