//! Tests of the LayerNorm rules: the decomposed form (as exporters write it, and as the importer's
//! LayerNormalization expansion writes it) becomes one `LayerNorm`, and a constant scale and shift after it
//! become its scale and bias operands.
use super::{check, check_with, B};
use crate::ir::ValueId;
use crate::rewrite::RewriteOptions;
use accel_ops::op::{BinaryOp, Op, Reduce, ReduceKind, UnaryOp};
use accel_ops::target::Target;

fn mean(b: &mut B, name: &str, x: ValueId, axes: Vec<usize>) -> ValueId {
    b.op(name, Op::Reduce(Reduce { kind: ReduceKind::Mean, axes, keepdims: true }), &[x])
}

/// `(x - mean) / sqrt(mean((x - mean)^2) + eps)` over `axes`; `reciprocal` writes `d * 1/sqrt(...)`.
fn normalized(b: &mut B, x: ValueId, axes: Vec<usize>, reciprocal: bool) -> ValueId {
    let m = mean(b, "mean", x, axes.clone());
    let d = b.binary("sub", BinaryOp::Sub, x, m);
    let two = b.scalar(2.0);
    let sq = b.binary("pow", BinaryOp::Pow, d, two);
    let v = mean(b, "var", sq, axes);
    let eps = b.scalar(1e-5);
    let e = b.binary("eps", BinaryOp::Add, v, eps);
    let s = b.unary("sqrt", UnaryOp::Sqrt, e);
    if reciprocal {
        let r = b.unary("inv", UnaryOp::Reciprocal, s);
        b.binary("norm", BinaryOp::Mul, d, r)
    } else {
        b.binary("norm", BinaryOp::Div, d, s)
    }
}

#[test]
fn the_decomposed_form_is_one_layer_norm() {
    let mut b = B::new();
    let x = b.input(&[1, 4, 16]);
    let y = normalized(&mut b, x, vec![2], false);
    let g = b.finish(&[y]);
    check(
        &g,
        "recognize/layer-norm",
        &["norm.out = layer-norm(in0, const f32[16]) : f32[1x4x16] @host  # mean+sub+pow+var+eps+sqrt+norm"],
    );
}

#[test]
fn the_reciprocal_form_over_two_axes_is_one_layer_norm() {
    let mut b = B::new();
    let x = b.input(&[2, 3, 4, 5]);
    let y = normalized(&mut b, x, vec![2, 3], true);
    let g = b.finish(&[y]);
    check(&g, "recognize/layer-norm", &["norm.out = layer-norm(in0, const f32[4x5])"]);
}

#[test]
fn a_mean_over_leading_axes_is_not_a_layer_norm() {
    let mut b = B::new();
    let x = b.input(&[2, 3, 4]);
    let y = normalized(&mut b, x, vec![1], false);
    let g = b.finish(&[y]);
    check_with(&g, &Target::x1(), &RewriteOptions::default(), None, &["!layer-norm("]);
}

#[test]
fn scale_and_shift_become_operands() {
    let mut b = B::new();
    let x = b.input(&[1, 4, 16]);
    let y = normalized(&mut b, x, vec![2], false);
    let gamma = b.konst(&[16], 0.5, 1.5);
    let y = b.binary("gamma", BinaryOp::Mul, y, gamma);
    let beta = b.konst(&[1, 1, 16], -0.5, 0.5);
    let y = b.binary("beta", BinaryOp::Add, beta, y);
    let g = b.finish(&[y]);
    let (_, r) = check(
        &g,
        "recognize/layer-norm-bias",
        &[
            "beta.out = layer-norm(in0, const f32[16], const f32[16]) : f32[1x4x16] @host",
            "fused layer-norm @host: mean + sub + pow + var + eps + sqrt + norm + gamma + beta",
        ],
    );
    assert!(r.rules_applied.iter().any(|(n, k)| n == "recognize/layer-norm-scale" && *k > 0), "{r}");
    assert!(r.groups.is_empty(), "{r}");
}

#[test]
fn a_scale_that_varies_across_rows_stays_a_multiplication() {
    let mut b = B::new();
    let x = b.input(&[1, 4, 16]);
    let y = normalized(&mut b, x, vec![2], false);
    let gamma = b.konst(&[4, 1], 0.5, 1.5);
    let y = b.binary("gamma", BinaryOp::Mul, y, gamma);
    let g = b.finish(&[y]);
    check(&g, "recognize/layer-norm", &["gamma.out = mul(norm.out, const f32[4x1])"]);
}
