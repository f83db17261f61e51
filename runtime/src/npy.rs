//! `.npy` files in and out, via npyz: C-order arrays of f32, i64, i32, i8, u8 and bool (bf16 tensors are written
//! as f32). Headers are untrusted: the shape is checked against policy caps and the payload length exactly.
#![deny(clippy::indexing_slicing)]
use accel_ops::shape::Limits;
use accel_ops::tensor::Data;
use accel_ops::{DType, Shape, Tensor, TensorType};
use npyz::{Endianness, TypeChar, WriterBuilder};
use std::io::Cursor;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum NpyError {
    #[error("{path}: {why}")]
    File { path: String, why: String },
    #[error("not a valid .npy file: {0}")]
    Format(String),
    #[error("unsupported .npy element type `{0}` (use float32, int64, int32, int8, uint8 or bool)")]
    DType(String),
}

fn format(e: impl std::fmt::Display) -> NpyError {
    NpyError::Format(e.to_string())
}

/// Parses a `.npy` file's bytes.
pub fn read_npy(bytes: &[u8]) -> Result<Tensor, NpyError> {
    let mut cursor = Cursor::new(bytes);
    let header = npyz::NpyHeader::from_reader(&mut cursor).map_err(format)?;
    let data = bytes.get(cursor.position() as usize..).ok_or_else(|| format("truncated header"))?;
    let npyz::DType::Plain(ts) = header.dtype() else {
        return Err(NpyError::DType(format!("{:?}", header.dtype())));
    };
    let dtype = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Float, 4) => DType::F32,
        (TypeChar::Int, 8) => DType::I64,
        (TypeChar::Int, 4) => DType::I32,
        (TypeChar::Int, 1) => DType::I8,
        (TypeChar::Uint, 1) => DType::U8,
        (TypeChar::Bool, 1) => DType::Bool,
        (TypeChar::Float, 2) => DType::F16,
        (TypeChar::Float, 8) => DType::F64,
        (TypeChar::Int, 2) => DType::I16,
        (TypeChar::Uint, 2) => DType::U16,
        (TypeChar::Uint, 4) => DType::U32,
        (TypeChar::Uint, 8) => DType::U64,
        _ => return Err(NpyError::DType(ts.to_string())),
    };
    if header.order() != npyz::Order::C && header.shape().iter().filter(|&&d| d > 1).count() > 1 {
        return Err(format("fortran-order arrays are not supported (save with numpy.ascontiguousarray)"));
    }
    let dims: Vec<usize> =
        header.shape().iter().map(|&d| usize::try_from(d).map_err(format)).collect::<Result<_, _>>()?;
    let ty = TensorType { dtype, shape: Shape::new(dims) };
    ty.shape.check(&Limits::default()).map_err(format)?;
    let need = ty.checked_bytes().map_err(format)?;
    let payload = data
        .get(..need)
        .filter(|_| data.len() == need)
        .ok_or_else(|| format(format!("{ty} needs {need} bytes of data, the file has {}", data.len())))?;
    if ts.endianness() == Endianness::Big && dtype.size() > 1 {
        let swapped: Vec<u8> = payload.chunks_exact(dtype.size()).flat_map(|c| c.iter().rev().copied()).collect();
        return Tensor::from_le_bytes(&ty, &swapped).map_err(format);
    }
    if dtype == DType::Bool && payload.iter().any(|&b| b > 1) {
        return Err(format("bool array holds values other than 0 and 1"));
    }
    Tensor::from_le_bytes(&ty, payload).map_err(format)
}

/// Reads a `.npy` file.
pub fn read_npy_file(path: &Path) -> Result<Tensor, NpyError> {
    let file = |why: String| NpyError::File { path: path.display().to_string(), why };
    let bytes = std::fs::read(path).map_err(|e| file(e.to_string()))?;
    read_npy(&bytes).map_err(|e| file(e.to_string()))
}

fn write_typed<T: npyz::AutoSerialize + Copy>(shape: &[u64], data: &[T]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = npyz::WriteOptions::new().default_dtype().shape(shape).writer(&mut out).begin_nd()?;
    w.extend(data.iter().copied())?;
    w.finish()?;
    Ok(out)
}

