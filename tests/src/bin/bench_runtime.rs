//! `bench_runtime`: this runtime's functional simulation against tract-onnx (optimized), side by side in one
//! process with the same thread count, on ResNet-50@224, MobileNetV2@224 and the public `light_*` models.
//! Prints per model the median wall and CPU time of a run (after warm-up) for both and the ratios ours / tract
//! (CPU time is the robust one on a shared machine), the timing-only run's wall time, the median wall time of
//! the same model compiled for BF16 and for INT8 (calibrated on 4 random inputs) run end to end, and the time of
//! the standalone f32, INT8 and BF16 convolution kernels on the model's largest `mac.conv` command.
//! Not a test: it asserts nothing about time; it does check that both engines agree on the outputs.
use accel_compiler::driver::{compile_bytes, CompileOptions, Precision};
use accel_compiler::precision::{Calibration, CalibrationMethod};
use accel_ops::command::Command;
use accel_ops::target::Target;
use accel_ops::Tensor;
use accel_runtime::sim::{bf16, conv_f32, int8, ConvGeom};
use accel_runtime::Session;
use accel_tests::harness::{compile, random_tensor};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::time::Instant;
use tract_linalg::multithread::{set_default_executor, Executor};
use tract_onnx::prelude::*;

struct Args {
    threads: usize,
    runs: usize,
    warmup: usize,
    only: Vec<String>,
    /// Only run our simulation, this many times (for profilers).
    ours_only: Option<usize>,
    /// Run tile commands one at a time (parallel only inside kernels), to compare the two strategies.
    serial_tiles: bool,
    /// The precision `--ours-only` compiles for (INT8 and BF16 calibrated as `precision_run_ms` does).
    precision: Precision,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        threads: 1,
        runs: 10,
        warmup: 2,
        only: Vec::new(),
        ours_only: None,
        serial_tiles: false,
        precision: Precision::Fp32,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |what: &str| it.next().with_context(|| format!("{what} needs a value"));
        match flag.as_str() {
            "--threads" => a.threads = value("--threads")?.parse()?,
            "--runs" => a.runs = value("--runs")?.parse()?,
            "--warmup" => a.warmup = value("--warmup")?.parse()?,
            "--only" => a.only = value("--only")?.split(',').map(str::to_string).collect(),
            "--ours-only" => a.ours_only = Some(value("--ours-only")?.parse()?),
            "--serial-tiles" => a.serial_tiles = true,
            "--precision" => {
                a.precision = match value("--precision")?.as_str() {
                    "f32" => Precision::Fp32,
                    "bf16" => Precision::Bf16,
                    "int8" => Precision::Int8,
                    other => bail!("--precision takes f32, bf16 or int8, not `{other}`"),
                }
            }
            "-h" | "--help" => {
                println!("bench_runtime [--threads N] [--runs N] [--warmup N] [--only name,name] [--ours-only RUNS [--precision f32|bf16|int8]] [--serial-tiles]");
                std::process::exit(0);
            }
            other => bail!("unknown argument `{other}`"),
        }
    }
    if a.threads == 0 || a.runs == 0 {
        bail!("--threads and --runs must be >= 1");
    }
    Ok(a)
}

/// CPU seconds consumed so far by every thread of this process (Linux: the schedulers' per-thread run time;
/// elsewhere NaN). Robust where the wall clock is not: on a machine shared with other work.
fn cpu_s() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return f64::NAN };
    let ns: f64 = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
        .sum();
    ns / 1e9
}

/// Median wall time and median CPU time in ms of `runs` calls after `warmup` calls.
fn median_ms(warmup: usize, runs: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..warmup {
        f();
    }
    let (mut wall, mut cpu): (Vec<f64>, Vec<f64>) = (0..runs)
        .map(|_| {
            let (t0, c0) = (Instant::now(), cpu_s());
            f();
            (t0.elapsed().as_secs_f64() * 1e3, (cpu_s() - c0) * 1e3)
        })
        .unzip();
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    (wall[wall.len() / 2], cpu[cpu.len() / 2])
}

