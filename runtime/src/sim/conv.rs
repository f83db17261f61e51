//! `mac.conv` in f32 on already-loaded slices: im2col + sgemm per group and column chunk (in parallel), and a
//! direct loop for depthwise-like convolutions. Semantics are exactly `accel_ops::op::Conv` on one block:
//! padding top/left shifts the window, positions outside the block read zero, the first `out_h x out_w` outputs
//! are produced; bias, then the optional residual block (output-shaped), then the fused activation are applied.
use super::gemm::{gemm, MatMut, MatRef};
use super::matmul::{apply_act, par_threshold};
use accel_ops::op::UnaryOp;
use rayon::prelude::*;

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

/// Floats of im2col scratch one task may use (16 MiB); a single column may exceed it (bounded by SRAM).
const COL_BUDGET: usize = 1 << 22;

fn prod(xs: &[usize]) -> Option<usize> {
    xs.iter().try_fold(1usize, |a, &b| a.checked_mul(b))
}

/// The outputs `o` in `lo..hi` whose input coordinate `o * stride + off - pad` lies in `0..size`.
pub(super) fn valid_range(lo: usize, hi: usize, stride: usize, off: usize, pad: usize, size: usize) -> (usize, usize) {
    let first = if pad > off { (pad - off).div_ceil(stride) } else { 0 };
    let end = if size + pad > off { (size + pad - off).div_ceil(stride) } else { 0 };
    let a = first.clamp(lo, hi);
    (a, end.clamp(a, hi))
}

