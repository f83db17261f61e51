//! Resize of the two spatial axes of NCHW input: nearest, bilinear and bicubic (optionally antialiased), with
//! ONNX coordinate modes. The reference semantics; the separable filter taps live in `resize_taps.rs`.
use super::resize_taps::{filter_scale, tap_count, AxisTaps, TapFilter};
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
    /// Crop to the region of interest (per axis, start and end as fractions of `in - 1`, f32 bits) and resize
    /// it with aligned corners; a source coordinate outside the input gives `extrapolation` (f32 bits).
    TfCropAndResize {
        start_bits: [u32; 2],
        end_bits: [u32; 2],
        extrapolation_bits: u32,
    },
}

impl CoordMode {
    /// The value of output positions whose source falls outside the input, if this mode has one.
    pub fn extrapolation(&self) -> Option<f32> {
        match self {
            CoordMode::TfCropAndResize { extrapolation_bits, .. } => Some(f32::from_bits(*extrapolation_bits)),
            _ => None,
        }
    }
}

/// ONNX's unrounded output length `in * scale`, which align_corners and tf_crop_and_resize divide by. A scale
/// that is exactly the f32 ratio `out / in` (sizes given, or an integral `in * scale`) stands for `out` itself.
pub fn unrounded_len(in_len: usize, out_len: usize, scale: f32) -> f32 {
    if out_len as f32 / in_len as f32 == scale {
        out_len as f32
    } else {
        scale * in_len as f32
    }
}

/// The constants of tf_crop_and_resize's source coordinate `o * step / den + offset` on one axis.
pub fn crop_terms(start: f32, end: f32, in_len: usize, out_len: usize, scale: f32) -> CropTerms {
    let last = in_len as f32 - 1.0;
    let len = unrounded_len(in_len, out_len, scale);
    let span = (end - start) * last;
    let offset = start * last;
    if len == 1.0 {
        // One output: the centre of the region.
        CropTerms { step: 0.0, den: 1.0, offset: span / 2.0 + offset }
    } else {
        CropTerms { step: span, den: len - 1.0, offset }
    }
}

/// See [`crop_terms`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropTerms {
    pub step: f32,
    pub den: f32,
    pub offset: f32,
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
    /// Linear and cubic widen their filter by `1 / scale` when downsampling (ONNX `antialias`, opset 18).
    pub antialias: bool,
}

/// The most taps per output position an antialiased axis may need: a non-empty output has `scale >= 1 / (2 in)`
/// (sizes rounded half up), so a cubic window spans at most `8 in` taps; anything wider is a corrupt scale.
fn tap_limit(in_len: usize) -> usize {
    8 * in_len + 8
}

