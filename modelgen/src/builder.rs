//! `GraphBuilder` core: configuration, PyTorch-style naming scopes, value tracking
//! (shape and an RMS estimate per value), parameters and constants, and `finish()`.
//!
//! The op methods live in `layers.rs` (ops with weights), `ops.rs` (activations, arithmetic,
//! pooling) and `shape_ops.rs` (reshaping, concat/split, resize, softmax, matmul).
//! Every op method returns the name of its output value. Errors (unknown value, bad shape,
//! bad option) do not panic: the first one is recorded, later ops are skipped, and
//! `finish()` returns it.

use crate::proto;
use crate::shape::{fixed_shape, Dim, Shape};
use crate::stats::Stats;
use anyhow::{bail, ensure, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, HashSet};
use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, ValueInfoProto,
};

/// Placeholder value name returned by op methods once the builder has recorded an error.
pub const POISONED: &str = "<modelgen-error>";

/// Lowest and highest supported ONNX opset.
pub const OPSET_RANGE: std::ops::RangeInclusive<i64> = 11..=17;

/// Default ONNX opset.
pub const DEFAULT_OPSET: i64 = 13;

/// What the builder knows about a value.
#[derive(Clone, Debug)]
pub(crate) struct Value {
    pub shape: Shape,
    /// Estimated mean and RMS of the value's elements, used to scale weights.
    pub stats: Stats,
}

/// Writes an ONNX graph the way PyTorch exports it. See the module documentation.
pub struct GraphBuilder {
    pub(crate) opset: i64,
    weights_as_constants: bool,
    fold_bn: bool,
    pub(crate) rng: ChaCha8Rng,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    values: HashMap<String, Value>,
    /// Scope components as they appear in node names (`layer1`, `layer1.0`).
    scope: Vec<String>,
    /// Raw module names, joined by `.` for parameter names (`layer1`, `0`).
    path: Vec<String>,
    node_counts: HashMap<String, usize>,
    params: HashSet<String>,
    error: Option<anyhow::Error>,
    graph_name: String,
}

impl GraphBuilder {
    /// A builder whose random weights come from `ChaCha8Rng::seed_from_u64(seed)`.
    /// Defaults: opset 13, weights as initializers, batch norm not folded.
    pub fn new(seed: u64) -> Self {
        GraphBuilder {
            opset: DEFAULT_OPSET,
            weights_as_constants: false,
            fold_bn: false,
            rng: ChaCha8Rng::seed_from_u64(seed),
            nodes: vec![],
            initializers: vec![],
            inputs: vec![],
            outputs: vec![],
            values: HashMap::new(),
            scope: vec![],
            path: vec![],
            node_counts: HashMap::new(),
            params: HashSet::new(),
            error: None,
            graph_name: "main_graph".to_string(),
        }
    }

    /// Selects the opset (11..=17). Must be called before adding ops: op forms depend on it.
    pub fn opset(mut self, opset: i64) -> Self {
        if !OPSET_RANGE.contains(&opset) {
            self.fail(anyhow::anyhow!("opset {opset} not supported (expected 11..=17)"));
        } else if !self.nodes.is_empty() {
            self.fail(anyhow::anyhow!("opset must be chosen before adding ops"));
        } else {
            self.opset = opset;
        }
        self
    }

    /// Stores weights as `Constant` nodes instead of graph initializers.
    pub fn weights_as_constants(mut self, yes: bool) -> Self {
        self.weights_as_constants = yes;
        self
    }

    /// Makes `conv_bn` fold the batch norm into the convolution (same random draws).
    pub fn fold_bn(mut self, yes: bool) -> Self {
        self.fold_bn = yes;
        self
    }

    /// Sets the graph name (default `main_graph`, as PyTorch).
    pub fn graph_name(mut self, name: &str) -> Self {
        self.graph_name = name.to_string();
        self
    }

    /// The selected opset.
    pub fn opset_version(&self) -> i64 {
        self.opset
    }

    /// Whether `conv_bn` folds batch norms.
    pub fn folds_bn(&self) -> bool {
        self.fold_bn
    }

