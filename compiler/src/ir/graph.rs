//! The graph container and its invariants: nodes are topologically ordered, every value has one producer
//! (a node, a graph input or a constant), and every node's output type is what its op infers.
use accel_ops::op::Op;
use accel_ops::{OpError, Tensor, TensorType};
use std::fmt;
use thiserror::Error;

/// Index of a value in `Graph::values`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);

/// Index of a node in `Graph::nodes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// A graph-level error, naming the node.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum IrError {
    // The operator's error is part of the message, not a `source`: printed as a chain it would appear twice.
    #[error("node `{node}` ({op}): {error}")]
    Op { node: String, op: &'static str, error: OpError },
    #[error("node `{node}`: {why}")]
    Invalid { node: String, why: String },
}

/// A tensor value: a graph input, a constant, or a node output.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub name: String,
    pub ty: TensorType,
    pub producer: Option<NodeId>,
    pub constant: Option<Tensor>,
}

/// Where a node runs. Import leaves every node `Auto` (the lowering decides: the tiles if they can, else the
/// host); the e-graph stage sets `Tile` or `Host` from its cost model, and the lowering honours `Host`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Placement {
    #[default]
    Auto,
    Tile,
    Host,
}

impl Placement {
    pub fn name(self) -> &'static str {
        match self {
            Placement::Auto => "auto",
            Placement::Tile => "tile",
            Placement::Host => "host",
        }
    }
}

/// One operation. `name` is the ONNX node name (fused nodes join names with `+`).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub op: Op,
    pub inputs: Vec<ValueId>,
    pub output: ValueId,
    pub placement: Placement,
}

/// A whole model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    pub values: Vec<Value>,
    pub nodes: Vec<Node>,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
}

impl Graph {
    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.0 as usize]
    }
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0 as usize]
    }
    pub fn ty(&self, id: ValueId) -> &TensorType {
        &self.value(id).ty
    }
    pub fn constant(&self, id: ValueId) -> Option<&Tensor> {
        self.value(id).constant.as_ref()
    }

    /// The multiply-accumulates of one evaluation of node `i`: what its operator needs, without the halo rows a
    /// fused schedule recomputes or the tiles' padding (reports measure utilization against it).
    pub fn node_macs(&self, i: usize) -> u64 {
        self.nodes.get(i).map_or(0, |n| {
            let types: Vec<TensorType> = n.inputs.iter().map(|&v| self.ty(v).clone()).collect();
            n.op.macs(&types, self.ty(n.output))
        })
    }

    /// Adds a graph input.
    pub fn add_input(&mut self, name: impl Into<String>, ty: TensorType) -> ValueId {
        let id = self.push_value(Value { name: name.into(), ty, producer: None, constant: None });
        self.inputs.push(id);
        id
    }

    /// Adds a constant.
    pub fn add_const(&mut self, name: impl Into<String>, t: Tensor) -> ValueId {
        self.push_value(Value { name: name.into(), ty: t.ty(), producer: None, constant: Some(t) })
    }

    /// Appends a node after its inputs (so the order stays topological); infers and checks its output type.
    pub fn add_node(
        &mut self,
        name: impl Into<String>,
        op: Op,
        inputs: Vec<ValueId>,
        output_name: impl Into<String>,
    ) -> Result<ValueId, IrError> {
        let name = name.into();
        if let Some(bad) = inputs.iter().find(|v| v.0 as usize >= self.values.len()) {
            return Err(IrError::Invalid { node: name, why: format!("input value {} does not exist", bad.0) });
        }
        let types: Vec<TensorType> = inputs.iter().map(|&v| self.ty(v).clone()).collect();
        let ty = op.infer(&types).map_err(|error| IrError::Op { node: name.clone(), op: op.kind(), error })?;
        let node_id = NodeId(self.nodes.len() as u32);
        let output = self.push_value(Value { name: output_name.into(), ty, producer: Some(node_id), constant: None });
        self.nodes.push(Node { name, op, inputs, output, placement: Placement::Auto });
        Ok(output)
    }

    /// Sets where a node runs (see `Placement`).
    pub fn set_placement(&mut self, node: NodeId, placement: Placement) {
        if let Some(n) = self.nodes.get_mut(node.0 as usize) {
            n.placement = placement;
        }
    }

    fn push_value(&mut self, v: Value) -> ValueId {
        self.values.push(v);
        ValueId(self.values.len() as u32 - 1)
    }

    /// For each value, the nodes that read it (in node order).
    pub fn consumers(&self) -> Vec<Vec<NodeId>> {
        let mut out = vec![Vec::new(); self.values.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            for v in &n.inputs {
                out[v.0 as usize].push(NodeId(i as u32));
            }
        }
        out
    }

    /// Checks the invariants: topological order, types match inference, outputs exist.
    pub fn verify(&self) -> Result<(), IrError> {
        for (i, n) in self.nodes.iter().enumerate() {
            for &v in &n.inputs {
                let val = self.values.get(v.0 as usize).ok_or_else(|| IrError::Invalid {
                    node: n.name.clone(),
                    why: format!("input value {} does not exist", v.0),
                })?;
                if let Some(p) = val.producer {
                    if p.0 as usize >= i {
                        return Err(IrError::Invalid { node: n.name.clone(), why: "not in topological order".into() });
                    }
                }
            }
            let types: Vec<TensorType> = n.inputs.iter().map(|&v| self.ty(v).clone()).collect();
            let ty =
                n.op.infer(&types).map_err(|error| IrError::Op { node: n.name.clone(), op: n.op.kind(), error })?;
            if &ty != self.ty(n.output) {
                return Err(IrError::Invalid {
                    node: n.name.clone(),
                    why: format!("output type {} != inferred {ty}", self.ty(n.output)),
                });
            }
        }
        Ok(())
    }

    /// Removes nodes whose outputs nothing uses, and values no one references. Keeps ids dense.
    pub fn prune(&mut self) {
        let mut live = vec![false; self.values.len()];
        for &o in &self.outputs {
            live[o.0 as usize] = true;
        }
        let mut keep_node = vec![false; self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate().rev() {
            if live[n.output.0 as usize] {
                keep_node[i] = true;
                for v in &n.inputs {
                    live[v.0 as usize] = true;
                }
            }
        }
        for &i in &self.inputs {
            live[i.0 as usize] = true;
        }
        let mut remap = vec![None; self.values.len()];
        let mut values = Vec::new();
        for (i, v) in self.values.iter().enumerate() {
            if live[i] {
                remap[i] = Some(ValueId(values.len() as u32));
                values.push(v.clone());
            }
        }
        let mut nodes = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if keep_node[i] {
                let map = |v: &ValueId| remap[v.0 as usize].unwrap_or(*v);
                nodes.push(Node {
                    name: n.name.clone(),
                    op: n.op.clone(),
                    inputs: n.inputs.iter().map(map).collect(),
                    output: map(&n.output),
                    placement: n.placement,
                });
            }
        }
        for (i, n) in nodes.iter().enumerate() {
            values[n.output.0 as usize].producer = Some(NodeId(i as u32));
        }
        let map = |v: &ValueId| remap[v.0 as usize].unwrap_or(*v);
        self.inputs = self.inputs.iter().map(map).collect();
        self.outputs = self.outputs.iter().map(map).collect();
        self.values = values;
        self.nodes = nodes;
    }
}

