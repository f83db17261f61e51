//! Post-training quantization arithmetic of the compiler: activation parameters from calibrated ranges
//! (asymmetric per tensor), weights symmetric per output channel, int32 bias, the output clamp of a fused
//! activation, and the `quant` operand of one INT8 layer. The integer semantics they feed are
//! `accel_ops::numerics`.
use accel_ops::numerics::quantize_multiplier;
use accel_ops::numerics::requant::{leaky_multiplier, QuantHeader, QuantParams};
use accel_ops::op::UnaryOp;
use accel_ops::OpError;

/// Scale and zero point of an int8 tensor covering `[min, max]` (widened to contain 0, so that zero padding
/// and Relu are exact): `scale = (max - min) / 255`, `zero = round(-128 - min / scale)`.
pub fn activation_params(min: f32, max: f32) -> (f32, i32) {
    let (lo, hi) = (min.min(0.0) as f64, max.max(0.0) as f64);
    let span = hi - lo;
    if !(span.is_finite() && span > 1e-30) {
        return (1e-8, 0);
    }
    let scale = span / 255.0;
    let zero = (-128.0 - lo / scale).round().clamp(-128.0, 127.0) as i32;
    (scale as f32, zero)
}

/// Largest |int32 bias| the quantizer produces: 2^30 leaves the other half of the int32 accumulator to the
/// products (each at most 127 * 255 in magnitude, so below 2^30 for reductions of up to 33,000 terms).
pub const BIAS_LIMIT: f64 = (1u64 << 30) as f64;

/// Symmetric int8 weights, one scale per channel: `w` is `channels` runs of `per` values when `runs_are_channels`
/// (convolution weights `[K, ...]`), else `per` rows of `channels` columns (a `[K, N]` matmul operand, one
/// scale per column). `scale = max|w| / 127` (1 for an all-zero channel), raised where needed so that channel
/// `c`'s bias `b[c]` fits `BIAS_LIMIT` units of `x_scale * scale` (see `bias_floor`); values round half to even
/// into `[-127, 127]`.
pub fn quantize_weights(
    w: &[f32],
    channels: usize,
    runs_are_channels: bool,
    bias: &[f32],
    x_scale: f32,
) -> (Vec<i8>, Vec<f32>) {
    let per = w.len().checked_div(channels).unwrap_or(0);
    let at = |c: usize, i: usize| if runs_are_channels { c * per + i } else { i * channels + c };
    let scales: Vec<f32> = (0..channels)
        .map(|c| {
            let m = (0..per).map(|i| w[at(c, i)].abs()).fold(0f32, f32::max);
            let own = if m > 0.0 && m.is_finite() { m / 127.0 } else { 1.0 };
            own.max(bias_floor(bias.get(c).copied().unwrap_or(0.0), x_scale))
        })
        .collect();
    let mut q = vec![0i8; w.len()];
    for (c, &s) in scales.iter().enumerate() {
        for i in 0..per {
            let j = at(c, i);
            q[j] = (w[j] / s).round_ties_even().clamp(-127.0, 127.0) as i8;
        }
    }
    (q, scales)
}

/// The smallest weight scale at which bias `b` is at most `BIAS_LIMIT` units of `x_scale * scale`. It binds
/// where the input's activations are tiny next to the bias (deep randomly initialized networks whose last layer
/// computes little more than its bias): with the weights' own scale the int32 bias saturated and such a layer
/// output zeros. There the weights' contribution is below `K * 127^2 / 2^30` of the bias, so the coarser weights
/// cost little. 0 when it does not bind or cannot be computed.
fn bias_floor(b: f32, x_scale: f32) -> f32 {
    let floor = b.abs() as f64 / (x_scale as f64 * BIAS_LIMIT);
    if floor.is_finite() && floor > 0.0 {
        // Rounded up, so that the bias stays within the limit after the f32 rounding of the scale.
        (floor * (1.0 + 1e-6)) as f32
    } else {
        0.0
    }
}

/// The int32 bias in units of `x_scale * w_scale[c]` (rounded half to even, saturated).
pub fn quantize_bias(b: &[f32], x_scale: f32, w_scales: &[f32]) -> Vec<i32> {
    b.iter()
        .zip(w_scales)
        .map(|(&v, &s)| {
            (v as f64 / (x_scale as f64 * s as f64)).round_ties_even().clamp(i32::MIN as f64, i32::MAX as f64) as i32
        })
        .collect()
}

/// The int8 output range of a fused activation, or `None` when it has no integer form (it then stays float).
pub fn clamp_of(act: Option<UnaryOp>, scale: f32, zero: i32) -> Option<(i32, i32)> {
    let q = |v: f32| (zero as f64 + (v as f64 / scale as f64).round()).clamp(-128.0, 127.0) as i32;
    match act {
        None => Some((-128, 127)),
        Some(UnaryOp::Relu) => Some((zero.max(-128), 127)),
        Some(UnaryOp::Clip { min, max }) => Some((q(min), q(max))),
        Some(UnaryOp::LeakyRelu { alpha }) if leaky_multiplier(alpha).is_some() => Some((-128, 127)),
        Some(_) => None,
    }
}

