//! Max, average and Lp pooling of any number of spatial axes, with dilations, any integer or float dtype for max,
//! and MaxPool's argmax indices: the cases the tile `Pool` (2-D, f32, dense windows) does not cover. Windows
//! start at `o * stride - pad_begin`; `ceil_mode` adds a last partial window only if it starts inside the input
//! or its leading padding (ONNX, ONNX Runtime and PyTorch agree on this). Only in-bounds taps are visited, so
//! the work is bounded by the tensors, not by the attributes.
use super::util::arity;
use super::values::Values;
use crate::error::OpError;
use crate::shape::Shape;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PoolNdKind {
    Max,
    /// The indices of the maxima (int64, flat over the whole input), the second output of MaxPool.
    ArgMax {
        /// `storage_order = 1`: spatial coordinates flattened first-axis-fastest.
        column_major: bool,
    },
    /// Average; the declared padding counts in the divisor if `count_include_pad`, the ceil-mode overhang never.
    Avg {
        count_include_pad: bool,
    },
    /// LpPool: `(sum of |x|^p over the window)^(1/p)`; padding adds nothing.
    Lp {
        p: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolNd {
    pub kind: PoolNdKind,
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    pub pads_begin: Vec<usize>,
    pub pads_end: Vec<usize>,
    pub ceil_mode: bool,
}

/// Along one axis for one output index: the range of in-bounds kernel taps, the input index of the first, and
/// how many taps count in an average that includes padding.
#[derive(Debug, Clone, Copy)]
struct Span {
    k_lo: usize,
    k_hi: usize,
    first: usize,
    counted: usize,
}

impl PoolNd {
    pub fn name(&self) -> &'static str {
        match self.kind {
            PoolNdKind::Max => "max-pool-nd",
            PoolNdKind::ArgMax { .. } => "max-pool-nd-indices",
            PoolNdKind::Avg { .. } => "avg-pool-nd",
            PoolNdKind::Lp { .. } => "lp-pool-nd",
        }
    }

    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        let x = &inputs[0];
        let dims = x.shape.dims();
        let sp = dims.len().saturating_sub(2);
        let lists = [&self.kernel, &self.strides, &self.dilations, &self.pads_begin, &self.pads_end];
        if sp == 0 || lists.iter().any(|l| l.len() != sp) {
            return Err(OpError::attr("kernel_shape", format!("does not fit input {}", x.shape)));
        }
        if self.kernel.iter().chain(&self.strides).chain(&self.dilations).any(|&v| v == 0) {
            return Err(OpError::attr("kernel_shape", "kernel sizes, strides and dilations must be >= 1"));
        }
        if self.kind == (PoolNdKind::Lp { p: 0 }) {
            return Err(OpError::attr("p", "must be >= 1"));
        }
        let dtype_ok = match self.kind {
            PoolNdKind::Avg { .. } | PoolNdKind::Lp { .. } => x.dtype == DType::F32,
            _ => x.dtype != DType::Bool,
        };
        if !dtype_ok {
            return Err(OpError::DType {
                index: 0,
                expected: "a number (f32 to average)".into(),
                got: x.dtype.to_string(),
            });
        }
        let mut out = dims[..2].to_vec();
        for a in 0..sp {
            out.push(self.out_len(a, dims[a + 2])?);
        }
        let dtype = if matches!(self.kind, PoolNdKind::ArgMax { .. }) { DType::I64 } else { x.dtype };
        Ok(TensorType { dtype, shape: Shape(out) })
    }

    /// The number of windows along axis `a` of length `len` (checked: the attributes may come from a blob).
    fn out_len(&self, a: usize, len: usize) -> Result<usize, OpError> {
        let overflow = || OpError::attr("pads", format!("window arithmetic overflows along axis {}", a + 2));
        let window = (self.kernel[a] - 1).checked_mul(self.dilations[a]).and_then(|w| w.checked_add(1));
        let window = window.ok_or_else(overflow)?;
        let padded = len.checked_add(self.pads_begin[a]).and_then(|p| p.checked_add(self.pads_end[a]));
        let padded = padded.ok_or_else(overflow)?;
        let Some(room) = padded.checked_sub(window) else {
            return Err(OpError::attr("kernel_shape", format!("the window is larger than the padded axis {}", a + 2)));
        };
        let s = self.strides[a];
        if !self.ceil_mode {
            return Ok(room / s + 1);
        }
        let mut steps = room.div_ceil(s);
        // The last window must start inside the input or its leading padding.
        let lead = len.checked_add(self.pads_begin[a]).ok_or_else(overflow)?;
        if steps > 0 && steps.checked_mul(s).is_none_or(|start| start >= lead) {
            steps -= 1;
        }
        Ok(steps + 1)
    }

    /// The spans of every output index along axis `a` (u128: no product of two usizes overflows).
    fn spans(&self, a: usize, len: usize, outs: usize) -> Vec<Span> {
        let (k, s, d) = (self.kernel[a] as u128, self.strides[a] as u128, self.dilations[a] as u128);
        let (pb, len_w, pe) = (self.pads_begin[a] as u128, len as u128, self.pads_end[a] as u128);
        // Taps k with start + k * d < limit.
        let below = |start: u128, limit: u128| if start >= limit { 0 } else { (limit - start).div_ceil(d).min(k) };
        (0..outs as u128)
            .map(|o| {
                let start = o * s;
                let k_lo = below(start, pb);
                let k_hi = below(start, pb + len_w).max(k_lo);
                let first = (start + k_lo * d).saturating_sub(pb);
                let counted = below(start, pb + len_w + pe);
                Span { k_lo: k_lo as usize, k_hi: k_hi as usize, first: first as usize, counted: counted as usize }
            })
            .collect()
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let xd = inputs[0].dims();
        let (ins, outs) = (&xd[2..], &out.shape.dims()[2..]);
        let sp = ins.len();
        let channels = xd[0] * xd[1];
        let (in_len, out_len): (usize, usize) = (ins.iter().product(), outs.iter().product());
        let spans: Vec<Vec<Span>> = (0..sp).map(|a| self.spans(a, ins[a], outs[a])).collect();
        let row_strides: Vec<usize> = (0..sp).map(|a| ins[a + 1..].iter().product()).collect();
        let col_strides: Vec<usize> = (0..sp).map(|a| ins[..a].iter().product()).collect();
        // Every output position's window: its in-bounds taps (row-major and column-major offsets in one
        // channel, in the reference's visiting order) and the count of taps inside the declared padding.
        let window = |p: usize, taps: &mut Vec<(usize, usize)>| -> f64 {
            let oc = super::values::coords(outs, p);
            let at: Vec<Span> = (0..sp).map(|a| spans[a][oc[a]]).collect();
            taps.clear();
            let counted = at.iter().fold(1f64, |n, s| n * s.counted as f64);
            if at.iter().any(|s| s.k_hi == s.k_lo) {
                return counted;
            }
            let mut k: Vec<usize> = at.iter().map(|s| s.k_lo).collect();
            loop {
                let (mut row, mut col) = (0, 0);
                for a in 0..sp {
                    let i = at[a].first + (k[a] - at[a].k_lo) * self.dilations[a];
                    row += i * row_strides[a];
                    col += i * col_strides[a];
                }
                taps.push((row, col));
                // Odometer over the in-bounds taps, last axis fastest.
                let mut a = sp;
                loop {
                    if a == 0 {
                        return counted;
                    }
                    a -= 1;
                    k[a] += 1;
                    if k[a] < at[a].k_hi {
                        break;
                    }
                    k[a] = at[a].k_lo;
                }
            }
        };
        let dims = out.shape.dims().to_vec();
        let mut taps: Vec<(usize, usize)> = Vec::new();
        match self.kind {
            PoolNdKind::Avg { count_include_pad } => {
                let x = inputs[0].as_f32()?;
                let mut y = vec![0f32; channels * out_len];
                for p in 0..out_len {
                    let counted = window(p, &mut taps);
                    let n = if count_include_pad { counted } else { taps.len() as f64 };
                    for ch in 0..channels {
                        let xs = &x[ch * in_len..][..in_len];
                        let sum: f64 = taps.iter().map(|&(t, _)| f64::from(xs[t])).sum();
                        // An empty window averages to NaN, as numpy's mean of nothing.
                        y[ch * out_len + p] = (sum / n) as f32;
                    }
                }
                Tensor::from_f32(dims, y)
            }
            PoolNdKind::Lp { p } => {
                let x = inputs[0].as_f32()?;
                let mut y = vec![0f32; channels * out_len];
                for q in 0..out_len {
                    window(q, &mut taps);
                    for ch in 0..channels {
                        let xs = &x[ch * in_len..][..in_len];
                        let sum: f64 = taps.iter().map(|&(t, _)| f64::from(xs[t]).abs().powi(p as i32)).sum();
                        y[ch * out_len + q] = sum.powf(1.0 / f64::from(p)) as f32;
                    }
                }
                Tensor::from_f32(dims, y)
            }
            PoolNdKind::Max | PoolNdKind::ArgMax { .. } => {
                let values = Values::of(inputs[0]);
                let greater: Box<dyn Fn(usize, usize) -> bool + '_> = match &values {
                    Values::Float(v) => Box::new(move |a, b| v[a] > v[b]),
                    Values::Int(v) => Box::new(move |a, b| v[a] > v[b]),
                    Values::Bool(_) => return Err(OpError::Other("max-pool of booleans".into())),
                };
                // Per output: the window tap of the first maximum, None for a window all in padding.
                let mut best: Vec<Option<(usize, usize)>> = vec![None; channels * out_len];
                for p in 0..out_len {
                    window(p, &mut taps);
                    for ch in 0..channels {
                        let base = ch * in_len;
                        let mut pick: Option<(usize, usize)> = None;
                        for &t in &taps {
                            if pick.is_none_or(|q| greater(base + t.0, base + q.0)) {
                                pick = Some(t);
                            }
                        }
                        best[ch * out_len + p] = pick.map(|(r, c)| (base + r, base + c));
                    }
                }
                // A window all in padding gives 0 and index -1, as the reference leaves them.
                let picked = match (self.kind, &values) {
                    (PoolNdKind::ArgMax { column_major }, _) => Values::Int(
                        best.iter().map(|b| b.map_or(-1, |(r, c)| if column_major { c } else { r } as i128)).collect(),
                    ),
                    (_, Values::Float(v)) => Values::Float(best.iter().map(|b| b.map_or(0.0, |(i, _)| v[i])).collect()),
                    (_, Values::Int(v)) => Values::Int(best.iter().map(|b| b.map_or(0, |(i, _)| v[i])).collect()),
                    (_, Values::Bool(_)) => return Err(OpError::Other("max-pool of booleans".into())),
                };
                picked.into_tensor(out.dtype, out.shape.clone())
            }
        }
    }

    /// Window taps over all outputs (an upper bound of the work), so that a large all-constant pool is not
    /// folded at compile time.
    pub fn macs(&self, output: &TensorType) -> u64 {
        let k = self.kernel.iter().fold(1u64, |p, &k| p.saturating_mul(k as u64));
        (output.shape.numel() as u64).saturating_mul(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(kind: PoolNdKind, kernel: Vec<usize>) -> PoolNd {
        let sp = kernel.len();
        PoolNd {
            kind,
            kernel,
            strides: vec![1; sp],
            dilations: vec![1; sp],
            pads_begin: vec![0; sp],
            pads_end: vec![0; sp],
            ceil_mode: false,
        }
    }

    fn run(op: &PoolNd, x: &Tensor) -> Tensor {
        let out = op.infer(&[x.ty()]).unwrap();
        op.eval(&[x], &out).unwrap()
    }

    #[test]
    fn dilated_max_with_indices_and_padding_averages() {
        // One row 0..6; kernel 2, dilation 2: windows {0, 2}, {1, 3}, {2, 4}, {3, 5}.
        let x = Tensor::from_f32(vec![1, 1, 6], vec![0.0, 5.0, 1.0, 2.0, 4.0, 3.0]).unwrap();
        let mut op = pool(PoolNdKind::Max, vec![2]);
        op.dilations = vec![2];
        assert_eq!(run(&op, &x).as_f32().unwrap(), &[1.0, 5.0, 4.0, 3.0]);
        op.kind = PoolNdKind::ArgMax { column_major: false };
        assert_eq!(run(&op, &x).as_i64().unwrap(), &[2, 1, 4, 5]);
        // Average of kernel 3, pads 1 each side, stride 2: windows [-1..2), [1..4), [3..6).
        let mut avg = pool(PoolNdKind::Avg { count_include_pad: false }, vec![3]);
        avg.strides = vec![2];
        avg.pads_begin = vec![1];
        avg.pads_end = vec![1];
        assert_eq!(run(&avg, &x).as_f32().unwrap(), &[2.5, 8.0 / 3.0, 3.0]);
        avg.kind = PoolNdKind::Avg { count_include_pad: true };
        assert_eq!(run(&avg, &x).as_f32().unwrap(), &[5.0 / 3.0, 8.0 / 3.0, 3.0]);
        // ceil_mode without pads: a third window [4, 7) overhangs the input; the overhang never counts.
        avg.ceil_mode = true;
        avg.pads_begin = vec![0];
        avg.pads_end = vec![0];
        assert_eq!(run(&avg, &x).as_f32().unwrap(), &[2.0, 7.0 / 3.0, 3.5]);
    }

    #[test]
    fn lp_norms_of_windows_with_padding() {
        // One row [3, -4, 0, 12]; kernel 2, pad 1 each side: windows {pad, 3}, {3, -4}, {-4, 0}, {0, 12}, {12, pad}.
        let x = Tensor::from_f32(vec![1, 1, 4], vec![3.0, -4.0, 0.0, 12.0]).unwrap();
        let mut op = pool(PoolNdKind::Lp { p: 2 }, vec![2]);
        op.pads_begin = vec![1];
        op.pads_end = vec![1];
        assert_eq!(run(&op, &x).as_f32().unwrap(), &[3.0, 5.0, 4.0, 12.0, 12.0]);
        op.kind = PoolNdKind::Lp { p: 1 };
        assert_eq!(run(&op, &x).as_f32().unwrap(), &[3.0, 7.0, 4.0, 12.0, 12.0]);
        op.kind = PoolNdKind::Lp { p: 0 };
        assert!(op.infer(&[x.ty()]).is_err());
    }

    #[test]
    fn integer_max_and_column_major_indices() {
        // 2x2 input, 2x2 window: the maximum 9 at (1, 0) is flat 2 row-major and 1 column-major.
        let x = Tensor::from_u8(vec![1, 1, 2, 2], vec![1, 3, 9, 2]).unwrap();
        let op = pool(PoolNdKind::Max, vec![2, 2]);
        assert_eq!(run(&op, &x).as_u8().unwrap(), &[9]);
        let idx = |column_major| run(&PoolNd { kind: PoolNdKind::ArgMax { column_major }, ..op.clone() }, &x);
        assert_eq!(idx(false).as_i64().unwrap(), &[2]);
        assert_eq!(idx(true).as_i64().unwrap(), &[1]);
        // Attributes that cannot describe a window are errors, not panics.
        let huge = PoolNd { dilations: vec![usize::MAX, 2], ..op.clone() };
        assert!(huge.infer(&[x.ty()]).is_err());
        let zero = PoolNd { strides: vec![0, 1], ..op };
        assert!(zero.infer(&[x.ty()]).is_err());
    }
}
