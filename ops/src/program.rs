//! A compiled program: what the compiler emits and the runtime loads. The blob container is its file form.
use crate::command::Queue;
use crate::op::Op;
use crate::tensor::TensorType;
use serde::{Deserialize, Serialize};

/// A named model input or output and where it lives in DRAM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IoDesc {
    pub name: String,
    pub ty: TensorType,
    pub dram: u64,
}

/// A tensor in DRAM, for host kernels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DramTensor {
    pub dram: u64,
    pub ty: TensorType,
}

/// An operator the tiles do not run, executed on the host between tile commands by `host.call`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostKernel {
    pub op: Op,
    pub inputs: Vec<DramTensor>,
    pub output: DramTensor,
}

/// Everything the runtime needs to know besides the commands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The target the program was scheduled for (its fingerprint is in the blob header).
    pub target: crate::target::Target,
    pub compiler_version: String,
    pub target_name: String,
    /// Options the blob was compiled with, for reports (`--precision fp32` ...).
    pub options: String,
    pub inputs: Vec<IoDesc>,
    pub outputs: Vec<IoDesc>,
    /// Bytes of DRAM the program uses: constants at 0, then activations.
    pub dram_bytes: u64,
    /// Number of semaphores the sync commands use.
    pub semaphores: u32,
}

/// Maps commands back to the ONNX nodes they came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DebugInfo {
    /// Layer names (ONNX node names, fused ones joined with `+`).
    pub layers: Vec<String>,
    /// Per queue, per command: index into `layers`.
    pub command_layer: Vec<Vec<u32>>,
    /// Named DRAM regions (constants, activations, inputs, outputs), so printers can name addresses.
    pub dram_buffers: Vec<NamedRegion>,
}

/// A named byte range of DRAM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedRegion {
    pub name: String,
    pub start: u64,
    pub len: u64,
}

/// A whole compiled program.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub meta: Meta,
    pub queues: Vec<Queue>,
    /// Raw constant bytes, loaded at DRAM address 0.
    pub constants: Vec<u8>,
    pub kernels: Vec<HostKernel>,
    pub debug: DebugInfo,
}
