//! Resize of the two spatial axes of NCHW input: nearest, bilinear and bicubic, with ONNX coordinate modes.
use super::util::{arity, f32_input, f32_output, want_dtype};
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResizeMode {
    /// Nearest with the given rounding of the source coordinate.
    Nearest(NearestRounding),
    Linear,
    /// Keys' cubic convolution with coefficient `a` (f32 bits; ONNX `cubic_coeff_a`, -0.75 by default) over
    /// the 4x4 neighbourhood, edges repeated; with `exclude_outside` the weights of taps outside the input are
    /// zero and the rest renormalized.
    Cubic {
        a_bits: u32,
        exclude_outside: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NearestRounding {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
}

/// How an output coordinate maps back to the input (ONNX `coordinate_transformation_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CoordMode {
    HalfPixel,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    /// Half pixel, centred when the output length was rounded down from `in * scale` (opset 19).
    HalfPixelSymmetric,
}

/// `half_pixel_symmetric`'s offset: the input centre times one minus the rounding of the output length.
pub fn symmetric_offset(in_len: usize, out_len: usize, scale: f32) -> f32 {
    let adjustment = out_len as f32 / (scale * in_len as f32);
    in_len as f32 / 2.0 * (1.0 - adjustment)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resize {
    pub mode: ResizeMode,
    pub coord: CoordMode,
    /// Output height and width.
    pub out_hw: [usize; 2],
    /// Scale factors (output / input) used by the coordinate transform, as ONNX defines it.
    pub scales: [f32; 2],
}

impl Resize {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        want_dtype(inputs, 0, DType::F32)?;
        let [n, c, _, _] = inputs[0].shape.dims()[..] else {
            return Err(OpError::shape(0, format!("resize supports NCHW, got {}", inputs[0].shape)));
        };
        if self.scales.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return Err(OpError::attr("scales", format!("{:?} must be finite and > 0", self.scales)));
        }
        Ok(TensorType::f32(vec![n, c, self.out_hw[0], self.out_hw[1]]))
    }

    fn source(&self, out: usize, in_len: usize, out_len: usize, scale: f32) -> f32 {
        let o = out as f32;
        match self.coord {
            CoordMode::HalfPixel => (o + 0.5) / scale - 0.5,
            CoordMode::PytorchHalfPixel => {
                if out_len > 1 {
                    (o + 0.5) / scale - 0.5
                } else {
                    0.0
                }
            }
            CoordMode::AlignCorners => {
                if out_len > 1 {
                    o * (in_len as f32 - 1.0) / (out_len as f32 - 1.0)
                } else {
                    0.0
                }
            }
            CoordMode::Asymmetric => o / scale,
            CoordMode::HalfPixelSymmetric => symmetric_offset(in_len, out_len, scale) + ((o + 0.5) / scale - 0.5),
        }
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let x = f32_input(inputs, 0)?;
        let [n, c, h, w] = inputs[0].dims()[..] else { return Err(OpError::shape(0, "rank")) };
        let [oh, ow] = self.out_hw;
        let mut y = Vec::with_capacity(out.shape.numel());
        for plane in 0..n * c {
            let xp = &x[plane * h * w..(plane + 1) * h * w];
            for oy in 0..oh {
                let sy = self.source(oy, h, oh, self.scales[0]);
                for ox in 0..ow {
                    let sx = self.source(ox, w, ow, self.scales[1]);
                    y.push(match self.mode {
                        ResizeMode::Nearest(r) => xp[nearest(sy, r, h) * w + nearest(sx, r, w)],
                        ResizeMode::Linear => bilinear(xp, h, w, sy, sx),
                        ResizeMode::Cubic { a_bits, exclude_outside } => {
                            let a = f32::from_bits(a_bits);
                            bicubic(xp, [h, w], [sy, sx], a, exclude_outside)
                        }
                    });
                }
            }
        }
        f32_output(out, y)
    }
}

fn nearest(s: f32, r: NearestRounding, len: usize) -> usize {
    let i = match r {
        NearestRounding::RoundPreferFloor => {
            if s.fract() == 0.5 {
                s.floor()
            } else {
                s.round()
            }
        }
        NearestRounding::RoundPreferCeil => s.round(),
        NearestRounding::Floor => s.floor(),
        NearestRounding::Ceil => s.ceil(),
    };
    (i.max(0.0) as usize).min(len - 1)
}

