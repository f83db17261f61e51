//! INT8 GEMM and convolution kernels: int8 x int8 -> int32, exact. Standalone (the precision work wires them
//! to `mac.conv` / `mac.matmul` with `dtype = i8` and the requantization); each fast kernel has a reference
//! beside it that spells out the semantics, and the two are bit-identical on every input.
//!
//! Semantics (wrapping two's-complement i32 for every product and sum, so the result does not depend on the
//! order of accumulation even when it overflows, and any order is bit-identical to the reference's):
//! - `gemm_i8`: `c[i][j] = bias[j] + sum_p a[i][p] * b[p][j]` (`bias` optional: 0).
//! - `conv_i8`: `y[oc][oy][ox] = bias[oc] + sum (x[ic][iy][ix] - x_zero) * w[oc][ic - g*cg][ky][kx]` over the
//!   window of `ConvGeom` (the same geometry as `conv_f32`: padding top/left shifts the window, positions
//!   outside the block contribute nothing, which is the same as reading `x_zero` there).
//!
//! Fast path: A is packed as u8 (`a ^ 0x80 = a + 128`), B in panels of 4 k x 32 columns, and the AVX-512 VNNI
//! `vpdpbusd` microkernel (`gemm_i8::dot_u8i8`) or its portable twin computes `sum (a + 128) * b`; the `128 *
//! sum_p b[p][j]` surplus and the zero-point term `x_zero * sum_p w[oc][p]` are subtracted exactly.
//! The simulator calls `conv_i8_packed` / `gemm_i8_packed` with weights packed once (`PackedConv`, `PackedB`,
//! cached by `scratch`) and buffers reused across commands (`Int8Scratch`); the public kernels pack per call.
use super::conv::{im2col, ConvGeom};
use super::depthwise_i8::depthwise_i8;
use super::gemm::{dispatch, Simd};
use super::gemm_i8::{dot_u8i8, dot_u8i8_into, I8Panel, I8_MR as MR, I8_NR as NR};
use super::phase_i8::PhaseI8;
use rayon::prelude::*;

/// The shape of an INT8 GEMM: `a` is `[m, k]`, `b` is `[k, n]`, `c` is `[m, n]`, all row-major.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmI8 {
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

type APanel = [[u8; 4]; MR];

/// Steps of 4 k per cache block: a B micro-panel of this many steps is 16 KiB (L1-resident).
const KQ_BLOCK: usize = 128;
/// Bytes of B (im2col scratch, packed panels) per column chunk of `conv_i8`.
const COL_BYTES: usize = 1 << 22;

fn check_len(what: &str, want: Option<usize>, have: usize) -> Result<(), String> {
    match want {
        Some(w) if w == have => Ok(()),
        _ => Err(format!("{what} has {have} elements, expected {want:?}")),
    }
}

/// The reference: one sequential sum per output, in wrapping i32.
pub fn gemm_i8_reference(g: GemmI8, a: &[i8], b: &[i8], bias: Option<&[i32]>, c: &mut [i32]) -> Result<(), String> {
    g.check(a, b, bias, c)?;
    for i in 0..g.m {
        for j in 0..g.n {
            let mut acc = bias.map_or(0, |b| b[j]);
            for p in 0..g.k {
                acc = acc.wrapping_add(a[i * g.k + p] as i32 * b[p * g.n + j] as i32);
            }
            c[i * g.n + j] = acc;
        }
    }
    Ok(())
}

impl GemmI8 {
    fn check(&self, a: &[i8], b: &[i8], bias: Option<&[i32]>, c: &[i32]) -> Result<(), String> {
        check_len("a", self.m.checked_mul(self.k), a.len())?;
        check_len("b", self.k.checked_mul(self.n), b.len())?;
        check_len("c", self.m.checked_mul(self.n), c.len())?;
        bias.map_or(Ok(()), |b| check_len("bias", Some(self.n), b.len()))
    }
}

/// The fast kernel; bit-identical to `gemm_i8_reference`.
pub fn gemm_i8(g: GemmI8, a: &[i8], b: &[i8], bias: Option<&[i32]>, c: &mut [i32]) -> Result<(), String> {
    g.check(a, b, bias, c)?;
    let mut pb = PackedB::default();
    pb.pack(b, g.k, g.n)?;
    gemm_i8_packed(g, a, &pb, bias, 0, c, &mut Int8Scratch::default())
}

