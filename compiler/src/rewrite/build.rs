//! From a `Graph` into the e-graph: inputs and constants become leaves (a constant's facts go to the side
//! table, its tensor stays in the graph), each node one operator e-node with its placement (a node forced to the host stays
//! there; a node over constants only is folded). Identical nodes merge on insertion (common subexpressions).
use super::analysis::{const_facts, Ctx, EGraph};
use super::lang::{ENode, Place};
use super::readback::Origin;
use super::RewriteError;
use crate::ir::{Graph, Placement, ValueId};
use accel_ops::target::Target;
use egg::Id;

/// Builds the e-graph of `g` and what readback needs to map classes back to ONNX names.
pub fn build<'a>(g: &'a Graph, target: &Target) -> Result<(EGraph, Origin<'a>), RewriteError> {
    let mut ctx = Ctx::new(target.clone());
    ctx.inputs = g.inputs.iter().map(|&i| g.ty(i).clone()).collect();
    let mut eg = EGraph::new(ctx);
    let mut class: Vec<Option<Id>> = vec![None; g.values.len()];
    let mut const_values = Vec::new();
    let mut input_class = Vec::with_capacity(g.inputs.len());
    for (k, &i) in g.inputs.iter().enumerate() {
        let id = eg.add(ENode::Input(k as u32));
        class[i.0 as usize] = Some(id);
        input_class.push(id);
    }
    let mut node_class = Vec::with_capacity(g.nodes.len());
    for n in &g.nodes {
        let mut args = Vec::with_capacity(n.inputs.len());
        for &v in &n.inputs {
            args.push(value_class(g, &mut eg, &mut class, &mut const_values, v)?);
        }
        let all_const = args.iter().all(|&a| eg[a].data.konst.is_const());
        let place = match n.placement {
            Placement::Host => Place::Host,
            _ if all_const => Place::Fold,
            _ => eg.analysis.home(&n.op),
        };
        let id = eg.add(ENode::op(n.op.clone(), place, args));
        class[n.output.0 as usize] = Some(id);
        node_class.push(id);
    }
    eg.analysis.outputs = g.outputs.iter().filter_map(|&o| class.get(o.0 as usize).copied().flatten()).collect();
    if let Some(why) = eg.analysis.conflicts.first() {
        return Err(RewriteError::Analysis(why.clone()));
    }
    eg.rebuild();
    Ok((eg, Origin { graph: g, node_class, input_class, const_values }))
}

/// The class of a value: already added (inputs, node outputs), or a constant added to the side table now.
fn value_class(
    g: &Graph,
    eg: &mut EGraph,
    class: &mut [Option<Id>],
    const_values: &mut Vec<ValueId>,
    v: ValueId,
) -> Result<Id, RewriteError> {
    if let Some(id) = class.get(v.0 as usize).copied().flatten() {
        return Ok(id);
    }
    let val = g.values.get(v.0 as usize).ok_or(RewriteError::NoChoice)?;
    let t = val
        .constant
        .as_ref()
        .ok_or_else(|| RewriteError::Analysis(format!("value `{}` used before defined", val.name)))?;
    let index = eg.analysis.consts.len() as u32;
    eg.analysis.consts.push(const_facts(t));
    const_values.push(v);
    let id = eg.add(ENode::Const(index));
    class[v.0 as usize] = Some(id);
    Ok(id)
}
