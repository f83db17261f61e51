//! `vec.pool` in f32, bit for bit `accel_ops::op::Pool::window` per output. The plane is first copied into
//! its `stride_h x stride_w` phases, padded with a value that leaves a window unchanged (`-inf` for a max:
//! `max(m, -inf) == m`; `+0` for a sum, which never is `-0` since it starts at `+0`). Every tap `(ky, kx)` then
//! reads one contiguous run of one phase for all outputs at once (rows at the phase's pitch, the columns past
//! `out_w` computed and dropped), so each output still folds its in-bounds taps in the definition's row-major
//! order, interleaved only with neutral ones, and the passes vectorize even on 7x7 planes (a batch of planes
//! back to back is one run). An average divides by the definition's divisor. Where the phases would be mostly
//! padding or dropped columns (a global pool: a whole plane per tap for one output), the windows are walked
//! one by one instead, eight planes side by side. Planes run in parallel on large blocks.
use super::conv::valid_range;
use super::gemm::{dispatch, Simd};
use super::vector::{par_threshold, same_len};
use accel_ops::op::{Pool, PoolKind};
use rayon::prelude::*;
use std::cell::RefCell;

/// The geometry of one `vec.pool` block, in elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeom {
    pub c: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Top, left, bottom, right.
    pub pads: [usize; 4],
}

thread_local! {
    /// The padded phases of a plane and the outputs' accumulators, reused across planes and commands.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Input elements pooled together (a batch of planes), and so about the size of the scratch buffers.
const BATCH: usize = 1 << 11;

/// Most phase elements per output before the windows are walked one by one.
const WASTE: usize = 4;

/// Planes whose windows are walked together (independent sums, so they overlap in the pipeline).
const LANES: usize = 8;

/// Pools `[c, in_h, in_w]` into `[c, out_h, out_w]`.
pub fn pool_f32(kind: PoolKind, g: &PoolGeom, src: &[f32], dst: &mut [f32]) -> Result<(), String> {
    let plane_in = g.in_h.checked_mul(g.in_w).ok_or("overflow")?;
    let plane_out = g.out_h.checked_mul(g.out_w).ok_or("overflow")?;
    same_len("src", g.c.checked_mul(plane_in).ok_or("overflow")?, src.len())?;
    same_len("dst", g.c.checked_mul(plane_out).ok_or("overflow")?, dst.len())?;
    if g.kernel.contains(&0) || g.stride.contains(&0) {
        return Err("kernel and stride must be >= 1".into());
    }
    if plane_out == 0 {
        return Ok(());
    }
    if plane_in == 0 {
        // Every window is empty: what the reference gives for an all-padding window.
        dst.fill(match kind {
            PoolKind::Max => f32::NEG_INFINITY,
            PoolKind::Avg { .. } => 0.0,
        });
        return Ok(());
    }
    let def = Pool { kind, kernel: g.kernel, strides: g.stride, pads: g.pads };
    // An average's divisor per output (the definition's), the same on every plane.
    let mut divs = Vec::new();
    if let PoolKind::Avg { .. } = kind {
        divs.reserve_exact(plane_out);
        for oy in 0..g.out_h {
            let (ky0, ky1) = valid_range(0, g.kernel[0], 1, oy * g.stride[0], g.pads[0], g.in_h);
            for ox in 0..g.out_w {
                let (kx0, kx1) = valid_range(0, g.kernel[1], 1, ox * g.stride[1], g.pads[1], g.in_w);
                divs.push(def.divisor(g.in_h, g.in_w, oy, ox, (ky1 - ky0) * (kx1 - kx0)) as f32);
            }
        }
    }
    let max = divs.is_empty();
    // The phases' elements per plane (`PoolPlanes`): where most would be padding or dropped columns (a global
    // pool reads a whole plane per tap for one output), the windows are walked one by one instead.
    let (ph, pw) = ((g.out_h - 1) * g.stride[0] + g.kernel[0], (g.out_w - 1) * g.stride[1] + g.kernel[1]);
    let len = (ph.div_ceil(g.stride[0]) + 1).saturating_mul(pw.div_ceil(g.stride[1]));
    if len > WASTE.saturating_mul(plane_out) {
        let run = |(d, s): (&mut [f32], &[f32])| dispatch(Windows { def: &def, g, max, src: s, dst: d, divs: &divs });
        let planes = LANES * (BATCH / plane_in / LANES).max(1);
        if src.len() < par_threshold() {
            dst.chunks_mut(planes * plane_out).zip(src.chunks(planes * plane_in)).for_each(run);
        } else {
            dst.par_chunks_mut(planes * plane_out).zip(src.par_chunks(planes * plane_in)).for_each(run);
        }
        return Ok(());
    }
    let run = |(d, s): (&mut [f32], &[f32])| {
        SCRATCH.with(|p| {
            let (phases, acc) = &mut *p.borrow_mut();
            dispatch(PoolPlanes { g, max, src: s, dst: d, divs: &divs, phases, acc })
        })
    };
    // Several planes per pass, so that small planes do not pay the passes' overhead each.
    let planes = (BATCH / plane_in).clamp(1, g.c);
    if src.len() < par_threshold() {
        dst.chunks_mut(planes * plane_out).zip(src.chunks(planes * plane_in)).for_each(run);
    } else {
        dst.par_chunks_mut(planes * plane_out).zip(src.par_chunks(planes * plane_in)).for_each(run);
    }
    Ok(())
}

/// Planes pooled window by window: `LANES` planes at a time, each output's taps in the definition's order
/// (`Pool::for_each_tap`'s rows and columns), the planes' folds side by side; a last group of fewer planes by the definition.
struct Windows<'a> {
    def: &'a Pool,
    g: &'a PoolGeom,
    max: bool,
    src: &'a [f32],
    dst: &'a mut [f32],
    divs: &'a [f32],
}

