//! In-place concatenations: when every operand of a concatenation is one contiguous byte range of its output
//! (every axis before the concatenation axis has extent 1: batch 1, channels), the operands are laid out inside
//! the output's storage and their producers write them there, so the concatenation is an alias that emits no
//! command (`NodePlan::ConcatInPlace`; `layout::Storage` places operand k at the bytes of the operands before
//! it). Only the choice lives here; addresses and liveness come from `layout`.
use super::plan::NodePlan;
use crate::ir::{Graph, ValueId};
use accel_ops::op::Op;
use std::collections::BTreeSet;

/// Turns every host concatenation whose operands can be written in place into `NodePlan::ConcatInPlace`, in
/// node order (so the first concatenation reading a value gets it). `stage_of` gives each node's pipeline
/// stage: a concatenation whose operands another stage writes keeps the host copy, because stages of
/// consecutive frames run at once and one storage must belong to one stage.
pub fn place_in_place(g: &Graph, plans: &mut [NodePlan], stage_of: &dyn Fn(usize) -> usize) {
    let mut placed: BTreeSet<ValueId> = BTreeSet::new();
    for (i, n) in g.nodes.iter().enumerate() {
        if qualifies(g, plans, i, &placed, stage_of) {
            placed.extend(n.inputs.iter().copied());
            plans[i] = NodePlan::ConcatInPlace { inputs: n.inputs.clone() };
        }
    }
}

/// Whether node `i` is a host concatenation whose operands are contiguous slices of its output, each written
/// by a node of its stage into storage of its own: not a graph input or a constant (their bytes are not
/// written by a node), not a reshape's output (its bytes are its input's), not already inside a concatenation
/// (`placed`), and no operand twice (one storage range each). An operand that a fused chain would keep in SRAM
/// is stored anyway, as the concatenation reads it outside the chain.
fn qualifies(
    g: &Graph,
    plans: &[NodePlan],
    i: usize,
    placed: &BTreeSet<ValueId>,
    stage_of: &dyn Fn(usize) -> usize,
) -> bool {
    let n = &g.nodes[i];
    let (Op::Concat(c), Some(NodePlan::Host { .. })) = (&n.op, plans.get(i)) else { return false };
    let out = g.ty(n.output);
    let Some(leading) = out.shape.dims().get(..c.axis) else { return false };
    if leading.iter().any(|&d| d != 1) || out.shape.numel() == 0 {
        return false;
    }
    let mut seen = BTreeSet::new();
    n.inputs.iter().all(|&v| {
        let Some(p) = g.value(v).producer.map(|p| p.0 as usize) else { return false };
        let ty = g.ty(v);
        seen.insert(v)
            && !placed.contains(&v)
            && g.constant(v).is_none()
            && !g.inputs.contains(&v)
            && !matches!(plans.get(p), Some(NodePlan::Alias { .. }) | None)
            && ty.dtype == out.dtype
            && ty.shape.numel() > 0
            && stage_of(p) == stage_of(i)
    })
}
