//! `cargo run --release -p accel-tests --bin bench_schedule [-- --quick]`: the scheduler's numbers per model and
//! preset: simulated latency, frames/s, MAC utilization, DRAM bytes per frame and the roofline bound
//! max(MACs / peak MAC rate, unavoidable bytes / DRAM bandwidth), with layer fusion on and off.
use accel_compiler::driver::{compile_bytes, CompileOptions};
use accel_ops::cost::mac_rate;
use accel_ops::target::Target;
use accel_ops::DType;
use accel_runtime::random::random_inputs;
use accel_runtime::Session;
use anyhow::{Context, Result};

struct Model {
    name: String,
    onnx: Vec<u8>,
}

fn models(quick: bool) -> Result<Vec<Model>> {
    let mut v = Vec::new();
    let mut add = |name: &str, m: accel_modelgen::ModelProto| {
        v.push(Model { name: name.into(), onnx: accel_modelgen::to_bytes(&m) })
    };
    add("resnet50@224", accel_modelgen::zoo::resnet50(224, 224, 1)?);
    add("mobilenetv2@224", accel_modelgen::zoo::mobilenetv2(224, 224, 1)?);
    if !quick {
        add("yolov3@608", accel_modelgen::zoo::yolov3(608, 608, 1)?);
        add("resnet50@1440", accel_modelgen::zoo::resnet50(1440, 1440, 1)?);
        add("yolov3@1440", accel_modelgen::zoo::yolov3(1440, 1440, 1)?);
    }
    Ok(v)
}

fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    println!(
        "{:<16} {:<4} {:<7} {:>10} {:>8} {:>6} {:>12} {:>12} {:>11} {:>7}",
        "model", "tgt", "fusion", "latency ms", "fps", "util", "DRAM MB", "unavoid. MB", "roofline ms", "x roof"
    );
    for m in models(quick)? {
        for preset in ["x1", "x16"] {
            let target = Target::preset(preset)?;
            for fuse in [true, false] {
                let opts = CompileOptions { target: target.clone(), no_fusion: !fuse, ..Default::default() };
                let c = compile_bytes(&m.onnx, None, &opts).with_context(|| format!("compiling {}", m.name))?;
                let p = c.program();
                let mut s = Session::load(&c.blob)?;
                let inputs = random_inputs(&s.meta().inputs, 1)?;
                let r = s.run(&inputs)?.report;
                // Unavoidable traffic: constants (weights) once, inputs and outputs once.
                let io: u64 = p
                    .meta
                    .inputs
                    .iter()
                    .chain(&p.meta.outputs)
                    .map(|d| (d.ty.shape.numel() * d.ty.dtype.size()) as u64)
                    .sum();
                let unavoidable = p.constants.len() as u64 + io;
                let peak = (mac_rate(&target, DType::F32) * target.tiles as u64) as f64;
                let roof_cycles = (r.macs as f64 / peak).max(unavoidable as f64 / target.dram_bytes_per_cycle());
                let roof_ms = roof_cycles / (target.clock_ghz * 1e6);
                println!(
                    "{:<16} {:<4} {:<7} {:>10.3} {:>8.1} {:>5.1}% {:>12.1} {:>12.1} {:>11.3} {:>7.2}",
                    m.name,
                    preset,
                    if fuse { "on" } else { "off" },
                    r.latency_ms,
                    r.frames_per_s,
                    r.mac_utilization * 100.0,
                    r.dram_bytes as f64 / 1e6,
                    unavoidable as f64 / 1e6,
                    roof_ms,
                    r.latency_ms / roof_ms
                );
            }
        }
    }
    Ok(())
}
