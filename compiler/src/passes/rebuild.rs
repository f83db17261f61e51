//! Rebuilding a graph node by node with some nodes replaced: the one mechanism the rewrite passes share.
use crate::ir::{Graph, IrError, Node, NodeId, ValueId};
use accel_ops::op::Op;
use accel_ops::Tensor;

/// What to do with a node while rebuilding.
pub enum Action {
    Keep,
    /// Replace the node by one op (inputs are old ids, or new constants) producing the node's output.
    Replace { name: String, op: Op, inputs: Vec<Input> },
}

pub enum Input {
    Old(ValueId),
    Const(Tensor),
}

/// Rebuilds `g`, asking `decide` about each node (with the old graph and the node's id).
pub fn rebuild(g: &Graph, mut decide: impl FnMut(&Graph, NodeId, &Node) -> Action) -> Result<Graph, IrError> {
    let mut out = Graph::default();
    let mut map: Vec<Option<ValueId>> = vec![None; g.values.len()];
    for &i in &g.inputs {
        map[i.0 as usize] = Some(out.add_input(g.value(i).name.clone(), g.ty(i).clone()));
    }
    let get = |out: &mut Graph, map: &mut Vec<Option<ValueId>>, v: ValueId| -> Result<ValueId, IrError> {
        if let Some(n) = map[v.0 as usize] {
            return Ok(n);
        }
        // Constants are copied on first use; anything else must have been defined already.
        let val = g.value(v);
        let t = val.constant.clone().ok_or_else(|| IrError::Invalid { node: val.name.clone(), why: "used before defined".into() })?;
        let id = out.add_const(val.name.clone(), t);
        map[v.0 as usize] = Some(id);
        Ok(id)
    };
    for (i, n) in g.nodes.iter().enumerate() {
        match decide(g, NodeId(i as u32), n) {
            Action::Keep => {
                let ins: Vec<ValueId> = n.inputs.iter().map(|&v| get(&mut out, &mut map, v)).collect::<Result<_, _>>()?;
                let id = out.add_node(n.name.clone(), n.op.clone(), ins, g.value(n.output).name.clone())?;
                map[n.output.0 as usize] = Some(id);
            }
            Action::Replace { name, op, inputs } => {
                let mut ins = Vec::new();
                for (k, inp) in inputs.into_iter().enumerate() {
                    ins.push(match inp {
                        Input::Old(v) => get(&mut out, &mut map, v)?,
                        Input::Const(t) => out.add_const(format!("{name}:folded{k}"), t),
                    });
                }
                let id = out.add_node(name, op, ins, g.value(n.output).name.clone())?;
                map[n.output.0 as usize] = Some(id);
            }
        }
    }
    for &o in &g.outputs {
        let id = get(&mut out, &mut map, o)?;
        out.outputs.push(id);
    }
    out.prune();
    Ok(out)
}