/// The header's `neg_mult` for a fused activation (a LeakyReLU's slope; 0 otherwise).
pub fn neg_mult_of(act: Option<UnaryOp>) -> i32 {
    match act {
        Some(UnaryOp::LeakyRelu { alpha }) => leaky_multiplier(alpha).unwrap_or(0),
        _ => 0,
    }
}

/// Everything an INT8 layer needs besides its weights: the input's and output's parameters, the clamp and the
/// optional residual's parameters.
pub struct LayerQuant {
    pub x: (f32, i32),
    pub y: (f32, i32),
    pub clamp: (i32, i32),
    pub residual: Option<(f32, i32)>,
    /// A fused LeakyReLU's slope (`QuantHeader::neg_mult`; 0 for none).
    pub neg_mult: i32,
}

/// The `quant` operand: per channel `M = x_scale * w_scale[c] / y_scale` as (multiplier, shift), the residual
/// factor `r_scale / y_scale`.
pub fn quant_params(l: &LayerQuant, w_scales: &[f32]) -> Result<QuantParams, OpError> {
    let ((sx, zx), (sy, zy)) = (l.x, l.y);
    let channels = w_scales
        .iter()
        .map(|&sw| quantize_multiplier(sx as f64 * sw as f64 / sy as f64))
        .collect::<Result<Vec<_>, _>>()?;
    let (r_zero, r_mult, r_shift) = match l.residual {
        Some((sr, zr)) => {
            let (m, s) = quantize_multiplier(sr as f64 / sy as f64)?;
            (zr, m, s)
        }
        None => (0, 0, 0),
    };
    let header = QuantHeader {
        x_zero: zx,
        y_zero: zy,
        y_min: l.clamp.0,
        y_max: l.clamp.1,
        r_zero,
        r_mult,
        r_shift,
        neg_mult: l.neg_mult,
    };
    Ok(QuantParams { header, table: None, channels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_range_contains_zero_exactly() {
        let (s, z) = activation_params(0.0, 6.0);
        assert_eq!(z, -128);
        assert!((s - 6.0 / 255.0).abs() < 1e-7);
        let (s, z) = activation_params(-1.0, 1.0);
        // The grid spans the range within a step (real 0 is the zero point itself).
        assert!((s * (-128 - z) as f32 + 1.0).abs() <= s && (s * (127 - z) as f32 - 1.0).abs() <= s, "{s} {z}");
        assert_eq!(activation_params(0.0, 0.0), (1e-8, 0));
    }

    #[test]
    fn weights_per_channel_use_the_full_range() {
        let w = [0.5, -1.0, 0.25, 2.0, 0.0, -2.0];
        let (q, s) = quantize_weights(&w, 2, true, &[0.5, -3.0], 0.01);
        assert_eq!(q, vec![64, -127, 32, 127, 0, -127]);
        assert_eq!(s, vec![1.0 / 127.0, 2.0 / 127.0]);
        let (qc, sc) = quantize_weights(&[1.0, 4.0, -0.5, 2.0], 2, false, &[], 0.01);
        assert_eq!(sc, vec![1.0 / 127.0, 4.0 / 127.0]);
        assert_eq!(qc, vec![127, 127, -64, 64]);
    }

    /// A bias that tiny input and weight scales would put past int32 (it saturated, and the layer's output
    /// collapsed): the channel's weight scale rises until the bias fits `BIAS_LIMIT`, the bias keeps its value,
    /// and the weights still round to their nearest steps. A bias that fits leaves the scale alone.
    #[test]
    fn a_bias_that_would_saturate_raises_its_channels_weight_scale() {
        let (w, bias, x_scale) = ([0.01f32, -0.02, 0.005, 0.02], [0.03f32, 1e-9], 1e-12f32);
        let (q, s) = quantize_weights(&w, 2, true, &bias, x_scale);
        assert_eq!(s[1], 0.02 / 127.0, "a bias that fits keeps the weights' own scale");
        assert!(s[0] > 0.02 / 127.0, "{s:?}");
        let bq = quantize_bias(&bias, x_scale, &s);
        assert!((bq[0] as f64).abs() <= BIAS_LIMIT && bq[0] > (BIAS_LIMIT * 0.99) as i32, "{bq:?}");
        let back = bq[0] as f64 * x_scale as f64 * s[0] as f64;
        assert!((back - 0.03).abs() < 0.03 * 1e-6, "bias {back} for 0.03");
        for (j, &v) in w[..2].iter().enumerate() {
            assert_eq!(q[j], (v / s[0]).round_ties_even().clamp(-127.0, 127.0) as i8);
        }
        // Before: the weights' own scale, and the bias pinned at i32::MAX.
        assert_eq!(quantize_bias(&bias, x_scale, &[0.02 / 127.0])[0], i32::MAX);
    }

    #[test]
    fn clamps_of_activations() {
        assert_eq!(clamp_of(Some(UnaryOp::Relu), 0.1, -20), Some((-20, 127)));
        assert_eq!(clamp_of(Some(UnaryOp::Clip { min: 0.0, max: 6.0 }), 0.1, -128), Some((-128, -68)));
        assert_eq!(clamp_of(Some(UnaryOp::Sigmoid), 0.1, 0), None);
    }
}
