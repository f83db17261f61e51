//! Requantization of the INT8 MAC commands' int32 accumulators to their int8 outputs:
//! `numerics::requant::output` per element (the one definition), then the fused activation's lookup table.
//! One channel's plane at a time in branch-free integer arithmetic that vectorizes, bit for bit the
//! definition; it must never round differently from it, so parameters outside the proven bounds take the
//! definition per element.
use super::gemm::{dispatch, Simd};
use accel_ops::numerics::requant::{output, QuantHeader, QuantParams};
use rayon::prelude::*;

/// Elements per task of `requant_all` on planes: whole planes, in parallel only beyond this.
const TASK: usize = 1 << 15;

/// Requantizes accumulators whose element `i` belongs to channel `(i / plane) % channels`: channel-major
/// blocks of `plane` elements (a convolution), or with `plane == 1` rows of channels (a matmul). Works a
/// block (one channel's plane, or one row) at a time, tasks of whole planes in parallel: no per-element
/// division, and one instruction-set dispatch per task, not per plane (a 7x7 plane is only 49 elements).
/// `y` has `acc`'s length; every element is written. A lookup table then maps each block's outputs in place.
pub(super) fn requant_all(acc: &[i32], plane: usize, q: &QuantParams, residual: Option<&[i8]>, y: &mut [i8]) {
    let c = q.channels.len().max(1);
    let param = |ch: usize| q.channels.get(ch).copied().unwrap_or((0, 0));
    if plane <= 1 {
        y.par_chunks_mut(c).zip(acc.par_chunks(c)).enumerate().for_each(|(b, (out, a))| {
            let res = residual.and_then(|r| r.get(b * c..b * c + a.len()));
            for (i, (o, &v)) in out.iter_mut().zip(a).enumerate() {
                *o = q.activate(output(v, param(i), &q.header, res.map(|r| r[i])));
            }
        });
        return;
    }
    let per = (TASK / plane).max(1) * plane;
    let run = |(t, (out, acc)): (usize, (&mut [i8], &[i32]))| {
        dispatch(Planes { acc, out, plane, first: t * per, q, residual });
    };
    if y.len() <= per {
        run((0, (y, acc)));
    } else {
        y.par_chunks_mut(per).zip(acc.par_chunks(per)).enumerate().for_each(run);
    }
}

/// Whole planes of `requant_all`, the first at element `first` of the command's output.
struct Planes<'a> {
    acc: &'a [i32],
    out: &'a mut [i8],
    plane: usize,
    first: usize,
    q: &'a QuantParams,
    /// The command's whole residual.
    residual: Option<&'a [i8]>,
}

impl Simd for Planes<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let q = self.q;
        let c = q.channels.len().max(1);
        // The channel of each plane by a counter, not a division per plane (a 7x7 plane is only 49 elements).
        let mut ch = self.first / self.plane % c;
        for (i, (out, acc)) in self.out.chunks_mut(self.plane).zip(self.acc.chunks(self.plane)).enumerate() {
            let at = self.first + i * self.plane;
            let param = q.channels.get(ch).copied().unwrap_or((0, 0));
            ch = if ch + 1 == c { 0 } else { ch + 1 };
            let residual = self.residual.and_then(|r| r.get(at..at + acc.len()));
            RequantPlane { acc, out: &mut *out, param, header: &q.header, residual }.run();
            if q.table.is_some() {
                out.iter_mut().for_each(|o| *o = q.activate(*o));
            }
        }
    }
}

/// One channel's plane of accumulators requantized with uniform parameters, with or without a residual and
/// a fused LeakyReLU: `numerics::output` in a branch-free form (the same integer arithmetic in i64, see
/// `sum_rounded` for the residual's sum), compiled per instruction set by `dispatch` so that it vectorizes.
/// The differential tests `requant_plane_matches_numerics`,
/// `requant_plane_with_residual_matches_numerics_at_the_edges` and
/// `requant_plane_with_fine_residuals_and_leaky_matches_numerics` hold it to `output` bit for bit.
pub(super) struct RequantPlane<'a> {
    pub(super) acc: &'a [i32],
    pub(super) out: &'a mut [i8],
    pub(super) param: (i32, i32),
    pub(super) header: &'a QuantHeader,
    /// The residual's int8 values (same length), requantized by the header's `r_*` and added.
    pub(super) residual: Option<&'a [i8]>,
}

