//! The accelerator simulator: memories (`memory`), the data effect of each command (`functional`, with the f32
//! kernels in `conv`, `matmul`, `vector` and the checked sgemm wrapper in `gemm`) and the deterministic
//! event-driven timing (`exec`). It runs only `VerifiedProgram`s and never decides what is valid.
mod conv;
mod exec;
mod functional;
mod gemm;
mod matmul;
mod memory;
mod vector;

#[cfg(test)]
mod tests;

pub use conv::{conv_f32, ConvGeom};
pub use exec::{run, CommandRecord, ExecOptions, Trace};
pub use functional::host_estimate_cycles;
pub use matmul::{matmul_f32, MatMulGeom};
pub use memory::Machine;
pub use vector::{affine_f32, binary_f32, pool_f32, unary_f32, PoolGeom};
