//! A convolution without im2col, at any stride: the input is copied once into zero-padded phase planes, one per
//! (row phase, column phase) of the stride that a tap reads, so every B row of the GEMM (input channel, tap)
//! is a contiguous run read in place, across all output rows. The GEMM computes a wide output of `wq` columns
//! per row (`wq - out_w` of them discarded), which is narrowed into `y`; when `wq == out_w` (a 1x1 strided
//! convolution) it writes `y` directly. At stride 1 the planes are the padded input itself.
use super::conv::{valid_range, ConvGeom};
use super::gemm::{dispatch, Simd, F_NR};
use super::lanes::{gemm_lanes, LanePacked};
use super::packed::{gemm_packed, AView, FillB};
use std::cell::RefCell;

/// Where one group's input lies in the phase planes. Plane (qy, qx) of a channel holds the padded input
/// `P[r * sh + qy][t * sw + qx]` (`P` is the input shifted by the top/left padding, zero outside), so tap
/// (ky, kx) of output (oy, ox) reads its plane at `(oy + ky*dh/sh, ox + kx*dw/sw)`. Only what the outputs
/// read is kept: `hq = out_h + (kh-1)*dh/sh` rows of `wq = out_w + (kw-1)*dw/sw`.
pub(super) struct PhaseLayout {
    pub(super) hq: usize,
    pub(super) wq: usize,
    /// Per row phase `0..sh`: its slot among a channel's planes (`None`: no tap reads it).
    ys: Vec<Option<usize>>,
    /// Per column phase `0..sw`, as `ys`.
    xs: Vec<Option<usize>>,
    /// Column-phase slots in use.
    nx: usize,
    /// Floats per channel: all its planes.
    pub(super) cplane: usize,
    /// Per tap `ky * kw + kx`: where its run starts in a channel's planes.
    pub(super) taps: Vec<usize>,
    /// Floats past the last plane that the discarded wide columns of the last rows read.
    pub(super) slack: usize,
}

/// The phase slots of one axis: which of the `s` phases the `k` taps (dilation `d`) read, numbered in order of
/// first use; and how many.
fn slots(k: usize, d: usize, s: usize) -> (Vec<Option<usize>>, usize) {
    let mut used = vec![None; s];
    let mut n = 0;
    for i in 0..k {
        let q = i % s * (d % s) % s;
        if used[q].is_none() {
            used[q] = Some(n);
            n += 1;
        }
    }
    (used, n)
}

impl PhaseLayout {
    /// The layout of `g`'s input; `None` when a size overflows or the stride is too large to tabulate (the
    /// caller then uses im2col).
    pub(super) fn new(g: &ConvGeom) -> Option<PhaseLayout> {
        let ([kh, kw], [sh, sw], [dh, dw]) = (g.kernel, g.stride, g.dilation);
        if sh.max(sw) > 1 << 16 {
            return None;
        }
        let span = |k: usize, d: usize| k.checked_sub(1)?.checked_mul(d);
        let (ty, tx) = (span(kh, dh)? / sh, span(kw, dw)? / sw);
        let (hq, wq) = (g.out_h.checked_add(ty)?, g.out_w.checked_add(tx)?);
        let ((ys, ny), (xs, nx)) = (slots(kh, dh, sh), slots(kw, dw, sw));
        let plane = hq.checked_mul(wq)?;
        let cplane = plane.checked_mul(ny)?.checked_mul(nx)?;
        let mut taps = Vec::with_capacity(kh.checked_mul(kw)?);
        for ky in 0..kh {
            let (sy, ry) = (ys[ky % sh * (dh % sh) % sh]?, ky.checked_mul(dh)? / sh);
            for kx in 0..kw {
                let (sx, rx) = (xs[kx % sw * (dw % sw) % sw]?, kx.checked_mul(dw)? / sw);
                let start = (sy * nx + sx).checked_mul(plane)?.checked_add(ry.checked_mul(wq)?)?;
                taps.push(start.checked_add(rx)?);
            }
        }
        let slack = ty.checked_mul(wq)?.checked_add(tx)?.checked_add(F_NR)?;
        Some(PhaseLayout { hq, wq, ys, xs, nx, cplane, taps, slack })
    }

