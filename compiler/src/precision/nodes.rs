//! The BF16 and INT8 forms of one MAC node (`Conv`, `Gemm`, `MatMul` that the tiles run), built into a
//! `Rewriter` with the graph conventions of `accel_ops::numerics::{bf16, int8}`. A builder returns `Ok(false)`
//! (and adds nothing) when the node has no such form; the caller then tries the next precision.
use super::quantize::{clamp_of, neg_mult_of, quant_params, quantize_bias, quantize_weights, LayerQuant};
use super::rewrite::{Fmt, Rewriter};
use crate::ir::{IrError, Node, ValueId};
use accel_ops::numerics::bf16::round_all;
use accel_ops::numerics::table;
use accel_ops::op::{Gemm, Op, UnaryOp};
use accel_ops::Tensor;

fn invalid(n: &Node) -> impl Fn(accel_ops::OpError) -> IrError + '_ {
    move |e| IrError::Invalid { node: n.name.clone(), why: e.to_string() }
}

/// The f32 constant behind `v`, if it is one.
fn f32_const<'g>(rw: &Rewriter<'g>, v: ValueId) -> Option<&'g [f32]> {
    rw.src.constant(v)?.as_f32().ok()
}

/// `b` of a Gemm as `[K, N]` row-major, with alpha folded in.
fn gemm_b_kn(g: &Gemm, b: &[f32], dims: &[usize]) -> Option<(Vec<f32>, usize, usize)> {
    let [r, c] = dims[..] else { return None };
    let (k, n) = if g.trans_b { (c, r) } else { (r, c) };
    let mut kn = vec![0f32; k * n];
    for p in 0..k {
        for j in 0..n {
            kn[p * n + j] = g.alpha * if g.trans_b { b[j * k + p] } else { b[p * n + j] };
        }
    }
    Some((kn, k, n))
}

/// C of a Gemm as one f32 per column (beta folded in), when it broadcasts that way.
fn gemm_bias(g: &Gemm, c: &[f32], dims: &[usize], n: usize) -> Option<Vec<f32>> {
    match dims {
        [x] | [1, x] if *x == n => Some(c.iter().map(|v| g.beta * v).collect()),
        [] | [1] | [1, 1] => Some(vec![g.beta * c[0]; n]),
        _ => None,
    }
}