/// `c = bias + (a - x_zero) * b` with `b` packed (`PackedB::pack`), its buffers from `s`; bit-identical to
/// `gemm_i8_reference` with `x_zero * sum_p b[p][j]` taken from the bias (wrapping, so exact).
pub(crate) fn gemm_i8_packed(
    g: GemmI8,
    a: &[i8],
    b: &PackedB,
    bias: Option<&[i32]>,
    x_zero: i32,
    c: &mut [i32],
    s: &mut Int8Scratch,
) -> Result<(), String> {
    check_len("a", g.m.checked_mul(g.k), a.len())?;
    check_len("c", g.m.checked_mul(g.n), c.len())?;
    bias.map_or(Ok(()), |b| check_len("bias", Some(g.n), b.len()))?;
    if (b.k, b.n) != (g.k, g.n) || b.colsum.len() != g.n || b.pb.len() != g.n.div_ceil(NR) * g.k.div_ceil(4) {
        return Err(format!("packed b is {}x{}, the gemm needs {}x{}", b.k, b.n, g.k, g.n));
    }
    if g.m == 0 || g.n == 0 {
        return Ok(());
    }
    pack_a(a, g.m, g.k, g.k, &mut s.pa);
    s.row_init.clear();
    s.row_init.resize(g.m, 0);
    s.col_init.clear();
    s.col_init.extend((0..g.n).map(|j| {
        let sum = b.colsum[j];
        bias.map_or(0, |b| b[j]).wrapping_sub(sum.wrapping_mul(x_zero)).wrapping_sub(sum.wrapping_mul(128))
    }));
    core(&s.pa, &b.pb, (g.m, g.n), Init { row: &s.row_init, col: &s.col_init }, c, g.n);
    Ok(())
}

/// Reusable buffers of the INT8 kernels (kept per tile across commands and runs: no allocation, no page
/// faults, no zeroing per command). Every kernel writes what it reads of them first.
#[derive(Debug, Default)]
pub(crate) struct Int8Scratch {
    pa: Vec<APanel>,
    pb: Vec<I8Panel>,
    colsum: Vec<i32>,
    col: Vec<i8>,
    row_init: Vec<i32>,
    col_init: Vec<i32>,
    /// Where each row of B starts in its source (`pack_b`).
    rows: Vec<usize>,
    /// A convolution's input as phase planes (`PhaseI8`) and its `wq`-wide accumulators.
    planes: Vec<i8>,
    wide: Vec<i32>,
}

/// The B operand of an INT8 GEMM (`k x n`, the weights of a matmul) packed in panels, with its column sums.
#[derive(Debug, Default)]
pub(crate) struct PackedB {
    pb: Vec<I8Panel>,
    colsum: Vec<i32>,
    k: usize,
    n: usize,
}

impl PackedB {
    /// Packs `b` (`k x n`, row-major) into `self`, reusing its buffers.
    pub(crate) fn pack(&mut self, b: &[i8], k: usize, n: usize) -> Result<(), String> {
        check_len("b", k.checked_mul(n), b.len())?;
        let rows: Vec<usize> = (0..k).map(|r| r * n).collect();
        pack_b(b, &rows, 0, n, &mut self.pb, &mut self.colsum);
        (self.k, self.n) = (k, n);
        Ok(())
    }

    /// Heap bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.pb.len() * std::mem::size_of::<I8Panel>() + self.colsum.len() * 4
    }
}

/// A convolution's weights packed as `conv_i8` multiplies them: the A panels of every group, one after the
/// other, and the sum of each output channel's weights (for the zero-point term).
#[derive(Debug, Default)]
pub(crate) struct PackedConv {
    pa: Vec<APanel>,
    wsum: Vec<i32>,
    /// (groups, output channels per group, k per output channel) it was packed for.
    shape: (usize, usize, usize),
}

