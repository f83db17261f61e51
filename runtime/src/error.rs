//! The runtime's error types at its library boundary: loading, input checking, execution. Messages are
//! lowercase and say what and where (queue and command index, input name, byte offset).
use crate::verify::VerifyError;
use accel_ops::blob::BlobError;
use accel_ops::command::QueueId;
use accel_ops::TensorType;
use std::path::PathBuf;
use thiserror::Error;

/// A failure while executing a verified program.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ExecError {
    #[error("cannot allocate {bytes} bytes of {what}")]
    Alloc { what: &'static str, bytes: u64 },
    #[error("{queue} #{index}: {mnemonic}: {why}")]
    Command { queue: QueueId, index: usize, mnemonic: &'static str, why: String },
    #[error("{queue} #{index}: host kernel {kernel} ({op}) failed: {why}")]
    HostKernel { queue: QueueId, index: usize, kernel: u32, op: String, why: String },
    #[error("deadlock: {}", show_blocked(.blocked))]
    Deadlock { blocked: Vec<(QueueId, usize)> },
    #[error("step budget of {budget} commands exhausted at cycle {cycle}")]
    StepBudget { budget: u64, cycle: u64 },
    #[error("tile {tile}: copying pending loads into SRAM at the end of the run: {why}")]
    Settle { tile: usize, why: String },
}

fn show_blocked(blocked: &[(QueueId, usize)]) -> String {
    let parts: Vec<String> = blocked.iter().map(|(q, i)| format!("{q} blocked at #{i}")).collect();
    parts.join(", ")
}

/// Any failure of the runtime's library API.
#[derive(Debug, Error)]
pub enum RuntimeError {
    // The I/O error is part of the message, not a `source`: printed as a chain it would appear twice.
    #[error("cannot read {}: {error}", path.display())]
    Read { path: PathBuf, error: std::io::Error },
    #[error("invalid blob: {0}")]
    Blob(#[from] BlobError),
    #[error("program rejected by the verifier: {0}")]
    Verify(#[from] VerifyError),
    #[error("input `{name}` is missing (the model's inputs: {expected})")]
    MissingInput { name: String, expected: String },
    #[error("unknown input `{name}` (the model's inputs: {expected})")]
    UnknownInput { name: String, expected: String },
    #[error("input `{name}` is given more than once")]
    DuplicateInput { name: String },
    #[error("input `{name}`: the model expects {expected}, got {got}")]
    InputType { name: String, expected: TensorType, got: TensorType },
    #[error("execution failed: {0}")]
    Exec(#[from] ExecError),
    #[error("host kernels: {0}")]
    Host(#[from] crate::host::HostError),
    #[error("host backend: {0}")]
    HostBackend(String),
    #[error("output `{name}`: {why}")]
    Output { name: String, why: String },
    #[error("stream: {0}")]
    Stream(String),
}
