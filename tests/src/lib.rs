//! Shared helpers of the cross-crate tests: compile with the real driver, run on the simulator, run tract as
//! the independent reference, and compare with one tolerance rule; edit and re-seal blob bytes (`blob_edit`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod blob_edit;
pub mod conformance;
pub mod harness;
pub mod onnx_model;
pub mod yolo_blocks;
