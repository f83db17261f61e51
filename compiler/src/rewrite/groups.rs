//! Recognized groups that stay several operators because the operator set has no single op for them:
//! LayerNorm exported below opset 17 (`ReduceMean, Sub, Pow|Mul, ReduceMean, Add eps, Sqrt, Div`, then the
//! optional `Mul gamma, Add beta`). The report names each group so a reader sees the layer, and where its
//! pieces run. Found on the optimized graph, after extraction.
use crate::ir::{Graph, NodeId, Placement, ValueId};
use accel_ops::op::{BinaryOp, Op, ReduceKind, UnaryOp};

/// Several nodes of the result that together compute one known layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub kind: &'static str,
    /// The nodes' names, in graph order.
    pub nodes: Vec<String>,
    pub on_tiles: usize,
    pub on_host: usize,
}

/// Every LayerNorm group of `g`.
pub fn layer_norms(g: &Graph) -> Vec<Group> {
    let consumers = g.consumers();
    let users = |v: ValueId| -> Vec<NodeId> { consumers[v.0 as usize].clone() };
    let node = |id: NodeId| g.node(id);
    let is_binary = |id: NodeId, op: BinaryOp| matches!(&node(id).op, Op::Binary(b) if b.op == op);
    let is_const = |v: ValueId| g.constant(v).is_some();
    let mut out = Vec::new();
    for (i, n) in g.nodes.iter().enumerate() {
        let Op::Reduce(r) = &n.op else { continue };
        let x = n.inputs[0];
        let rank = g.ty(x).shape.rank();
        if r.kind != ReduceKind::Mean || !r.keepdims || r.axes != [rank.saturating_sub(1)] {
            continue;
        }
        let mean = NodeId(i as u32);
        let Some(sub) = users(n.output).into_iter().find(|&s| is_binary(s, BinaryOp::Sub) && node(s).inputs[0] == x)
        else {
            continue;
        };
        let d = node(sub).output;
        let square = users(d).into_iter().find(|&s| {
            let ins = &node(s).inputs;
            (is_binary(s, BinaryOp::Mul) && ins[0] == d && ins[1] == d)
                || (is_binary(s, BinaryOp::Pow) && is_const(ins[1]))
        });
        let Some(square) = square else { continue };
        let var = users(node(square).output)
            .into_iter()
            .find(|&s| matches!(&node(s).op, Op::Reduce(q) if q.kind == ReduceKind::Mean));
        let Some(var) = var else { continue };
        let eps = users(node(var).output)
            .into_iter()
            .find(|&s| is_binary(s, BinaryOp::Add) && node(s).inputs.iter().any(|&v| is_const(v)));
        let Some(eps) = eps else { continue };
        let sqrt =
            users(node(eps).output).into_iter().find(|&s| matches!(&node(s).op, Op::Unary(u) if u.op == UnaryOp::Sqrt));
        let Some(sqrt) = sqrt else { continue };
        let div = users(node(sqrt).output).into_iter().find(|&s| is_binary(s, BinaryOp::Div) && node(s).inputs[0] == d);
        let Some(div) = div else { continue };
        let mut ids = vec![mean, sub, square, var, eps, sqrt, div];
        let scale = users(node(div).output)
            .into_iter()
            .find(|&s| is_binary(s, BinaryOp::Mul) && node(s).inputs.iter().any(|&v| is_const(v)));
        if let Some(scale) = scale {
            ids.push(scale);
            let shift = users(node(scale).output)
                .into_iter()
                .find(|&s| is_binary(s, BinaryOp::Add) && node(s).inputs.iter().any(|&v| is_const(v)));
            ids.extend(shift);
        }
        ids.sort();
        let count = |p: Placement| ids.iter().filter(|&&id| node(id).placement == p).count();
        out.push(Group {
            kind: "layer-norm",
            nodes: ids.iter().map(|&id| node(id).name.clone()).collect(),
            on_tiles: count(Placement::Tile),
            on_host: count(Placement::Host),
        });
    }
    out
}
