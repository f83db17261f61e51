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
    pub(super) wq: usize,
    /// Floats per channel: all its planes.
    pub(super) cplane: usize,
    /// Per tap `ky * kw + kx`: where its run starts in a channel's planes.
    pub(super) taps: Vec<usize>,
    /// Floats past the last plane that the discarded wide columns of the last rows read.
    pub(super) slack: usize,
    /// What `fill` copies of each channel: the valid input of each plane row, worked out once per geometry, not
    /// per channel (the rows are short: 7 to 58 floats).
    runs: Vec<Run>,
}

/// One plane row's valid input: `len` floats from `src` (one input row, every `stride[1]`-th float) to `dst`
/// (one plane row), both from the start of the channel.
struct Run {
    dst: usize,
    src: usize,
    len: usize,
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
        let runs = Self::runs(g, (hq, wq), (&ys, &xs, nx));
        Some(PhaseLayout { wq, cplane, taps, slack, runs })
    }

    /// The valid input rows of every plane of one channel (see `Run`): plane (qy, qx) row `r` holds input row
    /// `r * sh + qy - pt` from column `t0 * sw + qx - pl` on, for the rows and columns inside the input. `ys`,
    /// `xs`: per row (column) phase, its slot among a channel's planes (`None`: no tap reads it); `nx` column
    /// slots in use.
    fn runs(
        g: &ConvGeom,
        (hq, wq): (usize, usize),
        (ys, xs, nx): (&[Option<usize>], &[Option<usize>], usize),
    ) -> Vec<Run> {
        let ([sh, sw], [pt, pl], (ih, iw)) = (g.stride, g.pad, (g.in_h, g.in_w));
        let mut runs = Vec::new();
        for (qy, sy) in ys.iter().enumerate() {
            let Some(sy) = *sy else { continue };
            let (r0, r1) = valid_range(0, hq, sh, qy, pt, ih);
            for (qx, sx) in xs.iter().enumerate() {
                let Some(sx) = *sx else { continue };
                let (t0, t1) = valid_range(0, wq, sw, qx, pl, iw);
                if t0 >= t1 {
                    continue;
                }
                let (ix0, plane) = (t0 * sw + qx - pl, (sy * nx + sx) * hq * wq);
                runs.extend((r0..r1).map(|r| Run {
                    dst: plane + r * wq + t0,
                    src: (r * sh + qy - pt) * iw + ix0,
                    len: t1 - t0,
                }));
            }
        }
        runs
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

    /// Copies one group's input `xg` (`[cg, ih, iw]`) into `planes` (`cg * cplane` long at least): only the runs,
    /// the same floats for every input of this geometry; the others must be zero already.
    pub(super) fn fill(&self, g: &ConvGeom, xg: &[f32], planes: &mut [f32]) {
        dispatch(Fill { lay: self, g, xg, planes });
    }
}

/// `PhaseLayout::fill`'s body, compiled per instruction set: a block's planes are refilled for every command,
/// and its rows are short (7 to 58 floats), so the runs are laid out once (`PhaseLayout::runs`), and a stride-2
/// phase row is taken from pairs (which vectorizes; `step_by` does not).
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
        let (sw, plane) = (g.stride[1], g.in_h * g.in_w);
        let channels = xg.chunks_exact(plane).zip(planes.chunks_exact_mut(lay.cplane));
        match sw {
            1 => {
                for (xp, cp) in channels {
                    for run in &lay.runs {
                        copy_short(&mut cp[run.dst..][..run.len], &xp[run.src..][..run.len]);
                    }
                }
            }
            2 => {
                for (xp, cp) in channels {
                    for run in &lay.runs {
                        // All but the last from whole pairs (the last one's pair may end past the row).
                        let (body, last) = cp[run.dst..][..run.len].split_at_mut(run.len - 1);
                        for (d, pair) in body.iter_mut().zip(xp[run.src..].chunks_exact(2)) {
                            *d = pair[0];
                        }
                        last[0] = xp[run.src + 2 * (run.len - 1)];
                    }
                }
            }
            _ => {
                for (xp, cp) in channels {
                    for run in &lay.runs {
                        for (d, &v) in cp[run.dst..][..run.len].iter_mut().zip(xp[run.src..].iter().step_by(sw)) {
                            *d = v;
                        }
                    }
                }
            }
        }
    }
}

