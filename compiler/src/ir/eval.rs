//! Reference interpretation of a whole graph with the ops reference semantics: the oracle that compiled
//! programs are compared with, and the engine of constant folding.
use super::graph::{Graph, IrError, ValueId};
use accel_ops::Tensor;

/// Evaluates the graph on `inputs` (in graph input order) and returns the outputs in graph output order.
pub fn evaluate(g: &Graph, inputs: &[Tensor]) -> Result<Vec<Tensor>, IrError> {
    evaluate_observed(g, inputs, |_, _| {})
}

/// As `evaluate`, showing every node's output to `observe` as it is computed (calibration, precision reports).
pub fn evaluate_observed(
    g: &Graph,
    inputs: &[Tensor],
    mut observe: impl FnMut(ValueId, &Tensor),
) -> Result<Vec<Tensor>, IrError> {
    if inputs.len() != g.inputs.len() {
        return Err(IrError::Invalid {
            node: "<graph>".into(),
            why: format!("{} inputs given, graph has {}", inputs.len(), g.inputs.len()),
        });
    }
    let mut vals: Vec<Option<Tensor>> = g.values.iter().map(|v| v.constant.clone()).collect();
    for (&id, t) in g.inputs.iter().zip(inputs) {
        if &t.ty() != g.ty(id) {
            return Err(IrError::Invalid {
                node: g.value(id).name.clone(),
                why: format!("input is {}, graph wants {}", t.ty(), g.ty(id)),
            });
        }
        vals[id.0 as usize] = Some(t.clone());
    }
    // Free each value after its last use so that big models fit in memory.
    let consumers = g.consumers();
    let mut remaining: Vec<usize> = consumers.iter().map(|c| c.len()).collect();
    for &o in &g.outputs {
        remaining[o.0 as usize] += 1;
    }
    for n in &g.nodes {
        let args: Vec<&Tensor> = n
            .inputs
            .iter()
            .map(|v| {
                vals[v.0 as usize]
                    .as_ref()
                    .ok_or_else(|| IrError::Invalid { node: n.name.clone(), why: "input not computed".into() })
            })
            .collect::<Result<_, _>>()?;
        let out = n.op.eval(&args).map_err(|error| IrError::Op { node: n.name.clone(), op: n.op.kind(), error })?;
        observe(n.output, &out);
        vals[n.output.0 as usize] = Some(out);
        for v in &n.inputs {
            let r = &mut remaining[v.0 as usize];
            *r = r.saturating_sub(1);
            if *r == 0 && g.value(*v).constant.is_none() {
                vals[v.0 as usize] = None;
            }
        }
    }
    g.outputs
        .iter()
        .map(|o| {
            vals[o.0 as usize]
                .clone()
                .ok_or_else(|| IrError::Invalid { node: g.value(*o).name.clone(), why: "output not computed".into() })
        })
        .collect()
}
