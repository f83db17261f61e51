//! The reduced-precision (int8 or bf16) MAC layers of a rewritten graph, each run alone on the f32 reference
//! input of its source layer (quantized with the layer's own parameters, or rounded to bf16), next to the f32
//! reference output: what the auto policy's noise per layer and format (`auto.rs`) and bias correction
//! (`bias.rs`) measure. One pass of the reference interpreter over the
//! source graph per sample; the int8 layers are evaluated one at a time.
use super::rewrite::Fmt;
use crate::ir::{evaluate_observed, Graph, IrError, Node, ValueId};
use accel_ops::numerics::convert::{convert_tensor, ConvertParams};
use accel_ops::op::Op;
use accel_ops::{DType, Tensor};
use std::collections::{BTreeMap, BTreeSet};

/// One int8 layer: its node in the rewritten graph and in the source graph.
pub struct Layer<'g> {
    pub dst: &'g Node,
    pub src: &'g Node,
}

/// The int8 MAC layers of `dst` (by node name in `src`), in `dst` order.
pub fn int8_layers<'g>(src: &'g Graph, dst: &'g Graph, fmts: &[Fmt]) -> Vec<Layer<'g>> {
    reduced_layers(src, dst, fmts, DType::I8)
}

/// The MAC layers of `dst` that compute in `dtype` (int8 or bf16), in `dst` order.
pub fn reduced_layers<'g>(src: &'g Graph, dst: &'g Graph, fmts: &[Fmt], dtype: DType) -> Vec<Layer<'g>> {
    let src_nodes: BTreeMap<&str, &Node> = src.nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    dst.nodes
        .iter()
        .filter(|n| {
            let fmt = fmts.get(n.output.0 as usize);
            dst.ty(n.output).dtype == dtype
                && matches!((dtype, fmt), (DType::I8, Some(Fmt::I8 { .. })) | (DType::BF16, Some(Fmt::Bf16)))
        })
        .filter_map(|n| src_nodes.get(n.name.as_str()).map(|&s| Layer { dst: n, src: s }))
        .filter(|l| matches!(l.src.op, Op::Conv(_) | Op::Gemm(_) | Op::MatMul(_)))
        .collect()
}

/// The residual operand of a source node (a fused add into a convolution).
fn residual_of(n: &Node) -> Option<ValueId> {
    match &n.op {
        Op::Conv(_) => n.inputs.get(3).copied(),
        _ => None,
    }
}

/// Runs every layer of `layers` alone on each sample: `visit(k, got, want)` with layer `k`'s output as f32
/// (int8 dequantized, bf16 widened) and the f32 reference output of its source node.
pub fn each_alone(
    src: &Graph,
    dst: &Graph,
    fmts: &[Fmt],
    layers: &[Layer<'_>],
    samples: &[Vec<Tensor>],
    mut visit: impl FnMut(usize, &[f32], &[f32]),
) -> Result<(), IrError> {
    let mut needed: BTreeSet<ValueId> = BTreeSet::new();
    for l in layers {
        needed.insert(l.src.output);
        needed.insert(l.src.inputs[0]);
        needed.extend(residual_of(l.src));
    }
    for sample in samples {
        let mut vals: BTreeMap<ValueId, Tensor> = BTreeMap::new();
        for (&i, t) in src.inputs.iter().zip(sample) {
            vals.insert(i, t.clone());
        }
        evaluate_observed(src, sample, |v, t| {
            if needed.contains(&v) {
                vals.insert(v, t.clone());
            }
        })?;
        for (k, l) in layers.iter().enumerate() {
            let fail = |why: String| IrError::Invalid { node: l.dst.name.clone(), why };
            let quantized = |src_v: ValueId, dst_v: ValueId| -> Result<Tensor, IrError> {
                let t = vals.get(&src_v).ok_or_else(|| fail("reference value missing".into()))?;
                let converted = match fmts.get(dst_v.0 as usize) {
                    Some(Fmt::I8 { scale, zero }) => {
                        convert_tensor(t, DType::I8, Some(ConvertParams { scale: *scale, zero: *zero }))
                    }
                    Some(Fmt::Bf16) => convert_tensor(t, DType::BF16, None),
                    _ => return Err(fail("input is neither int8 nor bf16".into())),
                };
                converted.map_err(|e| fail(e.to_string()))
            };
            let mut args: Vec<Tensor> = Vec::with_capacity(l.dst.inputs.len());
            for (i, &dv) in l.dst.inputs.iter().enumerate() {
                let t = match (i, dst.constant(dv)) {
                    (_, Some(c)) => c.clone(),
                    (0, None) => quantized(l.src.inputs[0], dv)?,
                    (_, None) => quantized(residual_of(l.src).ok_or_else(|| fail("residual missing".into()))?, dv)?,
                };
                args.push(t);
            }
            let refs: Vec<&Tensor> = args.iter().collect();
            let y = l.dst.op.eval(&refs).map_err(|e| fail(e.to_string()))?;
            let got = fmts[l.dst.output.0 as usize].to_f32(&y);
            let want = vals.get(&l.src.output).ok_or_else(|| fail("reference output missing".into()))?.to_f32_vec();
            visit(k, &got, &want);
        }
    }
    Ok(())
}
