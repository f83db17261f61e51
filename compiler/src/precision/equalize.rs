//! Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization Through Weight Equalization and Bias
//! Correction"): for two convolutions in a chain, `A -> act -> B`, output channel `i` of `A` (weights and
//! bias) is divided by `s_i` and input channel `i` of `B` multiplied by it, with `s_i = sqrt(r1_i / r2_i)`
//! (`r1`, `r2`: the channel's largest weight magnitude in `A` and in `B`), which makes both ranges
//! `sqrt(r1_i * r2_i)`; iterated so that chains (`1x1 -> depthwise -> 1x1`) balance. With per-channel weight
//! scales what it changes is the per-tensor activation between the two layers, whose channels it rescales:
//! measured, that helps the generated ResNet-50 and hurts MobileNetV2 (README), so it is opt-in (`--equalize`).
//!
//! It must not change the f32 model (beyond rounding), so a pair is equalized only where `act(z / s) =
//! act(z) / s` holds: no activation, ReLU, LeakyReLU. A `Clip(0, hi)` (ReLU6) is positive homogeneous only
//! below `hi`: a channel is scaled only when interval arithmetic on `A`'s input range (the clip range of the
//! layer before it) proves its pre-activation never exceeds `hi`, and then by no more than keeps it there
//! (`s_i >= U_i / hi`). The paper instead replaces ReLU6 by ReLU, which changes the model; we do not.
//! Runs on the f32 graph before calibration; it owns no quantization.
use crate::ir::{Graph, Node, NodeId, ValueId};
use accel_ops::op::{Op, UnaryOp};
use accel_ops::Tensor;

/// Sweeps over all pairs; each sweep moves every scale towards the balance of its chain.
const SWEEPS: usize = 16;

/// Scales are kept within `[1 / LIMIT, LIMIT]` (a near-dead channel would otherwise blow up its partner).
const LIMIT: f32 = 1024.0;

/// One equalizable pair: `a`'s output feeds only `b`'s data input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    pub a: NodeId,
    pub b: NodeId,
}

/// How channel `i` of `a`'s activation may be scaled.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Homogeneity {
    /// `act(z / s) = act(z) / s` for every `s > 0`.
    Always,
    /// `Clip(0, hi)` on input values in `[lo, hi_in]`: exact where the pre-activation provably stays below `hi`.
    ClipBelow { hi: f32, input: (f32, f32) },
}

/// The f32 weights of a convolution node (constant, rank 4), or `None`.
fn conv_weights<'g>(g: &'g Graph, n: &Node) -> Option<&'g Tensor> {
    let Op::Conv(_) = &n.op else { return None };
    let w = g.constant(*n.inputs.get(1)?)?;
    (w.dims().len() == 4 && w.as_f32().is_ok()).then_some(w)
}

/// The value range of the output of a layer whose fused activation is a finite clip (zero included, for padding).
fn clipped_range(g: &Graph, v: ValueId) -> Option<(f32, f32)> {
    let p = g.node(g.value(v).producer?);
    let act = match &p.op {
        Op::Conv(c) => c.act,
        Op::Gemm(m) => m.act,
        Op::Unary(u) => Some(u.op),
        _ => None,
    };
    match act {
        Some(UnaryOp::Clip { min, max }) if min.is_finite() && max.is_finite() => Some((min.min(0.0), max.max(0.0))),
        _ => None,
    }
}

/// Whether `a`'s activation commutes with positive per-channel scales, and under what condition.
fn homogeneity(g: &Graph, a: &Node) -> Option<Homogeneity> {
    let Op::Conv(c) = &a.op else { return None };
    match c.act {
        None | Some(UnaryOp::Relu) => Some(Homogeneity::Always),
        Some(UnaryOp::LeakyRelu { alpha }) if alpha.is_finite() => Some(Homogeneity::Always),
        Some(UnaryOp::Clip { min, max }) if min == 0.0 && max.is_finite() && max > 0.0 => {
            let input = clipped_range(g, a.inputs[0])?;
            Some(Homogeneity::ClipBelow { hi: max, input })
        }
        _ => None,
    }
}

