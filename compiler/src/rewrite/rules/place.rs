//! Rule family `place/`: every operator node on the tiles gets a twin on the host fallback in the same
//! e-class, so where each operator runs is chosen by extraction from the cost model (the tiles may be unable
//! to run a particular instance, e.g. a matmul of two activations, or slower than the host), not hard-coded.
use crate::rewrite::analysis::EGraph;
use crate::rewrite::lang::{ENode, OpKey, Place};
use crate::rewrite::rule::Rule;
use accel_ops::op::Op;
use egg::Id;

pub fn rules() -> Vec<super::Any> {
    vec![super::any(Rule { name: "place/host-fallback", find: find_tile_nodes, build: build_host_twin })]
}

/// Tile nodes of the class (reshapes are storage aliases and run nowhere).
fn find_tile_nodes(eg: &EGraph, id: Id) -> Vec<(OpKey, Vec<Id>)> {
    eg[id]
        .nodes
        .iter()
        .filter_map(|n| match n {
            ENode::Op { op, place: Place::Tile, args } if !matches!(op.op(), Op::Reshape(_)) => {
                Some((op.clone(), args.clone()))
            }
            _ => None,
        })
        .collect()
}

fn build_host_twin(eg: &mut EGraph, (op, args): &(OpKey, Vec<Id>)) -> Option<Id> {
    Some(eg.add(ENode::Op { op: op.clone(), place: Place::Host, args: args.clone() }))
}
