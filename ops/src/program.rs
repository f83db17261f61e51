//! A compiled program: what the compiler emits and the runtime loads. The blob container is its file form.
use crate::command::Queue;
use crate::kernel::{BufKind, Buffer, Kernel};
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
    pub body: HostBody,
    pub inputs: Vec<DramTensor>,
    pub output: DramTensor,
}

/// What a host kernel computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum HostBody {
    /// Portable kernel IR (`crate::kernel`), never machine code: the runtime verifies it at load and compiles
    /// it to native code (or interprets it, as a debug switch). Its `Input` buffers are the call's inputs in
    /// order and its one `Output` buffer the call's output (`check_kernel_args`).
    Kernel(Kernel),
    /// Operator form, for operators that have no kernel-IR lowering yet: the runtime evaluates it with the
    /// reference semantics (`Op::eval`). Printers mark it, so that what still falls back stays visible.
    OpFallback(Op),
}

impl HostKernel {
    /// An operator-form kernel (`HostBody::OpFallback`).
    pub fn fallback(op: Op, inputs: Vec<DramTensor>, output: DramTensor) -> HostKernel {
        HostKernel { body: HostBody::OpFallback(op), inputs, output }
    }

    /// What the kernel computes, for printers and errors: the kernel's name (`sigmoid+mul`, fused kernels
    /// join their parts with `+`) or the operator's kind.
    pub fn what(&self) -> &str {
        match &self.body {
            HostBody::Kernel(k) => &k.name,
            HostBody::OpFallback(op) => op.kind(),
        }
    }

    /// Whether the kernel is in operator form.
    pub fn is_fallback(&self) -> bool {
        matches!(self.body, HostBody::OpFallback(_))
    }
}

/// Checks that `kernel`'s argument buffers are a call's DRAM tensors: one `Input` buffer per input, in order,
/// of the same dtype and element count, then one `Output` buffer for the output (so their byte sizes agree).
pub fn check_kernel_args(kernel: &Kernel, inputs: &[&TensorType], output: &TensorType) -> Result<(), String> {
    let args: Vec<&Buffer> = kernel.args().map(|(_, b)| b).collect();
    if args.len() != inputs.len() + 1 {
        return Err(format!(
            "kernel {} has {} argument buffers, the call passes {} inputs and an output",
            kernel.name,
            args.len(),
            inputs.len()
        ));
    }
    let want = inputs.iter().map(|&t| (BufKind::Input, t)).chain([(BufKind::Output, output)]);
    for (i, (buf, (kind, t))) in args.iter().zip(want).enumerate() {
        let role = if kind == BufKind::Input { format!("input {i}") } else { "output".to_string() };
        let numel = t.shape.checked_numel().map_err(|e| format!("{role}: {e}"))? as u64;
        if buf.kind != kind || buf.dtype != t.dtype || buf.len != numel {
            return Err(format!(
                "kernel {} argument {i} is {:?} {}[{}], but the call's {role} is {t}",
                kernel.name, buf.kind, buf.dtype, buf.len
            ));
        }
    }
    Ok(())
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
    /// Pipeline stages (`--objective throughput`), in order; empty for a batch-1 latency program.
    pub stages: Vec<crate::pipeline::Stage>,
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
    /// Per layer, the multiply-accumulates its operators need: without the halo rows a fused chain recomputes
    /// or the tiles' padding, so reports measure utilization and the roofline against the model's work, not
    /// against what the schedule chose to compute. Empty when unknown (blobs before format 5.2).
    pub layer_macs: Vec<u64>,
}

/// `DebugInfo` as blobs before format 5.2 store it (no `layer_macs`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DebugInfoV51 {
    pub layers: Vec<String>,
    pub command_layer: Vec<Vec<u32>>,
    pub dram_buffers: Vec<NamedRegion>,
}

impl From<DebugInfoV51> for DebugInfo {
    fn from(d: DebugInfoV51) -> Self {
        DebugInfo { layers: d.layers, command_layer: d.command_layer, dram_buffers: d.dram_buffers, layer_macs: vec![] }
    }
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
