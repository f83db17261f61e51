//! Differential property test: random small graphs of convolutions, batch norms, activations (some
//! decomposed), per-channel and scalar arithmetic, padding and residual adds compute the same after
//! `optimize` as before (reference semantics, f32 tolerance 1e-4 + 1e-3 |b|).
use super::{assert_same, B};
use crate::ir::ValueId;
use crate::rewrite::{optimize, RewriteOptions};
use accel_ops::op::{BinaryOp, Op, Pad, UnaryOp};
use accel_ops::target::Target;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Conv { k: usize, kernel: usize, bias: bool },
    Bn,
    Act(u8),
    Silu,
    HardSwish,
    AddConst { per_channel: bool },
    MulConst { per_channel: bool },
    DivConst,
    PadConv { k: usize },
    Residual { back: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1usize..=4, prop_oneof![Just(1usize), Just(3)], any::<bool>()).prop_map(|(k, kernel, bias)| Step::Conv { k, kernel, bias }),
        2 => Just(Step::Bn),
        2 => (0u8..4).prop_map(Step::Act),
        1 => Just(Step::Silu),
        1 => Just(Step::HardSwish),
        1 => any::<bool>().prop_map(|per_channel| Step::AddConst { per_channel }),
        1 => any::<bool>().prop_map(|per_channel| Step::MulConst { per_channel }),
        1 => Just(Step::DivConst),
        1 => (1usize..=3).prop_map(|k| Step::PadConv { k }),
        2 => (0usize..4).prop_map(|back| Step::Residual { back }),
    ]
}

fn build(c0: usize, hw: usize, steps: &[Step], extra_output: Option<usize>) -> crate::ir::Graph {
    let mut b = B::new();
    let mut x = b.input(&[1, c0, hw, hw]);
    let mut seen: Vec<ValueId> = vec![x];
    for (i, s) in steps.iter().enumerate() {
        let name = |what: &str| format!("{what}{i}");
        let c = b.g.ty(x).shape.dims()[1];
        x = match *s {
            Step::Conv { k, kernel, bias } => b.conv(&name("conv"), x, k, kernel, bias),
            Step::Bn => b.bn(&name("bn"), x),
            Step::Act(a) => {
                let op = match a {
                    0 => UnaryOp::Relu,
                    1 => UnaryOp::Clip { min: 0.0, max: 6.0 },
                    2 => UnaryOp::LeakyRelu { alpha: 0.1 },
                    _ => UnaryOp::Sigmoid,
                };
                b.unary(&name("act"), op, x)
            }
            Step::Silu => {
                let s = b.unary(&name("sig"), UnaryOp::Sigmoid, x);
                b.binary(&name("mul"), BinaryOp::Mul, x, s)
            }
            Step::HardSwish => {
                let three = b.scalar(3.0);
                let a = b.binary(&name("add3"), BinaryOp::Add, x, three);
                let r = b.unary(&name("relu6"), UnaryOp::Clip { min: 0.0, max: 6.0 }, a);
                let m = b.binary(&name("mul"), BinaryOp::Mul, x, r);
                let six = b.scalar(6.0);
                b.binary(&name("div6"), BinaryOp::Div, m, six)
            }
            Step::AddConst { per_channel } => {
                let k = if per_channel { b.konst(&[c, 1, 1], -1.0, 1.0) } else { b.scalar(0.5) };
                b.binary(&name("addc"), BinaryOp::Add, x, k)
            }
            Step::MulConst { per_channel } => {
                let k = if per_channel { b.konst(&[1, c, 1, 1], 0.5, 1.5) } else { b.scalar(1.5) };
                b.binary(&name("mulc"), BinaryOp::Mul, k, x)
            }
            Step::DivConst => {
                let k = b.konst(&[c, 1, 1], 0.5, 2.0);
                b.binary(&name("divc"), BinaryOp::Div, x, k)
            }
            Step::PadConv { k } => {
                let p = b.op(
                    &name("pad"),
                    Op::Pad(Pad { begin: vec![0, 0, 1, 0], end: vec![0, 0, 0, 1], value: 0.0 }),
                    &[x],
                );
                let y = b.conv(&name("pconv"), p, k, 1, true);
                // Back to the running spatial size so later residuals line up.
                let s = accel_ops::op::Slice { starts: vec![0, 0, 1, 0], lens: vec![1, k, hw, hw], steps: vec![1; 4] };
                b.op(&name("crop"), Op::Slice(s), &[y])
            }
            Step::Residual { back } => {
                let ty = b.g.ty(x).clone();
                match seen.iter().rev().filter(|&&v| *b.g.ty(v) == ty && v != x).nth(back) {
                    Some(&r) => b.binary(&name("res"), BinaryOp::Add, x, r),
                    None => x,
                }
            }
        };
        seen.push(x);
    }
    let mut outs = vec![x];
    if let Some(e) = extra_output {
        let v = seen[e % seen.len()];
        if !outs.contains(&v) && !b.g.inputs.contains(&v) {
            outs.push(v);
        }
    }
    b.finish(&outs)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn optimized_graphs_compute_the_same(
        c0 in 1usize..=3,
        hw in 3usize..=5,
        steps in prop::collection::vec(step(), 1..8),
        extra in prop::option::of(0usize..8),
        seed in 0u64..1000,
    ) {
        let g = build(c0, hw, &steps, extra);
        let (out, report) = optimize(&g, &Target::x1(), &RewriteOptions::default()).map_err(|e| TestCaseError::fail(format!("{e}\n{g}")))?;
        prop_assert!(report.ops_after <= report.ops_before + 1, "{report}");
        assert_same(&g, &out, seed);
    }
}
