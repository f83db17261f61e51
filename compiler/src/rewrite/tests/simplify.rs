//! Tests of the `simplify/` rules: identities disappear, chains collapse, and the canonical form extraction
//! picks.
use super::{check, B};
use accel_ops::op::{BinaryOp, Cast, Concat, MatMul, Op, Pad, Reshape, Slice, Transpose, UnaryOp};
use accel_ops::shape::Shape;
use accel_ops::DType;

/// `relu(x) -> op -> sigmoid`: the identity `op` must vanish.
fn identity_between(op: Op, rule: &str) {
    let mut b = B::new();
    let x = b.input(&[1, 2, 3, 4]);
    let r = b.unary("r", UnaryOp::Relu, x);
    let i = b.op("id", op, &[r]);
    let y = b.unary("s", UnaryOp::Sigmoid, i);
    let g = b.finish(&[y]);
    // The identity node is covered by the node that computes its value.
    check(&g, rule, &["r.out = relu(in0) : f32[1x2x3x4] @tile  # r+id", "s.out = sigmoid(r.out)"]);
}

#[test]
fn identity_reshape() {
    identity_between(Op::Reshape(Reshape { shape: Shape(vec![1, 2, 3, 4]) }), "simplify/identity-reshape");
}

#[test]
fn identity_transpose() {
    identity_between(Op::Transpose(Transpose { perm: vec![0, 1, 2, 3] }), "simplify/identity-transpose");
}

#[test]
fn identity_slice() {
    let s = Slice { starts: vec![0; 4], lens: vec![1, 2, 3, 4], steps: vec![1; 4] };
    identity_between(Op::Slice(s), "simplify/identity-slice");
}

#[test]
fn identity_pad() {
    identity_between(Op::Pad(Pad { begin: vec![0; 4], end: vec![0; 4], value: 0.0 }), "simplify/identity-pad");
}

#[test]
fn identity_cast() {
    identity_between(Op::Cast(Cast { to: DType::F32 }), "simplify/identity-cast");
}

#[test]
fn identity_concat() {
    identity_between(Op::Concat(Concat { axis: 1 }), "simplify/identity-concat");
}

#[test]
fn identity_arith() {
    let mut b = B::new();
    let x = b.input(&[1, 2, 3, 4]);
    let r = b.unary("r", UnaryOp::Relu, x);
    let one = b.scalar(1.0);
    let zero = b.scalar(0.0);
    let m = b.binary("m", BinaryOp::Mul, one, r);
    let a = b.binary("a", BinaryOp::Add, m, zero);
    let d = b.binary("d", BinaryOp::Div, a, one);
    let y = b.unary("s", UnaryOp::Sigmoid, d);
    let g = b.finish(&[y]);
    check(&g, "simplify/identity-arith", &["# r+m+a+d", "s.out = sigmoid(r.out)"]);
}

#[test]
fn transposes_that_cancel() {
    let mut b = B::new();
    let x = b.input(&[2, 3, 4]);
    let r = b.unary("r", UnaryOp::Relu, x);
    let t = b.op("t1", Op::Transpose(Transpose { perm: vec![0, 2, 1] }), &[r]);
    let t = b.op("t2", Op::Transpose(Transpose { perm: vec![0, 2, 1] }), &[t]);
    let y = b.unary("s", UnaryOp::Sigmoid, t);
    let g = b.finish(&[y]);
    check(&g, "simplify/transpose-transpose", &["# r+t1+t2", "s.out = sigmoid(r.out)", "!transpose("]);
}

#[test]
fn transposes_that_compose() {
    let mut b = B::new();
    let x = b.input(&[2, 3, 4]);
    let r = b.unary("r", UnaryOp::Relu, x);
    let t = b.op("t1", Op::Transpose(Transpose { perm: vec![1, 2, 0] }), &[r]);
    let t = b.op("t2", Op::Transpose(Transpose { perm: vec![1, 2, 0] }), &[t]);
    let g = b.finish(&[t]);
    let (out, _) = check(&g, "simplify/transpose-transpose", &["t2.out = transpose(r.out) : f32[4x2x3]", "# t1+t2"]);
    assert_eq!(out.nodes.len(), 2);
}

#[test]
fn reshapes_collapse() {
    let mut b = B::new();
    let x = b.input(&[2, 3, 4]);
    let r = b.unary("r", UnaryOp::Relu, x);
    let a = b.op("a", Op::Reshape(Reshape { shape: Shape(vec![6, 4]) }), &[r]);
    let c = b.op("c", Op::Reshape(Reshape { shape: Shape(vec![24]) }), &[a]);
    let g = b.finish(&[c]);
    let (out, _) = check(&g, "simplify/reshape-reshape", &["c.out = reshape(r.out) : f32[24] @alias  # a+c"]);
    assert_eq!(out.nodes.len(), 2);
}

#[test]
fn division_by_a_constant_runs_on_the_tiles() {
    let mut b = B::new();
    let x = b.input(&[1, 2, 3, 4]);
    let k = b.scalar(8.0);
    let y = b.binary("d", BinaryOp::Div, x, k);
    let g = b.finish(&[y]);
    check(&g, "simplify/div-by-const", &["d.out = mul(in0, const f32[]) : f32[1x2x3x4] @tile"]);
}

#[test]
fn square_is_a_multiplication() {
    let mut b = B::new();
    let x = b.input(&[1, 2, 3, 4]);
    let k = b.scalar(2.0);
    let y = b.binary("p", BinaryOp::Pow, x, k);
    let g = b.finish(&[y]);
    check(&g, "simplify/square", &["p.out = mul(in0, in0) : f32[1x2x3x4] @tile"]);
}

#[test]
fn matmul_plus_bias_is_one_gemm() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 8]);
    let w = b.konst(&[8, 4], -0.5, 0.5);
    let c = b.konst(&[4], -0.5, 0.5);
    let m = b.op("mm", Op::MatMul(MatMul), &[x, w]);
    let y = b.binary("add", BinaryOp::Add, c, m);
    let g = b.finish(&[y]);
    check(
        &g,
        "simplify/matmul-add-to-gemm",
        &[
            "= reshape(in0) : f32[3x8] @alias",
            "= gemm(mm+add:reshape:out, const f32[8x4], const f32[4]) : f32[3x4] @tile  # mm+add",
            "add.out = reshape(mm+add:out) : f32[1x3x4] @alias",
            "!matmul(",
        ],
    );
}
