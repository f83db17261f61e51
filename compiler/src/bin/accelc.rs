//! `accelc`: compiles an ONNX model into an accel blob, prints the stages, or runs the built-in demo.
use accel_compiler::driver::{compile_graph, CompileOptions, Objective, Precision};
use accel_compiler::import::{import_bytes, import_path, ImportLimits, ImportOptions};
use accel_compiler::precision::{self, Calibration, CalibrationMethod};
use accel_compiler::{demo, predict};
use accel_ops::target::Target;
use accel_ops::Limits;
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "accelc", version, about = "Compile ONNX models for tile-based inference accelerators")]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    compile: CompileArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Compile the embedded demo model, run it on the simulator, check it against the reference and report.
    Demo {
        #[arg(long, default_value = "x1")]
        target: String,
        /// fp32 or bf16 (the default, as without calibration data); int8 and auto need calibration data.
        #[arg(long, value_enum, default_value = "bf16")]
        precision: PrecisionArg,
    },
}

#[derive(clap::Args)]
struct CompileArgs {
    /// The ONNX model.
    model: Option<PathBuf>,
    /// Where to write the blob.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// A built-in target (x1, x16) or a path to a target .toml file.
    #[arg(long, default_value = "x1")]
    target: String,
    /// Pins an input's shape, e.g. `--input-shape input=1,3,224,224` (repeatable).
    #[arg(long = "input-shape", value_name = "NAME=DIMS")]
    input_shapes: Vec<String>,
    /// Fixes an input's value at compile time from a .npy file, e.g. `--freeze k=k.npy` (repeatable): it
    /// becomes a constant and leaves the blob's inputs (for operands the schedule needs as constants, such as
    /// a TopK's `k` or a Reduce's `axes` given as an input).
    #[arg(long = "freeze", value_name = "NAME=FILE.npy")]
    frozen_inputs: Vec<String>,
    /// Numeric mode of the tiles' MAC layers: fp32 (exact), bf16 (no data needed), int8 or auto (int8 where
    /// the accuracy budget allows, else bf16), both needing --calibrate. Default: auto with --calibrate, else
    /// bf16.
    #[arg(long, value_enum)]
    precision: Option<PrecisionArg>,
    /// Calibration inputs for int8: a directory of .npy files, a pattern such as `cal/*.npy`, or one file
    /// (the model input's shape, or a stack of them with one more leading dimension).
    #[arg(long, value_name = "DIR_OR_GLOB")]
    calibrate: Option<String>,
    /// How activation ranges are taken from the calibration data (minmax measured best on the generated
    /// MobileNetV2; see the README's precision section).
    #[arg(long, value_enum, default_value = "minmax")]
    calibration_method: CalibrationArg,
    /// With --precision auto: the least output SQNR (dB) against fp32 an int8 layer must keep (default 30).
    #[arg(long, value_name = "DB")]
    accuracy_budget: Option<f64>,
    /// Print a stage to stdout: the optimized graph, the schedule, or the disassembled blob.
    #[arg(long, value_enum)]
    emit: Option<Emit>,
    /// Print the predicted per-layer performance table.
    #[arg(long)]
    report: bool,
    /// Write the predicted performance as JSON.
    #[arg(long, value_name = "FILE")]
    report_json: Option<PathBuf>,
    /// Print the graph after the named pass (see ARCHITECTURE.md for the pipeline).
    #[arg(long, value_name = "PASS")]
    dump_after: Option<String>,
    /// Skip the graph passes (fusion), to measure what they buy.
    #[arg(long)]
    no_passes: bool,
    /// Skip depth-first layer fusion and weight-stationary layers, to measure what they buy.
    #[arg(long)]
    no_fusion: bool,
    /// What the schedule optimizes: batch-1 latency, or frames/s by pipelining consecutive frames over stages
    /// of layers, each on its own group of tiles (the report then gives both).
    #[arg(long, value_enum, default_value = "latency")]
    objective: ObjectiveArg,
    /// int8: correct each layer's bias for the mean output error its int8 weights make, measured on the
    /// calibration data (off by default; see the README's precision section).
    #[arg(long)]
    bias_correction: bool,
    /// int8/auto: cross-layer equalization of the f32 model before calibration (off by default; see the
    /// README's precision section).
    #[arg(long)]
    equalize: bool,