impl PackedConv {
    /// Packs the weights `w` of `g` into `self`, reusing its buffers.
    pub(crate) fn pack(&mut self, g: &ConvGeom, w: &[i8]) -> Result<(), String> {
        let (groups, cg, kg) = (g.groups.max(1), g.in_c / g.groups.max(1), g.out_c / g.groups.max(1));
        let k = cg.checked_mul(g.kernel[0]).and_then(|v| v.checked_mul(g.kernel[1])).ok_or("size overflow")?;
        check_len("weights", groups.checked_mul(kg).and_then(|v| v.checked_mul(k)), w.len())?;
        self.pa.clear();
        self.wsum.clear();
        let mut panels = Vec::new();
        for wg in w.chunks_exact((kg * k).max(1)).take(if kg * k == 0 { 0 } else { groups }) {
            pack_a(wg, kg, k, k, &mut panels);
            self.pa.extend_from_slice(&panels);
        }
        self.wsum.extend(w.chunks_exact(k.max(1)).map(|r| r.iter().fold(0i32, |s, &v| s.wrapping_add(v as i32))));
        self.wsum.resize(g.out_c, 0);
        self.shape = (groups, kg, k);
        Ok(())
    }

    /// Heap bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.pa.len() * std::mem::size_of::<APanel>() + self.wsum.len() * 4
    }
}

/// Whether `conv_i8` multiplies packed weights for `g` (not for depthwise convolutions).
pub(crate) fn conv_packs_weights(g: &ConvGeom) -> bool {
    let groups = g.groups.max(1);
    !(g.in_c / groups == 1 && g.out_c / groups == 1)
}

/// Packs rows of `a` (`rows x k`, leading dimension `lda`) as u8 (`+ 128`) in panels of `MR` rows x 4 k into
/// `out` (reused); rows and k beyond the matrix are padding (their products meet zero B entries or are
/// discarded).
fn pack_a(a: &[i8], rows: usize, k: usize, lda: usize, out: &mut Vec<APanel>) {
    let kq = k.div_ceil(4);
    out.clear();
    out.resize(rows.div_ceil(MR) * kq, [[0x80u8; 4]; MR]);
    for (ip, panel) in out.chunks_mut(kq.max(1)).enumerate() {
        for r in 0..MR.min(rows - ip * MR) {
            let row = &a[(ip * MR + r) * lda..][..k];
            let (quads, tail) = row.split_at(k / 4 * 4);
            for (step, q) in panel.iter_mut().zip(quads.chunks_exact(4)) {
                step[r] = [q[0] as u8 ^ 0x80, q[1] as u8 ^ 0x80, q[2] as u8 ^ 0x80, q[3] as u8 ^ 0x80];
            }
            if let Some(last) = panel.get_mut(k / 4) {
                for (t, &v) in tail.iter().enumerate() {
                    last[r][t] = v as u8 ^ 0x80;
                }
            }
        }
    }
}

/// Packs columns `n0..n0 + n` of `b`, whose row `r` starts at `b[rows[r]]` (`rows.len()` = k), in panels of
/// `NR` columns x 4 k (zero beyond the matrix) into `out`, and each column's sum over k (wrapping, so any order
/// is exact) into `colsum`. Both are reused: every entry is written, so `out` is not zeroed first.
fn pack_b(b: &[i8], rows: &[usize], n0: usize, n: usize, out: &mut Vec<I8Panel>, colsum: &mut Vec<i32>) {
    let kq = rows.len().div_ceil(4);
    out.resize(n.div_ceil(NR) * kq, [0i8; 4 * NR]);
    colsum.clear();
    colsum.resize(n, 0);
    dispatch(PackB { b, rows, n0, n, out, colsum });
}

/// `pack_b`'s body, compiled per instruction set: a full panel interleaves 4 rows of `NR` columns as one
/// little-endian word per column and sums them in the same pass, plain loops over columns that vectorize.
struct PackB<'a> {
    b: &'a [i8],
    rows: &'a [usize],
    n0: usize,
    n: usize,
    out: &'a mut [I8Panel],
    colsum: &'a mut [i32],
}

