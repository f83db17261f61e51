//! Planning of a fused elementwise chain (`Op::Elementwise`) on the vector unit: which targets can run it and
//! whether its operands' broadcast patterns can be chunked together. The e-graph's cost model asks the same
//! questions, so extraction never picks a chain that lowering would refuse.
use super::plan::{broadcast_pattern, Broadcast, NodePlan, Operand};
use crate::ir::{Graph, Node};
use accel_ops::op::{Elementwise, Op};
use accel_ops::target::Target;

/// Whether the target's tiles list `op` (for a chain: every step's operator).
pub fn tile_supports_op(target: &Target, op: &Op) -> bool {
    match op {
        Op::Elementwise(e) => e.steps.iter().all(|s| target.tile_supports(s.name())),
        _ => target.tile_supports(op.kind()),
    }
}

/// The broadcast pattern of each operand over `out`, if one chunking serves them all: every operand is
/// full-shape, a scalar, or repeats with the one pattern the others that are neither share.
pub fn chain_patterns(out: &[usize], operands: &[&[usize]]) -> Option<Vec<Broadcast>> {
    let numel: usize = out.iter().product();
    let pats: Vec<Broadcast> = operands.iter().map(|d| broadcast_pattern(out, d)).collect::<Option<_>>()?;
    let mut common = None;
    for p in &pats {
        if p.period != numel && p.period != 1 && *common.get_or_insert(*p) != *p {
            return None;
        }
    }
    Some(pats)
}

/// The chunking pattern of a chain: the shared repeating pattern, or flat chunks when there is none.
pub fn chunk_pattern(numel: usize, pats: &[Broadcast]) -> Broadcast {
    pats.iter().copied().find(|p| p.period != numel && p.period != 1).unwrap_or(Broadcast { period: numel, repeat: 1 })
}

/// The plan of a chain node: `x` must be a non-constant value of the output's shape.
pub fn plan(g: &Graph, n: &Node, e: &Elementwise) -> Option<NodePlan> {
    let (x, out) = (n.inputs[0], g.ty(n.output).shape.dims());
    if g.ty(x).shape.dims() != out || g.constant(x).is_some() {
        return None;
    }
    let dims: Vec<&[usize]> = n.inputs[1..].iter().map(|&v| g.ty(v).shape.dims()).collect();
    let bcasts = chain_patterns(out, &dims)?;
    let operands = n.inputs[1..]
        .iter()
        .map(|&v| match g.constant(v) {
            Some(t) => Operand::Const(t.clone()),
            None => Operand::Value(v),
        })
        .collect();
    Some(NodePlan::Elementwise { input: x, steps: e.steps.clone(), operands, bcasts })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands_chunk_together_only_with_one_repeating_pattern() {
        let out = [1, 8, 4, 4];
        let ok = chain_patterns(&out, &[&[8, 1, 1], &[], &[1, 8, 4, 4], &[1, 8, 1, 1]]).unwrap();
        assert_eq!(chunk_pattern(128, &ok), Broadcast { period: 8, repeat: 16 });
        assert_eq!(chunk_pattern(128, &ok[1..3]), Broadcast { period: 128, repeat: 1 });
        assert!(chain_patterns(&out, &[&[8, 1, 1], &[4]]).is_none());
        assert!(chain_patterns(&out, &[&[8, 1, 4]]).is_none());
    }
}
