//! Which convolutions run as depth-first fused chains (or weight-stationary single layers): a greedy walk in
//! node order that extends a chain while the estimated time of the fused chain beats the sum of its layers'
//! best unfused times. Only single-consumer links fuse, so no intermediate is needed outside SRAM. Every
//! estimate runs each layer at its own format's MAC rate and element size.
use super::emit::{conv_estimate, plan_chain, Budget, ChainLayer};
use super::plan::NodePlan;
use crate::ir::Graph;

/// Consecutive nodes that run as one fused layer, with stripes of `rows` output rows of the last node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub nodes: Vec<usize>,
    pub rows: usize,
}

pub fn find_chains<'a>(
    g: &Graph,
    plans: &'a [NodePlan],
    layer: &dyn Fn(usize) -> Option<ChainLayer<'a>>,
    sram: u64,
    budget: &Budget,
) -> Vec<Chain> {
    let consumers = g.consumers();
    let is_output = |i: usize| g.outputs.contains(&g.nodes[i].output);
    // Node `j` reads node `i`'s output as its data input, and nothing else reads it.
    let links = |i: usize, j: usize| -> bool {
        let out = g.nodes[i].output;
        matches!(&plans[j], NodePlan::Conv { input, residual, .. } if *input == out && *residual != Some(out))
            && consumers[out.0 as usize].len() == 1
            && !is_output(i)
    };
    let streamed = |l: &ChainLayer| {
        let rated = Budget { ops_per_cycle: l.mac_rate, ..*budget };
        conv_estimate(&l.shape, l.conv, l.dtype.size(), &rated)
    };
    let unfused = |i: usize| -> Option<f64> {
        let l = layer(i)?;
        let stream = streamed(&l);
        let resident = plan_chain(std::slice::from_ref(&l), sram, budget).map(|p| p.cycles);
        match (stream, resident) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    };
    let mut chains = Vec::new();
    let mut i = 0;
    while i < plans.len() {
        let Some(first) = layer(i) else {
            i += 1;
            continue;
        };
        let stream = streamed(&first);
        let mut best = plan_chain(std::slice::from_ref(&first), sram, budget);
        // A single layer runs resident only when that beats streaming its weights.
        if let (Some(p), Some(s)) = (best, stream) {
            if p.cycles >= s {
                best = None;
            }
        }
        let mut members = vec![first];
        let mut nodes = vec![i];
        let mut unfused_sum = unfused(i).unwrap_or(f64::INFINITY);
        let mut j = i + 1;
        while j < plans.len() && links(j - 1, j) {
            let (Some(next), Some(next_cost)) = (layer(j), unfused(j)) else { break };
            members.push(next);
            match plan_chain(&members, sram, budget) {
                // Within 2% of the unfused time, fusing still wins: it saves DRAM traffic and energy.
                Some(p) if p.cycles <= 1.02 * (unfused_sum + next_cost) => {
                    best = Some(p);
                    unfused_sum += next_cost;
                    nodes.push(j);
                    j += 1;
                }
                _ => {
                    members.pop();
                    break;
                }
            }
        }
        if let Some(p) = best {
            chains.push(Chain { nodes: nodes.clone(), rows: p.rows });
        }
        i = nodes.last().map_or(i, |&n| n) + 1;
    }
    chains
}