impl Resize {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        // Int8 only where the output is a gather of the input (nearest, no extrapolated constant).
        if !(self.moves_int8() && inputs[0].dtype == DType::I8) {
            want_dtype(inputs, 0, DType::F32)?;
        }
        let [n, c, _, _] = inputs[0].shape.dims()[..] else {
            return Err(OpError::shape(0, format!("resize supports NCHW, got {}", inputs[0].shape)));
        };
        if self.scales.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return Err(OpError::attr("scales", format!("{:?} must be finite and > 0", self.scales)));
        }
        if let CoordMode::TfCropAndResize { start_bits, end_bits, .. } = self.coord {
            if start_bits.iter().chain(&end_bits).any(|b| !f32::from_bits(*b).is_finite()) {
                return Err(OpError::attr("roi", "must be finite"));
            }
        }
        let hw = &inputs[0].shape.dims()[2..];
        for (a, &len) in hw.iter().enumerate() {
            if len == 0 && self.out_hw[a] > 0 {
                return Err(OpError::shape(
                    0,
                    format!("resize of an empty axis {} to {} elements", a + 2, self.out_hw[a]),
                ));
            }
            if let Some(filter) = self.filter() {
                let fs = filter_scale(self.scales[a], self.antialias);
                if tap_count(filter, fs, tap_limit(len)).is_none() {
                    return Err(OpError::attr(
                        "scales",
                        format!("antialias with scale {} on an axis of {len} needs too many taps", self.scales[a]),
                    ));
                }
            }
        }
        Ok(TensorType::new(inputs[0].dtype, vec![n, c, self.out_hw[0], self.out_hw[1]]))
    }

    /// Whether every output element is one input element (nearest, no extrapolation), so that the resize
    /// works on int8 with its input's scale and zero point.
    pub fn moves_int8(&self) -> bool {
        matches!(self.mode, ResizeMode::Nearest(_)) && self.coord.extrapolation().is_none()
    }

    /// The separable filter of the cubic and antialiased modes; `None` for nearest and plain bilinear.
    fn filter(&self) -> Option<TapFilter> {
        match self.mode {
            ResizeMode::Cubic { a_bits, .. } => Some(TapFilter::Cubic { a: f32::from_bits(a_bits) }),
            ResizeMode::Linear if self.antialias => Some(TapFilter::Linear),
            ResizeMode::Linear | ResizeMode::Nearest(_) => None,
        }
    }

    /// The source coordinate of output position `out` on spatial axis `axis` (0: height, 1: width).
    fn source(&self, axis: usize, out: usize, in_len: usize, out_len: usize) -> f32 {
        let scale = self.scales[axis];
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
                    o * (in_len as f32 - 1.0) / (unrounded_len(in_len, out_len, scale) - 1.0)
                } else {
                    0.0
                }
            }
            CoordMode::TfCropAndResize { start_bits, end_bits, .. } => {
                let (start, end) = (f32::from_bits(start_bits[axis]), f32::from_bits(end_bits[axis]));
                let t = crop_terms(start, end, in_len, out_len, scale);
                o * t.step / t.den + t.offset
            }
            CoordMode::Asymmetric => o / scale,
            CoordMode::HalfPixelSymmetric => symmetric_offset(in_len, out_len, scale) + ((o + 0.5) / scale - 0.5),
        }
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let [n, c, h, w] = inputs[0].dims()[..] else { return Err(OpError::shape(0, "rank")) };
        let [oh, ow] = self.out_hw;
        let sy: Vec<f32> = (0..oh).map(|o| self.source(0, o, h, oh)).collect();
        let sx: Vec<f32> = (0..ow).map(|o| self.source(1, o, w, ow)).collect();
        if let (Ok(x), ResizeMode::Nearest(r)) = (inputs[0].as_i8(), self.mode) {
            // `infer` admits int8 only for a gather: nearest, no extrapolation.
            let (iy, ix): (Vec<usize>, Vec<usize>) =
                (sy.iter().map(|&s| nearest(s, r, h)).collect(), sx.iter().map(|&s| nearest(s, r, w)).collect());
            let mut y = Vec::with_capacity(out.shape.numel());
            for xp in x.chunks(h * w).take(n * c) {
                for &yy in &iy {
                    y.extend(ix.iter().map(|&xx| xp[yy * w + xx]));
                }
            }
            return Tensor::from_i8(out.shape.dims().to_vec(), y);
        }
        let x = f32_input(inputs, 0)?;
        // tf_crop_and_resize: a source outside the input on either axis gives the extrapolation value.
        let outside = |s: f32, len: usize| s < 0.0 || s > len as f32 - 1.0;
        let extrapolation = self.coord.extrapolation();
        let taps = match self.filter() {
            Some(filter) => {
                let exclude_outside = matches!(self.mode, ResizeMode::Cubic { exclude_outside: true, .. });
                let axis = |src: &[f32], len: usize, scale: f32| {
                    let fs = filter_scale(scale, self.antialias);
                    let count = tap_count(filter, fs, tap_limit(len))
                        .ok_or_else(|| OpError::attr("scales", "antialias needs too many taps"))?;
                    Ok::<_, OpError>(AxisTaps::new(filter, fs, count, src, len, exclude_outside))
                };
                Some((axis(&sy, h, self.scales[0])?, axis(&sx, w, self.scales[1])?))
            }
            None => None,
        };
        let mut y = Vec::with_capacity(out.shape.numel());
        for plane in 0..n * c {
            let xp = &x[plane * h * w..(plane + 1) * h * w];
            for oy in 0..oh {
                for ox in 0..ow {
                    let (sy, sx) = (sy[oy], sx[ox]);
                    if let Some(e) = extrapolation.filter(|_| outside(sy, h) || outside(sx, w)) {
                        y.push(e);
                        continue;
                    }
                    y.push(match (&taps, self.mode) {
                        (Some((ty, tx)), _) => separable(xp, [h, w], [ty, tx], [oy, ox]),
                        (None, ResizeMode::Nearest(r)) => xp[nearest(sy, r, h) * w + nearest(sx, r, w)],
                        (None, _) => bilinear(xp, h, w, sy, sx),
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

/// One output of a separable filter: the weighted sum over the height taps of the weighted rows.
fn separable(xp: &[f32], [h, w]: [usize; 2], [ty, tx]: [&AxisTaps; 2], [oy, ox]: [usize; 2]) -> f32 {
    let mut acc = 0f32;
    for ky in 0..ty.count {
        let (yi, cy) = ty.tap(oy, ky, h);
        let mut row = 0f32;
        for kx in 0..tx.count {
            let (xi, cx) = tx.tap(ox, kx, w);
            row += cx * xp[yi * w + xi];
        }
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
            antialias: false,
        };
        let y = Op::Resize(r).eval(&[&x]).unwrap();
        assert_eq!(y.as_f32().unwrap(), &[1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]);
    }

    /// Int8 nearest resizes gather the same elements as f32 ones, for every rounding and a fractional scale;
    /// linear resizes stay f32 only.
    #[test]
    fn int8_nearest_gathers_what_f32_does() {
        let v: Vec<i8> = (0..2 * 5 * 7).map(|i| (i * 37 % 251) as i8).collect();
        let xi = Tensor::from_i8(vec![1, 2, 5, 7], v.clone()).unwrap();
        let xf = Tensor::from_f32(vec![1, 2, 5, 7], v.iter().map(|&q| q as f32).collect()).unwrap();
        for rounding in [
            NearestRounding::Floor,
            NearestRounding::Ceil,
            NearestRounding::RoundPreferFloor,
            NearestRounding::RoundPreferCeil,
        ] {
            for coord in [CoordMode::Asymmetric, CoordMode::HalfPixel, CoordMode::AlignCorners] {
                let r = Resize {
                    mode: ResizeMode::Nearest(rounding),
                    coord,
                    out_hw: [12, 9],
                    scales: [2.4, 1.3],
                    antialias: false,
                };
                let yi = Op::Resize(r.clone()).eval(&[&xi]).unwrap();
                let yf = Op::Resize(r).eval(&[&xf]).unwrap();
                let want: Vec<f32> = yf.as_f32().unwrap().to_vec();
                let got: Vec<f32> = yi.as_i8().unwrap().iter().map(|&q| q as f32).collect();
                assert_eq!(got, want, "{rounding:?} {coord:?}");
            }
        }
        let linear = Resize {
            mode: ResizeMode::Linear,
            coord: CoordMode::HalfPixel,
            out_hw: [10, 14],
            scales: [2.0; 2],
            antialias: false,
        };
        assert!(Op::Resize(linear).eval(&[&xi]).is_err());
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
                antialias: false,
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
            antialias: false,
        };
        assert_eq!(Op::Resize(r).eval(&[&x]).unwrap().as_f32().unwrap(), &v[..]);
    }

    /// An empty input axis with a non-empty output (sizes given explicitly) has nothing to read: every mode
    /// refuses it instead of indexing outside the input.
    #[test]
    fn an_empty_input_axis_is_refused() {
        let x = Tensor::from_f32(vec![1, 1, 0, 2], vec![]).unwrap();
        let modes = [
            ResizeMode::Nearest(NearestRounding::Floor),
            ResizeMode::Linear,
            ResizeMode::Cubic { a_bits: (-0.75f32).to_bits(), exclude_outside: false },
        ];
        for mode in modes {
            for antialias in [false, true] {
                let r = Resize { mode, coord: CoordMode::HalfPixel, out_hw: [2, 2], scales: [0.5, 1.0], antialias };
                assert!(Op::Resize(r).eval(&[&x]).is_err(), "{mode:?} antialias {antialias}");
            }
        }
    }
}
