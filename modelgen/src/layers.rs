//! Builder ops that own weights: Conv (+ optionally folded BatchNormalization), Gemm,
//! Linear (MatMul + Add) and the decomposed LayerNorm.

use crate::builder::GraphBuilder;
use crate::init::{self, BnParams, BN_EPS};
use crate::proto::{attr_float, attr_int, attr_ints};
use crate::shape::{fixed_at, show, window_out, Dim, Shape};
use crate::stats::Stats;
use anyhow::{ensure, Result};

/// Convolution hyper-parameters (square kernel, symmetric padding, no dilation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv {
    pub out_ch: usize,
    pub kernel: usize,
    pub stride: usize,
    pub pad: usize,
    pub group: usize,
    pub bias: bool,
}

impl Conv {
    /// `out_ch` filters of `kernel x kernel`, stride 1, "same" padding `kernel / 2`,
    /// one group, no bias.
    pub fn new(out_ch: usize, kernel: usize) -> Conv {
        Conv { out_ch, kernel, stride: 1, pad: kernel / 2, group: 1, bias: false }
    }
    pub fn stride(self, stride: usize) -> Conv {
        Conv { stride, ..self }
    }
    pub fn pad(self, pad: usize) -> Conv {
        Conv { pad, ..self }
    }
    pub fn group(self, group: usize) -> Conv {
        Conv { group, ..self }
    }
    pub fn bias(self, bias: bool) -> Conv {
        Conv { bias, ..self }
    }
}

/// Input channels, output shape and input RMS of a convolution.
struct ConvGeom {
    c_in: usize,
    out_shape: Shape,
    rms_in: f32,
}

