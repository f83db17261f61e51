//! The INT8 depthwise convolution (one input and one output channel per group) as `conv_i8` runs it: exact
//! wrapping int32 sums, so any order gives `conv_i8_reference`'s result. It must not decide anything about
//! validity: the caller has checked the buffers against the geometry (`ConvGeom::check`).
//!
//! Layout: each channel's input, less its zero point and widened to i32, is laid out once in `sh x sw` phase
//! planes of the zero-padded input (`P[pr][pc][i][j] = x[i*sh + pr - pad_top][j*sw + pc - pad_left] - x_zero`,
//! 0 outside the input, which is what the reference's skipped taps add). Every tap `(ky, kx)` then reads, for
//! the outputs `(oy, ox)`, the same phase plane at `(oy + qi, ox + qj)`: with the phase planes `wq` wide and
//! the outputs computed `wq` wide too (the extra columns are discarded), one tap is one contiguous
//! multiply-add over the whole plane, which vectorizes whatever the stride, padding or width (7-wide planes
//! included).
use super::conv::ConvGeom;
use super::gemm::{dispatch, Simd};
use super::gemm_i8::has_vbmi_vnni;
use rayon::prelude::*;

#[path = "depthwise_bytes.rs"]
mod bytes;
#[cfg(test)]
#[path = "depthwise_i8_tests.rs"]
mod tests;

/// Below this many tap products a depthwise convolution runs on the calling thread.
const PAR_WORK: usize = 1 << 20;
/// Outputs per block of the tap loop: the block's accumulators stay in L1 while every tap passes over them.
const BLOCK: usize = 1024;

/// The phase-plane geometry of one channel of a convolution (the INT8 GEMM's operand uses it too,
/// `phase_i8`).
pub(super) struct Plan {
    /// Width and height of each phase plane.
    pub(super) wq: usize,
    pub(super) hq: usize,
    /// The phases `(row phase, column phase)` some tap reads, in first-use order (at most `kh x kw` of the
    /// `sh x sw`: a large stride does not multiply the buffer).
    pub(super) phases: Vec<(usize, usize)>,
    /// Per tap in (ky, kx) order: (offset into the phase planes, weight index).
    pub(super) taps: Vec<(usize, usize)>,
}

impl Plan {
    /// For column phase `pc`: the phase columns `j0..j1` whose input column `j * sw + pc - pl` lies in the
    /// input, and the first such input column; `None` when there is none.
    pub(super) fn phase_cols(&self, g: &ConvGeom, pc: usize) -> Option<(usize, usize, usize)> {
        let (sw, pl) = (g.stride[1], g.pad[1]);
        let j0 = pl.saturating_sub(pc).div_ceil(sw);
        let j1 = (g.in_w + pl).saturating_sub(pc).div_ceil(sw).min(self.wq);
        (j0 < j1).then(|| (j0, j1, j0 * sw + pc - pl))
    }

    /// The input row of row `i` of row phase `pr`, where it lies in the input.
    pub(super) fn phase_row(g: &ConvGeom, pr: usize, i: usize) -> Option<usize> {
        (i * g.stride[0] + pr).checked_sub(g.pad[0]).filter(|&iy| iy < g.in_h)
    }

    /// The plan, unless its phase planes would be more than a few times the input and output planes (a
    /// hostile geometry, with pads or dilations far beyond its planes, takes the plain loop instead).
    pub(super) fn new(g: &ConvGeom) -> Option<Plan> {
        let ([kh, kw], [sh, sw], [dh, dw]) = (g.kernel, g.stride, g.dilation);
        // `ConvGeom::check` bounded these spans.
        let qi_max = (kh - 1) * dh / sh;
        let qj_max = (kw - 1) * dw / sw;
        let wq = g.out_w + qj_max;
        // One spare row: the discarded columns of the last output row read past its end.
        let hq = g.out_h + qi_max + 1;
        let mut phases = Vec::new();
        for ky in 0..kh {
            for kx in 0..kw {
                let phase = (ky * dh % sh, kx * dw % sw);
                if !phases.contains(&phase) {
                    phases.push(phase);
                }
            }
        }
        let len = phases.len().checked_mul(hq)?.checked_mul(wq)?;
        let bound = (g.in_h * g.in_w).saturating_add(g.out_h * g.out_w).saturating_mul(4).saturating_add(1 << 16);
        if len > bound {
            return None;
        }
        let mut taps = Vec::with_capacity(kh * kw);
        for ky in 0..kh {
            for kx in 0..kw {
                let (r, c) = (ky * dh, kx * dw);
                let at = phases.iter().position(|&p| p == (r % sh, c % sw)).unwrap_or(0);
                taps.push((at * hq * wq + (r / sh) * wq + c / sw, ky * kw + kx));
            }
        }
        Some(Plan { wq, hq, phases, taps })
    }
}

