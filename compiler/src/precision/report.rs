//! The precision report: per layer, the precision chosen and its measured error, the SQNR of the layer's output
//! in the reduced-precision graph against the same value in the f32 graph (both by the reference interpreter,
//! on the calibration samples or on seeded random inputs), and the SQNR of each model output.
use super::rewrite::Fmt;
use crate::ir::{evaluate_observed, Graph, IrError, ValueId};
use accel_ops::numerics::sqnr_db;
use accel_ops::Tensor;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// One MAC layer of the model.
#[derive(Debug, Clone, Serialize)]
pub struct LayerPrecision {
    pub node: String,
    pub op: String,
    /// `fp32`, `bf16` or `int8`.
    pub precision: String,
    /// Output SQNR against f32 in dB (`None` until measured; infinite when exact).
    pub sqnr_db: Option<f64>,
}

/// The precision decisions and their measured error.
#[derive(Debug, Clone, Serialize)]
pub struct PrecisionReport {
    /// The requested mode (`bf16`, `int8`, `auto`).
    pub mode: String,
    pub layers: Vec<LayerPrecision>,
    /// SQNR of each model output (name, dB), over all the samples' energy.
    pub outputs: Vec<(String, f64)>,
    /// The least SQNR of each model output on any one sample (name, dB): what `auto`'s budget bounds.
    pub worst_outputs: Vec<(String, f64)>,
    /// The least SQNR of any slice of each model output (`check::least_slice_db`) on any one sample (name,
    /// dB): below `check::LOST_DB`, `auto` tries its output layers out of int8.
    pub worst_slices: Vec<(String, f64)>,
    /// What the errors were measured on.
    pub measured_on: String,
    /// Outputs (or slices of one) that a calibrated compile lost against fp32 (`check`): printed by `accelc`.
    pub warnings: Vec<String>,
}

/// Accumulated signal and noise energy of one value.
#[derive(Default, Clone, Copy)]
pub(super) struct Energy {
    signal: f64,
    noise: f64,
}

impl Energy {
    pub(super) fn add(&mut self, got: &[f32], want: &[f32]) {
        for (&g, &w) in got.iter().zip(want) {
            self.signal += (w as f64).powi(2);
            self.noise += (g as f64 - w as f64).powi(2);
        }
    }
    /// dB: infinite when exact, NaN where a value is NaN.
    pub(super) fn db(&self) -> f64 {
        if self.noise == 0.0 {
            f64::INFINITY
        } else if self.signal == 0.0 {
            f64::NEG_INFINITY
        } else {
            10.0 * (self.signal / self.noise).log10()
        }
    }
}

/// Measures the SQNR of every layer named in `report` and of the outputs on `samples`.
pub fn measure(
    src: &Graph,
    dst: &Graph,
    fmts: &[Fmt],
    samples: &[Vec<Tensor>],
    report: &mut PrecisionReport,
) -> Result<(), IrError> {
    let src_out: BTreeMap<&str, ValueId> = src.nodes.iter().map(|n| (n.name.as_str(), n.output)).collect();
    let dst_out: BTreeMap<ValueId, &str> = dst.nodes.iter().map(|n| (n.output, n.name.as_str())).collect();
    let wanted: BTreeMap<ValueId, &str> =
        report.layers.iter().filter_map(|l| src_out.get(l.node.as_str()).map(|&v| (v, l.node.as_str()))).collect();
    let mut energy: BTreeMap<String, Energy> = BTreeMap::new();
    let mut outputs = vec![Energy::default(); src.outputs.len()];
    let mut worst = vec![f64::INFINITY; src.outputs.len()];
    for s in samples {
        let mut reference: BTreeMap<&str, Vec<f32>> = BTreeMap::new();
        let want = evaluate_observed(src, s, |v, t| {
            if let Some(&name) = wanted.get(&v) {
                reference.insert(name, t.to_f32_vec());
            }
        })?;
        let got = evaluate_observed(dst, s, |v, t| {
            if let Some(r) = dst_out.get(&v).and_then(|name| reference.get(name)) {
                let f = fmts.get(v.0 as usize).copied().unwrap_or(Fmt::F32);
                energy.entry(dst_out[&v].to_string()).or_default().add(&f.to_f32(t), r);
            }
        })?;
        for (((e, least), g), w) in outputs.iter_mut().zip(&mut worst).zip(&got).zip(&want) {
            let mut one = Energy::default();
            one.add(&g.to_f32_vec(), &w.to_f32_vec());
            *least = least.min(one.db());
            e.signal += one.signal;
            e.noise += one.noise;
        }
    }
    for l in &mut report.layers {
        l.sqnr_db = energy.get(&l.node).map(Energy::db);
    }
    let name = |o: &ValueId| src.value(*o).name.clone();
    report.outputs = src.outputs.iter().zip(&outputs).map(|(o, e)| (name(o), e.db())).collect();
    report.worst_outputs = src.outputs.iter().zip(&worst).map(|(o, &w)| (name(o), w)).collect();
    Ok(())
}

