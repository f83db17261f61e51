//! Precision selection: rewrites the optimized f32 graph so that the tiles' MAC layers compute in BF16 or INT8
//! (`--precision bf16|int8|auto`), with conversions (`Cast` f32 <-> bf16, `Quant` to/from int8, run by the
//! vector unit as `vec.convert`) where formats meet; the graph's inputs and outputs stay f32. The numerics
//! themselves (rounding, accumulation order, requantization) are `accel_ops::numerics`; this module only
//! decides formats, calibrates and quantizes constants. Other vector-unit and host layers stay f32 (but see
//! `pools`, `adds` and `concat` below).
//!
//! - `bf16`: every MAC layer the tiles run (as planned for f32) computes in bf16; no data needed.
//! - `int8`: those layers compute in int8 when their activation has an integer form (none, Relu and Clip as
//!   the clamp, LeakyReLU as a second multiplier, SiLU/Sigmoid/Tanh/HardSwish/HardSigmoid/GELU as a lookup
//!   table indexed by the calibrated pre-activation), from ranges calibrated on sample inputs, optionally
//!   with each layer's bias corrected for the mean error its int8 weights make (`bias`); the others in bf16.
//!   Without samples it is an error. Tile pools whose input is int8 stay int8 (`pools`); adds of two
//!   activations are written as the convolutions the tiles run them as, and so join the int8 layers (`adds`);
//!   concatenations share their output's parameters with their operands and run on int8 bytes (`concat`).
//! - `auto`: int8 where the model's output SQNR against f32 stays at or above the budget (default 30 dB),
//!   bf16 for the layers whose own int8 noise is largest (see `auto`).
mod adds;
mod auto;
mod bias;
mod calibrate;
mod check;
mod concat;
mod equalize;
mod layers;
mod nodes;
mod pools;
mod quantize;
mod report;
mod residual;
mod rewrite;

pub use calibrate::{find_files, load_samples, ranges, Calibration, CalibrationError, CalibrationMethod};
pub use report::{measure, tensor_sqnr, LayerPrecision, PrecisionReport};
use report::{output_sqnr, reference_outputs};
pub use rewrite::Fmt;

use crate::ir::{Graph, IrError, ValueId};
use crate::lower::{plan_nodes, LowerError, NodePlan};
use accel_ops::op::Op;
use accel_ops::target::Target;
use accel_ops::DType;
use accel_ops::Tensor;
use std::collections::BTreeMap;
use thiserror::Error;

/// The numeric mode of the tiles' MAC layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// The exact path: everything f32.
    #[default]
    Fp32,
    Bf16,
    Int8,
    /// Int8 per layer where the accuracy budget allows, else bf16.
    Auto,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Int8 => "int8",
            Precision::Auto => "auto",
        }
    }
}

