//! Builder ops without weights: activations (plain and as exported: SiLU, HardSwish,
//! GELU via Erf), elementwise arithmetic with numpy broadcasting, and pooling.

use crate::builder::GraphBuilder;
use crate::proto::{attr_float, attr_int, attr_ints};
use crate::shape::{broadcast, fixed_at, show, window_out, Dim};
use crate::stats::Stats;
use anyhow::{ensure, Result};

/// Pooling kind.
#[derive(Clone, Copy)]
enum Pool {
    Max,
    Avg,
}

impl GraphBuilder {
    fn unary(
        &mut self,
        op: &str,
        x: &str,
        attrs: Vec<tract_onnx::pb::AttributeProto>,
        stats: impl FnOnce(Stats) -> Stats,
    ) -> String {
        self.guard(|b| {
            let v = b.value(x)?.clone();
            Ok(b.emit1(op, vec![x.to_string()], attrs, v.shape, stats(v.stats)))
        })
    }

    fn binary(&mut self, op: &str, a: &str, c: &str, stats: impl FnOnce(Stats, Stats) -> Stats) -> String {
        self.guard(|b| {
            let (va, vc) = (b.value(a)?.clone(), b.value(c)?.clone());
            let shape = broadcast(&va.shape, &vc.shape)?;
            let st = stats(va.stats, vc.stats);
            Ok(b.emit1(op, vec![a.to_string(), c.to_string()], vec![], shape, st))
        })
    }

    /// `Relu`.
    pub fn relu(&mut self, x: &str) -> String {
        self.unary("Relu", x, vec![], Stats::relu)
    }

    /// `LeakyRelu` with slope `alpha`.
    pub fn leaky_relu(&mut self, x: &str, alpha: f32) -> String {
        self.unary("LeakyRelu", x, vec![attr_float("alpha", alpha)], |s| s.leaky_relu(alpha))
    }

    /// `Sigmoid`.
    pub fn sigmoid(&mut self, x: &str) -> String {
        self.unary("Sigmoid", x, vec![], Stats::sigmoid)
    }

    /// `Erf`.
    pub fn erf(&mut self, x: &str) -> String {
        self.unary("Erf", x, vec![], |s| Stats { mean: 0.8 * s.mean.clamp(-1.0, 1.0), rms: (0.8 * s.rms).min(1.0) })
    }

    /// `Sqrt`.
    pub fn sqrt(&mut self, x: &str) -> String {
        self.unary("Sqrt", x, vec![], |s| {
            let m = s.mean.max(0.0);
            Stats { mean: m.sqrt(), rms: m.sqrt() }
        })
    }

    /// `Clip` (opset >= 11 form: `min` and `max` as scalar constant inputs).
    pub fn clip(&mut self, x: &str, min: f32, max: f32) -> String {
        self.guard(|b| {
            ensure!(min <= max, "clip: min {min} > max {max}");
            let v = b.value(x)?.clone();
            let lo = b.scalar(min);
            let hi = b.scalar(max);
            let st = v.stats.clip(min, max);
            Ok(b.emit1("Clip", vec![x.to_string(), lo, hi], vec![], v.shape, st))
        })
    }

    /// ReLU6 as PyTorch exports it: `Clip(x, 0, 6)`.
    pub fn relu6(&mut self, x: &str) -> String {
        self.clip(x, 0.0, 6.0)
    }

    /// SiLU as exported: `Sigmoid` then `Mul`.
    pub fn silu(&mut self, x: &str) -> String {
        let st = self.stats(x).unwrap_or(Stats::centered(1.0));
        let s = self.sigmoid(x);
        let y = self.mul(x, &s);
        self.set_stats(&y, st.smooth_relu(0.518, 0.843));
        y
    }

    /// HardSwish: the `HardSwish` op from opset 14, `HardSigmoid` + `Mul` below.
    pub fn hardswish(&mut self, x: &str) -> String {
        let st = self.stats(x).unwrap_or(Stats::centered(1.0));
        let y = if self.opset >= 14 {
            self.unary("HardSwish", x, vec![], |s| s)
        } else {
            let attrs = vec![attr_float("alpha", 1.0 / 6.0), attr_float("beta", 0.5)];
            let s = self.unary("HardSigmoid", x, attrs, Stats::sigmoid);
            self.mul(x, &s)
        };
        self.set_stats(&y, st.smooth_relu(0.418, 0.816));
        y
    }

    /// Exact GELU decomposed as PyTorch exports it below opset 20:
    /// `Div(x, sqrt 2)`, `Erf`, `Add 1`, `Mul x`, `Mul 0.5`.
    pub fn gelu(&mut self, x: &str) -> String {
        let st = self.stats(x).unwrap_or(Stats::centered(1.0));
        let d = self.div_scalar(x, std::f32::consts::SQRT_2);
        let e = self.erf(&d);
        let e1 = self.add_scalar(&e, 1.0);
        let m = self.mul(x, &e1);
        let y = self.mul_scalar(&m, 0.5);
        self.set_stats(&y, st.smooth_relu(0.707, 0.922));
        y
    }

