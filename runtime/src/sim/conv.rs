//! `mac.conv` in f32 on already-loaded slices. Depthwise-like convolutions (one input channel per output
//! channel) run a direct kernel: whole-plane taps on phase planes (`depthwise_f32`), or, where those would be
//! too large, row by row so an output row stays in L1 across the taps; the others the packed
//! GEMM (`packed`) with B read in place: the input planes themselves for 1x1 stride 1, else (at any stride)
//! zero-padded phase planes of the input (`implicit`), or, where those would waste more than im2col costs, an
//! im2col straight into the GEMM's panels block by block (per-thread scratch); written straight into the output.
//! With weights packed once per session (on AVX-512 CPUs), the same B goes to the channel-lane GEMM (`lanes`)
//! instead, which computes no padded positions and gives the same bits. Large
//! ones split their output channels over rayon. Semantics are exactly `accel_ops::op::Conv` on one block: padding top/left shifts the window,
//! positions outside the block read zero, the first `out_h x out_w` outputs are produced; bias, then the
//! optional residual block (output-shaped), then the fused activation. The direct path sums in the reference's
//! order (bit-identical up to the sign of a zero); the GEMM paths within f32 rounding.
use super::depthwise_f32::depthwise_f32;
use super::gemm::{dispatch, Simd, F_MR, F_NR, L_MR};
use super::implicit::{implicit, implicit_lanes, PhaseLayout};
use super::lanes::{self, gemm_lanes, LanePacked};
use super::packed::{gemm_packed, AView, FillB, RowMajorB};
use super::vector::{epilogue, par_threshold};
use accel_ops::op::UnaryOp;
use rayon::prelude::*;
use std::cell::RefCell;

/// The geometry of one `mac.conv` block, in elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    pub in_c: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub out_c: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    /// Top and left padding (bottom and right only bound the output size, which the verifier checked).
    pub pad: [usize; 2],
    pub groups: usize,
}

/// Below this many MACs a convolution runs on the calling thread.
const PAR_MACS: usize = 1 << 23;

fn prod(xs: &[usize]) -> Option<usize> {
    xs.iter().try_fold(1usize, |a, &b| a.checked_mul(b))
}

/// The outputs `o` in `lo..hi` whose input coordinate `o * stride + off - pad` lies in `0..size`.
#[inline]
pub(super) fn valid_range(lo: usize, hi: usize, stride: usize, off: usize, pad: usize, size: usize) -> (usize, usize) {
    let first = if pad > off { (pad - off).div_ceil(stride) } else { 0 };
    let end = if size + pad > off { (size + pad - off).div_ceil(stride) } else { 0 };
    let a = first.clamp(lo, hi);
    (a, end.clamp(a, hi))
}

impl ConvGeom {
    /// A square-kernel, square-stride, undilated geometry padded `pad` at top and left (tests).
    #[cfg(test)]
    pub(super) fn square(
        (in_c, in_h, in_w): (usize, usize, usize),
        (out_c, out_h, out_w): (usize, usize, usize),
        k: usize,
        s: usize,
        pad: usize,
        groups: usize,
    ) -> ConvGeom {
        ConvGeom {
            in_c,
            in_h,
            in_w,
            out_c,
            out_h,
            out_w,
            kernel: [k, k],
            stride: [s, s],
            dilation: [1, 1],
            pad: [pad, pad],
            groups,
        }
    }

