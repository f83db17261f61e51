//! The operator set: a closed enum, one file per operator holding its attributes, shape inference and
//! reference semantics. Reference semantics are plain loops, written to be obviously right: they are the
//! numerical oracle that the simulator's fast kernels and the host JIT are tested against.
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use serde::{Deserialize, Serialize};

pub mod arg_reduce;
pub mod arith;
pub mod batchnorm;
pub mod binary;
pub mod cast;
pub mod compare;
pub mod concat;
pub mod conv;
pub mod conv_transpose;
pub mod cumsum;
pub mod elementwise;
pub mod expand;
pub mod gather;
pub mod gather_elements;
pub mod gather_nd;
pub mod gemm;
pub mod grid_sample;
pub mod hardmax;
pub mod host_only;
pub mod layernorm;
pub mod logic;
pub mod lrn;
pub mod math_fn;
pub mod matmul;
pub mod pad;
pub mod pool;
pub mod pool_nd;
pub mod quant;
pub mod recurrent;
pub mod reduce;
pub mod reshape;
pub mod resize;
pub(crate) mod resize_taps;
pub mod scatter;
pub mod select;
pub mod slice;
pub mod softmax;
pub mod take;
pub mod top_k;
pub mod transpose;
pub mod trilu;
pub mod unary;
pub(crate) mod util;
pub mod values;

pub use batchnorm::BatchNorm;
pub use binary::{Binary, BinaryOp};
pub use cast::Cast;
pub use concat::Concat;
pub use conv::Conv;
pub use elementwise::{Elementwise, Step};
pub use gather::Gather;
pub use gemm::Gemm;
pub use host_only::HostOnly;
pub use layernorm::LayerNorm;
pub use lrn::Lrn;
pub use matmul::MatMul;
pub use pad::Pad;
pub use pool::{Pool, PoolKind};
pub use quant::Quant;
pub use reduce::{Reduce, ReduceKind};
pub use reshape::Reshape;
pub use resize::{CoordMode, NearestRounding, Resize, ResizeMode};
pub use slice::Slice;
pub use softmax::Softmax;
pub use transpose::Transpose;
pub use unary::{Unary, UnaryOp};

/// Every operator accel knows. Adding a variant makes the compiler list every `match` to extend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    Conv(Conv),
    Gemm(Gemm),
    MatMul(MatMul),
    Unary(Unary),
    Binary(Binary),
    BatchNorm(BatchNorm),
    Pool(Pool),
    Softmax(Softmax),
    Reshape(Reshape),
    Transpose(Transpose),
    Concat(Concat),
    Slice(Slice),
    Pad(Pad),
    Resize(Resize),
    Reduce(Reduce),
    Lrn(Lrn),
    Gather(Gather),
    Cast(Cast),
    /// Quantize to / dequantize from int8 (per tensor): the boundaries of INT8 regions.
    Quant(Quant),
    /// An elementwise chain fused by the compiler (one vector operation, no intermediates in DRAM).
    Elementwise(Elementwise),
    /// Layer normalization over the trailing axes (imported, or recognized by the e-graph).
    LayerNorm(LayerNorm),
    /// Operators with no tile form (integer, boolean, index-valued, rare math), run on the host.
    HostOnly(HostOnly),
}

