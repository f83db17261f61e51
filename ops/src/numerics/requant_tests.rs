//! The one rounding of a residual layer's output (`requantize_sum`, `output` with a residual): ties,
//! negatives, the sum of two terms that would each round the other way, extreme multipliers and shifts.
use super::{output, requantize, requantize_sum, QuantHeader};

/// `round(v * m / 2^tv + u * n / 2^tu)` (shifts clamped as `requantize` does), ties away from zero, by exact
/// i128 division with remainder (not by the shifts `requantize_sum` uses).
fn sum_exact(v: i32, (m, s): (i32, i32), u: i32, (n, su): (i32, i32)) -> i64 {
    let (tv, tu) = (31 - s.clamp(-31, 30), 31 - su.clamp(-31, 30));
    let big = tv.max(tu);
    let num = v as i128 * m as i128 * (1i128 << (big - tv)) + u as i128 * n as i128 * (1i128 << (big - tu));
    let d = 1i128 << big;
    let (q, r) = (num.abs() / d, num.abs() % d);
    let mag = if 2 * r >= d { q + 1 } else { q };
    (if num < 0 { -mag } else { mag }) as i64
}

const HALF: (i32, i32) = (1 << 30, 0); // the factor 1/2
const QUARTER: (i32, i32) = (1 << 30, -1); // 1/4

#[test]
fn the_sum_rounds_once_with_ties_away_from_zero() {
    // 0.5 + 0.5 = 1 (each rounded alone: 1 + 1 = 2).
    assert_eq!(requantize_sum(1, HALF, 1, HALF), 1);
    assert_eq!(requantize_sum(-1, HALF, -1, HALF), -1);
    // 0.25 + 0.25 = 0.5, a tie: away from zero (each rounded alone: 0 + 0).
    assert_eq!(requantize_sum(1, QUARTER, 1, QUARTER), 1);
    assert_eq!(requantize_sum(-1, QUARTER, -1, QUARTER), -1);
    // 1.5 - 0.25 = 1.25 -> 1 (alone: 2 + 0); 2.5 + 0 -> 3, not to even.
    assert_eq!(requantize_sum(3, HALF, -1, QUARTER), 1);
    assert_eq!(requantize_sum(5, HALF, 0, QUARTER), 3);
    assert_eq!(requantize_sum(-5, HALF, 7, (0, 3)), -3);
    // Terms that cancel exactly.
    assert_eq!(requantize_sum(3, HALF, -6, QUARTER), 0);
    // With a zero second term it is `requantize` (saturation aside).
    for (v, p) in [(1001, (1 << 30, -13)), (-7, HALF), (123_456, (1_500_000_000, 5))] {
        assert_eq!(requantize_sum(v, p, 0, (i32::MAX, 30)), requantize(v, p.0, p.1) as i64);
    }
}

#[test]
fn the_sum_is_exact_at_extreme_multipliers_and_shifts() {
    let ext = [i32::MIN, i32::MIN + 1, -1, 0, 1, i32::MAX];
    for &v in &ext {
        for &u in &ext {
            for m in [i32::MIN, i32::MAX, 1 << 30] {
                for (s, su) in [(30, 30), (-31, -31), (30, -31), (-31, 30), (99, -99), (i32::MIN, i32::MAX), (0, 1)] {
                    let got = requantize_sum(v, (m, s), u, (m, su));
                    assert_eq!(got, sum_exact(v, (m, s), u, (m, su)), "v {v} u {u} m {m} s {s} su {su}");
                }
            }
        }
    }
    // The largest sum: (2^62 + 2^62) / 2 is not saturated to i32.
    assert_eq!(requantize_sum(i32::MIN, (i32::MIN, 30), i32::MIN, (i32::MIN, 30)), 1i64 << 62);
}

#[test]
fn the_sum_matches_exact_rational_rounding() {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..100_000 {
        let v = next() as i32 >> (next() % 32);
        let u = next() as i32 >> (next() % 32);
        let (m, n) = (next() as i32, next() as i32);
        let (s, su) = ((next() % 64) as i32 - 33, (next() % 64) as i32 - 33);
        assert_eq!(requantize_sum(v, (m, s), u, (n, su)), sum_exact(v, (m, s), u, (n, su)), "{v} {m} {s} {u} {n} {su}");
    }
}

#[test]
fn a_residual_output_rounds_once_then_clamps() {
    let h = QuantHeader { y_zero: 0, r_zero: 3, r_mult: 1 << 30, r_shift: 0, ..Default::default() };
    // acc term 0.5, residual term (4 - 3) x 0.5: one rounding gives 1, two gave 2.
    assert_eq!(output(1, HALF, &h, Some(4)), 1);
    assert_eq!(output(-1, HALF, &h, Some(2)), -1);
    // The zero point and the clamp come after the rounding; huge terms saturate at the clamp, never wrap.
    let h = QuantHeader { y_zero: -100, y_min: -90, y_max: 100, ..h };
    // 9.5 + 0.5 = 10: -100 + 10 clamps to -90 (rounded one term at a time, 10 + 1 gave -89).
    assert_eq!(output(19, HALF, &h, Some(4)), -90);
    assert_eq!(output(i32::MAX, (i32::MAX, 30), &h, Some(127)), 100);
    assert_eq!(output(i32::MIN, (i32::MAX, 30), &h, Some(-128)), -90);
    // A LeakyReLU scales the once-rounded negative sum: (-3 - 3) x 0.5 + (-0.5) = -3.5 -> -4, x 0.5 -> -2.
    let leaky = QuantHeader { y_zero: 0, y_min: -128, y_max: 127, neg_mult: 1 << 30, ..h };
    assert_eq!(output(-1, HALF, &leaky, Some(-3)), -2);
}
