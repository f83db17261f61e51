//! 2-D convolution (NCHW, OIHW weights, optional bias), with an optional fused activation.
use super::unary::UnaryOp;
use super::util::{arity, f32_input, f32_output, want_dtype};
use crate::error::OpError;
use crate::numerics::conv_rows::{Padding, PlaneConv};
use crate::numerics::ConvGeom;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Attributes of a 2-D convolution. Inputs: X `[N,C,H,W]`, W `[K,C/group,kh,kw]`, optional B `[K]`, and
/// optionally a residual R of the output's shape (then B is required): `y = act(conv(X, W) + B + R)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conv {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// Top, left, bottom, right.
    pub pads: [usize; 4],
    pub group: usize,
    /// An activation applied to each output element (fusion; `None` for a plain ONNX Conv).
    pub act: Option<UnaryOp>,
}

impl Conv {
    /// Output spatial size along one axis, or `None` if the window does not fit.
    pub fn out_dim(
        input: usize,
        pad_lo: usize,
        pad_hi: usize,
        kernel: usize,
        stride: usize,
        dilation: usize,
    ) -> Option<usize> {
        let span = dilation.checked_mul(kernel.checked_sub(1)?)?.checked_add(1)?;
        let padded = input.checked_add(pad_lo)?.checked_add(pad_hi)?;
        if stride == 0 || padded < span {
            return None;
        }
        Some((padded - span) / stride + 1)
    }

    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 2, 4)?;
        want_dtype(inputs, 0, DType::F32)?;
        want_dtype(inputs, 1, DType::F32)?;
        if self.group == 0 || self.strides.contains(&0) || self.dilations.contains(&0) || self.kernel.contains(&0) {
            return Err(OpError::attr("group/strides/dilations/kernel", "must all be >= 1"));
        }
        let x = inputs[0].shape.dims();
        let w = inputs[1].shape.dims();
        let [n, c, h, wd] = x[..] else {
            return Err(OpError::shape(0, format!("expected NCHW, got {}", inputs[0].shape)));
        };
        let [k, cg, kh, kw] = w[..] else {
            return Err(OpError::shape(1, format!("expected OIHW weights, got {}", inputs[1].shape)));
        };
        if c % self.group != 0 || k % self.group != 0 || cg * self.group != c {
            return Err(OpError::shape(
                1,
                format!("weights {} do not fit {c} input channels in {} groups", inputs[1].shape, self.group),
            ));
        }
        if [kh, kw] != self.kernel {
            return Err(OpError::attr(
                "kernel_shape",
                format!("{:?} does not match weights {}", self.kernel, inputs[1].shape),
            ));
        }
        if let Some(b) = inputs.get(2) {
            want_dtype(inputs, 2, DType::F32)?;
            if b.shape.dims() != [k] {
                return Err(OpError::shape(2, format!("bias {} must be [{k}]", b.shape)));
            }
        }
        let oh = Self::out_dim(h, self.pads[0], self.pads[2], kh, self.strides[0], self.dilations[0]);
        let ow = Self::out_dim(wd, self.pads[1], self.pads[3], kw, self.strides[1], self.dilations[1]);
        match (oh, ow) {
            (Some(oh), Some(ow)) => Ok(TensorType::f32(vec![n, k, oh, ow])),
            _ => Err(OpError::shape(
                0,
                format!("kernel {:?} does not fit input {} with pads {:?}", self.kernel, inputs[0].shape, self.pads),
            )),
        }
    }

    pub fn macs(&self, inputs: &[TensorType], out: &TensorType) -> u64 {
        let per_out = inputs.get(1).map(|w| w.shape.dims()[1..].iter().product::<usize>()).unwrap_or(0);
        (out.shape.numel() as u64).saturating_mul(per_out as u64)
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let x = f32_input(inputs, 0)?;
        let w = f32_input(inputs, 1)?;
        let bias = if inputs.len() > 2 { Some(f32_input(inputs, 2)?) } else { None };
        let residual = if inputs.len() > 3 { Some(f32_input(inputs, 3)?) } else { None };
        let [n, c, h, wd] = inputs[0].dims()[..] else { return Err(OpError::shape(0, "rank")) };
        let [_, k, oh, ow] = out.shape.dims()[..] else { return Err(OpError::shape(0, "rank")) };
        let cg = c / self.group;
        let [kh, kw] = self.kernel;
        let plane = oh * ow;
        let consistent = c % self.group == 0
            && k % self.group == 0
            && x.len() == n * c * h * wd
            && w.len() >= k * cg * kh * kw
            && bias.is_none_or(|b| b.len() >= k)
            && residual.is_none_or(|r| r.len() == n * k * plane)
            && out.shape.numel() == n * k * plane;
        if !consistent {
            return Err(OpError::shape(0, "operand sizes disagree with the convolution's shapes"));
        }
        let mut y = vec![0f32; out.shape.numel()];
        if plane == 0 {
            return f32_output(out, y);
        }
        // Each output element is `bias + sum over (ic, ky, kx) of x * w`, added in that order (taps outside the
        // input skipped), then the residual, then the activation; `PlaneConv` computes a plane at a time, and the
        // planes run in parallel (calibration evaluates whole models with this).
        let geom = ConvGeom::of_conv(self, inputs[0].dims(), out.shape.dims())?;
        let rows = PlaneConv::new(&geom, Padding::Skip);
        let images: Vec<_> = (0..n).map(|b| rows.prepare(&x[b * c * h * wd..][..c * h * wd])).collect();
        let block = rows.block();
        y.par_chunks_mut(plane * block).enumerate().for_each(|(i, y_planes)| {
            let (b, oc0) = (i * block / k, i * block % k);
            for (o, y_plane) in y_planes.chunks_mut(plane).enumerate() {
                y_plane.fill(bias.map_or(0.0, |b| b[oc0 + o]));
            }
            rows.accumulate(&images[b], w, oc0, y_planes);
            let at = i * block * plane;
            for (j, o) in y_planes.iter_mut().enumerate() {
                if let Some(r) = residual {
                    *o += r[at + j];
                }
                if let Some(a) = &self.act {
                    *o = a.apply(*o);
                }
            }
        });
        f32_output(out, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Op;

    fn conv(kernel: usize, stride: usize, pad: usize, group: usize) -> Op {
        Op::Conv(Conv {
            kernel: [kernel; 2],
            strides: [stride; 2],
            dilations: [1; 2],
            pads: [pad; 4],
            group,
            act: None,
        })
    }

    #[test]
    fn identity_kernel_copies_input() {
        let x = Tensor::from_f32(vec![1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let w = Tensor::from_f32(vec![1, 1, 1, 1], vec![1.0]).unwrap();
        let y = conv(1, 1, 0, 1).eval(&[&x, &w]).unwrap();
        assert_eq!(y.as_f32().unwrap(), x.as_f32().unwrap());
    }

    #[test]
    fn padded_3x3_sums_neighbours() {
        let x = Tensor::from_f32(vec![1, 1, 2, 2], vec![1.0; 4]).unwrap();
        let w = Tensor::from_f32(vec![1, 1, 3, 3], vec![1.0; 9]).unwrap();
        let b = Tensor::from_f32(vec![1], vec![0.5]).unwrap();
        let y = conv(3, 1, 1, 1).eval(&[&x, &w, &b]).unwrap();
        assert_eq!(y.as_f32().unwrap(), &[4.5; 4]);
    }

    #[test]
    fn depthwise_keeps_channels_apart() {
        let x = Tensor::from_f32(vec![1, 2, 1, 1], vec![1.0, 10.0]).unwrap();
        let w = Tensor::from_f32(vec![2, 1, 1, 1], vec![2.0, 3.0]).unwrap();
        let y = conv(1, 1, 0, 2).eval(&[&x, &w]).unwrap();
        assert_eq!(y.as_f32().unwrap(), &[2.0, 30.0]);
    }

    /// The convolution one output element at a time, in the order `eval` promises: bias, then every tap in
    /// (ic, ky, kx) order, then the residual, then the activation.
    fn per_element(
        c: &Conv,
        x: &[f32],
        xd: [usize; 4],
        w: &[f32],
        bias: &[f32],
        res: &[f32],
        yd: [usize; 4],
    ) -> Vec<f32> {
        let [n, ch, h, wd] = xd;
        let [_, k, oh, ow] = yd;
        let (cg, kg) = (ch / c.group, k / c.group);
        let [kh, kw] = c.kernel;
        let mut y = vec![0f32; n * k * oh * ow];
        for b in 0..n {
            for oc in 0..k {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = bias[oc];
                        for ic in 0..cg {
                            for ky in 0..kh {
                                let iy = (oy * c.strides[0] + ky * c.dilations[0]) as isize - c.pads[0] as isize;
                                for kx in 0..kw {
                                    let ix = (ox * c.strides[1] + kx * c.dilations[1]) as isize - c.pads[1] as isize;
                                    if iy < 0 || iy >= h as isize || ix < 0 || ix >= wd as isize {
                                        continue;
                                    }
                                    let xv = x[((b * ch + (oc / kg) * cg + ic) * h + iy as usize) * wd + ix as usize];
                                    acc += xv * w[((oc * cg + ic) * kh + ky) * kw + kx];
                                }
                            }
                        }
                        let at = ((b * k + oc) * oh + oy) * ow + ox;
                        acc += res[at];
                        y[at] = c.act.map_or(acc, |a| a.apply(acc));
                    }
                }
            }
        }
        y
    }

    /// Row-at-a-time evaluation gives exactly the bits of the per-element order, over strides, dilations,
    /// asymmetric padding, groups and kernels wider than the input.
    #[test]
    fn row_loops_match_the_per_element_order_bit_for_bit() {
        let mut next = crate::numerics::tests::xorshift(0x9e3779b97f4a7c15);
        for _ in 0..300 {
            let group = 1 + next(3);
            let (cg, kg) = (1 + next(9), 1 + next(9));
            let (kh, kw) = (1 + next(4), 1 + next(4));
            let (h, wd) = (1 + next(9), 1 + next(9));
            let mut conv = Conv {
                kernel: [kh, kw],
                strides: [1 + next(3), 1 + next(3)],
                dilations: [1 + next(2), 1 + next(2)],
                pads: [next(3), next(3), next(3), next(3)],
                group,
                act: [None, Some(UnaryOp::Relu)][next(2)],
            };
            // A quarter are pointwise (1x1, stride 1, unpadded), which `eval` runs a whole plane at a time.
            if next(4) == 0 {
                (conv.kernel, conv.strides, conv.pads) = ([1, 1], [1, 1], [0; 4]);
            }
            let [kh, kw] = conv.kernel;
            let (c, k) = (cg * group, kg * group);
            let span = |i: usize, kk: usize, d: usize, p0: usize, p1: usize, s: usize| {
                (i + p0 + p1).checked_sub((kk - 1) * d + 1).map(|v| v / s + 1)
            };
            let (Some(oh), Some(ow)) = (
                span(h, kh, conv.dilations[0], conv.pads[0], conv.pads[2], conv.strides[0]),
                span(wd, kw, conv.dilations[1], conv.pads[1], conv.pads[3], conv.strides[1]),
            ) else {
                continue;
            };
            let mut vals = |len: usize| (0..len).map(|_| next(2001) as f32 / 997.0 - 1.0).collect::<Vec<f32>>();
            let (x, w, bias, res) = (vals(2 * c * h * wd), vals(k * cg * kh * kw), vals(k), vals(2 * k * oh * ow));
            let tensor = |d: Vec<usize>, v: &[f32]| Tensor::from_f32(d, v.to_vec()).unwrap();
            let inputs = [
                tensor(vec![2, c, h, wd], &x),
                tensor(vec![k, cg, kh, kw], &w),
                tensor(vec![k], &bias),
                tensor(vec![2, k, oh, ow], &res),
            ];
            let got = conv.eval(&inputs.iter().collect::<Vec<_>>(), &TensorType::f32(vec![2, k, oh, ow])).unwrap();
            let want = per_element(&conv, &x, [2, c, h, wd], &w, &bias, &res, [2, k, oh, ow]);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(got.as_f32().unwrap()), bits(&want), "{conv:?} on {c}x{h}x{wd}");
        }
    }

    #[test]
    fn bad_attributes_are_errors() {
        let x = TensorType::f32(vec![1, 3, 8, 8]);
        let w = TensorType::f32(vec![4, 3, 3, 3]);
        assert!(conv(3, 0, 0, 1).infer(&[x.clone(), w.clone()]).is_err());
        assert!(conv(3, 1, 0, 2).infer(&[x.clone(), w.clone()]).is_err());
        assert!(conv(9, 1, 0, 1).infer(&[x, TensorType::f32(vec![4, 3, 9, 9])]).is_err());
    }
}
