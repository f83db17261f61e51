//! One ONNX backend node case on disk: `<dir>/model.onnx` and `<dir>/test_data_set_0/{input,output}_<i>.pb`
//! (the layout onnx's generators write). Loading never panics on a malformed case: a tract panic in its tensor
//! loader is caught and reported as the case's error.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use tract_onnx::data_resolver::FopenDataResolver;
use tract_onnx::pb::{type_proto, ModelProto, TensorProto};
use tract_onnx::prelude::{Framework, Tensor as TractTensor};

/// A loaded case: the model bytes, what it reads and what it must produce.
pub struct Case {
    pub name: String,
    pub model: Vec<u8>,
    /// The model's default-domain opset.
    pub opset: i64,
    /// The distinct operator types of the graph, in first-use order.
    pub ops: Vec<String>,
    /// Graph inputs in order, with their test values (`None`: not a plain tensor, e.g. a sequence).
    pub inputs: Vec<(String, Option<TractTensor>)>,
    /// Graph outputs in order, with their expected values (`None`: not a plain tensor).
    pub outputs: Vec<(String, Option<TractTensor>)>,
}

impl Case {
    /// Why neither engine can be given this case (a sequence, map or optional input or output), if so.
    pub fn non_tensor_io(&self) -> Option<String> {
        let io = self.inputs.iter().chain(&self.outputs);
        io.filter(|(_, t)| t.is_none()).map(|(n, _)| format!("non-tensor value `{n}`")).next()
    }
}

/// The case directories under `root` (each holding a `model.onnx`), sorted by name.
pub fn list(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for e in std::fs::read_dir(root)? {
        let p = e?.path();
        if p.join("model.onnx").is_file() {
            dirs.push(p);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Loads the case in `dir`.
pub fn load(dir: &Path) -> Result<Case, String> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let model = std::fs::read(dir.join("model.onnx")).map_err(|e| format!("model.onnx: {e}"))?;
    let proto: ModelProto = tract_onnx::onnx()
        .proto_model_for_read(&mut &model[..])
        .map_err(|e| format!("model.onnx does not decode: {e}"))?;
    let graph = proto.graph.as_ref().ok_or("model.onnx has no graph")?;
    let opset = proto
        .opset_import
        .iter()
        .filter(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .max()
        .unwrap_or(0);
    let mut ops: Vec<String> = Vec::new();
    for n in &graph.node {
        let op = if n.domain.is_empty() { n.op_type.clone() } else { format!("{}.{}", n.domain, n.op_type) };
        if !ops.contains(&op) {
            ops.push(op);
        }
    }
    let data = dir.join("test_data_set_0");
    let values = |kind: &str, infos: &[tract_onnx::pb::ValueInfoProto]| {
        infos
            .iter()
            .enumerate()
            .map(|(i, vi)| {
                let is_tensor =
                    matches!(vi.r#type.as_ref().and_then(|t| t.value.as_ref()), Some(type_proto::Value::TensorType(_)));
                let t = if is_tensor { Some(load_pb(&data.join(format!("{kind}_{i}.pb")))?) } else { None };
                Ok((vi.name.clone(), t))
            })
            .collect::<Result<Vec<_>, String>>()
    };
    let inputs = values("input", &graph.input)?;
    let outputs = values("output", &graph.output)?;
    Ok(Case { name, model, opset, ops, inputs, outputs })
}

/// Reads one serialized `TensorProto`.
pub fn load_pb(path: &Path) -> Result<TractTensor, String> {
    let what = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let bytes = std::fs::read(path).map_err(|e| format!("{what}: {e}"))?;
    let proto: TensorProto =
        tract_onnx::tensor::proto_from_reader(&bytes[..]).map_err(|e| format!("{what} does not decode: {e}"))?;
    // tract's loader has `unimplemented!` arms for some element types.
    match catch_unwind(AssertUnwindSafe(|| tract_onnx::tensor::load_tensor(&FopenDataResolver, &proto, None))) {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: tract cannot load this tensor's element type")),
    }
}
