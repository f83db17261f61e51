//! ONNX import: model bytes -> `ir::Graph` with static shapes, constants folded, every attribute validated.
//! This is the only module of the compiler that may name tract (for its protobuf types, `tract_onnx::pb`);
//! nothing it returns carries a tract type. It must not panic on any input: bad models are `ImportError`s.
//!
//! Steps: size check and decode -> opset and operator check (all unsupported nodes in one error) ->
//! topological sort -> graph inputs (with pins) and initializers -> one translator per node -> graph outputs
//! -> `Graph::prune` and `Graph::verify`.
mod arange;
mod attrs;
mod error;
mod external;
mod fold;
mod inputs;
mod newer;
mod proto;
mod topo;
mod translate;

#[cfg(test)]
mod tests;

pub use error::ImportError;

use crate::ir::{Graph, ValueId};
use accel_ops::op::{Cast, Op, Reshape};
use accel_ops::{DType, Limits, Tensor, TensorType};
use attrs::{node_label, OnnxNode};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use translate::{translator, Builder};

/// Policy caps applied while importing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    /// Largest accepted model file (protobuf caps messages at 2 GiB).
    pub max_model_bytes: u64,
    /// Most ONNX nodes in the graph.
    pub max_nodes: usize,
    /// Longest chain of nodes from an input to an output. Later stages cost more than linear time in it
    /// (e-graph extraction), so a deep hostile graph is refused up front rather than compiled for minutes.
    pub max_depth: usize,
    /// Rank and element caps for every tensor: inputs, initializers, folded constants and node outputs.
    pub tensor: Limits,
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits { max_model_bytes: 2 << 30, max_nodes: 1_000_000, max_depth: 10_000, tensor: Limits::default() }
    }
}

/// What the user tells the importer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportOptions {
    /// `--input-shape NAME=dims` pins, for symbolic or unknown input dims.
    pub input_shapes: Vec<(String, Vec<usize>)>,
    /// `--freeze NAME=FILE.npy`: inputs whose value is fixed at compile time. They become constants and leave
    /// the blob's interface, so that operands an ahead-of-time schedule needs as constants (a TopK `k`, Reduce
    /// `axes`, a Range's bounds) may come from an input (OpenVINO's `--input name->value` does the same).
    pub frozen_inputs: Vec<(String, Tensor)>,
    pub limits: ImportLimits,
}

/// The lowest and highest default-domain opsets the importer knows the semantics of (after 18: see `newer`).
pub const OPSETS: std::ops::RangeInclusive<i64> = 7..=28;

