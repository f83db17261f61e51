//! `cargo run --release -p accel-tests --bin bench_precision [-- --size 64 --inputs 16 --only NAME --layers
//! --method percentile --bias-correction --equalize --share-residual-scales]`: FP32 vs BF16 vs INT8 vs auto
//! per model, on the simulator: output SQNR against tract's f32 (worst and mean over the inputs), top-1
//! agreement with f32, simulated latency, and how many MAC layers each mode put in int8 / bf16. INT8 and auto calibrate on 16 fixed random inputs (min/max ranges by default,
//! as `accelc`; `--bias-correction` as its flag); the measured inputs are other fixed random inputs. (The ONNX
//! `light_*` models are not measured: their weights are degenerate and their outputs constant, so every mode is
//! exact.) Each input whose top-1 class differs from f32's is listed with f32's gap between its two best
//! classes and the output noise: on random weights the classes are near-ties.
use accel_compiler::driver::{compile_bytes, CompileOptions, Precision};
use accel_compiler::precision::{Calibration, CalibrationMethod};
use accel_ops::numerics::sqnr_db;
use accel_ops::Tensor;
use accel_runtime::Session;
use accel_tests::harness::{noise_rms, random_tensor, top2_gap, tract_run};
use anyhow::{Context, Result};

struct Model {
    name: String,
    onnx: Vec<u8>,
    input: String,
    dims: Vec<usize>,
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The value after flag `name`, if given.
fn text_arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn models(size: usize) -> Result<Vec<Model>> {
    let mut v = Vec::new();
    let mut add = |name: String, m: accel_modelgen::ModelProto| {
        v.push(Model { name, onnx: accel_modelgen::to_bytes(&m), input: "input".into(), dims: vec![1, 3, size, size] })
    };
    add(format!("resnet50@{size}"), accel_modelgen::zoo::resnet50(size, size, 1)?);
    add(format!("mobilenetv2@{size}"), accel_modelgen::zoo::mobilenetv2(size, size, 2)?);
    Ok(v)
}

fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().fold(0, |b, (i, &x)| if x > v[b] { i } else { b })
}

fn main() -> Result<()> {
    let (size, n) = (arg("--size", 64), arg("--inputs", 16));
    println!(
        "{:<20} {:<6} {:>6} {:>6} {:>10} {:>10} {:>8} {:>11} {:>8}",
        "model", "mode", "int8", "bf16", "SQNR min", "SQNR mean", "top-1", "latency ms", "speedup"
    );
    // `--only mobilenetv2` measures the models whose name contains it; `--layers` prints each reduced-precision
    // mode's per-layer report (precision and SQNR against f32 on the calibration samples).
    let only = text_arg("--only");
    let layers = std::env::args().any(|a| a == "--layers");
    let bias_correction = std::env::args().any(|a| a == "--bias-correction");
    let equalize = std::env::args().any(|a| a == "--equalize");
    let share_residual_scales = std::env::args().any(|a| a == "--share-residual-scales");
    // `--method minmax|percentile|mse` (default minmax, as `accelc`).
    let method = match text_arg("--method").as_deref() {
        Some("percentile") => CalibrationMethod::Percentile(99.99),
        Some("mse") => CalibrationMethod::Mse,
        _ => CalibrationMethod::MinMax,
    };
    for m in models(size)?.into_iter().filter(|m| only.as_ref().is_none_or(|o| m.name.contains(o.as_str()))) {
        let cal: Vec<Vec<Tensor>> = (0..16).map(|s| vec![random_tensor(&m.dims, 1000 + s)]).collect();
        let inputs: Vec<Tensor> = (0..n as u64).map(|s| random_tensor(&m.dims, 2000 + s)).collect();
        let want: Vec<Vec<f32>> =
            inputs.iter().map(|x| tract_run(&m.onnx, std::slice::from_ref(x)).swap_remove(0)).collect();
        let mut fp32_ms = None;
        for mode in [Precision::Fp32, Precision::Bf16, Precision::Int8, Precision::Auto] {
            let calibration = Some(Calibration { samples: cal.clone(), method });
            let measure_precision = layers && mode != Precision::Fp32;
            let opts = CompileOptions {
                precision: mode,
                calibration,
                measure_precision,
                bias_correction,
                equalize,
                share_residual_scales,
                ..Default::default()
            };
            let c = compile_bytes(&m.onnx, None, &opts)
                .with_context(|| format!("compiling {} in {}", m.name, mode.name()))?;
            let count = |p: &str| c.precision.layers.iter().filter(|l| l.precision == p).count();
            let mut s = Session::load(&c.blob)?;
            let (mut worst, mut sum, mut agree, mut ms) = (f64::INFINITY, 0.0, 0, 0.0);
            let mut flips = Vec::new();
            for (k, (x, w)) in inputs.iter().zip(&want).enumerate() {
                let out = s.run(&[(m.input.clone(), x.clone())])?;
                ms = out.report.latency_ms;
                let got = out.outputs[0].1.to_f32_vec();
                let db = sqnr_db(&got, w);
                worst = worst.min(db);
                sum += db.min(200.0);
                if argmax(&got) == argmax(w) {
                    agree += 1;
                } else {
                    flips.push((k, top2_gap(w), noise_rms(&got, w)));
                }
            }
            let base = *fp32_ms.get_or_insert(ms);
            println!(
                "{:<20} {:<6} {:>6} {:>6} {:>10.1} {:>10.1} {:>7.1}% {:>11.3} {:>7.2}x",
                m.name,
                mode.name(),
                count("int8"),
                count("bf16"),
                worst,
                sum / n as f64,
                100.0 * agree as f64 / n as f64,
                ms,
                base / ms
            );
            // A disagreement with f32 is a near-tie when f32's two best classes are closer than the noise.
            for (k, gap, rms) in flips {
                println!("    top-1 differs on input {k}: f32 top-2 gap {gap:.4}, output noise rms {rms:.4}");
            }
            if measure_precision {
                print!("{}", c.precision);
            }
        }
    }
    Ok(())
}
