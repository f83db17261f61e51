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

/// An error and its sources as one line, `outer: inner: ...`, leaving out a source whose text the line already
/// holds. The library errors put their cause in their own message (so `Display` alone is complete), and
/// `#[from]` also exposes it as the source: printed as a chain, every cause then appeared twice
/// (`invalid blob: blob is truncated at byte 1000 ...: blob is truncated at byte 1000 ...`).
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        next = cause.source();
    }
    line
}

#[cfg(test)]
mod describe_tests {
    use super::describe;
    use thiserror::Error;

    #[derive(Debug, Error)]
    #[error("blob is truncated at byte {0}")]
    struct Inner(u64);

    #[derive(Debug, Error)]
    enum Outer {
        #[error("invalid blob: {0}")]
        Blob(#[from] Inner),
        #[error("cannot load")]
        Load(#[source] Inner),
    }

    /// A cause the message already quotes is not repeated; one it does not quote is appended.
    #[test]
    fn causes_appear_once() {
        assert_eq!(describe(&Outer::from(Inner(1000))), "invalid blob: blob is truncated at byte 1000");
        assert_eq!(describe(&Outer::Load(Inner(7))), "cannot load: blob is truncated at byte 7");
    }
}
