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
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::BF16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
            DType::I64 => 8,
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
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