/// The pairs of `g` that equalization may rescale: `a` a convolution with constant weights (and constant or
/// no bias, no fused residual, a homogeneous activation) whose output is read only by `b`'s data input, `b` a
/// convolution with constant weights over as many input channels; each weight and bias read by its layer only.
pub fn pairs(g: &Graph) -> Vec<Pair> {
    let consumers = g.consumers();
    let only_reader = |v: ValueId, n: NodeId| consumers[v.0 as usize] == [n];
    let mut out = Vec::new();
    for (ai, a) in g.nodes.iter().enumerate() {
        let a_id = NodeId(ai as u32);
        let Some(wa) = conv_weights(g, a) else { continue };
        let bias_ok = match a.inputs.get(2) {
            Some(&b) => g.constant(b).is_some_and(|t| t.as_f32().is_ok()) && only_reader(b, a_id),
            None => true,
        };
        if !bias_ok || a.inputs.len() > 3 || homogeneity(g, a).is_none() || !only_reader(a.inputs[1], a_id) {
            continue;
        }
        if g.outputs.contains(&a.output) {
            continue;
        }
        let [b_id] = consumers[a.output.0 as usize][..] else { continue };
        let b = g.node(b_id);
        let (Some(wb), Op::Conv(cb)) = (conv_weights(g, b), &b.op) else { continue };
        let channels = wa.dims()[0];
        let b_in = wb.dims()[1] * cb.group;
        if b.inputs[0] != a.output || b.inputs.get(3) == Some(&a.output) || b_in != channels || channels == 0 {
            continue;
        }
        if !only_reader(b.inputs[1], b_id) {
            continue;
        }
        out.push(Pair { a: a_id, b: b_id });
    }
    out
}

/// `s_i = sqrt(r1_i / r2_i)` (1 where either range is zero or not finite), limited to `[1/LIMIT, LIMIT]`.
pub fn balance_scales(r1: &[f32], r2: &[f32]) -> Vec<f32> {
    r1.iter()
        .zip(r2)
        .map(|(&a, &b)| {
            let s = (a as f64 / b as f64).sqrt() as f32;
            if a > 0.0 && b > 0.0 && s.is_finite() {
                s.clamp(1.0 / LIMIT, LIMIT)
            } else {
                1.0
            }
        })
        .collect()
}

/// Largest magnitude per output channel of `[C, ...]` weights.
fn out_ranges(w: &[f32], channels: usize) -> Vec<f32> {
    let per = w.len() / channels.max(1);
    w.chunks(per.max(1)).map(|c| c.iter().fold(0f32, |m, v| m.max(v.abs()))).collect()
}

/// The index runs of input channel `i` in `[O, C/group, kh, kw]` weights: `(start, len)` per output channel.
fn in_channel_runs(dims: &[usize], group: usize, i: usize) -> impl Iterator<Item = usize> {
    let (o, cpg, k) = (dims[0], dims[1], dims[2] * dims[3]);
    let opg = o / group.max(1);
    let grp = i / cpg.max(1);
    (grp * opg..(grp + 1) * opg).map(move |oc| (oc * cpg + i % cpg) * k)
}

/// Largest magnitude per input channel of `b`'s weights.
fn in_ranges(w: &[f32], dims: &[usize], group: usize, channels: usize) -> Vec<f32> {
    let k = dims[2] * dims[3];
    (0..channels)
        .map(|i| in_channel_runs(dims, group, i).flat_map(|s| &w[s..s + k]).fold(0f32, |m, v| m.max(v.abs())))
        .collect()
}

