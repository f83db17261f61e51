//! INT8 fixed-point arithmetic, defined once: requantization by an int32 multiplier and shift, the scale ->
//! (multiplier, shift) decomposition, per-tensor quantize/dequantize, and the layout of the `quant` operand of
//! INT8 `mac.conv` / `mac.matmul`.
use super::table::{lookup, Table, TABLE_BYTES};
use crate::error::OpError;

/// Words (i32) of the header that precedes the per-channel pairs in a `quant` operand.
pub const HEADER_WORDS: usize = 8;

/// Per-command INT8 parameters: zero points, the output clamp (which carries a fused Relu/Clip), the
/// residual's requantization and a fused LeakyReLU's slope. Layout (little-endian i32): `x_zero, y_zero, y_min,
/// y_max, r_zero, r_mult, r_shift, neg_mult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantHeader {
    /// Zero point of the input activation (of `a` for a matmul).
    pub x_zero: i32,
    pub y_zero: i32,
    pub y_min: i32,
    pub y_max: i32,
    /// Zero point, multiplier and shift of the residual operand (0 when there is none).
    pub r_zero: i32,
    pub r_mult: i32,
    pub r_shift: i32,
    /// A fused LeakyReLU: negative sums are multiplied by `neg_mult / 2^31` (its slope in `(0, 1)`); 0: none.
    pub neg_mult: i32,
}

impl Default for QuantHeader {
    fn default() -> Self {
        QuantHeader { x_zero: 0, y_zero: 0, y_min: -128, y_max: 127, r_zero: 0, r_mult: 0, r_shift: 0, neg_mult: 0 }
    }
}

/// Words of a lookup table in the operand (`TABLE_BYTES` int8 entries, four to a little-endian word).
pub const TABLE_WORDS: usize = TABLE_BYTES / 4;

/// The whole `quant` operand: the header, then the activation's lookup table when the command has one (an
/// `act`: `numerics::table`), then `(multiplier, shift)` per output channel. The table comes before the pairs
/// so that the operand of a block of output channels is the common prefix plus a slice of the pairs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuantParams {
    pub header: QuantHeader,
    /// A fused activation's int8 form, applied to the value `output` gives (`QuantParams::activate`).
    pub table: Option<Table>,
    pub channels: Vec<(i32, i32)>,
}

impl QuantParams {
    /// Bytes of the operand for `channels` output channels, with or without a table.
    pub fn bytes(channels: u64, table: bool) -> Option<u64> {
        channels.checked_mul(8)?.checked_add(Self::prefix_bytes(table))
    }

    /// Bytes before the pairs: the header and the table, if any.
    pub fn prefix_bytes(table: bool) -> u64 {
        (HEADER_WORDS * 4 + if table { TABLE_BYTES } else { 0 }) as u64
    }

    /// The operand as i32 words (header, table, pairs).
    pub fn to_words(&self) -> Vec<i32> {
        let h = &self.header;
        let mut w = vec![h.x_zero, h.y_zero, h.y_min, h.y_max, h.r_zero, h.r_mult, h.r_shift, h.neg_mult];
        if let Some(t) = &self.table {
            w.extend(t.chunks_exact(4).map(|c| i32::from_le_bytes([c[0] as u8, c[1] as u8, c[2] as u8, c[3] as u8])));
        }
        for &(m, s) in &self.channels {
            w.extend([m, s]);
        }
        w
    }