/// The f32 graph's outputs on each sample (what `output_sqnr` compares with, computed once).
pub fn reference_outputs(src: &Graph, samples: &[Vec<Tensor>]) -> Result<Vec<Vec<Tensor>>, IrError> {
    samples.iter().map(|s| crate::ir::evaluate(src, s)).collect()
}

/// The SQNR of each model output of `dst` against `reference` (from `reference_outputs` on the same
/// samples): over all samples into `report.outputs`, the worst sample into `report.worst_outputs`.
pub fn output_sqnr(
    src: &Graph,
    dst: &Graph,
    samples: &[Vec<Tensor>],
    reference: &[Vec<Tensor>],
    report: &mut PrecisionReport,
) -> Result<(), IrError> {
    let mut outputs = vec![Energy::default(); src.outputs.len()];
    let mut worst = vec![f64::INFINITY; src.outputs.len()];
    let mut slices = vec![f64::INFINITY; src.outputs.len()];
    for (s, want) in samples.iter().zip(reference) {
        let got = crate::ir::evaluate(dst, s)?;
        for ((((e, least), slice), g), w) in outputs.iter_mut().zip(&mut worst).zip(&mut slices).zip(&got).zip(want) {
            let (gv, wv) = (g.to_f32_vec(), w.to_f32_vec());
            let mut one = Energy::default();
            one.add(&gv, &wv);
            *least = least.min(one.db());
            *slice = slice.min(super::check::least_slice_db(w.dims(), &gv, &wv));
            e.signal += one.signal;
            e.noise += one.noise;
        }
    }
    let name = |o: &ValueId| src.value(*o).name.clone();
    report.outputs = src.outputs.iter().zip(&outputs).map(|(o, e)| (name(o), e.db())).collect();
    report.worst_outputs = src.outputs.iter().zip(&worst).map(|(o, &w)| (name(o), w)).collect();
    report.worst_slices = src.outputs.iter().zip(&slices).map(|(o, &w)| (name(o), w)).collect();
    Ok(())
}

/// SQNR of one tensor pair (exposed for benchmarks).
pub fn tensor_sqnr(got: &Tensor, want: &Tensor) -> f64 {
    sqnr_db(&got.to_f32_vec(), &want.to_f32_vec())
}

fn db(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_infinite() && x > 0.0 => "exact".into(),
        Some(x) => format!("{x:.1}"),
        None => "-".into(),
    }
}

impl fmt::Display for PrecisionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "precision {} (errors: output SQNR vs fp32 in dB, measured on {})", self.mode, self.measured_on)?;
        writeln!(f, "{:<48} {:<8} {:<9} {:>9}", "layer", "op", "precision", "SQNR dB")?;
        for l in &self.layers {
            let name = if l.node.len() > 48 { format!("..{}", &l.node[l.node.len() - 46..]) } else { l.node.clone() };
            writeln!(f, "{name:<48} {:<8} {:<9} {:>9}", l.op, l.precision, db(l.sqnr_db))?;
        }
        for ((name, v), (_, w)) in self.outputs.iter().zip(&self.worst_outputs) {
            writeln!(f, "output {name}: SQNR {} dB (worst sample {} dB)", db(Some(*v)), db(Some(*w)))?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: int8 keeps {w}")?;
        }
        let count = |p: &str| self.layers.iter().filter(|l| l.precision == p).count();
        writeln!(f, "layers: {} int8, {} bf16, {} fp32", count("int8"), count("bf16"), count("fp32"))
    }
}
