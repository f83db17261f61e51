//! Edge cases of the numerics definitions: bf16 rounding (ties, NaN, infinities, subnormals, overflow),
//! requantization rounding and saturation, multiplier decomposition, quantize/dequantize, and the MAC kernels
//! on small exact cases.
use super::bf16::round;
use super::requant::{dequantize, output, quantize, quantize_multiplier, requantize, QuantHeader, QuantParams};
use super::*;
use crate::op::{Conv, Gemm, Op, Quant, UnaryOp};
use half::bf16;

/// An independent bit-level round-to-nearest-even, to check `round` against.
fn rne_bits(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) as u16) | 0x0040;
    }
    let upper = b >> 16;
    let lower = b & 0xFFFF;
    let up = lower > 0x8000 || (lower == 0x8000 && upper & 1 == 1);
    (upper + up as u32) as u16
}

fn check_round(bits: u32, want: u16) {
    let x = f32::from_bits(bits);
    assert_eq!(round(x).to_bits(), want, "round({bits:#010x})");
    assert_eq!(rne_bits(x), want, "independent rne({bits:#010x})");
}

#[test]
fn bf16_ties_go_to_even() {
    check_round(0x3F80_8000, 0x3F80); // 1 + 2^-8: tie, 0x3F80 is even
    check_round(0x3F81_8000, 0x3F82); // tie, rounds up to even
    check_round(0x3F80_8001, 0x3F81); // just above the tie
    check_round(0x3F80_7FFF, 0x3F80); // just below
    check_round(0xBF80_8000, 0xBF80); // negative tie, even
    check_round(0xBF81_8000, 0xBF82);
}

#[test]
fn bf16_specials() {
    check_round(0x7F80_0000, 0x7F80); // +inf
    check_round(0xFF80_0000, 0xFF80); // -inf
    check_round(0x0000_0000, 0x0000);
    check_round(0x8000_0000, 0x8000); // -0 keeps its sign
    check_round(0x7F7F_FFFF, 0x7F80); // f32::MAX rounds past the largest bf16: inf
    check_round(0x7F7F_7FFF, 0x7F7F); // stays the largest finite bf16
    assert!(round(f32::NAN).to_f32().is_nan());
    // A signalling NaN whose payload lives only in the low bits must stay NaN (not become inf).
    let snan = f32::from_bits(0x7F80_0001);
    assert!(round(snan).to_f32().is_nan());
    assert!(round(f32::from_bits(0xFF80_0001)).to_f32().is_nan());
}

#[test]
fn bf16_subnormals() {
    check_round(0x0000_8000, 0x0000); // tie at the smallest subnormal step: even (zero)
    check_round(0x0001_8000, 0x0002); // tie: up to even
    check_round(0x0000_8001, 0x0001);
    check_round(0x007F_FFFF, 0x0080); // largest f32 subnormal rounds up to the smallest normal
    check_round(0x8001_0000, 0x8001); // a negative bf16 subnormal is exact
                                      // Widening back is exact for every bf16.
    for bits in [0x0001u16, 0x0080, 0x3F80, 0x7F7F, 0x8001, 0xFF7F] {
        assert_eq!(round(bf16::from_bits(bits).to_f32()).to_bits(), bits);
    }
}

#[test]
fn bf16_round_matches_the_independent_rounding_on_many_values() {
    let mut x = 0x1234_5678u32;
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let f = f32::from_bits(x);
        if f.is_nan() {
            assert!(round(f).to_f32().is_nan());
        } else {
            assert_eq!(round(f).to_bits(), rne_bits(f), "{x:#010x}");
        }
    }
}

/// `round(v * m / 2^(31 - s))`, ties away from zero, in exact i128 arithmetic.
fn requant_exact(v: i32, m: i32, s: i32) -> i32 {
    let t = 31 - s.clamp(-31, 30);
    let p = v as i128 * m as i128;
    let d = 1i128 << t;
    let (q, r) = (p.abs() / d, p.abs() % d);
    let mag = if 2 * r >= d { q + 1 } else { q };
    let v = if p < 0 { -mag } else { mag };
    v.clamp(i32::MIN as i128, i32::MAX as i128) as i32
}

