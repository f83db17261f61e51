//! Lowerings from `Op` to kernels: each operator's reference semantics written once more as a loop nest, in the
//! same operation order as `ops::op` wherever the IR allows it (so results match exactly, or within the
//! reassociation of a 4-lane reduction and the tolerance of `math`). Argument order: the op's inputs, then the
//! output. Shared here: the loop-nest builder that coalesces axes and the broadcasting strides.
use super::build::Builder;
use super::{BufId, Kernel, KernelError, ValueId};
use crate::op::Op;
use crate::tensor::TensorType;

mod elementwise;
mod host_only;
mod layout;
mod nn;
mod norm;
mod reduce;

pub(crate) use elementwise::unary_value;

/// The kernel computing `op` on inputs of `inputs` types, producing `output`.
pub fn from_op(op: &Op, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let inferred = op.infer(inputs)?;
    if &inferred != output {
        return Err(unsupported(op, format!("output type {output} differs from the inferred {inferred}")));
    }
    for t in inputs.iter().chain([output]) {
        // Byte sizes must exist; the verifier applies the policy caps.
        t.checked_bytes()?;
        if t.dtype.value_type_checked().is_none() {
            return Err(unsupported(op, format!("{} is not a kernel-IR type", t.dtype)));
        }
    }
    let all_f32 = inputs.iter().chain([output]).all(|t| t.dtype == crate::DType::F32);
    if matches!(op, Op::Conv(_) | Op::Gemm(_) | Op::MatMul(_)) && !all_f32 {
        // BF16/INT8 MAC-array numerics (`crate::numerics`) are the tiles' business.
        return Err(unsupported(op, "host kernels compute convolutions and matrix products in f32 only"));
    }
    match op {
        Op::Unary(u) => elementwise::unary(u, inputs, output),
        Op::Binary(b) => elementwise::binary(b, inputs, output),
        Op::BatchNorm(bn) => elementwise::batch_norm(bn, inputs, output),
        Op::Cast(c) => elementwise::cast(c, inputs, output),
        Op::Reshape(_) => layout::reshape(inputs, output),
        Op::Transpose(t) => layout::transpose(t, inputs, output),
        Op::Concat(c) => layout::concat(c, inputs, output),
        Op::Slice(s) => layout::slice(s, inputs, output),
        Op::Pad(p) => layout::pad(p, inputs, output),
        Op::Gather(g) => layout::gather(g, inputs, output),
        Op::Softmax(s) => reduce::softmax(s, inputs, output),
        Op::Reduce(r) => reduce::reduce(r, inputs, output),
        Op::MatMul(_) => nn::matmul(inputs, output),
        Op::Gemm(g) => nn::gemm(g, inputs, output),
        Op::Pool(p) => nn::pool(p, inputs, output),
        Op::Lrn(l) => nn::lrn(l, inputs, output),
        Op::LayerNorm(l) => norm::layer_norm(l, inputs, output),
        Op::Conv(c) => nn::conv(c, inputs, output),
        Op::Resize(r) => nn::resize(r, inputs, output),
        // Int8 boundaries run on the tiles (`vec.convert`), never as host kernels.
        Op::Quant(_) => Err(unsupported(op, "quantization runs on the tiles (vec.convert)")),
        // Chains are formed from tile nodes only (the compiler fuses host elementwise kernels its own way).
        Op::Elementwise(_) => Err(unsupported(op, "elementwise chains run on the tiles")),
        // The elementwise ones lower; the rest stay in operator form (`HostBody::OpFallback`).
        Op::HostOnly(h) => host_only::host_only(h, inputs, output),
    }
}

pub(super) fn unsupported(op: &Op, why: impl Into<String>) -> KernelError {
    KernelError::Unsupported { op: op.kind().to_string(), why: why.into() }
}

/// Row-major strides in elements.
pub(super) fn row_major(dims: &[usize]) -> Vec<i64> {
    let mut s = vec![1i64; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1] as i64;
    }
    s
}

/// Strides of an operand of dims `src` broadcast (numpy rules, right-aligned) to `out` dims: 0 on broadcast axes.
pub(super) fn broadcast_strides(out: &[usize], src: &[usize]) -> Vec<i64> {
    let own = row_major(src);
    let lead = out.len() - src.len().min(out.len());
    (0..out.len())
        .map(|a| match a.checked_sub(lead) {
            Some(i) if src[i] != 1 => own[i],
            _ => 0,
        })
        .collect()
}

/// An open loop nest: the index of every operand in the innermost body.
pub(super) struct Nest {
    depth: usize,
    pub index: Vec<ValueId>,
}

/// Opens loops over `extents` and computes each operand's index `offset + sum(stride * var)`. Axes of extent 1
/// are dropped and adjacent axes along which every operand is contiguous are merged, so that inner loops are
/// long and unit-stride. Returns `None` (and opens nothing) if the nest is empty.
pub(super) fn open_nest(b: &mut Builder, extents: &[usize], strides: &[Vec<i64>], offsets: &[i64]) -> Option<Nest> {
    if extents.contains(&0) {
        return None;
    }
    let mut axes: Vec<(usize, Vec<i64>)> = Vec::new();
    for (a, &e) in extents.iter().enumerate() {
        if e == 1 {
            continue;
        }
        let s: Vec<i64> = strides.iter().map(|st| st[a]).collect();
        if let Some((pe, ps)) = axes.last_mut() {
            if ps.iter().zip(&s).all(|(&outer, &inner)| outer == inner * e as i64) {
                *pe *= e;
                *ps = s;
                continue;
            }
        }
        axes.push((e, s));
    }
    let vars: Vec<ValueId> = axes.iter().map(|(e, _)| b.loop_(*e)).collect();
    let index = (0..strides.len())
        .map(|k| {
            let terms: Vec<(ValueId, i64)> = vars.iter().zip(&axes).map(|(&v, (_, s))| (v, s[k])).collect();
            b.affine(&terms, offsets[k])
        })
        .collect();
    Some(Nest { depth: vars.len(), index })
}

pub(super) fn close_nest(b: &mut Builder, nest: Nest) {
    for _ in 0..nest.depth {
        b.end();
    }
}

/// A loop over `0..extent`, or the constant 0 when `extent == 1` (no loop). Pair with `close`.
pub(super) fn loop_or_zero(b: &mut Builder, extent: usize) -> (ValueId, bool) {
    if extent == 1 {
        (b.i64(0), false)
    } else {
        (b.loop_(extent), true)
    }
}

pub(super) fn close(b: &mut Builder, opened: bool) {
    if opened {
        b.end();
    }
}

/// Declares the op's inputs, in order, then its output.
pub(super) fn declare(b: &mut Builder, inputs: &[TensorType], output: &TensorType) -> (Vec<BufId>, BufId) {
    let ins = inputs.iter().map(|t| b.input(t.dtype, t.shape.numel())).collect();
    let out = b.output(output.dtype, output.shape.numel());
    (ins, out)
}
