//! Accuracy of the IR's math functions against f64 libm, their special values, bf16 rounding against the
//! `half` crate, and the NaN rules of min/max.
use super::Rng;
use crate::kernel::math::{self, ScalarMath};
use half::bf16;

/// Largest `|got - want| / (|want| + abs_floor)` over a sweep of `[lo, hi]`.
fn max_error(f: fn(&mut ScalarMath, f32) -> f32, reference: fn(f64) -> f64, lo: f32, hi: f32, abs_floor: f64) -> f64 {
    let mut worst: f64 = 0.0;
    for i in 0..=200_000 {
        let x = lo + (hi - lo) * i as f32 / 200_000.0;
        let got = f(&mut ScalarMath, x) as f64;
        let want = reference(x as f64);
        worst = worst.max((got - want).abs() / (want.abs() + abs_floor));
    }
    worst
}

fn erf64(x: f64) -> f64 {
    if x.abs() < 2.5 {
        // Taylor series: terms stay below e^6.25, so f64 cancellation costs nothing visible.
        let (mut sum, mut term, mut n) = (0.0f64, x, 0.0f64);
        while term.abs() > 1e-20 && n < 200.0 {
            sum += term / (2.0 * n + 1.0);
            n += 1.0;
            term *= -x * x / n;
        }
        return 2.0 / std::f64::consts::PI.sqrt() * sum;
    }
    // erfc by its continued fraction, evaluated backwards.
    let z = x.abs();
    let mut k = z;
    for n in (1..200).rev() {
        k = z + (n as f64 / 2.0) / k;
    }
    let erfc = (-z * z).exp() / std::f64::consts::PI.sqrt() / k;
    (1.0 - erfc).copysign(x)
}