    /// Parses words written by `to_words`, with a table when `table` (the command has an `act`). Any values
    /// are accepted: every function here is total.
    pub fn from_words(w: &[i32], table: bool) -> Result<QuantParams, OpError> {
        let prefix = HEADER_WORDS + if table { TABLE_WORDS } else { 0 };
        if w.len() < prefix || (w.len() - prefix) % 2 != 0 {
            let what = if table { "8 + 64 (table) + 2 x channels" } else { "8 + 2 x channels" };
            return Err(OpError::Other(format!("a quant operand has {what} words, not {}", w.len())));
        }
        let header = QuantHeader {
            x_zero: w[0],
            y_zero: w[1],
            y_min: w[2],
            y_max: w[3],
            r_zero: w[4],
            r_mult: w[5],
            r_shift: w[6],
            neg_mult: w[7],
        };
        let table = table.then(|| {
            let mut t = [0i8; TABLE_BYTES];
            for (e, b) in t.iter_mut().zip(w[HEADER_WORDS..prefix].iter().flat_map(|v| v.to_le_bytes())) {
                *e = b as i8;
            }
            t
        });
        let channels = w[prefix..].chunks_exact(2).map(|c| (c[0], c[1])).collect();
        Ok(QuantParams { header, table, channels })
    }

    /// Parses the little-endian bytes of the operand (with a table when `table`).
    pub fn from_le_bytes(b: &[u8], table: bool) -> Result<QuantParams, OpError> {
        if b.len() % 4 != 0 {
            return Err(OpError::Other(format!("a quant operand of {} bytes is not whole words", b.len())));
        }
        let w: Vec<i32> = b.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Self::from_words(&w, table)
    }

    /// The fused table activation of `output`'s value `u` (`numerics::table::lookup`); `u` without a table.
    #[inline]
    pub fn activate(&self, u: i8) -> i8 {
        match &self.table {
            Some(t) => lookup(t, u),
            None => u,
        }
    }

    /// The int8 output of one accumulator of channel `c`: `activate(output(..))`, the whole definition.
    #[inline]
    pub fn output(&self, acc: i32, c: usize, residual: Option<i8>) -> i8 {
        let mc = self.channels.get(c).copied().unwrap_or((0, 0));
        self.activate(output(acc, mc, &self.header, residual))
    }
}