    /// Checks the element counts of input, weights, bias and output against the geometry, and that the window
    /// arithmetic cannot overflow; every kernel calls this before indexing.
    pub(super) fn check(&self, x: usize, w: usize, bias: Option<usize>, y: usize) -> Result<(), String> {
        let g = self.groups;
        let nonzero = [g, self.kernel[0], self.kernel[1], self.stride[0], self.stride[1]];
        if nonzero.contains(&0) || self.dilation.contains(&0) {
            return Err("groups, kernel, stride and dilation must be >= 1".into());
        }
        if self.in_c % g != 0 || self.out_c % g != 0 {
            return Err("groups must divide the channels".into());
        }
        let cg = self.in_c / g;
        let want = |what: &str, dims: &[usize], have: usize| match prod(dims) {
            Some(n) if n == have => Ok(()),
            _ => Err(format!("{what} has {have} elements, the geometry needs {dims:?}")),
        };
        want("input", &[self.in_c, self.in_h, self.in_w], x)?;
        want("weights", &[self.out_c, cg, self.kernel[0], self.kernel[1]], w)?;
        want("output", &[self.out_c, self.out_h, self.out_w], y)?;
        if let Some(b) = bias {
            want("bias", &[self.out_c], b)?;
        }
        // Indices below are computed in usize: the spans must not overflow.
        let span = |o: usize, s: usize, k: usize, d: usize, p: usize| {
            o.checked_mul(s)?.checked_add(k.checked_mul(d)?)?.checked_add(p)
        };
        span(self.out_h, self.stride[0], self.kernel[0], self.dilation[0], self.in_h + self.pad[0])
            .and(span(self.out_w, self.stride[1], self.kernel[1], self.dilation[1], self.in_w + self.pad[1]))
            .ok_or("window arithmetic overflows")?;
        Ok(())
    }

    /// Whether output position `p` reads input position `p` of each channel (1x1, stride 1, no padding, the
    /// same width, no more rows): the GEMM's B is then the input planes themselves.
    fn reads_input_planes(&self) -> bool {
        let ([kh, kw], [sh, sw]) = (self.kernel, self.stride);
        [kh, kw, sh, sw] == [1; 4] && self.pad == [0, 0] && self.out_w == self.in_w && self.out_h <= self.in_h
    }

    fn macs(&self) -> usize {
        let k = self.in_c / self.groups * self.kernel[0] * self.kernel[1];
        self.out_c.saturating_mul(self.out_h * self.out_w).saturating_mul(k)
    }
}

/// Computes one convolution block. `x` is `[in_c, in_h, in_w]`, `w` is `[out_c, in_c/groups, kh, kw]`,
/// `bias` is `[out_c]`, `residual` and `y` are `[out_c, out_h, out_w]`. `y` is only written.
pub fn conv_f32(
    g: &ConvGeom,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    act: Option<UnaryOp>,
    y: &mut [f32],
) -> Result<(), String> {
    conv_f32_lanes(g, x, w, Lanes::None, bias, residual, act, y)
}

/// Which GEMM an f32 convolution may use: the channel-lane one needs its packed weights (`scratch` keeps them
/// per session).
#[derive(Clone, Copy)]
pub(super) enum Lanes<'a> {
    /// Only the position-lane GEMM (`packed`).
    None,
    /// The channel-lane GEMM wherever B is in memory (see `lanes` for why it wins there).
    Auto(&'a LanePacked),
}

/// `conv_f32` with packed weights for the channel-lane GEMM.
#[allow(clippy::too_many_arguments)]
pub(super) fn conv_f32_lanes(
    g: &ConvGeom,
    x: &[f32],
    w: &[f32],
    lanes: Lanes<'_>,
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    act: Option<UnaryOp>,
    y: &mut [f32],
) -> Result<(), String> {
    g.check(x.len(), w.len(), bias.map(|b| b.len()), y.len())?;
    if residual.is_some_and(|r| r.len() != y.len()) {
        return Err(format!("residual must have the output's {} elements", y.len()));
    }
    let n = g.out_h * g.out_w;
    if g.out_c == 0 || n == 0 {
        return Ok(());
    }
    if g.in_c / g.groups == 1 {
        direct(g, x, w, bias, y);
        epilogue(y, n, None, residual, act);
    } else {
        gemm_path(g, x, w, lanes, y)?;
        epilogue(y, n, bias, residual, act);
    }
    Ok(())
}

