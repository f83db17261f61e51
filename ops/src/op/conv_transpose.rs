//! ConvTranspose (decoders and segmentation heads that upsample): the gradient of a convolution, any number of
//! spatial axes, with groups, strides, dilations and the padding the importer resolved (explicit pads,
//! `auto_pad` or `output_shape`). `y[n, g*M + m, o] += x[n, g*C + c, i] * w[g*C + c, m, k]` where
//! `o = i * stride + k * dilation - pad_begin` along each axis, plus the bias.
use super::util::{arity, f32_output, want_dtype};
use crate::error::OpError;
use crate::shape::Shape;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvTranspose {
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    pub pads_begin: Vec<usize>,
    /// The output's spatial size (the importer derives it from pads, `output_padding` or `output_shape`).
    pub out_spatial: Vec<usize>,
    pub group: usize,
}

impl ConvTranspose {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 2, 3)?;
        for i in 0..inputs.len() {
            want_dtype(inputs, i, DType::F32)?;
        }
        let (x, w) = (inputs[0].shape.dims(), inputs[1].shape.dims());
        let sp = x.len().saturating_sub(2);
        let g = self.group;
        let fits = sp >= 1
            && w.len() == x.len()
            && g >= 1
            && x[1] == w[0]
            && x[1] % g == 0
            && [&self.strides, &self.dilations, &self.pads_begin, &self.out_spatial].iter().all(|v| v.len() == sp)
            && self.strides.iter().chain(&self.dilations).all(|&v| v >= 1);
        if !fits {
            return Err(OpError::shape(1, format!("weights {:?} do not fit input {:?} (group {g})", w, x)));
        }
        let m = w[1] * g;
        if let Some(b) = inputs.get(2) {
            if b.shape.dims() != [m] {
                return Err(OpError::shape(2, format!("bias must have shape [{m}], got {}", b.shape)));
            }
        }
        let mut out = vec![x[0], m];
        out.extend_from_slice(&self.out_spatial);
        Ok(TensorType { dtype: DType::F32, shape: Shape(out) })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let (x, w) = (inputs[0].as_f32()?, inputs[1].as_f32()?);
        let (xd, wd, od) = (inputs[0].dims(), inputs[1].dims(), out.shape.dims());
        let (n, c, m, g) = (xd[0], xd[1], od[1], self.group);
        let (cg, mg) = (c / g, m / g);
        let (ins, ks, outs) = (&xd[2..], &wd[2..], &od[2..]);
        let (in_len, k_len, out_len): (usize, usize, usize) =
            (ins.iter().product(), ks.iter().product(), outs.iter().product());
        let mut y = vec![0f32; n * m * out_len];
        if let Some(b) = inputs.get(2) {
            let b = b.as_f32()?;
            for (i, v) in y.iter_mut().enumerate() {
                *v = b[(i / out_len.max(1)) % m];
            }
        }
        let unflat = |mut flat: usize, dims: &[usize]| -> Vec<usize> {
            let mut c = vec![0; dims.len()];
            for a in (0..dims.len()).rev() {
                c[a] = flat % dims[a].max(1);
                flat /= dims[a].max(1);
            }
            c
        };
        // Per axis, per (input index, kernel index): the output index along that axis, if inside. Small tables
        // (sum over axes of in * k), never one entry per input-kernel pair.
        let axis_out: Vec<Vec<Option<usize>>> = (0..ins.len())
            .map(|a| {
                (0..ins[a] * ks[a])
                    .map(|p| {
                        let (i, k) = (p / ks[a], p % ks[a]);
                        // Checked: the fields may come from a blob; an overflow lands nowhere.
                        let at = i.checked_mul(self.strides[a])?.checked_add(k.checked_mul(self.dilations[a])?)?;
                        at.checked_sub(self.pads_begin[a]).filter(|&o| o < outs[a])
                    })
                    .collect()
            })
            .collect();
        let out_strides: Vec<usize> = (0..outs.len()).map(|a| outs[a + 1..].iter().product()).collect();
        let target = |ic: &[usize], kc: &[usize]| -> Option<usize> {
            let mut flat = 0;
            for a in 0..ic.len() {
                flat += axis_out[a][ic[a] * ks[a] + kc[a]]? * out_strides[a];
            }
            Some(flat)
        };
        // Kernel coordinates once (as many as one channel's weights); input coordinates as they come.
        let k_coords: Vec<Vec<usize>> = (0..k_len).map(|k| unflat(k, ks)).collect();
        for b in 0..n {
            for gi in 0..g {
                for ci in 0..cg {
                    let ch = gi * cg + ci;
                    let xs = &x[(b * c + ch) * in_len..][..in_len];
                    for mi in 0..mg {
                        let ws = &w[(ch * mg + mi) * k_len..][..k_len];
                        let ys = &mut y[(b * m + gi * mg + mi) * out_len..][..out_len];
                        for (i, &xv) in xs.iter().enumerate() {
                            let ic = unflat(i, ins);
                            for (kc, &wv) in k_coords.iter().zip(ws) {
                                if let Some(o) = target(&ic, kc) {
                                    ys[o] += xv * wv;
                                }
                            }
                        }
                    }
                }
            }
        }
        f32_output(out, y)
    }

    /// Multiply-accumulates, so that the importer does not fold a costly all-constant one at compile time.
    pub fn macs(&self, inputs: &[TensorType]) -> u64 {
        let (x, w) = (inputs[0].shape.numel() as u64, inputs.get(1).map_or(0, |w| w.shape.numel()) as u64);
        // Every input element meets every weight of its group's channel.
        let c = inputs[0].shape.dims().get(1).copied().unwrap_or(1).max(1) as u64;
        x.saturating_mul(w / c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsamples_by_the_stride() {
        // 1 channel, 2 inputs, kernel [1, 1], stride 2: [a, a, b, b].
        let x = Tensor::from_f32(vec![1, 1, 2], vec![1.0, 2.0]).unwrap();
        let w = Tensor::from_f32(vec![1, 1, 2], vec![1.0, 1.0]).unwrap();
        let op =
            ConvTranspose { strides: vec![2], dilations: vec![1], pads_begin: vec![0], out_spatial: vec![4], group: 1 };
        let out = op.infer(&[x.ty(), w.ty()]).unwrap();
        assert_eq!(op.eval(&[&x, &w], &out).unwrap().as_f32().unwrap(), &[1.0, 1.0, 2.0, 2.0]);
        // Stride 1, kernel [1, 2]: overlapping sums [1, 3, 2].
        let w = Tensor::from_f32(vec![1, 1, 2], vec![1.0, 1.0]).unwrap();
        let op = ConvTranspose { strides: vec![1], out_spatial: vec![3], ..op };
        let out = op.infer(&[x.ty(), w.ty()]).unwrap();
        assert_eq!(op.eval(&[&x, &w], &out).unwrap().as_f32().unwrap(), &[1.0, 3.0, 2.0]);
    }
}
