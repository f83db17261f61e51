//! The built-in demo behind `accelc demo`: compile the embedded model, run it on the simulator with seeded
//! inputs, check the outputs against the reference interpreter, and report predicted and simulated performance.
use crate::driver::{compile_graph, CompileError, CompileOptions};
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
    #[error("output `{name}` differs from the reference: max |error| {max_err} at tolerance {tol}")]
    Mismatch { name: String, max_err: f32, tol: f32 },
}

/// Compiles, runs and checks `graph` on `target`; returns the report text.
pub fn run_demo(graph: Graph, target: Target) -> Result<String, DemoError> {
    let opts = CompileOptions { target, ..Default::default() };
    let compiled = compile_graph(graph.clone(), &opts, |_, _| {})?;
    let mut session = Session::load(&compiled.blob)?;
    let inputs = random_inputs(&session.meta().inputs, 1)?;
    let run = session.run(&inputs)?;
    let reference = ir::evaluate(&graph, &inputs.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>())?;
    let prediction = predict::predict(compiled.program());
    let mut out = String::new();
    let tiles = compiled.lowered.plans.iter().filter(|p| p.runs_on_tiles()).count();
    let hosts = compiled.lowered.plans.iter().filter(|p| matches!(p, crate::lower::NodePlan::Host { .. })).count();
    let _ = writeln!(out, "accel demo: embedded model ({} ONNX nodes), target {}", graph.nodes.len(), opts.target.name);
    let _ = writeln!(
        out,
        "compiled: {} layers after passes ({tiles} on the tiles, {hosts} on the host), blob {} bytes",
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
    for ((name, got), want) in run.outputs.iter().zip(&reference) {
        let (g, w) = (got.to_f32_vec(), want.to_f32_vec());
        let max_err = g.iter().zip(&w).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        let max_ref = w.iter().map(|b| b.abs()).fold(0f32, f32::max);
        let tol = 1e-4 + 1e-3 * max_ref;
        if !(max_err <= tol) {
            return Err(DemoError::Mismatch { name: name.clone(), max_err, tol });
        }
        let _ = writeln!(
            out,
            "output `{name}` {}: matches the reference interpreter (max |error| {max_err:.2e})",
            got.ty()
        );
    }
    Ok(out)
}