/// One output plane of a convolution whose output channels each read one input channel: `yp = b + sum of the
/// taps`, per output row, in the reference's (ky, kx) order. With stride > 1 the input plane is first split
/// into `stride` column phases (`phases`), so every tap reads a contiguous run.
struct DirectPlane<'a> {
    g: &'a ConvGeom,
    xp: &'a [f32],
    wk: &'a [f32],
    b: f32,
    /// Per kx: the valid outputs `ox0..ox1` and where the run starts in the (phase) row.
    cols: &'a [(usize, usize, usize, usize)],
    phases: &'a mut Vec<f32>,
    taps: &'a mut Vec<(usize, f32)>,
    yp: &'a mut [f32],
}

impl Simd for DirectPlane<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let DirectPlane { g, xp, wk, b, cols, phases, taps, yp } = self;
        let [kh, kw] = g.kernel;
        let (ow, iw, ih, [sh, sw], dh, pt) = (g.out_w, g.in_w, g.in_h, g.stride, g.dilation[0], g.pad[0]);
        // Row `iy` of phase `q` holds x[iy][q + sw * t] for t < pw.
        let pw = iw.div_ceil(sw);
        let src: &[f32] = if sw == 1 {
            xp
        } else {
            phases.clear();
            phases.resize(sw * ih * pw, 0.0);
            for (q, phase) in phases.chunks_exact_mut(ih * pw).enumerate() {
                for (prow, xrow) in phase.chunks_exact_mut(pw).zip(xp.chunks_exact(iw)) {
                    for (d, &v) in prow.iter_mut().zip(xrow.iter().skip(q).step_by(sw)) {
                        *d = v;
                    }
                }
            }
            phases
        };
        // Outputs whose every tap column is inside the block.
        let (in0, in1) = cols.iter().fold((0, ow), |(a, z), &(ox0, ox1, _, _)| (a.max(ox0), z.min(ox1)));
        taps.clear();
        for ky in 0..kh {
            for (kx, &(ox0, _, q, t0)) in cols.iter().enumerate().take(kw) {
                taps.push((((q * ih + ky * dh) * pw + t0).wrapping_sub(ox0), wk[ky * kw + kx]));
            }
        }
        for (oy, yrow) in yp.chunks_exact_mut(ow).enumerate() {
            // The taps rows inside the block: a contiguous range of ky.
            let (ky0, ky1) = valid_range(0, kh, dh, oy * sh, pt, ih);
            // Every valid tap of one output in (ky, kx) order: the reference's sum.
            let one = |ox: usize| {
                let mut acc = b;
                for ky in ky0..ky1 {
                    let iy = oy * sh + ky * dh - pt;
                    for (kx, &(ox0, ox1, q, t0)) in cols.iter().enumerate().take(kw) {
                        if (ox0..ox1).contains(&ox) {
                            acc += wk[ky * kw + kx] * src[(q * ih + iy) * pw + t0 + ox - ox0];
                        }
                    }
                }
                acc
            };
            if in0 >= in1 {
                for (ox, y) in yrow.iter_mut().enumerate() {
                    *y = one(ox);
                }
                continue;
            }
            for ox in (0..in0).chain(in1..ow) {
                yrow[ox] = one(ox);
            }
            // The interior in register blocks, taps in the same order; the last block is moved back to end at
            // `in1` (recomputing a few outputs to the same values); narrow interiors go one by one. Wide blocks
            // keep several independent add chains in flight.
            let width = in1 - in0;
            let row_off = (oy * sh).wrapping_sub(pt).wrapping_mul(pw);
            let row = Interior { src, taps: &taps[ky0 * kw..ky1 * kw], row_off, b };
            match width {
                64.. => row.wide::<true>(yrow, in0, in1),
                32.. => row.wide::<false>(yrow, in0, in1),
                16.. => row.blocks::<16>(yrow, in0, in1),
                8.. => row.blocks::<8>(yrow, in0, in1),
                _ => {
                    for (ox, y) in yrow.iter_mut().enumerate().take(in1).skip(in0) {
                        *y = one(ox);
                    }
                }
            }
        }
    }
}

