//! Tests of `fuse/elementwise-chain`: consecutive elementwise operators become one vector pass when the
//! intermediates have one consumer, the tiles run every step and the operands chunk together; and the fused
//! graph lowers to one `Elementwise` layer that the simulator runs as the reference says.
use super::{check, check_with, tensor, B};
use crate::ir::evaluate;
use crate::lower::{lower, LowerOptions, NodePlan};
use crate::rewrite::{optimize, RewriteOptions};
use accel_ops::op::{BinaryOp, UnaryOp};
use accel_ops::target::Target;
use accel_runtime::Session;

/// `mul(sigmoid(x + k[c]), 0.5) - 1` over NCHW: four steps, two constants of different patterns.
fn four_step_chain(dims: &[usize]) -> crate::ir::Graph {
    let mut b = B::new();
    let x = b.input(dims);
    let k = b.konst(&[dims[1], 1, 1], -1.0, 1.0);
    let y = b.binary("add", BinaryOp::Add, x, k);
    let y = b.unary("sig", UnaryOp::Sigmoid, y);
    let half = b.scalar(0.5);
    let y = b.binary("mul", BinaryOp::Mul, half, y);
    let one = b.scalar(1.0);
    let y = b.binary("sub", BinaryOp::Sub, y, one);
    b.finish(&[y])
}

#[test]
fn a_chain_of_four_becomes_one_vector_pass() {
    let g = four_step_chain(&[1, 8, 4, 4]);
    let (_, r) = check(
        &g,
        "fuse/elementwise-chain",
        &[
            "sub.out = elementwise[add $1, sigmoid, mul $2, sub $3](in0, const f32[8x1x1], const f32[], const f32[])",
            "@tile  # add+sig+mul+sub",
            "fused elementwise[add $1, sigmoid, mul $2, sub $3] @tile: add + sig + mul + sub",
        ],
    );
    assert_eq!(r.ops_after, 1, "{r}");
    assert!(r.cost_after < r.cost_before, "{r}");
}

#[test]
fn a_shared_intermediate_is_not_fused_through() {
    // `a` feeds two operators: it is computed once; each branch's own steps still fuse.
    let mut b = B::new();
    let x = b.input(&[1, 8, 4, 4]);
    let k = b.konst(&[8, 1, 1], -1.0, 1.0);
    let a = b.binary("a", BinaryOp::Add, x, k);
    let s = b.unary("s", UnaryOp::Sigmoid, a);
    let t = b.unary("t", UnaryOp::Tanh, a);
    let y = b.binary("y", BinaryOp::Add, s, t);
    let g = b.finish(&[y]);
    check(
        &g,
        "fuse/elementwise-chain",
        &["a.out = add(in0, const f32[8x1x1]) : f32[1x8x4x4] @tile  # a", "y.out = elementwise["],
    );
}

#[test]
fn a_graph_output_is_not_fused_through() {
    let mut b = B::new();
    let x = b.input(&[1, 8, 4, 4]);
    let a = b.unary("a", UnaryOp::Sigmoid, x);
    let y = b.unary("r", UnaryOp::Relu, a);
    let g = b.finish(&[a, y]);
    check_with(&g, &Target::x1(), &RewriteOptions::default(), None, &["!elementwise"]);
}

#[test]
fn steps_the_tiles_do_not_run_or_patterns_that_do_not_chunk_are_left_alone() {
    // exp is not a tile operator of x1.
    let mut b = B::new();
    let x = b.input(&[1, 8, 4, 4]);
    let y = b.unary("e", UnaryOp::Exp, x);
    let y = b.unary("r", UnaryOp::Relu, y);
    let g = b.finish(&[y]);
    check_with(&g, &Target::x1(), &RewriteOptions::default(), None, &["!elementwise", "e.out = exp(in0)"]);
    // A per-channel and a per-column constant repeat with different periods: no one chunking serves both.
    let mut b = B::new();
    let x = b.input(&[1, 8, 4, 4]);
    let k = b.konst(&[8, 1, 1], -1.0, 1.0);
    let y = b.binary("a", BinaryOp::Add, x, k);
    let c = b.konst(&[4], -1.0, 1.0);
    let y = b.binary("m", BinaryOp::Mul, y, c);
    let g = b.finish(&[y]);
    check_with(&g, &Target::x1(), &RewriteOptions::default(), None, &["!elementwise", "m.out = mul(a.out"]);
}

#[test]
fn disabling_the_rule_keeps_the_operators() {
    let g = four_step_chain(&[1, 8, 4, 4]);
    let opts = RewriteOptions { disabled: vec!["fuse/elementwise-chain".into()], ..Default::default() };
    let (_, r) = check_with(&g, &Target::x1(), &opts, None, &["!elementwise", "sig.out = sigmoid(add.out)"]);
    assert_eq!(r.ops_after, 4, "{r}");
}

#[test]
fn the_fused_chain_lowers_to_one_layer_and_runs_as_the_reference() {
    // Big enough for several work items per tile, so chunking and the broadcast constants are exercised.
    let g = four_step_chain(&[1, 16, 24, 20]);
    let t = Target::x1();
    let (opt, _) = optimize(&g, &t, &RewriteOptions::default()).unwrap();
    let lowered = lower(&opt, &t, &LowerOptions::default()).unwrap();
    assert!(matches!(lowered.plans[..], [NodePlan::Elementwise { .. }]), "{:?}", lowered.plans);
    let x = tensor(&[1, 16, 24, 20], 5, -3.0, 3.0);
    let want = evaluate(&g, std::slice::from_ref(&x)).unwrap();
    let mut s = Session::from_program(lowered.program).unwrap();
    let got = s.run(&[("in0".to_string(), x)]).unwrap().outputs;
    for (a, b) in got[0].1.as_f32().unwrap().iter().zip(want[0].as_f32().unwrap()) {
        assert!((a - b).abs() <= 1e-4 + 1e-3 * b.abs(), "{a} vs {b}");
    }
}