impl ConvGeom {
    fn check(&self, x: usize, w: usize, bias: Option<usize>, y: usize) -> Result<(), String> {
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
}

/// Computes one convolution block. `x` is `[in_c, in_h, in_w]`, `w` is `[out_c, in_c/groups, kh, kw]`,
/// `bias` is `[out_c]`, `residual` and `y` are `[out_c, out_h, out_w]`.
pub fn conv_f32(
    g: &ConvGeom,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    act: Option<UnaryOp>,
    y: &mut [f32],
) -> Result<(), String> {
    g.check(x.len(), w.len(), bias.map(|b| b.len()), y.len())?;
    if residual.is_some_and(|r| r.len() != y.len()) {
        return Err(format!("residual must have the output's {} elements", y.len()));
    }
    if g.out_c == 0 || g.out_h == 0 || g.out_w == 0 {
        return Ok(());
    }
    let (cg, kg) = (g.in_c / g.groups, g.out_c / g.groups);
    if cg == 1 && kg == 1 {
        direct(g, x, w, bias, y);
    } else {
        im2col_gemm(g, x, w, bias, y)?;
    }
    if let Some(r) = residual {
        y.iter_mut().zip(r).for_each(|(y, r)| *y += r);
    }
    apply_act(act, y);
    Ok(())
}

/// Direct loops, one output plane per task: best when each output channel reads one input channel.
fn direct(g: &ConvGeom, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    let (cg, kg) = (g.in_c / g.groups, g.out_c / g.groups);
    let [kh, kw] = g.kernel;
    let (oh, ow, ih, iw) = (g.out_h, g.out_w, g.in_h, g.in_w);
    let plane = |oc: usize, yp: &mut [f32]| {
        let grp = oc / kg;
        yp.fill(bias.map_or(0.0, |b| b[oc]));
        for ic in 0..cg {
            let xp = &x[(grp * cg + ic) * ih * iw..][..ih * iw];
            for ky in 0..kh {
                let (oy0, oy1) = valid_range(0, oh, g.stride[0], ky * g.dilation[0], g.pad[0], ih);
                for kx in 0..kw {
                    let wv = w[((oc * cg + ic) * kh + ky) * kw + kx];
                    let off = kx * g.dilation[1];
                    let (ox0, ox1) = valid_range(0, ow, g.stride[1], off, g.pad[1], iw);
                    for oy in oy0..oy1 {
                        let iy = oy * g.stride[0] + ky * g.dilation[0] - g.pad[0];
                        let xrow = &xp[iy * iw..][..iw];
                        let yrow = &mut yp[oy * ow..][..ow];
                        for ox in ox0..ox1 {
                            yrow[ox] += wv * xrow[ox * g.stride[1] + off - g.pad[1]];
                        }
                    }
                }
            }
        }
    };
    let n = oh * ow;
    if y.len() < par_threshold() {
        y.chunks_mut(n).enumerate().for_each(|(oc, yp)| plane(oc, yp));
    } else {
        y.par_chunks_mut(n).enumerate().for_each(|(oc, yp)| plane(oc, yp));
    }
}

/// One unit of parallel work: output channels `m0..m1` of group `grp`, output positions `n0..n1`.
#[derive(Clone, Copy)]
struct Task {
    grp: usize,
    m0: usize,
    m1: usize,
    n0: usize,
    n1: usize,
}

fn im2col_gemm(g: &ConvGeom, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) -> Result<(), String> {
    let (cg, kg) = (g.in_c / g.groups, g.out_c / g.groups);
    let k = cg * g.kernel[0] * g.kernel[1];
    let n = g.out_h * g.out_w;
    let threads = rayon::current_num_threads().max(1);
    // Column chunks: within the scratch budget, and enough of them to keep every thread busy.
    let budget_cols = (COL_BUDGET / k.max(1)).max(1);
    let per_group = (2 * threads).div_ceil(g.groups);
    let nc = budget_cols.min(n.div_ceil(per_group).max(64)).clamp(1, n);
    let n_chunks = n.div_ceil(nc);
    // Few chunks but many output channels (late layers): split the channels too.
    let m_blocks = if g.groups * n_chunks < threads && kg >= 64 { threads.min(kg / 32) } else { 1 };
    let mb = kg.div_ceil(m_blocks);
    let mut tasks = Vec::new();
    for grp in 0..g.groups {
        for c in 0..n_chunks {
            for b in 0..kg.div_ceil(mb) {
                let (n0, m0) = (c * nc, b * mb);
                tasks.push(Task { grp, m0, m1: (m0 + mb).min(kg), n0, n1: (n0 + nc).min(n) });
            }
        }
    }
    let run = |t: &Task| run_task(g, x, w, bias, t);
    let macs = (g.out_c * n).saturating_mul(k);
    let blocks: Vec<Vec<f32>> = if macs < 1 << 18 {
        tasks.iter().map(run).collect::<Result<_, _>>()?
    } else {
        tasks.par_iter().map(run).collect::<Result<_, _>>()?
    };
    for (t, block) in tasks.iter().zip(blocks) {
        let nc = t.n1 - t.n0;
        for (r, row) in block.chunks_exact(nc.max(1)).enumerate() {
            let oc = t.grp * kg + t.m0 + r;
            y[oc * n + t.n0..][..nc].copy_from_slice(row);
        }
    }
    Ok(())
}

/// Computes one task into a `(m1 - m0) x (n1 - n0)` block, bias included.
fn run_task(g: &ConvGeom, x: &[f32], w: &[f32], bias: Option<&[f32]>, t: &Task) -> Result<Vec<f32>, String> {
    let (cg, kg) = (g.in_c / g.groups, g.out_c / g.groups);
    let k = cg * g.kernel[0] * g.kernel[1];
    let (mb, nc) = (t.m1 - t.m0, t.n1 - t.n0);
    let oc0 = t.grp * kg + t.m0;
    let mut out = vec![0f32; mb * nc];
    if let Some(b) = bias {
        for (r, row) in out.chunks_exact_mut(nc.max(1)).enumerate() {
            row.fill(b[oc0 + r]);
        }
    }
    let a = MatRef { data: &w[oc0 * k..(oc0 + mb) * k], rows: mb, cols: k, ld: k };
    let c = MatMut { data: &mut out, rows: mb, cols: nc, ld: nc };
    let plane = g.in_h * g.in_w;
    let xg = &x[t.grp * cg * plane..(t.grp + 1) * cg * plane];
    let pointwise = g.kernel == [1, 1] && g.stride == [1, 1] && g.pad == [0, 0] && g.out_w == g.in_w;
    if pointwise {
        // Output position p reads input position p of each channel: the input planes are B directly.
        let b = MatRef { data: &xg[t.n0..], rows: cg, cols: nc, ld: plane };
        gemm(a, b, c, 1.0)
    } else {
        let mut col = vec![0f32; k * nc];
        im2col(g, xg, t.n0, t.n1, &mut col);
        gemm(a, MatRef { data: &col, rows: k, cols: nc, ld: nc }, c, 1.0)
    }
    .map(|()| out)
}

/// Fills `col` (`[cg*kh*kw, n1-n0]`, row-major) with the input values each output position's window reads.
fn im2col(g: &ConvGeom, xg: &[f32], n0: usize, n1: usize, col: &mut [f32]) {
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
                        seg.fill(0.0);
                        continue;
                    }
                    let xrow = &xp[(iy - g.pad[0]) * iw..][..iw];
                    let (lo, hi) = valid_range(ox0, ox1, g.stride[1], off, g.pad[1], iw);
                    seg[..lo - ox0].fill(0.0);
                    seg[hi - ox0..].fill(0.0);
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
