//! `cargo run --release -p accel-tests --bin bench_schedule [-- --quick] [--only NAME,..] [--preset x1,..]
//! [--functional]`: the scheduler's numbers per model and preset (fp32): simulated latency, frames/s, MAC
//! utilization, DRAM bytes per frame and the roofline bound max(MACs / peak MAC rate, unavoidable bytes / DRAM
//! bandwidth), with layer fusion on and off, and the compiler's predicted latency next to the simulated one.
//! The simulation is timing-only (cycles and traffic never depend on the data); `--functional` also computes
//! the outputs, with seeded random inputs. The `pipe` rows compile with `--objective throughput` (fusion on):
//! their frames/s is the steady-state rate of overlapping frames, measured by simulating the program unrolled
//! over several frames (`accel_runtime::stream::pipelined_period`); `--no-pipe` skips them. `--precision int8`
//! (or bf16) compiles every layer in that format; int8 calibrates on one seeded random input (the schedule and
//! its timing depend on the formats and shapes, not on the scales), which runs the reference interpreter once
//! per compile: minutes at 1440x1440.
//!
//! The roofline's compute term and `util` count the model's MACs (the blob's `DebugInfo::layer_macs`), not the
//! commands': those include the halo rows a fused chain recomputes and the tiles' padding, which would lower
//! the bar the schedule is measured against.
use accel_compiler::driver::{compile_bytes, CompileOptions, Objective, Precision};
use accel_compiler::precision::{Calibration, CalibrationMethod};
use accel_compiler::predict::predict;
use accel_ops::target::Target;
use accel_runtime::random::random_inputs;
use accel_runtime::Session;
use anyhow::{Context, Result};

type Build = fn() -> Result<accel_modelgen::ModelProto>;

/// The models, by name, with their square input's side; `--quick` keeps the first two.
const MODELS: [(&str, usize, Build); 6] = [
    ("resnet50@224", 224, || accel_modelgen::zoo::resnet50(224, 224, 1)),
    ("mobilenetv2@224", 224, || accel_modelgen::zoo::mobilenetv2(224, 224, 1)),
    ("yolov3@608", 608, || accel_modelgen::zoo::yolov3(608, 608, 1)),
    ("resnet50@1440", 1440, || accel_modelgen::zoo::resnet50(1440, 1440, 1)),
    ("yolov3@1440", 1440, || accel_modelgen::zoo::yolov3(1440, 1440, 1)),
    ("mobilenetv2@1440", 1440, || accel_modelgen::zoo::mobilenetv2(1440, 1440, 1)),
];

/// `--precision`: the format of every MAC layer.
fn precision(args: &[String]) -> Result<Precision> {
    Ok(match list(args, "--precision").as_deref() {
        None => Precision::Fp32,
        Some([p]) if p == "fp32" => Precision::Fp32,
        Some([p]) if p == "bf16" => Precision::Bf16,
        Some([p]) if p == "int8" => Precision::Int8,
        Some(other) => anyhow::bail!("--precision takes fp32, bf16 or int8, not {other:?}"),
    })
}

/// The value of `--flag a,b` as a list, if given.
fn list(args: &[String], flag: &str) -> Option<Vec<String>> {
    let i = args.iter().position(|a| a == flag)?;
    Some(args.get(i + 1)?.split(',').map(str::to_string).collect())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let functional = args.iter().any(|a| a == "--functional");
    let pipe = !args.iter().any(|a| a == "--no-pipe");
    let only = list(&args, "--only");
    let presets = list(&args, "--preset").unwrap_or_else(|| vec!["x1".into(), "x16".into()]);
    let precision = precision(&args)?;
    println!(
        "{:<16} {:<4} {:<4} {:<6} {:>10} {:>10} {:>7} {:>6} {:>10} {:>11} {:>7} {:>11} {:>7}",
        "model",
        "tgt",
        "prec",
        "fusion",
        "latency ms",
        "predict ms",
        "fps",
        "util",
        "DRAM MB",
        "unavoid. MB",
        "x unav",
        "roofline ms",
        "x roof"
    );
    for (k, (name, side, build)) in MODELS.iter().enumerate() {
        let wanted = match &only {
            Some(names) => names.iter().any(|n| n == name),
            None => !quick || k < 2,
        };
        if !wanted {
            continue;
        }
        let onnx = accel_modelgen::to_bytes(&build()?);
        let calibration = (precision == Precision::Int8).then(|| Calibration {
            samples: vec![vec![accel_tests::harness::random_tensor(&[1, 3, *side, *side], 1)]],
            method: CalibrationMethod::MinMax,
        });
        for preset in &presets {
            let target = Target::preset(preset)?;
            let mut configs = vec![("on", true, Objective::Latency), ("off", false, Objective::Latency)];
            if pipe {
                configs.push(("pipe", true, Objective::Throughput));
            }
            for (label, fuse, objective) in configs {
                let opts = CompileOptions {
                    target: target.clone(),
                    no_fusion: !fuse,
                    objective,
                    precision,
                    calibration: calibration.clone(),
                    ..Default::default()
                };
                let c = compile_bytes(&onnx, None, &opts).with_context(|| format!("compiling {name}"))?;
                let predicted = predict(c.program());
                let mut s = Session::load(&c.blob)?;
                let r = if functional {
                    let inputs = random_inputs(&s.meta().inputs, 1)?;
                    s.run(&inputs)?.report.0
                } else {
                    s.run_timing_only()?.0
                };
                let fps = match accel_runtime::stream::pipelined_period(c.program())? {
                    Some(period) => 1e9 * target.clock_ghz / period as f64,
                    None => r.frames_per_s,
                };
                println!(
                    "{:<16} {:<4} {:<4} {:<6} {:>10.3} {:>10.3} {:>7.2} {:>5.1}% {:>10.1} {:>11.1} {:>7.2} {:>11.3} {:>7.2}",
                    name,
                    preset,
                    precision.name(),
                    label,
                    r.latency_ms,
                    predicted.latency_ms,
                    fps,
                    r.mac_utilization * 100.0,
                    r.dram_bytes as f64 / 1e6,
                    r.unavoidable_dram_bytes as f64 / 1e6,
                    r.dram_bytes as f64 / r.unavoidable_dram_bytes.max(1) as f64,
                    r.roofline_ms,
                    r.latency_ms / r.roofline_ms
                );
            }
        }
    }
    Ok(())
}
