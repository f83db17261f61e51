//! Graph passes before lowering, in one pipeline table of named passes (`--dump-after NAME` prints the graph).
//! Each pass is a function of the graph and the pass context (target, rewrite options); the graph verifier
//! runs after each one. The e-graph stage (`crate::rewrite`) is the pass `egraph`: it replaced the
//! fold-batchnorm and fuse-activation rebuild passes.
use crate::ir::{Graph, IrError};
use crate::rewrite::{self, RewriteOptions, RewriteReport};
use accel_ops::target::Target;

/// What passes may depend on besides the graph.
#[derive(Debug, Clone)]
pub struct PassContext {
    pub target: Target,
    pub rewrite: RewriteOptions,
}

impl Default for PassContext {
    fn default() -> Self {
        PassContext { target: Target::x1(), rewrite: RewriteOptions::default() }
    }
}

/// A pass's result: the new graph and, for the e-graph pass, its report.
pub struct PassOutput {
    pub graph: Graph,
    pub report: Option<RewriteReport>,
}

/// A named graph pass.
pub struct Pass {
    pub name: &'static str,
    pub run: fn(&Graph, &PassContext) -> Result<PassOutput, IrError>,
}

/// The pipeline, in order.
pub const PIPELINE: &[Pass] = &[Pass { name: "egraph", run: egraph }];

/// The e-graph rewrite stage as a pass. Its errors become graph errors naming the stage.
fn egraph(g: &Graph, ctx: &PassContext) -> Result<PassOutput, IrError> {
    match rewrite::optimize(g, &ctx.target, &ctx.rewrite) {
        Ok((graph, report)) => Ok(PassOutput { graph, report: Some(report) }),
        Err(rewrite::RewriteError::Ir(e)) => Err(e),
        Err(e) => Err(IrError::Invalid { node: "<egraph>".into(), why: e.to_string() }),
    }
}

/// The result of the whole pipeline: the graph and the reports of the passes that made one.
pub struct PipelineOutput {
    pub graph: Graph,
    pub reports: Vec<(&'static str, RewriteReport)>,
}

/// Runs every pass with `ctx`, verifying after each; `after` is called with each pass's name and result.
pub fn run_pipeline_with(
    g: &Graph,
    ctx: &PassContext,
    mut after: impl FnMut(&str, &Graph),
) -> Result<PipelineOutput, IrError> {
    let mut g = g.clone();
    let mut reports = Vec::new();
    for p in PIPELINE {
        let out = (p.run)(&g, ctx)?;
        g = out.graph;
        g.verify()?;
        reports.extend(out.report.map(|r| (p.name, r)));
        after(p.name, &g);
    }
    Ok(PipelineOutput { graph: g, reports })
}

/// Runs every pass for the default context (the `x1` target).
pub fn run_pipeline(g: &Graph, after: impl FnMut(&str, &Graph)) -> Result<Graph, IrError> {
    run_pipeline_with(g, &PassContext::default(), after).map(|o| o.graph)
}