    /// `Add` with broadcasting.
    pub fn add(&mut self, a: &str, b: &str) -> String {
        self.binary("Add", a, b, |x, y| Stats::sum(x, y, false))
    }

    /// `Sub` with broadcasting.
    pub fn sub(&mut self, a: &str, b: &str) -> String {
        self.binary("Sub", a, b, |x, y| Stats::sum(x, y, true))
    }

    /// `Mul` with broadcasting.
    pub fn mul(&mut self, a: &str, b: &str) -> String {
        self.binary("Mul", a, b, Stats::product)
    }

    /// `Div` with broadcasting.
    pub fn div(&mut self, a: &str, b: &str) -> String {
        self.binary("Div", a, b, |x, y| x.scale(1.0 / y.rms.max(1e-3)))
    }

    /// `Add` of a scalar `Constant`.
    pub fn add_scalar(&mut self, x: &str, c: f32) -> String {
        let k = self.guard(|b| Ok(b.scalar(c)));
        self.add(x, &k)
    }

    /// `Mul` by a scalar `Constant`.
    pub fn mul_scalar(&mut self, x: &str, c: f32) -> String {
        let k = self.guard(|b| Ok(b.scalar(c)));
        self.mul(x, &k)
    }

    /// `Mul` of an NCHW tensor by a per-channel `Constant` `[1, C, 1, 1]` (a folded normalization's scale).
    pub fn mul_channels(&mut self, x: &str, scales: &[f32]) -> String {
        let k = self.guard(|b| Ok(b.const_f32(&[1, scales.len(), 1, 1], scales)));
        self.mul(x, &k)
    }

    /// `Div` by a scalar `Constant`.
    pub fn div_scalar(&mut self, x: &str, c: f32) -> String {
        let k = self.guard(|b| Ok(b.scalar(c)));
        self.div(x, &k)
    }

    /// `Pow` with a scalar `Constant` exponent.
    pub fn pow_scalar(&mut self, x: &str, e: f32) -> String {
        let k = self.guard(|b| Ok(b.scalar(e)));
        self.binary("Pow", x, &k, |s, _| {
            let m = s.rms.powf(e);
            Stats { mean: m, rms: m * 3f32.sqrt() }
        })
    }

    /// `MaxPool` (floor mode) with a square window.
    pub fn max_pool(&mut self, x: &str, kernel: usize, stride: usize, pad: usize) -> String {
        self.guard(|b| b.pool(Pool::Max, x, kernel, stride, pad))
    }

    /// `AveragePool` (floor mode; padding counted like PyTorch's default).
    pub fn avg_pool(&mut self, x: &str, kernel: usize, stride: usize, pad: usize) -> String {
        self.guard(|b| b.pool(Pool::Avg, x, kernel, stride, pad))
    }

    /// `GlobalAveragePool` (what `AdaptiveAvgPool2d(1)` exports to).
    pub fn global_avg_pool(&mut self, x: &str) -> String {
        self.guard(|b| {
            let v = b.value(x)?.clone();
            ensure!(v.shape.len() >= 3, "global_avg_pool expects rank >= 3");
            let mut shape = v.shape.clone();
            for d in shape.iter_mut().skip(2) {
                *d = Dim::Fixed(1);
            }
            Ok(b.emit1("GlobalAveragePool", vec![x.to_string()], vec![], shape, v.stats))
        })
    }

    fn pool(&mut self, kind: Pool, x: &str, k: usize, s: usize, p: usize) -> Result<String> {
        let v = self.value(x)?.clone();
        ensure!(v.shape.len() == 4, "pooling expects NCHW, got {}", show(&v.shape));
        ensure!(p * 2 <= k, "pooling: pad {p} larger than half the kernel {k}");
        let ho = window_out(fixed_at(&v.shape, 2, "pool")?, k, s, p)?;
        let wo = window_out(fixed_at(&v.shape, 3, "pool")?, k, s, p)?;
        let mut shape = v.shape.clone();
        shape[2] = Dim::Fixed(ho);
        shape[3] = Dim::Fixed(wo);
        let (ki, si, pi) = (k as i64, s as i64, p as i64);
        let mut attrs = vec![attr_int("ceil_mode", 0)];
        if matches!(kind, Pool::Avg) && p > 0 {
            attrs.push(attr_int("count_include_pad", 1));
        }
        attrs.push(attr_ints("kernel_shape", &[ki, ki]));
        attrs.push(attr_ints("pads", &[pi, pi, pi, pi]));
        attrs.push(attr_ints("strides", &[si, si]));
        let (op, st) = match kind {
            Pool::Max => ("MaxPool", v.stats.max_pool(k * k)),
            Pool::Avg => ("AveragePool", v.stats),
        };
        Ok(self.emit1(op, vec![x.to_string()], attrs, shape, st))
    }
}