/// The interior outputs of one output row of `DirectPlane`: every tap column inside the block.
struct Interior<'a> {
    src: &'a [f32],
    /// The valid taps in (ky, kx) order: (index offset, weight); output `ox` of the row reads
    /// `src[offset + row_off + ox]` (wrapping arithmetic: the sum is in range, the parts need not be).
    taps: &'a [(usize, f32)],
    row_off: usize,
    b: f32,
}

impl Interior<'_> {
    /// Blocks of 64 (32 with `QUAD == false`) outputs in four (two) named 16-wide accumulators: independent add
    /// chains, in registers (one long array would live on the stack). The last block is moved back.
    #[inline(always)]
    fn wide<const QUAD: bool>(&self, yrow: &mut [f32], in0: usize, in1: usize) {
        let n = if QUAD { 64 } else { 32 };
        for start in (in0..in1).step_by(n) {
            let ox = start.min(in1 - n);
            let (mut a0, mut a1, mut a2, mut a3) = ([self.b; 16], [self.b; 16], [self.b; 16], [self.b; 16]);
            for &(off, w) in self.taps {
                let x = &self.src[off.wrapping_add(self.row_off).wrapping_add(ox)..][..n];
                let (x01, x23) = x.split_at(32);
                let (x0, x1) = x01.split_at(16);
                for (a, &v) in a0.iter_mut().zip(x0) {
                    *a += w * v;
                }
                for (a, &v) in a1.iter_mut().zip(x1) {
                    *a += w * v;
                }
                if QUAD {
                    let (x2, x3) = x23.split_at(16);
                    for (a, &v) in a2.iter_mut().zip(x2) {
                        *a += w * v;
                    }
                    for (a, &v) in a3.iter_mut().zip(x3) {
                        *a += w * v;
                    }
                }
            }
            for (i, acc) in [a0, a1, a2, a3].iter().enumerate().take(n / 16) {
                yrow[ox + 16 * i..ox + 16 * (i + 1)].copy_from_slice(acc);
            }
        }
    }

    #[inline(always)]
    fn blocks<const N: usize>(&self, yrow: &mut [f32], in0: usize, in1: usize) {
        for start in (in0..in1).step_by(N) {
            let ox = start.min(in1 - N);
            let mut acc = [self.b; N];
            for &(off, w) in self.taps {
                let x = &self.src[off.wrapping_add(self.row_off).wrapping_add(ox)..][..N];
                for (a, &v) in acc.iter_mut().zip(x) {
                    *a += w * v;
                }
            }
            yrow[ox..ox + N].copy_from_slice(&acc);
        }
    }
}

/// The direct kernel's per-thread scratch: the column phases of the input plane, and the taps.
type DirectScratch = (Vec<f32>, Vec<(usize, f32)>);

