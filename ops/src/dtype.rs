//! Element types of tensors, on the tiles and on the host.
use serde::{Deserialize, Serialize};
use std::fmt;

/// An element type. The tiles compute in `I8` (int32 accumulate), `BF16` (fp32 accumulate) and `F32`;
/// the host handles every type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DType {
    F32,
    BF16,
    I8,
    U8,
    I32,
    I64,
    Bool,
    // Host-only types (appended: the codes and serde indices of the ones above are the file format). The
    // host operators in operator form compute on them exactly; the tiles and the kernel IR do not take them.
    F16,
    F64,
    I16,
    U16,
    U32,
    U64,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::BF16 | DType::F16 | DType::I16 | DType::U16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
            DType::I64 | DType::F64 | DType::U64 => 8,
        }
    }

    /// The one-byte code used in the command stream.
    pub fn code(self) -> u8 {
        match self {
            DType::F32 => 0,
            DType::BF16 => 1,
            DType::I8 => 2,
            DType::U8 => 3,
            DType::I32 => 4,
            DType::I64 => 5,
            DType::Bool => 6,
            DType::F16 => 7,
            DType::F64 => 8,
            DType::I16 => 9,
            DType::U16 => 10,
            DType::U32 => 11,
            DType::U64 => 12,
        }
    }

    pub fn from_code(code: u8) -> Option<DType> {
        Some(match code {
            0 => DType::F32,
            1 => DType::BF16,
            2 => DType::I8,
            3 => DType::U8,
            4 => DType::I32,
            5 => DType::I64,
            6 => DType::Bool,
            7 => DType::F16,
            8 => DType::F64,
            9 => DType::I16,
            10 => DType::U16,
            11 => DType::U32,
            12 => DType::U64,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::BF16 => "bf16",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::Bool => "bool",
            DType::F16 => "f16",
            DType::F64 => "f64",
            DType::I16 => "i16",
            DType::U16 => "u16",
            DType::U32 => "u32",
            DType::U64 => "u64",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