/// One input row's run of a phase plane: `len` values from input element `src` on (every `stride`th) to
/// phase-plane element `dst` on. The same for every channel, so computed once per command.
#[derive(Clone, Copy)]
struct Run {
    dst: usize,
    src: usize,
    len: usize,
}

/// The runs that fill one channel's phase planes: every position no run writes is padding (0).
fn runs(g: &ConvGeom, plan: &Plan) -> Vec<Run> {
    let (wq, hq) = (plan.wq, plan.hq);
    let mut out = Vec::new();
    for (p, &(pr, pc)) in plan.phases.iter().enumerate() {
        let Some((j0, j1, ix0)) = plan.phase_cols(g, pc) else { continue };
        for i in 0..hq {
            let Some(iy) = Plan::phase_row(g, pr, i) else { continue };
            out.push(Run { dst: (p * hq + i) * wq + j0, src: iy * g.in_w + ix0, len: j1 - j0 });
        }
    }
    out
}

/// One thread's buffers: the phase planes (their padding zeroed once: the runs rewrite only the same
/// positions for every channel) and the `wq`-wide accumulators.
struct Buffers {
    phases: Vec<i32>,
    acc: Vec<i32>,
}

impl Buffers {
    fn new(plan: &Plan, g: &ConvGeom) -> Buffers {
        Buffers { phases: vec![0; plan.phases.len() * plan.hq * plan.wq], acc: vec![0; g.out_h * plan.wq] }
    }
}

/// `y[c] = bias[c] + sum over taps of (x[c] - x_zero) * w[c]` per output channel `c` (`in_c == out_c ==
/// groups`); shapes checked by the caller.
pub(super) fn depthwise_i8(g: &ConvGeom, x: &[i8], x_zero: i8, w: &[i8], bias: Option<&[i32]>, y: &mut [i32]) {
    depthwise_i8_on(g, x, x_zero, w, bias, y, has_vbmi_vnni());
}

/// `depthwise_i8` on byte planes (`bytes::depthwise`) when `bytes`, else on 32-bit planes.
fn depthwise_i8_on(g: &ConvGeom, x: &[i8], x_zero: i8, w: &[i8], bias: Option<&[i32]>, y: &mut [i32], bytes: bool) {
    let n = g.out_h * g.out_w;
    if n == 0 {
        return;
    }
    let Some(plan) = Plan::new(g) else {
        plain(g, x, x_zero as i32, w, bias, y);
        return;
    };
    let runs = runs(g, &plan);
    let k = Channels { g, plan: &plan, runs: &runs, x, xz: x_zero as i32, w, bias };
    let work = y.len().saturating_mul(plan.taps.len());
    if bytes {
        bytes::depthwise(&k, work < PAR_WORK, y);
        return;
    }
    if work < PAR_WORK || rayon::current_num_threads() == 1 {
        // One instruction-set dispatch for all channels: a 7x7 channel is only a few hundred products.
        dispatch(Block { k: &k, c0: 0, bufs: &mut Buffers::new(&plan, g), y });
    } else {
        y.par_chunks_mut(n)
            .enumerate()
            .for_each_init(|| Buffers::new(&plan, g), |bufs, (c, yc)| dispatch(Block { k: &k, c0: c, bufs, y: yc }));
    }
}

/// What every channel of a command shares.
struct Channels<'a> {
    g: &'a ConvGeom,
    plan: &'a Plan,
    runs: &'a [Run],
    x: &'a [i8],
    xz: i32,
    w: &'a [i8],
    bias: Option<&'a [i32]>,
}

/// Consecutive output channels `y` from `c0` on, compiled per instruction set: per channel the phase
/// planes' runs, then one contiguous multiply-add per tap.
struct Block<'a> {
    k: &'a Channels<'a>,
    c0: usize,
    bufs: &'a mut Buffers,
    y: &'a mut [i32],
}

