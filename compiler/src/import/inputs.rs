//! Graph inputs: their declared type and shape, and the user's `--input-shape NAME=dims` pins. Every dim
//! must be known (declared or pinned) before anything is sized (BAD-INPUT #4).
use super::error::ImportError;
use super::ImportLimits;
use accel_ops::{DType, Shape, Tensor, TensorType};
use std::collections::HashMap;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
use tract_onnx::pb::{type_proto, ValueInfoProto};

/// The static type of graph input `vi`, from its declaration and an optional pin. A pin may hold a 0 (an
/// empty input, such as the `axes` of a Reduce that reduces every axis): declarations cannot, since exporters
/// write 0 for a dynamic dim.
pub(crate) fn input_type(
    vi: &ValueInfoProto,
    pin: Option<&[usize]>,
    limits: &ImportLimits,
) -> Result<TensorType, ImportError> {
    let name = vi.name.as_str();
    let bad = |why: String| ImportError::BadInputShape { input: name.to_string(), why };
    let Some(type_proto::Value::TensorType(tt)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return Err(ImportError::UnsupportedInput { input: name.to_string(), why: "is not a tensor".into() });
    };
    let Some(dtype) = input_dtype(tt.elem_type) else {
        let got = DataType::try_from(tt.elem_type).map(|d| d.as_str_name()).unwrap_or("UNKNOWN");
        return Err(ImportError::UnsupportedInput {
            input: name.to_string(),
            why: format!("element type {got}: graph inputs must be float, float16, double, an integer or bool"),
        });
    };
    // Declared dims: Some(size) when static, Err(label) when symbolic or unknown; None when the rank is unknown.
    // Non-positive dim values count as unknown: some exporters write 0 or -1 for dynamic dims.
    let declared: Option<Vec<Result<usize, String>>> = tt.shape.as_ref().map(|s| {
        s.dim
            .iter()
            .enumerate()
            .map(|(axis, d)| match &d.value {
                Some(Dim::DimValue(v)) if *v >= 1 => usize::try_from(*v).map_err(|_| format!("{v}")),
                Some(Dim::DimValue(v)) => Err(format!("{v} (axis {axis})")),
                Some(Dim::DimParam(p)) if !p.is_empty() => Err(format!("`{p}` (axis {axis})")),
                _ => Err(format!("? (axis {axis})")),
            })
            .collect()
    });
    let dims = match (pin, declared) {
        (Some(pin), declared) => {
            if let Some(decl) = declared {
                if decl.len() != pin.len() {
                    return Err(bad(format!(
                        "pin {pin:?} has rank {}, the model declares rank {}",
                        pin.len(),
                        decl.len()
                    )));
                }
                for (axis, (d, &p)) in decl.iter().zip(pin).enumerate() {
                    if let Ok(d) = d {
                        if *d != p {
                            return Err(bad(format!("pin {pin:?} sets axis {axis} to {p}, the model fixes it at {d}")));
                        }
                    }
                }
            }
            pin.to_vec()
        }
        (None, None) => {
            return Err(ImportError::SymbolicDim {
                input: name.to_string(),
                dim: "(the rank is unknown)".into(),
                example: format!("{name}=1,3,224,224"),
            })
        }
        (None, Some(decl)) => {
            if let Some(Err(dim)) = decl.iter().find(|d| d.is_err()) {
                let example: Vec<String> =
                    decl.iter().map(|d| d.as_ref().map_or("1".to_string(), |v| v.to_string())).collect();
                return Err(ImportError::SymbolicDim {
                    input: name.to_string(),
                    dim: dim.clone(),
                    example: format!("{name}={}", example.join(",")),
                });
            }
            decl.into_iter().flatten().collect()
        }
    };
    let shape = Shape(dims);
    shape
        .check(&limits.tensor)
        .map_err(|e| ImportError::Limit { what: format!("input `{name}` of shape {shape}"), why: e.to_string() })?;
    Ok(TensorType { dtype, shape })
}

