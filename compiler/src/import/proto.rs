//! Decoding: the ModelProto bytes (size-checked before prost sees them) and TensorProto payloads (validated
//! against dims and dtype before any tensor is built). It must not trust a declared length or shape.
use super::error::ImportError;
use super::external;
use super::ImportLimits;
use accel_ops::tensor::Data;
use accel_ops::{DType, Shape, Tensor};
use prost::Message;
use std::path::Path;
use tract_onnx::pb::tensor_proto::{DataLocation, DataType};
use tract_onnx::pb::{ModelProto, TensorProto};

/// Decodes a ModelProto after checking the byte limit (protobuf itself caps messages at 2 GiB).
pub(crate) fn decode_model(bytes: &[u8], limits: &ImportLimits) -> Result<ModelProto, ImportError> {
    let len = bytes.len() as u64;
    if len > limits.max_model_bytes {
        return Err(ImportError::Limit {
            what: "the model file".into(),
            why: format!("{len} bytes, over the limit of {}", limits.max_model_bytes),
        });
    }
    ModelProto::decode(bytes).map_err(|e| ImportError::Decode(e.to_string()))
}

/// Validates ONNX dims: none negative, and the shape within the tensor limits (rank, element count).
pub(crate) fn checked_dims(dims: &[i64], limits: &ImportLimits) -> Result<Shape, String> {
    let mut out = Vec::with_capacity(dims.len().min(limits.tensor.max_rank + 1));
    for &d in dims {
        out.push(usize::try_from(d).map_err(|_| format!("dim {d} in {dims:?} is negative"))?);
    }
    let shape = Shape(out);
    shape.check(&limits.tensor).map_err(|e| e.to_string())?;
    Ok(shape)
}

/// How an ONNX element type is stored and what it becomes.
struct Layout {
    /// Bytes per element in `raw_data` / external data.
    raw_size: usize,
    target: DType,
}

fn layout(data_type: i32, tensor: &str) -> Result<(DataType, Layout), ImportError> {
    let dt = DataType::try_from(data_type)
        .map_err(|_| ImportError::tensor(tensor, format!("unknown data_type {data_type}")))?;
    let l = |raw_size, target| Ok((dt, Layout { raw_size, target }));
    match dt {
        DataType::Float => l(4, DType::F32),
        DataType::Uint8 => l(1, DType::U8),
        DataType::Int8 => l(1, DType::I8),
        DataType::Uint16 | DataType::Int16 => l(2, DType::I32),
        DataType::Int32 => l(4, DType::I32),
        DataType::Int64 => l(8, DType::I64),
        DataType::Bool => l(1, DType::Bool),
        // float16, bfloat16 and double initializers are converted to f32 (exactly for the 16-bit types, by
        // rounding for double): the graph computes in f32 and the compiler chooses tile precision itself.
        DataType::Float16 | DataType::Bfloat16 => l(2, DType::F32),
        DataType::Double => l(8, DType::F32),
        DataType::Uint32 | DataType::Uint64 => l(if dt == DataType::Uint32 { 4 } else { 8 }, DType::I64),
        other => Err(ImportError::tensor(tensor, format!("data type {} is not supported", other.as_str_name()))),
    }
}

/// The accel dtype an ONNX `data_type` (as in `Cast.to`) maps to, or `None` if accel has no such type.
pub(crate) fn dtype_of(data_type: i64) -> Option<DType> {
    let code = i32::try_from(data_type).ok()?;
    match layout(code, "").ok()? {
        (DataType::Bfloat16, _) => Some(DType::BF16),
        (_, l) => Some(l.target),
    }
}

/// Builds a tensor from a TensorProto (initializer or attribute), validating everything first.
/// `model_dir` is where external data may live; `None` forbids external data.
pub(crate) fn tensor_from_proto(
    t: &TensorProto,
    name: &str,
    model_dir: Option<&Path>,
    limits: &ImportLimits,
) -> Result<Tensor, ImportError> {
    let (dt, lay) = layout(t.data_type, name)?;
    let shape = checked_dims(&t.dims, limits).map_err(|why| ImportError::tensor(name, why))?;
    let n = shape.numel();
    if t.segment.is_some() {
        return Err(ImportError::tensor(name, "segmented tensors are not supported"));
    }
    let typed_len = match dt {
        DataType::Float => t.float_data.len(),
        DataType::Int64 => t.int64_data.len(),
        DataType::Double => t.double_data.len(),
        DataType::Uint32 | DataType::Uint64 => t.uint64_data.len(),
        _ => t.int32_data.len(),
    };
    let other_fields = t.float_data.len()
        + t.int32_data.len()
        + t.int64_data.len()
        + t.double_data.len()
        + t.uint64_data.len()
        + t.string_data.len()
        - typed_len;
    if other_fields != 0 {
        return Err(ImportError::tensor(
            name,
            format!("payload is in a field that does not match {}", dt.as_str_name()),
        ));
    }
    let external = match t.data_location {
        None => false,
        Some(x) if x == DataLocation::Default as i32 => false,
        Some(x) if x == DataLocation::External as i32 => true,
        Some(x) => return Err(ImportError::tensor(name, format!("unknown data_location {x}"))),
    };
    let need = n
        .checked_mul(lay.raw_size)
        .ok_or_else(|| ImportError::tensor(name, format!("byte size of {shape} overflows")))?;
    let data = if external {
        if !t.raw_data.is_empty() || typed_len != 0 {
            return Err(ImportError::external(name, "has both external and inline data"));
        }
        let bytes = external::read(t, name, model_dir, need)?;
        from_raw(dt, &bytes, name)?
    } else if !t.raw_data.is_empty() {
        if typed_len != 0 {
            return Err(ImportError::tensor(name, "has both raw_data and a typed data field"));
        }
        if t.raw_data.len() != need {
            return Err(ImportError::tensor(
                name,
                format!(
                    "raw_data has {} bytes, but {} {shape} needs {need}",
                    t.raw_data.len(),
                    dt.as_str_name().to_lowercase()
                ),
            ));
        }
        from_raw(dt, &t.raw_data, name)?
    } else {
        if typed_len != n {
            return Err(ImportError::tensor(
                name,
                format!("payload has {typed_len} elements, but shape {shape} needs {n}"),
            ));
        }
        from_typed(dt, t, name)?
    };
    Tensor::new(shape, data).map_err(|e| ImportError::tensor(name, e.to_string()))
}

