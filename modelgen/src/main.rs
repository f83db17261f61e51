//! `accel-modelgen` CLI: writes one zoo model as an `.onnx` file.

use accel_modelgen::{zoo, Arch, ZooOptions};
use anyhow::Result;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// Write an ONNX model of a standard architecture with seeded random weights.
#[derive(Parser, Debug)]
#[command(name = "accel-modelgen", version)]
struct Cli {
    /// Architecture: resnet50, mobilenetv2, yolov3, tiny-cnn, conv-bn-relu-stack,
    /// residual-block, inverted-residual, c2f-block, transformer-block.
    model: Arch,
    /// Input height (transformer-block: sequence length). Default depends on the model.
    #[arg(long)]
    height: Option<usize>,
    /// Input width (transformer-block: model dim, a multiple of 4).
    #[arg(long)]
    width: Option<usize>,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// ONNX opset (11..=17).
    #[arg(long, default_value_t = accel_modelgen::DEFAULT_OPSET,
          value_parser = clap::value_parser!(i64).range(11..=17))]
    opset: i64,
    /// Store weights as Constant nodes instead of initializers.
    #[arg(long)]
    weights_as_constants: bool,
    /// Fold BatchNormalization into the preceding Conv.
    #[arg(long)]
    fold_bn: bool,
    /// Make the batch dim symbolic (`batch`).
    #[arg(long)]
    dynamic_batch: bool,
    /// Fixed batch size (ignored with --dynamic-batch).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Output file.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let (dh, dw) = cli.model.default_size();
    let (h, w) = (cli.height.unwrap_or(dh), cli.width.unwrap_or(dw));
    let opts = ZooOptions {
        opset: cli.opset,
        weights_as_constants: cli.weights_as_constants,
        fold_bn: cli.fold_bn,
        dynamic_batch: cli.dynamic_batch,
        batch: cli.batch,
    };
    let model = zoo::build(cli.model, h, w, cli.seed, &opts)?;
    accel_modelgen::write(&cli.output, &model)?;
    eprintln!("wrote {} ({} {h}x{w}, seed {})", cli.output.display(), cli.model, cli.seed);
    Ok(())
}