    /// Enters a module scope. A numeric name is a child of a `Sequential`/`ModuleList` and
    /// appears as `parent.N` in node names, as PyTorch does (`/layer1/layer1.0/conv1/Conv`).
    pub fn push_scope(&mut self, name: &str) {
        let component = match self.scope.last() {
            Some(parent) if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) => {
                format!("{parent}.{name}")
            }
            _ => name.to_string(),
        };
        self.scope.push(component);
        self.path.push(name.to_string());
    }

    /// Leaves the innermost scope.
    pub fn pop_scope(&mut self) {
        self.scope.pop();
        self.path.pop();
    }

    /// Runs `f` inside the scope `name`.
    pub fn scoped<R>(&mut self, name: &str, f: impl FnOnce(&mut Self) -> R) -> R {
        self.push_scope(name);
        let r = f(self);
        self.pop_scope();
        r
    }

    /// The shape of a value, if known.
    pub fn shape(&self, v: &str) -> Option<Shape> {
        self.values.get(v).map(|x| x.shape.clone())
    }

    /// The builder's estimate of a value's mean and RMS, if known.
    pub fn stats(&self, v: &str) -> Option<Stats> {
        self.values.get(v).map(|x| x.stats)
    }

    /// Overrides the estimate of a value's mean and RMS (e.g. an input that is not
    /// ~N(0, 1)); weights of the layers consuming it are scaled accordingly.
    pub fn set_stats(&mut self, v: &str, stats: Stats) {
        if let Some(x) = self.values.get_mut(v) {
            x.stats = stats;
        }
    }

    /// The first error recorded, if any.
    pub fn error(&self) -> Option<&anyhow::Error> {
        self.error.as_ref()
    }

    /// Declares a float32 graph input (assumed ~N(0, 1); see `set_stats`).
    pub fn input(&mut self, name: &str, dims: &[Dim]) -> String {
        self.guard(|b| {
            ensure!(!b.values.contains_key(name), "value {name} already exists");
            for d in dims {
                if let Dim::Fixed(0) = d {
                    bail!("input {name}: zero-sized dim");
                }
            }
            b.inputs.push(proto::value_info_f32(name, dims));
            b.define(name, dims.to_vec(), Stats::centered(1.0));
            Ok(name.to_string())
        })
    }

    /// Marks `x` as a graph output named `name`: the producing node's output is renamed
    /// (`x` is no longer valid afterwards), or an `Identity` is added when `x` is a graph
    /// input, a parameter or already an output.
    pub fn output(&mut self, x: &str, name: &str) -> String {
        self.guard(|b| {
            let v = b.value(x)?.clone();
            ensure!(!b.outputs.iter().any(|o| o.name == name), "output {name} declared twice");
            if x != name {
                ensure!(!b.values.contains_key(name), "value {name} already exists");
                let producer = b.nodes.iter().rposition(|n| n.output.iter().any(|o| o == x));
                let is_io = b.inputs.iter().any(|i| i.name == x)
                    || b.outputs.iter().any(|o| o.name == x)
                    || b.params.contains(x);
                match producer {
                    Some(_) if !is_io => b.rename(x, name),
                    _ => {
                        let node = b.node_name("Identity");
                        b.nodes.push(proto::node(
                            &node,
                            "Identity",
                            vec![x.to_string()],
                            vec![name.to_string()],
                            vec![],
                        ));
                        b.define(name, v.shape.clone(), v.stats);
                    }
                }
            }
            b.outputs.push(proto::value_info_f32(name, &v.shape));
            Ok(name.to_string())
        })
    }

    /// Builds the model, or returns the first error recorded while building.
    pub fn finish(self) -> Result<ModelProto> {
        if let Some(e) = self.error {
            return Err(e.context("building the ONNX graph"));
        }
        ensure!(!self.inputs.is_empty(), "graph has no input");
        ensure!(!self.outputs.is_empty(), "graph has no output");
        let graph = GraphProto {
            node: self.nodes,
            name: self.graph_name,
            initializer: self.initializers,
            input: self.inputs,
            output: self.outputs,
            ..Default::default()
        };
        Ok(ModelProto {
            ir_version: proto::ir_version_for(self.opset),
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: self.opset }],
            producer_name: "accel-modelgen".to_string(),
            producer_version: env!("CARGO_PKG_VERSION").to_string(),
            graph: Some(graph),
            ..Default::default()
        })
    }

    // ---- crate-internal helpers -------------------------------------------------------

    fn fail(&mut self, e: anyhow::Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Runs an op body unless an error was already recorded; records its error.
    pub(crate) fn guard(&mut self, f: impl FnOnce(&mut Self) -> Result<String>) -> String {
        self.guard_many(1, |b| f(b).map(|s| vec![s])).pop().unwrap_or_default()
    }

    /// `guard` for ops with `n` outputs.
    pub(crate) fn guard_many(&mut self, n: usize, f: impl FnOnce(&mut Self) -> Result<Vec<String>>) -> Vec<String> {
        if self.error.is_some() {
            return vec![POISONED.to_string(); n];
        }
        let scope = self.scope.join("/");
        match f(self) {
            Ok(v) => v,
            Err(e) => {
                self.fail(e.context(format!("in scope /{scope}")));
                vec![POISONED.to_string(); n]
            }
        }
    }

    pub(crate) fn value(&self, v: &str) -> Result<&Value> {
        self.values.get(v).with_context(|| format!("unknown value {v:?}"))
    }

    pub(crate) fn define(&mut self, name: &str, shape: Shape, stats: Stats) {
        self.values.insert(name.to_string(), Value { shape, stats });
    }

    fn rename(&mut self, from: &str, to: &str) {
        for n in &mut self.nodes {
            for s in n.input.iter_mut().chain(n.output.iter_mut()) {
                if s == from {
                    *s = to.to_string();
                }
            }
        }
        if let Some(v) = self.values.remove(from) {
            self.values.insert(to.to_string(), v);
        }
    }

    /// A unique PyTorch-style node name in the current scope: `/a/a.0/b/OpType[_N]`.
    pub(crate) fn node_name(&mut self, op_type: &str) -> String {
        let prefix: String = self.scope.iter().map(|s| format!("/{s}")).collect();
        let base = format!("{prefix}/{op_type}");
        let n = self.node_counts.entry(base.clone()).or_insert(0);
        let name = if *n == 0 { base } else { format!("{base}_{n}") };
        *n += 1;
        name
    }

    /// Appends a node with outputs named `<node>_output_<i>`; returns the output names.
    pub(crate) fn emit(
        &mut self,
        op_type: &str,
        inputs: Vec<String>,
        n_outputs: usize,
        attrs: Vec<AttributeProto>,
    ) -> Vec<String> {
        let name = self.node_name(op_type);
        let outputs: Vec<String> = (0..n_outputs).map(|i| format!("{name}_output_{i}")).collect();
        self.nodes.push(proto::node(&name, op_type, inputs, outputs.clone(), attrs));
        outputs
    }

    /// `emit` for a single-output node whose output gets `shape` and `stats`.
    pub(crate) fn emit1(
        &mut self,
        op_type: &str,
        inputs: Vec<String>,
        attrs: Vec<AttributeProto>,
        shape: Shape,
        stats: Stats,
    ) -> String {
        let out = self.emit(op_type, inputs, 1, attrs).remove(0);
        self.define(&out, shape, stats);
        out
    }

    /// A float weight named after the module path (`layer1.0.conv1.weight`), stored as an
    /// initializer or a `Constant` node.
    pub(crate) fn param(&mut self, suffix: &str, dims: &[usize], data: &[f32]) -> Result<String> {
        let count: usize = dims.iter().product();
        ensure!(count == data.len(), "param {suffix}: {count} elements expected");
        let mut name = self.path.join(".");
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(suffix);
        ensure!(self.params.insert(name.clone()), "parameter {name} defined twice");
        ensure!(!self.values.contains_key(&name), "value {name} already exists");
        if self.weights_as_constants {
            let node = self.node_name("Constant");
            let t = proto::tensor_f32("", dims, data);
            self.nodes.push(proto::node(
                &node,
                "Constant",
                vec![],
                vec![name.clone()],
                vec![proto::attr_tensor("value", t)],
            ));
        } else {
            self.initializers.push(proto::tensor_f32(&name, dims, data));
        }
        self.define(&name, fixed_shape(dims), moments(data));
        Ok(name)
    }

    fn constant(&mut self, t: TensorProto, dims: &[usize], stats: Stats) -> String {
        let attrs = vec![proto::attr_tensor("value", t)];
        self.emit1("Constant", vec![], attrs, fixed_shape(dims), stats)
    }

    /// A float `Constant` node in the current scope (shapes, scales, clip bounds...).
    pub(crate) fn const_f32(&mut self, dims: &[usize], data: &[f32]) -> String {
        self.constant(proto::tensor_f32("", dims, data), dims, moments(data))
    }

    /// A float scalar (rank 0) `Constant`.
    pub(crate) fn scalar(&mut self, v: f32) -> String {
        self.const_f32(&[], &[v])
    }

    /// An int64 `Constant` node in the current scope.
    pub(crate) fn const_i64(&mut self, dims: &[usize], data: &[i64]) -> String {
        self.constant(proto::tensor_i64("", dims, data), dims, Stats::centered(1.0))
    }
}

/// Mean and RMS of a constant.
fn moments(data: &[f32]) -> Stats {
    let n = data.len().max(1) as f64;
    let mean = data.iter().map(|&x| x as f64).sum::<f64>() / n;
    let second = data.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / n;
    Stats { mean: mean as f32, rms: second.sqrt() as f32 }
}
