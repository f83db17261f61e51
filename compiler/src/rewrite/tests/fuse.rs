//! Tests of the `fuse/` rules: what the MAC array applies on its way out.
use super::{check, B};
use accel_ops::op::{BinaryOp, Gemm, MatMul, Op, UnaryOp};

fn conv_then(act: UnaryOp, printed: &str) {
    let mut b = B::new();
    let x = b.input(&[1, 3, 5, 5]);
    let c = b.conv("c", x, 4, 3, true);
    let y = b.unary("act", act, c);
    let g = b.finish(&[y]);
    let want = format!("act.out = {printed}(in0, const f32[4x3x3x3], const f32[4]) : f32[1x4x5x5] @tile  # c+act");
    let (_, r) = check(&g, "fuse/conv-act", &[want.as_str()]);
    assert_eq!(r.fusions.len(), 1);
    assert_eq!(r.fusions[0].originals, ["c", "act"]);
}

#[test]
fn conv_relu() {
    conv_then(UnaryOp::Relu, "conv.relu");
}

#[test]
fn conv_relu6() {
    conv_then(UnaryOp::Clip { min: 0.0, max: 6.0 }, "conv.clip[0,6]");
}

#[test]
fn conv_leaky_relu() {
    conv_then(UnaryOp::LeakyRelu { alpha: 0.1 }, "conv.leaky-relu[0.1]");
}

#[test]
fn conv_sigmoid_hard_swish_silu() {
    conv_then(UnaryOp::Sigmoid, "conv.sigmoid");
    conv_then(UnaryOp::HardSwish, "conv.hard-swish");
    conv_then(UnaryOp::Silu, "conv.silu");
}

#[test]
fn activation_the_tiles_lack_is_not_fused() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 5, 5]);
    let c = b.conv("c", x, 4, 3, true);
    let y = b.unary("act", UnaryOp::Gelu, c);
    let g = b.finish(&[y]);
    super::check_with(
        &g,
        &accel_ops::target::Target::x1(),
        &Default::default(),
        None,
        &["act.out = gelu(c.out) : f32[1x4x5x5] @host"],
    );
}

#[test]
fn gemm_relu() {
    let mut b = B::new();
    let x = b.input(&[2, 8]);
    let w = b.konst(&[8, 4], -0.5, 0.5);
    let c = b.konst(&[4], -0.5, 0.5);
    let gemm = Gemm { alpha: 1.0, beta: 1.0, trans_a: false, trans_b: false, act: None };
    let y = b.op("fc", Op::Gemm(gemm), &[x, w, c]);
    let y = b.unary("relu", UnaryOp::Relu, y);
    let g = b.finish(&[y]);
    check(
        &g,
        "fuse/gemm-act",
        &["relu.out = gemm.relu(in0, const f32[8x4], const f32[4]) : f32[2x4] @tile  # fc+relu"],
    );
}

#[test]
fn conv_residual_relu() {
    let mut b = B::new();
    let x = b.input(&[1, 4, 5, 5]);
    let c = b.conv("c", x, 4, 3, false);
    let y = b.bn("bn", c);
    let y = b.binary("add", BinaryOp::Add, x, y);
    let y = b.unary("relu", UnaryOp::Relu, y);
    let g = b.finish(&[y]);
    let (_, r) = check(
        &g,
        "fuse/conv-residual",
        &["relu.out = conv.relu(in0, const f32[4x4x3x3], const f32[4], in0) : f32[1x4x5x5] @tile  # c+bn+add+relu"],
    );
    assert!(r.fusions[0].residual);
}

#[test]
fn residual_without_bias_gets_a_zero_bias() {
    let mut b = B::new();
    let x = b.input(&[1, 4, 5, 5]);
    // The residual is the graph input: nothing an elementwise chain could absorb instead.
    let c = b.conv("c", x, 4, 1, false);
    let y = b.binary("add", BinaryOp::Add, c, x);
    let g = b.finish(&[y]);
    check(&g, "fuse/conv-residual", &["add.out = conv(in0, const f32[4x4x1x1], const f32[4], in0)"]);
}

#[test]
fn residual_after_activation_is_not_fused() {
    // act(conv) + r is not act(conv + r).
    let mut b = B::new();
    let x = b.input(&[1, 4, 5, 5]);
    let c = b.conv("c", x, 4, 3, true);
    let a = b.unary("relu", UnaryOp::Relu, c);
    let y = b.binary("add", BinaryOp::Add, a, x);
    let g = b.finish(&[y]);
    super::check_with(
        &g,
        &accel_ops::target::Target::x1(),
        &Default::default(),
        None,
        &["add.out = add(relu.out, in0)"],
    );
}

#[test]
fn activation_moves_before_a_reshape_to_fuse_into_gemm() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 8]);
    let w = b.konst(&[8, 4], -0.5, 0.5);
    let c = b.konst(&[4], -0.5, 0.5);
    let m = b.op("mm", Op::MatMul(MatMul), &[x, w]);
    let y = b.binary("add", BinaryOp::Add, m, c);
    let y = b.unary("relu", UnaryOp::Relu, y);
    let g = b.finish(&[y]);
    check(&g, "fuse/act-before-reshape", &["= gemm.relu(", "relu.out = reshape(", "!= relu("]);
}
