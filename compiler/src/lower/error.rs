//! Errors of planning and lowering, naming the layer.
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum LowerError {
    #[error("layer `{layer}`: {why}")]
    Layer { layer: String, why: String },
    #[error("the program needs {need} bytes of DRAM, the target has {have}")]
    DramCapacity { need: u64, have: u64 },
    #[error("{0}")]
    Other(String),
}

impl LowerError {
    pub fn layer(layer: &str, why: impl Into<String>) -> Self {
        LowerError::Layer { layer: layer.into(), why: why.into() }
    }
}
