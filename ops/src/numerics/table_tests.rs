//! Edge cases of the lookup-table activation: its place in the operand, its order after the residual and the
//! clamp, saturation at the int8 ends, zero points, rounding, and monotone functions giving monotone tables.
use super::*;
use crate::numerics::requant::{QuantHeader, QuantParams};
use crate::op::{Conv, Op};
use crate::tensor::Tensor;

/// Monotone activations (SiLU, GELU and HardSwish dip below zero: not monotone).
const MONOTONE: [UnaryOp; 3] = [UnaryOp::Sigmoid, UnaryOp::Tanh, UnaryOp::HardSigmoid { alpha: 0.2, beta: 0.5 }];

/// `entries[u + 128]` for pre-activation `u`.
fn at(t: &Table, u: i32) -> i8 {
    lookup(t, u as i8)
}

#[test]
fn a_table_rides_between_the_header_and_the_pairs() {
    let table: Table = std::array::from_fn(|i| (i as i32 - 128).wrapping_mul(3) as i8);
    let q = QuantParams {
        header: QuantHeader { y_zero: 4, ..Default::default() },
        table: Some(table),
        channels: vec![(7, 8)],
    };
    let w = q.to_words();
    assert_eq!(w.len(), 8 + 64 + 2);
    assert_eq!(w[8], i32::from_le_bytes([table[0] as u8, table[1] as u8, table[2] as u8, table[3] as u8]));
    assert_eq!(&w[72..], &[7, 8]);
    assert_eq!(QuantParams::from_words(&w, true).unwrap(), q);
    let bytes: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(QuantParams::from_le_bytes(&bytes, true).unwrap(), q);
    assert_eq!(QuantParams::bytes(1, true), Some(32 + 256 + 8));
    // Without its table the operand is too short (or the pairs are odd): an error, never a panic.
    assert!(QuantParams::from_words(&w[..8 + 2], true).is_err());
    assert!(QuantParams::from_words(&w[..71], true).is_err());
}

/// The table is applied last: to the pre-activation after the residual, the zero point and the clamp.
#[test]
fn the_table_follows_the_residual_and_the_clamp() {
    // A table that reveals its index: entry u + 128 is -u (saturated).
    let neg: Table = std::array::from_fn(|i| (128 - i as i32).min(127) as i8);
    let header =
        QuantHeader { y_zero: 2, y_min: -20, y_max: 30, r_zero: 1, r_mult: 1 << 30, r_shift: 1, ..Default::default() };
    let q = QuantParams { header, table: Some(neg), channels: vec![(1 << 30, 1)] };
    assert_eq!(q.output(10, 0, None), -12); // u = 2 + 10
    assert_eq!(q.output(10, 0, Some(6)), -17); // u = 2 + 10 + (6 - 1)
    assert_eq!(q.output(100, 0, None), -30); // u clamps at y_max = 30 first
    assert_eq!(q.output(-100, 0, None), 20); // and at y_min = -20
    assert_eq!(q.output(-1000, 0, Some(-128)), 20);
    let plain = QuantParams { table: None, ..q.clone() };
    assert_eq!(plain.output(10, 0, Some(6)), 17);
}

#[test]
fn tables_saturate_at_the_int8_ends() {
    // Pre-activation over [-12.8, 12.7]; an output scale of 1/254 puts tanh's +-1 at +-254: far past int8.
    let t = build(UnaryOp::Tanh, (0.1, 0), (1.0 / 254.0, 0)).unwrap();
    assert_eq!((at(&t, -128), at(&t, 127)), (-128, 127));
    assert_eq!(at(&t, 0), 0);
    // A sigmoid over a wide range with the output's full range [0, 1]: the ends are the int8 ends exactly.
    let t = build(UnaryOp::Sigmoid, (0.5, 0), (1.0 / 255.0, -128)).unwrap();
    assert_eq!((at(&t, -128), at(&t, 127)), (-128, 127));
    // A shifted output zero point clamps too, not wraps.
    let t = build(UnaryOp::Sigmoid, (0.5, 0), (1.0 / 255.0, -100)).unwrap();
    assert_eq!(at(&t, 127), 127);
    assert_eq!(at(&t, -128), -100);
}

#[test]
fn zero_points_place_zero() {
    // f(0) = 0 for these: the pre-activation's zero point maps to the output's.
    for act in [UnaryOp::Silu, UnaryOp::Tanh, UnaryOp::HardSwish, UnaryOp::Gelu] {
        for (pz, oz) in [(0, 0), (-37, 12), (90, -128), (-128, 127)] {
            let t = build(act, (0.05, pz), (0.02, oz)).unwrap();
            assert_eq!(at(&t, pz), oz as i8, "{act:?} pre zero {pz} out zero {oz}");
        }
    }
    // sigmoid(0) = 0.5: the output zero point plus 0.5 / scale.
    let t = build(UnaryOp::Sigmoid, (0.05, -10), (0.01, -128)).unwrap();
    assert_eq!(at(&t, -10), -78);
}

