//! Rule family `fuse/elementwise-chain`: consecutive elementwise operators (unary functions, binary ops whose
//! other operand broadcasts into the running value) become one `Elementwise` chain, the vector unit's one
//! pass: `x` and the operands are read once and only the result is written, where each operator alone would
//! write its output to DRAM and the next read it back. A chain grows one step per iteration from the class
//! of its last step. It is only formed through an intermediate with one consumer that is not a graph output,
//! when the target's tiles run every step and the operands' broadcast patterns chunk together
//! (`lower::tile_supports_op`, `lower::chain_patterns`: lowering accepts what this rule builds). The rule
//! only adds the alternative; extraction takes it when the cost model finds it cheaper.
use crate::lower::{broadcast_pattern, chain_patterns, tile_supports_op};
use crate::rewrite::analysis::EGraph;
use crate::rewrite::lang::ENode;
use crate::rewrite::rule::{add_op, dims, is_const, ops, same, Rule};
use accel_ops::op::{Elementwise, Op, Step};
use egg::Id;

pub fn rules() -> Vec<super::Any> {
    vec![super::any(Rule { name: "fuse/elementwise-chain", find: find_chain, build: build_chain })]
}

/// Steps at most in one chain (bounds the e-graph: a chain of n operators adds O(n^2) nodes).
const MAX_STEPS: usize = 12;

/// A chain: its steps and its arguments `[x, operands...]`.
type Chain = (Vec<Step>, Vec<Id>);

/// The elementwise steps the tiles run at class `id`, each as a chain of one over its running value.
fn single_steps(eg: &EGraph, id: Id) -> Vec<Chain> {
    let target = &eg.analysis.target;
    let out = dims(eg, id);
    let mut v = Vec::new();
    for (op, a) in ops(eg, id) {
        if !tile_supports_op(target, op) {
            continue;
        }
        match op {
            Op::Unary(u) => v.push((vec![Step::Unary(u.op)], vec![a[0]])),
            Op::Binary(b) => {
                let mut orders = vec![(a[0], a[1])];
                if b.op.commutes() && !same(eg, a[0], a[1]) {
                    orders.push((a[1], a[0]));
                }
                for (x, y) in orders {
                    if dims(eg, x) == out && broadcast_pattern(out, dims(eg, y)).is_some() {
                        v.push((vec![Step::Binary { op: b.op, operand: 0 }], vec![x, y]));
                    }
                }
            }
            _ => {}
        }
    }
    v.retain(|(_, a)| !is_const(eg, a[0]));
    v
}

/// Whether `acc`'s value is needed only by class `id`: not a graph output, and every operator node that reads
/// it (chains aside: they are alternatives of the plain nodes) lies in `id`.
fn only_feeds(eg: &EGraph, acc: Id, id: Id) -> bool {
    let id = eg.find(id);
    if eg.analysis.outputs.iter().any(|&o| eg.find(o) == eg.find(acc)) {
        return false;
    }
    eg[acc].parents().all(|p| match eg.id_to_node(p) {
        ENode::Op { op, .. } if !matches!(op.op(), Op::Elementwise(_)) => eg.find(p) == id,
        _ => true,
    })
}

/// `last(prefix(x))` -> one chain, where `prefix` is a step or a chain producing the running value of `last`.
fn find_chain(eg: &EGraph, id: Id) -> Vec<Chain> {
    let out = dims(eg, id).to_vec();
    let mut found: Vec<Chain> = Vec::new();
    for (last, largs) in single_steps(eg, id) {
        let acc = largs[0];
        let operand = largs.get(1).copied();
        if operand.is_some_and(|o| same(eg, o, acc)) || !only_feeds(eg, acc, id) {
            continue;
        }
        let mut prefixes = single_steps(eg, acc);
        for (op, a) in ops(eg, acc) {
            if let Op::Elementwise(e) = op {
                prefixes.push((e.steps.clone(), a.to_vec()));
            }
        }
        for (mut steps, mut args) in prefixes {
            if steps.len() >= MAX_STEPS || dims(eg, args[0]) != out.as_slice() {
                continue;
            }
            for s in last.iter() {
                let s = match (*s, operand) {
                    (Step::Binary { op, .. }, Some(o)) => {
                        // An operand the chain already reads is read once.
                        let k = match args[1..].iter().position(|&a| same(eg, a, o)) {
                            Some(k) => k,
                            None => {
                                args.push(o);
                                args.len() - 2
                            }
                        };
                        Step::Binary { op, operand: k }
                    }
                    (s, _) => s,
                };
                steps.push(s);
            }
            let operand_dims: Vec<&[usize]> = args[1..].iter().map(|&a| dims(eg, a)).collect();
            let chain = Op::Elementwise(Elementwise { steps: steps.clone() });
            let ok = tile_supports_op(&eg.analysis.target, &chain) && chain_patterns(&out, &operand_dims).is_some();
            let args: Vec<Id> = args.iter().map(|&a| eg.find(a)).collect();
            if ok && !found.contains(&(steps.clone(), args.clone())) {
                found.push((steps, args));
            }
        }
    }
    found
}

fn build_chain(eg: &mut EGraph, (steps, args): &Chain) -> Option<Id> {
    add_op(eg, Op::Elementwise(Elementwise { steps: steps.clone() }), args)
}
