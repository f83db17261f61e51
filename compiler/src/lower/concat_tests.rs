//! In-place concatenations in pipelined programs: one stage owns the concatenation's storage, the later stage
//! that reads it waits from the first write into it, and a concatenation whose operands two stages write keeps
//! the host copy.
use super::pipeline::{crossings, StagePlan};
use super::{lower_stages, LowerOptions, NodePlan};
use crate::ir::{evaluate, Graph};
use accel_ops::op::{Concat, Conv, Op, Unary, UnaryOp};
use accel_ops::target::Target;
use accel_ops::{Tensor, TensorType};

fn konst(g: &mut Graph, name: &str, dims: Vec<usize>) -> crate::ir::ValueId {
    let n: usize = dims.iter().product();
    let data = (0..n).map(|i| ((i * 37 % 23) as f32 - 11.0) / 40.0).collect();
    g.add_const(name, Tensor::from_f32(dims, data).unwrap())
}

fn conv(g: &mut Graph, name: &str, x: crate::ir::ValueId, k: usize) -> crate::ir::ValueId {
    let c = g.ty(x).shape.dims()[1];
    let w = konst(g, &format!("{name}.w"), vec![k, c, 3, 3]);
    let op = Conv { kernel: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [1; 4], group: 1, act: None };
    g.add_node(name, Op::Conv(op), vec![x, w], format!("{name}.out")).unwrap()
}

/// Nodes: 0 conv, 1 relu (operand r), 2 conv of r (operand b), 3 concat(r, b), 4 conv, 5 relu.
fn route() -> Graph {
    let mut g = Graph::default();
    let x = g.add_input("x", TensorType::f32(vec![1, 4, 10, 8]));
    let a = conv(&mut g, "a", x, 6);
    let r = g.add_node("r", Op::Unary(Unary { op: UnaryOp::Relu }), vec![a], "r.out").unwrap();
    let b = conv(&mut g, "b", r, 5);
    let c = g.add_node("cat", Op::Concat(Concat { axis: 1 }), vec![r, b], "cat.out").unwrap();
    let y = conv(&mut g, "y", c, 4);
    let z = g.add_node("z", Op::Unary(Unary { op: UnaryOp::Relu }), vec![y], "z.out").unwrap();
    g.outputs = vec![z];
    g.verify().unwrap();
    g
}

/// Lowers `g` in two stages of two tiles starting at `starts`, runs three frames back to back and compares each
/// output with the reference; returns the concatenation's plan and the cross-stage writers.
fn pipelined(g: &Graph, starts: Vec<usize>) -> (NodePlan, Vec<(usize, usize)>) {
    let stages = StagePlan { group: 2, starts };
    let lowered =
        lower_stages(g, &Target::x1(), &LowerOptions::default(), &stages, Target::x1().tile.sram_bytes / 2).unwrap();
    assert_eq!(lowered.program.meta.stages.len(), 2);
    let x: Vec<f32> = (0..320).map(|i| ((i * 13 % 29) as f32 - 14.0) / 9.0).collect();
    let x = Tensor::from_f32(vec![1, 4, 10, 8], x).unwrap();
    let want = evaluate(g, std::slice::from_ref(&x)).unwrap();
    let unrolled = accel_ops::pipeline::unroll_frames(&lowered.program, 3).unwrap();
    let mut s = accel_runtime::Session::from_program(unrolled).expect("the unrolled frames verify");
    let got = s.run(&[("x".to_string(), x)]).unwrap().outputs;
    for (a, b) in got[0].1.as_f32().unwrap().iter().zip(want[0].as_f32().unwrap()) {
        assert!((a - b).abs() <= 1e-4 + 1e-3 * b.abs(), "{a} vs {b}");
    }
    let writers = crossings(g, &lowered.plans, &stages).writers;
    (lowered.plans[3].clone(), writers)
}

#[test]
fn a_stage_writes_its_concatenation_in_place_and_the_next_waits_from_the_first_write() {
    let g = route();
    let (plan, writers) = pipelined(&g, vec![0, 4]);
    assert!(matches!(plan, NodePlan::ConcatInPlace { .. }), "{plan:?}");
    // Stage 1 reads the concatenation; stage 0 starts writing it at the relu (node 1), not at the concatenation
    // (node 3, no command): the relu's layer waits until stage 1 has read the previous frame's.
    assert_eq!(writers, vec![(1, 1)]);
}

#[test]
fn operands_written_by_two_stages_keep_the_host_copy() {
    let g = route();
    let (plan, _) = pipelined(&g, vec![0, 2]);
    assert!(matches!(plan, NodePlan::Host { .. }), "{plan:?}");
}
