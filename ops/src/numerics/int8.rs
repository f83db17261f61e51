//! INT8 MAC semantics (see the module above for the definition): the block kernels `conv` and `matmul` that
//! `mac.conv` / `mac.matmul` with `dtype = i8` compute (int32 accumulation, then `requant::output`), and the
//! graph-level `Conv` / `Gemm` / `MatMul` on INT8 operands built from them.
//!
//! Graph conventions (what `accel_compiler::precision` produces); Q is the `quant` operand as an i32 tensor
//! `[8 + 2K]` (`requant::QuantParams::to_words`) when the fused activation lives in its header (clamp or
//! LeakyReLU: `act` is `None`), or `[8 + 64 + 2K]` with the activation's lookup table when `act` names it
//! (`numerics::table`; `Conv` and `Gemm` only):
//! - `Conv`: X i8 `[N,C,H,W]`, W i8, B i32 `[K]`, Q, optional residual R i8 of the output's shape -> i8.
//! - `Gemm`: A i8 `[M,K]`, B i8 (`trans_b` allowed), C i32 `[N]`, Q; `alpha = beta = 1`, no `trans_a` -> i8.
//! - `MatMul`: A i8 `[..., M, K]`, B i8 `[K, N]`, C i32 `[N]`, Q -> i8.
use super::conv_rows::{Padding, PlaneConv};
use super::requant::{QuantParams, HEADER_WORDS, TABLE_WORDS};
use super::{want, ConvGeom};
use crate::error::OpError;
use crate::op::{Conv, Gemm};
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use rayon::prelude::*;

/// One `mac.conv` block in int8: `acc = bias + sum (x - x_zero) * w` (wrapping i32; padding contributes 0),
/// then `QuantParams::output` with the channel's multiplier, the optional residual element and the table.
pub fn conv(
    g: &ConvGeom,
    x: &[i8],
    w: &[i8],
    bias: &[i32],
    q: &QuantParams,
    residual: Option<&[i8]>,
    y: &mut [i8],
) -> Result<(), OpError> {
    g.check(x.len(), w.len(), y.len())?;
    check_channels(g.out_c, bias, q)?;
    if residual.is_some_and(|r| r.len() != y.len()) {
        return Err(OpError::shape(4, format!("residual must have the output's {} elements", y.len())));
    }
    // Wrapping i32 sums do not depend on the order, so the row-structured loops give the definition's values
    // (`conv_per_element` in the tests writes it out): `bias + sum over taps inside the input of
    // (x - x_zero) * w`, then `output`.
    let plane = g.out_h * g.out_w;
    if plane == 0 {
        return Ok(());
    }
    let xz = q.header.x_zero;
    let xi: Vec<i32> = x.iter().map(|&v| (v as i32).wrapping_sub(xz)).collect();
    let wi: Vec<i32> = w.iter().map(|&v| v as i32).collect();
    let rows = PlaneConv::new(g, Padding::Skip);
    let xi = rows.prepare(&xi);
    let block = rows.block();
    y.par_chunks_mut(plane * block).enumerate().for_each(|(i, y_planes)| {
        let oc0 = i * block;
        let mut acc: Vec<i32> = (0..y_planes.len()).map(|j| bias[oc0 + j / plane]).collect();
        rows.accumulate(&xi, &wi, oc0, &mut acc);
        let at = oc0 * plane;
        for (j, (o, a)) in y_planes.iter_mut().zip(acc).enumerate() {
            *o = q.output(a, oc0 + j / plane, residual.map(|r| r[at + j]));
        }
    });
    Ok(())
}

/// One `mac.matmul` in int8: `acc[i,j] = bias[j] + sum_p (a[i,p] - x_zero) * b[p,j]`, then
/// `QuantParams::output`.
pub fn matmul(
    (m, k, n): (usize, usize, usize),
    a: &[i8],
    b: &[i8],
    bias: &[i32],
    q: &QuantParams,
    y: &mut [i8],
) -> Result<(), OpError> {
    let size = |r: usize, c: usize| r.checked_mul(c);
    if size(m, k) != Some(a.len()) || size(k, n) != Some(b.len()) || size(m, n) != Some(y.len()) {
        return Err(OpError::shape(0, format!("matmul operands do not match {m}x{k}x{n}")));
    }
    check_channels(n, bias, q)?;
    let xz = q.header.x_zero;
    for i in 0..m {
        for j in 0..n {
            let mut acc = bias[j];
            for p in 0..k {
                let d = (a[i * k + p] as i32).wrapping_sub(xz).wrapping_mul(b[p * n + j] as i32);
                acc = acc.wrapping_add(d);
            }
            y[i * n + j] = q.output(acc, j, None);
        }
    }
    Ok(())
}

fn check_channels(c: usize, bias: &[i32], q: &QuantParams) -> Result<(), OpError> {
    if bias.len() != c {
        return Err(OpError::shape(2, format!("bias must have {c} elements, has {}", bias.len())));
    }
    if q.channels.len() != c {
        return Err(OpError::shape(3, format!("quant has {} channels, the output {c}", q.channels.len())));
    }
    Ok(())
}

/// Checks the bias `[c]` (input `bi`) and the quant operand `[8 + 2c]`, or `[8 + 64 + 2c]` with a `table`
/// (input `bi + 1`).
fn want_bias_quant(inputs: &[TensorType], bi: usize, c: usize, table: bool) -> Result<(), OpError> {
    let b = want(inputs, bi, DType::I32)?;
    if b.shape.dims() != [c] {
        return Err(OpError::shape(bi, format!("an int8 bias must be i32 [{c}], got {}", b.shape)));
    }
    let q = want(inputs, bi + 1, DType::I32)?;
    let t = if table { TABLE_WORDS } else { 0 };
    if q.shape.dims() != [HEADER_WORDS + t + 2 * c] {
        return Err(OpError::shape(bi + 1, format!("quant must be i32 [8 + {t} + 2 x {c}], got {}", q.shape)));
    }
    Ok(())
}