thread_local! {
    /// Column phases of the direct kernel's input plane, reused on this thread (taken while in use).
    static PHASES: RefCell<DirectScratch> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Direct loops, one output plane per task: best when each output channel reads one input channel. On phase
/// planes (`depthwise_f32`) unless those would be too large.
fn direct(g: &ConvGeom, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    if depthwise_f32(g, x, w, bias, y) {
        return;
    }
    let kg = g.out_c / g.groups;
    let taps = g.kernel[0] * g.kernel[1];
    let plane = g.in_h * g.in_w;
    let sw = g.stride[1];
    // Per kx: valid outputs, and the start of their run as (phase, index in the phase row).
    let cols: Vec<(usize, usize, usize, usize)> = (0..g.kernel[1])
        .map(|kx| {
            let off = kx * g.dilation[1];
            let (ox0, ox1) = valid_range(0, g.out_w, sw, off, g.pad[1], g.in_w);
            let ix0 = if ox0 < ox1 { ox0 * sw + off - g.pad[1] } else { 0 };
            (ox0, ox1, ix0 % sw, ix0 / sw)
        })
        .collect();
    let run = |(oc, yp): (usize, &mut [f32])| {
        let xp = &x[oc / kg * plane..][..plane];
        let wk = &w[oc * taps..][..taps];
        let (mut phases, mut taps) = PHASES.with(|p| p.take());
        let b = bias.map_or(0.0, |b| b[oc]);
        dispatch(DirectPlane { g, xp, wk, b, cols: &cols, phases: &mut phases, taps: &mut taps, yp });
        PHASES.with(|p| p.replace((phases, taps)));
    };
    let n = g.out_h * g.out_w;
    if y.len() < par_threshold() {
        y.chunks_mut(n).enumerate().for_each(run);
    } else {
        y.par_chunks_mut(n).enumerate().for_each(run);
    }
}

/// Whether an f32 convolution would take the channel-lane GEMM given its packed weights (`scratch` packs
/// only those): on an AVX-512 CPU, with B in memory (the input planes or the phase planes).
pub(super) fn wants_lanes(g: &ConvGeom) -> bool {
    let groups = g.groups.max(1);
    let (cg, kg) = (g.in_c / groups, g.out_c / groups);
    let sizes = (|| {
        let x = prod(&[g.in_c, g.in_h, g.in_w])?;
        let w = prod(&[g.out_c, cg, g.kernel[0], g.kernel[1]])?;
        Some((x, w, prod(&[g.out_c, g.out_h, g.out_w])?))
    })();
    let valid = sizes.is_some_and(|(x, w, y)| g.check(x, w, None, y).is_ok());
    let n = g.out_h.saturating_mul(g.out_w);
    if !lanes::available() || !valid || cg <= 1 || kg == 0 || n == 0 {
        return false;
    }
    g.reads_input_planes() || PhaseLayout::new(g).is_some_and(|l| l.suits(g, kg))
}

thread_local! {
    /// This worker thread's B block (the im2col panels), reused across commands and runs (taken while in use).
    static PANELS: RefCell<Vec<[f32; F_NR]>> = const { RefCell::new(Vec::new()) };
}

/// The packed weights times B (the input planes for 1x1 stride 1, the phase planes, or im2col panels), written
/// straight into `y`; by the channel-lane GEMM where `lanes` allows it and B is in memory.
fn gemm_path(g: &ConvGeom, x: &[f32], w: &[f32], lanes: Lanes<'_>, y: &mut [f32]) -> Result<(), String> {
    let (cg, kg) = (g.in_c / g.groups, g.out_c / g.groups);
    let k = cg * g.kernel[0] * g.kernel[1];
    let n = g.out_h * g.out_w;
    let plane = g.in_h * g.in_w;
    let threads = rayon::current_num_threads();
    let parallel = threads > 1 && g.macs() >= PAR_MACS;
    let pointwise = g.reads_input_planes();
    let layout = if pointwise { None } else { PhaseLayout::new(g) };
    // The channel-lane GEMM reads B where `packed` reads it in place: the input planes or the phase planes.
    let in_memory = pointwise || layout.as_ref().is_some_and(|l| l.suits(g, kg));
    let lane = match lanes {
        Lanes::None => None,
        Lanes::Auto(p) => in_memory.then_some(p),
    };
    let lane = lane.filter(|p| lanes::available() && p.matches(g.groups, kg, k));
    // Output-channel blocks: contiguous rows of `y`, so tasks write disjoint slices. Each block redoes the
    // im2col of its columns, which costs `k` copies per `rows * k` MACs. Blocks are whole microkernel tiles
    // (120 rows as 64 + 56, not 60 + 60 padded to 64 + 64).
    let blocks = if parallel && g.groups < threads { threads.min(kg / 16).max(1) } else { 1 };
    let rows = kg.div_ceil(blocks).next_multiple_of(if lane.is_some() { L_MR } else { F_MR });
    let unit = |grp: usize, m0: usize, yb: &mut [f32]| -> Result<(), String> {
        let mb = yb.len() / n;
        let xg = &x[grp * cg * plane..][..cg * plane];
        if let Some(p) = lane {
            return match layout.as_ref() {
                None => gemm_lanes(p, grp, m0, mb, &RowMajorB { data: xg, ld: plane }, (g.out_w, g.out_w), n, yb),
                Some(lay) => implicit_lanes(g, lay, p, (grp, m0), xg, yb),
            };
        }
        let a = AView { data: &w[(grp * kg + m0) * k..][..mb * k], m: mb, k, lda: k };
        let mut panels = PANELS.with(|c| c.take());
        let r = if pointwise {
            // Output position p reads input position p of each channel: B is the input planes.
            gemm_packed(a, &RowMajorB { data: xg, ld: plane }, n, yb, n, &mut panels)
        } else if let Some(lay) = layout.as_ref().filter(|l| l.suits(g, mb)) {
            implicit(g, lay, a, xg, yb, &mut panels)
        } else {
            gemm_packed(a, &Im2colB { g, xg }, n, yb, n, &mut panels)
        };
        PANELS.with(|c| c.replace(panels));
        r
    };
    let group_job = |(grp, yg): (usize, &mut [f32])| -> Result<(), String> {
        if blocks == 1 {
            return unit(grp, 0, yg);
        }
        yg.par_chunks_mut(rows * n).enumerate().try_for_each(|(b, yb)| unit(grp, b * rows, yb))
    };
    if parallel && g.groups > 1 {
        y.par_chunks_mut(kg * n).enumerate().try_for_each(group_job)
    } else {
        y.chunks_mut(kg * n).enumerate().try_for_each(group_job)
    }
}

/// B of a convolution as the GEMM sees it: row `(ic, ky, kx)`, column `p` is the input value the window of
/// output position `p` reads at that tap (0 outside the block).
struct Im2colB<'a> {
    g: &'a ConvGeom,
    xg: &'a [f32],
}