/// Adds the BF16 form of `n`: activations and weights bf16, bias f32.
pub fn bf16_node(rw: &mut Rewriter<'_>, n: &Node) -> Result<bool, IrError> {
    let bf = |t: Vec<f32>, dims: Vec<usize>| Tensor::from_bf16(dims, round_all(&t)).map_err(invalid(n));
    match &n.op {
        Op::Conv(_) => {
            if f32_const(rw, n.inputs[1]).is_none() {
                return Ok(false);
            }
            let mut ins = vec![rw.need(n.inputs[0], Fmt::Bf16)?, rw.need(n.inputs[1], Fmt::Bf16)?];
            if let Some(&b) = n.inputs.get(2) {
                ins.push(rw.need(b, Fmt::F32)?);
            }
            if let Some(&r) = n.inputs.get(3) {
                ins.push(rw.need(r, Fmt::Bf16)?);
            }
            rw.emit(n, n.op.clone(), ins, Fmt::Bf16)?;
        }
        Op::Gemm(g) => {
            let Some(b) = f32_const(rw, n.inputs[1]) else { return Ok(false) };
            let bd = rw.src.ty(n.inputs[1]).shape.dims().to_vec();
            let Some((kn, k, nn)) = gemm_b_kn(g, b, &bd) else { return Ok(false) };
            let c = match n.inputs.get(2) {
                Some(&c) => match f32_const(rw, c) {
                    Some(cv) => Some(gemm_bias(g, cv, rw.src.ty(c).shape.dims(), nn)),
                    None => return Ok(false),
                },
                None => None,
            };
            if c == Some(None) {
                return Ok(false);
            }
            let a = rw.need(n.inputs[0], Fmt::Bf16)?;
            let bv = rw.constant(format!("{}:b.bf16", n.name), bf(kn, vec![k, nn])?);
            let mut ins = vec![a, bv];
            if let Some(Some(c)) = c {
                ins.push(rw.constant(format!("{}:bias", n.name), Tensor::from_f32(vec![nn], c).map_err(invalid(n))?));
            }
            let op = Op::Gemm(Gemm { alpha: 1.0, beta: 1.0, trans_a: false, trans_b: false, act: g.act });
            rw.emit(n, op, ins, Fmt::Bf16)?;
        }
        Op::MatMul(_) => {
            if f32_const(rw, n.inputs[1]).is_none() || rw.src.ty(n.inputs[1]).shape.rank() != 2 {
                return Ok(false);
            }
            let ins = vec![rw.need(n.inputs[0], Fmt::Bf16)?, rw.need(n.inputs[1], Fmt::Bf16)?];
            rw.emit(n, n.op.clone(), ins, Fmt::Bf16)?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The int8 scale and zero point of every source value (calibrated, or the model's own; `None`: unknown).
pub type Params = [Option<(f32, i32)>];

/// The int8 parameters source value `v` has or will have: its own when it is already int8, else `params`.
fn i8_params(rw: &mut Rewriter<'_>, params: &Params, v: ValueId) -> Result<Option<(f32, i32)>, IrError> {
    if let (_, Fmt::I8 { scale, zero }) = rw.value(v)? {
        return Ok(Some((scale, zero)));
    }
    Ok(params.get(v.0 as usize).copied().flatten())
}

/// Adds the INT8 form of `n`: int8 activations (asymmetric per tensor, from `params`), int8 weights
/// (symmetric per output channel), int32 bias (plus `correction` per channel, from `bias.rs`),
/// requantization in the `quant` operand. An activation without a header form (`table_act`) becomes a lookup
/// table: the sum requantizes to the pre-activation's parameters `pre`, the table maps those to the output's.
pub fn int8_node(
    rw: &mut Rewriter<'_>,
    n: &Node,
    params: &Params,
    pre: Option<(f32, i32)>,
    correction: Option<&[f32]>,
) -> Result<bool, IrError> {
    let (Some(x), Some(y)) = (i8_params(rw, params, n.inputs[0])?, params.get(n.output.0 as usize).copied().flatten())
    else {
        return Ok(false);
    };
    // Weights as [channels, per] runs (conv) or [K, N] columns (matmul), the f32 bias per channel, the act.
    let (w, channels, runs, dims, bias, act, residual) = match &n.op {
        Op::Conv(c) => {
            let Some(w) = f32_const(rw, n.inputs[1]) else { return Ok(false) };
            let dims = rw.src.ty(n.inputs[1]).shape.dims().to_vec();
            let bias = match n.inputs.get(2) {
                Some(&b) => match f32_const(rw, b) {
                    Some(bv) => bv.to_vec(),
                    None => return Ok(false),
                },
                None => vec![0.0; dims[0]],
            };
            (w.to_vec(), dims[0], true, dims, bias, c.act, n.inputs.get(3).copied())
        }
        Op::Gemm(g) => {
            let Some(b) = f32_const(rw, n.inputs[1]) else { return Ok(false) };
            let Some((kn, k, nn)) = gemm_b_kn(g, b, rw.src.ty(n.inputs[1]).shape.dims()) else { return Ok(false) };
            let bias = match n.inputs.get(2) {
                Some(&c) => match f32_const(rw, c).and_then(|cv| gemm_bias(g, cv, rw.src.ty(c).shape.dims(), nn)) {
                    Some(b) => b,
                    None => return Ok(false),
                },
                None => vec![0.0; nn],
            };
            (kn, nn, false, vec![k, nn], bias, g.act, None)
        }
        Op::MatMul(_) => {
            let Some(b) = f32_const(rw, n.inputs[1]) else { return Ok(false) };
            let dims = rw.src.ty(n.inputs[1]).shape.dims().to_vec();
            if dims.len() != 2 {
                return Ok(false);
            }
            (b.to_vec(), dims[1], false, dims.clone(), vec![0.0; dims[1]], None, None)
        }
        _ => return Ok(false),
    };
    // The header's output parameters and clamp: the output's, or with a table the pre-activation's.
    let (hy, clamp, table) = match (clamp_of(act, y.0, y.1), act) {
        (Some(clamp), _) => (y, clamp, None),
        (None, Some(a)) => {
            let Some(pre) = pre else { return Ok(false) };
            let Some(t) = table::build(a, pre, y) else { return Ok(false) };
            (pre, (-128, 127), Some((a, t)))
        }
        (None, None) => return Ok(false),
    };
    let r = match residual {
        Some(r) => match i8_params(rw, params, r)? {
            Some(p) => Some((r, p)),
            None => return Ok(false),
        },
        None => None,
    };
    let mut bias = bias;
    if let Some(fix) = correction.filter(|f| f.len() == bias.len()) {
        for (b, f) in bias.iter_mut().zip(fix) {
            *b += f;
        }
    }
    let (wq, w_scales) = quantize_weights(&w, channels, runs, &bias, x.0);
    let bq = quantize_bias(&bias, x.0, &w_scales);
    let lq = LayerQuant { x, y: hy, clamp, residual: r.map(|(_, p)| p), neg_mult: neg_mult_of(act) };
    let Ok(mut q) = quant_params(&lq, &w_scales) else { return Ok(false) };
    q.table = table.map(|(_, t)| t);
    // The node keeps the activation exactly when its quant operand carries the table (`numerics::int8`).
    let act = table.map(|(a, _)| a);
    let xv = rw.need(n.inputs[0], Fmt::I8 { scale: x.0, zero: x.1 })?;
    let name = &n.name;
    let wv = rw.constant(format!("{name}:w.i8"), Tensor::from_i8(dims, wq).map_err(invalid(n))?);
    let bv = rw.constant(format!("{name}:bias.i32"), Tensor::from_i32(vec![channels], bq).map_err(invalid(n))?);
    let words = q.to_words();
    let qv = rw.constant(format!("{name}:quant"), Tensor::from_i32(vec![words.len()], words).map_err(invalid(n))?);
    let mut ins = vec![xv, wv, bv, qv];
    if let Some((r, (sr, zr))) = r {
        ins.push(rw.need(r, Fmt::I8 { scale: sr, zero: zr })?);
    }
    let op = match &n.op {
        Op::Conv(c) => Op::Conv(accel_ops::op::Conv { act, ..c.clone() }),
        Op::Gemm(_) => Op::Gemm(Gemm { alpha: 1.0, beta: 1.0, trans_a: false, trans_b: false, act }),
        other => other.clone(),
    };
    rw.emit(n, op, ins, Fmt::I8 { scale: y.0, zero: y.1 })?;
    Ok(true)
}

/// The fused activation of a MAC node (`None` for other nodes).
fn act_of(n: &Node) -> Option<Option<UnaryOp>> {
    match &n.op {
        Op::Conv(c) => Some(c.act),
        Op::Gemm(g) => Some(g.act),
        Op::MatMul(_) => Some(None),
        _ => None,
    }
}

/// The activation of `n` that its int8 form carries as a lookup table: one without a header form (clamp or
/// LeakyReLU) that has a table (`numerics::table::build`).
pub fn table_act(n: &Node) -> Option<UnaryOp> {
    let act = act_of(n)??;
    (clamp_of(Some(act), 1.0, 0).is_none() && act.apply_f64(0.0).is_some()).then_some(act)
}

/// Whether `n` has an INT8 form at all (its activation is an integer clamp, a LeakyReLU or a lookup table),
/// before any calibration.
pub fn int8_capable(n: &Node) -> bool {
    act_of(n).is_some_and(|act| clamp_of(act, 1.0, 0).is_some()) || table_act(n).is_some()
}