/// Whether an int8 node's quant operand carries a lookup table: it does exactly when the node has an `act`
/// (the table is that function's int8 form), as for the commands.
fn table_act(act: &Option<crate::op::UnaryOp>) -> bool {
    act.is_some()
}

fn f32_of(t: &TensorType) -> TensorType {
    TensorType::f32(t.shape.dims().to_vec())
}

pub(super) fn infer_conv(c: &Conv, inputs: &[TensorType]) -> Result<TensorType, OpError> {
    crate::op::util::arity(inputs.len(), 4, 5)?;
    let table = table_act(&c.act);
    want(inputs, 0, DType::I8)?;
    want(inputs, 1, DType::I8)?;
    let out = c.infer(&[f32_of(&inputs[0]), f32_of(&inputs[1])])?;
    want_bias_quant(inputs, 2, out.shape.dims()[1], table)?;
    if let Some(r) = inputs.get(4) {
        want(inputs, 4, DType::I8)?;
        if r.shape != out.shape {
            return Err(OpError::shape(4, format!("residual {} must have the output's shape {}", r.shape, out.shape)));
        }
    }
    Ok(TensorType::new(DType::I8, out.shape.dims().to_vec()))
}

fn quant_of(t: &Tensor, act: &Option<crate::op::UnaryOp>) -> Result<QuantParams, OpError> {
    QuantParams::from_words(t.as_i32()?, table_act(act))
}

pub(super) fn eval_conv(c: &Conv, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
    let (x, w, bias) = (inputs[0].as_i8()?, inputs[1].as_i8()?, inputs[2].as_i32()?);
    let q = quant_of(inputs[3], &c.act)?;
    let residual = match inputs.get(4) {
        Some(r) => Some(r.as_i8()?),
        None => None,
    };
    let g = ConvGeom::of_conv(c, inputs[0].dims(), out.shape.dims())?;
    let (xs, ys) = (g.in_c * g.in_h * g.in_w, g.out_c * g.out_h * g.out_w);
    let mut y = vec![0i8; out.shape.numel()];
    for (b, yb) in y.chunks_mut(ys.max(1)).enumerate() {
        conv(&g, &x[b * xs..][..xs], w, bias, &q, residual.map(|r| &r[b * ys..][..ys]), yb)?;
    }
    Tensor::from_i8(out.shape.dims().to_vec(), y)
}

pub(super) fn infer_gemm(g: &Gemm, inputs: &[TensorType]) -> Result<TensorType, OpError> {
    crate::op::util::arity(inputs.len(), 4, 4)?;
    let table = table_act(&g.act);
    if g.alpha != 1.0 || g.beta != 1.0 || g.trans_a {
        return Err(OpError::attr("alpha/beta/transA", "an int8 Gemm needs alpha = beta = 1 and no transA"));
    }
    want(inputs, 0, DType::I8)?;
    want(inputs, 1, DType::I8)?;
    let out = g.infer(&[f32_of(&inputs[0]), f32_of(&inputs[1])])?;
    want_bias_quant(inputs, 2, out.shape.dims()[1], table)?;
    Ok(TensorType::new(DType::I8, out.shape.dims().to_vec()))
}

pub(super) fn eval_gemm(g: &Gemm, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
    let (b, k, n) = super::bf16::b_kn(inputs[1].as_i8()?, inputs[1].dims(), g.trans_b);
    let m = out.shape.dims()[0];
    let mut y = vec![0i8; m * n];
    matmul((m, k, n), inputs[0].as_i8()?, &b, inputs[2].as_i32()?, &quant_of(inputs[3], &g.act)?, &mut y)?;
    Tensor::from_i8(out.shape.dims().to_vec(), y)
}

pub(super) fn infer_matmul(inputs: &[TensorType]) -> Result<TensorType, OpError> {
    crate::op::util::arity(inputs.len(), 4, 4)?;
    let a = want(inputs, 0, DType::I8)?;
    let b = want(inputs, 1, DType::I8)?;
    match (a.shape.dims(), b.shape.dims()) {
        ([.., _, ka], [kb, n]) if ka == kb => {
            want_bias_quant(inputs, 2, *n, false)?;
            let mut o = a.shape.dims().to_vec();
            if let Some(last) = o.last_mut() {
                *last = *n;
            }
            Ok(TensorType::new(DType::I8, o))
        }
        _ => Err(OpError::shape(
            1,
            format!("an int8 MatMul needs A [..,M,K] and B [K,N], got {} and {}", a.shape, b.shape),
        )),
    }
}

pub(super) fn eval_matmul(inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
    let [k, n] = inputs[1].dims()[..] else { return Err(OpError::shape(1, "B must be 2-D")) };
    let a = inputs[0].as_i8()?;
    let m = a.len().checked_div(k).unwrap_or_else(|| out.shape.numel() / n.max(1));
    let mut y = vec![0i8; out.shape.numel()];
    matmul((m, k, n), a, inputs[1].as_i8()?, inputs[2].as_i32()?, &quant_of(inputs[3], &None)?, &mut y)?;
    Tensor::from_i8(out.shape.dims().to_vec(), y)
}