impl Simd for Windows<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let Windows { def, g, max, src, dst, divs } = self;
        let (ih, iw, plane_in, plane_out) = (g.in_h, g.in_w, g.in_h * g.in_w, g.out_h * g.out_w);
        let mut ys = dst.chunks_exact_mut(LANES * plane_out);
        let mut xs = src.chunks_exact(LANES * plane_in);
        let [sh, sw] = g.stride;
        let [pt, pl, _, _] = g.pads;
        for (y, x) in (&mut ys).zip(&mut xs) {
            for (o, &div) in (0..plane_out).zip(divs.iter().chain(std::iter::repeat(&1.0))) {
                let (oy, ox) = (o / g.out_w, o % g.out_w);
                // The in-bounds taps, row by row, as `Pool::for_each_tap` visits them.
                let (ky0, ky1) = valid_range(0, g.kernel[0], 1, oy * sh, pt, ih);
                let (kx0, kx1) = valid_range(0, g.kernel[1], 1, ox * sw, pl, iw);
                let (x0, x1) = (ox * sw + kx0 - pl, ox * sw + kx1 - pl);
                let mut acc = [if max { f32::NEG_INFINITY } else { 0.0 }; LANES];
                for iy in oy * sh + ky0 - pt..oy * sh + ky1 - pt {
                    let rows: [&[f32]; LANES] = std::array::from_fn(|l| &x[l * plane_in + iy * iw..][x0..x1]);
                    for t in 0..x1 - x0 {
                        for (a, row) in acc.iter_mut().zip(&rows) {
                            let v = row[t];
                            *a = if max { a.max(v) } else { *a + v };
                        }
                    }
                }
                for (l, a) in acc.into_iter().enumerate() {
                    y[l * plane_out + o] = if max { a } else { a / div };
                }
            }
        }
        for (y, x) in ys.into_remainder().chunks_exact_mut(plane_out).zip(xs.remainder().chunks_exact(plane_in)) {
            for (o, v) in y.iter_mut().enumerate() {
                *v = def.window(x, ih, iw, o / g.out_w, o % g.out_w);
            }
        }
    }
}

/// A batch of planes.
struct PoolPlanes<'a> {
    g: &'a PoolGeom,
    max: bool,
    src: &'a [f32],
    dst: &'a mut [f32],
    /// An average's divisors, `[out_h, out_w]`.
    divs: &'a [f32],
    phases: &'a mut Vec<f32>,
    acc: &'a mut Vec<f32>,
}

