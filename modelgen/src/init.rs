//! Seeded random weight initialisation (Box-Muller normals from ChaCha8), batch-norm
//! parameters and their folding into a preceding convolution.
//!
//! Weights are drawn with std `1 / (sqrt(fan_in) * rms_in)` where `rms_in` is the builder's
//! estimate of the input's root-mean-square, so every weighted layer outputs values of
//! roughly unit RMS and activations neither explode nor vanish through deep networks.

use crate::stats::Stats;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Batch-norm epsilon, as PyTorch exports it.
pub(crate) const BN_EPS: f32 = 1e-5;

/// `n` draws from N(0, std^2) (Box-Muller, computed in f64).
pub(crate) fn normal(rng: &mut ChaCha8Rng, n: usize, std: f32) -> Vec<f32> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        // 1 - u is in (0, 1], so the log is finite.
        let u1: f64 = 1.0 - rng.gen::<f64>();
        let u2: f64 = rng.gen::<f64>();
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        out.push((r * t.cos()) as f32 * std);
        if out.len() < n {
            out.push((r * t.sin()) as f32 * std);
        }
    }
    out
}

/// `n` draws from U(lo, hi).
pub(crate) fn uniform(rng: &mut ChaCha8Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| lo + (hi - lo) * rng.gen::<f32>()).collect()
}

/// Std of a weight with `fan_in` inputs whose values have RMS `rms_in`, so that the
/// output has unit RMS.
pub(crate) fn weight_std(fan_in: usize, rms_in: f32) -> f32 {
    1.0 / ((fan_in.max(1) as f32).sqrt() * rms_in.max(1e-3))
}

/// Small random bias, drawn after the weight.
pub(crate) fn bias(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    normal(rng, n, 0.1)
}

/// Eval-mode batch-norm parameters, in the order PyTorch names them.
#[derive(Clone, Debug)]
pub(crate) struct BnParams {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
}

impl BnParams {
    /// Sane random parameters for `c` channels whose input has the given statistics: the
    /// running mean and variance roughly match the input's, so the output is about
    /// zero-mean with unit RMS.
    pub(crate) fn random(rng: &mut ChaCha8Rng, c: usize, input: Stats) -> BnParams {
        let s = input.std().max(1e-3);
        let gamma = uniform(rng, c, 0.7, 1.3);
        let beta = normal(rng, c, 0.1);
        let mean = normal(rng, c, 0.1 * s).into_iter().map(|m| m + input.mean).collect();
        let var = uniform(rng, c, 0.6 * s * s, 1.4 * s * s);
        BnParams { gamma, beta, mean, var }
    }

    /// Per-channel `(scale, shift)` such that `bn(x) = scale * x + shift`.
    pub(crate) fn affine(&self) -> Vec<(f32, f32)> {
        (0..self.gamma.len())
            .map(|c| {
                let scale = self.gamma[c] / (self.var[c] + BN_EPS).sqrt();
                (scale, self.beta[c] - self.mean[c] * scale)
            })
            .collect()
    }
}

/// Folds `bn` into a convolution with weight `[out, ...]` (`per_out` values per output
/// channel) and optional bias. Returns the folded weight and bias.
pub(crate) fn fold_bn(weight: &[f32], bias: Option<&[f32]>, per_out: usize, bn: &BnParams) -> (Vec<f32>, Vec<f32>) {
    let affine = bn.affine();
    let mut w = weight.to_vec();
    let mut b = Vec::with_capacity(affine.len());
    for (c, &(scale, shift)) in affine.iter().enumerate() {
        for v in &mut w[c * per_out..(c + 1) * per_out] {
            *v *= scale;
        }
        let b0 = bias.map_or(0.0, |b| b[c]);
        b.push(b0 * scale + shift);
    }
    (w, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn normal_moments() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let v = normal(&mut rng, 100_001, 2.0);
        assert_eq!(v.len(), 100_001);
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 4.0).abs() < 0.1, "var {var}");
    }

    #[test]
    fn folding_matches_bn() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let bn = BnParams::random(&mut rng, 2, Stats::centered(1.0));
        let w = [1.0, 2.0, 3.0, 4.0];
        let (fw, fb) = fold_bn(&w, Some(&[0.5, -0.5]), 2, &bn);
        for c in 0..2 {
            let x = 0.3f32;
            let conv = w[2 * c] * x + w[2 * c + 1] * x + [0.5, -0.5][c];
            let expect = bn.gamma[c] * (conv - bn.mean[c]) / (bn.var[c] + BN_EPS).sqrt() + bn.beta[c];
            let got = fw[2 * c] * x + fw[2 * c + 1] * x + fb[c];
            assert!((expect - got).abs() < 1e-5);
        }
    }
}