fn models(only: &[String]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let want = |n: &str| only.is_empty() || only.iter().any(|o| n.contains(o.as_str()));
    if want("resnet50@224") {
        out.push(("resnet50@224".into(), accel_modelgen::to_bytes(&accel_modelgen::zoo::resnet50(224, 224, 1)?)));
    }
    if want("mobilenetv2@224") {
        let m = accel_modelgen::zoo::mobilenetv2(224, 224, 2)?;
        out.push(("mobilenetv2@224".into(), accel_modelgen::to_bytes(&m)));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/light");
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    files.sort();
    for f in files {
        let name = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if want(&name) {
            out.push((name, std::fs::read(&f)?));
        }
    }
    Ok(out)
}

/// tract's optimized plan for `onnx` with the inputs' shapes.
fn tract_plan(onnx: &[u8], inputs: &[Tensor]) -> Result<std::sync::Arc<TypedRunnableModel>> {
    let mut model = tract_onnx::onnx().model_for_read(&mut &onnx[..])?;
    for (i, t) in inputs.iter().enumerate() {
        model = model.with_input_fact(i, f32::fact(t.dims()).into())?;
    }
    model.into_optimized()?.into_runnable()
}

fn tract_inputs(inputs: &[Tensor]) -> Result<TVec<TValue>> {
    inputs
        .iter()
        .map(|t| {
            let data = t.as_f32().context("f32 input")?.to_vec();
            Ok(tract_ndarray::ArrayD::from_shape_vec(t.dims().to_vec(), data)?.into_tvalue())
        })
        .collect()
}

/// The geometry of the program's largest `mac.conv` command, by MACs: one unit of the simulator's kernel work.
fn largest_conv(session: &Session) -> Option<ConvGeom> {
    let mut best: Option<(u64, ConvGeom)> = None;
    for q in &session.program().queues {
        for c in &q.commands {
            let Command::Conv {
                in_c,
                in_h,
                in_w,
                out_c,
                out_h,
                out_w,
                kernel_h,
                kernel_w,
                stride_h,
                stride_w,
                dilation_h,
                dilation_w,
                pad_top,
                pad_left,
                groups,
                ..
            } = c
            else {
                continue;
            };
            let g = ConvGeom {
                in_c: *in_c as usize,
                in_h: *in_h as usize,
                in_w: *in_w as usize,
                out_c: *out_c as usize,
                out_h: *out_h as usize,
                out_w: *out_w as usize,
                kernel: [*kernel_h as usize, *kernel_w as usize],
                stride: [*stride_h as usize, *stride_w as usize],
                dilation: [*dilation_h as usize, *dilation_w as usize],
                pad: [*pad_top as usize, *pad_left as usize],
                groups: (*groups).max(1) as usize,
            };
            let macs = (g.out_c * g.out_h * g.out_w * g.in_c / g.groups * g.kernel[0] * g.kernel[1]) as u64;
            if best.as_ref().is_none_or(|(m, _)| *m < macs) {
                best = Some((macs, g));
            }
        }
    }
    best.map(|(_, g)| g)
}

/// Fastest wall time in ms of `runs` calls after `warmup` (kernels are short: the minimum is the robust
/// statistic, contention only ever adds time).
fn min_ms(warmup: usize, runs: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        f();
    }
    (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

/// Fastest wall ms of the f32, INT8 and BF16 convolution kernels on one geometry (the calling thread's pool).
fn kernel_times(g: &ConvGeom, warmup: usize, runs: usize) -> Result<[f64; 3]> {
    let (nx, nw, ny) = (
        g.in_c * g.in_h * g.in_w,
        g.out_c * g.in_c / g.groups * g.kernel[0] * g.kernel[1],
        g.out_c * g.out_h * g.out_w,
    );
    let xf: Vec<f32> = (0..nx).map(|i| ((i * 7919) % 255) as f32 / 127.0 - 1.0).collect();
    let wf: Vec<f32> = (0..nw).map(|i| ((i * 104_729) % 253) as f32 / 126.0 - 1.0).collect();
    let mut yf = vec![0f32; ny];
    let f32_ms = min_ms(warmup, runs, || {
        conv_f32(g, &xf, &wf, None, None, None, &mut yf).ok();
    });
    let x8: Vec<i8> = (0..nx).map(|i| ((i * 7919) % 255) as i32 as i8).collect();
    let w8: Vec<i8> = (0..nw).map(|i| ((i * 104_729) % 251) as i32 as i8).collect();
    let mut y32 = vec![0i32; ny];
    let int8_ms = min_ms(warmup, runs, || {
        int8::conv_i8(g, &x8, 3, &w8, None, &mut y32).ok();
    });
    let xb: Vec<bf16::Bf16> = xf.iter().map(|&v| bf16::Bf16::from_f32(v)).collect();
    let wb: Vec<bf16::Bf16> = wf.iter().map(|&v| bf16::Bf16::from_f32(v)).collect();
    let bf16_ms = min_ms(warmup, runs, || {
        bf16::conv_bf16(g, &xb, &wb, None, &mut yf).ok();
    });
    Ok([f32_ms, int8_ms, bf16_ms])
}

/// Median wall ms of one run of `onnx` compiled in `precision` (INT8 calibrated on 4 random inputs of the
/// shapes of `inputs`), end to end through `Session::run`.
fn precision_run_ms(onnx: &[u8], precision: Precision, inputs: &[(String, Tensor)], a: &Args) -> Result<f64> {
    let mut session = precision_session(onnx, precision, inputs, a)?;
    Ok(median_ms(a.warmup, a.runs, || {
        session.run(inputs).ok();
    })
    .0)
}

/// A session of `onnx` compiled in `precision` (INT8 calibrated on 4 random inputs of the shapes of `inputs`),
/// run once.
fn precision_session(onnx: &[u8], precision: Precision, inputs: &[(String, Tensor)], a: &Args) -> Result<Session> {
    let samples = (0..4u64).map(|s| inputs.iter().map(|(_, t)| random_tensor(t.dims(), 100 + s)).collect()).collect();
    let opts = CompileOptions {
        precision,
        calibration: Some(Calibration { samples, method: CalibrationMethod::MinMax }),
        ..Default::default()
    };
    let compiled = compile_bytes(onnx, None, &opts)?;
    let mut session = Session::load(&compiled.blob)?;
    session.set_parallel_tiles(!a.serial_tiles);
    session.run(inputs)?;
    Ok(session)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    rayon::ThreadPoolBuilder::new().num_threads(args.threads).build_global().context("rayon pool")?;
    set_default_executor(if args.threads > 1 { Executor::multithread(args.threads) } else { Executor::SingleThread });
    println!(
        "bench_runtime: {} thread(s), median of {} runs after {} warm-up; ours = functional simulation (x1{}), \
         tract = tract-onnx 0.23.9 optimized",
        args.threads,
        args.runs,
        args.warmup,
        if args.serial_tiles { ", serial tiles" } else { "" }
    );
    println!(
        "{:<20} {:>9} {:>9} {:>6} {:>9} {:>9} {:>6} {:>8} {:>8} {:>8} | {:>30} {:>8} {:>8} {:>8}",
        "model",
        "ours ms",
        "tract ms",
        "ratio",
        "ours cpu",
        "tract cpu",
        "ratio",
        "timing",
        "bf16 ms",
        "int8 ms",
        "largest mac.conv (cin>cout,hxw,k)",
        "f32",
        "int8",
        "bf16"
    );
    let mut ratios = Vec::new();
    for (name, onnx) in models(&args.only)? {
        let compiled = compile(&onnx, &Target::x1(), &[]);
        let mut session = Session::load(&compiled.blob).with_context(|| format!("{name}: load"))?;
        session.set_parallel_tiles(!args.serial_tiles);
        let inputs: Vec<(String, Tensor)> = session
            .meta()
            .inputs
            .iter()
            .enumerate()
            .map(|(i, io)| (io.name.clone(), random_tensor(io.ty.shape.dims(), 7 + i as u64)))
            .collect();
        if let Some(n) = args.ours_only {
            if args.precision != Precision::Fp32 {
                session = precision_session(&onnx, args.precision, &inputs, &args)?;
            }
            let (wall, cpu) = median_ms(1, n, || {
                session.run(&inputs).ok();
            });
            println!("{name:<20} ours only ({:?}): {wall:.2} ms wall, {cpu:.2} ms cpu (median of {n})", args.precision);
            continue;
        }
        let tensors: Vec<Tensor> = inputs.iter().map(|(_, t)| t.clone()).collect();
        let plan = tract_plan(&onnx, &tensors).with_context(|| format!("{name}: tract"))?;
        // A reused state, as the session is reused: no per-run planning on either side.
        let mut state = plan.spawn()?;
        let tv = tract_inputs(&tensors)?;
        // Agreement first: a fast wrong answer is not a benchmark result.
        let ours = session.run(&inputs).with_context(|| format!("{name}: run"))?;
        let theirs = state.run(tv.clone())?;
        let mut worst = 0f32;
        for ((_, g), w) in ours.outputs.iter().zip(theirs.iter()) {
            let w = w.to_plain_array_view::<f32>()?;
            for (a, b) in g.to_f32_vec().iter().zip(w.iter()) {
                worst = worst.max((a - b).abs() / (1e-4 + 1e-3 * b.abs()));
            }
        }
        let ours_ms = median_ms(args.warmup, args.runs, || {
            session.run(&inputs).ok();
        });
        let tract_ms = median_ms(args.warmup, args.runs, || {
            state.run(tv.clone()).ok();
        });
        let timing_ms = median_ms(args.warmup, args.runs, || {
            session.run_timing_only().ok();
        });
        let bf16_ms =
            precision_run_ms(&onnx, Precision::Bf16, &inputs, &args).with_context(|| format!("{name}: bf16"))?;
        let int8_ms =
            precision_run_ms(&onnx, Precision::Int8, &inputs, &args).with_context(|| format!("{name}: int8"))?;
        let (ratio, cpu_ratio) = (ours_ms.0 / tract_ms.0, ours_ms.1 / tract_ms.1);
        ratios.push((ratio, cpu_ratio));
        let (shape, kt) = match largest_conv(&session) {
            Some(g) => (
                format!("{}>{},{}x{},k{}s{}g{}", g.in_c, g.out_c, g.out_h, g.out_w, g.kernel[0], g.stride[0], g.groups),
                kernel_times(&g, 2, args.runs.max(10))?,
            ),
            None => ("-".into(), [f64::NAN; 3]),
        };
        println!(
            "{name:<20} {:>9.2} {:>9.2} {ratio:>6.2} {:>9.2} {:>9.2} {cpu_ratio:>6.2} {:>8.2} {bf16_ms:>8.2} \
             {int8_ms:>8.2} | {shape:>30} {:>8.3} {:>8.3} {:>8.3}{}",
            ours_ms.0,
            tract_ms.0,
            ours_ms.1,
            tract_ms.1,
            timing_ms.0,
            kt[0],
            kt[1],
            kt[2],
            if worst > 1.0 { format!("  (outputs differ: {worst:.1}x the e2e tolerance)") } else { String::new() }
        );
    }
    if !ratios.is_empty() {
        let geo =
            |f: fn(&(f64, f64)) -> f64| (ratios.iter().map(|r| f(r).ln()).sum::<f64>() / ratios.len() as f64).exp();
        println!("geometric mean ratio (ours / tract): wall {:.2}, cpu {:.2}", geo(|r| r.0), geo(|r| r.1));
    }
    Ok(())
}