#[test]
fn requant_ties_round_away_from_zero() {
    let half = 1 << 30; // m = 2^30, shift 0: the factor 1/2
    assert_eq!(requantize(1, half, 0), 1); // 0.5 -> 1
    assert_eq!(requantize(-1, half, 0), -1); // -0.5 -> -1
    assert_eq!(requantize(3, half, 0), 2); // 1.5 -> 2
    assert_eq!(requantize(-3, half, 0), -2);
    assert_eq!(requantize(5, half, 0), 3); // 2.5 -> 3 (not to even)
    assert_eq!(requantize(1, half, -1), 0); // 0.25 -> 0
    assert_eq!(requantize(3, half, -1), 1); // 0.75 -> 1
    assert_eq!(requantize(-3, half, -1), -1);
    assert_eq!(requantize(0, i32::MAX, 30), 0);
    assert_eq!(requantize(7, 0, 5), 0);
}

#[test]
fn requant_saturates_and_clamps_the_shift() {
    assert_eq!(requantize(i32::MAX, i32::MAX, 30), i32::MAX);
    assert_eq!(requantize(i32::MIN, i32::MAX, 30), i32::MIN);
    assert_eq!(requantize(i32::MIN, i32::MIN, 30), i32::MAX);
    // Shifts outside [-31, 30] act as the nearest bound.
    assert_eq!(requantize(1000, 1 << 30, 99), requantize(1000, 1 << 30, 30));
    assert_eq!(requantize(1 << 30, 1 << 30, -99), requantize(1 << 30, 1 << 30, -31));
    assert_eq!(requantize(i32::MAX, i32::MAX, -31), 1); // (2^31-1)^2 / 2^62 ~= 1 - 2^-30: rounds to 1
}

#[test]
fn requant_matches_exact_rational_rounding() {
    let mut x = 0x9E37_79B9u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..100_000 {
        let v = next() as i32 >> (next() % 24);
        let m = (next() as i32).wrapping_abs();
        let s = (next() % 64) as i32 - 33;
        assert_eq!(requantize(v, m, s), requant_exact(v, m, s), "v={v} m={m} s={s}");
    }
}

#[test]
fn multiplier_decomposition_is_precise() {
    for real in [1.0, 0.5, 0.25, 0.75, 1e-3, 0.0123456, 3.5, 1234.5, 2e-9, 1e-12] {
        let (m, s) = quantize_multiplier(real).unwrap();
        let back = m as f64 * 2f64.powi(s - 31);
        let tol = if s > -31 { real * 2f64.powi(-30) } else { 2f64.powi(-62) };
        assert!((back - real).abs() <= tol, "{real}: m={m} s={s} -> {back}");
        if s > -31 {
            assert!((1 << 30..=i32::MAX).contains(&m), "{real}: m={m} not normalized");
        }
    }
    assert_eq!(quantize_multiplier(0.0).unwrap(), (0, 0));
    assert!(quantize_multiplier(-1.0).is_err());
    assert!(quantize_multiplier(f64::NAN).is_err());
    assert!(quantize_multiplier(2f64.powi(31)).is_err());
    // requantize by the decomposition of 0.5 halves exactly.
    let (m, s) = quantize_multiplier(0.5).unwrap();
    assert_eq!(requantize(1000, m, s), 500);
}

#[test]
fn quantize_rounds_half_to_even_and_saturates() {
    assert_eq!(quantize(0.5, 1.0, 0), 0);
    assert_eq!(quantize(1.5, 1.0, 0), 2);
    assert_eq!(quantize(2.5, 1.0, 0), 2);
    assert_eq!(quantize(-2.5, 1.0, 0), -2);
    assert_eq!(quantize(1000.0, 1.0, 0), 127);
    assert_eq!(quantize(-1000.0, 1.0, 0), -128);
    assert_eq!(quantize(f32::INFINITY, 0.1, 3), 127);
    assert_eq!(quantize(f32::NAN, 0.1, 3), 3);
    assert_eq!(quantize(0.0, 0.1, -128), -128);
    assert_eq!(dequantize(-128, 0.5, -128), 0.0);
    assert_eq!(dequantize(127, 0.5, -1), 64.0);
}

