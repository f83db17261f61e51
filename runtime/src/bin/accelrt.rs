//! `accelrt`: runs compiled models on the simulator (`run`), prints their disassembly (`dis`) and facts (`info`).
//! A thin shell over the library: argument parsing, .npy files and printing. Every failure is one paragraph on
//! stderr and a non-zero exit, never a panic backtrace.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
use accel_ops::blob::{decode, read_header, BlobError, BlobLimits};
use accel_ops::program::IoDesc;
use accel_runtime::host::HostBackend;
use accel_runtime::npy::{read_npy_file, sanitize_name, write_npy_file};
use accel_runtime::random::random_inputs;
use accel_runtime::verify::{check, verify, VerifiedProgram};
use accel_runtime::Session;
use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[path = "accelrt/perf.rs"]
mod perf;

#[derive(Parser)]
#[command(name = "accelrt", version, about = "Run accel blobs on the accelerator simulator")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
    /// Largest blob file accepted, in bytes (checked before the file is read) [default: 4 GiB].
    #[arg(long, global = true, value_name = "BYTES")]
    max_blob_bytes: Option<u64>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a model: read inputs from .npy files, write outputs, print latency, MACs, DRAM traffic and energy.
    Run(RunArgs),
    /// Print the disassembly of a model's command queues (of a blob that passes the verifier).
    Dis {
        /// The compiled model (.bin).
        model: PathBuf,
    },
    /// Print a model's header, target, inputs and outputs, and whether it verifies.
    Info {
        /// The compiled model (.bin).
        model: PathBuf,
    },
}

