//! The f32 depthwise convolution (one input channel per output channel) on phase planes: each channel's input
//! is laid out zero-padded in the planes of `implicit::PhaseLayout`, so every tap (ky, kx) is one contiguous
//! multiply-add over the whole wide output (`out_h x wq`, the `wq - out_w` extra columns discarded), which
//! vectorizes whatever the stride, padding or width (7-wide planes included), with no per-row edge cases.
//! Each output is `bias + w[0]*x[0] + w[1]*x[1] + ...` in the reference's (ky, kx) order, a tap outside the
//! block adding `w * 0`: the reference's sum (which skips those taps) bit for bit, up to the sign of a zero
//! result, for finite weights.
use super::conv::ConvGeom;
use super::gemm::{dispatch, Simd};
use super::implicit::PhaseLayout;
use super::vector::par_threshold;
use rayon::prelude::*;
use std::cell::RefCell;

/// This thread's phase planes, wide output, and the geometry the planes' zero padding was laid out for (the
/// fill rewrites the same positions for every channel of one geometry, so the padding is zeroed once).
type Scratch = (Vec<f32>, Vec<f32>, Option<ConvGeom>);

thread_local! {
    static SCRATCH: RefCell<Scratch> = const { RefCell::new((Vec::new(), Vec::new(), None)) };
}

/// Computes `y` (`[out_c, out_h, out_w]`, bias included); `false` (nothing written) when the planes would be
/// more than a few times the planes they serve (pads or dilations far beyond the block): the caller's plain
/// loops do it then. The buffers were checked against the geometry (`ConvGeom::check`).
pub(super) fn depthwise_f32(g: &ConvGeom, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) -> bool {
    let Some(lay) = PhaseLayout::new(g) else { return false };
    let (plane, n) = (g.in_h * g.in_w, g.out_h * g.out_w);
    let (need, wide_n) = (lay.cplane.saturating_add(lay.slack), g.out_h.saturating_mul(lay.wq));
    if need.saturating_add(wide_n) > (plane + n).saturating_mul(4).saturating_add(1 << 16) {
        return false;
    }
    let (kg, taps) = (g.out_c / g.groups, g.kernel[0] * g.kernel[1]);
    let run = |(oc, yp): (usize, &mut [f32])| {
        let xp = &x[oc / kg * plane..][..plane];
        let wk = &w[oc * taps..][..taps];
        let b = bias.map_or(0.0, |b| b[oc]);
        let (mut planes, mut wide, mut laid) = SCRATCH.with(|s| s.take());
        if laid != Some(*g) || planes.len() != need {
            planes.clear();
            planes.resize(need, 0.0);
            laid = Some(*g);
        }
        lay.fill(g, xp, &mut planes);
        if lay.wq == g.out_w {
            dispatch(Taps { planes: &planes, offs: &lay.taps, wk, b, out: yp });
        } else {
            wide.resize(wide_n, 0.0);
            dispatch(Taps { planes: &planes, offs: &lay.taps, wk, b, out: &mut wide });
            for (yrow, wrow) in yp.chunks_exact_mut(g.out_w).zip(wide.chunks_exact(lay.wq)) {
                yrow.copy_from_slice(&wrow[..g.out_w]);
            }
        }
        SCRATCH.with(|s| s.replace((planes, wide, laid)));
    };
    if y.len() < par_threshold() {
        y.chunks_mut(n).enumerate().for_each(run);
    } else {
        y.par_chunks_mut(n).enumerate().for_each(run);
    }
    true
}

/// `out[j] = b + sum over taps t of wk[t] * planes[offs[t] + j]`, in tap order, in register blocks of 64 (then
/// 16) outputs whose last block is moved back to end at `out.len()` (recomputing a few outputs to the same
/// values); fewer than 16 outputs one by one.
struct Taps<'a> {
    planes: &'a [f32],
    offs: &'a [usize],
    wk: &'a [f32],
    b: f32,
    out: &'a mut [f32],
}

impl Simd for Taps<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let Taps { planes, offs, wk, b, out } = self;
        let n = out.len();
        if n >= 64 {
            for start in (0..n).step_by(64) {
                let j = start.min(n - 64);
                // Four named accumulators: independent add chains, in registers.
                let (mut a0, mut a1, mut a2, mut a3) = ([b; 16], [b; 16], [b; 16], [b; 16]);
                for (&off, &wt) in offs.iter().zip(wk) {
                    let xs = &planes[off + j..][..64];
                    let ((x0, x1), (x2, x3)) = (xs[..32].split_at(16), xs[32..].split_at(16));
                    for (a, &v) in a0.iter_mut().zip(x0) {
                        *a += wt * v;
                    }
                    for (a, &v) in a1.iter_mut().zip(x1) {
                        *a += wt * v;
                    }
                    for (a, &v) in a2.iter_mut().zip(x2) {
                        *a += wt * v;
                    }
                    for (a, &v) in a3.iter_mut().zip(x3) {
                        *a += wt * v;
                    }
                }
                for (i, acc) in [a0, a1, a2, a3].iter().enumerate() {
                    out[j + 16 * i..j + 16 * (i + 1)].copy_from_slice(acc);
                }
            }
        } else if n >= 16 {
            for start in (0..n).step_by(16) {
                let j = start.min(n - 16);
                let mut acc = [b; 16];
                for (&off, &wt) in offs.iter().zip(wk) {
                    for (a, &v) in acc.iter_mut().zip(&planes[off + j..][..16]) {
                        *a += wt * v;
                    }
                }
                out[j..j + 16].copy_from_slice(&acc);
            }
        } else {
            for (j, o) in out.iter_mut().enumerate() {
                let mut acc = b;
                for (&off, &wt) in offs.iter().zip(wk) {
                    acc += wt * planes[off + j];
                }
                *o = acc;
            }
        }
    }
}
