//! Tests of the `fold/` rules: what extraction picks once constant arithmetic can fold into a convolution.
use super::{check, B};
use accel_ops::op::{BinaryOp, Gemm, Op, Pad};

#[test]
fn bn_into_conv() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 5, 5]);
    let y = b.conv("c", x, 4, 3, false);
    let y = b.bn("bn", y);
    let g = b.finish(&[y]);
    check(&g, "fold/bn-into-conv", &["bn.out = conv(in0, const f32[4x3x3x3], const f32[4])", "# c+bn", "!batch-norm"]);
}

#[test]
fn bn_into_conv_with_bias() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 5, 5]);
    let y = b.conv("c", x, 4, 1, true);
    let y = b.bn("bn", y);
    let g = b.finish(&[y]);
    check(&g, "fold/bn-into-conv", &["= conv(in0, const f32[4x3x1x1], const f32[4])", "!batch-norm"]);
}

#[test]
fn bn_not_folded_into_a_conv_read_elsewhere_when_that_costs_more() {
    // The conv output is also a graph output: folding would compute the convolution twice (DAG cost), so
    // extraction keeps one convolution and the batch norm.
    let mut b = B::new();
    let x = b.input(&[1, 64, 16, 16]);
    let c = b.conv("c", x, 64, 3, false);
    let y = b.bn("bn", c);
    let g = b.finish(&[c, y]);
    let (out, _) = super::check_with(&g, &accel_ops::target::Target::x1(), &Default::default(), None, &["batch-norm("]);
    assert_eq!(out.nodes.iter().filter(|n| n.op.kind() == "conv").count(), 1);
}

#[test]
fn bn_into_gemm() {
    let mut b = B::new();
    let x = b.input(&[2, 8]);
    let w = b.konst(&[4, 8], -0.5, 0.5);
    let c = b.konst(&[4], -0.5, 0.5);
    let gemm = Gemm { alpha: 1.0, beta: 1.0, trans_a: false, trans_b: true, act: None };
    let y = b.op("fc", Op::Gemm(gemm), &[x, w, c]);
    let y = b.bn("bn", y);
    let g = b.finish(&[y]);
    check(&g, "fold/bn-into-gemm", &["bn.out = gemm(in0, const f32[4x8], const f32[4])", "# fc+bn", "!batch-norm"]);
}

#[test]
fn mul_by_channel_constant_into_conv() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 5, 5]);
    let y = b.conv("c", x, 4, 3, true);
    let k = b.konst(&[4, 1, 1], 0.5, 2.0);
    let y = b.binary("m", BinaryOp::Mul, k, y);
    let g = b.finish(&[y]);
    check(&g, "fold/mul-into-conv", &["m.out = conv(in0, const f32[4x3x3x3], const f32[4])", "# c+m", "!mul("]);
}

#[test]
fn mul_by_scalar_into_conv() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 5, 5]);
    let y = b.conv("c", x, 4, 3, false);
    let k = b.scalar(0.25);
    let y = b.binary("m", BinaryOp::Mul, y, k);
    let g = b.finish(&[y]);
    check(&g, "fold/mul-into-conv", &["m.out = conv(in0, const f32[4x3x3x3])", "!mul("]);
}

#[test]
fn add_and_sub_of_channel_constants_into_conv_bias() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 5, 5]);
    let y = b.conv("c", x, 4, 3, false);
    let k = b.konst(&[1, 4, 1, 1], -1.0, 1.0);
    let y = b.binary("a", BinaryOp::Add, y, k);
    let k2 = b.konst(&[4, 1, 1], -1.0, 1.0);
    let y = b.binary("s", BinaryOp::Sub, y, k2);
    let g = b.finish(&[y]);
    check(
        &g,
        "fold/add-into-conv",
        &["s.out = conv(in0, const f32[4x3x3x3], const f32[4])", "# c+a+s", "!add(", "!sub("],
    );
}

#[test]
fn not_folded_when_the_constant_varies_spatially() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 5, 5]);
    let y = b.conv("c", x, 4, 3, false);
    let k = b.konst(&[4, 5, 5], -1.0, 1.0);
    let y = b.binary("a", BinaryOp::Add, y, k);
    let g = b.finish(&[y]);
    super::check_with(
        &g,
        &accel_ops::target::Target::x1(),
        &Default::default(),
        None,
        &["a.out = add(c.out, const f32[4x5x5])"],
    );
}

#[test]
fn zero_pad_into_conv_pads() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 5, 5]);
    let p = b.op("pad", Op::Pad(Pad { begin: vec![0, 0, 1, 2], end: vec![0, 0, 0, 1], value: 0.0 }), &[x]);
    let y = b.conv("c", p, 4, 3, false);
    let g = b.finish(&[y]);
    let (out, _) = check(&g, "fold/pad-into-conv", &["c.out = conv(in0, const f32[4x3x3x3])", "# pad+c", "!pad("]);
    let Op::Conv(c) = &out.nodes[0].op else { panic!("not a conv") };
    assert_eq!(c.pads, [2, 3, 1, 2]);
}

#[test]
fn nonzero_pad_stays() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 5, 5]);
    let p = b.op("pad", Op::Pad(Pad { begin: vec![0, 0, 1, 1], end: vec![0, 0, 1, 1], value: 1.0 }), &[x]);
    let y = b.conv("c", p, 4, 3, false);
    let g = b.finish(&[y]);
    super::check_with(&g, &accel_ops::target::Target::x1(), &Default::default(), None, &["pad(in0)"]);
}