impl Simd for Block<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let Block { k, c0, bufs, y } = self;
        let Channels { g, plan, runs, x, xz, w, bias } = *k;
        let (sw, wq, taps) = (g.stride[1], plan.wq, plan.taps.len());
        let (plane, n, total) = (g.in_h * g.in_w, g.out_h * g.out_w, g.out_h * plan.wq);
        for (ci, yc) in y.chunks_exact_mut(n).enumerate() {
            let c = c0 + ci;
            let (xc, wc) = (&x[c * plane..][..plane], &w[c * taps..][..taps]);
            let bias = bias.map_or(0, |b| b[c]);
            for r in runs {
                let (dst, src) = (&mut bufs.phases[r.dst..][..r.len], &xc[r.src..]);
                match sw {
                    1 => gather::<1>(dst, src, xz),
                    2 => gather::<2>(dst, src, xz),
                    _ => {
                        for (d, &v) in dst.iter_mut().zip(src.iter().step_by(sw)) {
                            *d = v as i32 - xz;
                        }
                    }
                }
            }
            // The first tap writes every accumulator (bias + its product), so none is filled first.
            for (bi, acc) in bufs.acc[..total].chunks_mut(BLOCK).enumerate() {
                let t0 = bi * BLOCK;
                let Some((&(off, wi), rest)) = plan.taps.split_first() else {
                    acc.fill(bias);
                    continue;
                };
                let (wv, len) = (wc[wi] as i32, acc.len());
                for (a, &v) in acc.iter_mut().zip(&bufs.phases[off + t0..][..len]) {
                    *a = bias.wrapping_add(v.wrapping_mul(wv));
                }
                for &(off, wi) in rest {
                    let wv = wc[wi] as i32;
                    let src = &bufs.phases[off + t0..][..acc.len()];
                    for (a, &v) in acc.iter_mut().zip(src) {
                        *a = a.wrapping_add(v.wrapping_mul(wv));
                    }
                }
            }
            // Keep the first `out_w` of every `wq`-wide row (offsets, not `chunks_exact`: no division).
            for oy in 0..g.out_h {
                yc[oy * g.out_w..][..g.out_w].copy_from_slice(&bufs.acc[oy * wq..][..g.out_w]);
            }
        }
    }
}

/// `dst[j] = src[j * S] - xz`: every `S`th element (`dst` has at most `ceil(src.len() / S)` elements), in
/// whole groups of `S` so that the loop vectorizes.
#[inline(always)]
fn gather<const S: usize>(dst: &mut [i32], src: &[i8], xz: i32) {
    let full = (src.len() / S).min(dst.len());
    let (head, tail) = dst.split_at_mut(full);
    for (d, c) in head.iter_mut().zip(src.chunks_exact(S)) {
        *d = c[0] as i32 - xz;
    }
    for (d, &v) in tail.iter_mut().zip(src[full * S..].iter().step_by(S)) {
        *d = v as i32 - xz;
    }
}

/// The reference's loops, one output at a time (for geometries whose phase planes would be too large).
fn plain(g: &ConvGeom, x: &[i8], xz: i32, w: &[i8], bias: Option<&[i32]>, y: &mut [i32]) {
    let [kh, kw] = g.kernel;
    let (plane, n) = (g.in_h * g.in_w, g.out_h * g.out_w);
    for (c, yc) in y.chunks_mut(n).enumerate() {
        let (xc, wc) = (&x[c * plane..][..plane], &w[c * kh * kw..][..kh * kw]);
        for (p, out) in yc.iter_mut().enumerate() {
            let (oy, ox) = (p / g.out_w, p % g.out_w);
            let mut acc = bias.map_or(0, |b| b[c]);
            for ky in 0..kh {
                let Some(iy) = (oy * g.stride[0] + ky * g.dilation[0]).checked_sub(g.pad[0]) else { continue };
                for kx in 0..kw {
                    let Some(ix) = (ox * g.stride[1] + kx * g.dilation[1]).checked_sub(g.pad[1]) else { continue };
                    if iy < g.in_h && ix < g.in_w {
                        acc =
                            acc.wrapping_add((xc[iy * g.in_w + ix] as i32 - xz).wrapping_mul(wc[ky * kw + kx] as i32));
                    }
                }
            }
            *out = acc;
        }
    }
}
