//! accel's ahead-of-time compiler: ONNX import -> graph passes -> schedule -> lower -> blob.
//! tract is named only in `import`; the runtime is used only to run compiled programs (calibration, demo).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod demo;
pub mod driver;
pub mod import;
pub mod ir;
pub mod lower;
pub mod passes;
pub mod precision;
pub mod predict;
pub mod rewrite;
