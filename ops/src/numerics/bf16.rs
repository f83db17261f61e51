//! BF16 MAC semantics (see the module above for the definition): the block kernels `conv` and `matmul` that
//! `mac.conv` / `mac.matmul` with `dtype = bf16` compute, written as plain loops in the defined order, and the
//! graph-level `Conv` / `Gemm` / `MatMul` on BF16 operands built from them.
//!
//! Graph conventions (what `accel_compiler::precision` produces):
//! - `Conv`: X bf16 `[N,C,H,W]`, W bf16, optional B f32 `[K]`, optional residual R bf16 of the output's shape
//!   (then B is required) -> bf16.
//! - `Gemm`: A bf16 `[M,K]` (`trans_a` false), B bf16 (`trans_b` allowed), optional C f32 broadcastable to
//!   `[M,N]`; `alpha = beta = 1` (scales are folded into the f32 constants before rounding) -> bf16.
//! - `MatMul`: A bf16 `[..., M, K]`, B bf16 `[K, N]` -> bf16.
use super::conv_rows::{Padding, PlaneConv};
use super::{want, ConvGeom};
use crate::error::OpError;
use crate::op::util::broadcast_index;
use crate::op::{Conv, Gemm, UnaryOp};
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use half::bf16;
use rayon::prelude::*;

/// Rounds an f32 to bf16: nearest, ties to even (the only f32 -> bf16 rounding in accel).
#[inline]
pub fn round(x: f32) -> bf16 {
    bf16::from_f32(x)
}

/// Rounds every element.
pub fn round_all(x: &[f32]) -> Vec<bf16> {
    x.iter().map(|&v| round(v)).collect()
}

/// The tail shared by both kernels: residual, activation, rounding.
#[inline]
fn finish(mut acc: f32, residual: Option<f32>, act: Option<UnaryOp>) -> bf16 {
    if let Some(r) = residual {
        acc += r;
    }
    if let Some(a) = act {
        acc = a.apply(acc);
    }
    round(acc)
}

/// One `mac.conv` block in bf16: `y = round(act(bias + sum x*w + residual))` in the defined order.
pub fn conv(
    g: &ConvGeom,
    x: &[bf16],
    w: &[bf16],
    bias: Option<&[f32]>,
    residual: Option<&[bf16]>,
    act: Option<UnaryOp>,
    y: &mut [bf16],
) -> Result<(), OpError> {
    g.check(x.len(), w.len(), y.len())?;
    if bias.is_some_and(|b| b.len() != g.out_c) {
        return Err(OpError::shape(2, format!("bias must have {} elements", g.out_c)));
    }
    if residual.is_some_and(|r| r.len() != y.len()) {
        return Err(OpError::shape(3, format!("residual must have the output's {} elements", y.len())));
    }
    // In f32 (exact from bf16) a plane at a time, each element in the defined order (`conv_per_element` in
    // the tests is the definition written out); a tap in the padding adds `0 * w`, as reading a zero does.
    let (xf, wf): (Vec<f32>, Vec<f32>) =
        (x.iter().map(|v| v.to_f32()).collect(), w.iter().map(|v| v.to_f32()).collect());
    let rows = PlaneConv::new(g, Padding::ZeroProduct);
    let xf = rows.prepare(&xf);
    let plane = g.out_h * g.out_w;
    if plane == 0 {
        return Ok(());
    }
    let block = rows.block();
    y.par_chunks_mut(plane * block).enumerate().for_each(|(i, y_planes)| {
        let oc0 = i * block;
        let mut acc: Vec<f32> = (0..y_planes.len()).map(|j| bias.map_or(0.0, |b| b[oc0 + j / plane])).collect();
        rows.accumulate(&xf, &wf, oc0, &mut acc);
        let at = oc0 * plane;
        for (j, (o, a)) in y_planes.iter_mut().zip(acc).enumerate() {
            *o = finish(a, residual.map(|r| r[at + j].to_f32()), act);
        }
    });
    Ok(())
}

/// One `mac.matmul` in bf16: `y[i,j] = round(act(bias[j] + sum_p a[i,p] * b[p,j]))`, `p` in order.
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    (m, k, n): (usize, usize, usize),
    a: &[bf16],
    b: &[bf16],
    bias: Option<&[f32]>,
    act: Option<UnaryOp>,
    y: &mut [bf16],
) -> Result<(), OpError> {
    let size = |r: usize, c: usize| r.checked_mul(c);
    if size(m, k) != Some(a.len()) || size(k, n) != Some(b.len()) || size(m, n) != Some(y.len()) {
        return Err(OpError::shape(0, format!("matmul operands do not match {m}x{k}x{n}")));
    }
    if bias.is_some_and(|b| b.len() != n) {
        return Err(OpError::shape(2, format!("bias must have {n} elements")));
    }
    for i in 0..m {
        for j in 0..n {
            let mut acc = bias.map_or(0.0, |b| b[j]);
            for p in 0..k {
                acc += a[i * k + p].to_f32() * b[p * n + j].to_f32();
            }
            y[i * n + j] = finish(acc, None, act);
        }
    }
    Ok(())
}

/// The f32 view of bf16 types, to reuse the f32 shape rules.
fn as_f32(t: &TensorType) -> TensorType {
    TensorType::f32(t.shape.dims().to_vec())
}