#[test]
fn functions_are_accurate_over_their_normal_range() {
    type Case = (&'static str, fn(&mut ScalarMath, f32) -> f32, fn(f64) -> f64, f32, f32, f64, f64);
    let cases: [Case; 7] = [
        ("exp", math::exp, f64::exp, -87.0, 88.0, 0.0, 2e-7),
        ("log", math::log, f64::ln, 1e-30, 1e30, 0.0, 2e-7),
        ("log near 1", math::log, f64::ln, 0.5, 2.0, 0.0, 2e-7),
        ("sigmoid", math::sigmoid, |x| 1.0 / (1.0 + (-x).exp()), -80.0, 80.0, 0.0, 2e-7),
        ("tanh", math::tanh, f64::tanh, -10.0, 10.0, 1e-7, 1e-6),
        ("erf", math::erf, erf64, -5.5, 5.5, 1e-7, 1e-6),
        ("erf small", math::erf, erf64, -0.6, 0.6, 0.0, 1e-6),
    ];
    for (name, f, reference, lo, hi, floor, bound) in cases {
        let e = max_error(f, reference, lo, hi, floor);
        assert!(e < bound, "{name}: max relative error {e:e} over [{lo}, {hi}]");
    }
}

#[test]
fn special_values() {
    let m = &mut ScalarMath;
    assert_eq!(math::log(m, 0.0), f32::NEG_INFINITY);
    assert_eq!(math::log(m, -0.0), f32::NEG_INFINITY);
    assert!(math::log(m, -1.0).is_nan());
    assert_eq!(math::log(m, f32::INFINITY), f32::INFINITY);
    assert_eq!(math::log(m, 1.0), 0.0);
    let sub = f32::from_bits(1234);
    assert!((math::log(m, sub) as f64 - (sub as f64).ln()).abs() < 1e-5);
    assert_eq!(math::tanh(m, f32::INFINITY), 1.0);
    assert_eq!(math::tanh(m, f32::NEG_INFINITY), -1.0);
    assert!(math::tanh(m, -0.0).is_sign_negative());
    assert_eq!(math::erf(m, f32::INFINITY), 1.0);
    assert_eq!(math::erf(m, f32::NEG_INFINITY), -1.0);
    assert_eq!(math::sigmoid(m, -200.0), 0.0);
    assert_eq!(math::sigmoid(m, 200.0), 1.0);
    for f in [math::tanh, math::erf, math::sigmoid, math::log] {
        assert!(f(m, f32::NAN).is_nan());
    }
}

/// How many representable f32 values lie between `a` and `b` (both finite, of one sign or zero).
fn ulps_apart(a: f32, b: f32) -> u32 {
    (a.to_bits() as i32).abs_diff(b.to_bits() as i32)
}

#[test]
fn exp_is_within_an_ulp_of_libm_where_it_is_normal() {
    let m = &mut ScalarMath;
    // Every 997th f32 of [-87.33, 88.376] (both signs, all magnitudes down to the subnormals).
    for (lo, hi) in [(0.0f32, 88.376f32), (-0.0, -87.33)] {
        let mut bits = lo.to_bits();
        while f32::from_bits(bits).abs() <= hi.abs() {
            let x = f32::from_bits(bits);
            let (got, want) = (math::exp(m, x), x.exp());
            assert!(ulps_apart(got, want) <= 1, "exp({x:e}) = {got:e}, libm {want:e}");
            bits += 997;
        }
    }
}

#[test]
fn exp_at_the_edges_of_its_range() {
    let m = &mut ScalarMath;
    assert_eq!(math::exp(m, 0.0), 1.0);
    assert_eq!(math::exp(m, -0.0), 1.0);
    assert_eq!(math::exp(m, 1e-40), 1.0);
    assert_eq!(math::exp(m, f32::INFINITY), f32::INFINITY);
    assert_eq!(math::exp(m, f32::NEG_INFINITY).to_bits(), 0.0f32.to_bits());
    assert!(math::exp(m, f32::NAN).is_nan());
    assert!(math::exp(m, -f32::NAN).is_nan());
    // The largest finite result, then +inf from x = 88.3763 on (libm: from 88.7229).
    let top = 88.376_26f32;
    assert!(ulps_apart(math::exp(m, top), top.exp()) <= 1);
    for x in [88.3763, 88.5, 88.73, 89.0, 1e4, f32::MAX] {
        assert_eq!(math::exp(m, x), f32::INFINITY, "exp({x})");
    }
    // Subnormal results between -87.34 and -87.68 (within two of libm's, which rounds once), zero below.
    for x in [-87.34f32, -87.4, -87.5, -87.6, -87.67] {
        let (got, want) = (math::exp(m, x), x.exp());
        assert!(got.is_subnormal() && ulps_apart(got, want) <= 2, "exp({x}) = {got:e}, libm {want:e}");
    }
    for x in [-87.69f32, -88.0, -100.0, f32::MIN] {
        assert_eq!(math::exp(m, x).to_bits(), 0, "exp({x})");
    }
}

#[test]
fn bf16_rounding_matches_the_half_crate_bit_for_bit() {
    let mut rng = Rng::new(21);
    let specials = [0.0f32, -0.0, 1.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::MAX, f32::MIN_POSITIVE];
    let bits = (0..100_000).map(|_| rng.next_u64() as u32).chain(specials.iter().map(|x| x.to_bits()));
    // Ties: exactly half-way patterns, odd and even.
    let ties = [0x3f80_8000u32, 0x3f81_8000, 0xbf80_8000, 0x7f7f_8000, 0x7f80_0001, 0xffc0_0001];
    for b in bits.chain(ties) {
        let x = f32::from_bits(b);
        assert_eq!(math::bf16_bits(x), bf16::from_f32(x).to_bits(), "{b:#x}");
    }
}

#[test]
fn min_max_ignore_a_nan_operand() {
    let m = &mut ScalarMath;
    assert_eq!(math::max(m, f32::NAN, 1.0), 1.0);
    assert_eq!(math::max(m, 1.0, f32::NAN), 1.0);
    assert_eq!(math::min(m, f32::NAN, -1.0), -1.0);
    assert!(math::max(m, f32::NAN, f32::NAN).is_nan());
    assert_eq!(math::max(m, 2.0, 3.0), 3.0);
    assert_eq!(math::min(m, 2.0, 3.0), 2.0);
}

/// The reduction steps are `max`/`min` for every accumulator a reduction can hold (never NaN): a NaN element is
/// ignored, and of two equal values (+0 and -0) the accumulator keeps its own.
#[test]
fn reduction_steps_are_min_max_keeping_the_accumulator_on_ties() {
    let m = &mut ScalarMath;
    let mut rng = Rng::new(41);
    let mut special = vec![0.0, -0.0, 1.0, -1.0, f32::INFINITY, f32::NEG_INFINITY, f32::MIN_POSITIVE, 1e-45];
    special.extend((0..64).map(|_| rng.f32(-4.0, 4.0)));
    let nans = [f32::NAN, -f32::NAN, f32::from_bits(0x7f80_0001)];
    for &acc in &special {
        for &x in special.iter().chain(&nans) {
            let tie = acc == x;
            let want = if tie { acc } else { math::max(m, acc, x) };
            assert_eq!(math::reduce_max(m, acc, x).to_bits(), want.to_bits(), "max({acc:?}, {x:?})");
            let want = if tie { acc } else { math::min(m, acc, x) };
            assert_eq!(math::reduce_min(m, acc, x).to_bits(), want.to_bits(), "min({acc:?}, {x:?})");
        }
    }
    assert_eq!(math::reduce_max(m, 0.0, -0.0).to_bits(), 0.0f32.to_bits());
    assert_eq!(math::reduce_max(m, -0.0, 0.0).to_bits(), (-0.0f32).to_bits());
}
