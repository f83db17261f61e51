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
//! `vpdpbusd` microkernel (`gemm::dot_u8i8`) or its portable twin computes `sum (a + 128) * b`; the `128 *
//! sum_p b[p][j]` surplus and the zero-point term `x_zero * sum_p w[oc][p]` are subtracted exactly.
use super::conv::{im2col, ConvGeom};
use super::gemm::{dispatch, dot_u8i8, I8Panel, Simd, I8_MR as MR, I8_NR as NR};
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
/// Bytes of im2col scratch per column chunk of `conv_i8`.
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
    if g.m == 0 || g.n == 0 {
        return Ok(());
    }
    let pa = pack_a(a, g.m, g.k, g.k);
    let (pb, colsum) = pack_b(b, g.k, g.n, 0, g.n);
    let row_init = vec![0i32; g.m];
    let col_init: Vec<i32> =
        (0..g.n).map(|j| bias.map_or(0, |b| b[j]).wrapping_sub(colsum[j].wrapping_mul(128))).collect();
    core(&pa, &pb, (g.m, g.n), Init { row: &row_init, col: &col_init }, c, g.n);
    Ok(())
}

/// Packs rows of `a` (`rows x k`, leading dimension `lda`) as u8 (`+ 128`) in panels of `MR` rows x 4 k;
/// rows and k beyond the matrix are padding (their products meet zero B entries or are discarded).
fn pack_a(a: &[i8], rows: usize, k: usize, lda: usize) -> Vec<APanel> {
    let kq = k.div_ceil(4);
    let mut out = vec![[[0x80u8; 4]; MR]; rows.div_ceil(MR) * kq];
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
    out
}

/// Packs columns `n0..n0 + n` of `b` (`k` rows, leading dimension `ldb`) in panels of `NR` columns x 4 k
/// (zero beyond the matrix), and returns each column's sum over k (wrapping, so any order is exact).
fn pack_b(b: &[i8], k: usize, ldb: usize, n0: usize, n: usize) -> (Vec<I8Panel>, Vec<i32>) {
    let kq = k.div_ceil(4);
    let mut out = vec![[0i8; 4 * NR]; n.div_ceil(NR) * kq];
    let mut colsum = vec![0i32; n];
    dispatch(PackB { b, k, ldb, n0, n, out: &mut out, colsum: &mut colsum });
    (out, colsum)
}

/// `pack_b`'s body, compiled per instruction set: the 4-row interleave and the column sums are plain loops
/// over columns that vectorize.
struct PackB<'a> {
    b: &'a [i8],
    k: usize,
    ldb: usize,
    n0: usize,
    n: usize,
    out: &'a mut [I8Panel],
    colsum: &'a mut [i32],
}

impl Simd for PackB<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let (b, k, ldb, n0, n) = (self.b, self.k, self.ldb, self.n0, self.n);
        for r in 0..k {
            for (s, &v) in self.colsum.iter_mut().zip(&b[r * ldb + n0..][..n]) {
                *s = s.wrapping_add(v as i32);
            }
        }
        let kq = k.div_ceil(4);
        let zeros = [0i8; NR];
        for (jp, panel) in self.out.chunks_mut(kq.max(1)).enumerate() {
            let j0 = jp * NR;
            let cols = NR.min(n - j0);
            for (q, step) in panel.iter_mut().enumerate() {
                let row = |t: usize| match 4 * q + t {
                    r if r < k => &b[r * ldb + n0 + j0..][..cols],
                    _ => &zeros[..cols],
                };
                let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
                for (j, quad) in step.chunks_exact_mut(4).take(cols).enumerate() {
                    quad.copy_from_slice(&[r0[j], r1[j], r2[j], r3[j]]);
                }
            }
        }
    }
}