/// `round(v * m / 2^(31 - shift))`: the product is exact in 64 bits and rounded once, ties away from zero;
/// the result saturates to i32. `shift` is clamped to `[-31, 30]` (so the divisor is `2^1 ..= 2^62`), which
/// makes the function total: a multiplier `m` with shift `s` stands for the real factor `m * 2^(s - 31)`.
#[inline]
pub fn requantize(v: i32, m: i32, shift: i32) -> i32 {
    let t = (31 - shift.clamp(-31, 30)) as u32;
    let p = v as i64 * m as i64;
    // |p| <= 2^62 and the nudge is <= 2^61: no overflow in u64.
    let mag = ((p.unsigned_abs() + (1u64 << (t - 1))) >> t) as i64;
    let r = if p < 0 { -mag } else { mag };
    r.clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

/// `round(v * m / 2^(31 - shift) + u * n / 2^(31 - u_shift))`: both products exact, their sum exact in
/// i128 (each at most 2^62 in magnitude, brought to the finer of the two grids by at most 61 bits), rounded
/// **once**, ties away from zero. Shifts are clamped as in `requantize`. The result is at most 2^62 + 1 in
/// magnitude: exact in i64, never saturated. Total for any arguments.
#[inline]
pub fn requantize_sum(v: i32, (m, shift): (i32, i32), u: i32, (n, u_shift): (i32, i32)) -> i64 {
    let (t, tu) = ((31 - shift.clamp(-31, 30)) as u32, (31 - u_shift.clamp(-31, 30)) as u32);
    let big = t.max(tu);
    let s = ((v as i64 * m as i64) as i128) << (big - t);
    let s = s + (((u as i64 * n as i64) as i128) << (big - tu));
    let mag = (s.unsigned_abs() + (1u128 << (big - 1))) >> big;
    // Each term is at most 2^62 / 2^t <= 2^61 in magnitude, so mag <= 2^62 + 1: fits i64.
    if s < 0 {
        -(mag as i64)
    } else {
        mag as i64
    }
}

/// The int8 output of one accumulator: `t = requantize(acc, m, s)`, or with a residual `r` the sum of both
/// terms rounded once, `t = requantize_sum(acc, (m, s), r - r_zero, (r_mult, r_shift))` (one rounding to the
/// output grid, not one per term: the second rounding doubled a residual layer's output noise); with a
/// LeakyReLU (`neg_mult != 0`) a negative `t` becomes `requantize(sat_i32(t), neg_mult, 0)`; then
/// `clamp(y_zero + t, max(y_min, -128), min(y_max, 127))`. Total for any parameters. With a lookup table in
/// the operand this is the pre-activation it indexes (`QuantParams::output`).
#[inline]
pub fn output(acc: i32, (m, s): (i32, i32), h: &QuantHeader, residual: Option<i8>) -> i8 {
    let mut t = match residual {
        Some(r) => requantize_sum(acc, (m, s), (r as i32).wrapping_sub(h.r_zero), (h.r_mult, h.r_shift)),
        None => requantize(acc, m, s) as i64,
    };
    if h.neg_mult != 0 && t < 0 {
        t = requantize(t.max(i32::MIN as i64) as i32, h.neg_mult, 0) as i64;
    }
    let y = h.y_zero as i64 + t;
    let (lo, hi) = (h.y_min.max(-128) as i64, h.y_max.min(127) as i64);
    y.max(lo).min(hi).clamp(-128, 127) as i8
}

/// The `neg_mult` of a LeakyReLU slope: `round(alpha * 2^31)` for `alpha` in `(0, 1)`, else `None` (no int8
/// form: 0 is a ReLU, a clamp; 1 and above, or negative, are not leaky).
pub fn leaky_multiplier(alpha: f32) -> Option<i32> {
    let q = (alpha as f64 * 2f64.powi(31)).round();
    (alpha.is_finite() && alpha > 0.0 && q >= 1.0 && q < 2f64.powi(31)).then_some(q as i32)
}

/// Decomposes a real factor `>= 0` into `(m, shift)` with `m` in `[2^30, 2^31)` (the most precise form) so
/// that `requantize(v, m, shift) ~= round(v * real)`; factors below `2^-32` use `shift = -31` and a smaller
/// `m` (0 for 0). Factors of `2^30` and more, negatives and non-finite values are errors.
pub fn quantize_multiplier(real: f64) -> Result<(i32, i32), OpError> {
    if !real.is_finite() || real < 0.0 {
        return Err(OpError::Other(format!("requantization factor {real} is not a finite non-negative number")));
    }
    if real == 0.0 {
        return Ok((0, 0));
    }
    // real = mant * 2^exp with mant in [0.5, 1); log2 may be off by one near powers of two: fix it up.
    let mut exp = real.log2().floor() as i32 + 1;
    while real / 2f64.powi(exp) >= 1.0 {
        exp += 1;
    }
    while real / 2f64.powi(exp) < 0.5 {
        exp -= 1;
    }
    let mut m = (real / 2f64.powi(exp) * 2f64.powi(31)).round() as i64;
    if m == 1 << 31 {
        m = 1 << 30;
        exp += 1;
    }
    if exp > 30 {
        return Err(OpError::Other(format!("requantization factor {real} is too large (>= 2^30)")));
    }
    if exp < -31 {
        return Ok(((real * 2f64.powi(62)).round() as i32, -31));
    }
    Ok((m as i32, exp))
}

/// Quantizes one value: `clamp(round_half_even(x / scale) + zero, -128, 127)`; NaN gives `zero` (clamped).
#[inline]
pub fn quantize(x: f32, scale: f32, zero: i32) -> i8 {
    if x.is_nan() {
        return zero.clamp(-128, 127) as i8;
    }
    let r = (x / scale).round_ties_even() as f64 + zero as f64;
    r.clamp(-128.0, 127.0) as i8
}

/// Dequantizes one value: `(q - zero) * scale` in f32.
#[inline]
pub fn dequantize(q: i8, scale: f32, zero: i32) -> f32 {
    (q as i64 - zero as i64) as f32 * scale
}

#[cfg(test)]
#[path = "requant_tests.rs"]
mod tests;
