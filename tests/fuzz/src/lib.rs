//! Shared code of the fuzz targets: running a loaded session under resource caps (`run`), and structured
//! programs (`gen`) and host kernels (`kernel_gen`) from fuzzer bytes. Mutated blobs are re-sealed with
//! `accel_tests::blob_edit`, shared with the hostile-blob tests.
//! The oracles live here too, so every target checks the same properties:
//! - nothing panics (libFuzzer reports a panic as a crash);
//! - a program the verifier accepts never makes the simulator go out of bounds (`ExecError::Command`) or
//!   deadlock (`ExecError::Deadlock`): either would be a verifier bug (BAD-INPUT class 17).
pub mod gen;
pub mod kernel_gen;
pub mod run;