impl FillB for Im2colB<'_> {
    fn fill(&self, k0: usize, k1: usize, n0: usize, n1: usize, panels: &mut [[f32; F_NR]]) {
        dispatch(Im2colPanels { g: self.g, xg: self.xg, k0, k1, n0, n1, panels });
    }
}

struct Im2colPanels<'a> {
    g: &'a ConvGeom,
    xg: &'a [f32],
    k0: usize,
    k1: usize,
    n0: usize,
    n1: usize,
    panels: &'a mut [[f32; F_NR]],
}

impl Simd for Im2colPanels<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let Im2colPanels { g, xg, k0, k1, n0, n1, panels } = self;
        let [kh, kw] = g.kernel;
        let (ih, iw, ow, kc) = (g.in_h, g.in_w, g.out_w, k1 - k0);
        let ([sh, sw], [dh, dw], [pt, pl]) = (g.stride, g.dilation, g.pad);
        for r in k0..k1 {
            let (ic, tap) = (r / (kh * kw), r % (kh * kw));
            let (ky, kx) = (tap / kw, tap % kw);
            let xp = &xg[ic * ih * iw..][..ih * iw];
            let off = kx * dw;
            // The outputs of any row whose window column lies inside the block: the same for every row.
            let (vlo, vhi) = valid_range(0, ow, sw, off, pl, iw);
            let (mut oy, mut ox, mut p) = (n0 / ow, n0 % ow, n0);
            let (mut jp, mut lane) = (0, 0);
            while p < n1 {
                let len = (ow - ox).min(F_NR - lane).min(n1 - p);
                let seg = &mut panels[jp * kc + r - k0][lane..lane + len];
                let iy = oy * sh + ky * dh;
                // The panels arrive zeroed: padding needs no writes.
                if iy >= pt && iy - pt < ih {
                    let xrow = &xp[(iy - pt) * iw..][..iw];
                    let lo = vlo.clamp(ox, ox + len);
                    let hi = vhi.clamp(lo, ox + len);
                    if lo < hi {
                        let valid = &mut seg[lo - ox..hi - ox];
                        let ix0 = lo * sw + off - pl;
                        if sw == 1 {
                            // A loop, not `copy_from_slice`: runs are at most F_NR long, a memcpy call costs more.
                            for (v, &xv) in valid.iter_mut().zip(&xrow[ix0..ix0 + (hi - lo)]) {
                                *v = xv;
                            }
                        } else {
                            for (v, &xv) in valid.iter_mut().zip(xrow[ix0..].iter().step_by(sw)) {
                                *v = xv;
                            }
                        }
                    }
                }
                p += len;
                ox += len;
                if ox == ow {
                    (ox, oy) = (0, oy + 1);
                }
                lane += len;
                if lane == F_NR {
                    (lane, jp) = (0, jp + 1);
                }
            }
        }
    }
}