#[test]
fn output_clamps_and_adds_the_residual() {
    let h = QuantHeader {
        y_zero: -10,
        y_min: -10,
        y_max: 100,
        r_zero: 5,
        r_mult: 1 << 30,
        r_shift: 1,
        ..Default::default()
    };
    let one = (1 << 30, 1); // factor 1
    assert_eq!(output(50, one, &h, None), 40);
    assert_eq!(output(-50, one, &h, None), -10); // the Relu clamp at y_zero
    assert_eq!(output(500, one, &h, None), 100);
    assert_eq!(output(50, one, &h, Some(25)), 60); // + (25 - 5) * 1
                                                   // Bounds outside int8 or crossed never panic.
    let wild = QuantHeader { y_min: 1000, y_max: -1000, ..Default::default() };
    let _ = output(i32::MAX, (i32::MAX, 30), &wild, Some(-128));
}

#[test]
fn quant_words_round_trip() {
    let q = QuantParams {
        header: QuantHeader { x_zero: 3, ..Default::default() },
        table: None,
        channels: vec![(1 << 30, -3), (1 << 30, 2)],
    };
    let w = q.to_words();
    assert_eq!(w.len(), 8 + 4);
    assert_eq!(QuantParams::from_words(&w, false).unwrap(), q);
    let bytes: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(QuantParams::from_le_bytes(&bytes, false).unwrap(), q);
    assert!(QuantParams::from_words(&w[..9], false).is_err());
    assert_eq!(QuantParams::bytes(2, false), Some(48));
}

fn conv_op(k: usize, pad: usize, group: usize, act: Option<UnaryOp>) -> Conv {
    Conv { kernel: [k; 2], strides: [1; 2], dilations: [1; 2], pads: [pad; 4], group, act }
}

#[test]
fn bf16_conv_rounds_once_after_an_f32_sum() {
    // 1 + 2^-8 * 3 terms: each input is exact in bf16, the f32 sum is exact, the result rounds once.
    let x = Tensor::from_bf16(vec![1, 4, 1, 1], [1.0, 2f32.powi(-8), 2f32.powi(-8), 2f32.powi(-8)].map(round).to_vec())
        .unwrap();
    let w = Tensor::from_bf16(vec![1, 4, 1, 1], vec![round(1.0); 4]).unwrap();
    let y = Op::Conv(conv_op(1, 0, 1, None)).eval(&[&x, &w]).unwrap();
    // 1 + 3 * 2^-8 = 1.01171875: between bf16 1.0078125 and 1.015625, nearer the latter.
    assert_eq!(y.as_bf16().unwrap()[0].to_f32(), 1.015625);
    assert_eq!(y.dtype(), DType::BF16);
}

#[test]
fn bf16_conv_matches_f32_on_exact_values() {
    // Small integers: every product and sum is exact, so bf16 equals f32 exactly (bias, residual, act too).
    let (c, k, h) = (3, 4, 5);
    let xs: Vec<f32> = (0..c * h * h).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
    let ws: Vec<f32> = (0..k * c * 9).map(|i| ((i * 5) % 7) as f32 - 3.0).collect();
    let bs: Vec<f32> = (0..k).map(|i| i as f32 - 1.5).collect();
    let rs: Vec<f32> = (0..k * h * h).map(|i| (i % 5) as f32).collect();
    let op = Op::Conv(conv_op(3, 1, 1, Some(UnaryOp::Relu)));
    let f = |v: &[f32], d: Vec<usize>| Tensor::from_f32(d, v.to_vec()).unwrap();
    let b = |v: &[f32], d: Vec<usize>| Tensor::from_bf16(d, super::bf16::round_all(v)).unwrap();
    let want = op
        .eval(&[&f(&xs, vec![1, c, h, h]), &f(&ws, vec![k, c, 3, 3]), &f(&bs, vec![k]), &f(&rs, vec![1, k, h, h])])
        .unwrap();
    let got = op
        .eval(&[&b(&xs, vec![1, c, h, h]), &b(&ws, vec![k, c, 3, 3]), &f(&bs, vec![k]), &b(&rs, vec![1, k, h, h])])
        .unwrap();
    assert_eq!(got.to_f32_vec(), want.to_f32_vec());
    assert!(op.infer(&[got.ty(), TensorType::f32(vec![k, c, 3, 3])]).is_err(), "mixed dtypes are refused");
}

