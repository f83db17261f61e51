//! The compile pipeline as one call: import -> graph passes -> lower -> blob. Used by `accelc`, the tests and
//! the benchmarks, so that all of them compile the same way.
use crate::import::{self, ImportError, ImportOptions};
use crate::ir::{Graph, IrError};
use crate::lower::{self, LowerError, LowerOptions, Lowered};
use crate::passes;
use accel_ops::blob::{self, BlobError};
use accel_ops::program::Program;
use accel_ops::target::Target;
use std::path::Path;
use thiserror::Error;

/// The numeric mode of the tiles. Only FP32 exists so far; it stays available for good as the exact path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    Fp32,
}

/// Everything that decides the output: the same options give a byte-identical blob.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    pub target: Target,
    pub import: ImportOptions,
    pub precision: Precision,
    /// Skip the graph pass pipeline (to measure what the passes buy).
    pub no_passes: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions { target: Target::x1(), import: ImportOptions::default(), precision: Precision::Fp32, no_passes: false }
    }
}

#[derive(Debug, Error)]
pub enum CompileError {
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("graph: {0}")]
    Ir(#[from] IrError),
    #[error("lowering: {0}")]
    Lower(#[from] LowerError),
    #[error("blob: {0}")]
    Blob(#[from] BlobError),
}

/// A compiled model and the intermediate forms the printers show.
pub struct Compiled {
    pub imported: Graph,
    pub optimized: Graph,
    pub lowered: Lowered,
    pub blob: Vec<u8>,
}

impl Compiled {
    pub fn program(&self) -> &Program {
        &self.lowered.program
    }
}

/// Compiles an ONNX file.
pub fn compile_path(path: &Path, opts: &CompileOptions) -> Result<Compiled, CompileError> {
    let g = import::import_path(path, &opts.import)?;
    compile_graph(g, opts, |_, _| {})
}

/// Compiles ONNX bytes (external data, if any, is looked up under `model_dir`).
pub fn compile_bytes(bytes: &[u8], model_dir: Option<&Path>, opts: &CompileOptions) -> Result<Compiled, CompileError> {
    let g = import::import_bytes(bytes, model_dir, &opts.import)?;
    compile_graph(g, opts, |_, _| {})
}

/// Compiles an imported graph; `after_pass` sees the graph after each named pass (for `--dump-after`).
pub fn compile_graph(g: Graph, opts: &CompileOptions, after_pass: impl FnMut(&str, &Graph)) -> Result<Compiled, CompileError> {
    let optimized = if opts.no_passes { g.clone() } else { passes::run_pipeline(&g, after_pass)? };
    let summary = format!(
        "--target {} --precision {}{}",
        opts.target.name,
        match opts.precision {
            Precision::Fp32 => "fp32",
        },
        if opts.no_passes { " --no-passes" } else { "" }
    );
    let lowered = lower::lower(&optimized, &opts.target, &LowerOptions { summary })?;
    let blob = blob::encode(&lowered.program)?;
    Ok(Compiled { imported: g, optimized, lowered, blob })
}
