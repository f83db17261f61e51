//! The built-in demo behind `accelc demo`: compile the embedded model (in bf16 by default, as `accelc` does
//! without calibration data), run it on the simulator with seeded inputs, check the outputs against the
//! reference interpreter at the tolerance of that precision, and report predicted and simulated performance.
use crate::driver::{compile_graph, CompileError, CompileOptions, Precision};
use crate::ir::{self, Graph, IrError};
use crate::predict;
use accel_ops::target::Target;
use accel_ops::OpError;
use accel_runtime::random::random_inputs;
use accel_runtime::{RuntimeError, Session};
use std::fmt::Write;
use thiserror::Error;

/// The embedded demo model: `accel-modelgen tiny-cnn --height 96 --width 96 --seed 7` (a test regenerates it).
pub const DEMO_MODEL: &[u8] = include_bytes!("../assets/demo.onnx");

#[derive(Debug, Error)]
pub enum DemoError {
    #[error(transparent)]
    Compile(#[from] CompileError),
    #[error("runtime: {0}")]
    Runtime(#[from] RuntimeError),
    #[error("reference: {0}")]
    Reference(#[from] IrError),
    #[error("inputs: {0}")]
    Inputs(#[from] OpError),
    #[error("output `{name}` differs from the {what}: max |error| {max_err} at tolerance {tol}")]
    Mismatch { name: String, what: &'static str, max_err: f32, tol: f32 },
    #[error("the demo runs fp32 or bf16; {0} needs calibration data (`accelc model.onnx --calibrate DIR`)")]
    NeedsData(&'static str),
}

/// Compiles, runs and checks `graph` on `target` in bf16 (the `accelc` default without calibration data).
pub fn run_demo(graph: Graph, target: Target) -> Result<String, DemoError> {
    run_demo_with(graph, target, Precision::Bf16)
}

/// The largest |got - want| and the tolerance it must stay within: `atol + rtol * max|want|`.
fn max_error(got: &[f32], want: &[f32], atol: f32, rtol: f32) -> (f32, f32) {
    let max_err = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    let max_ref = want.iter().map(|b| b.abs()).fold(0f32, f32::max);
    (max_err, atol + rtol * max_ref)
}

/// Compiles, runs and checks `graph` on `target` in `precision` (fp32 or bf16); returns the report text.
/// Two checks per output: the simulator against the reference interpreter on the compiled graph (what the blob
/// computes; f32 tolerance), and against the f32 model (exact path: the same; bf16: `1e-2 max|y|`, the
/// BF16 goal of issue 4).
pub fn run_demo_with(graph: Graph, target: Target, precision: Precision) -> Result<String, DemoError> {
    if matches!(precision, Precision::Int8 | Precision::Auto) {
        return Err(DemoError::NeedsData(precision.name()));
    }
    let opts = CompileOptions { target, precision, ..Default::default() };
    let compiled = compile_graph(graph.clone(), &opts, |_, _| {})?;
    let mut session = Session::load(&compiled.blob)?;
    let inputs = random_inputs(&session.meta().inputs, 1)?;
    let run = session.run(&inputs)?;
    let xs: Vec<_> = inputs.iter().map(|(_, t)| t.clone()).collect();
    let compiled_ref = ir::evaluate(&compiled.optimized, &xs)?;
    let model_ref = ir::evaluate(&graph, &xs)?;
    let prediction = predict::predict(compiled.program());
    let mut out = String::new();
    let tiles = compiled.lowered.plans.iter().filter(|p| p.runs_on_tiles()).count();
    let hosts = compiled.lowered.plans.iter().filter(|p| matches!(p, crate::lower::NodePlan::Host { .. })).count();
    let aliases = compiled.lowered.plans.iter().filter(|p| p.is_alias()).count();
    let _ = writeln!(out, "accel demo: embedded model ({} ONNX nodes), target {}", graph.nodes.len(), opts.target.name);
    let _ = writeln!(
        out,
        "compiled in {}: {} layers after passes ({tiles} on the tiles, {hosts} on the host, {aliases} aliases), blob {} bytes",
        precision.name(),
        compiled.optimized.nodes.len(),
        compiled.blob.len()
    );
    let _ = writeln!(out, "\nsimulated per-layer profile:");
    out.push_str(&run.report.layer_table());
    let _ = writeln!(out);
    out.push_str(&run.report.summary());
    let _ = writeln!(
        out,
        "predicted by the compiler: {:.4} ms ({} cycles); simulated: {:.4} ms ({} cycles)",
        prediction.latency_ms, prediction.latency_cycles, run.report.latency_ms, run.report.latency_cycles
    );
    let model_rtol = if precision == Precision::Bf16 { 1e-2 } else { 1e-3 };
    for (((name, got), exact), want) in run.outputs.iter().zip(&compiled_ref).zip(&model_ref) {
        let g = got.to_f32_vec();
        let (err, tol) = max_error(&g, &exact.to_f32_vec(), 1e-4, 1e-3);
        if err.is_nan() || err > tol {
            return Err(DemoError::Mismatch {
                name: name.clone(),
                what: "compiled graph's reference",
                max_err: err,
                tol,
            });
        }
        let (model_err, model_tol) = max_error(&g, &want.to_f32_vec(), 1e-4, model_rtol);
        if model_err.is_nan() || model_err > model_tol {
            let what = "f32 model's reference";
            return Err(DemoError::Mismatch { name: name.clone(), what, max_err: model_err, tol: model_tol });
        }
        let _ = writeln!(
            out,
            "output `{name}` {}: matches the reference interpreter (max |error| {err:.2e}); against the f32 model \
             max |error| {model_err:.2e} (tolerance {model_tol:.2e}, {})",
            got.ty(),
            if precision == Precision::Bf16 { "bf16: 1e-2 of max |y|" } else { "fp32: 1e-4 + 1e-3 max |y|" }
        );
    }
    Ok(out)
}