#[test]
fn bf16_gemm_needs_unit_scales_and_matches_exact_values() {
    let a = Tensor::from_bf16(vec![2, 3], super::bf16::round_all(&[1.0, 2.0, 3.0, -1.0, 0.5, 4.0])).unwrap();
    let b = Tensor::from_bf16(vec![2, 3], super::bf16::round_all(&[1.0, 0.0, 1.0, 2.0, 2.0, 2.0])).unwrap();
    let c = Tensor::from_f32(vec![2], vec![0.25, -1.0]).unwrap();
    let g = Gemm { alpha: 1.0, beta: 1.0, trans_a: false, trans_b: true, act: None };
    let y = Op::Gemm(g.clone()).eval(&[&a, &b, &c]).unwrap();
    assert_eq!(y.to_f32_vec(), vec![4.25, 11.0, 3.25, 6.0]);
    let scaled = Gemm { alpha: 2.0, ..g };
    assert!(Op::Gemm(scaled).eval(&[&a, &b, &c]).is_err());
}

#[test]
fn int8_conv_with_unit_requant_is_the_integer_sum() {
    // x_zero 1, factor 1 (m = 2^30, shift 1), y_zero 0: y = bias + sum (x - 1) * w, clamped to int8.
    let x = Tensor::from_i8(vec![1, 2, 2, 2], vec![1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    let w = Tensor::from_i8(vec![1, 2, 1, 1], vec![2, -1]).unwrap();
    let b = Tensor::from_i32(vec![1], vec![10]).unwrap();
    let q = QuantParams {
        header: QuantHeader { x_zero: 1, ..Default::default() },
        table: None,
        channels: vec![(1 << 30, 1)],
    };
    let qt = Tensor::from_i32(vec![10], q.to_words()).unwrap();
    let y = Op::Conv(conv_op(1, 0, 1, None)).eval(&[&x, &w, &b, &qt]).unwrap();
    let want: Vec<i8> = (0..4).map(|i| (10 + 2 * i - (i + 4)) as i8).collect();
    assert_eq!(y.as_i8().unwrap(), &want[..]);
    // Padding reads the zero point: a 3x3 all-ones kernel over a block of x_zero gives the bias.
    let xz = Tensor::from_i8(vec![1, 1, 2, 2], vec![1; 4]).unwrap();
    let w1 = Tensor::from_i8(vec![1, 1, 3, 3], vec![1; 9]).unwrap();
    let y = Op::Conv(conv_op(3, 1, 1, None)).eval(&[&xz, &w1, &b, &qt]).unwrap();
    assert_eq!(y.as_i8().unwrap(), &[10; 4]);
}

#[test]
fn quant_op_round_trips_within_half_a_step() {
    let x = Tensor::from_f32(vec![5], vec![-1.0, -0.3, 0.0, 0.49, 1.2]).unwrap();
    let q = Op::Quant(Quant { scale: 0.01, zero_point: -5, to: DType::I8 });
    let d = Op::Quant(Quant { scale: 0.01, zero_point: -5, to: DType::F32 });
    let back = d.eval(&[&q.eval(&[&x]).unwrap()]).unwrap();
    for (a, b) in back.to_f32_vec().iter().zip(x.to_f32_vec()) {
        assert!((a - b).abs() <= 0.005 + 1e-6, "{a} vs {b}");
    }
    assert!(Op::Quant(Quant { scale: 0.0, zero_point: 0, to: DType::I8 }).infer(&[x.ty()]).is_err());
    assert_eq!(Op::Quant(Quant { scale: 1.0, zero_point: 0, to: DType::I8 }).kind(), "quantize");
}

#[test]
fn sqnr_of_known_noise() {
    let want = vec![1.0f32; 100];
    let got: Vec<f32> = want.iter().map(|v| v + 0.01).collect();
    assert!((sqnr_db(&got, &want) - 40.0).abs() < 1e-3);
    assert_eq!(sqnr_db(&want, &want), f64::INFINITY);
}

/// A fused LeakyReLU scales negative sums by `neg_mult / 2^31` (rounded half away from zero) before the zero
/// point and the clamp; positive sums and slopes outside `(0, 1)` are untouched.
#[test]
fn leaky_relu_requantization() {
    use super::requant::leaky_multiplier;
    assert_eq!(leaky_multiplier(0.1), Some(214748368)); // 0.1f32 is 0.100000001490116
    assert_eq!(leaky_multiplier(0.0), None);
    assert_eq!(leaky_multiplier(1.0), None);
    assert_eq!(leaky_multiplier(-0.1), None);
    assert_eq!(leaky_multiplier(f32::NAN), None);
    let h = QuantHeader { y_zero: 3, neg_mult: leaky_multiplier(0.1).unwrap(), ..Default::default() };
    let unit = (1 << 30, 1); // factor 1
    assert_eq!(output(50, unit, &h, None), 53);
    assert_eq!(output(-50, unit, &h, None), -2); // 3 + round(-5.0)
    assert_eq!(output(-45, unit, &h, None), -2); // 3 + round(-4.50000007)
    assert_eq!(output(-2000, unit, &h, None), -128); // 3 - 200 clamps
    let plain = QuantHeader { y_zero: 3, ..Default::default() };
    assert_eq!(output(-50, unit, &plain, None), -47);
}

/// `bf16::conv`'s definition written out one element at a time: bias, then every tap in (ic, ky, kx) order
/// reading zero in the padding, then residual, activation and one rounding.
fn bf16_conv_per_element(
    g: &ConvGeom,
    x: &[bf16],
    w: &[bf16],
    bias: &[f32],
    residual: Option<&[bf16]>,
    act: Option<UnaryOp>,
) -> Vec<bf16> {
    let (cg, kg) = (g.in_c / g.groups, g.out_c / g.groups);
    let [kh, kw] = g.kernel;
    let mut y = Vec::new();
    for oc in 0..g.out_c {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let mut acc = bias[oc];
                for ic in 0..cg {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let xv = g.input_index(oc / kg * cg + ic, oy, ox, ky, kx).map_or(0.0, |i| x[i].to_f32());
                            acc += xv * w[((oc * cg + ic) * kh + ky) * kw + kx].to_f32();
                        }
                    }
                }
                if let Some(r) = residual {
                    acc += r[y.len()].to_f32();
                }
                y.push(round(act.map_or(acc, |a| a.apply(acc))));
            }
        }
    }
    y
}