impl GraphBuilder {
    /// `Conv` in the current scope with weight `<scope>.weight` (and `<scope>.bias`).
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &mut self,
        x: &str,
        out_ch: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
        group: usize,
        bias: bool,
    ) -> String {
        let spec = Conv { out_ch, kernel, stride, pad, group, bias };
        self.conv_with(x, spec)
    }

    /// `conv` with a `Conv` spec.
    pub fn conv_with(&mut self, x: &str, spec: Conv) -> String {
        self.guard(|b| {
            let g = b.conv_geometry(x, spec)?;
            let (w, bias) = b.draw_conv(&g, spec);
            b.emit_conv(x, spec, &g, &w, bias.as_deref())
        })
    }

    /// Conv (no bias unless `spec.bias`) in scope `conv_scope` followed by a
    /// BatchNormalization in scope `bn_scope`, or, when the builder folds batch norms, a
    /// single Conv with bias computing the same function (the random draws are identical).
    pub fn conv_bn(&mut self, x: &str, conv_scope: &str, bn_scope: &str, spec: Conv) -> String {
        self.guard(|b| {
            let g = b.conv_geometry(x, spec)?;
            let (w, bias) = b.draw_conv(&g, spec);
            let bn = BnParams::random(&mut b.rng, spec.out_ch, Stats::centered(1.0));
            if b.folds_bn() {
                let per_out = g.c_in / spec.group * spec.kernel * spec.kernel;
                let (fw, fb) = init::fold_bn(&w, bias.as_deref(), per_out, &bn);
                let folded = spec.bias(true);
                b.scoped(conv_scope, |b| b.emit_conv(x, folded, &g, &fw, Some(&fb)))
            } else {
                let y = b.scoped(conv_scope, |b| b.emit_conv(x, spec, &g, &w, bias.as_deref()))?;
                b.scoped(bn_scope, |b| b.emit_bn(&y, &bn))
            }
        })
    }

    /// Eval-mode `BatchNormalization` over axis 1 with random but sane parameters
    /// (`<scope>.weight`, `.bias`, `.running_mean`, `.running_var`; var > 0).
    pub fn batch_norm(&mut self, x: &str) -> String {
        self.guard(|b| {
            let v = b.value(x)?;
            let c = fixed_at(&v.shape, 1, "batch_norm")?;
            let stats = v.stats;
            let bn = BnParams::random(&mut b.rng, c, stats);
            b.emit_bn(x, &bn)
        })
    }

    /// `Gemm` with `transB = 1` like a PyTorch `Linear` on a `[N, K]` input
    /// (`<scope>.weight` of shape `[out, K]`, `<scope>.bias`).
    pub fn gemm(&mut self, x: &str, out_features: usize) -> String {
        self.guard(|b| {
            let v = b.value(x)?.clone();
            ensure!(v.shape.len() == 2, "gemm expects a rank-2 input, got {}", show(&v.shape));
            let k = fixed_at(&v.shape, 1, "gemm")?;
            let std = init::weight_std(k, v.stats.rms);
            let w = init::normal(&mut b.rng, out_features * k, std);
            let bias = init::bias(&mut b.rng, out_features);
            let w = b.param("weight", &[out_features, k], &w)?;
            let bias = b.param("bias", &[out_features], &bias)?;
            let attrs = vec![attr_float("alpha", 1.0), attr_float("beta", 1.0), attr_int("transB", 1)];
            let shape = vec![v.shape[0].clone(), Dim::Fixed(out_features)];
            Ok(b.emit1("Gemm", vec![x.to_string(), w, bias], attrs, shape, Stats::centered(1.0)))
        })
    }

    /// A PyTorch `Linear` on a rank >= 2 input as exported: `MatMul` with a `[K, out]`
    /// weight, then `Add` of the bias when `bias`.
    pub fn linear(&mut self, x: &str, out_features: usize, bias: bool) -> String {
        let y = self.guard(|b| {
            let v = b.value(x)?.clone();
            ensure!(v.shape.len() >= 2, "linear expects rank >= 2, got {}", show(&v.shape));
            let k = fixed_at(&v.shape, v.shape.len() - 1, "linear")?;
            let w = init::normal(&mut b.rng, k * out_features, init::weight_std(k, v.stats.rms));
            let w = b.param("weight", &[k, out_features], &w)?;
            let mut shape = v.shape.clone();
            if let Some(last) = shape.last_mut() {
                *last = Dim::Fixed(out_features);
            }
            Ok(b.emit1("MatMul", vec![x.to_string(), w], vec![], shape, Stats::centered(1.0)))
        });
        if !bias {
            return y;
        }
        let bias = self.guard(|b| {
            let data = init::bias(&mut b.rng, out_features);
            b.param("bias", &[out_features], &data)
        });
        self.add(&bias, &y)
    }

    /// LayerNorm over the last axis, decomposed as PyTorch exports it below opset 17:
    /// ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add
    /// (`<scope>.weight`, `<scope>.bias`).
    pub fn layer_norm(&mut self, x: &str, eps: f32) -> String {
        let params = self.guard_many(2, |b| {
            let v = b.value(x)?;
            let dim = fixed_at(&v.shape, v.shape.len().saturating_sub(1), "layer_norm")?;
            let gamma = init::uniform(&mut b.rng, dim, 0.8, 1.2);
            let beta = init::normal(&mut b.rng, dim, 0.1);
            Ok(vec![b.param("weight", &[dim], &gamma)?, b.param("bias", &[dim], &beta)?])
        });
        let mean = self.reduce_mean(x, &[-1], true);
        let d = self.sub(x, &mean);
        let sq = self.pow_scalar(&d, 2.0);
        let var = self.reduce_mean(&sq, &[-1], true);
        let var_eps = self.add_scalar(&var, eps);
        let std = self.sqrt(&var_eps);
        let n = self.div(&d, &std);
        self.set_stats(&n, Stats::centered(1.0));
        let y = self.mul(&n, &params[0]);
        let y = self.add(&y, &params[1]);
        self.set_stats(&y, Stats::centered(1.0));
        y
    }

    // ---- helpers ------------------------------------------------------------------------

    fn conv_geometry(&self, x: &str, spec: Conv) -> Result<ConvGeom> {
        let v = self.value(x)?;
        let s = &v.shape;
        ensure!(s.len() == 4, "conv expects NCHW, got {}", show(s));
        let c_in = fixed_at(s, 1, "conv")?;
        let (h, w) = (fixed_at(s, 2, "conv")?, fixed_at(s, 3, "conv")?);
        ensure!(spec.group >= 1 && spec.out_ch >= 1, "conv: group and out_ch must be >= 1");
        ensure!(
            c_in.checked_rem(spec.group) == Some(0) && spec.out_ch.checked_rem(spec.group) == Some(0),
            "conv: channels {c_in} -> {} not divisible by group {}",
            spec.out_ch,
            spec.group
        );
        let ho = window_out(h, spec.kernel, spec.stride, spec.pad)?;
        let wo = window_out(w, spec.kernel, spec.stride, spec.pad)?;
        let out_shape = vec![s[0].clone(), Dim::Fixed(spec.out_ch), Dim::Fixed(ho), Dim::Fixed(wo)];
        Ok(ConvGeom { c_in, out_shape, rms_in: v.stats.rms })
    }

    fn draw_conv(&mut self, g: &ConvGeom, spec: Conv) -> (Vec<f32>, Option<Vec<f32>>) {
        let fan_in = g.c_in / spec.group * spec.kernel * spec.kernel;
        let std = init::weight_std(fan_in, g.rms_in);
        let w = init::normal(&mut self.rng, spec.out_ch * fan_in, std);
        let bias = spec.bias.then(|| init::bias(&mut self.rng, spec.out_ch));
        (w, bias)
    }

    fn emit_conv(&mut self, x: &str, spec: Conv, g: &ConvGeom, w: &[f32], bias: Option<&[f32]>) -> Result<String> {
        let k = spec.kernel;
        let w = self.param("weight", &[spec.out_ch, g.c_in / spec.group, k, k], w)?;
        let mut inputs = vec![x.to_string(), w];
        if let Some(bias) = bias {
            inputs.push(self.param("bias", &[spec.out_ch], bias)?);
        }
        let (k, s, p) = (k as i64, spec.stride as i64, spec.pad as i64);
        let attrs = vec![
            attr_ints("dilations", &[1, 1]),
            attr_int("group", spec.group as i64),
            attr_ints("kernel_shape", &[k, k]),
            attr_ints("pads", &[p, p, p, p]),
            attr_ints("strides", &[s, s]),
        ];
        Ok(self.emit1("Conv", inputs, attrs, g.out_shape.clone(), Stats::centered(1.0)))
    }

    fn emit_bn(&mut self, x: &str, bn: &BnParams) -> Result<String> {
        let shape = self.value(x)?.shape.clone();
        let c = bn.gamma.len();
        let inputs = vec![
            x.to_string(),
            self.param("weight", &[c], &bn.gamma)?,
            self.param("bias", &[c], &bn.beta)?,
            self.param("running_mean", &[c], &bn.mean)?,
            self.param("running_var", &[c], &bn.var)?,
        ];
        // PyTorch writes `momentum` (1 - 0.1) although a single-output BatchNormalization is
        // inference mode. (onnx's Python ReferenceEvaluator wrongly uses batch statistics for
        // opsets 9..=13 when momentum is set; tract and onnxruntime ignore it.)
        let attrs = vec![attr_float("epsilon", BN_EPS), attr_float("momentum", 0.9)];
        Ok(self.emit1("BatchNormalization", inputs, attrs, shape, Stats::centered(1.0)))
    }
}
