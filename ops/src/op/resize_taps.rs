//! Resize's separable filter taps along one axis (cubic, and linear or cubic with `antialias`), as ONNX's
//! reference computes them: which input indices each output position reads and with what weights. Owns no
//! coordinate transform (`resize.rs` maps output positions to source coordinates).

/// The filter of one axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TapFilter {
    /// The triangle `1 - |d|` (support 1).
    Linear,
    /// Keys' cubic with coefficient `a` (support 2).
    Cubic { a: f32 },
}

impl TapFilter {
    fn support(self) -> f32 {
        match self {
            TapFilter::Linear => 1.0,
            TapFilter::Cubic { .. } => 2.0,
        }
    }

    fn weight(self, d: f32) -> f32 {
        let d = d.abs();
        match self {
            TapFilter::Linear => (1.0 - d).clamp(0.0, 1.0),
            TapFilter::Cubic { a } => {
                if d <= 1.0 {
                    ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0
                } else if d < 2.0 {
                    ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a
                } else {
                    0.0
                }
            }
        }
    }
}

/// How far the filter is stretched: by `1 / scale` when antialiasing a downsampling, else not at all.
pub fn filter_scale(scale: f32, antialias: bool) -> f32 {
    if antialias {
        scale.min(1.0)
    } else {
        1.0
    }
}

/// The number of taps per output position: `2 - 2 * start` with `start = floor(-support / s) + 1`, as the
/// reference's `_linear_coeffs_antialias` / `_cubic_coeffs_antialias` size their windows. `None` when the
/// stretched filter would need more taps than `limit`.
pub fn tap_count(filter: TapFilter, filter_scale: f32, limit: usize) -> Option<usize> {
    let start = (-filter.support() / filter_scale).floor() + 1.0;
    let n = 2.0 - 2.0 * start;
    (n.is_finite() && n <= limit as f32).then_some(n as usize)
}

/// The taps of every output position along one axis.
#[derive(Debug, Clone, PartialEq)]
pub struct AxisTaps {
    /// Taps per output position.
    pub count: usize,
    /// Per output position, the input index of its first tap (the others follow); indices outside the axis
    /// read its edge.
    pub first: Vec<i64>,
    /// `count` weights per output position.
    pub weights: Vec<f32>,
}

impl AxisTaps {
    /// The taps at source coordinates `src` on an axis of `in_len`, with `count` from [`tap_count`].
    ///
    /// The window starts left of `s`: an integer `s` counts as the right end of the unit interval before it
    /// (the reference's ratio in `(0, 1]`). A stretched filter's weights are renormalized to sum to one;
    /// `exclude_outside` then drops the taps outside the axis and renormalizes again.
    pub fn new(
        filter: TapFilter,
        filter_scale: f32,
        count: usize,
        src: &[f32],
        in_len: usize,
        exclude_outside: bool,
    ) -> AxisTaps {
        let start = 1 - (count / 2) as i64;
        let mut first = Vec::with_capacity(src.len());
        let mut weights = Vec::with_capacity(src.len() * count);
        for &s in src {
            let floor = s.floor();
            let base = if floor == s { floor - 1.0 } else { floor };
            let ratio = s - base;
            let w0 = weights.len();
            for k in 0..count as i64 {
                let d = (start + k) as f32 - ratio;
                weights.push(filter.weight(d * filter_scale));
            }
            let first_index = base as i64 + start;
            let row = &mut weights[w0..];
            if filter_scale != 1.0 {
                normalize(row);
            }
            if exclude_outside {
                for (k, w) in row.iter_mut().enumerate() {
                    let i = first_index + k as i64;
                    if i < 0 || i >= in_len as i64 {
                        *w = 0.0;
                    }
                }
                normalize(row);
            }
            first.push(first_index);
        }
        AxisTaps { count, first, weights }
    }

    /// The clamped input index and weight of tap `k` of output position `o`.
    pub fn tap(&self, o: usize, k: usize, in_len: usize) -> (usize, f32) {
        let i = (self.first[o] + k as i64).clamp(0, in_len as i64 - 1) as usize;
        (i, self.weights[o * self.count + k])
    }
}

fn normalize(row: &mut [f32]) {
    let sum: f32 = row.iter().sum();
    if sum != 0.0 {
        row.iter_mut().for_each(|w| *w /= sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `_linear_coeffs_antialias(ratio, 0.6)`: window [-1, 3) around the floor, triangle stretched by 1/0.6.
    #[test]
    fn linear_antialias_matches_the_reference_window() {
        let f = TapFilter::Linear;
        let n = tap_count(f, 0.6, 64).unwrap();
        assert_eq!(n, 4);
        let t = AxisTaps::new(f, 0.6, n, &[1.5], 4, false);
        assert_eq!(t.first, vec![0]);
        // args (-1.5, -0.5, 0.5, 1.5) * 0.6 -> 1 - |x| clipped: 0.1, 0.7, 0.7, 0.1, then / 1.6.
        let want = [0.0625, 0.4375, 0.4375, 0.0625];
        assert!(t.weights.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "{:?}", t.weights);
    }

    /// Plain cubic: 4 taps, an integer coordinate reads the input itself.
    #[test]
    fn cubic_at_an_integer_coordinate_is_one_tap() {
        let f = TapFilter::Cubic { a: -0.75 };
        let n = tap_count(f, 1.0, 64).unwrap();
        assert_eq!(n, 4);
        let t = AxisTaps::new(f, 1.0, n, &[2.0], 5, false);
        assert_eq!(t.first, vec![0]);
        assert_eq!(t.weights, vec![0.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn a_tiny_scale_is_refused() {
        assert_eq!(tap_count(TapFilter::Cubic { a: -0.5 }, 1e-30, 1 << 20), None);
        assert_eq!(tap_count(TapFilter::Cubic { a: -0.5 }, 0.25, 1 << 20), Some(16));
    }
}
