//! The shared vocabulary of accel: tensor types, the operator set with its reference semantics, the target
//! description, the command table with its cost function, and the blob container.
//!
//! This crate depends on no compiler framework (no tract, egg or cranelift): both the compiler and the runtime
//! build on it, and it is the numerical oracle for every test.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod blob;
pub mod command;
pub mod cost;
pub mod disasm;
pub mod dtype;
pub mod error;
pub mod kernel;
pub mod noc;
pub mod numerics;
pub mod op;
pub mod pipeline;
pub mod program;
pub mod report;
pub mod shape;
pub mod target;
pub mod tensor;

pub use dtype::DType;
pub use error::OpError;
pub use shape::{Limits, Shape};
pub use tensor::{Tensor, TensorType};