impl Simd for PackB<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let (b, rows, n0, n) = (self.b, self.rows, self.n0, self.n);
        let k = rows.len();
        let kq = k.div_ceil(4);
        let zeros = [0i8; NR];
        for (jp, panel) in self.out.chunks_mut(kq.max(1)).enumerate() {
            let j0 = jp * NR;
            let cols = NR.min(n - j0);
            let sums = &mut self.colsum[j0..j0 + cols];
            for (q, step) in panel.iter_mut().enumerate() {
                let row = |t: usize| match 4 * q + t {
                    r if r < k => &b[rows[r] + n0 + j0..][..cols],
                    _ => &zeros[..cols],
                };
                let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
                if let (Ok(r0), Ok(r1), Ok(r2), Ok(r3), Ok(sums)) = (
                    <&[i8; NR]>::try_from(r0),
                    <&[i8; NR]>::try_from(r1),
                    <&[i8; NR]>::try_from(r2),
                    <&[i8; NR]>::try_from(r3),
                    <&mut [i32; NR]>::try_from(&mut *sums),
                ) {
                    for (j, d) in step.chunks_exact_mut(4).enumerate() {
                        d[0] = r0[j];
                        d[1] = r1[j];
                        d[2] = r2[j];
                        d[3] = r3[j];
                    }
                    for j in 0..NR {
                        let s = r0[j] as i32 + r1[j] as i32 + r2[j] as i32 + r3[j] as i32;
                        sums[j] = sums[j].wrapping_add(s);
                    }
                    continue;
                }
                let (used, beyond) = step.split_at_mut(4 * cols);
                for (j, quad) in used.chunks_exact_mut(4).enumerate() {
                    quad.copy_from_slice(&[r0[j], r1[j], r2[j], r3[j]]);
                    let s = r0[j] as i32 + r1[j] as i32 + r2[j] as i32 + r3[j] as i32;
                    sums[j] = sums[j].wrapping_add(s);
                }
                // The buffer is reused: columns beyond the matrix must read zero.
                beyond.fill(0);
            }
        }
    }
}

/// The portable microkernel: the same sums as `gemm_i8::dot_u8i8`, for CPUs without AVX-512 VNNI.
struct Portable<'a> {
    a: &'a [APanel],
    b: &'a [I8Panel],
    acc: &'a mut [[i32; NR]; MR],
}

impl Simd for Portable<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for (aq, bq) in self.a.iter().zip(self.b) {
            for (accr, ar) in self.acc.iter_mut().zip(aq) {
                for (j, s) in accr.iter_mut().enumerate() {
                    let mut d = 0i32;
                    for t in 0..4 {
                        d += ar[t] as i32 * bq[4 * j + t] as i32;
                    }
                    *s = s.wrapping_add(d);
                }
            }
        }
    }
}

fn micro(a: &[APanel], b: &[I8Panel], acc: &mut [[i32; NR]; MR]) {
    if !dot_u8i8(a, b, acc) {
        dispatch(Portable { a, b, acc });
    }
}

/// The per-row and per-column terms `core` starts every output from.
struct Init<'a> {
    row: &'a [i32],
    col: &'a [i32],
}

/// `c[i][j] = init.row[i] + init.col[j] + sum_q dot(pa, pb)` for `m x n` outputs at leading dimension `ldc`,
/// in parallel over blocks of rows when the product is large.
fn core(pa: &[APanel], pb: &[I8Panel], (m, n): (usize, usize), init: Init<'_>, c: &mut [i32], ldc: usize) {
    let (row_init, col_init) = (init.row, init.col);
    let kq = if m == 0 { 0 } else { pa.len() / m.div_ceil(MR) };
    let work = m.saturating_mul(n).saturating_mul(kq * 4);
    let threads = rayon::current_num_threads().max(1);
    let blocks = if work < 1 << 22 || threads == 1 { 1 } else { (2 * threads).min(m.div_ceil(MR)) };
    let rows_per = m.div_ceil(MR).div_ceil(blocks) * MR;
    let run = |(bi, cb): (usize, &mut [i32])| {
        let r0 = bi * rows_per;
        let rows = rows_per.min(m - r0);
        // At least one block, so that k == 0 still writes the init terms.
        for q0 in (0..kq.max(1)).step_by(KQ_BLOCK) {
            let q1 = (q0 + KQ_BLOCK).min(kq);
            for jp in 0..n.div_ceil(NR) {
                let bpan = &pb[jp * kq + q0..jp * kq + q1];
                let (j0, cols) = (jp * NR, NR.min(n - jp * NR));
                let colv: [i32; NR] = std::array::from_fn(|j| col_init[j0 + j.min(cols - 1)]);
                for ipl in 0..rows.div_ceil(MR) {
                    let ip = r0 / MR + ipl;
                    let live = MR.min(rows - ipl * MR);
                    // A tile in one k block: from its init terms straight into the output (its live rows and
                    // columns).
                    if q0 == 0 && q1 == kq {
                        let ri: [i32; MR] = std::array::from_fn(|r| row_init[r0 + ipl * MR + r.min(live - 1)]);
                        let dst = &mut cb[ipl * MR * ldc + j0..];
                        if dot_u8i8_into(&pa[ip * kq..ip * kq + kq], bpan, (&ri, &colv), dst, ldc, (live, cols)) {
                            continue;
                        }
                    }
                    // The tile starts from the init terms (first k block) or what earlier blocks summed, and the
                    // microkernel adds to it; rows and columns past the output are computed, never stored.
                    // Plain loops over fixed-size rows (not `array::from_fn`, which stays a call per element).
                    let mut acc = [[0i32; NR]; MR];
                    for (r, accr) in acc.iter_mut().enumerate() {
                        let row = ipl * MR + r.min(live - 1);
                        if q0 == 0 {
                            let ri = row_init[r0 + row];
                            for (a, &cv) in accr.iter_mut().zip(&colv) {
                                *a = ri.wrapping_add(cv);
                            }
                        } else {
                            let src = &cb[row * ldc + j0..][..cols];
                            accr[..cols].copy_from_slice(src);
                        }
                    }
                    micro(&pa[ip * kq + q0..ip * kq + q1], bpan, &mut acc);
                    for (r, accr) in acc.iter().enumerate().take(live) {
                        let dst = &mut cb[(ipl * MR + r) * ldc + j0..][..cols];
                        match <&mut [i32; NR]>::try_from(&mut *dst) {
                            Ok(full) => *full = *accr,
                            Err(_) => dst.copy_from_slice(&accr[..cols]),
                        }
                    }
                }
            }
        }
    };
    if blocks == 1 {
        run((0, c));
    } else {
        c.par_chunks_mut(rows_per * ldc).enumerate().for_each(run);
    }
}

