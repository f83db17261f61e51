//! Bias correction of int8 layers: rounding the weights to int8 shifts each output channel's mean by
//! `sum(dw * E[x])`, which averaging layers (global pooling before a classifier) do not remove and which
//! accumulates through a deep network. Each int8 layer is run alone on the calibration samples
//! (`layers::each_alone`); the mean of its output error per channel, over the positions where the f32 output
//! is inside the fused activation's open range and the int8 output is not saturated, is subtracted from the
//! layer's f32 bias before it is quantized.
use super::layers::{each_alone, int8_layers};
use super::rewrite::Fmt;
use crate::ir::{Graph, IrError};
use accel_ops::op::{Op, UnaryOp};
use accel_ops::Tensor;
use std::collections::BTreeMap;

/// The open interval a fused activation's output is linear in (outside it the error is the clamp's).
fn linear_range(op: &Op) -> (f32, f32) {
    let act = match op {
        Op::Conv(c) => c.act,
        Op::Gemm(g) => g.act,
        _ => None,
    };
    match act {
        Some(UnaryOp::Relu) => (0.0, f32::INFINITY),
        Some(UnaryOp::Clip { min, max }) => (min, max),
        // An int8 lookup table's function (SiLU, Sigmoid, ...) is not linear: its error is not the bias's.
        Some(a) if a.apply_f64(0.0).is_some() => (0.0, 0.0),
        _ => (f32::NEG_INFINITY, f32::INFINITY),
    }
}

/// How one layer's output splits into channels, and where its error is the bias's to fix.
#[derive(Clone, Copy)]
struct Shape {
    channels: usize,
    /// Consecutive elements per channel (the spatial size of a convolution; 1 for `[.., N]` outputs).
    inner: usize,
    /// The open range where the fused activation is the identity.
    linear: (f32, f32),
    /// The dequantized int8 limits (outputs there are clipped, not biased).
    saturated: (f32, f32),
}

/// Per int8 layer of `dst` (by node name): the f32 amount to add to each output channel's bias.
pub fn corrections(
    src: &Graph,
    dst: &Graph,
    fmts: &[Fmt],
    samples: &[Vec<Tensor>],
) -> Result<BTreeMap<String, Vec<f32>>, IrError> {
    let layers = int8_layers(src, dst, fmts);
    let shapes: Vec<Shape> = layers
        .iter()
        .map(|l| {
            let d = dst.ty(l.dst.output).shape.dims().to_vec();
            let (channels, inner) = match l.src.op {
                Op::Conv(_) => (d.get(1).copied().unwrap_or(1), d.get(2..).map_or(1, |r| r.iter().product())),
                _ => (d.last().copied().unwrap_or(1), 1),
            };
            let saturated = match fmts[l.dst.output.0 as usize] {
                Fmt::I8 { scale, zero } => (scale * (-128 - zero) as f32, scale * (127 - zero) as f32),
                _ => (f32::NEG_INFINITY, f32::INFINITY),
            };
            Shape { channels: channels.max(1), inner: inner.max(1), linear: linear_range(&l.src.op), saturated }
        })
        .collect();
    let mut sums: Vec<Vec<(f64, u64)>> = shapes.iter().map(|s| vec![(0.0, 0); s.channels]).collect();
    each_alone(src, dst, fmts, &layers, samples, |k, got, want| {
        let Shape { channels: c, inner, linear: (lo, hi), saturated: (qlo, qhi) } = shapes[k];
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            if w > lo && w < hi && g > qlo && g < qhi {
                let s = &mut sums[k][(i / inner) % c];
                s.0 += (g - w) as f64;
                s.1 += 1;
            }
        }
    })?;
    Ok(layers
        .iter()
        .zip(&sums)
        .map(|(l, s)| {
            let fix = s.iter().map(|&(e, n)| if n > 0 { -(e / n as f64) as f32 } else { 0.0 }).collect();
            (l.dst.name.clone(), fix)
        })
        .collect())
}
