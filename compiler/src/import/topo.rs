//! Topological order of the ONNX nodes (files may list them in any order): Kahn's algorithm with an explicit
//! queue, never recursion over the untrusted graph (BAD-INPUT #10). Also finds missing inputs, values defined
//! twice, and names a node on a cycle.
use super::attrs::node_label;
use super::error::ImportError;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use tract_onnx::pb::NodeProto;

/// Node indices in an order where every node comes after the producers of its inputs, and the graph's depth
/// (the most nodes on one path). Among ready nodes the lowest file index goes first, so an already sorted file
/// keeps its order. `outer` holds the names defined outside the nodes (graph inputs and initializers).
pub(crate) fn sort(nodes: &[NodeProto], outer: &HashSet<&str>) -> Result<(Vec<usize>, usize), ImportError> {
    let mut producer: HashMap<&str, usize> = HashMap::with_capacity(nodes.len());
    for (i, n) in nodes.iter().enumerate() {
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            if outer.contains(o.as_str()) {
                return Err(ImportError::Model(format!(
                    "node `{}` redefines `{o}`, a graph input or initializer",
                    node_label(n, i)
                )));
            }
            if let Some(&j) = producer.get(o.as_str()) {
                return Err(ImportError::Model(format!(
                    "value `{o}` is produced by both `{}` and `{}`",
                    node_label(&nodes[j], j),
                    node_label(n, i)
                )));
            }
            producer.insert(o, i);
        }
    }
    // Edges producer -> consumer, one per input slot (a node reading a value twice counts it twice).
    let mut indegree = vec![0usize; nodes.len()];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for input in n.input.iter().filter(|s| !s.is_empty()) {
            if outer.contains(input.as_str()) {
                continue;
            }
            match producer.get(input.as_str()) {
                Some(&p) => {
                    indegree[i] += 1;
                    consumers[p].push(i);
                }
                None => return Err(ImportError::MissingInput { node: node_label(n, i), input: input.clone() }),
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        indegree.iter().enumerate().filter(|(_, &d)| d == 0).map(|(i, _)| Reverse(i)).collect();
    let mut order = Vec::with_capacity(nodes.len());
    // Nodes on the longest path ending at each node, filled in as producers are popped.
    let mut depth = vec![1usize; nodes.len()];
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &c in &consumers[i] {
            depth[c] = depth[c].max(depth[i] + 1);
            indegree[c] -= 1;
            if indegree[c] == 0 {
                ready.push(Reverse(c));
            }
        }
    }
    if order.len() == nodes.len() {
        return Ok((order, depth.into_iter().max().unwrap_or(0)));
    }
    // Every node left has a producer that is also left. Walking back through such producers must revisit
    // a node, and the first node revisited lies on a cycle (nodes merely downstream of one are skipped).
    let Some(start) = indegree.iter().position(|&d| d > 0) else {
        return Err(ImportError::Model("topological sort lost nodes".into()));
    };
    let mut seen = vec![false; nodes.len()];
    let mut at = start;
    loop {
        if seen[at] {
            return Err(ImportError::Cycle { node: node_label(&nodes[at], at) });
        }
        seen[at] = true;
        let prev = nodes[at].input.iter().filter_map(|s| producer.get(s.as_str()).copied()).find(|&p| indegree[p] > 0);
        match prev {
            Some(p) => at = p,
            None => return Err(ImportError::Cycle { node: node_label(&nodes[at], at) }),
        }
    }
}