/// Checks the buffers of an INT8 convolution against its geometry.
fn check_conv(g: &ConvGeom, x: usize, w: usize, bias: Option<usize>, y: usize) -> Result<(), String> {
    g.check(x, w, bias, y)
}

/// The reference convolution: direct loops, one wrapping i32 sum per output in (ic, ky, kx) order.
pub fn conv_i8_reference(
    g: &ConvGeom,
    x: &[i8],
    x_zero: i8,
    w: &[i8],
    bias: Option<&[i32]>,
    y: &mut [i32],
) -> Result<(), String> {
    check_conv(g, x.len(), w.len(), bias.map(|b| b.len()), y.len())?;
    let (cg, kg) = (g.in_c / g.groups, g.out_c / g.groups);
    let [kh, kw] = g.kernel;
    for oc in 0..g.out_c {
        let grp = oc / kg;
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let mut acc = bias.map_or(0, |b| b[oc]);
                for ic in 0..cg {
                    for ky in 0..kh {
                        let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize - g.pad[0] as isize;
                        if iy < 0 || iy >= g.in_h as isize {
                            continue;
                        }
                        for kx in 0..kw {
                            let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize - g.pad[1] as isize;
                            if ix < 0 || ix >= g.in_w as isize {
                                continue;
                            }
                            let xv = x[((grp * cg + ic) * g.in_h + iy as usize) * g.in_w + ix as usize];
                            let wv = w[((oc * cg + ic) * kh + ky) * kw + kx];
                            acc = acc.wrapping_add((xv as i32 - x_zero as i32) * wv as i32);
                        }
                    }
                }
                y[(oc * g.out_h + oy) * g.out_w + ox] = acc;
            }
        }
    }
    Ok(())
}

/// The fast convolution (the packed GEMM per group and column chunk, B read from the input itself (1x1), its
/// `x_zero`-padded phase planes (`phase_i8`) or im2col with `x_zero` padding);
/// bit-identical to `conv_i8_reference`.
pub fn conv_i8(
    g: &ConvGeom,
    x: &[i8],
    x_zero: i8,
    w: &[i8],
    bias: Option<&[i32]>,
    y: &mut [i32],
) -> Result<(), String> {
    check_conv(g, x.len(), w.len(), bias.map(|b| b.len()), y.len())?;
    let mut packed = PackedConv::default();
    if conv_packs_weights(g) {
        packed.pack(g, w)?;
    }
    conv_i8_packed(g, x, x_zero, w, &packed, bias, y, &mut Int8Scratch::default())
}

