//! accel's runtime: loads a blob (decode with `accel_ops::blob`, then the semantic verifier in `verify`), runs
//! only verified programs on the deterministic accelerator simulator in `sim`, and reports latency, MAC
//! utilization, DRAM traffic, energy and host time per run and per layer (`report`), as a Chrome trace (`trace`)
//! and for a stream of frames (`stream`). `Session` is the API.
//!
//! The runtime depends on `accel_ops` only: never on the compiler, tract or egg.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod error;
pub mod host;
pub mod npy;
pub mod progress;
pub mod random;
pub mod report;
pub mod session;
pub mod sim;
pub mod stream;
pub mod trace;
pub mod verify;

pub use error::{ExecError, RuntimeError};
pub use report::{LayerReport, RunReport};
pub use session::{RunOutput, Session};
pub use verify::{verify, VerifiedProgram, VerifyError};