    /// Whether this path beats im2col for `m` output channels of `g`, and its scratch (planes and wide output, in
    /// floats) stays within a few times the data it serves. Padding and dilation are not bounded by SRAM: a
    /// verified `mac.conv` may pad a 1x1 block by 65535 on every side (found by the `blob_load_run` fuzz
    /// target); planes keep only what outputs read, but a huge dilation still spreads the taps over a huge
    /// plane. Beyond the bound, im2col panels (scratch bounded by the block sizes) do it.
    pub(super) fn suits(&self, g: &ConvGeom, m: usize) -> bool {
        let (cg, oh, ow) = (g.in_c / g.groups.max(1), g.out_h, g.out_w);
        let scratch = || -> Option<usize> {
            let wide = if self.wq == ow { 0 } else { m.checked_mul(oh)?.checked_mul(self.wq)? };
            cg.checked_mul(self.cplane)?.checked_add(self.slack)?.checked_add(wide)
        };
        let data = cg.saturating_mul(g.in_h).saturating_mul(g.in_w).saturating_add(m.saturating_mul(oh * ow));
        let fits = scratch().is_some_and(|s| s <= data.saturating_mul(4).saturating_add(1 << 20));
        // The wide output's extra columns cost `m` multiply-adds per B row each; im2col costs a copy per B row
        // and column (counted as 16 multiply-adds), both on tiles of whole 16-column halves.
        let halves = |n: usize| n.div_ceil(F_NR / 2) as u128;
        let (wide, dense) = (halves(oh.saturating_mul(self.wq)), halves(oh * ow));
        fits && wide * m as u128 <= dense * (m as u128 + 16)
    }

    /// Copies one group's input `xg` (`[cg, ih, iw]`) into `planes` (zeroed, `cg * cplane` long at least).
    pub(super) fn fill(&self, g: &ConvGeom, xg: &[f32], planes: &mut [f32]) {
        dispatch(Fill { lay: self, g, xg, planes });
    }
}

/// `PhaseLayout::fill`'s body, compiled per instruction set: a block's planes are refilled for every command,
/// and its rows are short (7 to 58 floats), so the moves are inlined loops, and a stride-2 phase row is taken
/// from pairs (which vectorizes; `step_by` does not).
struct Fill<'a> {
    lay: &'a PhaseLayout,
    g: &'a ConvGeom,
    xg: &'a [f32],
    planes: &'a mut [f32],
}