/// `conv_i8` with the weights `w` already packed in `packed` (`PackedConv::pack`, unless depthwise:
/// `conv_packs_weights`) and its buffers from `s`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_i8_packed(
    g: &ConvGeom,
    x: &[i8],
    x_zero: i8,
    w: &[i8],
    packed: &PackedConv,
    bias: Option<&[i32]>,
    y: &mut [i32],
    s: &mut Int8Scratch,
) -> Result<(), String> {
    check_conv(g, x.len(), w.len(), bias.map(|b| b.len()), y.len())?;
    let n = g.out_h * g.out_w;
    if g.out_c == 0 || n == 0 {
        return Ok(());
    }
    let (cg, kg) = (g.in_c / g.groups, g.out_c / g.groups);
    if !conv_packs_weights(g) {
        depthwise_i8(g, x, x_zero, w, bias, y);
        return Ok(());
    }
    let k = cg * g.kernel[0] * g.kernel[1];
    let per_group = kg.div_ceil(MR) * k.div_ceil(4);
    if packed.shape != (g.groups, kg, k) || packed.pa.len() != g.groups * per_group || packed.wsum.len() != g.out_c {
        return Err("packed weights do not match the convolution".into());
    }
    let plane = g.in_h * g.in_w;
    // A 1x1 stride-1 unpadded convolution over the whole plane: B is x itself (`cg` rows of `plane` columns).
    // Otherwise B is read in place from phase planes (`PhaseI8`: the outputs `wq` wide, compacted after), or,
    // where those would waste too much, from im2col per column chunk.
    let pointwise =
        g.kernel == [1, 1] && g.stride == [1, 1] && g.pad == [0, 0] && (g.out_h, g.out_w) == (g.in_h, g.in_w);
    let phases = if pointwise { None } else { PhaseI8::new(g) };
    // Columns the GEMM computes per group, and the row pitch of its output.
    let (wide_n, pitch) = phases.as_ref().map_or((n, g.out_w), |p| (p.cols(g), p.wq()));
    let nc = (COL_BYTES / k.max(1)).clamp(NR, wide_n.max(NR)).min(wide_n);
    let Int8Scratch { pb, colsum, col, row_init, col_init, rows, planes, wide, .. } = s;
    let im2col_path = !pointwise && phases.is_none();
    // Every element of `col` and `wide` that is read is written first; never shrunk, so commands of different
    // sizes do not zero them again and again.
    if im2col_path && col.len() < k * nc {
        col.resize(k * nc, 0);
    }
    let compact = pitch != g.out_w;
    if compact && wide.len() < kg * wide_n {
        wide.resize(kg * wide_n, 0);
    }
    for (grp, yg) in y.chunks_mut(kg * n).enumerate() {
        let pa = &packed.pa[grp * per_group..][..per_group];
        // The zero-point term, and the bias, per output channel.
        row_init.clear();
        row_init.extend((0..kg).map(|i| {
            let oc = grp * kg + i;
            bias.map_or(0, |b| b[oc]).wrapping_sub(packed.wsum[oc].wrapping_mul(x_zero as i32))
        }));
        let xg = &x[grp * cg * plane..][..cg * plane];
        let src: &[i8] = match &phases {
            Some(p) => {
                p.fill(g, xg, x_zero, planes, rows);
                planes
            }
            None => {
                rows.clear();
                rows.extend((0..k).map(|r| r * plane));
                xg
            }
        };
        let out: &mut [i32] = if compact { &mut wide[..kg * wide_n] } else { yg };
        for n0 in (0..wide_n).step_by(nc) {
            let cols = nc.min(wide_n - n0);
            if im2col_path {
                let colv = &mut col[..k * cols];
                im2col(g, xg, n0, n0 + cols, x_zero, colv);
                rows.clear();
                rows.extend((0..k).map(|r| r * cols));
                pack_b(colv, rows, 0, cols, pb, colsum);
            } else {
                pack_b(src, rows, n0, cols, pb, colsum);
            }
            col_init.clear();
            col_init.extend(colsum.iter().map(|s| s.wrapping_mul(-128)));
            core(pa, pb, (kg, cols), Init { row: row_init, col: col_init }, &mut out[n0..], wide_n);
        }
        if compact {
            // Keep the first `out_w` of every `wq`-wide output row.
            for (yc, wc) in yg.chunks_exact_mut(n).zip(wide.chunks_exact(wide_n)) {
                for (yr, wr) in yc.chunks_exact_mut(g.out_w).zip(wc.chunks_exact(pitch)) {
                    yr.copy_from_slice(&wr[..g.out_w]);
                }
            }
        }
    }
    Ok(())
}