/// `d.copy_from_slice(s)` for the short rows of `Fill`, inlined: whole 8-float moves, the last one moved back
/// to end at the row's end (copying a few floats twice), fewer than 8 one by one; a call to `memcpy` per row
/// costs more than the row.
#[inline(always)]
fn copy_short(d: &mut [f32], s: &[f32]) {
    let n = d.len().min(s.len());
    if n < 8 {
        for (d, &v) in d.iter_mut().zip(s) {
            *d = v;
        }
        return;
    }
    let mut i = 0;
    while i + 8 <= n {
        d[i..i + 8].copy_from_slice(&s[i..i + 8]);
        i += 8;
    }
    if i < n {
        d[n - 8..n].copy_from_slice(&s[n - 8..n]);
    }
}

/// This thread's phase planes, the geometry they were laid out for, and the wide output of `implicit`.
type Scratch = (Vec<f32>, Option<ConvGeom>, Vec<f32>);

thread_local! {
    /// `Scratch`, reused on this thread (taken while in use).
    static PLANES: RefCell<Scratch> = const { RefCell::new((Vec::new(), None, Vec::new())) };
}

/// The phase planes of `xg` in `planes` (`cg * cplane + slack` floats, returned). Zeroed only when the geometry
/// changes: the runs of one geometry write the same floats every time and leave the others zero, so refilling
/// planes laid out for `g` gives what zeroed planes would (a stripe's blocks repeat one geometry; the planes of
/// a wide block are megabytes, and zeroing them cost as much as filling them).
fn planes_of<'p>(
    g: &ConvGeom,
    lay: &PhaseLayout,
    xg: &[f32],
    (planes, laid): (&'p mut Vec<f32>, &mut Option<ConvGeom>),
) -> &'p [f32] {
    let need = (g.in_c / g.groups) * lay.cplane + lay.slack;
    if *laid != Some(*g) || planes.len() != need {
        planes.clear();
        planes.resize(need, 0.0);
        *laid = Some(*g);
    }
    lay.fill(g, xg, planes);
    planes
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
    let (oh, ow, wq) = (g.out_h, g.out_w, lay.wq);
    let wide_n = oh * wq;
    let (mut planes, mut laid, mut wide) = PLANES.with(|p| p.take());
    let data = planes_of(g, lay, xg, (&mut planes, &mut laid));
    let src = WideB { data, cplane: lay.cplane, taps: &lay.taps };
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
    PLANES.with(|p| p.replace((planes, laid, wide)));
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
    let n = g.out_h * g.out_w;
    let (mut planes, mut laid, wide) = PLANES.with(|p| p.take());
    let data = planes_of(g, lay, xg, (&mut planes, &mut laid));
    let src = WideB { data, cplane: lay.cplane, taps: &lay.taps };
    let r = gemm_lanes(packed, grp, m0, y.len() / n.max(1), &src, (g.out_w, lay.wq), n, y);
    PLANES.with(|p| p.replace((planes, laid, wide)));
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
        // Channel and tap counted along, not divided out per row: a k block of a 32-channel output has only
        // a few multiply-adds per row, and a division per row cost a fifth of them.
        let (mut base, mut tap) = (k0 / t * self.cplane, k0 % t);
        for _ in k0..k1 {
            offs.push(base + self.taps.get(tap).copied().unwrap_or(0));
            tap += 1;
            if tap == t {
                (base, tap) = (base + self.cplane, 0);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::{planes_of, ConvGeom, PhaseLayout};

    /// Planes refilled in place (`planes_of`) hold exactly what zeroed planes filled once hold: after another
    /// input of the same geometry, and after a geometry of the same size (a 6x6 block padded by 1, an 8x8 one
    /// unpadded: the same planes) whose runs cover the padding of the first.
    #[test]
    fn refilled_planes_equal_zeroed_ones() {
        let geom = |hw: usize, pad: usize| ConvGeom::square((2, hw, hw), (3, 6, 6), 3, 1, pad, 1);
        let (padded, unpadded) = (geom(6, 1), geom(8, 0));
        let size = |g: &ConvGeom| PhaseLayout::new(g).map(|l| 2 * l.cplane + l.slack);
        assert_eq!(size(&padded), size(&unpadded), "the case needs planes of one size");
        let (mut planes, mut laid) = (Vec::new(), None);
        for (g, seed) in [(&padded, 1.0), (&padded, 100.0), (&unpadded, 7.0), (&padded, 3.0), (&unpadded, 5.0)] {
            let lay = PhaseLayout::new(g).expect("layout");
            let x: Vec<f32> = (0..2 * g.in_h * g.in_w).map(|i| i as f32 + seed).collect();
            let mut want = vec![0.0; 2 * lay.cplane + lay.slack];
            lay.fill(g, &x, &mut want);
            let got = planes_of(g, &lay, &x, (&mut planes, &mut laid));
            assert_eq!(got, &want[..], "{g:?} with input from {seed}");
        }
    }

    /// What the GEMM reads of the filled planes is the padded input: tap (ky, kx) of output (oy, ox) at
    /// `taps[tap] + oy * wq + ox` holds input `(oy*sh + ky*dh - pt, ox*sw + kx*dw - pl)`, zero outside, for
    /// strides 1 to 3, dilations, one-sided and large pads and planes from 1x1 up, on zeroed planes, as the
    /// callers give them.
    #[test]
    fn filled_planes_hold_the_padded_input_at_every_tap() {
        let geoms = [
            // (in_h, in_w, kernel, stride, dilation, pad)
            (14, 14, [3, 3], [1, 1], [1, 1], [1, 1]),
            (7, 7, [3, 3], [2, 2], [1, 1], [1, 1]),
            (9, 11, [3, 5], [2, 3], [1, 2], [0, 2]),
            (1, 1, [3, 3], [1, 1], [1, 1], [1, 1]),
            (5, 6, [2, 3], [3, 1], [2, 1], [3, 0]),
            (8, 4, [1, 1], [2, 2], [1, 1], [0, 0]),
        ];
        for (ih, iw, kernel, stride, dilation, pad) in geoms {
            let out = |i: usize, k: usize, s: usize, d: usize, p: usize| (i + 2 * p - (k - 1) * d - 1) / s + 1;
            let (out_h, out_w) = (
                out(ih, kernel[0], stride[0], dilation[0], pad[0]),
                out(iw, kernel[1], stride[1], dilation[1], pad[1]),
            );
            let g = ConvGeom {
                in_c: 2,
                in_h: ih,
                in_w: iw,
                out_c: 1,
                out_h,
                out_w,
                kernel,
                stride,
                dilation,
                pad,
                groups: 1,
            };
            let lay = PhaseLayout::new(&g).expect("layout");
            let x: Vec<f32> = (0..2 * ih * iw).map(|i| i as f32 + 1.0).collect();
            let mut planes = vec![0.0; 2 * lay.cplane + lay.slack];
            lay.fill(&g, &x, &mut planes);
            for c in 0..2 {
                for (t, &start) in lay.taps.iter().enumerate() {
                    let (ky, kx) = (t / kernel[1], t % kernel[1]);
                    for oy in 0..out_h {
                        for ox in 0..out_w {
                            let iy = (oy * stride[0] + ky * dilation[0]).checked_sub(pad[0]).filter(|&v| v < ih);
                            let ix = (ox * stride[1] + kx * dilation[1]).checked_sub(pad[1]).filter(|&v| v < iw);
                            let want = match (iy, ix) {
                                (Some(iy), Some(ix)) => x[(c * ih + iy) * iw + ix],
                                _ => 0.0,
                            };
                            let got = planes[c * lay.cplane + start + oy * lay.wq + ox];
                            assert_eq!(got, want, "{g:?}: channel {c} tap {t} output ({oy}, {ox})");
                        }
                    }
                }
            }
        }
    }
}