fn bilinear(xp: &[f32], h: usize, w: usize, sy: f32, sx: f32) -> f32 {
    let sy = sy.clamp(0.0, (h - 1) as f32);
    let sx = sx.clamp(0.0, (w - 1) as f32);
    let (y0, x0) = (sy.floor() as usize, sx.floor() as usize);
    let (y1, x1) = ((y0 + 1).min(h - 1), (x0 + 1).min(w - 1));
    let (fy, fx) = (sy - y0 as f32, sx - x0 as f32);
    let top = xp[y0 * w + x0] * (1.0 - fx) + xp[y0 * w + x1] * fx;
    let bottom = xp[y1 * w + x0] * (1.0 - fx) + xp[y1 * w + x1] * fx;
    top * (1.0 - fy) + bottom * fy
}

/// The 4 taps around `s` (at floor(s) - 1 .. floor(s) + 2, clamped to the axis) and their weights.
fn cubic_taps(s: f32, len: usize, a: f32, exclude_outside: bool) -> ([usize; 4], [f32; 4]) {
    let base = s.floor();
    let t = s - base;
    let weight = |d: f32| {
        let d = d.abs();
        if d <= 1.0 {
            ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0
        } else if d < 2.0 {
            ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a
        } else {
            0.0
        }
    };
    let mut idx = [0usize; 4];
    let mut wts = [0f32; 4];
    for k in 0..4 {
        let i = base as i64 + k as i64 - 1;
        let inside = i >= 0 && i < len as i64;
        wts[k] = if exclude_outside && !inside { 0.0 } else { weight(t + 1.0 - k as f32) };
        idx[k] = i.clamp(0, len as i64 - 1) as usize;
    }
    if exclude_outside {
        let sum: f32 = wts.iter().sum();
        if sum != 0.0 {
            wts.iter_mut().for_each(|w| *w /= sum);
        }
    }
    (idx, wts)
}

fn bicubic(xp: &[f32], [h, w]: [usize; 2], [sy, sx]: [f32; 2], a: f32, exclude_outside: bool) -> f32 {
    let (ys, wy) = cubic_taps(sy, h, a, exclude_outside);
    let (xs, wx) = cubic_taps(sx, w, a, exclude_outside);
    let mut acc = 0f32;
    for (&yi, &cy) in ys.iter().zip(&wy) {
        let row: f32 = xs.iter().zip(&wx).map(|(&xi, &cx)| cx * xp[yi * w + xi]).sum();
        acc += cy * row;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Op;

    #[test]
    fn nearest_2x_repeats_pixels() {
        let x = Tensor::from_f32(vec![1, 1, 1, 2], vec![1.0, 2.0]).unwrap();
        let r = Resize {
            mode: ResizeMode::Nearest(NearestRounding::Floor),
            coord: CoordMode::Asymmetric,
            out_hw: [2, 4],
            scales: [2.0, 2.0],
        };
        let y = Op::Resize(r).eval(&[&x]).unwrap();
        assert_eq!(y.as_f32().unwrap(), &[1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
    }

    /// Keys' weights sum to one at every offset, with and without `exclude_outside`: a constant plane stays
    /// constant, at the borders too.
    #[test]
    fn cubic_keeps_a_constant_plane() {
        let x = Tensor::from_f32(vec![1, 1, 3, 3], vec![2.5; 9]).unwrap();
        for exclude_outside in [false, true] {
            let r = Resize {
                mode: ResizeMode::Cubic { a_bits: (-0.75f32).to_bits(), exclude_outside },
                coord: CoordMode::HalfPixel,
                out_hw: [7, 5],
                scales: [7.0 / 3.0, 5.0 / 3.0],
            };
            let y = Op::Resize(r).eval(&[&x]).unwrap();
            assert!(y.as_f32().unwrap().iter().all(|&v| (v - 2.5).abs() < 1e-5), "{y:?}");
        }
    }

    /// At integer source coordinates the taps are 0, 1, 0, 0: the input itself.
    #[test]
    fn cubic_at_identity_scale_is_the_input() {
        let v: Vec<f32> = (0..12).map(|i| (i * i) as f32 * 0.1).collect();
        let x = Tensor::from_f32(vec![1, 1, 3, 4], v.clone()).unwrap();
        let r = Resize {
            mode: ResizeMode::Cubic { a_bits: (-0.5f32).to_bits(), exclude_outside: false },
            coord: CoordMode::Asymmetric,
            out_hw: [3, 4],
            scales: [1.0, 1.0],
        };
        assert_eq!(Op::Resize(r).eval(&[&x]).unwrap().as_f32().unwrap(), &v[..]);
    }
}
