//! Which convolutions run as depth-first fused chains (or weight-stationary single layers): a greedy walk in
//! node order that extends a chain while the estimated time of the fused chain beats the sum of its layers'
//! best unfused times. A chain is contiguous in node order; each member reads its input from the chain (the
//! chain's input or an earlier member), may add a residual the chain holds, and stores its output only if
//! something outside the chain reads it (`wire`). Every estimate runs each layer at its own format's MAC rate
//! and element size.
use super::emit::{conv_estimate, plan_chain, Budget, ChainLayer, Src, Wiring};
use super::plan::NodePlan;
use crate::ir::{Graph, NodeId, ValueId};

/// Consecutive nodes that run as one fused layer, with tiles of `rows` x `cols` outputs of the last node, and
/// how each member connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub nodes: Vec<usize>,
    pub rows: usize,
    pub cols: usize,
    pub wiring: Vec<Wiring>,
}

/// How `nodes` (convolutions, in node order) connect as one chain, or `None` if they cannot: every member reads
/// its input from the chain (the first member's input, or an earlier member's output; several members may read
/// one block, each its window of it), and every member but the last is read inside the chain. A residual the chain holds is read there; any other from DRAM. A member's output is stored when
/// it is a graph output or a node outside the chain reads it.
pub fn wire(g: &Graph, plans: &[NodePlan], consumers: &[Vec<NodeId>], nodes: &[usize]) -> Option<Vec<Wiring>> {
    let conv_io = |n: usize| match plans.get(n) {
        Some(NodePlan::Conv { input, residual, .. }) => Some((*input, *residual)),
        _ => None,
    };
    let (x, _) = conv_io(*nodes.first()?)?;
    let outs: Vec<ValueId> = nodes.iter().map(|&n| g.nodes[n].output).collect();
    let src_of = |v: ValueId, before: usize| match outs[..before].iter().position(|&o| o == v) {
        Some(k) => Some(Src::Member(k)),
        None => (v == x).then_some(Src::Input),
    };
    let mut read_inside = vec![false; nodes.len()];
    let mut wiring = Vec::with_capacity(nodes.len());
    for (m, &n) in nodes.iter().enumerate() {
        let (input, residual) = conv_io(n)?;
        let input = src_of(input, m)?;
        let residual = residual.and_then(|r| src_of(r, m));
        for src in [Some(input), residual].into_iter().flatten() {
            if let Src::Member(k) = src {
                read_inside[k] = true;
            }
        }
        wiring.push(Wiring { input, residual, stored: false });
    }
    if read_inside[..nodes.len() - 1].iter().any(|r| !r) {
        return None;
    }
    for (m, w) in wiring.iter_mut().enumerate() {
        let v = outs[m];
        let outside = consumers[v.0 as usize].iter().any(|c| !nodes.contains(&(c.0 as usize)));
        w.stored = m + 1 == nodes.len() || g.outputs.contains(&v) || outside;
    }
    Some(wiring)
}

/// Members a chain may have at most (bounds the search; longer chains rarely fit SRAM's resident half).
const MAX_MEMBERS: usize = 24;

/// Splits the convolutions into chains by dynamic programming over node order: the least total estimated time,
/// where a node alone costs its best unfused time (streamed, or weight-stationary when that is faster) and a
/// contiguous run of convolutions that `wire` connects costs its fused plan's time. Non-convolution nodes cost
/// the same in every split and end any run.
pub fn find_chains<'a>(
    g: &Graph,
    plans: &'a [NodePlan],
    layer: &dyn Fn(usize) -> Option<ChainLayer<'a>>,
    sram: u64,
    budget: &Budget,
) -> Vec<Chain> {
    let consumers = g.consumers();
    let n = plans.len();
    // `best[j]`: the least time of nodes `..j`, and the chain that ends there (if the last step was one).
    let mut best: Vec<(f64, Option<Chain>, usize)> = vec![(0.0, None, 0); n + 1];
    for j in 0..n {
        let Some(last) = layer(j) else {
            best[j + 1] = (best[j].0, None, j);
            continue;
        };
        let rated = Budget { ops_per_cycle: last.mac_rate, ..*budget };
        let stream = conv_estimate(&last.shape, last.conv, last.dtype.size(), &rated);
        let resident = wire(g, plans, &consumers, &[j])
            .and_then(|w| Some((plan_chain(&[layer(j)?.wired(&w[0])], sram, budget)?, w)));
        // A single layer runs resident only when that beats streaming its weights.
        best[j + 1] = match (stream, resident) {
            (Some(s), Some((p, _))) if s <= p.cycles => (best[j].0 + s, None, j),
            (_, Some((p, w))) => {
                (best[j].0 + p.cycles, Some(Chain { nodes: vec![j], rows: p.rows, cols: p.cols, wiring: w }), j)
            }
            (Some(s), None) => (best[j].0 + s, None, j),
            // Neither fits (the lowering reports it): nothing to choose.
            (None, None) => (best[j].0, None, j),
        };
        for i in (j.saturating_sub(MAX_MEMBERS - 1)..j).rev() {
            if layer(i).is_none() {
                break;
            }
            let nodes: Vec<usize> = (i..=j).collect();
            let Some(wiring) = wire(g, plans, &consumers, &nodes) else { continue };
            let members: Option<Vec<ChainLayer>> =
                nodes.iter().zip(&wiring).map(|(&m, w)| Some(layer(m)?.wired(w))).collect();
            let Some(p) = members.and_then(|m| plan_chain(&m, sram, budget)) else { continue };
            let t = best[i].0 + p.cycles;
            if t < best[j + 1].0 {
                best[j + 1] = (t, Some(Chain { nodes, rows: p.rows, cols: p.cols, wiring }), i);
            }
        }
    }
    // Walk back from the end through the chosen steps.
    let mut chains = Vec::new();
    let mut at = n;
    while at > 0 {
        let (_, chain, from) = std::mem::replace(&mut best[at], (0.0, None, 0));
        chains.extend(chain);
        at = from;
    }
    chains.reverse();
    chains
}
