//! Running estimates of each value's mean and RMS (`Stats`) and how ops transform them.
//!
//! Values are modelled as Gaussian `N(mean, rms^2 - mean^2)` (independent operands), which
//! is enough to scale random weights so activations stay O(1) through deep networks:
//! in particular residual sums of post-ReLU branches accumulate their positive means
//! coherently, which a zero-mean model would underestimate.

/// Estimated first and second moments of a value's elements.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub mean: f32,
    /// Root of the second moment, `sqrt(E[x^2])`.
    pub rms: f32,
}

impl Stats {
    /// A zero-mean value of the given RMS.
    pub fn centered(rms: f32) -> Stats {
        Stats { mean: 0.0, rms }
    }

    /// Standard deviation implied by mean and RMS.
    pub fn std(self) -> f32 {
        (self.rms * self.rms - self.mean * self.mean).max(1e-12).sqrt()
    }

    fn from_moments(mean: f32, second: f32) -> Stats {
        Stats { mean, rms: second.max(mean * mean).max(0.0).sqrt() }
    }

    /// Both moments scaled by `k` (a multiplication by a constant).
    pub fn scale(self, k: f32) -> Stats {
        Stats { mean: self.mean * k, rms: self.rms * k.abs() }
    }

    /// `a + b` (or `a - b` when `negate_b`) for independent operands.
    pub fn sum(a: Stats, b: Stats, negate_b: bool) -> Stats {
        let mean = if negate_b { a.mean - b.mean } else { a.mean + b.mean };
        let var = a.std().powi(2) + b.std().powi(2);
        Stats::from_moments(mean, var + mean * mean)
    }

    /// `a * b` for independent operands.
    pub fn product(a: Stats, b: Stats) -> Stats {
        Stats { mean: a.mean * b.mean, rms: a.rms * b.rms }
    }

    /// `(E[relu(x)], E[relu(x)^2])` for Gaussian `x`.
    fn relu_moments(self) -> (f32, f32) {
        let (m, s) = (self.mean as f64, self.std() as f64);
        let z = m / s;
        let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let cdf = 0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2));
        let first = m * cdf + s * pdf;
        let second = (m * m + s * s) * cdf + m * s * pdf;
        (first as f32, second as f32)
    }

    /// `relu(x)`.
    pub fn relu(self) -> Stats {
        let (m1, m2) = self.relu_moments();
        Stats::from_moments(m1, m2)
    }

    /// `leaky_relu(x, alpha) = relu(x) - alpha * relu(-x)`.
    pub fn leaky_relu(self, alpha: f32) -> Stats {
        let (p1, p2) = self.relu_moments();
        let (n1, n2) = Stats { mean: -self.mean, rms: self.rms }.relu_moments();
        Stats::from_moments(p1 - alpha * n1, p2 + alpha * alpha * n2)
    }

    /// `clip(x, lo, hi)`, approximated as relu when `lo >= 0` and identity otherwise,
    /// bounded by `hi`.
    pub fn clip(self, lo: f32, hi: f32) -> Stats {
        let s = if lo >= 0.0 { self.relu() } else { self };
        Stats { mean: s.mean.clamp(lo, hi), rms: s.rms.min(hi.abs().max(lo.abs())) }
    }

    /// `sigmoid(x)` (values in (0, 1)).
    pub fn sigmoid(self) -> Stats {
        let mean = 0.5 + 0.2 * self.mean.clamp(-2.5, 2.5);
        let spread = 0.2 * self.std().min(2.5);
        Stats::from_moments(mean, mean * mean + spread * spread)
    }

    /// Smooth ReLU-like gates (SiLU, HardSwish, GELU): relu moments scaled by the ratio
    /// observed for a standard normal input (`mean_k`, `rms_k`).
    pub fn smooth_relu(self, mean_k: f32, rms_k: f32) -> Stats {
        let r = self.relu();
        Stats { mean: r.mean * mean_k, rms: r.rms * rms_k }
    }

    /// Max pooling over `window` elements: the mean rises by about a std, the spread halves.
    pub fn max_pool(self, window: usize) -> Stats {
        if window <= 1 {
            return self;
        }
        let lift = if window >= 9 { 1.0 } else { 0.8 };
        let mean = self.mean + lift * self.std();
        Stats::from_moments(mean, mean * mean + 0.5 * self.std().powi(2))
    }

    /// Softmax over `n` entries with logits of this spread.
    pub fn softmax(self, n: usize) -> Stats {
        let n = n.max(1) as f32;
        let s = self.std().min(4.0);
        Stats { mean: 1.0 / n, rms: ((s * s / 2.0).exp() / n).min(1.0 / n.sqrt()) }
    }
}

/// Error function (Abramowitz-Stegun 7.1.26, |error| < 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.3275911 * x.abs());
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let y = 1.0 - poly * (-x * x).exp();
    if x < 0.0 {
        -y
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_of_standard_normal() {
        let r = Stats::centered(1.0).relu();
        assert!((r.mean - 0.398_942).abs() < 1e-4, "{r:?}");
        assert!((r.rms - 0.5f32.sqrt()).abs() < 1e-4, "{r:?}");
        let l = Stats::centered(1.0).leaky_relu(1.0);
        assert!(l.mean.abs() < 1e-4 && (l.rms - 1.0).abs() < 1e-4, "{l:?}");
    }

    #[test]
    fn residual_means_add_up() {
        let branch = Stats::centered(1.0).relu();
        let mut x = branch;
        for _ in 0..7 {
            x = Stats::sum(x, branch, false);
        }
        assert!((x.mean - 8.0 * branch.mean).abs() < 1e-3);
        assert!(x.rms > 3.0);
    }
}
