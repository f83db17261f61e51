//! 2-D convolution (NCHW, OIHW weights, optional bias), with an optional fused activation.
use super::unary::UnaryOp;
use super::util::{arity, f32_input, f32_output, want_dtype};
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
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
        let (cg, kg) = (c / self.group, k / self.group);
        let [kh, kw] = self.kernel;
        let mut y = vec![0f32; out.shape.numel()];
        for b in 0..n {
            for oc in 0..k {
                let g = oc / kg;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = bias.map_or(0.0, |b| b[oc]);
                        for ic in 0..cg {
                            let xc = g * cg + ic;
                            for ky in 0..kh {
                                let iy =
                                    (oy * self.strides[0] + ky * self.dilations[0]) as isize - self.pads[0] as isize;
                                if iy < 0 || iy >= h as isize {
                                    continue;
                                }
                                for kx in 0..kw {
                                    let ix = (ox * self.strides[1] + kx * self.dilations[1]) as isize
                                        - self.pads[1] as isize;
                                    if ix < 0 || ix >= wd as isize {
                                        continue;
                                    }
                                    let xv = x[((b * c + xc) * h + iy as usize) * wd + ix as usize];
                                    let wv = w[((oc * cg + ic) * kh + ky) * kw + kx];
                                    acc += xv * wv;
                                }
                            }
                        }
                        let at = ((b * k + oc) * oh + oy) * ow + ox;
                        if let Some(r) = residual {
                            acc += r[at];
                        }
                        y[at] = match &self.act {
                            Some(a) => a.apply(acc),
                            None => acc,
                        };
                    }
                }
            }
        }
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

    #[test]
    fn bad_attributes_are_errors() {
        let x = TensorType::f32(vec![1, 3, 8, 8]);
        let w = TensorType::f32(vec![4, 3, 3, 3]);
        assert!(conv(3, 0, 0, 1).infer(&[x.clone(), w.clone()]).is_err());
        assert!(conv(3, 1, 0, 2).infer(&[x.clone(), w.clone()]).is_err());
        assert!(conv(9, 1, 0, 1).infer(&[x, TensorType::f32(vec![4, 3, 9, 9])]).is_err());
    }
}
