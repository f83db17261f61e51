//! The fused graphs through the lowering and the simulator: convolutions with a residual input and an
//! activation, host placements, and Gemm behind reshapes compute what the reference says.
use super::{tensor, B};
use crate::ir::{evaluate, Graph, Placement};
use crate::lower::{lower, LowerOptions, NodePlan};
use crate::rewrite::{optimize, RewriteOptions};
use accel_ops::op::{BinaryOp, MatMul, Op, UnaryOp};
use accel_ops::target::Target;
use accel_runtime::Session;

/// Lowers `g`, runs it on the simulator and compares with `evaluate` on the same inputs.
fn run_matches_reference(g: &Graph, target: &Target) -> Vec<NodePlan> {
    let lowered = lower(g, target, &LowerOptions::default()).unwrap();
    let inputs: Vec<_> =
        g.inputs.iter().enumerate().map(|(i, &v)| tensor(g.ty(v).shape.dims(), 40 + i as u64, -1.0, 1.0)).collect();
    let want = evaluate(g, &inputs).unwrap();
    let mut s = Session::from_program(lowered.program).unwrap();
    let named: Vec<_> = g.inputs.iter().zip(&inputs).map(|(&v, t)| (g.value(v).name.clone(), t.clone())).collect();
    let got = s.run(&named).unwrap().outputs;
    for ((_, y), w) in got.iter().zip(&want) {
        for (a, b) in y.as_f32().unwrap().iter().zip(w.as_f32().unwrap()) {
            assert!((a - b).abs() <= 1e-4 + 1e-3 * b.abs(), "{a} vs {b}");
        }
    }
    lowered.plans
}

#[test]
fn residual_conv_runs_on_the_tiles() {
    let mut b = B::new();
    let x = b.input(&[1, 16, 12, 10]);
    let c = b.conv("c1", x, 16, 3, false);
    let y = b.bn("bn1", c);
    let y = b.unary("r1", UnaryOp::Relu, y);
    let c = b.conv("c2", y, 16, 3, false);
    let y = b.bn("bn2", c);
    let y = b.binary("add", BinaryOp::Add, y, x);
    let y = b.unary("r2", UnaryOp::Relu, y);
    let g = b.finish(&[y]);
    let t = Target::x1();
    let (opt, _) = optimize(&g, &t, &RewriteOptions::default()).unwrap();
    assert_eq!(opt.nodes.len(), 2);
    let plans = run_matches_reference(&opt, &t);
    assert!(matches!(&plans[1], NodePlan::Conv { residual: Some(_), act: Some(UnaryOp::Relu), .. }), "{plans:?}");
}

#[test]
fn residual_conv_in_many_work_items() {
    // Small SRAM: the layer splits into row stripes and channel chunks; each loads its residual block.
    let mut t = Target::x1();
    t.tile.sram_bytes = 64 * 1024;
    let mut b = B::new();
    let x = b.input(&[1, 32, 24, 20]);
    let c = b.conv("c", x, 32, 3, true);
    let y = b.binary("add", BinaryOp::Add, c, x);
    let y = b.unary("relu6", UnaryOp::Clip { min: 0.0, max: 6.0 }, y);
    let g = b.finish(&[y]);
    let (opt, _) = optimize(&g, &t, &RewriteOptions::default()).unwrap();
    assert_eq!(opt.nodes.len(), 1, "{opt}");
    run_matches_reference(&opt, &t);
}

#[test]
fn host_placement_is_honoured() {
    let mut b = B::new();
    let x = b.input(&[1, 4, 6, 6]);
    let c = b.conv("c", x, 4, 3, true);
    let y = b.unary("relu", UnaryOp::Relu, c);
    let mut g = b.finish(&[y]);
    g.set_placement(crate::ir::NodeId(0), Placement::Host);
    let plans = run_matches_reference(&g, &Target::x1());
    assert!(matches!(plans[0], NodePlan::Host { .. }));
    assert!(matches!(plans[1], NodePlan::Unary { .. }));
}

#[test]
fn gemm_behind_reshapes_runs() {
    let mut b = B::new();
    let x = b.input(&[1, 6, 16]);
    let w = b.konst(&[16, 8], -0.5, 0.5);
    let c = b.konst(&[8], -0.5, 0.5);
    let m = b.op("mm", Op::MatMul(MatMul), &[x, w]);
    let y = b.binary("add", BinaryOp::Add, c, m);
    let y = b.unary("sig", UnaryOp::Sigmoid, y);
    let g = b.finish(&[y]);
    let t = Target::x1();
    let (opt, _) = optimize(&g, &t, &RewriteOptions::default()).unwrap();
    let plans = run_matches_reference(&opt, &t);
    assert!(plans.iter().any(|p| matches!(p, NodePlan::MatMul { act: Some(UnaryOp::Sigmoid), .. })), "{opt}");
}
