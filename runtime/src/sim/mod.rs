//! The accelerator simulator: memories (`memory`), the deterministic event-driven timing (`exec`, with
//! the shared DRAM channel, interconnect links and stall causes in `timing`), and the
//! functional model that computes the data (`functional`: ordering and parallel batches of tile commands;
//! `apply`: one command's effect on SRAM and DRAM, with a DMA copy's runs walked in `dma`; `lazy`: loads of immutable DRAM left pending until
//! something other than a MAC or vector command touches them; `scratch`: the MAC commands' per-tile buffers and
//! packed INT8 weights, kept across commands and runs; the f32 kernels in `conv` (`implicit`: its im2col-free GEMM operand; `depthwise_f32`: its depthwise loop on
//! the same phase planes), `matmul`,
//! `vector`, `pool_f32` and `pool_i8`; the checked sgemm wrapper, CPU-feature dispatch and VNNI microkernel in `gemm`). `int8` and
//! `bf16` hold the standalone INT8 and BF16 GEMM/convolution kernels with their references (`depthwise_i8`:
//! INT8's depthwise loop; `phase_i8`: the INT8 GEMM's operand on the same phase planes; `requant`: the INT8
//! requantization of a command's accumulators). It runs only
//! `VerifiedProgram`s and never decides what is valid.
mod apply;
pub mod bf16;
mod conv;
mod depthwise_f32;
mod depthwise_i8;
mod dma;
mod exec;
mod functional;
mod gemm;
mod gemm_i8;
mod host_call;
mod implicit;
pub mod int8;
mod lanes;
mod lazy;
mod matmul;
mod memory;
mod packed;
mod phase_i8;
mod planes;
mod pool_f32;
mod pool_i8;
mod precision;
mod requant;
mod scratch;
mod timing;
mod vector;

#[cfg(test)]
mod kernel_tests;
#[cfg(test)]
mod lazy_tests;
#[cfg(test)]
mod tests;

pub use accel_ops::cost::host_estimate_cycles;
pub use conv::{conv_f32, ConvGeom};
pub use exec::{run, CommandRecord, ExecOptions, Progress, Trace};
pub use gemm::{isa, Isa};
pub use matmul::{matmul_f32, MatMulGeom};
pub use memory::Machine;
pub use pool_f32::{pool_f32, PoolGeom};
pub use timing::{Resource, ResourceUse};
pub use vector::{affine_f32, binary_f32, unary_f32};
