//! The compiler's graph IR: values (typed, possibly constant) and nodes (an `Op` from `accel_ops` with its
//! ONNX node name), kept in topological order by construction. Every stage after import works on this.
mod eval;
mod graph;

pub use eval::{evaluate, evaluate_observed};
pub use graph::{op_text, Graph, IrError, Node, NodeId, Placement, Value, ValueId, WithAliases};