/// The row-structured bf16 kernel gives exactly the per-element definition's bits over strides, dilations,
/// padding, groups, pointwise shapes and blocks whose rows run past the input; signed zeros (a `-0` bias plus
/// a padded tap's `+0` product is `+0`) and an infinite weight (`0 * inf` in the padding is NaN) included.
#[test]
fn bf16_conv_rows_match_the_per_element_definition_bit_for_bit() {
    let mut next = xorshift(0x2545f4914f6cdd1d);
    for case in 0..400 {
        let (g, cg) = random_block(&mut next);
        let mut vals = |len: usize, zeros: bool| {
            (0..len)
                .map(|_| match next(if zeros { 8 } else { 1000 }) {
                    0 if zeros => bf16::ZERO,
                    1 if zeros => bf16::NEG_ZERO,
                    v => bf16::from_f32(v as f32 / 97.0 - 5.0),
                })
                .collect::<Vec<bf16>>()
        };
        let x = vals(g.in_c * g.in_h * g.in_w, true);
        let mut w = vals(g.out_c * cg * g.kernel[0] * g.kernel[1], true);
        if case % 50 == 7 {
            w[0] = bf16::INFINITY;
        }
        let bias: Vec<f32> = (0..g.out_c).map(|i| if i % 2 == 0 { -0.0 } else { i as f32 / 3.0 }).collect();
        let residual = (case % 3 == 0).then(|| vals(g.out_c * g.out_h * g.out_w, false));
        let act = [None, Some(UnaryOp::Relu)][case % 2];
        let mut got = vec![bf16::ZERO; g.out_c * g.out_h * g.out_w];
        super::bf16::conv(&g, &x, &w, Some(&bias), residual.as_deref(), act, &mut got).unwrap();
        let want = bf16_conv_per_element(&g, &x, &w, &bias, residual.as_deref(), act);
        let bits = |v: &[bf16]| v.iter().map(|b| b.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want), "{g:?}");
    }
}