/// `numerics::requantize` without branches or absolute values: round half away from zero of `v * m / 2^t`
/// (`half = 2^(t - 1)`), not yet saturated to i32. For `p = v m >= 0` that is `(p + half) >> t`; for `p < 0`,
/// `-((-p + half) >> t) = (p + half - 1) >> t` (floor division, `2^t - half = half`), so the sign's `-1` is
/// the only difference. `v` and `m` are i32 widened, so the product is one signed 32 x 32 -> 64 multiply;
/// `|p| <= 2^62`, `half <= 2^61`: no overflow.
#[inline(always)]
fn requant_unsaturated(v: i32, m: i32, t: u32, half: i64) -> i64 {
    let p = v as i64 * m as i64;
    (p + half + (p >> 63)) >> t
}

/// `numerics::requantize`: `requant_unsaturated` saturated to i32.
#[inline(always)]
fn requant_branchless(v: i32, m: i32, t: u32, half: i64) -> i64 {
    requant_unsaturated(v, m, t, half).clamp(i32::MIN as i64, i32::MAX as i64)
}

/// The divisor exponent of a `(multiplier, shift)` pair, as `numerics::requant` clamps it: `1 ..= 62`.
fn exponent(shift: i32) -> u32 {
    (31 - shift.clamp(-31, 30)) as u32
}

/// The grids of a residual's sum: `numerics::requantize_sum(v, (m, s), u, (n, s_u))` rounds `v m 2^-t + u n
/// 2^-t_u` once on the finer grid `2^-big`, `big = max(t, t_u)`. The term on the coarser grid (`coarse`, on
/// `2^-tc`) is split into whole units of the finer grid's divisor, `q = floor(c / 2^tc)`, which leave the
/// rounding unchanged, and a remainder `c - q 2^tc` in `[0, 2^tc)` that joins the finer term:
/// `s' = f + rem 2^(big - tc)` with `|s'| < 2^62 + 2^big`. Then for `s = s' + q 2^big`:
/// `s < 0` iff `floor(s' / 2^big) + q < 0`; a non-negative `s` rounds to `q + floor((s' + h) / 2^big)` and a
/// negative one to `q - floor((h - s') / 2^big) = q + floor((s' + h - 1) / 2^big)` (`h = 2^(big - 1)`), both
/// exact in i64 when `big <= 61`.
#[derive(Clone, Copy)]
struct SumGrid {
    big: u32,
    tc: u32,
    up: u32,
    half: i64,
}

impl SumGrid {
    /// The grid for the accumulator's exponent `t` and the residual's `tr`, unless the finer is `2^-62`
    /// (where `s'` could overflow i64: the definition runs instead).
    fn new(t: u32, tr: u32) -> Option<SumGrid> {
        let (big, tc) = (t.max(tr), t.min(tr));
        (big <= 61).then(|| SumGrid { big, tc, up: big - tc, half: 1i64 << (big - 1) })
    }

    /// `requantize_sum`'s value for the finer-grid term `f` and the coarser-grid term `c` (both products of two
    /// i32, so `|f|, |c| <= 2^62`), without branches: the sign of the sum picks the `-1` of the floor form.
    #[inline(always)]
    fn sum_rounded(self, f: i64, c: i64) -> i64 {
        let q = c >> self.tc;
        let rem = c & ((1i64 << self.tc) - 1);
        let s = f + (rem << self.up);
        let neg = ((s >> self.big) + q) >> 63;
        q + ((s + self.half + neg) >> self.big)
    }
}

/// The clamp and the fused LeakyReLU of `output` after the requantized value `t`.
#[derive(Clone, Copy)]
struct Finish {
    y_zero: i64,
    lo: i64,
    hi: i64,
    neg_mult: i32,
}

