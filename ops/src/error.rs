//! Errors of shape inference and reference evaluation; the caller adds the node name.
use thiserror::Error;

/// Why an operator could not be typed or evaluated.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum OpError {
    #[error("expected {expected} inputs, got {got}")]
    Arity { expected: String, got: usize },
    #[error("input {index}: expected dtype {expected}, got {got}")]
    DType { index: usize, expected: String, got: String },
    #[error("input {index}: {why}")]
    Shape { index: usize, why: String },
    #[error("attribute {name}: {why}")]
    Attribute { name: &'static str, why: String },
    #[error("size overflow: {0}")]
    Overflow(String),
    #[error("{0}")]
    Other(String),
}

impl OpError {
    pub fn shape(index: usize, why: impl Into<String>) -> Self {
        OpError::Shape { index, why: why.into() }
    }
    pub fn attr(name: &'static str, why: impl Into<String>) -> Self {
        OpError::Attribute { name, why: why.into() }
    }
}
