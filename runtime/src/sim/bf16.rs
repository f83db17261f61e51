//! BF16 GEMM and convolution kernels: bf16 x bf16 products accumulated in f32. Standalone (the precision work
//! wires them to `mac.conv` / `mac.matmul` with `dtype = bf16`); each fast kernel has a reference beside it
//! that spells out the semantics.
//!
//! Semantics. A bf16 value is the top 16 bits of an f32, so widening is exact, and the product of two bf16
//! values (8 significant bits each) is exact in f32 (24 bits): only the accumulation rounds. The reference
//! defines the order: `acc = bias` (0 when absent), then `acc = acc + a_p * b_p` in f32 for `p = 0, 1, ..`
//! (for a convolution: `(ic, ky, kx)` in that order, skipping positions outside the block, exactly as
//! `accel_ops::op::Conv` does in f32). The fast kernels widen to f32 and run the blocked f32 GEMM, which sums in
//! another order: they agree with the reference within f32 rounding of the sum (tested with the f32 tolerance),
//! not bit for bit.
use super::conv::{conv_f32, ConvGeom};
use super::matmul::{matmul_f32, MatMulGeom};
use std::cell::RefCell;

pub use half::bf16 as Bf16;

/// The shape of a BF16 GEMM: `a` is `[m, k]`, `b` is `[k, n]`, `c` is `[m, n]`, all row-major.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmBf16 {
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

thread_local! {
    /// Widened operands, reused across calls on this thread (taken out while in use, so re-entrance from a
    /// rayon steal only costs an allocation).
    static WIDE: RefCell<(Vec<f32>, Vec<f32>)> = RefCell::default();
}

fn widen(src: &[Bf16], dst: &mut Vec<f32>) {
    dst.clear();
    dst.extend(src.iter().map(|v| v.to_f32()));
}

fn check_len(what: &str, want: Option<usize>, have: usize) -> Result<(), String> {
    match want {
        Some(w) if w == have => Ok(()),
        _ => Err(format!("{what} has {have} elements, expected {want:?}")),
    }
}

impl GemmBf16 {
    fn check(&self, a: usize, b: usize, bias: Option<usize>, c: usize) -> Result<(), String> {
        check_len("a", self.m.checked_mul(self.k), a)?;
        check_len("b", self.k.checked_mul(self.n), b)?;
        check_len("c", self.m.checked_mul(self.n), c)?;
        bias.map_or(Ok(()), |b| check_len("bias", Some(self.n), b))
    }
}

/// The reference: `c[i][j] = bias[j] + a[i][0] * b[0][j] + a[i][1] * b[1][j] + ...`, summed left to right in f32.
pub fn gemm_bf16_reference(
    g: GemmBf16,
    a: &[Bf16],
    b: &[Bf16],
    bias: Option<&[f32]>,
    c: &mut [f32],
) -> Result<(), String> {
    g.check(a.len(), b.len(), bias.map(|b| b.len()), c.len())?;
    for i in 0..g.m {
        for j in 0..g.n {
            let mut acc = bias.map_or(0.0, |b| b[j]);
            for p in 0..g.k {
                acc += a[i * g.k + p].to_f32() * b[p * g.n + j].to_f32();
            }
            c[i * g.n + j] = acc;
        }
    }
    Ok(())
}

/// The fast GEMM: widen, then the parallel blocked f32 GEMM. Within f32 rounding of the reference.
pub fn gemm_bf16(g: GemmBf16, a: &[Bf16], b: &[Bf16], bias: Option<&[f32]>, c: &mut [f32]) -> Result<(), String> {
    g.check(a.len(), b.len(), bias.map(|b| b.len()), c.len())?;
    let (mut wa, mut wb) = WIDE.with(|w| w.take());
    widen(a, &mut wa);
    widen(b, &mut wb);
    let r = matmul_f32(&MatMulGeom { m: g.m, k: g.k, n: g.n }, &wa, &wb, bias, None, c);
    WIDE.with(|w| w.replace((wa, wb)));
    r
}

/// The reference convolution: `accel_ops::op::Conv`'s loops on widened values (bias first, then `(ic, ky,
/// kx)` in order), no activation.
pub fn conv_bf16_reference(
    g: &ConvGeom,
    x: &[Bf16],
    w: &[Bf16],
    bias: Option<&[f32]>,
    y: &mut [f32],
) -> Result<(), String> {
    g.check(x.len(), w.len(), bias.map(|b| b.len()), y.len())?;
    let (cg, kg) = (g.in_c / g.groups, g.out_c / g.groups);
    let [kh, kw] = g.kernel;
    for oc in 0..g.out_c {
        let grp = oc / kg;
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let mut acc = bias.map_or(0.0, |b| b[oc]);
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
                            acc += xv.to_f32() * wv.to_f32();
                        }
                    }
                }
                y[(oc * g.out_h + oy) * g.out_w + ox] = acc;
            }
        }
    }
    Ok(())
}

/// The fast convolution: widen, then `conv_f32` (im2col / 1x1 GEMM / direct depthwise). Within f32 rounding
/// of the reference.
pub fn conv_bf16(g: &ConvGeom, x: &[Bf16], w: &[Bf16], bias: Option<&[f32]>, y: &mut [f32]) -> Result<(), String> {
    g.check(x.len(), w.len(), bias.map(|b| b.len()), y.len())?;
    let (mut wx, mut ww) = WIDE.with(|w| w.take());
    widen(x, &mut wx);
    widen(w, &mut ww);
    let r = conv_f32(g, &wx, &ww, bias, None, None, y);
    WIDE.with(|w| w.replace((wx, ww)));
    r
}