/// Serializes a tensor as a C-order `.npy` file.
pub fn write_npy(t: &Tensor) -> Result<Vec<u8>, NpyError> {
    let shape: Vec<u64> = t.dims().iter().map(|&d| d as u64).collect();
    match t.data() {
        Data::F32(v) => write_typed(&shape, v),
        Data::BF16(_) => write_typed(&shape, &t.to_f32_vec()),
        Data::I8(v) => write_typed(&shape, v),
        Data::U8(v) => write_typed(&shape, v),
        Data::I32(v) => write_typed(&shape, v),
        Data::I64(v) => write_typed(&shape, v),
        Data::Bool(v) => write_typed(&shape, v),
        Data::F16(v) => write_typed(&shape, v),
        Data::F64(v) => write_typed(&shape, v),
        Data::I16(v) => write_typed(&shape, v),
        Data::U16(v) => write_typed(&shape, v),
        Data::U32(v) => write_typed(&shape, v),
        Data::U64(v) => write_typed(&shape, v),
    }
    .map_err(format)
}

/// Writes a tensor to a `.npy` file.
pub fn write_npy_file(path: &Path, t: &Tensor) -> Result<(), NpyError> {
    let bytes = write_npy(t)?;
    std::fs::write(path, bytes).map_err(|e| NpyError::File { path: path.display().to_string(), why: e.to_string() })
}

/// A file name for an output: every character outside `[A-Za-z0-9._-]` becomes `_`.
pub fn sanitize_name(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    // "." and ".." would name directories.
    if s.chars().all(|c| c == '.') {
        s.replace('.', "_")
    } else {
        s
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_supported_dtype() {
        let tensors = [
            Tensor::from_f32(vec![2, 3], vec![1.0, -2.5, 3.0, 0.0, 5.5, -6.0]).unwrap(),
            Tensor::from_i64(vec![3], vec![1, -2, 1 << 40]).unwrap(),
            Tensor::from_i32(vec![1, 2], vec![7, -7]).unwrap(),
            Tensor::from_i8(vec![2], vec![-128, 127]).unwrap(),
            Tensor::from_u8(vec![2], vec![0, 255]).unwrap(),
            Tensor::from_bool(vec![2], vec![true, false]).unwrap(),
            Tensor::from_f32(vec![], vec![4.0]).unwrap(),
        ];
        for t in tensors {
            let back = read_npy(&write_npy(&t).unwrap()).unwrap();
            assert_eq!(back, t);
        }
    }

    #[test]
    fn hostile_files_are_errors() {
        let good = write_npy(&Tensor::from_f32(vec![4], vec![0.0; 4]).unwrap()).unwrap();
        assert!(read_npy(&good[..good.len() - 1]).is_err());
        for cut in 0..20 {
            assert!(read_npy(&good[..cut]).is_err());
        }
        let f64_file = write_typed(&[2], &[1.0f64, 2.0]).unwrap();
        assert_eq!(read_npy(&f64_file).unwrap().as_f64().unwrap(), &[1.0, 2.0]);
        // A dtype accel has no form for (complex64: `<c8`) is a dtype error.
        let at = good.windows(3).position(|w| w == b"<f4").expect("the header names its dtype");
        let mut complex = good.clone();
        complex[at..at + 3].copy_from_slice(b"<c8");
        assert!(matches!(read_npy(&complex), Err(NpyError::DType(_))), "{:?}", read_npy(&complex));
        // A header claiming an enormous shape fails on the caps, before any allocation.
        let text = String::from_utf8_lossy(&good).replace("(4,)", "(9999999999, 9999999999)");
        assert!(read_npy(text.as_bytes()).is_err());
    }

    #[test]
    fn names_are_sanitized() {
        assert_eq!(sanitize_name("out/put:0"), "out_put_0");
        assert_eq!(sanitize_name(".."), "__");
        assert_eq!(sanitize_name("a.b-c_d"), "a.b-c_d");
    }
}
