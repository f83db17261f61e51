//! GridSample (spatial transformers, flow warping): each output position reads the input at the normalized
//! coordinates of the grid, `[-1, 1]` spanning the input, by nearest, linear or cubic interpolation, with zero,
//! border or reflection padding. Any number of spatial axes (4-D NCHW, 5-D NCDHW). The arithmetic follows the
//! ONNX reference step by step (coordinates in f32, reflection in f64, interpolation separable by axis, inner
//! axes first) so that rounding ties and border cases land where it puts them.
use super::util::{arity, f32_output, want_dtype};
use crate::error::OpError;
use crate::shape::Shape;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GridMode {
    /// `bilinear` (opset 16) / `linear`.
    Linear,
    /// Rounds half to even, as PyTorch and the reference do.
    Nearest,
    /// `bicubic` / `cubic`: Keys' kernel with a = -0.75.
    Cubic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GridPadding {
    Zeros,
    Border,
    Reflection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridSample {
    pub mode: GridMode,
    pub padding: GridPadding,
    /// -1 and 1 name the centers of the corner pixels (true) or their outer edges (false).
    pub align_corners: bool,
}

impl GridSample {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 2, 2)?;
        want_dtype(inputs, 0, DType::F32)?;
        want_dtype(inputs, 1, DType::F32)?;
        let (x, g) = (inputs[0].shape.dims(), inputs[1].shape.dims());
        let r = x.len();
        if r < 3 || g.len() != r || g[0] != x[0] || g[r - 1] != r - 2 {
            return Err(OpError::shape(1, format!("grid {:?} does not fit input {:?}", g, x)));
        }
        if x[2..].contains(&0) {
            return Err(OpError::shape(0, format!("input {:?} has an empty spatial axis", x)));
        }
        let mut out = vec![x[0], x[1]];
        out.extend_from_slice(&g[1..r - 1]);
        Ok(TensorType { dtype: DType::F32, shape: Shape(out) })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let (x, grid) = (inputs[0].as_f32()?, inputs[1].as_f32()?);
        let xd = inputs[0].dims();
        let (n, c, dims) = (xd[0], xd[1], &xd[2..]);
        let sp = dims.len();
        let in_len: usize = dims.iter().product();
        let out_len: usize = out.shape.dims()[2..].iter().product();
        // Element strides of the spatial axes inside one channel.
        let strides: Vec<usize> = (0..sp).map(|a| dims[a + 1..].iter().product()).collect();
        let mut y = vec![0f32; n * c * out_len];
        let mut taps: Vec<Vec<(Option<usize>, f32)>> = vec![Vec::new(); sp];
        for b in 0..n {
            for p in 0..out_len {
                let at = &grid[(b * out_len + p) * sp..][..sp];
                // The grid lists (x, y, z): the innermost axis first.
                for (a, tap) in taps.iter_mut().enumerate() {
                    *tap = self.axis_taps(at[sp - 1 - a], dims[a]);
                }
                for ch in 0..c {
                    let data = &x[(b * c + ch) * in_len..][..in_len];
                    y[(b * c + ch) * out_len + p] = separable(data, &taps, &strides, 0, 0);
                }
            }
        }
        f32_output(out, y)
    }

    /// The input indices (None: a zero from padding) and weights along one axis of length `len` for the
    /// normalized coordinate `g`.
    fn axis_taps(&self, g: f32, len: usize) -> Vec<(Option<usize>, f32)> {
        let (lo, hi) = if self.align_corners { (0.0, len as f64 - 1.0) } else { (-0.5, len as f64 - 0.5) };
        let mut v = if self.align_corners {
            (g + 1.0) / 2.0 * (len as f32 - 1.0)
        } else {
            ((g + 1.0) * len as f32 - 1.0) / 2.0
        };
        if self.mode == GridMode::Nearest {
            v = v.round_ties_even();
        }
        if f64::from(v) < lo || f64::from(v) > hi {
            match self.padding {
                GridPadding::Border => v = v.clamp(0.0, len as f32 - 1.0),
                GridPadding::Reflection => v = reflect(f64::from(v), lo, hi) as f32,
                GridPadding::Zeros => {}
            }
        }
        let pick = |i: i64| self.pixel(i, len, lo, hi);
        match self.mode {
            // Truncation toward zero, as `astype(int32)`; `as` saturates.
            GridMode::Nearest => vec![(pick(v as i64), 1.0)],
            GridMode::Linear => {
                let i0 = v.floor() as i64;
                let t = (v - i0 as f32).abs();
                vec![(pick(i0), 1.0 - t), (pick(i0.saturating_add(1)), t)]
            }
            GridMode::Cubic => {
                let i0 = v.floor() as i64;
                let w = cubic(v - i0 as f32);
                (0..4).map(|k| (pick(i0.saturating_add(k - 1)), w[k as usize])).collect()
            }
        }
    }

    /// The index that position `i` reads under the padding mode, or None for a zero.
    fn pixel(&self, i: i64, len: usize, lo: f64, hi: f64) -> Option<usize> {
        let last = len as i64 - 1;
        let i = match self.padding {
            GridPadding::Zeros => return usize::try_from(i).ok().filter(|&i| i < len),
            GridPadding::Border => i.clamp(0, last),
            // Truncation toward zero as `int()`; clamped so that no float surprise indexes out of bounds.
            GridPadding::Reflection => (reflect(i as f64, lo, hi) as i64).clamp(0, last),
        };
        Some(i as usize)
    }

    /// Multiply-accumulates (taps per output element), so that a large all-constant one is not folded.
    pub fn macs(&self, inputs: &[TensorType], output: &TensorType) -> u64 {
        let sp = inputs.first().map_or(0, |x| x.shape.rank().saturating_sub(2)) as u32;
        let per_axis: u64 = match self.mode {
            GridMode::Nearest => 1,
            GridMode::Linear => 2,
            GridMode::Cubic => 4,
        };
        (output.shape.numel() as u64).saturating_mul(per_axis.saturating_pow(sp))
    }
}

