//! 2-D max and average pooling (global pooling is a pool whose window is the whole map).
use super::conv::Conv;
use super::util::{arity, f32_input, f32_output, want_dtype};
use crate::error::OpError;
use crate::numerics::pool::{PoolQuant, POOL_QUANT_WORDS};
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PoolKind {
    Max,
    /// Average; padded positions are excluded from the count unless `count_include_pad`.
    Avg {
        count_include_pad: bool,
    },
}

impl PoolKind {
    pub fn name(&self) -> &'static str {
        match self {
            PoolKind::Max => "max-pool",
            PoolKind::Avg { .. } => "avg-pool",
        }
    }
}

/// Attributes of a 2-D pool on NCHW input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    pub kind: PoolKind,
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    /// Top, left, bottom, right. `ceil_mode` is expressed at import as extra bottom/right padding.
    pub pads: [usize; 4],
}

impl Pool {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        // f32 `[x]`, or int8 `[x, quant]` with the four i32 words of `numerics::pool::PoolQuant`.
        let int8 = inputs.first().is_some_and(|t| t.dtype == DType::I8);
        if int8 {
            arity(inputs.len(), 2, 2)?;
            want_dtype(inputs, 1, DType::I32)?;
            if inputs[1].shape.numel() != POOL_QUANT_WORDS {
                return Err(OpError::shape(
                    1,
                    format!("an int8 pool's quant operand has 4 words, not {}", inputs[1].shape),
                ));
            }
        } else {
            arity(inputs.len(), 1, 1)?;
            want_dtype(inputs, 0, DType::F32)?;
        }
        let [n, c, h, w] = inputs[0].shape.dims()[..] else {
            return Err(OpError::shape(0, format!("expected NCHW, got {}", inputs[0].shape)));
        };
        if self.kernel.contains(&0) || self.strides.contains(&0) {
            return Err(OpError::attr("kernel/strides", "must be >= 1"));
        }
        if self.pads[0] >= self.kernel[0] || self.pads[1] >= self.kernel[1] {
            return Err(OpError::attr("pads", format!("{:?} larger than the kernel {:?}", self.pads, self.kernel)));
        }
        match self.out_hw(h, w) {
            Some((oh, ow)) => Ok(TensorType::new(inputs[0].dtype, vec![n, c, oh, ow])),
            None => Err(OpError::shape(0, format!("window {:?} does not fit {}", self.kernel, inputs[0].shape))),
        }
    }

    /// The output plane's height and width for an `h` x `w` input, or `None` if the window does not fit.
    pub fn out_hw(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let oh = Conv::out_dim(h, self.pads[0], self.pads[2], self.kernel[0], self.strides[0], 1)?;
        let ow = Conv::out_dim(w, self.pads[1], self.pads[3], self.kernel[1], self.strides[1], 1)?;
        Some((oh, ow))
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let [n, c, h, w] = inputs[0].dims()[..] else { return Err(OpError::shape(0, "rank")) };
        let [_, _, oh, ow] = out.shape.dims()[..] else { return Err(OpError::shape(0, "rank")) };
        if let (Ok(x), Some(q)) = (inputs[0].as_i8(), inputs.get(1)) {
            let q = PoolQuant::from_words(q.as_i32()?)?;
            let y = crate::numerics::pool::eval(self, x, [n, c, h, w], [oh, ow], &q);
            return Tensor::from_i8(out.shape.dims().to_vec(), y);
        }
        let x = f32_input(inputs, 0)?;
        let mut y = Vec::with_capacity(out.shape.numel());
        for plane in 0..n * c {
            let xp = &x[plane * h * w..(plane + 1) * h * w];
            for oy in 0..oh {
                for ox in 0..ow {
                    y.push(self.window(xp, h, w, oy, ox));
                }
            }
        }
        f32_output(out, y)
    }

    /// The pooled value of one output position over one `h x w` plane.
    pub fn window(&self, plane: &[f32], h: usize, w: usize, oy: usize, ox: usize) -> f32 {
        let (mut max, mut sum, mut count) = (f32::NEG_INFINITY, 0f32, 0usize);
        self.for_each_tap(h, w, oy, ox, |i| {
            let v = plane[i];
            max = max.max(v);
            sum += v;
            count += 1;
        });
        match self.kind {
            PoolKind::Max => max,
            PoolKind::Avg { .. } => sum / self.divisor(h, w, oy, ox, count) as f32,
        }
    }

    /// Calls `f` with the plane index of each in-bounds tap of output `(oy, ox)`, row by row. Only in-bounds
    /// taps are visited, so a huge window over a small plane costs the plane, not the window.
    #[inline]
    pub fn for_each_tap(&self, h: usize, w: usize, oy: usize, ox: usize, mut f: impl FnMut(usize)) {
        let y0 = (oy * self.strides[0]) as i64 - self.pads[0] as i64;
        let x0 = (ox * self.strides[1]) as i64 - self.pads[1] as i64;
        // In-bounds input rows and columns of the window: [max(y0, 0), min(y0 + kernel, h)).
        let (ylo, yhi) = (y0.max(0), (y0 + self.kernel[0] as i64).min(h as i64));
        let (xlo, xhi) = (x0.max(0), (x0 + self.kernel[1] as i64).min(w as i64));
        for iy in ylo..yhi {
            for ix in xlo..xhi {
                f(iy as usize * w + ix as usize);
            }
        }
    }

    /// What an average divides the sum of output `(oy, ox)`'s `in_bounds` taps by (at least 1).
    pub fn divisor(&self, h: usize, w: usize, oy: usize, ox: usize, in_bounds: usize) -> usize {
        match self.kind {
            PoolKind::Avg { count_include_pad: true } => {
                // ONNX counts the window clipped to the padded input (pads included, overhang past them not).
                let y0 = (oy * self.strides[0]) as isize - self.pads[0] as isize;
                let x0 = (ox * self.strides[1]) as isize - self.pads[1] as isize;
                let ylo = y0.max(-(self.pads[0] as isize));
                let xlo = x0.max(-(self.pads[1] as isize));
                let yhi = (y0 + self.kernel[0] as isize).min((h + self.pads[2]) as isize);
                let xhi = (x0 + self.kernel[1] as isize).min((w + self.pads[3]) as isize);
                ((yhi - ylo) * (xhi - xlo)).max(1) as usize
            }
            _ => in_bounds.max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Op;

    #[test]
    fn max_and_avg_2x2() {
        let x = Tensor::from_f32(vec![1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let p = |kind| Op::Pool(Pool { kind, kernel: [2, 2], strides: [2, 2], pads: [0; 4] });
        assert_eq!(p(PoolKind::Max).eval(&[&x]).unwrap().as_f32().unwrap(), &[4.0]);
        let avg = p(PoolKind::Avg { count_include_pad: false });
        assert_eq!(avg.eval(&[&x]).unwrap().as_f32().unwrap(), &[2.5]);
    }
}
