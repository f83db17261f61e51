//! Benchmark of the e-graph stage on generated ResNet-50@224 and YOLOv3@608 (x1 target): operators on the
//! tiles before and after, the e-graph's time and stop reason, DRAM bytes and latency before and after, both
//! simulated (the runtime's timing-only run of the lowered program) and predicted (`predict`), and the whole
//! compile time.
//! Run: `cargo run --release -p accel-compiler --example egraph_bench`.
use accel_compiler::driver::{compile_graph, CompileOptions};
use accel_compiler::import::{import_bytes, ImportOptions};
use accel_compiler::lower::{lower, LowerOptions};
use accel_compiler::predict::predict;
use accel_compiler::rewrite::{optimize, RewriteOptions};
use accel_modelgen::zoo;
use accel_ops::program::Program;
use accel_ops::target::Target;
use accel_runtime::Session;
use anyhow::Result;
use std::time::Instant;

/// The simulator's timing-only report of `p` (cycles and traffic never depend on the data).
fn simulate(p: &Program) -> Result<accel_runtime::RunReport> {
    Ok(Session::from_program(p.clone())?.run_timing_only()?)
}

fn main() -> Result<()> {
    let target = Target::x1();
    let models = [("resnet50@224", zoo::resnet50(224, 224, 7)?), ("yolov3@608", zoo::yolov3(608, 608, 7)?)];
    for (name, model) in models {
        let bytes = accel_modelgen::to_bytes(&model);
        let t = Instant::now();
        let g = import_bytes(&bytes, None, &ImportOptions::default())?;
        let import_s = t.elapsed().as_secs_f64();

        let before = lower(&g, &target, &LowerOptions::default())?;
        let tiles_before = before.plans.iter().filter(|p| p.runs_on_tiles()).count();
        let dram_before = predict(&before.program).dram_bytes;

        let t = Instant::now();
        let (opt, report) = optimize(&g, &target, &RewriteOptions::default())?;
        let egraph_s = t.elapsed().as_secs_f64();
        let after = lower(&opt, &target, &LowerOptions::default())?;
        let tiles_after = after.plans.iter().filter(|p| p.runs_on_tiles()).count();
        let pa = predict(&after.program);
        let (sb, sa) = (simulate(&before.program)?, simulate(&after.program)?);

        let t = Instant::now();
        let compiled =
            compile_graph(g.clone(), &CompileOptions { target: target.clone(), ..Default::default() }, |_, _| {})?;
        let compile_s = t.elapsed().as_secs_f64() + import_s;

        println!("== {name}");
        println!(
            "  ops on tiles        {tiles_before} -> {tiles_after} (graph ops {} -> {})",
            report.ops_before, report.ops_after
        );
        println!("  ops on host         {} -> {}", report.host_before, report.host_after);
        println!(
            "  e-graph time        {:.3} s (build, saturate, extract); optimize {:.3} s with readback and folding",
            report.egraph_elapsed.as_secs_f64(),
            egraph_s
        );
        println!(
            "  stop reason         {} after {} iterations, {} e-nodes, {} e-classes",
            report.stop_reason, report.iterations, report.enodes, report.eclasses
        );
        println!("  fusions             {}", report.fusions.len());
        println!(
            "  DRAM bytes (sim.)   {} -> {} ({:.1}% less)",
            sb.dram_bytes,
            sa.dram_bytes,
            100.0 * (1.0 - sa.dram_bytes as f64 / sb.dram_bytes.max(1) as f64)
        );
        println!("  latency (sim.)      {:.3} ms -> {:.3} ms", sb.latency_ms, sa.latency_ms);
        println!(
            "  DRAM bytes (pred.)  {} -> {} ({:.1}% less)",
            dram_before,
            pa.dram_bytes,
            100.0 * (1.0 - pa.dram_bytes as f64 / dram_before.max(1) as f64)
        );
        println!("  latency (pred.)     {:.3} ms -> {:.3} ms", predict(&before.program).latency_ms, pa.latency_ms);
        println!(
            "  compile time        {:.3} s (import {:.3} s + passes + lowering + blob; {} bytes)",
            compile_s,
            import_s,
            compiled.blob.len()
        );
    }
    Ok(())
}