#[derive(Args)]
struct RunArgs {
    /// The compiled model (.bin).
    model: PathBuf,
    /// An input as NAME=FILE.npy (repeat for each input; FILE.npy alone when the model has one input).
    #[arg(long = "input", short = 'i', value_name = "NAME=FILE.npy")]
    inputs: Vec<String>,
    /// Fill every input with deterministic pseudo-random values in [-1, 1] from this seed (demos, benchmarks).
    #[arg(long, value_name = "SEED", conflicts_with = "inputs")]
    random_inputs: Option<u64>,
    /// Write each output to DIR/<output name>.npy.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    #[command(flatten)]
    perf: perf::PerfArgs,
    /// Most commands to execute before giving up (default: the program's command count).
    #[arg(long, value_name = "N")]
    step_budget: Option<u64>,
    /// Run the timing model only: the same cycles, traffic and energy, without computing any data (no inputs,
    /// no outputs); for large models and design-space sweeps.
    #[arg(long, conflicts_with_all = ["inputs", "random_inputs", "output_dir"])]
    timing_only: bool,
    /// Run host kernels through the ops reference interpreter instead of native code from the JIT (a debug
    /// switch: same results, slower; also `ACCEL_HOST=interp`).
    #[arg(long)]
    host_interpreter: bool,
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("accelrt: internal error (a bug, please report it): {info}");
    }));
    let cli = Cli::parse();
    let mut limits = BlobLimits::default();
    if let Some(max) = cli.max_blob_bytes {
        limits.max_blob_bytes = max;
    }
    let result = match cli.command {
        Cmd::Run(args) => run(&args, &limits),
        Cmd::Dis { model } => dis(&model, &limits),
        Cmd::Info { model } => info(&model, &limits),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("accelrt: error: {}", accel_ops::error::describe(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// Reads a blob file, refusing one over the size limit before reading it (and reading at most one byte past
/// the limit, in case the file grows meanwhile: the decoder then refuses it).
fn read_blob(path: &Path, limits: &BlobLimits) -> Result<Vec<u8>> {
    let context = || format!("cannot read model {}", path.display());
    let len = std::fs::metadata(path).with_context(context)?.len();
    if len > limits.max_blob_bytes {
        return Err(BlobError::TooLarge { len, max: limits.max_blob_bytes })
            .with_context(|| format!("invalid blob {} (see --max-blob-bytes)", path.display()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limits.max_blob_bytes.saturating_add(1)).read_to_end(&mut bytes))
        .with_context(context)?;
    Ok(bytes)
}

fn describe(ios: &[IoDesc]) -> String {
    let v: Vec<String> = ios.iter().map(|io| format!("`{}` {}", io.name, io.ty)).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Resolves `--input` arguments against the model's inputs.
fn parse_inputs(args: &[String], model_inputs: &[IoDesc]) -> Result<Vec<(String, accel_ops::Tensor)>> {
    let mut out = Vec::new();
    for arg in args {
        let named = arg.split_once('=').filter(|(name, _)| model_inputs.iter().any(|io| io.name == *name));
        let (name, file) = match (named, model_inputs) {
            (Some((name, file)), _) => (name.to_string(), file),
            (None, [only]) => (only.name.clone(), arg.as_str()),
            (None, _) => bail!(
                "--input `{arg}` does not name a model input: use NAME=FILE.npy (the model's inputs: {})",
                describe(model_inputs)
            ),
        };
        let tensor = read_npy_file(Path::new(file)).with_context(|| format!("input `{name}`"))?;
        out.push((name, tensor));
    }
    Ok(out)
}

fn run(args: &RunArgs, limits: &BlobLimits) -> Result<()> {
    let bytes = read_blob(&args.model, limits)?;
    let backend = match args.host_interpreter {
        true => HostBackend::Interpret,
        false => HostBackend::from_env().map_err(anyhow::Error::msg)?,
    };
    let mut session = Session::load_with_backend(&bytes, limits, backend)
        .with_context(|| format!("cannot load model {}", args.model.display()))?;
    drop(bytes);
    session.set_step_budget(args.step_budget);
    if args.timing_only {
        let mut r = perf::simulate(&mut session, |s| s.run_timing_only()).context("run failed")?;
        perf::measure_period(&session, &mut r)?;
        println!("model       {} (target {}, {} tiles; timing only)", args.model.display(), r.target, r.tiles);
        print!("{}", r.summary());
        return perf::finish(&args.perf, &session, &r);
    }
    let model_inputs = session.meta().inputs.clone();
    let inputs = match args.random_inputs {
        Some(seed) => random_inputs(&model_inputs, seed).context("cannot build random inputs")?,
        None => {
            if args.inputs.is_empty() && !model_inputs.is_empty() {
                bail!(
                    "the model needs inputs ({}): give each with --input NAME=FILE.npy, or use --random-inputs SEED \
                     for deterministic pseudo-random data",
                    describe(&model_inputs)
                );
            }
            parse_inputs(&args.inputs, &model_inputs)?
        }
    };
    let mut out = perf::simulate(&mut session, |s| s.run(&inputs)).context("run failed")?;
    perf::measure_period(&session, &mut out.report)?;
    let r = &out.report;
    println!("model       {} (target {}, {} tiles)", args.model.display(), r.target, r.tiles);
    print!("{}", r.summary());
    for (name, t) in &out.outputs {
        println!("output      `{name}` {}", t.ty());
    }
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create output directory {}", dir.display()))?;
        for (name, t) in &out.outputs {
            let path = dir.join(format!("{}.npy", sanitize_name(name)));
            write_npy_file(&path, t).with_context(|| format!("cannot write output `{name}`"))?;
            println!("wrote       {}", path.display());
        }
    }
    perf::finish(&args.perf, &session, r)
}

/// Decodes and verifies: the disassembler, like the simulator, only sees programs that passed the verifier.
fn load_verified(path: &Path, limits: &BlobLimits) -> Result<VerifiedProgram> {
    let bytes = read_blob(path, limits)?;
    let p = decode(&bytes, limits).with_context(|| format!("invalid blob {}", path.display()))?;
    verify(p).with_context(|| format!("{} does not verify (`accelrt info` shows why)", path.display()))
}

fn dis(model: &Path, limits: &BlobLimits) -> Result<()> {
    print!("{}", accel_ops::disasm::disassemble(load_verified(model, limits)?.program()));
    Ok(())
}

fn info(model: &Path, limits: &BlobLimits) -> Result<()> {
    let bytes = read_blob(model, limits)?;
    let h = read_header(&bytes).with_context(|| format!("invalid blob {}", model.display()))?;
    let p = decode(&bytes, limits).with_context(|| format!("invalid blob {}", model.display()))?;
    let (m, t) = (&p.meta, &p.meta.target);
    println!("file        {} ({} bytes)", model.display(), bytes.len());
    println!(
        "format      {}.{}, features {:#x}, target fingerprint {:#018x}",
        h.major, h.minor, h.features, h.target_fingerprint
    );
    println!("compiler    {} ({})", m.compiler_version, if m.options.is_empty() { "no options" } else { &m.options });
    println!(
        "target      {}: {} tiles at {} GHz; per tile {} int8 / {} bf16 / {} fp32 MACs/cycle, {} KiB SRAM",
        m.target_name,
        t.tiles,
        t.clock_ghz,
        t.tile.int8_macs_per_cycle,
        t.tile.bf16_macs_per_cycle,
        t.tile.fp32_macs_per_cycle,
        t.tile.sram_bytes / 1024
    );
    println!(
        "dram        {} bytes used ({} of constants), {} GB/s",
        m.dram_bytes,
        p.constants.len(),
        t.dram.bandwidth_gb_per_s
    );
    let commands: usize = p.queues.iter().map(|q| q.commands.len()).sum();
    println!(
        "program     {} queues, {} commands, {} semaphores, {} host kernels",
        p.queues.len(),
        commands,
        m.semaphores,
        p.kernels.len()
    );
    if !p.kernels.is_empty() {
        let fallbacks: Vec<&str> = p.kernels.iter().filter(|k| k.is_fallback()).map(|k| k.what()).collect();
        let list = if fallbacks.is_empty() { String::new() } else { format!(" ({})", fallbacks.join(", ")) };
        println!(
            "host        {} in kernel IR (JIT-compiled at load), {} in operator form{list}",
            p.kernels.len() - fallbacks.len(),
            fallbacks.len()
        );
    }
    if !m.stages.is_empty() {
        let stages: Vec<String> = m
            .stages
            .iter()
            .map(|s| {
                let tiles = s.first_tile..s.first_tile + s.tiles;
                format!("layers {}..{} on tiles {tiles:?}", s.first_layer, s.first_layer + s.layers)
            })
            .collect();
        println!("pipeline    {} stages (frames overlap): {}", m.stages.len(), stages.join("; "));
    }
    for io in &m.inputs {
        println!("input       `{}` {} at d:{:#x}", io.name, io.ty, io.dram);
    }
    for io in &m.outputs {
        println!("output      `{}` {} at d:{:#x}", io.name, io.ty, io.dram);
    }
    match check(&p) {
        Ok(()) => {
            println!("verifier    ok");
            Ok(())
        }
        Err(e) => {
            println!("verifier    rejected: {e}");
            bail!("{} does not verify: {e}", model.display())
        }
    }
}