    /// int8/auto: one scale for each fused residual add's operand and sum where their ranges are close, which
    /// gives the residual's term the factor 1 (off by default; see the README's precision section).
    #[arg(long)]
    share_residual_scales: bool,
    /// int8/auto: skip the check that warns about outputs (or channels of one) int8 lost against fp32 on the
    /// first calibration sample (it evaluates the model twice more: ~18 s of YOLOv3@608's 36).
    #[arg(long)]
    no_output_check: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Caps on what an untrusted model may ask of the importer (defaults: `ImportLimits::default()`).
#[derive(clap::Args)]
struct LimitArgs {
    /// Largest model file accepted, in bytes [default: 2 GiB].
    #[arg(long, value_name = "BYTES")]
    max_model_bytes: Option<u64>,
    /// Most ONNX nodes in the graph [default: 1000000].
    #[arg(long, value_name = "N")]
    max_nodes: Option<usize>,
    /// Most nodes on one path from an input to an output [default: 10000].
    #[arg(long, value_name = "N")]
    max_depth: Option<usize>,
    /// Most elements in any one tensor: inputs, weights, constants and intermediates [default: 2^31].
    #[arg(long, value_name = "N")]
    max_elements: Option<usize>,
}

impl LimitArgs {
    fn limits(&self) -> ImportLimits {
        let d = ImportLimits::default();
        ImportLimits {
            max_model_bytes: self.max_model_bytes.unwrap_or(d.max_model_bytes),
            max_nodes: self.max_nodes.unwrap_or(d.max_nodes),
            max_depth: self.max_depth.unwrap_or(d.max_depth),
            tensor: Limits { max_elements: self.max_elements.unwrap_or(d.tensor.max_elements), ..d.tensor },
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum CalibrationArg {
    /// The smallest and largest value seen.
    Minmax,
    /// The 0.01th and 99.99th percentiles (clips rare outliers).
    Percentile,
    /// The min/max range scaled by the factor that minimizes the int8 quantization error.
    Mse,
}

#[derive(Clone, Copy, ValueEnum)]
enum ObjectiveArg {
    Latency,
    Throughput,
}

impl From<ObjectiveArg> for Objective {
    fn from(o: ObjectiveArg) -> Objective {
        match o {
            ObjectiveArg::Latency => Objective::Latency,
            ObjectiveArg::Throughput => Objective::Throughput,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum PrecisionArg {
    Fp32,
    Bf16,
    Int8,
    Auto,
}

impl From<PrecisionArg> for Precision {
    fn from(p: PrecisionArg) -> Precision {
        match p {
            PrecisionArg::Fp32 => Precision::Fp32,
            PrecisionArg::Bf16 => Precision::Bf16,
            PrecisionArg::Int8 => Precision::Int8,
            PrecisionArg::Auto => Precision::Auto,
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Emit {
    Graph,
    Schedule,
    Disasm,
}

fn parse_shape(s: &str) -> Result<(String, Vec<usize>)> {
    let (name, dims) = s.rsplit_once('=').with_context(|| format!("--input-shape `{s}`: expected NAME=D0,D1,..."))?;
    let dims = dims
        .split(',')
        .map(|d| d.trim().parse::<usize>().with_context(|| format!("--input-shape `{s}`: `{d}` is not a dimension")))
        .collect::<Result<Vec<_>>>()?;
    Ok((name.to_string(), dims))
}

fn parse_frozen(s: &str) -> Result<(String, accel_ops::Tensor)> {
    let (name, file) = s.split_once('=').with_context(|| format!("--freeze `{s}`: expected NAME=FILE.npy"))?;
    let t = accel_runtime::npy::read_npy_file(std::path::Path::new(file))
        .with_context(|| format!("--freeze `{s}`: reading `{file}`"))?;
    Ok((name.to_string(), t))
}

fn compile(args: CompileArgs) -> Result<()> {
    let Some(model) = args.model else {
        bail!("no model given: usage `accelc model.onnx -o model.bin` (or `accelc demo`)")
    };
    let target = Target::resolve(&args.target)?;
    // Without the flag: auto with calibration data, else bf16 (it needs no data: weights convert by rounding).
    let precision = match (args.precision, &args.calibrate) {
        (Some(p), _) => p.into(),
        (None, Some(_)) => Precision::Auto,
        (None, None) => Precision::Bf16,
    };
    let input_shapes = args.input_shapes.iter().map(|s| parse_shape(s)).collect::<Result<Vec<_>>>()?;
    let frozen_inputs = args.frozen_inputs.iter().map(|s| parse_frozen(s)).collect::<Result<Vec<_>>>()?;
    let mut opts = CompileOptions {
        target,
        import: ImportOptions { input_shapes, frozen_inputs, limits: args.limits.limits() },
        precision,
        no_passes: args.no_passes,
        no_fusion: args.no_fusion,
        bias_correction: args.bias_correction,
        equalize: args.equalize,
        share_residual_scales: args.share_residual_scales,
        no_output_check: args.no_output_check,
        calibration: None,
        accuracy_budget_db: args.accuracy_budget,
        measure_precision: args.report && precision != Precision::Fp32,
        objective: args.objective.into(),
    };
    // A spinner on stderr naming the stage, once the compile has taken a second (terminals only).
    let bar = accel_runtime::progress::Bar::start("importing", None, None);
    let graph = import_path(&model, &opts.import).with_context(|| format!("cannot import {}", model.display()))?;
    if let Some(spec) = &args.calibrate {
        bar.set_message("reading calibration data");
        let files = precision::find_files(spec)?;
        let samples = precision::load_samples(&graph, &files)?;
        let method = match args.calibration_method {
            CalibrationArg::Minmax => CalibrationMethod::MinMax,
            CalibrationArg::Percentile => CalibrationMethod::Percentile(99.99),
            CalibrationArg::Mse => CalibrationMethod::Mse,
        };
        opts.calibration = Some(Calibration { samples, method });
    }
    if let Some(pass) = &args.dump_after {
        if !accel_compiler::passes::PIPELINE.iter().any(|p| p.name == pass) {
            let names: Vec<&str> = accel_compiler::passes::PIPELINE.iter().map(|p| p.name).collect();
            bail!("--dump-after {pass}: no such pass (passes: {})", names.join(", "));
        }
    }
    let dump = args.dump_after.clone();
    let compiled = compile_graph(graph, &opts, |name, g| {
        bar.set_message(&format!("compiling: after {name}"));
        if dump.as_deref() == Some(name) {
            print!("{g}");
        }
    })
    .with_context(|| format!("cannot compile {}", model.display()))?;
    bar.set_message("predicting");
    let prediction = predict::predict(compiled.program());
    drop(bar);
    for w in &compiled.precision.warnings {
        eprintln!("warning: int8 keeps {w}: --precision bf16 needs no calibration and keeps more");
    }
    match args.emit {
        Some(Emit::Graph) => {
            print!("{}", compiled.graph_text());
            for (pass, r) in &compiled.rewrite_reports {
                println!("\n; pass {pass}:");
                print!("{r}");
            }
        }
        Some(Emit::Schedule) | Some(Emit::Disasm) => print!("{}", accel_ops::disasm::disassemble(compiled.program())),
        None => {}
    }
    if args.report {
        for (pass, r) in &compiled.rewrite_reports {
            println!("; pass {pass}:");
            print!("{r}");
        }
        println!("; fused chains and weight-stationary layers (tile: rows x columns of the last layer's output):");
        for t in &compiled.lowered.chain_tiles {
            println!("chain tile {:>5} x {:<5} of {:>5} columns  {}", t.rows, t.cols, t.width, t.layer);
        }
        let in_place: Vec<&str> = (compiled.optimized.nodes.iter().zip(&compiled.lowered.plans))
            .filter(|(_, p)| matches!(p, accel_compiler::lower::NodePlan::ConcatInPlace { .. }))
            .map(|(n, _)| n.name.as_str())
            .collect();
        println!("; concatenations written in place (no command): {}", in_place.len());
        for name in in_place {
            println!("alias {name}");
        }
        print!("{}", predict::table(&prediction));
        if precision != Precision::Fp32 {
            print!("{}", compiled.precision);
        }
    }
    if let Some(path) = &args.report_json {
        std::fs::write(path, predict::to_json(&prediction))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    match &args.output {
        Some(out) => std::fs::write(out, &compiled.blob).with_context(|| format!("cannot write {}", out.display()))?,
        None if args.emit.is_none() && !args.report && args.report_json.is_none() => {
            bail!("no output given: add `-o model.bin` (or --emit / --report to only print)")
        }
        None => {}
    }
    if args.output.is_some() {
        eprintln!(
            "compiled {} -> {} ({} bytes): {} layers, precision {}, predicted {:.3} ms/frame on {}",
            model.display(),
            args.output.as_ref().map_or(String::new(), |p| p.display().to_string()),
            compiled.blob.len(),
            prediction.layers.len(),
            precision.name(),
            prediction.latency_ms,
            opts.target.name
        );
    }
    Ok(())
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Demo { target, precision }) => {
            let target = Target::resolve(&target)?;
            let graph = import_bytes(demo::DEMO_MODEL, None, &ImportOptions::default())
                .context("cannot import the demo model")?;
            print!("{}", demo::run_demo_with(graph, target, precision.into())?);
            Ok(())
        }
        None => compile(cli.compile),
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("accelc: error: {}", accel_ops::error::describe(e.as_ref()));
        std::process::exit(1);
    }
}
