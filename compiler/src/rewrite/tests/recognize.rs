//! Tests of the `recognize/` rules: decomposed activations become one operator, which then fuses.
use super::{check, B};
use crate::ir::ValueId;
use accel_ops::op::{BinaryOp, UnaryOp};

fn relu6_x_plus_3(b: &mut B, x: ValueId) -> ValueId {
    let three = b.scalar(3.0);
    let a = b.binary("add3", BinaryOp::Add, x, three);
    b.unary("relu6", UnaryOp::Clip { min: 0.0, max: 6.0 }, a)
}

#[test]
fn silu_from_sigmoid_times_x() {
    let mut b = B::new();
    let x = b.input(&[1, 2, 3, 4]);
    let s = b.unary("sig", UnaryOp::Sigmoid, x);
    let y = b.binary("mul", BinaryOp::Mul, s, x);
    let g = b.finish(&[y]);
    check(&g, "recognize/silu", &["mul.out = silu(in0) : f32[1x2x3x4] @tile  # sig+mul"]);
}

#[test]
fn silu_after_conv_fuses() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 5, 5]);
    let c = b.conv("c", x, 4, 3, false);
    let y = b.bn("bn", c);
    let s = b.unary("sig", UnaryOp::Sigmoid, y);
    let y = b.binary("mul", BinaryOp::Mul, y, s);
    let g = b.finish(&[y]);
    check(&g, "recognize/silu", &["mul.out = conv.silu(in0, const f32[4x3x3x3], const f32[4])", "# c+bn+sig+mul"]);
}

#[test]
fn hard_sigmoid_from_relu6() {
    let mut b = B::new();
    let x = b.input(&[1, 2, 3, 4]);
    let r = relu6_x_plus_3(&mut b, x);
    let six = b.scalar(6.0);
    let y = b.binary("div6", BinaryOp::Div, r, six);
    let g = b.finish(&[y]);
    check(&g, "recognize/hard-sigmoid", &["div6.out = hard-sigmoid(in0) : f32[1x2x3x4] @tile  # add3+relu6+div6"]);
}

#[test]
fn hard_swish_from_x_relu6_over_6() {
    let mut b = B::new();
    let x = b.input(&[1, 2, 3, 4]);
    let r = relu6_x_plus_3(&mut b, x);
    let m = b.binary("mul", BinaryOp::Mul, x, r);
    let six = b.scalar(6.0);
    let y = b.binary("div6", BinaryOp::Div, m, six);
    let g = b.finish(&[y]);
    check(&g, "recognize/hard-swish", &["div6.out = hard-swish(in0) : f32[1x2x3x4] @tile  # add3+relu6+mul+div6"]);
}

#[test]
fn hard_swish_from_x_times_hard_sigmoid_fuses_into_conv() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 5, 5]);
    let c = b.conv("c", x, 4, 3, true);
    let h = b.unary("hsig", UnaryOp::HardSigmoid { alpha: 1.0 / 6.0, beta: 0.5 }, c);
    let y = b.binary("mul", BinaryOp::Mul, c, h);
    let g = b.finish(&[y]);
    check(
        &g,
        "recognize/hard-swish",
        &["mul.out = conv.hard-swish(in0, const f32[4x3x3x3], const f32[4])", "# c+hsig+mul"],
    );
}

#[test]
fn gelu_from_erf() {
    let mut b = B::new();
    let x = b.input(&[2, 8]);
    let s2 = b.scalar(std::f32::consts::SQRT_2);
    let d = b.binary("div", BinaryOp::Div, x, s2);
    let e = b.unary("erf", UnaryOp::Erf, d);
    let one = b.scalar(1.0);
    let a = b.binary("add", BinaryOp::Add, e, one);
    let m = b.binary("mul", BinaryOp::Mul, x, a);
    let half = b.scalar(0.5);
    let y = b.binary("mul_1", BinaryOp::Mul, m, half);
    let g = b.finish(&[y]);
    // x1's tiles do not run gelu: the one gelu runs on the host.
    check(&g, "recognize/gelu", &["mul_1.out = gelu(in0) : f32[2x8] @host  # div+erf+add+mul+mul_1"]);
}

#[test]
fn gelu_with_the_half_first() {
    let mut b = B::new();
    let x = b.input(&[2, 8]);
    let half = b.scalar(0.5);
    let h = b.binary("half", BinaryOp::Mul, half, x);
    let k = b.scalar(std::f32::consts::FRAC_1_SQRT_2);
    let d = b.binary("scale", BinaryOp::Mul, x, k);
    let e = b.unary("erf", UnaryOp::Erf, d);
    let one = b.scalar(1.0);
    let a = b.binary("add", BinaryOp::Add, one, e);
    let y = b.binary("mul", BinaryOp::Mul, h, a);
    let g = b.finish(&[y]);
    check(&g, "recognize/gelu", &["mul.out = gelu(in0)"]);
}

#[test]
fn near_misses_are_not_recognized() {
    // x * sigmoid(y) with y != x, and relu6(x + 2) / 6, stay as they are.
    let mut b = B::new();
    let x = b.input(&[1, 2, 3, 4]);
    let y = b.input(&[1, 2, 3, 4]);
    let s = b.unary("sig", UnaryOp::Sigmoid, y);
    let m = b.binary("mul", BinaryOp::Mul, x, s);
    let two = b.scalar(2.0);
    let a = b.binary("add2", BinaryOp::Add, m, two);
    let r = b.unary("relu6", UnaryOp::Clip { min: 0.0, max: 6.0 }, a);
    let six = b.scalar(6.0);
    let z = b.binary("div6", BinaryOp::Div, r, six);
    let g = b.finish(&[z]);
    super::check_with(&g, &accel_ops::target::Target::x1(), &Default::default(), None, &["!silu", "!hard-"]);
}

#[test]
fn layer_norm_is_reported_as_one_fused_op() {
    use accel_ops::op::{Op, Reduce, ReduceKind};
    let mut b = B::new();
    let x = b.input(&[1, 4, 16]);
    let mean = |b: &mut B, name: &str, v| {
        b.op(name, Op::Reduce(Reduce { kind: ReduceKind::Mean, axes: vec![2], keepdims: true }), &[v])
    };
    let m = mean(&mut b, "mean", x);
    let d = b.binary("sub", BinaryOp::Sub, x, m);
    let two = b.scalar(2.0);
    let sq = b.binary("pow", BinaryOp::Pow, d, two);
    let v = mean(&mut b, "var", sq);
    let eps = b.scalar(1e-5);
    let ve = b.binary("eps", BinaryOp::Add, v, eps);
    let s = b.unary("sqrt", UnaryOp::Sqrt, ve);
    let n = b.binary("div", BinaryOp::Div, d, s);
    let gamma = b.konst(&[16], 0.5, 1.5);
    let y = b.binary("scale", BinaryOp::Mul, n, gamma);
    let beta = b.konst(&[16], -0.5, 0.5);
    let y = b.binary("shift", BinaryOp::Add, y, beta);
    let g = b.finish(&[y]);
    let (_, r) = check(
        &g,
        "simplify/square",
        &["fused layer-norm @host: mean + sub + pow + var + eps + sqrt + div + scale + shift"],
    );
    // Recognized as one operator, it is no longer reported as a group of several.
    assert!(r.groups.is_empty());
}
