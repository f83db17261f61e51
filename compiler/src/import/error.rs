//! The import error type: every message names the node (its ONNX name, or `<OpType #index>` when unnamed), the
//! tensor, or the field at fault. It must not carry tract types: callers see only this enum.
use crate::ir::IrError;
use thiserror::Error;

/// Why an ONNX model could not be imported.
#[derive(Debug, Error)]
pub enum ImportError {
    // The I/O error is part of the message, not a `source`: printed as a chain it would appear twice.
    #[error("cannot read `{path}`: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("invalid ONNX protobuf: {0}")]
    Decode(String),
    #[error("{what} exceeds a limit: {why}")]
    Limit { what: String, why: String },
    #[error("{} unsupported operator(s): {}", .nodes.len(), .nodes.join(", "))]
    UnsupportedOps {
        /// Every unsupported node, as `name (OpType)`.
        nodes: Vec<String>,
    },
    #[error("node `{node}` ({op_type}): {why}")]
    Node { node: String, op_type: String, why: String },
    #[error("node `{node}` reads `{input}`, which no node, graph input or initializer produces")]
    MissingInput { node: String, input: String },
    #[error("the graph has a cycle through node `{node}`")]
    Cycle { node: String },
    #[error("external data of tensor `{tensor}`: {why}")]
    ExternalData { tensor: String, why: String },
    #[error("input `{input}` has a symbolic or unknown dim {dim}: pin it with `--input-shape {example}`")]
    SymbolicDim {
        input: String,
        /// The dim's name and axis, e.g. `batch (axis 0)`.
        dim: String,
        /// A ready-to-edit pin, e.g. `data=1,3,224,224`.
        example: String,
    },
    #[error("graph input `{input}`: {why}")]
    UnsupportedInput { input: String, why: String },
    #[error("input shape of `{input}`: {why}")]
    BadInputShape { input: String, why: String },
    #[error("tensor `{tensor}`: {why}")]
    Tensor { tensor: String, why: String },
    #[error("model: {0}")]
    Model(String),
    #[error("imported graph fails verification: {0}")]
    Verify(#[from] IrError),
}

impl ImportError {
    pub(crate) fn tensor(tensor: &str, why: impl Into<String>) -> Self {
        ImportError::Tensor { tensor: tensor.to_string(), why: why.into() }
    }
    pub(crate) fn external(tensor: &str, why: impl Into<String>) -> Self {
        ImportError::ExternalData { tensor: tensor.to_string(), why: why.into() }
    }
}
