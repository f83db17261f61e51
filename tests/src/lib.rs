//! Shared helpers of the cross-crate tests: compile with the real driver, run on the simulator, run tract as
//! the independent reference, and compare with one tolerance rule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod harness;