fn out_of_range(name: &str, v: impl std::fmt::Display, dt: DataType) -> ImportError {
    ImportError::tensor(name, format!("value {v} is out of range for {}", dt.as_str_name().to_lowercase()))
}

/// Converts the typed repeated fields (`float_data`, `int32_data`, ...) with range checks.
fn from_typed(dt: DataType, t: &TensorProto, name: &str) -> Result<Data, ImportError> {
    let i32s = &t.int32_data;
    fn conv<T, U: TryFrom<T> + Copy>(v: &[T], name: &str, dt: DataType) -> Result<Vec<U>, ImportError>
    where
        T: Copy + std::fmt::Display,
    {
        v.iter().map(|&x| U::try_from(x).map_err(|_| out_of_range(name, x, dt))).collect()
    }
    Ok(match dt {
        DataType::Float => Data::F32(t.float_data.clone()),
        DataType::Double => Data::F32(t.double_data.iter().map(|&x| x as f32).collect()),
        DataType::Int64 => Data::I64(t.int64_data.clone()),
        DataType::Int32 => Data::I32(i32s.clone()),
        DataType::Int16 => Data::I32(conv::<i32, i16>(i32s, name, dt)?.into_iter().map(i32::from).collect()),
        DataType::Uint16 => Data::I32(conv::<i32, u16>(i32s, name, dt)?.into_iter().map(i32::from).collect()),
        DataType::Int8 => Data::I8(conv(i32s, name, dt)?),
        DataType::Uint8 => Data::U8(conv(i32s, name, dt)?),
        DataType::Bool => Data::Bool(i32s.iter().map(|&x| x != 0).collect()),
        DataType::Float16 => Data::F32(conv::<i32, u16>(i32s, name, dt)?.into_iter().map(f16_to_f32).collect()),
        DataType::Bfloat16 => Data::F32(conv::<i32, u16>(i32s, name, dt)?.into_iter().map(bf16_to_f32).collect()),
        DataType::Uint32 => Data::I64(conv::<u64, u32>(&t.uint64_data, name, dt)?.into_iter().map(i64::from).collect()),
        DataType::Uint64 => Data::I64(conv(&t.uint64_data, name, dt)?),
        other => return Err(ImportError::tensor(name, format!("data type {} is not supported", other.as_str_name()))),
    })
}

/// Parses little-endian raw bytes whose length was already checked against the shape.
fn from_raw(dt: DataType, b: &[u8], name: &str) -> Result<Data, ImportError> {
    fn chunks<const N: usize, T>(b: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
        b.chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                f(a)
            })
            .collect()
    }
    Ok(match dt {
        DataType::Float => Data::F32(chunks(b, f32::from_le_bytes)),
        DataType::Double => Data::F32(chunks(b, |a| f64::from_le_bytes(a) as f32)),
        DataType::Float16 => Data::F32(chunks(b, |a| f16_to_f32(u16::from_le_bytes(a)))),
        DataType::Bfloat16 => Data::F32(chunks(b, |a| bf16_to_f32(u16::from_le_bytes(a)))),
        DataType::Int64 => Data::I64(chunks(b, i64::from_le_bytes)),
        DataType::Int32 => Data::I32(chunks(b, i32::from_le_bytes)),
        DataType::Int16 => Data::I32(chunks(b, |a| i32::from(i16::from_le_bytes(a)))),
        DataType::Uint16 => Data::I32(chunks(b, |a| i32::from(u16::from_le_bytes(a)))),
        DataType::Int8 => Data::I8(b.iter().map(|&x| x as i8).collect()),
        DataType::Uint8 => Data::U8(b.to_vec()),
        DataType::Bool => Data::Bool(b.iter().map(|&x| x != 0).collect()),
        DataType::Uint32 => Data::I64(chunks(b, |a| i64::from(u32::from_le_bytes(a)))),
        DataType::Uint64 => {
            let v = chunks(b, u64::from_le_bytes);
            Data::I64(
                v.into_iter()
                    .map(|x| i64::try_from(x).map_err(|_| out_of_range(name, x, dt)))
                    .collect::<Result<_, _>>()?,
            )
        }
        other => return Err(ImportError::tensor(name, format!("data type {} is not supported", other.as_str_name()))),
    })
}

/// IEEE half to f32 (exact: every half value is an f32 value).
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: value = m * 2^-24; normalize the mantissa.
            let shift = m.leading_zeros() - 21; // leading zeros within the 10-bit field, plus one
            let m = (m << shift) & 0x3ff;
            let e = 127 - 15 + 1 - shift;
            sign | (e << 23) | (m << 13)
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, m) => sign | 0x7fc0_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// bfloat16 to f32 (exact: bfloat16 is the top half of an f32).
pub(crate) fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_conversions_are_exact() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
    }
}