/// Imports the ONNX model at `path`; external data is looked up beside it.
pub fn import_path(path: &Path, opts: &ImportOptions) -> Result<Graph, ImportError> {
    let io = |error| ImportError::Io { path: path.display().to_string(), error };
    let len = std::fs::metadata(path).map_err(io)?.len();
    let max = opts.limits.max_model_bytes;
    if len > max {
        return Err(ImportError::Limit {
            what: format!("model file `{}`", path.display()),
            why: format!("{len} bytes, over the limit of {max}"),
        });
    }
    let mut bytes = Vec::new();
    // Read at most one byte past the limit, in case the file grew since it was measured.
    std::fs::File::open(path).map_err(io)?.take(max.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    import_bytes(&bytes, Some(dir), opts)
}

/// Imports an ONNX model from memory. `model_dir` is the folder external data lives in (`None`: the model
/// must not use external data).
pub fn import_bytes(bytes: &[u8], model_dir: Option<&Path>, opts: &ImportOptions) -> Result<Graph, ImportError> {
    let limits = &opts.limits;
    let model = proto::decode_model(bytes, limits)?;
    let opset = model
        .opset_import
        .iter()
        .filter(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .max()
        .ok_or_else(|| ImportError::Model("no default-domain opset is imported".into()))?;
    if !OPSETS.contains(&opset) {
        return Err(ImportError::Model(format!(
            "opset {opset} is unsupported (accel imports opsets {} to {})",
            OPSETS.start(),
            OPSETS.end()
        )));
    }
    let graph = model.graph.as_ref().ok_or_else(|| ImportError::Model("the model has no graph".into()))?;
    if graph.node.len() > limits.max_nodes {
        return Err(ImportError::Limit {
            what: "the graph".into(),
            why: format!("{} nodes, over the limit of {}", graph.node.len(), limits.max_nodes),
        });
    }
    if !graph.sparse_initializer.is_empty() {
        return Err(ImportError::Model("sparse initializers are unsupported".into()));
    }

    // Every unsupported node in one error, so the user sees the whole list at once.
    let unsupported: Vec<String> = graph
        .node
        .iter()
        .enumerate()
        .filter(|(_, n)| {
            let default_domain = n.domain.is_empty() || n.domain == "ai.onnx";
            !default_domain || translator(&n.op_type).is_none()
        })
        .map(|(i, n)| {
            let op = if n.domain.is_empty() { n.op_type.clone() } else { format!("{}.{}", n.domain, n.op_type) };
            format!("{} ({op})", node_label(n, i))
        })
        .collect();
    if !unsupported.is_empty() {
        return Err(ImportError::UnsupportedOps { nodes: unsupported });
    }

    // Names defined outside the nodes. Graph inputs that also have an initializer are constants.
    let mut initializers = HashMap::with_capacity(graph.initializer.len());
    for t in &graph.initializer {
        if t.name.is_empty() {
            return Err(ImportError::Model("an initializer has no name".into()));
        }
        if initializers.insert(t.name.as_str(), t).is_some() {
            return Err(ImportError::Model(format!("initializer `{}` is defined twice", t.name)));
        }
    }
    let mut outer: HashSet<&str> = initializers.keys().copied().collect();
    let mut graph_inputs = Vec::new();
    for vi in &graph.input {
        if initializers.contains_key(vi.name.as_str()) {
            continue;
        }
        if vi.name.is_empty() || !outer.insert(vi.name.as_str()) {
            return Err(ImportError::Model(format!("graph input `{}` is unnamed or defined twice", vi.name)));
        }
        graph_inputs.push(vi);
    }
    let (order, depth) = topo::sort(&graph.node, &outer)?;
    if depth > limits.max_depth {
        return Err(ImportError::Limit {
            what: "the graph".into(),
            why: format!("{depth} nodes deep, over the limit of {}", limits.max_depth),
        });
    }

    // Pins must name a real (non-constant) input, once.
    let mut pins: HashMap<&str, &[usize]> = HashMap::new();
    for (name, dims) in &opts.input_shapes {
        let why = if initializers.contains_key(name.as_str()) {
            Some("names an initializer (a constant), not an input".to_string())
        } else if !graph_inputs.iter().any(|vi| &vi.name == name) {
            let names: Vec<&str> = graph_inputs.iter().map(|vi| vi.name.as_str()).collect();
            Some(format!("the model has no such input (inputs: {})", names.join(", ")))
        } else if pins.insert(name, dims).is_some() {
            Some("is pinned twice".to_string())
        } else {
            None
        };
        if let Some(why) = why {
            return Err(ImportError::BadInputShape { input: name.clone(), why });
        }
    }

    let frozen = inputs::check_frozen(&opts.frozen_inputs, &graph_inputs, &pins)?;

    let mut b = Builder::new(limits, model_dir);
    for vi in &graph_inputs {
        if let Some(&t) = frozen.get(vi.name.as_str()) {
            let ty = inputs::input_type(vi, Some(t.dims()), limits)?;
            if ty.dtype != t.dtype() {
                return Err(ImportError::BadInputShape {
                    input: vi.name.clone(),
                    why: format!("the frozen value is {}, the model declares {}", t.dtype(), ty.dtype),
                });
            }
            let c = b.graph.add_const(vi.name.clone(), t.clone());
            b.bind(&vi.name, c);
            continue;
        }
        let ty = inputs::input_type(vi, pins.get(vi.name.as_str()).copied(), limits)?;
        let empty = ty.shape.numel() == 0;
        let compute = inputs::compute_type(ty.dtype);
        let v = b.graph.add_input(vi.name.clone(), ty.clone());
        if compute != ty.dtype && !empty {
            // The interface keeps the caller's type; the graph computes in `compute` (see `compute_type`).
            let w = b.graph.add_node(
                format!("{}#widen", vi.name),
                Op::Cast(Cast { to: compute }),
                vec![v],
                format!("{}#{compute}", vi.name),
            )?;
            b.bind(&vi.name, w);
        } else if empty {
            // An empty input has one possible value: operators that need constant operands (Reduce axes,
            // Resize scales) see it as the empty constant. The input stays in the interface, unread.
            let c = b.graph.add_const(
                format!("{}.empty", vi.name),
                Tensor::zeros(&TensorType { dtype: compute, shape: ty.shape.clone() })
                    .map_err(|e| ImportError::Limit { what: format!("input `{}`", vi.name), why: e.to_string() })?,
            );
            b.bind(&vi.name, c);
        } else {
            b.bind(&vi.name, v);
        }
    }
    // Only initializers something reads are loaded.
    let consumed: HashSet<&str> = graph
        .node
        .iter()
        .flat_map(|n| n.input.iter())
        .chain(graph.output.iter().map(|o| &o.name))
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    for t in &graph.initializer {
        if consumed.contains(t.name.as_str()) {
            let tensor = proto::tensor_from_proto(t, &t.name, model_dir, limits)?;
            let v = b.graph.add_const(t.name.clone(), tensor);
            b.bind(&t.name, v);
        }
    }

    for &i in &order {
        let n = OnnxNode::new(&graph.node[i], i, opset);
        let Some(translate) = translator(n.op_type()) else {
            return Err(n.err("unsupported operator"));
        };
        newer::check(&n)?;
        translate(&mut b, &n)?;
        // An output the translator did not define (MaxPool indices, BatchNorm training statistics, a
        // Dropout mask) is an error only if something reads it.
        for (k, o) in n.proto.output.iter().enumerate() {
            if !o.is_empty() && b.lookup(o).is_none() && consumed.contains(o.as_str()) {
                return Err(n.err(format!("output #{k} (`{o}`) is used but unsupported")));
            }
        }
    }

    let mut outputs = Vec::with_capacity(graph.output.len());
    let mut seen = HashSet::new();
    for o in &graph.output {
        if !seen.insert(o.name.as_str()) {
            return Err(ImportError::Model(format!("graph output `{}` is listed twice", o.name)));
        }
        let v = b
            .lookup(&o.name)
            .ok_or_else(|| ImportError::MissingInput { node: "<graph outputs>".into(), input: o.name.clone() })?;
        let v = if inputs::is_uint8_carrier(o, b.graph.ty(v).dtype) {
            uint8_from_carrier(&mut b.graph, v, &o.name)?
        } else {
            v
        };
        let v = match inputs::output_cast(o, b.graph.ty(v).dtype)? {
            Some(to) => {
                // The computed value gives its name to the cast that delivers it in the declared type.
                let computed = &mut b.graph.values[v.0 as usize];
                if computed.name == o.name {
                    computed.name = format!("{}#{}", o.name, computed.ty.dtype);
                }
                b.graph.add_node(format!("{}#narrow", o.name), Op::Cast(Cast { to }), vec![v], o.name.clone())?
            }
            None => v,
        };
        // An output that is an alias (Identity, Dropout) of another value still gets its own value and name.
        let v = if b.graph.value(v).name != o.name {
            let node = b.alias_by.get(&o.name).cloned().unwrap_or_else(|| o.name.clone());
            let shape = b.graph.ty(v).shape.clone();
            b.graph.add_node(node, Op::Reshape(Reshape { shape }), vec![v], o.name.clone())?
        } else {
            v
        };
        outputs.push(v);
    }
    let mut g = b.graph;
    g.outputs = outputs;
    g.prune();
    g.verify()?;
    Ok(g)
}

/// The uint8 values of an int8-carried graph output `v` (`q + 128`, exactly, through f32), under the output's
/// name.
fn uint8_from_carrier(g: &mut Graph, v: ValueId, name: &str) -> Result<ValueId, ImportError> {
    let computed = &mut g.values[v.0 as usize];
    if computed.name == name {
        computed.name = format!("{name}#carrier");
    }
    let wide = g.add_node(format!("{name}#wide"), Op::Cast(Cast { to: DType::F32 }), vec![v], format!("{name}#f32"))?;
    let k = g.add_const(
        format!("{name}#128"),
        Tensor::from_f32(vec![], vec![128.0]).map_err(|e| ImportError::Model(e.to_string()))?,
    );
    let op = Op::Binary(accel_ops::op::Binary { op: accel_ops::op::BinaryOp::Add });
    let shifted = g.add_node(format!("{name}#unshift"), op, vec![wide, k], format!("{name}#u8f32"))?;
    Ok(g.add_node(format!("{name}#u8"), Op::Cast(Cast { to: DType::U8 }), vec![shifted], name.to_string())?)
}
