//! `--precision auto`: which int8-capable layers stay int8 under an accuracy budget (a least output SQNR
//! against f32). Each layer's own quantization noise is measured in isolation (the int8 layer run on the f32
//! reference input, quantized with its parameters, against the f32 output: `layers::each_alone`);
//! `precision::apply` then demotes the noisiest layers to bf16, as few as the measured output SQNR of the whole
//! model allows.
use super::layers::{each_alone, int8_layers};
use super::rewrite::Fmt;
use crate::ir::{Graph, IrError};
use accel_ops::Tensor;
use std::collections::BTreeMap;

/// Noise-to-signal ratio (linear) of every int8 MAC layer of `dst` alone, by node name.
pub fn local_noise(
    src: &Graph,
    dst: &Graph,
    fmts: &[Fmt],
    samples: &[Vec<Tensor>],
) -> Result<BTreeMap<String, f64>, IrError> {
    let layers = int8_layers(src, dst, fmts);
    let (mut signal, mut noise) = (vec![0f64; layers.len()], vec![0f64; layers.len()]);
    each_alone(src, dst, fmts, &layers, samples, |k, got, want| {
        for (g, w) in got.iter().zip(want) {
            signal[k] += (*w as f64).powi(2);
            noise[k] += (*g as f64 - *w as f64).powi(2);
        }
    })?;
    Ok(layers
        .iter()
        .enumerate()
        .map(|(k, l)| (l.dst.name.clone(), if signal[k] > 0.0 { noise[k] / signal[k] } else { 0.0 }))
        .collect())
}

/// Layers to demote first: by local noise, noisiest first (ties by name, for determinism).
pub fn demotion_order(noise: &BTreeMap<String, f64>) -> Vec<String> {
    let mut v: Vec<(&String, f64)> = noise.iter().map(|(k, &n)| (k, n)).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    v.into_iter().map(|(k, _)| k.clone()).collect()
}
