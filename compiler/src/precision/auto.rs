//! `--precision auto`: each MAC layer's format (int8, bf16 or f32) under an accuracy budget (a least output
//! SQNR against f32), chosen in the format e-graph (`rewrite::choose_formats`). Each layer's own noise in each
//! format is measured in isolation (the layer run on the f32 reference input, quantized or rounded, against
//! the f32 output: `layers::each_alone`); extraction minimizes cycles + lambda x noise over the whole graph,
//! conversions included; `search` finds the least lambda (the fastest choice) whose measured model output
//! SQNR meets the budget.
use super::layers::{each_alone, reduced_layers};
use super::rewrite::Fmt;
use super::{Choice, PrecisionError};
use crate::ir::{Graph, IrError};
use crate::rewrite::{choose_formats, FormatKind, FormatNode, FormatProblem, Numeric, Variant};
use accel_ops::op::Op;
use accel_ops::target::Target;
use accel_ops::{DType, Tensor};
use std::collections::BTreeMap;

/// Noise-to-signal ratio (linear) of every MAC layer of `dst` that computes in `dtype` (int8 or bf16), alone,
/// by node name.
pub fn local_noise(
    src: &Graph,
    dst: &Graph,
    fmts: &[Fmt],
    dtype: DType,
    samples: &[Vec<Tensor>],
) -> Result<BTreeMap<String, f64>, IrError> {
    let layers = reduced_layers(src, dst, fmts, dtype);
    let (mut signal, mut noise) = (vec![0f64; layers.len()], vec![0f64; layers.len()]);
    each_alone(src, dst, fmts, &layers, samples, |k, got, want| {
        for (g, w) in got.iter().zip(want) {
            signal[k] += (*w as f64).powi(2);
            noise[k] += (*g as f64 - *w as f64).powi(2);
        }
    })?;
    Ok(layers
        .iter()
        .enumerate()
        .map(|(k, l)| (l.dst.name.clone(), if signal[k] > 0.0 { noise[k] / signal[k] } else { 0.0 }))
        .collect())
}

/// The format problem of `g`: MAC layers (`mac`) offer f32 plus each reduced format their noise was measured
/// in (a layer missing from a map has no such form); reshapes pass formats through; the rest is f32.
pub fn problem(
    g: &Graph,
    mac: &[bool],
    int8_noise: &BTreeMap<String, f64>,
    bf16_noise: &BTreeMap<String, f64>,
) -> FormatProblem {
    let live = |v: &crate::ir::ValueId| g.constant(*v).is_none();
    let nodes = g
        .nodes
        .iter()
        .zip(mac)
        .map(|(n, &m)| {
            let kind = match &n.op {
                _ if m => {
                    let mut variants = vec![Variant { numeric: Numeric::F32, noise: 0.0 }];
                    if let Some(&e) = bf16_noise.get(&n.name) {
                        variants.push(Variant { numeric: Numeric::Bf16, noise: e });
                    }
                    if let Some(&e) = int8_noise.get(&n.name) {
                        variants.push(Variant { numeric: Numeric::Int8, noise: e });
                    }
                    let types: Vec<_> = n.inputs.iter().map(|&v| g.ty(v).clone()).collect();
                    let macs = n.op.macs(&types, g.ty(n.output)) as f64;
                    let weights =
                        n.inputs.iter().filter(|v| !live(v)).map(|&v| g.ty(v).shape.numel() as f64).sum::<f64>();
                    FormatKind::Mac { macs, weights, variants }
                }
                Op::Reshape(_) => FormatKind::Alias,
                _ => FormatKind::F32,
            };
            FormatNode {
                inputs: n.inputs.iter().filter(|v| live(v)).map(|v| v.0 as usize).collect(),
                output: n.output.0 as usize,
                kind,
            }
        })
        .collect();
    FormatProblem {
        numel: g.values.iter().map(|v| v.ty.shape.numel()).collect(),
        inputs: g.inputs.iter().map(|v| v.0 as usize).collect(),
        nodes,
        outputs: g.outputs.iter().filter(|v| live(v)).map(|v| v.0 as usize).collect(),
    }
}

/// lambda is searched as 10^e for e in this range (cycles per unit of noise-to-signal ratio): at the low end
/// noise is ignored (the fastest choice), at the high end any noise costs more than f32's slower MACs.
const LOG_LAMBDA: (f64, f64) = (0.0, 18.0);

/// Bisection steps on log10(lambda) at most.
const SEARCH_STEPS: usize = 14;

/// The per-node choices of the format problem's extraction at `lambda` (non-MAC nodes: f32).
fn choices_at(p: &FormatProblem, target: &Target, lambda: f64) -> Vec<Choice> {
    choose_formats(p, target, lambda)
        .numerics
        .iter()
        .map(|n| match n {
            Some(Numeric::Int8) => Choice::Int8,
            Some(Numeric::Bf16) => Choice::Bf16,
            _ => Choice::Fp32,
        })
        .collect()
}

/// The fastest choice whose `probe` meets the budget: bisection on log10(lambda) between ignoring noise and
/// making every reduced format too noisy, each distinct choice probed once (`probe` builds and measures it,
/// returning its result and whether it meets the budget). If even the all-f32 end misses, that end is the
/// answer.
pub fn search<T>(
    p: &FormatProblem,
    target: &Target,
    mut probe: impl FnMut(&[Choice]) -> Result<(T, bool), PrecisionError>,
) -> Result<T, PrecisionError> {
    let mut probed: BTreeMap<Vec<Choice>, (T, bool)> = BTreeMap::new();
    let mut meets = |c: &Vec<Choice>| -> Result<bool, PrecisionError> {
        if let Some((_, ok)) = probed.get(c) {
            return Ok(*ok);
        }
        let (t, ok) = probe(c)?;
        probed.insert(c.clone(), (t, ok));
        Ok(ok)
    };
    let (mut lo, mut hi) = LOG_LAMBDA;
    let fastest = choices_at(p, target, 0.0);
    let mut answer = fastest.clone();
    if !meets(&fastest)? {
        // Invariant: lambda = 10^lo misses the budget; 10^hi meets it (or is the most precise end).
        answer = choices_at(p, target, 10f64.powf(hi));
        if meets(&answer)? {
            for _ in 0..SEARCH_STEPS {
                let mid = (lo + hi) / 2.0;
                let c = choices_at(p, target, 10f64.powf(mid));
                if meets(&c)? {
                    hi = mid;
                    answer = c;
                } else {
                    lo = mid;
                }
            }
        }
    }
    probed.remove(&answer).map(|(t, _)| t).ok_or(PrecisionError::NoChoice)
}