pub(super) fn infer_conv(c: &Conv, inputs: &[TensorType]) -> Result<TensorType, OpError> {
    want(inputs, 0, DType::BF16)?;
    want(inputs, 1, DType::BF16)?;
    if inputs.len() > 2 {
        want(inputs, 2, DType::F32)?;
    }
    let mut f: Vec<TensorType> = inputs.iter().take(3).map(as_f32).collect();
    let out = c.infer(&f)?;
    if inputs.len() > 3 {
        want(inputs, 3, DType::BF16)?;
        if inputs[3].shape != out.shape {
            return Err(OpError::shape(
                3,
                format!("residual {} must have the output's shape {}", inputs[3].shape, out.shape),
            ));
        }
        f.push(as_f32(&inputs[3]));
        c.infer(&f)?;
    }
    Ok(TensorType::new(DType::BF16, out.shape.dims().to_vec()))
}

pub(super) fn eval_conv(c: &Conv, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
    let (x, w) = (inputs[0].as_bf16()?, inputs[1].as_bf16()?);
    let bias = match inputs.get(2) {
        Some(b) => Some(b.as_f32()?),
        None => None,
    };
    let residual = match inputs.get(3) {
        Some(r) => Some(r.as_bf16()?),
        None => None,
    };
    let g = ConvGeom::of_conv(c, inputs[0].dims(), out.shape.dims())?;
    let (xs, ys) = (g.in_c * g.in_h * g.in_w, g.out_c * g.out_h * g.out_w);
    let mut y = vec![bf16::ZERO; out.shape.numel()];
    for (b, yb) in y.chunks_mut(ys.max(1)).enumerate() {
        let rb = residual.map(|r| &r[b * ys..][..ys]);
        conv(&g, &x[b * xs..][..xs], w, bias, rb, c.act, yb)?;
    }
    Tensor::from_bf16(out.shape.dims().to_vec(), y)
}

fn check_unit_scales(g: &Gemm) -> Result<(), OpError> {
    if g.alpha != 1.0 || g.beta != 1.0 || g.trans_a {
        return Err(OpError::attr(
            "alpha/beta/transA",
            "a reduced-precision Gemm needs alpha = beta = 1 and no transA",
        ));
    }
    Ok(())
}

pub(super) fn infer_gemm(g: &Gemm, inputs: &[TensorType]) -> Result<TensorType, OpError> {
    check_unit_scales(g)?;
    want(inputs, 0, DType::BF16)?;
    want(inputs, 1, DType::BF16)?;
    if inputs.len() > 2 {
        want(inputs, 2, DType::F32)?;
    }
    let f: Vec<TensorType> = inputs.iter().map(as_f32).collect();
    let out = g.infer(&f)?;
    Ok(TensorType::new(DType::BF16, out.shape.dims().to_vec()))
}

/// B as a row-major `[K, N]` copy (transposed when `trans_b`).
pub(super) fn b_kn<T: Copy>(b: &[T], dims: &[usize], trans_b: bool) -> (Vec<T>, usize, usize) {
    let (r, c) = (dims[0], dims[1]);
    if !trans_b {
        return (b.to_vec(), r, c);
    }
    let mut out = Vec::with_capacity(b.len());
    for p in 0..c {
        for j in 0..r {
            out.push(b[j * c + p]);
        }
    }
    (out, c, r)
}

pub(super) fn eval_gemm(g: &Gemm, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
    let a = inputs[0].as_bf16()?;
    let (b, k, n) = b_kn(inputs[1].as_bf16()?, inputs[1].dims(), g.trans_b);
    let m = out.shape.dims()[0];
    let mut y = vec![bf16::ZERO; m * n];
    match inputs.get(2) {
        // The bias is one value per column on the tiles; a general C is the same sum with C's element first.
        Some(c) => {
            let (cv, cd) = (c.as_f32()?, c.dims());
            for i in 0..m {
                let row: Vec<f32> = (0..n).map(|j| cv[broadcast_index(&[m, n], cd, i * n + j)]).collect();
                matmul((1, k, n), &a[i * k..][..k], &b, Some(&row), g.act, &mut y[i * n..][..n])?;
            }
        }
        None => matmul((m, k, n), a, &b, None, g.act, &mut y)?,
    }
    Tensor::from_bf16(out.shape.dims().to_vec(), y)
}

pub(super) fn infer_matmul(inputs: &[TensorType]) -> Result<TensorType, OpError> {
    crate::op::util::arity(inputs.len(), 2, 2)?;
    let a = want(inputs, 0, DType::BF16)?;
    let b = want(inputs, 1, DType::BF16)?;
    let (ad, bd) = (a.shape.dims(), b.shape.dims());
    match (ad, bd) {
        ([.., _, ka], [kb, n]) if ka == kb => {
            let mut o = ad.to_vec();
            if let Some(last) = o.last_mut() {
                *last = *n;
            }
            Ok(TensorType::new(DType::BF16, o))
        }
        _ => Err(OpError::shape(
            1,
            format!("a reduced-precision MatMul needs A [..,M,K] and B [K,N], got {} and {}", a.shape, b.shape),
        )),
    }
}

pub(super) fn eval_matmul(inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
    let [k, n] = inputs[1].dims()[..] else { return Err(OpError::shape(1, "B must be 2-D")) };
    let a = inputs[0].as_bf16()?;
    let m = a.len().checked_div(k).unwrap_or_else(|| out.shape.numel() / n.max(1));
    let mut y = vec![bf16::ZERO; out.shape.numel()];
    matmul((m, k, n), a, inputs[1].as_bf16()?, None, None, &mut y)?;
    Tensor::from_bf16(out.shape.dims().to_vec(), y)
}
