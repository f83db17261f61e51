//! The int8 lookup-table activation of an INT8 `mac.conv` / `mac.matmul`, defined once: how the table is
//! applied (`lookup`) and how a compiler builds it from the activation's function (`build`).
//!
//! Order (see `requant::output`): `u = output(acc, ..)` is the layer's int8 *pre-activation*: the requantized
//! sum plus the requantized residual (the residual is added before the activation, as in f32), then the zero
//! point and the clamp `[y_min, y_max]` of the header, all in the pre-activation's quantization (its calibrated
//! scale and zero point). Then `y = table[u + 128]`, in the output's quantization. The table is last: nothing
//! (no clamp, no residual) follows it.
use crate::op::UnaryOp;

/// Bytes (int8 entries) of a table: one per int8 pre-activation value, `-128 ..= 127` in order.
pub const TABLE_BYTES: usize = 256;

/// An activation as its int8 table: `entries[u + 128]` is the output for pre-activation `u`.
pub type Table = [i8; TABLE_BYTES];

/// The activation of int8 value `u`: `table[u + 128]`.
#[inline]
pub fn lookup(table: &Table, u: i8) -> i8 {
    table[(u as i32 + 128) as usize]
}

/// The table of `act` between the pre-activation's quantization `pre = (scale, zero)` and the output's `out`:
/// `entries[u + 128] = clamp(round(f(pre.scale * (u - pre.zero)) / out.scale) + out.zero, -128, 127)`, with
/// `f` evaluated in f64 (`UnaryOp::apply_f64`) and rounding half away from zero. `None` when `act` has no
/// f64 form, a scale is not finite and positive, or a value is not finite. Monotone functions give monotone
/// tables (every step of the computation is monotone).
pub fn build(act: UnaryOp, pre: (f32, i32), out: (f32, i32)) -> Option<Table> {
    let ok = |s: f32| s.is_finite() && s > 0.0;
    if !ok(pre.0) || !ok(out.0) {
        return None;
    }
    let mut t = [0i8; TABLE_BYTES];
    for (i, e) in t.iter_mut().enumerate() {
        let u = i as i64 - 128;
        let x = pre.0 as f64 * (u - pre.1 as i64) as f64;
        let y = act.apply_f64(x)? / out.0 as f64;
        if !y.is_finite() {
            return None;
        }
        // f64::round rounds half away from zero.
        *e = (y.round() + out.1 as f64).clamp(-128.0, 127.0) as i8;
    }
    Some(t)
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