impl fmt::Display for Graph {
    /// A stable text form: inputs, then one node per line with its op (and fused activation), operands, output
    /// type and placement (`alias` for reshapes, which share their input's storage), then the node name (fused
    /// nodes join the ONNX names with `+`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_text(f, &[])
    }
}

/// A graph's text with the nodes the lowering made aliases (`aliases[i]`: node `i` emits no command, like an
/// in-place concatenation) placed `@alias`.
pub struct WithAliases<'a> {
    graph: &'a Graph,
    aliases: &'a [bool],
}

impl fmt::Display for WithAliases<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.graph.write_text(f, self.aliases)
    }
}

impl Graph {
    /// The text form with node `i` placed `@alias` where `aliases[i]` is true.
    pub fn with_aliases<'a>(&'a self, aliases: &'a [bool]) -> WithAliases<'a> {
        WithAliases { graph: self, aliases }
    }

    fn write_text(&self, f: &mut fmt::Formatter<'_>, aliases: &[bool]) -> fmt::Result {
        for &i in &self.inputs {
            writeln!(f, "input {} {}", self.value(i).name, self.ty(i))?;
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let args: Vec<String> = n
                .inputs
                .iter()
                .map(|&v| {
                    let val = self.value(v);
                    if val.constant.is_some() {
                        format!("const {}", val.ty)
                    } else {
                        val.name.clone()
                    }
                })
                .collect();
            let kind = op_text(&n.op);
            let at = match (&n.op, n.placement) {
                _ if aliases.get(i) == Some(&true) => "alias",
                (Op::Reshape(_), p) if p != Placement::Host => "alias",
                (_, p) => p.name(),
            };
            let out = self.value(n.output).name.as_str();
            writeln!(f, "{out} = {kind}({}) : {} @{at}  # {}", args.join(", "), self.ty(n.output), n.name)?;
        }
        for &o in &self.outputs {
            writeln!(f, "output {} {}", self.value(o).name, self.ty(o))?;
        }
        Ok(())
    }
}

/// An operator as the printer names it: its kind, and a fused activation with its parameters after a dot
/// (`conv.clip[0,6]`).
pub fn op_text(op: &Op) -> String {
    let act = match op {
        Op::Conv(c) => c.act,
        Op::Gemm(g) => g.act,
        _ => None,
    };
    if let Op::Elementwise(e) = op {
        return format!("elementwise[{}]", steps_text(&e.steps));
    }
    match act {
        Some(a) => format!("{}.{}", op.kind(), act_text(&a)),
        None => op.kind().to_string(),
    }
}

/// The steps of an elementwise chain, e.g. `mul $1, sigmoid, add $2` (`$k` is the node's input k).
fn steps_text(steps: &[accel_ops::op::Step]) -> String {
    use accel_ops::op::Step;
    let step = |s: &Step| match s {
        Step::Unary(u) => act_text(u),
        Step::Binary { op, operand } => format!("{} ${}", op.name(), operand + 1),
    };
    steps.iter().map(step).collect::<Vec<_>>().join(", ")
}

/// A fused activation with its parameters, e.g. `clip[0,6]`.
fn act_text(a: &accel_ops::op::UnaryOp) -> String {
    use accel_ops::op::UnaryOp;
    match *a {
        UnaryOp::Clip { min, max } => format!("clip[{min},{max}]"),
        UnaryOp::LeakyRelu { alpha } | UnaryOp::Elu { alpha } => format!("{}[{alpha}]", a.name()),
        UnaryOp::HardSigmoid { alpha, beta } => format!("hard-sigmoid[{alpha},{beta}]"),
        _ => a.name().to_string(),
    }
}