/// Per output channel of `a`, an upper bound of its pre-activation over inputs in `[lo, hi]`.
fn upper_bounds(w: &[f32], bias: Option<&[f32]>, channels: usize, (lo, hi): (f32, f32)) -> Vec<f32> {
    let per = w.len() / channels.max(1);
    (0..channels)
        .map(|c| {
            let b = bias.map_or(0.0, |b| b[c] as f64);
            let s: f64 =
                w[c * per..(c + 1) * per].iter().map(|&v| (v as f64 * lo as f64).max(v as f64 * hi as f64)).sum();
            // Rounded up a little: the f32 sum in the kernels may round above the exact one.
            ((b + s) * (1.0 + 1e-5) + 1e-6) as f32
        })
        .collect()
}

fn f32_of(g: &Graph, v: ValueId) -> Vec<f32> {
    g.constant(v).and_then(|t| t.as_f32().ok()).map(<[f32]>::to_vec).unwrap_or_default()
}

fn set_f32(g: &mut Graph, v: ValueId, data: Vec<f32>) {
    let dims = g.ty(v).shape.dims().to_vec();
    if let Ok(t) = Tensor::from_f32(dims, data) {
        g.values[v.0 as usize].constant = Some(t);
    }
}

/// One equalization step of `p` on `g`: returns the largest `|ln s_i|` applied.
fn equalize_pair(g: &mut Graph, p: Pair) -> f32 {
    let (a, b) = (g.node(p.a).clone(), g.node(p.b).clone());
    let (Op::Conv(cb), Some(how)) = (&b.op, homogeneity(g, &a)) else { return 0.0 };
    let group = cb.group;
    let (wa, wb) = (f32_of(g, a.inputs[1]), f32_of(g, b.inputs[1]));
    let bias = a.inputs.get(2).map(|&v| f32_of(g, v));
    let channels = g.ty(a.inputs[1]).shape.dims()[0];
    let b_dims = g.ty(b.inputs[1]).shape.dims().to_vec();
    let mut s = balance_scales(&out_ranges(&wa, channels), &in_ranges(&wb, &b_dims, group, channels));
    if let Homogeneity::ClipBelow { hi, input } = how {
        let upper = upper_bounds(&wa, bias.as_deref(), channels, input);
        for (s, &u) in s.iter_mut().zip(&upper) {
            // Exact only where the clip never binds, before (u <= hi) and after (u / s <= hi) the scaling.
            *s = if u > hi { 1.0 } else { s.max(u / hi).min(LIMIT) };
        }
    }
    let per = wa.len() / channels.max(1);
    let wa: Vec<f32> = wa.iter().enumerate().map(|(j, &v)| v / s[j / per.max(1)]).collect();
    let mut wb = wb;
    let k = b_dims[2] * b_dims[3];
    for (i, &si) in s.iter().enumerate() {
        for start in in_channel_runs(&b_dims, group, i) {
            wb[start..start + k].iter_mut().for_each(|v| *v *= si);
        }
    }
    set_f32(g, a.inputs[1], wa);
    set_f32(g, b.inputs[1], wb);
    if let (Some(bias), Some(&bv)) = (bias, a.inputs.get(2)) {
        set_f32(g, bv, bias.iter().zip(&s).map(|(v, s)| v / s).collect());
    }
    s.iter().map(|v| v.ln().abs()).fold(0.0, f32::max)
}

/// `g` with every equalizable pair (`pairs`) balanced; the f32 function of the graph is unchanged up to
/// rounding. Returns the graph and how many pairs it may have rescaled.
pub fn equalize(g: &Graph) -> (Graph, usize) {
    let mut out = g.clone();
    let ps = pairs(g);
    for _ in 0..SWEEPS {
        let moved = ps.iter().map(|&p| equalize_pair(&mut out, p)).fold(0.0, f32::max);
        if moved < 1e-3 {
            break;
        }
    }
    (out, ps.len())
}

#[cfg(test)]
#[path = "equalize_tests.rs"]
mod tests;
