//! What a rewrite run did, as data and as stable text: why it stopped, how big the e-graph grew, the rules
//! that fired, operator counts and placements before and after, and every fusion (which ONNX nodes became
//! one node). The text form leaves out the wall-clock time so that it can be snapshotted.
use crate::ir::{Graph, NodeId, Placement};
use std::fmt;
use std::time::Duration;

/// Why the rewrite loop stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum StopReason {
    /// No rule added anything new.
    Saturated,
    IterationLimit(usize),
    NodeLimit(usize),
    Other(String),
}

impl StopReason {
    pub(super) fn from_egg(r: Option<&egg::StopReason>) -> StopReason {
        match r {
            Some(egg::StopReason::Saturated) => StopReason::Saturated,
            Some(egg::StopReason::IterationLimit(n)) => StopReason::IterationLimit(*n),
            Some(egg::StopReason::NodeLimit(n)) => StopReason::NodeLimit(*n),
            Some(egg::StopReason::TimeLimit(s)) => StopReason::Other(format!("time limit after {s:.1} s")),
            Some(egg::StopReason::Other(s)) => StopReason::Other(s.clone()),
            None => StopReason::Other("not run".into()),
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Saturated => write!(f, "saturated"),
            StopReason::IterationLimit(n) => write!(f, "iteration limit ({n})"),
            StopReason::NodeLimit(n) => write!(f, "e-node limit ({n} e-nodes)"),
            StopReason::Other(s) => write!(f, "{s}"),
        }
    }
}

/// One node of the result that covers several ONNX nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Fusion {
    /// The fused node's name: the ONNX names joined with `+`.
    pub name: String,
    /// The operator it became, with its fused activation (`conv.relu`).
    pub op: String,
    /// Whether it has a residual input (a Conv with 4 inputs).
    pub residual: bool,
    pub placement: Placement,
    /// The ONNX nodes it covers, in graph order.
    pub originals: Vec<String>,
}

impl Fusion {
    pub(super) fn of(g: &Graph, node: NodeId, originals: &[String]) -> Fusion {
        let n = g.node(node);
        let op = crate::ir::op_text(&n.op);
        let residual = matches!(n.op, accel_ops::op::Op::Conv(_)) && n.inputs.len() == 4;
        Fusion { name: n.name.clone(), op, residual, placement: n.placement, originals: originals.to_vec() }
    }
}

/// The report of one `optimize` call.
#[derive(Debug, Clone, PartialEq)]
pub struct RewriteReport {
    pub stop_reason: StopReason,
    pub iterations: usize,
    /// E-nodes and e-classes when the run stopped.
    pub enodes: usize,
    pub eclasses: usize,
    /// Operators (reshapes, which are aliases, not counted) before and after.
    pub ops_before: usize,
    pub ops_after: usize,
    /// Operators the cost model places on the tiles or the host, before (each node alone) and after.
    pub tile_before: usize,
    pub host_before: usize,
    pub tile_after: usize,
    pub host_after: usize,
    /// The cost model's cycles for the whole graph, before and after.
    pub cost_before: f64,
    pub cost_after: f64,
    pub fusions: Vec<Fusion>,
    /// Recognized layers that stay several operators (LayerNorm).
    pub groups: Vec<super::Group>,
    /// How often each rule added something, by name.
    pub rules_applied: Vec<(String, usize)>,
    /// Wall-clock time of building, running and extracting the e-graph (not part of the text form).
    pub egraph_elapsed: Duration,
    /// Wall-clock time of the whole call, with readback and constant folding (not part of the text form).
    pub elapsed: Duration,
}

impl fmt::Display for RewriteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "e-graph: {} after {} iterations, {} e-nodes, {} e-classes",
            self.stop_reason, self.iterations, self.enodes, self.eclasses
        )?;
        writeln!(
            f,
            "ops: {} -> {} (tile {} -> {}, host {} -> {}), model cycles {:.0} -> {:.0}",
            self.ops_before,
            self.ops_after,
            self.tile_before,
            self.tile_after,
            self.host_before,
            self.host_after,
            self.cost_before,
            self.cost_after
        )?;
        let rules: Vec<String> = self.rules_applied.iter().map(|(r, n)| format!("{r} x{n}")).collect();
        writeln!(f, "rules: {}", if rules.is_empty() { "none".to_string() } else { rules.join(", ") })?;
        for x in &self.fusions {
            let res = if x.residual { " +residual" } else { "" };
            writeln!(f, "fused {}{res} @{}: {}", x.op, x.placement.name(), x.originals.join(" + "))?;
        }
        for g in &self.groups {
            writeln!(f, "group {} ({} on tiles, {} on host): {}", g.kind, g.on_tiles, g.on_host, g.nodes.join(" + "))?;
        }
        Ok(())
    }
}