#[test]
fn rounding_is_half_away_from_zero_in_f64() {
    // clip(x, 0, 1) as a HardSigmoid; pre scale 0.5, output scale 1: u = 1 gives exactly 0.5 -> 1 (half to
    // even would give 0), u = 3 gives 1.5 clamped to 1.0 -> 1.
    let t = build(UnaryOp::HardSigmoid { alpha: 1.0, beta: 0.0 }, (0.5, 0), (1.0, 0)).unwrap();
    assert_eq!([at(&t, -1), at(&t, 0), at(&t, 1), at(&t, 2), at(&t, 3)], [0, 0, 1, 1, 1]);
    // HardSwish(-1.5) = -0.375; at output scale 0.25 that is -1.5 -> -2.
    let t = build(UnaryOp::HardSwish, (0.5, 0), (0.25, 0)).unwrap();
    assert_eq!(at(&t, -3), -2);
}

#[test]
fn monotone_functions_give_monotone_tables() {
    for act in MONOTONE {
        for (ps, pz, os, oz) in [(0.05, 0, 0.01, -128), (0.3, -40, 0.004, -20), (0.01, 100, 0.1, 5)] {
            let t = build(act, (ps, pz), (os, oz)).unwrap();
            assert!(t.windows(2).all(|w| w[0] <= w[1]), "{act:?} {ps} {pz} {os} {oz}: {t:?}");
            assert!(t[0] < t[255], "{act:?} {ps} {pz} {os} {oz}: a constant table");
        }
    }
}

#[test]
fn only_functions_and_scales_with_a_table() {
    assert!(build(UnaryOp::Relu, (0.1, 0), (0.1, 0)).is_none());
    assert!(build(UnaryOp::Exp, (0.1, 0), (0.1, 0)).is_none());
    assert!(build(UnaryOp::Silu, (0.0, 0), (0.1, 0)).is_none());
    assert!(build(UnaryOp::Silu, (0.1, 0), (f32::NAN, 0)).is_none());
    assert!(build(UnaryOp::Silu, (0.1, 0), (f32::INFINITY, 0)).is_none());
    // Deterministic: the same inputs give the same bytes.
    assert_eq!(build(UnaryOp::Gelu, (0.03, 7), (0.02, -3)), build(UnaryOp::Gelu, (0.03, 7), (0.02, -3)));
}

/// A graph-level int8 Conv with `act` reads its table from Q (`[8 + 64 + 2K]`) and applies it.
#[test]
fn an_int8_conv_node_with_act_applies_its_table() {
    let x = Tensor::from_i8(vec![1, 1, 1, 3], vec![-5, 0, 9]).unwrap();
    let w = Tensor::from_i8(vec![1, 1, 1, 1], vec![1]).unwrap();
    let b = Tensor::from_i32(vec![1], vec![0]).unwrap();
    let t = build(UnaryOp::Silu, (0.1, 0), (0.1, 0)).unwrap();
    let q = QuantParams { header: QuantHeader::default(), table: Some(t), channels: vec![(1 << 30, 1)] };
    let qt = Tensor::from_i32(vec![8 + 64 + 2], q.to_words()).unwrap();
    let c =
        Conv { kernel: [1; 2], strides: [1; 2], dilations: [1; 2], pads: [0; 4], group: 1, act: Some(UnaryOp::Silu) };
    let y = Op::Conv(c.clone()).eval(&[&x, &w, &b, &qt]).unwrap();
    assert_eq!(y.as_i8().unwrap(), &[at(&t, -5), at(&t, 0), at(&t, 9)]);
    // silu(-0.5) = -0.1888 -> -2; silu(0.9) = 0.6399 -> 6.
    assert_eq!(y.as_i8().unwrap(), &[-2, 0, 6]);
    // Without the table's words the node is refused, as is a table without an act.
    let short =
        Tensor::from_i32(vec![8 + 2], q.to_words()[..8].iter().chain(&[1 << 30, 1]).copied().collect()).unwrap();
    assert!(Op::Conv(c).eval(&[&x, &w, &b, &short]).is_err());
    let plain = Conv { act: None, kernel: [1; 2], strides: [1; 2], dilations: [1; 2], pads: [0; 4], group: 1 };
    assert!(Op::Conv(plain).eval(&[&x, &w, &b, &qt]).is_err());
}
