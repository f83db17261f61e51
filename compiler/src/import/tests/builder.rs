//! A small ONNX model builder over `tract_onnx::pb` for hand-made test models.
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
use tract_onnx::pb::tensor_shape_proto::Dimension;
use tract_onnx::pb::{
    type_proto, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto,
    TypeProto, ValueInfoProto,
};

/// A model under construction.
#[derive(Clone)]
pub struct M {
    pub opset: i64,
    pub graph: GraphProto,
}

fn attr(name: &str, ty: AttributeType) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: ty as i32, ..Default::default() }
}
pub fn ai(name: &str, i: i64) -> AttributeProto {
    AttributeProto { i, ..attr(name, AttributeType::Int) }
}
pub fn ais(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto { ints: ints.to_vec(), ..attr(name, AttributeType::Ints) }
}
pub fn af(name: &str, f: f32) -> AttributeProto {
    AttributeProto { f, ..attr(name, AttributeType::Float) }
}
pub fn afs(name: &str, floats: &[f32]) -> AttributeProto {
    AttributeProto { floats: floats.to_vec(), ..attr(name, AttributeType::Floats) }
}
pub fn astr(name: &str, s: &str) -> AttributeProto {
    AttributeProto { s: s.as_bytes().to_vec(), ..attr(name, AttributeType::String) }
}
pub fn at(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto { t: Some(t), ..attr(name, AttributeType::Tensor) }
}

/// An f32 tensor in `raw_data`.
pub fn tf32(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// A uint8 tensor in `raw_data`.
pub fn tu8(name: &str, dims: &[i64], v: &[u8]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Uint8 as i32,
        raw_data: v.to_vec(),
        ..Default::default()
    }
}

/// An i64 tensor in `int64_data`.
pub fn ti64(name: &str, dims: &[i64], v: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Int64 as i32,
        int64_data: v.to_vec(),
        ..Default::default()
    }
}

pub fn value_info(name: &str, elem: DataType, dims: Option<&[Option<i64>]>) -> ValueInfoProto {
    let shape = dims.map(|d| TensorShapeProto {
        dim: d
            .iter()
            .map(|x| Dimension {
                value: Some(match x {
                    Some(v) => Dim::DimValue(*v),
                    None => Dim::DimParam("N".into()),
                }),
                ..Default::default()
            })
            .collect(),
    });
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor { elem_type: elem as i32, shape })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl M {
    pub fn new(opset: i64) -> Self {
        M { opset, graph: GraphProto { name: "test".into(), ..Default::default() } }
    }

    /// A static f32 input.
    pub fn input(mut self, name: &str, dims: &[i64]) -> Self {
        let d: Vec<Option<i64>> = dims.iter().map(|&x| Some(x)).collect();
        self.graph.input.push(value_info(name, DataType::Float, Some(&d)));
        self
    }

    pub fn init(mut self, t: TensorProto) -> Self {
        self.graph.initializer.push(t);
        self
    }

    pub fn init_f32(self, name: &str, dims: &[i64], v: &[f32]) -> Self {
        self.init(tf32(name, dims, v))
    }

    /// An f32 initializer of seeded random values.
    pub fn weight(self, name: &str, dims: &[i64], seed: u64) -> Self {
        let n = dims.iter().product::<i64>() as usize;
        let v = super::rand_f32(seed, n, -1.0, 1.0);
        self.init_f32(name, dims, &v)
    }

    pub fn init_i64(self, name: &str, dims: &[i64], v: &[i64]) -> Self {
        self.init(ti64(name, dims, v))
    }

    /// A node named `/<op>_<index>/<op>` (names with `/`, as PyTorch exports them).
    pub fn node(self, op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<AttributeProto>) -> Self {
        let name = format!("/{op}_{}/{op}", self.graph.node.len());
        self.named(&name, op, inputs, outputs, attrs)
    }

    pub fn named(
        mut self,
        name: &str,
        op: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: Vec<AttributeProto>,
    ) -> Self {
        self.graph.node.push(NodeProto {
            name: name.into(),
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            attribute: attrs,
            ..Default::default()
        });
        self
    }

    pub fn output(mut self, name: &str) -> Self {
        self.graph.output.push(value_info(name, DataType::Float, None));
        self
    }

    pub fn proto(&self) -> ModelProto {
        ModelProto {
            ir_version: if self.opset < 12 { 6 } else { 8 },
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: self.opset }],
            producer_name: "accel-tests".into(),
            graph: Some(self.graph.clone()),
            ..Default::default()
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(&self.proto())
    }
}
