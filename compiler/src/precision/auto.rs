//! `--precision auto`: which int8-capable layers stay int8 under an accuracy budget (a least output SQNR
//! against f32). Each layer's own quantization noise is measured in isolation (the int8 layer run on the f32
//! reference input, quantized with its parameters, against the f32 output); `precision::apply` then demotes
//! the noisiest layers to bf16, as few as the measured output SQNR of the whole model allows.
use super::rewrite::Fmt;
use crate::ir::{evaluate_observed, Graph, IrError, ValueId};
use accel_ops::numerics::convert::{convert_tensor, ConvertParams};
use accel_ops::{DType, Tensor};
use std::collections::BTreeMap;

/// Noise-to-signal ratio (linear) of every int8 MAC layer of `dst` alone, by node name.
pub fn local_noise(
    src: &Graph,
    dst: &Graph,
    fmts: &[Fmt],
    samples: &[Vec<Tensor>],
) -> Result<BTreeMap<String, f64>, IrError> {
    let src_nodes: BTreeMap<&str, usize> = src.nodes.iter().enumerate().map(|(i, n)| (n.name.as_str(), i)).collect();
    // (dst node, src node) of each int8 layer, and the source values they need.
    let layers: Vec<(usize, usize)> = dst
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| {
            dst.ty(n.output).dtype == DType::I8 && matches!(fmts.get(n.output.0 as usize), Some(Fmt::I8 { .. }))
        })
        .filter_map(|(d, n)| src_nodes.get(n.name.as_str()).map(|&s| (d, s)))
        .filter(|&(_, s)| !matches!(src.nodes[s].op, accel_ops::op::Op::Quant(_)))
        .collect();
    let mut needed: BTreeMap<ValueId, ()> = BTreeMap::new();
    for &(_, s) in &layers {
        let n = &src.nodes[s];
        needed.insert(n.output, ());
        needed.insert(n.inputs[0], ());
        if let Some(&r) = residual_of(src, s) {
            needed.insert(r, ());
        }
    }
    let (mut signal, mut noise) = (vec![0f64; layers.len()], vec![0f64; layers.len()]);
    for sample in samples {
        let mut vals: BTreeMap<ValueId, Tensor> = BTreeMap::new();
        for (&i, t) in src.inputs.iter().zip(sample) {
            vals.insert(i, t.clone());
        }
        evaluate_observed(src, sample, |v, t| {
            if needed.contains_key(&v) {
                vals.insert(v, t.clone());
            }
        })?;
        for (k, &(d, s)) in layers.iter().enumerate() {
            let (dn, sn) = (&dst.nodes[d], &src.nodes[s]);
            let fail = |why: String| IrError::Invalid { node: dn.name.clone(), why };
            let quantized = |src_v: ValueId, dst_v: ValueId| -> Result<Tensor, IrError> {
                let Some(Fmt::I8 { scale, zero }) = fmts.get(dst_v.0 as usize) else {
                    return Err(fail("input is not int8".into()));
                };
                let t = vals.get(&src_v).ok_or_else(|| fail("reference value missing".into()))?;
                convert_tensor(t, DType::I8, Some(ConvertParams { scale: *scale, zero: *zero }))
                    .map_err(|e| fail(e.to_string()))
            };
            let mut args: Vec<Tensor> = Vec::with_capacity(dn.inputs.len());
            for (i, &dv) in dn.inputs.iter().enumerate() {
                let t = match (i, dst.constant(dv)) {
                    (_, Some(c)) => c.clone(),
                    (0, None) => quantized(sn.inputs[0], dv)?,
                    (_, None) => quantized(*residual_of(src, s).ok_or_else(|| fail("residual missing".into()))?, dv)?,
                };
                args.push(t);
            }
            let refs: Vec<&Tensor> = args.iter().collect();
            let y = dn.op.eval(&refs).map_err(|e| fail(e.to_string()))?;
            let got = fmts[dn.output.0 as usize].to_f32(&y);
            let want = vals.get(&sn.output).ok_or_else(|| fail("reference output missing".into()))?.to_f32_vec();
            for (g, w) in got.iter().zip(&want) {
                signal[k] += (*w as f64).powi(2);
                noise[k] += (*g as f64 - *w as f64).powi(2);
            }
        }
    }
    Ok(layers
        .iter()
        .enumerate()
        .map(|(k, &(d, _))| (dst.nodes[d].name.clone(), if signal[k] > 0.0 { noise[k] / signal[k] } else { 0.0 }))
        .collect())
}

/// The residual operand of source node `s` (a fused add into a convolution).
fn residual_of(src: &Graph, s: usize) -> Option<&ValueId> {
    match &src.nodes[s].op {
        accel_ops::op::Op::Conv(_) => src.nodes[s].inputs.get(3),
        _ => None,
    }
}

/// Layers to demote first: by local noise, noisiest first (ties by name, for determinism).
pub fn demotion_order(noise: &BTreeMap<String, f64>) -> Vec<String> {
    let mut v: Vec<(&String, f64)> = noise.iter().map(|(k, &n)| (k, n)).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    v.into_iter().map(|(k, _)| k.clone()).collect()
}
