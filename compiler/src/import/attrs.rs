//! One ONNX node as the translators see it, with typed attribute getters that return `Result` (a wrong
//! attribute type or an out-of-range value is an error naming the node, never a panic or a silent default).
use super::error::ImportError;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::{AttributeProto, NodeProto, TensorProto};

/// A node of the ONNX graph with its display label and the model's default-domain opset.
pub(crate) struct OnnxNode<'a> {
    pub proto: &'a NodeProto,
    /// The ONNX node name, or `<OpType #index>` when the name is empty.
    pub label: String,
    pub opset: i64,
}

/// The label used in errors: the node name, or `<OpType #index>` when it is empty.
pub(crate) fn node_label(proto: &NodeProto, index: usize) -> String {
    if proto.name.is_empty() {
        format!("<{} #{index}>", proto.op_type)
    } else {
        proto.name.clone()
    }
}

impl<'a> OnnxNode<'a> {
    pub fn new(proto: &'a NodeProto, index: usize, opset: i64) -> Self {
        OnnxNode { proto, label: node_label(proto, index), opset }
    }

    pub fn op_type(&self) -> &str {
        &self.proto.op_type
    }

    /// An error about this node.
    pub fn err(&self, why: impl Into<String>) -> ImportError {
        ImportError::Node { node: self.label.clone(), op_type: self.proto.op_type.clone(), why: why.into() }
    }

    /// The attribute `name`, if present exactly once.
    fn attr(&self, name: &str, want: AttributeType) -> Result<Option<&'a AttributeProto>, ImportError> {
        let mut found = self.proto.attribute.iter().filter(|a| a.name == name);
        let Some(a) = found.next() else { return Ok(None) };
        if found.next().is_some() {
            return Err(self.err(format!("attribute `{name}` is given twice")));
        }
        // Some old exporters leave `type` unset (UNDEFINED); then the field itself is authoritative.
        if a.r#type != AttributeType::Undefined as i32 && a.r#type != want as i32 {
            let got = AttributeType::try_from(a.r#type).map(|t| t.as_str_name()).unwrap_or("unknown");
            return Err(self.err(format!("attribute `{name}` must be {}, got {got}", want.as_str_name())));
        }
        Ok(Some(a))
    }

    pub fn has_attr(&self, name: &str) -> bool {
        self.proto.attribute.iter().any(|a| a.name == name)
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, ImportError> {
        Ok(self.attr(name, AttributeType::Int)?.map(|a| a.i))
    }

    pub fn int_or(&self, name: &str, default: i64) -> Result<i64, ImportError> {
        Ok(self.int(name)?.unwrap_or(default))
    }

    /// A 0/1 flag.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ImportError> {
        match self.int(name)? {
            None => Ok(default),
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            Some(v) => Err(self.err(format!("attribute `{name}` must be 0 or 1, got {v}"))),
        }
    }

    pub fn ints(&self, name: &str) -> Result<Option<&'a [i64]>, ImportError> {
        Ok(self.attr(name, AttributeType::Ints)?.map(|a| a.ints.as_slice()))
    }

    pub fn float(&self, name: &str) -> Result<Option<f32>, ImportError> {
        Ok(self.attr(name, AttributeType::Float)?.map(|a| a.f))
    }

    pub fn float_or(&self, name: &str, default: f32) -> Result<f32, ImportError> {
        Ok(self.float(name)?.unwrap_or(default))
    }

    /// A finite float attribute.
    pub fn finite_float_or(&self, name: &str, default: f32) -> Result<f32, ImportError> {
        let v = self.float_or(name, default)?;
        if !v.is_finite() {
            return Err(self.err(format!("attribute `{name}` must be finite, got {v}")));
        }
        Ok(v)
    }

    pub fn floats(&self, name: &str) -> Result<Option<&'a [f32]>, ImportError> {
        Ok(self.attr(name, AttributeType::Floats)?.map(|a| a.floats.as_slice()))
    }

    pub fn string(&self, name: &str) -> Result<Option<&'a str>, ImportError> {
        match self.attr(name, AttributeType::String)? {
            None => Ok(None),
            Some(a) => {
                std::str::from_utf8(&a.s).map(Some).map_err(|_| self.err(format!("attribute `{name}` is not UTF-8")))
            }
        }
    }

    pub fn string_or(&self, name: &str, default: &'a str) -> Result<&'a str, ImportError> {
        Ok(self.string(name)?.unwrap_or(default))
    }

    pub fn tensor(&self, name: &str) -> Result<Option<&'a TensorProto>, ImportError> {
        match self.attr(name, AttributeType::Tensor)? {
            None => Ok(None),
            Some(a) => a.t.as_ref().map(Some).ok_or_else(|| self.err(format!("attribute `{name}` has no tensor"))),
        }
    }

    /// A non-negative integer as a size.
    pub fn to_usize(&self, v: i64, what: &str) -> Result<usize, ImportError> {
        usize::try_from(v).map_err(|_| self.err(format!("{what} must be >= 0, got {v}")))
    }

    /// A size that must be at least 1 (strides, dilations, kernels, groups: BAD-INPUT #9).
    pub fn to_positive(&self, v: i64, what: &str) -> Result<usize, ImportError> {
        match usize::try_from(v) {
            Ok(u) if u >= 1 => Ok(u),
            _ => Err(self.err(format!("{what} must be >= 1, got {v}"))),
        }
    }

    /// Normalizes a possibly negative axis against `rank` (valid range `-rank..rank`).
    pub fn axis(&self, axis: i64, rank: usize, what: &str) -> Result<usize, ImportError> {
        let r = i64::try_from(rank).map_err(|_| self.err("rank too large"))?;
        let a = if axis < 0 { axis.saturating_add(r) } else { axis };
        if !(0..r).contains(&a) {
            return Err(self.err(format!("{what} {axis} is out of range for rank {rank}")));
        }
        Ok(a as usize)
    }

    /// Normalizes a list of axes, rejecting duplicates; returns them sorted.
    pub fn axes(&self, axes: &[i64], rank: usize, what: &str) -> Result<Vec<usize>, ImportError> {
        let mut out = Vec::with_capacity(axes.len().min(rank));
        for &a in axes {
            let a = self.axis(a, rank, what)?;
            if out.contains(&a) {
                return Err(self.err(format!("{what} {axes:?} repeats axis {a}")));
            }
            out.push(a);
        }
        out.sort_unstable();
        Ok(out)
    }

    /// A per-spatial-axis attribute of a 2-D window op (`strides`, `dilations`): two values >= 1.
    pub fn spatial2(&self, name: &str) -> Result<[usize; 2], ImportError> {
        match self.ints(name)? {
            None => Ok([1, 1]),
            Some(&[a, b]) => Ok([self.to_positive(a, name)?, self.to_positive(b, name)?]),
            Some(v) => Err(self.err(format!("attribute `{name}` must have 2 values for a 2-D op, got {v:?}"))),
        }
    }
}