impl Simd for Fill<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let Fill { lay, g, xg, planes } = self;
        let ([sh, sw], [pt, pl], (ih, iw)) = (g.stride, g.pad, (g.in_h, g.in_w));
        let plane = lay.hq * lay.wq;
        for (xp, cp) in xg.chunks_exact(ih * iw).zip(planes.chunks_exact_mut(lay.cplane)) {
            for (qy, sy) in lay.ys.iter().enumerate() {
                let Some(sy) = *sy else { continue };
                let (r0, r1) = valid_range(0, lay.hq, sh, qy, pt, ih);
                for (qx, sx) in lay.xs.iter().enumerate() {
                    let Some(sx) = *sx else { continue };
                    let (t0, t1) = valid_range(0, lay.wq, sw, qx, pl, iw);
                    if t0 >= t1 {
                        continue;
                    }
                    let ix0 = t0 * sw + qx - pl;
                    let dst = &mut cp[(sy * lay.nx + sx) * plane..][..plane];
                    for r in r0..r1 {
                        let xrow = &xp[(r * sh + qy - pt) * iw..][..iw];
                        let drow = &mut dst[r * lay.wq + t0..r * lay.wq + t1];
                        match sw {
                            1 => {
                                for (d, &v) in drow.iter_mut().zip(&xrow[ix0..]) {
                                    *d = v;
                                }
                            }
                            2 => {
                                // All but the last from whole pairs (the last one's pair may end past the row).
                                let n = drow.len();
                                let (body, last) = drow.split_at_mut(n - 1);
                                for (d, pair) in body.iter_mut().zip(xrow[ix0..].chunks_exact(2)) {
                                    *d = pair[0];
                                }
                                last[0] = xrow[ix0 + 2 * (n - 1)];
                            }
                            _ => {
                                for (d, &v) in drow.iter_mut().zip(xrow[ix0..].iter().step_by(sw)) {
                                    *d = v;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

thread_local! {
    /// The phase planes and the wide output of `implicit`, reused on this thread (taken while in use).
    static PLANES: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// `y = A * B` for one group's block of output channels, B read in place from the phase planes of `xg`.
pub(super) fn implicit(
    g: &ConvGeom,
    lay: &PhaseLayout,
    a: AView<'_>,
    xg: &[f32],
    y: &mut [f32],
    panels: &mut Vec<[f32; F_NR]>,
) -> Result<(), String> {
    let (cg, oh, ow, wq) = (g.in_c / g.groups, g.out_h, g.out_w, lay.wq);
    let wide_n = oh * wq;
    let (mut planes, mut wide) = PLANES.with(|p| p.take());
    planes.clear();
    planes.resize(cg * lay.cplane + lay.slack, 0.0);
    lay.fill(g, xg, &mut planes);
    let src = WideB { data: &planes, cplane: lay.cplane, taps: &lay.taps };
    let r = if wq == ow {
        gemm_packed(a, &src, wide_n, y, wide_n, panels)
    } else {
        // Every element is written by the GEMM: no need to zero it.
        if wide.len() < a.m * wide_n {
            wide.resize(a.m * wide_n, 0.0);
        }
        let r = gemm_packed(a, &src, wide_n, &mut wide, wide_n, panels);
        if r.is_ok() {
            for (yo, wo) in y.chunks_exact_mut(oh * ow).zip(wide.chunks_exact(wide_n)) {
                for (yrow, wrow) in yo.chunks_exact_mut(ow).zip(wo.chunks_exact(wq)) {
                    yrow.copy_from_slice(&wrow[..ow]);
                }
            }
        }
        r
    };
    PLANES.with(|p| p.replace((planes, wide)));
    r
}

/// `implicit` with the channel-lane GEMM (`lanes`): output channels `m0..` of group `grp` into `y`, B read at
/// the real output positions of the phase planes (row pitch `wq`), so there is no wide output to narrow.
pub(super) fn implicit_lanes(
    g: &ConvGeom,
    lay: &PhaseLayout,
    packed: &LanePacked,
    (grp, m0): (usize, usize),
    xg: &[f32],
    y: &mut [f32],
) -> Result<(), String> {
    let (cg, n) = (g.in_c / g.groups, g.out_h * g.out_w);
    let (mut planes, wide) = PLANES.with(|p| p.take());
    planes.clear();
    planes.resize(cg * lay.cplane + lay.slack, 0.0);
    lay.fill(g, xg, &mut planes);
    let src = WideB { data: &planes, cplane: lay.cplane, taps: &lay.taps };
    let r = gemm_lanes(packed, grp, m0, y.len() / n.max(1), &src, (g.out_w, lay.wq), n, y);
    PLANES.with(|p| p.replace((planes, wide)));
    r
}

/// B of `implicit`: row `(ic, tap)` is the phase planes from `ic * cplane + taps[tap]` on.
struct WideB<'a> {
    data: &'a [f32],
    cplane: usize,
    taps: &'a [usize],
}

impl FillB for WideB<'_> {
    fn direct(&self, k0: usize, k1: usize, offs: &mut Vec<usize>) -> Option<&[f32]> {
        let t = self.taps.len().max(1);
        offs.clear();
        offs.extend((k0..k1).map(|p| p / t * self.cplane + self.taps.get(p % t).copied().unwrap_or(0)));
        Some(self.data)
    }

    fn fill(&self, k0: usize, k1: usize, n0: usize, n1: usize, panels: &mut [[f32; F_NR]]) {
        let mut offs = Vec::new();
        let _ = self.direct(k0, k1, &mut offs);
        let kc = k1 - k0;
        for (jp, panel) in panels.chunks_mut(kc).enumerate() {
            let j0 = n0 + jp * F_NR;
            let cols = F_NR.min(n1 - j0);
            for (step, &o) in panel.iter_mut().zip(&offs) {
                if let Some(run) = self.data.get(o + j0..o + j0 + cols) {
                    step[..cols].copy_from_slice(run);
                }
            }
        }
    }
}
