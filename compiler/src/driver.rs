//! The compile pipeline as one call: import -> graph passes -> lower -> blob. Used by `accelc`, the tests and
//! the benchmarks, so that all of them compile the same way.
use crate::import::{self, ImportError, ImportOptions};
use crate::ir::{Graph, IrError};
pub use crate::lower::Objective;
use crate::lower::{self, LowerError, LowerOptions, Lowered};
use crate::passes;
use accel_ops::blob::{self, BlobError};
use accel_ops::program::Program;
use accel_ops::target::Target;
use std::path::Path;
use thiserror::Error;

pub use crate::precision::Precision;
use crate::precision::{self, Calibration, PrecisionError, PrecisionOptions, PrecisionReport};

/// Everything that decides the output: the same options give a byte-identical blob.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    pub target: Target,
    pub import: ImportOptions,
    pub precision: Precision,
    /// Skip the graph pass pipeline (to measure what the passes buy).
    pub no_passes: bool,
    /// Skip depth-first layer fusion and weight-stationary layers (to measure what they buy).
    pub no_fusion: bool,
    /// Sample inputs for int8 calibration (`--calibrate`), and how ranges are taken from them.
    pub calibration: Option<Calibration>,
    /// `--precision auto`: the least output SQNR in dB an int8 layer must keep (30 when unset).
    pub accuracy_budget_db: Option<f64>,
    /// Measure each reduced-precision layer's error against f32 (the per-layer precision report).
    pub measure_precision: bool,
    /// int8: correct each layer's bias for the mean error its int8 weights make (`--bias-correction`).
    pub bias_correction: bool,
    /// int8/auto: cross-layer equalization of the f32 model before calibration (`--equalize`).
    pub equalize: bool,
    /// int8/auto: one scale for each fused residual add's operand and sum (`--share-residual-scales`).
    pub share_residual_scales: bool,
    /// int8/auto: skip the check of the outputs against fp32 on the first calibration sample (`precision::check`,
    /// `--no-output-check`: it evaluates the model twice more).
    pub no_output_check: bool,
    /// Batch-1 latency (default) or frames/s by pipelining frames over tile groups (`--objective`).
    pub objective: Objective,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            target: Target::x1(),
            import: ImportOptions::default(),
            precision: Precision::Fp32,
            no_passes: false,
            no_fusion: false,
            calibration: None,
            accuracy_budget_db: None,
            measure_precision: false,
            bias_correction: false,
            equalize: false,
            share_residual_scales: false,
            no_output_check: false,
            objective: Objective::Latency,
        }
    }
}

#[derive(Debug, Error)]
pub enum CompileError {
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("graph: {0}")]
    Ir(#[from] IrError),
    #[error("lowering: {0}")]
    Lower(#[from] LowerError),
    #[error("blob: {0}")]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Precision(#[from] PrecisionError),
}

/// A compiled model and the intermediate forms the printers show.
pub struct Compiled {
    pub imported: Graph,
    /// The graph that was lowered: after the passes and the precision rewrite (its reference evaluation is
    /// what the blob computes).
    pub optimized: Graph,
    /// Per layer, the precision chosen and (when measured) its error.
    pub precision: PrecisionReport,
    pub lowered: Lowered,
    /// What each e-graph pass did (stop reason, fusions, placement), for `--report` and `--emit graph`.
    pub rewrite_reports: Vec<(&'static str, crate::rewrite::RewriteReport)>,
    pub blob: Vec<u8>,
}

impl Compiled {
    pub fn program(&self) -> &Program {
        &self.lowered.program
    }

    /// The lowered graph as `--emit graph` prints it: a node that emits no command (a reshape, an in-place
    /// concatenation) is placed `@alias`.
    pub fn graph_text(&self) -> String {
        let aliases: Vec<bool> = self.lowered.plans.iter().map(|p| p.is_alias()).collect();
        self.optimized.with_aliases(&aliases).to_string()
    }
}

/// Compiles an ONNX file.
pub fn compile_path(path: &Path, opts: &CompileOptions) -> Result<Compiled, CompileError> {
    let g = import::import_path(path, &opts.import)?;
    compile_graph(g, opts, |_, _| {})
}

/// Compiles ONNX bytes (external data, if any, is looked up under `model_dir`).
pub fn compile_bytes(bytes: &[u8], model_dir: Option<&Path>, opts: &CompileOptions) -> Result<Compiled, CompileError> {
    let g = import::import_bytes(bytes, model_dir, &opts.import)?;
    compile_graph(g, opts, |_, _| {})
}

/// Compiles an imported graph; `after_pass` sees the graph after each named pass (for `--dump-after`).
pub fn compile_graph(
    g: Graph,
    opts: &CompileOptions,
    after_pass: impl FnMut(&str, &Graph),
) -> Result<Compiled, CompileError> {
    let (optimized, rewrite_reports) = if opts.no_passes {
        (g.clone(), Vec::new())
    } else {
        let ctx = passes::PassContext { target: opts.target.clone(), ..Default::default() };
        let out = passes::run_pipeline_with(&g, &ctx, after_pass)?;
        (out.graph, out.reports)
    };
    let popts = PrecisionOptions {
        precision: opts.precision,
        calibration: opts.calibration.clone(),
        accuracy_budget_db: opts.accuracy_budget_db,
        measure: opts.measure_precision,
        bias_correction: opts.bias_correction,
        equalize: opts.equalize,
        share_residual_scales: opts.share_residual_scales,
        output_check: !opts.no_output_check,
    };
    let applied = precision::apply(&optimized, &opts.target, &popts)?;
    let (optimized, report) = (applied.graph, applied.report);
    let calibrated = match (&opts.calibration, opts.precision) {
        (Some(c), Precision::Int8 | Precision::Auto) => {
            format!(" --calibrate ({} samples, {:?})", c.samples.len(), c.method)
        }
        _ => String::new(),
    };
    let summary = format!(
        "--target {} --precision {}{}{}",
        opts.target.name,
        opts.precision.name(),
        calibrated,
        if opts.no_passes { " --no-passes" } else { "" }
    ) + if opts.no_fusion { " --no-fusion" } else { "" }
        + if opts.objective == Objective::Throughput { " --objective throughput" } else { "" };
    let lopts = LowerOptions { summary, fuse_layers: !opts.no_fusion, objective: opts.objective };
    let lowered = lower::lower(&optimized, &opts.target, &lopts)?;
    let blob = blob::encode(&lowered.program)?;
    Ok(Compiled { imported: g, optimized, precision: report, lowered, rewrite_reports, blob })
}
