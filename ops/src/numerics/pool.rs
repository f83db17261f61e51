//! INT8 pooling, defined once (`Pool` on int8 operands and the vector unit's `vec.pool.i8`), so a pool
//! between int8 layers needs no conversion to f32 and back (4x the DRAM and SRAM bytes of its input).
//!
//! The window's taps are `Pool`'s (the in-bounds positions; an average divides by `Pool::divisor`). With the
//! input's zero point `x_zero`, a max pool's accumulator is `max(x) - x_zero` with count 1, an average's is
//! `sum (x - x_zero)` (exact in i64) with the window's count; the output is
//! `clamp(y_zero + round(acc * mult / (count * 2^(31 - shift))), -128, 127)`, the quotient exact (i128) and
//! rounded once, ties away from zero, as `requant::requantize` (`mult * 2^(shift - 31)` is the factor
//! `x_scale / y_scale`; `shift` is clamped to `[-31, 30]`). A max pool with `PoolQuant::identity` is exact: its
//! output is its input's value. An empty max window (only padding) gives -128.
use super::requant::quantize_multiplier;
use crate::error::OpError;
use crate::op::{Pool, PoolKind};

/// The requantization of an int8 pool: the `quant` operand of `Pool` (these four i32 words, in this order)
/// and the last four fields of `vec.pool.i8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolQuant {
    pub x_zero: i32,
    pub y_zero: i32,
    pub mult: i32,
    pub shift: i32,
}

/// Words of `PoolQuant` as an operand.
pub const POOL_QUANT_WORDS: usize = 4;

impl PoolQuant {
    /// Output parameters = input parameters (factor `2^30 * 2^(1 - 31)` = 1): what a max pool uses.
    pub fn identity(zero: i32) -> Self {
        PoolQuant { x_zero: zero, y_zero: zero, mult: 1 << 30, shift: 1 }
    }

    /// From the input's `(scale, zero)` to the output's.
    pub fn between(x: (f32, i32), y: (f32, i32)) -> Result<Self, OpError> {
        let (mult, shift) = quantize_multiplier(x.0 as f64 / y.0 as f64)?;
        Ok(PoolQuant { x_zero: x.1, y_zero: y.1, mult, shift })
    }

    pub fn to_words(&self) -> [i32; POOL_QUANT_WORDS] {
        [self.x_zero, self.y_zero, self.mult, self.shift]
    }

    pub fn from_words(w: &[i32]) -> Result<Self, OpError> {
        match *w {
            [x_zero, y_zero, mult, shift] => Ok(PoolQuant { x_zero, y_zero, mult, shift }),
            _ => Err(OpError::Other(format!("an int8 pool's quant operand has 4 words, not {}", w.len()))),
        }
    }
}

/// `clamp(y_zero + round(acc * mult / (count * 2^(31 - shift))), -128, 127)`, ties away from zero; a count of
/// 0 counts as 1. Total for any arguments.
#[inline]
pub fn output(acc: i64, count: u64, q: &PoolQuant) -> i8 {
    let t = (31 - q.shift.clamp(-31, 30)) as u32;
    // |acc * mult| < 2^63 * 2^31 and count * 2^t < 2^64 * 2^62: both fit i128.
    let p = acc as i128 * q.mult as i128;
    let d = (count.max(1) as i128) << t;
    let mag = (p.unsigned_abs() + (d as u128 >> 1)) / d as u128;
    let r = if p < 0 { -(mag as i128) } else { mag as i128 };
    (q.y_zero as i128 + r).clamp(-128, 127) as i8
}

/// The int8 pooled value of output `(oy, ox)` over one `h x w` plane.
pub fn window(pool: &Pool, plane: &[i8], h: usize, w: usize, oy: usize, ox: usize, q: &PoolQuant) -> i8 {
    let (mut max, mut sum, mut count) = (i64::MIN, 0i64, 0u64);
    pool.for_each_tap(h, w, oy, ox, |i| {
        let v = plane.get(i).copied().unwrap_or(0) as i64 - q.x_zero as i64;
        max = max.max(v);
        sum += v;
        count += 1;
    });
    match pool.kind {
        PoolKind::Max if count == 0 => -128,
        PoolKind::Max => output(max, 1, q),
        PoolKind::Avg { .. } => output(sum, pool.divisor(h, w, oy, ox, count as usize) as u64, q),
    }
}