impl Finish {
    fn new(h: &QuantHeader) -> Finish {
        let (lo, hi) = (h.y_min.max(-128) as i64, h.y_max.min(127) as i64);
        Finish { y_zero: h.y_zero as i64, lo: lo.clamp(-128, 127), hi: hi.clamp(-128, 127), neg_mult: h.neg_mult }
    }

    /// `output`'s last steps: with `LEAKY`, a negative `t` becomes `requantize(sat_i32(t), neg_mult, 0)`; then
    /// `clamp(y_zero + t, lo, hi)` (`|t| <= 2^62 + 1`, so the sum cannot overflow).
    #[inline(always)]
    fn apply<const LEAKY: bool>(self, t: i64) -> i8 {
        let t = if LEAKY {
            let l = requant_branchless(t.max(i32::MIN as i64) as i32, self.neg_mult, 31, 1 << 30);
            if t < 0 {
                l
            } else {
                t
            }
        } else {
            t
        };
        (self.y_zero + t).max(self.lo).min(self.hi) as i8
    }
}

impl RequantPlane<'_> {
    /// Without a residual. `SAT`: saturate the requantized value to i32 first, as `requantize` does; that
    /// can change the output only when `y_zero` is far outside int8 (`Finish`'s clamp to at most `[-128,
    /// 127]` sees the same side of it either way when `|y_zero| < 2^30`, since then an unsaturated value
    /// beyond i32 and its saturation both put the sum beyond the clamp on the same side).
    #[inline(always)]
    fn plain<const LEAKY: bool, const SAT: bool>(self, fin: Finish) {
        let (m, t) = (self.param.0, exponent(self.param.1));
        let half = 1i64 << (t - 1);
        for (o, &v) in self.out.iter_mut().zip(self.acc) {
            let r = if SAT { requant_branchless(v, m, t, half) } else { requant_unsaturated(v, m, t, half) };
            *o = fin.apply::<LEAKY>(r);
        }
    }

    /// With a residual `res` on `grid`; `ACC_FINE`: the accumulator's term is on the finer grid.
    #[inline(always)]
    fn with_residual<const LEAKY: bool, const ACC_FINE: bool>(self, res: &[i8], grid: SumGrid, fin: Finish) {
        let h = self.header;
        let (m, rm, rz) = (self.param.0, h.r_mult, h.r_zero);
        for ((o, &v), &r) in self.out.iter_mut().zip(self.acc).zip(res) {
            let a = v as i64 * m as i64;
            // `output`'s residual term: `(r - r_zero)` wrapping in i32, times the multiplier.
            let b = (r as i32).wrapping_sub(rz) as i64 * rm as i64;
            let t = if ACC_FINE { grid.sum_rounded(a, b) } else { grid.sum_rounded(b, a) };
            *o = fin.apply::<LEAKY>(t);
        }
    }
}

impl Simd for RequantPlane<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let h = self.header;
        let fin = Finish::new(h);
        let leaky = h.neg_mult != 0;
        let Some(res) = self.residual else {
            // A LeakyReLU saturates its own input; without one, saturation matters only for a far zero point.
            let sat = h.y_zero.unsigned_abs() >= 1 << 30;
            return match (leaky, sat) {
                (true, _) => self.plain::<true, true>(fin),
                (false, true) => self.plain::<false, true>(fin),
                (false, false) => self.plain::<false, false>(fin),
            };
        };
        let (t, tr) = (exponent(self.param.1), exponent(h.r_shift));
        let Some(grid) = SumGrid::new(t, tr) else {
            for ((o, &v), &r) in self.out.iter_mut().zip(self.acc).zip(res) {
                *o = output(v, self.param, h, Some(r));
            }
            return;
        };
        match (leaky, t >= tr) {
            (false, true) => self.with_residual::<false, true>(res, grid, fin),
            (false, false) => self.with_residual::<false, false>(res, grid, fin),
            (true, true) => self.with_residual::<true, true>(res, grid, fin),
            (true, false) => self.with_residual::<true, false>(res, grid, fin),
        }
    }
}

#[cfg(test)]
#[path = "requant_tests.rs"]
mod tests;