impl Op {
    /// The kebab-case name used in printers, reports and the target's list of tile operators.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Conv(_) => "conv",
            Op::Gemm(_) => "gemm",
            Op::MatMul(_) => "matmul",
            Op::Unary(u) => u.op.name(),
            Op::Binary(b) => b.op.name(),
            Op::BatchNorm(_) => "batch-norm",
            Op::Pool(p) => p.kind.name(),
            Op::Softmax(_) => "softmax",
            Op::Reshape(_) => "reshape",
            Op::Transpose(_) => "transpose",
            Op::Concat(_) => "concat",
            Op::Slice(_) => "slice",
            Op::Pad(_) => "pad",
            Op::Resize(_) => "resize",
            Op::Reduce(r) => r.kind.name(),
            Op::Lrn(_) => "lrn",
            Op::Gather(_) => "gather",
            Op::Cast(_) => "cast",
            Op::Quant(q) => q.name(),
            Op::Elementwise(_) => "elementwise",
            Op::HostOnly(h) => h.name(),
            Op::LayerNorm(_) => "layer-norm",
        }
    }

    /// The output type for the given input types, or why they are not acceptable.
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        // Conv/Gemm/MatMul on BF16 or INT8 operands follow `crate::numerics`.
        if let Some(r) = crate::numerics::infer(self, inputs) {
            return r;
        }
        match self {
            Op::Conv(o) => o.infer(inputs),
            Op::Gemm(o) => o.infer(inputs),
            Op::MatMul(o) => o.infer(inputs),
            Op::Unary(o) => o.infer(inputs),
            Op::Binary(o) => o.infer(inputs),
            Op::BatchNorm(o) => o.infer(inputs),
            Op::Pool(o) => o.infer(inputs),
            Op::Softmax(o) => o.infer(inputs),
            Op::Reshape(o) => o.infer(inputs),
            Op::Transpose(o) => o.infer(inputs),
            Op::Concat(o) => o.infer(inputs),
            Op::Slice(o) => o.infer(inputs),
            Op::Pad(o) => o.infer(inputs),
            Op::Resize(o) => o.infer(inputs),
            Op::Reduce(o) => o.infer(inputs),
            Op::Lrn(o) => o.infer(inputs),
            Op::Gather(o) => o.infer(inputs),
            Op::Cast(o) => o.infer(inputs),
            Op::Quant(o) => o.infer(inputs),
            Op::Elementwise(o) => o.infer(inputs),
            Op::HostOnly(o) => o.infer(inputs),
            Op::LayerNorm(o) => o.infer(inputs),
        }
    }

    /// Reference semantics: the output for the given inputs. Types are checked first.
    pub fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor, OpError> {
        let types: Vec<TensorType> = inputs.iter().map(|t| t.ty()).collect();
        let out = self.infer(&types)?;
        if let Some(r) = crate::numerics::eval(self, inputs, &out) {
            return r;
        }
        match self {
            Op::Conv(o) => o.eval(inputs, &out),
            Op::Gemm(o) => o.eval(inputs, &out),
            Op::MatMul(o) => o.eval(inputs, &out),
            Op::Unary(o) => o.eval(inputs, &out),
            Op::Binary(o) => o.eval(inputs, &out),
            Op::BatchNorm(o) => o.eval(inputs, &out),
            Op::Pool(o) => o.eval(inputs, &out),
            Op::Softmax(o) => o.eval(inputs, &out),
            Op::Reshape(o) => o.eval(inputs, &out),
            Op::Transpose(o) => o.eval(inputs, &out),
            Op::Concat(o) => o.eval(inputs, &out),
            Op::Slice(o) => o.eval(inputs, &out),
            Op::Pad(o) => o.eval(inputs, &out),
            Op::Resize(o) => o.eval(inputs, &out),
            Op::Reduce(o) => o.eval(inputs, &out),
            Op::Lrn(o) => o.eval(inputs, &out),
            Op::Gather(o) => o.eval(inputs, &out),
            Op::Cast(o) => o.eval(inputs, &out),
            Op::Quant(o) => o.eval(inputs, &out),
            Op::Elementwise(o) => o.eval(inputs, &out),
            Op::HostOnly(o) => o.eval(inputs, &out),
            Op::LayerNorm(o) => o.eval(inputs, &out),
        }
    }

    /// Multiply-accumulates of one evaluation (0 for ops without a MAC-array mapping).
    pub fn macs(&self, inputs: &[TensorType], output: &TensorType) -> u64 {
        match self {
            Op::Conv(o) => o.macs(inputs, output),
            Op::Gemm(o) => o.macs(inputs, output),
            Op::MatMul(o) => o.macs(inputs, output),
            Op::HostOnly(HostOnly::Recurrent(o)) => o.macs(inputs),
            Op::HostOnly(HostOnly::ConvTranspose(o)) => o.macs(inputs),
            Op::HostOnly(HostOnly::GridSample(o)) => o.macs(inputs, output),
            Op::HostOnly(HostOnly::PoolNd(o)) => o.macs(output),
            _ => 0,
        }
    }
}