/// `Pool` on an int8 `[n, c, h, w]` tensor into `[n, c, oh, ow]`.
pub fn eval(pool: &Pool, x: &[i8], [n, c, h, w]: [usize; 4], [oh, ow]: [usize; 2], q: &PoolQuant) -> Vec<i8> {
    let mut y = Vec::with_capacity(n * c * oh * ow);
    for plane in x.chunks(h * w).take(n * c) {
        for oy in 0..oh {
            for ox in 0..ow {
                y.push(window(pool, plane, h, w, oy, ox, q));
            }
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(mult: i32, shift: i32, y_zero: i32) -> PoolQuant {
        PoolQuant { x_zero: 0, y_zero, mult, shift }
    }

    #[test]
    fn identity_is_exact_for_every_value() {
        for z in [-128, -3, 0, 127] {
            let id = PoolQuant::identity(z);
            for v in -128i64..=127 {
                assert_eq!(output(v - z as i64, 1, &id) as i64, v.clamp(-128, 127), "zero {z} value {v}");
            }
        }
    }

    #[test]
    fn averages_round_ties_away_from_zero() {
        let one = PoolQuant::identity(0);
        // 5 / 2 = 2.5 -> 3, -5 / 2 -> -3, 7 / 4 = 1.75 -> 2, -1 / 4 -> 0, 3 / 6 = 0.5 -> 1.
        assert_eq!(output(5, 2, &one), 3);
        assert_eq!(output(-5, 2, &one), -3);
        assert_eq!(output(7, 4, &one), 2);
        assert_eq!(output(-1, 4, &one), 0);
        assert_eq!(output(3, 6, &one), 1);
        assert_eq!(output(-3, 6, &one), -1);
    }

    #[test]
    fn extreme_parameters_saturate_and_never_overflow() {
        // The largest accumulator times the largest multiplier at the smallest divisor.
        assert_eq!(output(i64::MAX, 1, &q(i32::MAX, 30, 0)), 127);
        assert_eq!(output(i64::MIN, 1, &q(i32::MAX, 30, 0)), -128);
        assert_eq!(output(i64::MIN, 1, &q(i32::MIN, 30, 0)), 127);
        // The largest divisor: everything rounds to the zero point.
        assert_eq!(output(1 << 40, u64::MAX, &q(i32::MAX, -31, 5)), 5);
        // Shifts outside [-31, 30] are clamped; a count of 0 counts as 1.
        assert_eq!(output(3, 0, &q(1 << 30, 1000, 0)), output(3, 1, &q(1 << 30, 30, 0)));
        assert_eq!(output(100, 1, &q(1 << 30, -1000, 0)), 0);
        // The zero point saturates too.
        assert_eq!(output(0, 1, &q(0, 0, i32::MAX)), 127);
    }

    #[test]
    fn a_rescaling_average_matches_the_real_arithmetic() {
        // x scale 0.05, y scale 0.02: factor 2.5, computed in f64 and rounded half away from zero.
        let p = PoolQuant::between((0.05, 3), (0.02, -7)).unwrap();
        for acc in -2000i64..2000 {
            for count in [1u64, 3, 9, 49] {
                let real = acc as f64 * 2.5 / count as f64;
                let want = (-7.0 + (real.abs() + 0.5).floor().copysign(real)).clamp(-128.0, 127.0);
                assert_eq!(output(acc, count, &PoolQuant { x_zero: 3, ..p }) as f64, want, "acc {acc} count {count}");
            }
        }
    }

    /// A hostile window (65535 x 65535 over a 3 x 3 plane) pools the plane's 9 taps. (`for_each_tap` clips the
    /// window to the plane, so this takes 9 steps, not 4.3e9; a test cannot assert time, only the taps.)
    #[test]
    fn a_huge_window_over_a_small_plane_pools_the_plane() {
        let pool = Pool {
            kind: PoolKind::Avg { count_include_pad: false },
            kernel: [65535, 65535],
            strides: [1, 1],
            pads: [30000, 30000, 30000, 30000],
        };
        let mut taps = 0;
        pool.for_each_tap(3, 3, 30000, 30000, |_| taps += 1);
        assert_eq!(taps, 9);
        let x = [1i8, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(window(&pool, &x, 3, 3, 30000, 30000, &PoolQuant::identity(0)), 5);
    }

    #[test]
    fn max_and_average_windows_follow_the_f32_pool() {
        let x: Vec<i8> = (0..25).map(|i| (i * 37 % 256 - 128) as i8).collect();
        for kind in
            [PoolKind::Max, PoolKind::Avg { count_include_pad: false }, PoolKind::Avg { count_include_pad: true }]
        {
            let pool = Pool { kind, kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] };
            let id = PoolQuant::identity(-2);
            let y = eval(&pool, &x, [1, 1, 5, 5], [3, 3], &id);
            let xf: Vec<f32> = x.iter().map(|&v| v as f32 + 2.0).collect();
            for oy in 0..3 {
                for ox in 0..3 {
                    let want = pool.window(&xf, 5, 5, oy, ox) - 2.0;
                    let got = y[oy * 3 + ox] as f32;
                    // Max is exact; the averages differ by the rounding of the mean (at most 1/2).
                    assert!((got - want).abs() <= 0.5, "{kind:?} at ({oy}, {ox}): {got} vs {want}");
                }
            }
        }
    }
}