/// `int8::conv`'s definition one element at a time: bias plus `(x - x_zero) * w` over the taps inside the
/// input (the padding reads the zero point), wrapping in i32, then `output`.
fn int8_conv_per_element(
    g: &ConvGeom,
    x: &[i8],
    w: &[i8],
    bias: &[i32],
    q: &QuantParams,
    residual: Option<&[i8]>,
) -> Vec<i8> {
    let (cg, kg) = (g.in_c / g.groups, g.out_c / g.groups);
    let [kh, kw] = g.kernel;
    let mut y = Vec::new();
    for oc in 0..g.out_c {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let mut acc = bias[oc];
                for ic in 0..cg {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            if let Some(i) = g.input_index(oc / kg * cg + ic, oy, ox, ky, kx) {
                                let wv = w[((oc * cg + ic) * kh + ky) * kw + kx] as i32;
                                acc = acc.wrapping_add((x[i] as i32).wrapping_sub(q.header.x_zero).wrapping_mul(wv));
                            }
                        }
                    }
                }
                let r = residual.map(|r| r[y.len()]);
                y.push(q.output(acc, oc, r));
            }
        }
    }
    y
}

/// The row-structured int8 kernel gives the per-element definition's values over strides, dilations,
/// padding, groups, pointwise shapes, zero points, per-channel multipliers and residuals.
#[test]
fn int8_conv_rows_match_the_per_element_definition() {
    let mut next = xorshift(0x9e3779b97f4a7c15);
    for case in 0..400 {
        let (g, cg) = random_block(&mut next);
        let mut bytes = |len: usize| (0..len).map(|_| (next(256) as i32 - 128) as i8).collect::<Vec<i8>>();
        let (x, w) = (bytes(g.in_c * g.in_h * g.in_w), bytes(g.out_c * cg * g.kernel[0] * g.kernel[1]));
        let residual = (case % 3 == 0).then(|| bytes(g.out_c * g.out_h * g.out_w));
        let bias: Vec<i32> = (0..g.out_c).map(|_| next(20001) as i32 - 10000).collect();
        let header = QuantHeader {
            x_zero: next(11) as i32 - 5,
            y_zero: next(21) as i32 - 10,
            r_zero: next(5) as i32 - 2,
            r_mult: if residual.is_some() { (1 << 30) + next(1 << 29) as i32 } else { 0 },
            r_shift: next(4) as i32 - 1,
            ..Default::default()
        };
        let channels = (0..g.out_c).map(|_| ((1 << 30) + next(1 << 30) as i32, next(12) as i32 - 10)).collect();
        let q = QuantParams { header, table: None, channels };
        let mut got = vec![0i8; g.out_c * g.out_h * g.out_w];
        super::int8::conv(&g, &x, &w, &bias, &q, residual.as_deref(), &mut got).unwrap();
        assert_eq!(got, int8_conv_per_element(&g, &x, &w, &bias, &q, residual.as_deref()), "{g:?}");
    }
}

/// A small deterministic random source: `next(m)` is in `0..m`.
pub(crate) fn xorshift(mut state: u64) -> impl FnMut(usize) -> usize {
    move |m: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % m as u64) as usize
    }
}

/// A random convolution block (and its input channels per group) of the shapes the row-structured kernels
/// treat apart: strides, dilations, padding, groups, output rows past the input, and a quarter pointwise.
fn random_block(next: &mut impl FnMut(usize) -> usize) -> (ConvGeom, usize) {
    let groups = 1 + next(3);
    let (cg, kg) = (1 + next(9), 1 + next(9));
    let mut g = ConvGeom {
        in_c: cg * groups,
        in_h: 1 + next(8),
        in_w: 1 + next(8),
        out_c: kg * groups,
        out_h: 1 + next(8),
        out_w: 1 + next(8),
        kernel: [1 + next(4), 1 + next(4)],
        stride: [1 + next(3), 1 + next(3)],
        dilation: [1 + next(2), 1 + next(2)],
        pad: [next(3), next(3)],
        groups,
    };
    if next(4) == 0 {
        (g.kernel, g.stride, g.pad, g.out_h, g.out_w) = ([1, 1], [1, 1], [0, 0], g.in_h, g.in_w);
    }
    (g, cg)
}