/// The portable microkernel: the same sums as `gemm::dot_u8i8`, for CPUs without AVX-512 VNNI.
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
        for i in 0..rows {
            let row = &mut cb[i * ldc..][..n];
            for (v, &ci) in row.iter_mut().zip(col_init) {
                *v = row_init[r0 + i].wrapping_add(ci);
            }
        }
        for q0 in (0..kq).step_by(KQ_BLOCK) {
            let q1 = (q0 + KQ_BLOCK).min(kq);
            for jp in 0..n.div_ceil(NR) {
                let bpan = &pb[jp * kq + q0..jp * kq + q1];
                for ipl in 0..rows.div_ceil(MR) {
                    let ip = r0 / MR + ipl;
                    let mut acc = [[0i32; NR]; MR];
                    micro(&pa[ip * kq + q0..ip * kq + q1], bpan, &mut acc);
                    for (r, accr) in acc.iter().enumerate().take(rows - ipl * MR) {
                        let j0 = jp * NR;
                        let dst = &mut cb[(ipl * MR + r) * ldc + j0..][..NR.min(n - j0)];
                        for (d, &v) in dst.iter_mut().zip(accr) {
                            *d = d.wrapping_add(v);
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

/// Depthwise convolution (one input and one output channel per group): a direct loop per channel, in
/// parallel over channels, instead of a one-row GEMM whose packing would cost more than its sums. Padding
/// taps contribute `(x_zero - x_zero) * w = 0` in the reference, so they are skipped; the int32 sums are exact
/// (wrapping), so this order gives `conv_i8_reference`'s result. Shapes were checked by `check_conv`.
fn depthwise_i8(g: &ConvGeom, x: &[i8], x_zero: i8, w: &[i8], bias: Option<&[i32]>, y: &mut [i32]) {
    let [kh, kw] = g.kernel;
    let (plane, n, xz) = (g.in_h * g.in_w, g.out_h * g.out_w, x_zero as i32);
    let (sw, dw, pw) = (g.stride[1], g.dilation[1], g.pad[1]);
    // The output columns whose input column `ox * sw + kx * dw - pw` lies in [0, in_w).
    let columns = |kx: usize| {
        let off = kx * dw;
        let lo = pw.saturating_sub(off).div_ceil(sw);
        let hi = (g.in_w + pw).checked_sub(off).map_or(0, |e| e.div_ceil(sw)).min(g.out_w);
        (lo.min(hi), hi, off as isize - pw as isize)
    };
    y.par_chunks_mut(n.max(1)).enumerate().for_each(|(c, yc)| {
        let (xc, wc) = (&x[c * plane..][..plane], &w[c * kh * kw..][..kh * kw]);
        dispatch(DepthwiseChannel { g, xc, wc, xz, bias: bias.map_or(0, |b| b[c]), columns: &columns, yc });
    });
}

/// One channel of `depthwise_i8`, compiled per instruction set: with stride 1 the tap loop runs over
/// contiguous slices and vectorizes (i32 multiplies need SSE4.1 or later).
struct DepthwiseChannel<'a, F: Fn(usize) -> (usize, usize, isize)> {
    g: &'a ConvGeom,
    xc: &'a [i8],
    wc: &'a [i8],
    xz: i32,
    bias: i32,
    columns: &'a F,
    yc: &'a mut [i32],
}

impl<F: Fn(usize) -> (usize, usize, isize)> Simd for DepthwiseChannel<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let g = self.g;
        let [kh, kw] = g.kernel;
        let sw = g.stride[1];
        for (oy, row) in self.yc.chunks_mut(g.out_w.max(1)).enumerate() {
            row.fill(self.bias);
            for ky in 0..kh {
                let iy = (oy * g.stride[0] + ky * g.dilation[0]).checked_sub(g.pad[0]).filter(|&iy| iy < g.in_h);
                let Some(iy) = iy else { continue };
                let xr = &self.xc[iy * g.in_w..][..g.in_w];
                for kx in 0..kw {
                    let wv = self.wc[ky * kw + kx] as i32;
                    let (lo, hi, shift) = (self.columns)(kx);
                    if hi <= lo {
                        // No output column reads this tap (and `lo + shift` may be negative).
                        continue;
                    }
                    if sw == 1 {
                        // ix = ox + shift lies in [0, in_w) for ox in [lo, hi).
                        let start = (lo as isize + shift) as usize;
                        for (a, &xv) in row[lo..hi].iter_mut().zip(&xr[start..start + (hi - lo)]) {
                            *a = a.wrapping_add((xv as i32 - self.xz).wrapping_mul(wv));
                        }
                    } else {
                        for (ox, a) in row.iter_mut().enumerate().take(hi).skip(lo) {
                            let ix = (ox * sw) as isize + shift;
                            *a = a.wrapping_add((xr[ix as usize] as i32 - self.xz).wrapping_mul(wv));
                        }
                    }
                }
            }
        }
    }
}

/// The fast convolution (im2col with `x_zero` padding + the packed GEMM per group and column chunk);
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
    let n = g.out_h * g.out_w;
    if g.out_c == 0 || n == 0 {
        return Ok(());
    }
    let (cg, kg) = (g.in_c / g.groups, g.out_c / g.groups);
    if cg == 1 && kg == 1 {
        depthwise_i8(g, x, x_zero, w, bias, y);
        return Ok(());
    }
    let k = cg * g.kernel[0] * g.kernel[1];
    let plane = g.in_h * g.in_w;
    let nc = (COL_BYTES / k.max(1)).clamp(NR, n.max(NR)).min(n);
    let mut col = vec![0i8; k * nc];
    for (grp, yg) in y.chunks_mut(kg * n).enumerate() {
        let wg = &w[grp * kg * k..][..kg * k];
        let pa = pack_a(wg, kg, k, k);
        // The zero-point term, and the bias, per output channel.
        let row_init: Vec<i32> = (0..kg)
            .map(|i| {
                let s = wg[i * k..][..k].iter().fold(0i32, |s, &v| s.wrapping_add(v as i32));
                bias.map_or(0, |b| b[grp * kg + i]).wrapping_sub(s.wrapping_mul(x_zero as i32))
            })
            .collect();
        let xg = &x[grp * cg * plane..][..cg * plane];
        // A 1x1 stride-1 unpadded convolution over the whole plane: im2col would copy x as it is, so the
        // packing reads x directly (`cg` rows of `plane` columns).
        let pointwise =
            g.kernel == [1, 1] && g.stride == [1, 1] && g.pad == [0, 0] && (g.out_h, g.out_w) == (g.in_h, g.in_w);
        for n0 in (0..n).step_by(nc) {
            let cols = nc.min(n - n0);
            let (pb, colsum) = if pointwise {
                pack_b(xg, k, plane, n0, cols)
            } else {
                let colv = &mut col[..k * cols];
                im2col(g, xg, n0, n0 + cols, x_zero, colv);
                pack_b(colv, k, cols, 0, cols)
            };
            let col_init: Vec<i32> = colsum.iter().map(|s| s.wrapping_mul(-128)).collect();
            core(&pa, &pb, (kg, cols), Init { row: &row_init, col: &col_init }, &mut yg[n0..], n);
        }
    }
    Ok(())
}