#[derive(Debug, Error)]
pub enum PrecisionError {
    #[error(
        "--precision {0} needs calibration data to choose int8 scales: add --calibrate DIR_OR_GLOB_OF_NPY \
         (inputs the model will see), or use --precision bf16, which needs none"
    )]
    NeedsCalibration(&'static str),
    #[error(transparent)]
    Calibration(#[from] CalibrationError),
    #[error("precision rewrite: {0}")]
    Ir(#[from] IrError),
    #[error("precision: {0}")]
    Plan(#[from] LowerError),
    #[error("precision auto: the search over formats ended without a measured choice (a compiler bug)")]
    NoChoice,
}

/// What `apply` needs besides the graph.
#[derive(Debug, Clone, Default)]
pub struct PrecisionOptions {
    pub precision: Precision,
    pub calibration: Option<Calibration>,
    /// `auto`: the least output SQNR (dB) an int8 layer must keep against f32; 30 when unset.
    pub accuracy_budget_db: Option<f64>,
    /// Measure each layer's error (the reference interpreter runs the f32 and the rewritten graph).
    pub measure: bool,
    /// Correct int8 layers' biases for their weights' mean error (`bias`). Off by default: on the generated
    /// MobileNetV2 (random weights, 16 random calibration inputs) it measured 0.6 dB worse at the output, so it
    /// stays a flag until it is measured on real weights and data.
    pub bias_correction: bool,
    /// Cross-layer equalization (`equalize`) of the f32 model before calibrating int8 (`int8`, `auto`).
    pub equalize: bool,
    /// One int8 scale for each fused residual and its sum (`residual`), so the residual adds exactly.
    pub share_residual_scales: bool,
    /// int8/auto: warn about outputs (or slices of one) int8 lost against fp32 on the first calibration sample
    /// (`check`; it evaluates the model twice more).
    pub output_check: bool,
}

/// The rewritten graph, the format of each of its values, and the report.
pub struct Applied {
    pub graph: Graph,
    pub formats: Vec<Fmt>,
    pub report: PrecisionReport,
}

/// Calibration samples the error report runs on (each runs the reference interpreter twice).
const MEASURE_SAMPLES: usize = 4;

/// Calibration samples `auto` measures each candidate on: its budget bounds the worst of them, so more samples
/// make the choice hold on inputs it has not seen (the generated MobileNetV2's output SQNR varies by ~3 dB
/// between random inputs).
const AUTO_SAMPLES: usize = 16;

/// Calibration samples bias correction averages over.
const BIAS_SAMPLES: usize = 8;

/// `auto` aims this far above the budget on the calibration samples, for inputs it has not seen.
const AUTO_MARGIN_DB: f64 = 1.0;

/// Per node of the source graph: the precision it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Choice {
    Fp32,
    Bf16,
    Int8,
}

/// Rewrites `g` for `opts.precision` (the identity for fp32).
pub fn apply(g: &Graph, target: &Target, opts: &PrecisionOptions) -> Result<Applied, PrecisionError> {
    let mode = opts.precision;
    let mut report = PrecisionReport {
        mode: mode.name().into(),
        layers: vec![],
        outputs: vec![],
        worst_outputs: vec![],
        worst_slices: vec![],
        measured_on: String::new(),
        warnings: vec![],
    };
    if mode == Precision::Fp32 {
        return Ok(Applied { graph: g.clone(), formats: vec![Fmt::F32; g.values.len()], report });
    }
    // A QDQ model carries its own int8 scales; otherwise int8 needs calibration data.
    let qdq = model_scales(g);
    let needs_data = matches!(mode, Precision::Int8 | Precision::Auto);
    let cal = match (&opts.calibration, needs_data) {
        (Some(c), _) if !c.samples.is_empty() => Some(c),
        (_, true) if qdq.is_empty() => return Err(PrecisionError::NeedsCalibration(mode.name())),
        _ => None,
    };
    // Calibration, quantization and the error report all see the equalized model (the same f32 function).
    let equalized;
    let g = if opts.equalize && needs_data && cal.is_some() && qdq.is_empty() {
        equalized = equalize::equalize(g).0;
        &equalized
    } else {
        g
    };
    // The MAC layers the tiles run in f32 are the candidates: the others stay where and what they are.
    let plans = plan_nodes(g, target)?;
    // Adds the tiles run as convolutions become those convolutions, so int8 and bf16 reach them (`adds`).
    let with_adds;
    let (g, plans) = match mode != Precision::Fp32 {
        true => match adds::adds_as_convolutions(g, &plans)? {
            (rewritten, n) if n > 0 => {
                with_adds = rewritten;
                (&with_adds, plan_nodes(&with_adds, target)?)
            }
            _ => (g, plans),
        },
        false => (g, plans),
    };
    let mac: Vec<bool> = plans.iter().map(|p| matches!(p, NodePlan::Conv { .. } | NodePlan::MatMul { .. })).collect();
    let tile_pools: Vec<bool> = plans.iter().map(|p| matches!(p, NodePlan::Pool { .. })).collect();
    // Layers whose activation would be an int8 lookup table also calibrate their pre-activation.
    let (ranges, pre_of) = match cal {
        Some(c) if needs_data => {
            let tables: Vec<bool> =
                g.nodes.iter().zip(&mac).map(|(n, &m)| m && nodes::table_act(n).is_some()).collect();
            let (split, pre_of) = calibrate::split_activations(g, &tables);
            let mut r = calibrate::ranges(&split, c)?;
            pools::max_ranges(g, &tile_pools, &mut r);
            if opts.share_residual_scales {
                residual::share(g, &mut r);
            }
            (r, pre_of)
        }
        _ => (vec![None; g.values.len()], vec![None; g.nodes.len()]),
    };
    // int8 parameters per value: from its calibrated range, or exactly the model's where it quantizes the
    // value itself.
    let mut ranges: Vec<Option<(f32, i32)>> =
        ranges.iter().map(|r| r.map(|(lo, hi)| quantize::activation_params(lo, hi))).collect();
    concat::share_scales(g, &mut ranges);
    for (v, p) in &qdq {
        ranges[v.0 as usize] = Some(*p);
    }
    let pre: Vec<Option<(f32, i32)>> = pre_of.iter().map(|v| v.and_then(|v| ranges[v.0 as usize])).collect();
    ranges.truncate(g.values.len());
    let ranges = Scales { values: ranges, pre, tile_pools };
    let choices: Vec<Choice> = g
        .nodes
        .iter()
        .zip(&mac)
        .map(|(n, &m)| match (m, mode) {
            (false, _) => Choice::Fp32,
            (true, Precision::Bf16) => Choice::Bf16,
            (true, _) if nodes::int8_capable(n) => Choice::Int8,
            (true, _) => Choice::Bf16,
        })
        .collect();
    let samples: Vec<Vec<Tensor>> = match cal {
        Some(c) if mode == Precision::Auto => c.samples.iter().take(AUTO_SAMPLES).cloned().collect(),
        Some(c) if opts.measure => c.samples.iter().take(MEASURE_SAMPLES).cloned().collect(),
        None if opts.measure || mode == Precision::Auto => vec![seeded_inputs(g)?],
        _ => vec![],
    };
    report.measured_on = match cal {
        Some(c) => format!("{} of {} calibration samples", samples.len(), c.samples.len()),
        None => "one seeded random input in [-1, 1)".into(),
    };
    let mut fixes = BTreeMap::new();
    let (mut graph, mut formats) = build(g, &choices, &mac, &ranges, &fixes, &mut report)?;
    if let Some(c) = cal.filter(|_| needs_data && opts.bias_correction) {
        // Bias correction, measured on the layers as first built, then built in.
        let bias_samples: Vec<Vec<Tensor>> = c.samples.iter().take(BIAS_SAMPLES).cloned().collect();
        fixes = bias::corrections(g, &graph, &formats, &bias_samples)?;
        report.layers.clear();
        (graph, formats) = build(g, &choices, &mac, &ranges, &fixes, &mut report)?;
    }
    if mode == Precision::Auto {
        // Each layer's own noise in int8 (the graph as built) and in bf16 (every candidate in bf16), then the
        // format e-graph's fastest choice that meets the budget.
        let budget = opts.accuracy_budget_db.unwrap_or(30.0);
        // Layer noise is stable across samples: the report's few suffice; the budget is checked on all.
        let few = &samples[..samples.len().min(MEASURE_SAMPLES)];
        let int8_noise = auto::local_noise(g, &graph, &formats, DType::I8, few)?;
        let all_bf16: Vec<Choice> = choices.iter().map(|&c| if c == Choice::Int8 { Choice::Bf16 } else { c }).collect();
        let (bf_graph, bf_formats) = build(g, &all_bf16, &mac, &ranges, &fixes, &mut report.clone())?;
        let bf16_noise = auto::local_noise(g, &bf_graph, &bf_formats, DType::BF16, few)?;
        let problem = auto::problem(g, &mac, &int8_noise, &bf16_noise);
        let reference = reference_outputs(g, &samples)?;
        let mut probe = |chosen: &[Choice]| -> Result<_, PrecisionError> {
            let mut report = report.clone();
            report.layers.clear();
            let (gr, f) = build(g, chosen, &mac, &ranges, &fixes, &mut report)?;
            output_sqnr(g, &gr, &samples, &reference, &mut report)?;
            let ok = report.worst_outputs.iter().all(|(_, d)| *d >= budget + AUTO_MARGIN_DB);
            Ok(((gr, f, report, chosen.to_vec()), ok))
        };
        let (mut graph, mut formats, mut report, chosen) = auto::search(&problem, target, &mut probe)?;
        // A slice of an output that int8 lost (what `check` warns about) is the output layers' per-tensor
        // int8: those layers go to bf16 if that keeps every slice and the budget (the e-graph's noise model
        // sees whole outputs only; moving lambda for one slice demoted 91 of YOLOv3's 97 layers).
        let lost = |r: &PrecisionReport| r.worst_slices.iter().any(|(_, d)| *d < check::LOST_DB);
        if lost(&report) {
            let heads = check::output_layers(g, &mac);
            let demoted: Vec<Choice> = chosen
                .iter()
                .enumerate()
                .map(|(i, &c)| if c == Choice::Int8 && heads.contains(&i) { Choice::Bf16 } else { c })
                .collect();
            if demoted != chosen {
                let ((gr, f, r, _), ok) = probe(&demoted)?;
                if ok && !lost(&r) {
                    (graph, formats, report) = (gr, f, r);
                }
            }
        }
        if opts.measure {
            // Per-layer errors on the report's samples; the output SQNR stays the one the budget was checked on.
            let outputs = (report.outputs.clone(), report.worst_outputs.clone());
            measure(g, &graph, &formats, few, &mut report)?;
            (report.outputs, report.worst_outputs) = outputs;
        }
        report.measured_on = match cal {
            Some(c) => format!(
                "layers on {} and outputs on {} of {} calibration samples",
                few.len(),
                samples.len(),
                c.samples.len()
            ),
            None => "one seeded random input in [-1, 1)".into(),
        };
        report.mode = format!("auto (budget {budget} dB output SQNR)");
        report.warnings = lost_outputs(g, &graph, cal.filter(|_| opts.output_check), reference.first())?;
        return Ok(Applied { graph, formats, report });
    }
    if opts.measure || mode == Precision::Auto {
        measure(g, &graph, &formats, &samples, &mut report)?;
    }
    if needs_data && opts.output_check {
        report.warnings = lost_outputs(g, &graph, cal, None)?;
    }
    Ok(Applied { graph, formats, report })
}

/// `check::lost_outputs` on the first calibration sample (none without one: a QDQ model's own scales);
/// `reference`: the f32 outputs on that sample, if computed already.
fn lost_outputs(
    g: &Graph,
    graph: &Graph,
    cal: Option<&Calibration>,
    reference: Option<&Vec<Tensor>>,
) -> Result<Vec<String>, IrError> {
    match cal.and_then(|c| c.samples.first()) {
        Some(sample) => check::lost_outputs(g, graph, sample, reference.map(Vec::as_slice)),
        None => Ok(vec![]),
    }
}

/// The int8 scale and zero point of every value of the source graph and, per node, of the pre-activation
/// its lookup table is indexed by (`None`: unknown, or no table).
struct Scales {
    values: Vec<Option<(f32, i32)>>,
    pre: Vec<Option<(f32, i32)>>,
    /// Per node: a pool the tiles run (in f32 as planned), which stays int8 when its input is.
    tile_pools: Vec<bool>,
}

/// Builds the rewritten graph for per-node choices, recording each MAC layer's (`mac`) final precision.
fn build(
    g: &Graph,
    choices: &[Choice],
    mac: &[bool],
    ranges: &Scales,
    fixes: &BTreeMap<String, Vec<f32>>,
    report: &mut PrecisionReport,
) -> Result<(Graph, Vec<Fmt>), PrecisionError> {
    let mut rw = rewrite::Rewriter::new(g);
    for (i, ((n, &c), &is_mac)) in g.nodes.iter().zip(choices).zip(mac).enumerate() {
        if let Op::Quant(q) = &n.op {
            quant_node(&mut rw, n, q)?;
            continue;
        }
        if ranges.tile_pools.get(i).copied().unwrap_or(false) && pools::int8_pool(&mut rw, n, &ranges.values)? {
            continue;
        }
        if concat::int8_concat(&mut rw, n, &ranges.values)? || concat::int8_upsample(&mut rw, n)? {
            continue;
        }
        let done = match c {
            Choice::Int8
                if nodes::int8_node(
                    &mut rw,
                    n,
                    &ranges.values,
                    ranges.pre.get(i).copied().flatten(),
                    fixes.get(&n.name).map(Vec::as_slice),
                )? =>
            {
                Choice::Int8
            }
            Choice::Int8 | Choice::Bf16 if nodes::bf16_node(&mut rw, n)? => Choice::Bf16,
            _ => {
                rw.copy_f32(n)?;
                Choice::Fp32
            }
        };
        if is_mac {
            let precision = match done {
                Choice::Int8 => "int8",
                Choice::Bf16 => "bf16",
                Choice::Fp32 => "fp32",
            };
            report.layers.push(LayerPrecision {
                node: n.name.clone(),
                op: n.op.kind().into(),
                precision: precision.into(),
                sqnr_db: None,
            });
        }
    }
    Ok(rw.finish()?)
}

/// The scale and zero point of every value the model quantizes itself (the input of a `Quant` to int8, the
/// output of a dequantize), from its QDQ nodes.
fn model_scales(g: &Graph) -> BTreeMap<ValueId, (f32, i32)> {
    let mut m = BTreeMap::new();
    for n in &g.nodes {
        if let Op::Quant(q) = &n.op {
            let v = if q.to == DType::I8 { n.inputs[0] } else { n.output };
            m.entry(v).or_insert((q.scale, q.zero_point));
        }
    }
    m
}

/// A quantize or dequantize of the model in a rewritten graph: a dequantize is its int8 input read with its
/// scale and zero point (no node); a quantize of a value already int8 with the same parameters (an int8
/// layer that requantized to them) is that value; anything else is a real conversion.
fn quant_node(
    rw: &mut rewrite::Rewriter<'_>,
    n: &crate::ir::Node,
    q: &accel_ops::op::Quant,
) -> Result<(), PrecisionError> {
    let fmt = Fmt::I8 { scale: q.scale, zero: q.zero_point };
    if q.to == DType::F32 {
        let (x, _) = rw.value(n.inputs[0])?;
        rw.alias(n.output, x, fmt);
        return Ok(());
    }
    if q.to != DType::I8 {
        let x = rw.need(n.inputs[0], fmt)?;
        rw.emit(n, n.op.clone(), vec![x], Fmt::Bf16)?;
        return Ok(());
    }
    match rw.value(n.inputs[0])? {
        (x, f) if f == fmt => rw.alias(n.output, x, fmt),
        _ => {
            let x = rw.need(n.inputs[0], Fmt::F32)?;
            rw.emit(n, n.op.clone(), vec![x], fmt)?;
        }
    }
    Ok(())
}

/// One deterministic input per graph input, uniform in [-1, 1) (for measuring without calibration data).
fn seeded_inputs(g: &Graph) -> Result<Vec<Tensor>, PrecisionError> {
    let mut state = 0x5EED_u64;
    g.inputs
        .iter()
        .map(|&i| {
            let ty = g.ty(i);
            if ty.dtype != accel_ops::DType::F32 {
                let why = format!("cannot make a seeded {ty} input: give calibration data to measure");
                return Err(IrError::Invalid { node: g.value(i).name.clone(), why }.into());
            }
            let n = ty.shape.numel();
            let v: Vec<f32> = (0..n)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
                })
                .collect();
            Tensor::from_f32(ty.shape.dims().to_vec(), v)
                .map_err(|e| IrError::Invalid { node: g.value(i).name.clone(), why: e.to_string() }.into())
        })
        .collect()
}

#[cfg(test)]
mod tests;