/// The type the graph computes a value of interface type `d` in: the host-only float types in f32 (as float16
/// and double initializers are: the compiler chooses tile precision itself), 16-bit integers in i32 and u32 in
/// i64 (exact: every value fits). u64 stays u64 (no signed type holds it); the host operators take it exactly.
pub(crate) fn compute_type(d: DType) -> DType {
    match d {
        DType::F16 | DType::F64 => DType::F32,
        DType::I16 | DType::U16 => DType::I32,
        DType::U32 => DType::I64,
        d => d,
    }
}

/// What a graph output declared in `vi` needs when the graph produced it as `produced`: nothing, or a final
/// cast to the declared type when the graph computed it in that type's `compute_type` (an f16 output
/// computed in f32 is rounded to f16 once, at the end). A declared type accel has no form for (strings,
/// 4-bit, float8) is refused, naming the output, rather than silently delivered as another type.
/// Whether graph output `vi` is declared uint8 and computed in the int8 carrier (uint8 values are carried as
/// int8 with the zero point shifted by -128): it must be shifted back by +128 to deliver the declared values.
pub(crate) fn is_uint8_carrier(vi: &ValueInfoProto, produced: DType) -> bool {
    let declared = match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(tt)) => tt.elem_type,
        _ => return false,
    };
    produced == DType::I8 && declared == DataType::Uint8 as i32
}

pub(crate) fn output_cast(vi: &ValueInfoProto, produced: DType) -> Result<Option<DType>, ImportError> {
    let Some(type_proto::Value::TensorType(tt)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return Ok(None);
    };
    let declared = DataType::try_from(tt.elem_type).unwrap_or(DataType::Undefined);
    if declared == DataType::Undefined || declared == DataType::Bfloat16 {
        return Ok(None);
    }
    match input_dtype(tt.elem_type) {
        Some(d) if d != produced && compute_type(d) == produced => Ok(Some(d)),
        Some(_) => Ok(None),
        None => Err(ImportError::Model(format!(
            "graph output `{}` is declared {}, which accel has no exact type for (it would be {produced:?})",
            vi.name,
            declared.as_str_name()
        ))),
    }
}

fn input_dtype(elem: i32) -> Option<DType> {
    Some(match DataType::try_from(elem).ok()? {
        DataType::Float => DType::F32,
        DataType::Int8 => DType::I8,
        DataType::Uint8 => DType::U8,
        DataType::Int32 => DType::I32,
        DataType::Int64 => DType::I64,
        DataType::Bool => DType::Bool,
        DataType::Float16 => DType::F16,
        DataType::Double => DType::F64,
        DataType::Int16 => DType::I16,
        DataType::Uint16 => DType::U16,
        DataType::Uint32 => DType::U32,
        DataType::Uint64 => DType::U64,
        _ => return None,
    })
}

/// The `--freeze` values by input name, after checking that each names a real input, once, and is not also
/// pinned (its value already fixes its shape).
pub(crate) fn check_frozen<'a>(
    frozen: &'a [(String, Tensor)],
    graph_inputs: &[&ValueInfoProto],
    pins: &HashMap<&str, &[usize]>,
) -> Result<HashMap<&'a str, &'a Tensor>, ImportError> {
    let mut by_name = HashMap::new();
    for (name, t) in frozen {
        let why = if !graph_inputs.iter().any(|vi| &vi.name == name) {
            let names: Vec<&str> = graph_inputs.iter().map(|vi| vi.name.as_str()).collect();
            Some(format!("cannot be frozen: the model has no such input (inputs: {})", names.join(", ")))
        } else if pins.contains_key(name.as_str()) {
            Some("is both frozen and pinned: a frozen value fixes the shape".to_string())
        } else if by_name.insert(name.as_str(), t).is_some() {
            Some("is frozen twice".to_string())
        } else {
            None
        };
        if let Some(why) = why {
            return Err(ImportError::BadInputShape { input: name.clone(), why });
        }
    }
    Ok(by_name)
}
