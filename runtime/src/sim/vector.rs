//! The vector unit's f32 kernels on already-loaded slices: `vec.unary`, `vec.binary` (with its period/repeat
//! broadcast), `vec.pool` (exactly `accel_ops::op::Pool::window` on a padded block) and `vec.affine`.
use super::conv::valid_range;
use super::matmul::par_threshold;
use accel_ops::op::{BinaryOp, PoolKind, UnaryOp};
use rayon::prelude::*;

fn same_len(what: &str, want: usize, have: usize) -> Result<(), String> {
    if want == have {
        Ok(())
    } else {
        Err(format!("{what} has {have} elements, expected {want}"))
    }
}

/// `dst[i] = f(src[i])`.
pub fn unary_f32(f: UnaryOp, src: &[f32], dst: &mut [f32]) -> Result<(), String> {
    same_len("dst", src.len(), dst.len())?;
    let run = |(d, s): (&mut [f32], &[f32])| d.iter_mut().zip(s).for_each(|(d, &s)| *d = f.apply(s));
    if src.len() < par_threshold() {
        run((dst, src));
    } else {
        dst.par_chunks_mut(1 << 14).zip(src.par_chunks(1 << 14)).for_each(run);
    }
    Ok(())
}

/// `dst[i] = a[i] op b[(i / repeat) % period]`.
pub fn binary_f32(op: BinaryOp, a: &[f32], b: &[f32], repeat: usize, dst: &mut [f32]) -> Result<(), String> {
    same_len("dst", a.len(), dst.len())?;
    if b.is_empty() || repeat == 0 {
        return Err("b_period and b_repeat must be >= 1".into());
    }
    let period = b.len();
    const CHUNK: usize = 1 << 14;
    let run = |ci: usize, d: &mut [f32], a: &[f32]| {
        let base = ci * CHUNK;
        for (j, (d, &av)) in d.iter_mut().zip(a).enumerate() {
            *d = op.apply(av, b[((base + j) / repeat) % period]);
        }
    };
    if a.len() < par_threshold() {
        dst.chunks_mut(CHUNK).zip(a.chunks(CHUNK)).enumerate().for_each(|(ci, (d, a))| run(ci, d, a));
    } else {
        dst.par_chunks_mut(CHUNK).zip(a.par_chunks(CHUNK)).enumerate().for_each(|(ci, (d, a))| run(ci, d, a));
    }
    Ok(())
}

/// `dst[c, j] = src[c, j] * params[c] + params[channels + c]` over `[channels, inner]`.
pub fn affine_f32(src: &[f32], params: &[f32], channels: usize, dst: &mut [f32]) -> Result<(), String> {
    same_len("dst", src.len(), dst.len())?;
    same_len("params", channels.checked_mul(2).ok_or("overflow")?, params.len())?;
    if channels == 0 {
        return same_len("src", 0, src.len());
    }
    if src.len() % channels != 0 {
        return Err(format!("{} elements do not split into {channels} channels", src.len()));
    }
    let inner = src.len() / channels;
    if inner == 0 {
        return Ok(());
    }
    let (scale, shift) = params.split_at(channels);
    let run = |(c, (d, s)): (usize, (&mut [f32], &[f32]))| {
        let (k, o) = (scale[c], shift[c]);
        d.iter_mut().zip(s).for_each(|(d, &s)| *d = s * k + o);
    };
    if src.len() < par_threshold() {
        dst.chunks_mut(inner).zip(src.chunks(inner)).enumerate().for_each(run);
    } else {
        dst.par_chunks_mut(inner).zip(src.par_chunks(inner)).enumerate().for_each(run);
    }
    Ok(())
}

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
        dst.fill(empty_window(kind));
        return Ok(());
    }
    let run = |(d, s): (&mut [f32], &[f32])| pool_plane(kind, g, s, d);
    if src.len() < par_threshold() {
        dst.chunks_mut(plane_out).zip(src.chunks(plane_in)).for_each(run);
    } else {
        dst.par_chunks_mut(plane_out).zip(src.par_chunks(plane_in)).for_each(run);
    }
    Ok(())
}

fn empty_window(kind: PoolKind) -> f32 {
    match kind {
        PoolKind::Max => f32::NEG_INFINITY,
        PoolKind::Avg { .. } => 0.0,
    }
}

fn pool_plane(kind: PoolKind, g: &PoolGeom, src: &[f32], dst: &mut [f32]) {
    let [kh, kw] = g.kernel;
    let [pt, pl, pb, pr] = g.pads;
    for oy in 0..g.out_h {
        let (ky0, ky1) = window(oy, g.stride[0], pt, kh, g.in_h);
        for ox in 0..g.out_w {
            let (kx0, kx1) = window(ox, g.stride[1], pl, kw, g.in_w);
            let (mut max, mut sum, mut count) = (f32::NEG_INFINITY, 0f32, 0usize);
            for ky in ky0..ky1 {
                let iy = oy * g.stride[0] + ky - pt;
                let row = &src[iy * g.in_w..][..g.in_w];
                for kx in kx0..kx1 {
                    let v = row[ox * g.stride[1] + kx - pl];
                    max = max.max(v);
                    sum += v;
                    count += 1;
                }
            }
            dst[oy * g.out_w + ox] = match kind {
                PoolKind::Max => max,
                PoolKind::Avg { count_include_pad: false } => sum / count.max(1) as f32,
                PoolKind::Avg { count_include_pad: true } => {
                    // As the reference: the window clipped to the padded input.
                    let (y0, x0) =
                        ((oy * g.stride[0]) as isize - pt as isize, (ox * g.stride[1]) as isize - pl as isize);
                    let ylo = y0.max(-(pt as isize));
                    let xlo = x0.max(-(pl as isize));
                    let yhi = (y0 + kh as isize).min((g.in_h + pb) as isize);
                    let xhi = (x0 + kw as isize).min((g.in_w + pr) as isize);
                    sum / ((yhi - ylo) * (xhi - xlo)).max(1) as f32
                }
            };
        }
    }
}

/// The kernel offsets `k` in `0..kernel` whose input `o * stride + k - pad` lies in `0..size`.
fn window(o: usize, stride: usize, pad: usize, kernel: usize, size: usize) -> (usize, usize) {
    // Same arithmetic as `valid_range`, with the roles of output and kernel offset swapped (stride 1 over k).
    valid_range(0, kernel, 1, o * stride, pad, size)
}