/// Fills `col` (`[cg*kh*kw, n1-n0]`, row-major) with the input values the windows of output positions
/// `n0..n1` read, `pad` where a window reaches outside the block. `xg` is one group's `[cg, in_h, in_w]`.
pub(super) fn im2col<T: Copy + Send + Sync>(g: &ConvGeom, xg: &[T], n0: usize, n1: usize, pad: T, col: &mut [T]) {
    dispatch(Im2col { g, xg, n0, n1, pad, col });
}

struct Im2col<'a, T> {
    g: &'a ConvGeom,
    xg: &'a [T],
    n0: usize,
    n1: usize,
    pad: T,
    col: &'a mut [T],
}

impl<T: Copy> Simd for Im2col<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let Im2col { g, xg, n0, n1, pad, col } = self;
        let (cg, [kh, kw]) = (g.in_c / g.groups, g.kernel);
        let (ih, iw, ow) = (g.in_h, g.in_w, g.out_w);
        let nc = n1 - n0;
        let mut r = 0;
        for ic in 0..cg {
            let xp = &xg[ic * ih * iw..][..ih * iw];
            for ky in 0..kh {
                for kx in 0..kw {
                    let row = &mut col[r * nc..][..nc];
                    r += 1;
                    let off = kx * g.dilation[1];
                    let mut p = n0;
                    while p < n1 {
                        let (oy, ox0) = (p / ow, p % ow);
                        let ox1 = ow.min(ox0 + (n1 - p));
                        let seg = &mut row[p - n0..][..ox1 - ox0];
                        p += ox1 - ox0;
                        let iy = oy * g.stride[0] + ky * g.dilation[0];
                        if iy < g.pad[0] || iy - g.pad[0] >= ih {
                            seg.fill(pad);
                            continue;
                        }
                        let xrow = &xp[(iy - g.pad[0]) * iw..][..iw];
                        let (lo, hi) = valid_range(ox0, ox1, g.stride[1], off, g.pad[1], iw);
                        seg[..lo - ox0].fill(pad);
                        seg[hi - ox0..].fill(pad);
                        let valid = &mut seg[lo - ox0..hi - ox0];
                        if valid.is_empty() {
                            continue;
                        }
                        let ix0 = lo * g.stride[1] + off - g.pad[1];
                        if g.stride[1] == 1 {
                            valid.copy_from_slice(&xrow[ix0..ix0 + valid.len()]);
                        } else {
                            for (v, &xv) in valid.iter_mut().zip(xrow[ix0..].iter().step_by(g.stride[1])) {
                                *v = xv;
                            }
                        }
                    }
                }
            }
        }
    }
}