impl Simd for PoolPlanes<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let PoolPlanes { g, max, src, dst, divs, phases, acc } = self;
        let ([kh, kw], [sh, sw], [pt, pl, _, _]) = (g.kernel, g.stride, g.pads);
        let (iw, oh, ow) = (g.in_w, g.out_h, g.out_w);
        let planes = src.len() / (g.in_h * iw);
        let neutral = if max { f32::NEG_INFINITY } else { 0.0 };
        // The padded rows and columns the windows cover, and the phases' shape: padded (r, c) is row r / sh,
        // column c / sw of phase (r % sh, c % sw). One spare row keeps the last tap's run inside its plane.
        let (ph, pw) = ((oh - 1) * sh + kh, (ow - 1) * sw + kw);
        let (rows, pitch) = (ph.div_ceil(sh) + 1, pw.div_ceil(sw));
        let len = rows * pitch;
        // Phase-major: phase q of plane p starts at (q * planes + p) * len, so one tap's run crosses planes.
        let block = planes * len;
        phases.clear();
        phases.resize(sh * sw * block, neutral);
        let cols = iw.min(pw.saturating_sub(pl));
        for (p, xp) in src.chunks_exact(g.in_h * iw).enumerate() {
            for (iy, xrow) in xp.chunks_exact(iw).enumerate().take(ph.saturating_sub(pt)) {
                let (r, xrow) = (iy + pt, &xrow[..cols]);
                let row =
                    |qx: usize, ix0: usize| ((r % sh) * sw + qx) * block + p * len + (r / sh) * pitch + (ix0 + pl) / sw;
                if sw == 1 {
                    let at = row(0, 0);
                    phases[at..at + cols].copy_from_slice(xrow);
                } else if sw == 2 {
                    // Pairs of columns, one to each phase (a loop that vectorizes), after the first column
                    // when it is odd once padded.
                    let s0 = pl % 2;
                    if s0 == 1 && cols > 0 {
                        phases[row(1, 0)] = xrow[0];
                    }
                    let Some(rest) = xrow.get(s0..) else { continue };
                    let (even, odd) = (row(0, s0), row(1, s0 + 1));
                    let (lo, hi) = phases.split_at_mut(odd);
                    let pairs = rest.chunks_exact(2);
                    if let [last] = pairs.remainder() {
                        lo[even + rest.len() / 2] = *last;
                    }
                    for ((e, o), pair) in lo[even..].iter_mut().zip(hi.iter_mut()).zip(pairs) {
                        (*e, *o) = (pair[0], pair[1]);
                    }
                } else {
                    for qx in 0..sw {
                        // The first input column of this column phase, and where it lands in the phase's row.
                        let ix0 = (qx + sw - pl % sw) % sw;
                        let at = row(qx, ix0);
                        for (d, &v) in phases[at..].iter_mut().zip(xrow.iter().skip(ix0).step_by(sw)) {
                            *d = v;
                        }
                    }
                }
            }
        }
        let n = (planes - 1) * len + oh * pitch;
        acc.clear();
        acc.resize(n, neutral);
        for ky in 0..kh {
            for kx in 0..kw {
                let phase = ((ky % sh) * sw + kx % sw) * block;
                let run = &phases[phase + (ky / sh) * pitch + kx / sw..][..n];
                if max {
                    acc.iter_mut().zip(run).for_each(|(m, &v)| *m = m.max(v));
                } else {
                    acc.iter_mut().zip(run).for_each(|(s, &v)| *s += v);
                }
            }
        }
        for (p, yp) in dst.chunks_exact_mut(oh * ow).enumerate() {
            let ap = &acc[p * len..];
            for (oy, (yrow, arow)) in yp.chunks_exact_mut(ow).zip(ap.chunks(pitch)).enumerate() {
                if max {
                    yrow.copy_from_slice(&arow[..ow]);
                } else {
                    let drow = &divs[oy * ow..][..ow];
                    yrow.iter_mut().zip(arow).zip(drow).for_each(|((y, &s), &d)| *y = s / d);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "pool_f32_tests.rs"]
mod tests;