/// The value at the taps of axes `a..` from offset `base`: the 1-D interpolation along axis `a` of the values
/// the inner axes give, summed in tap order as the reference's dot products are.
fn separable(data: &[f32], taps: &[Vec<(Option<usize>, f32)>], strides: &[usize], a: usize, base: usize) -> f32 {
    if a == taps.len() {
        return data.get(base).copied().unwrap_or(0.0);
    }
    let mut sum = 0f32;
    for &(i, w) in &taps[a] {
        let v = match i {
            Some(i) => separable(data, taps, strides, a + 1, base + i * strides[a]),
            None => 0.0,
        };
        sum += w * v;
    }
    sum
}

/// Reflects `x` by the nearer border until it lies in `[lo, hi]` (the reference's `_gs_reflect`).
fn reflect(x: f64, lo: f64, hi: f64) -> f64 {
    let range = hi - lo;
    if range <= 0.0 {
        // One pixel with aligned corners: every position is that pixel (the reference divides by zero).
        return lo;
    }
    let fold = |d: f64, near: f64, far: f64, toward: f64| {
        let k = (d / range).trunc();
        let r = d - k * range;
        if k % 2.0 == 0.0 {
            near + toward * r
        } else {
            far - toward * r
        }
    };
    if x < lo {
        fold(lo - x, lo, hi, 1.0)
    } else if x > hi {
        fold(x - hi, hi, lo, -1.0)
    } else {
        x
    }
}

/// Keys' cubic convolution weights of the four taps around a point at fraction `t` past the second.
fn cubic(t: f32) -> [f32; 4] {
    const A: f32 = -0.75;
    let x = t.abs();
    let far = |d: f32| ((A * d - 5.0 * A) * d + 8.0 * A) * d - 4.0 * A;
    let near = |d: f32| ((A + 2.0) * d - (A + 3.0)) * d * d + 1.0;
    [far(x + 1.0), near(x), near(1.0 - x), far(2.0 - x)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(op: &GridSample, x: &Tensor, g: &Tensor) -> Vec<f32> {
        let out = op.infer(&[x.ty(), g.ty()]).unwrap();
        op.eval(&[x, g], &out).unwrap().as_f32().unwrap().to_vec()
    }

    #[test]
    fn samples_a_row_by_each_mode() {
        // One row [0, 10, 20, 30]; grid x in [-1, 1] with align_corners maps onto pixel centers 0..3.
        let x = Tensor::from_f32(vec![1, 1, 1, 4], vec![0.0, 10.0, 20.0, 30.0]).unwrap();
        let g = Tensor::from_f32(vec![1, 1, 3, 2], vec![-1.0, 0.0, 0.0, 0.0, 1.5, 0.0]).unwrap();
        let op = |mode, padding| GridSample { mode, padding, align_corners: true };
        // x: -1 -> 0, 0 -> 1.5, 1.5 -> 3.75 (outside: zero padding fades to 0 past the last pixel).
        assert_eq!(run(&op(GridMode::Linear, GridPadding::Zeros), &x, &g), vec![0.0, 15.0, 7.5]);
        assert_eq!(run(&op(GridMode::Linear, GridPadding::Border), &x, &g), vec![0.0, 15.0, 30.0]);
        // Reflection: 3.75 reflects to 2.25.
        assert_eq!(run(&op(GridMode::Linear, GridPadding::Reflection), &x, &g), vec![0.0, 15.0, 22.5]);
        // Nearest rounds 1.5 to 2 (even), 3.75 to 4 (outside: 0).
        assert_eq!(run(&op(GridMode::Nearest, GridPadding::Zeros), &x, &g), vec![0.0, 20.0, 0.0]);
        // Cubic reproduces a linear ramp inside the image.
        let mid = run(&op(GridMode::Cubic, GridPadding::Border), &x, &g)[1];
        assert!((mid - 15.0).abs() < 1e-4, "{mid}");
        // A grid that does not match the input is refused.
        let bad = Tensor::from_f32(vec![1, 1, 3, 3], vec![0.0; 9]).unwrap();
        assert!(op(GridMode::Linear, GridPadding::Zeros).infer(&[x.ty(), bad.ty()]).is_err());
    }

    #[test]
    fn reflection_folds_back_and_forth() {
        assert_eq!(reflect(-1.0, 0.0, 3.0), 1.0);
        assert_eq!(reflect(7.0, 0.0, 3.0), 1.0);
        assert_eq!(reflect(-4.0, 0.0, 3.0), 2.0);
        assert_eq!(reflect(5.0, 0.0, 0.0), 0.0);
    }
}
