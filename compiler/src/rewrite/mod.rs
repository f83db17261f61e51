//! The e-graph rewrite stage (the only module that names `egg`): the graph goes into an e-graph, the rule
//! families add equivalent forms (folded constants, recognized activations, fused operators, host
//! alternatives), a greedy-DAG extractor picks the cheapest graph under the target's cost model, and readback
//! folds the constants and names each fused node after the ONNX nodes it covers. Bounded and deterministic:
//! iteration and e-node limits, no time limit, egg's `deterministic` feature; the stop reason is reported.
mod analysis;
mod build;
mod cost;
mod extract;
mod formats;
mod groups;
mod integral;
mod lang;
mod readback;
mod report;
mod rule;
mod rules;
#[cfg(test)]
mod tests;

pub use formats::{
    choose as choose_formats, FormatChoice, FormatNode, FormatProblem, Kind as FormatKind, Numeric, Variant,
};
pub use groups::Group;
pub use report::{Fusion, RewriteReport, StopReason};

use crate::ir::{Graph, IrError, Placement};
use accel_ops::target::Target;
use analysis::{Ctx, Facts, Konst};
use egg::{Runner, SimpleScheduler};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Limits and rule selection. The defaults are what the compiler uses.
#[derive(Debug, Clone, PartialEq)]
pub struct RewriteOptions {
    /// Rule-application rounds at most (egg checks limits between rounds and between rules).
    pub iter_limit: usize,
    /// E-nodes at most; the run stops at the first check above it.
    pub node_limit: usize,
    /// Rules not to run: exact names (`fuse/conv-act`) or family prefixes ending in `/` (`fuse/`).
    pub disabled: Vec<String>,
}

impl Default for RewriteOptions {
    fn default() -> Self {
        RewriteOptions { iter_limit: 8, node_limit: 50_000, disabled: Vec::new() }
    }
}

#[derive(Debug, Error)]
pub enum RewriteError {
    #[error("e-graph analysis: {0}")]
    Analysis(String),
    #[error("rewrite rule: {0}")]
    Rule(String),
    #[error("extraction left a needed e-class without a choice")]
    NoChoice,
    #[error("extraction chose a cyclic graph")]
    Cycle,
    #[error("folding a constant {op}: {why}")]
    Fold { op: &'static str, why: String },
    #[error(transparent)]
    Ir(#[from] IrError),
}

/// Optimizes `g` for `target`: returns the extracted graph (verified) and what happened.
pub fn optimize(g: &Graph, target: &Target, opts: &RewriteOptions) -> Result<(Graph, RewriteReport), RewriteError> {
    let start = Instant::now();
    let (eg, origin) = build::build(g, target)?;
    let enabled =
        |name: &str| !opts.disabled.iter().any(|d| d == name || (d.ends_with('/') && name.starts_with(d.as_str())));
    let mut rewrites = Vec::new();
    for r in rules::all() {
        let r = r.map_err(RewriteError::Rule)?;
        if enabled(r.name.as_str()) {
            rewrites.push(r);
        }
    }
    let runner = Runner::<_, Ctx, ()>::new(Ctx::new(target.clone()))
        .with_egraph(eg)
        .with_iter_limit(opts.iter_limit)
        .with_node_limit(opts.node_limit)
        // No wall-clock limit may decide the result; the iteration and node limits bound the run.
        .with_time_limit(Duration::MAX)
        .with_scheduler(SimpleScheduler)
        .run(&rewrites);
    if let Some(why) = runner.egraph.analysis.conflicts.first() {
        return Err(RewriteError::Analysis(why.clone()));
    }
    let model = cost::CostModel::new(target);
    let ex = extract::extract(&runner.egraph, &model, &output_classes(&runner.egraph, &origin));
    let egraph_elapsed = start.elapsed();
    let (out, covered) = readback::readback(&runner.egraph, &ex, &origin)?;
    out.verify()?;
    let mut applied: std::collections::BTreeMap<String, usize> = Default::default();
    for it in &runner.iterations {
        for (name, n) in &it.applied {
            *applied.entry(name.to_string()).or_default() += n;
        }
    }
    let (tile_before, host_before, cost_before) = placements_before(g, &model);
    let counted = |p: Placement| out.nodes.iter().filter(|n| n.placement == p && !is_alias(n)).count();
    let report = RewriteReport {
        stop_reason: StopReason::from_egg(runner.stop_reason.as_ref()),
        iterations: runner.iterations.len(),
        enodes: runner.egraph.total_size(),
        eclasses: runner.egraph.number_of_classes(),
        ops_before: g.nodes.iter().filter(|n| !is_alias(n)).count(),
        ops_after: out.nodes.iter().filter(|n| !is_alias(n)).count(),
        tile_before,
        host_before,
        tile_after: counted(Placement::Tile),
        host_after: counted(Placement::Host),
        cost_before,
        cost_after: dag_cost_of_outputs(&ex, &runner.egraph, &origin),
        fusions: covered.iter().map(|c| Fusion::of(&out, c.node, &c.originals)).collect(),
        groups: groups::layer_norms(&out),
        rules_applied: applied.into_iter().collect(),
        egraph_elapsed,
        elapsed: start.elapsed(),
    };
    Ok((out, report))
}

fn is_alias(n: &crate::ir::Node) -> bool {
    matches!(n.op, accel_ops::op::Op::Reshape(_))
}

/// The classes of the graph outputs that are computed (not inputs or constants).
fn output_classes(eg: &analysis::EGraph, origin: &readback::Origin) -> Vec<egg::Id> {
    let g = origin.graph;
    g.outputs.iter().filter_map(|&o| g.value(o).producer.map(|p| eg.find(origin.node_class[p.0 as usize]))).collect()
}

/// The extracted graph's cost: the classes reachable from the graph outputs.
fn dag_cost_of_outputs(ex: &extract::Extracted, eg: &analysis::EGraph, origin: &readback::Origin) -> f64 {
    ex.dag_cost(&output_classes(eg, origin)).unwrap_or(f64::NAN)
}

/// Where the cost model would run each node of the unoptimized graph (the cheaper of tile and host), and the
/// total: the baseline the report compares with.
fn placements_before(g: &Graph, model: &cost::CostModel) -> (usize, usize, f64) {
    let facts: Vec<Facts> = g
        .values
        .iter()
        .map(|v| Facts {
            ty: v.ty.clone(),
            konst: if v.constant.is_some() { Konst::Tensor } else { Konst::No },
            int_bound: None,
        })
        .collect();
    let (mut tile, mut host, mut total) = (0, 0, 0.0);
    for n in g.nodes.iter().filter(|n| !is_alias(n)) {
        let args: Vec<&Facts> = n.inputs.iter().map(|v| &facts[v.0 as usize]).collect();
        let out = &facts[n.output.0 as usize];
        let t = model.op_cost(&n.op, lang::Place::Tile, &args, out);
        let h = model.op_cost(&n.op, lang::Place::Host, &args, out);
        if t <= h && n.placement != Placement::Host {
            tile += 1;
            total += t;
        } else {
            host += 1;
            total += h;
        }
    }
    (tile, host, total)
}
