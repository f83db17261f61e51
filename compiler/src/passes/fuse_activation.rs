//! Fuses an activation into the convolution or Gemm before it, so the MAC array applies it on the way out.
use super::rebuild::{rebuild, Action, Input};
use crate::ir::{Graph, IrError};
use accel_ops::op::{Op, UnaryOp};

/// Activations the MAC array's output stage applies.
fn fusable(op: &UnaryOp) -> bool {
    matches!(
        op,
        UnaryOp::Relu
            | UnaryOp::Clip { .. }
            | UnaryOp::LeakyRelu { .. }
            | UnaryOp::Sigmoid
            | UnaryOp::HardSwish
            | UnaryOp::HardSigmoid { .. }
            | UnaryOp::Silu
            | UnaryOp::Tanh
    )
}

pub fn run(g: &Graph) -> Result<Graph, IrError> {
    let mut uses = vec![0usize; g.values.len()];
    for n in &g.nodes {
        for v in &n.inputs {
            uses[v.0 as usize] += 1;
        }
    }
    for o in &g.outputs {
        uses[o.0 as usize] += 1;
    }
    rebuild(g, |g, _, n| {
        let Op::Unary(u) = &n.op else { return Action::Keep };
        let x = n.inputs[0];
        let Some(p) = g.value(x).producer else { return Action::Keep };
        let prod = g.node(p);
        if !fusable(&u.op) || uses[x.0 as usize] != 1 {
            return Action::Keep;
        }
        let op = match &prod.op {
            Op::Conv(c) if c.act.is_none() => Op::Conv(accel_ops::op::Conv { act: Some(u.op), ..c.clone() }),
            Op::Gemm(gm) if gm.act.is_none() => Op::Gemm(accel_ops::op::Gemm { act: Some(u.op), ..gm.clone() }),
            _ => return Action::Keep,
        };
        Action::Replace {
            name: format!("{}+{}", prod.name, n.name),
            op,
            inputs: prod.inputs.iter().map(|&v| Input::Old(v)).collect(),
        }
    })
}
