//! Fixed-width little-endian fields of commands, and a bounded reader that never panics.
use crate::dtype::DType;
use crate::op::UnaryOp;
use thiserror::Error;

/// A decode failure, with the byte offset inside the command section.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DecodeError {
    #[error("truncated at byte {offset}: needed {needed} more bytes")]
    Truncated { offset: usize, needed: usize },
    #[error("unknown opcode {opcode:#04x} at byte {offset}")]
    UnknownOpcode { offset: usize, opcode: u8 },
    #[error("invalid {what} value {value} at byte {offset}")]
    InvalidValue { offset: usize, what: &'static str, value: u64 },
}

/// Reads fields from a byte slice; every read is bounds-checked.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }
    pub fn offset(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> usize {
        // `pos` only advances to the end of a successful `take`, so it never passes the end.
        self.bytes.len().saturating_sub(self.pos)
    }
    pub fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let chunk = self.pos.checked_add(N).and_then(|end| Some((end, self.bytes.get(self.pos..end)?)));
        match chunk.and_then(|(end, s)| Some((end, <[u8; N]>::try_from(s).ok()?))) {
            Some((end, out)) => {
                self.pos = end;
                Ok(out)
            }
            None => Err(DecodeError::Truncated { offset: self.pos, needed: N - self.remaining().min(N) }),
        }
    }
    pub fn invalid(&self, what: &'static str, value: u64, width: usize) -> DecodeError {
        DecodeError::InvalidValue { offset: self.pos.saturating_sub(width), what, value }
    }
}

/// A command field: encodes to fixed-width little-endian bytes and prints itself for the disassembler.
pub trait Field: Sized {
    fn put(&self, out: &mut Vec<u8>);
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
    fn show(&self) -> String;
}

macro_rules! int_field {
    ($t:ty, $n:literal, $hex:literal) => {
        impl Field for $t {
            fn put(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(<$t>::from_le_bytes(r.take::<$n>()?))
            }
            fn show(&self) -> String {
                if $hex {
                    format!("{:#x}", self)
                } else {
                    self.to_string()
                }
            }
        }
    };
}
int_field!(u8, 1, false);
int_field!(u16, 2, false);
int_field!(u32, 4, false);
int_field!(i32, 4, false);

impl Field for u64 {
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(u64::from_le_bytes(r.take::<8>()?))
    }
    fn show(&self) -> String {
        format!("{self:#x}")
    }
}

/// An SRAM address (byte offset in the tile's SRAM); printed in hex. `NONE` marks an absent operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SramAddr(pub u32);

impl SramAddr {
    pub const NONE: SramAddr = SramAddr(u32::MAX);
    pub fn is_none(self) -> bool {
        self == Self::NONE
    }
}

impl Field for SramAddr {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SramAddr(u32::get(r)?))
    }
    fn show(&self) -> String {
        if self.is_none() {
            "-".into()
        } else {
            format!("s:{:#x}", self.0)
        }
    }
}

/// A DRAM address (byte offset in the device's DRAM); printed in hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DramAddr(pub u64);

impl Field for DramAddr {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(DramAddr(u64::get(r)?))
    }
    fn show(&self) -> String {
        format!("d:{:#x}", self.0)
    }
}

impl Field for DType {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(self.code())
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let c = u8::get(r)?;
        DType::from_code(c).ok_or_else(|| r.invalid("dtype", c as u64, 1))
    }
    fn show(&self) -> String {
        self.name().into()
    }
}

/// A strided DRAM <-> SRAM copy: `n2` blocks of `n1` runs of `len` contiguous bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Copy3 {
    pub len: u32,
    pub n1: u32,
    pub dram_stride1: u64,
    pub sram_stride1: u32,
    pub n2: u32,
    pub dram_stride2: u64,
    pub sram_stride2: u32,
}

impl Copy3 {
    /// One contiguous run of `len` bytes.
    pub fn contiguous(len: u32) -> Copy3 {
        Copy3 { len, n1: 1, dram_stride1: 0, sram_stride1: 0, n2: 1, dram_stride2: 0, sram_stride2: 0 }
    }
    /// Total bytes moved, or `None` on overflow.
    pub fn bytes(&self) -> Option<u64> {
        (self.len as u64).checked_mul(self.n1 as u64)?.checked_mul(self.n2 as u64)
    }
}

impl Field for Copy3 {
    fn put(&self, out: &mut Vec<u8>) {
        self.len.put(out);
        self.n1.put(out);
        self.dram_stride1.put(out);
        self.sram_stride1.put(out);
        self.n2.put(out);
        self.dram_stride2.put(out);
        self.sram_stride2.put(out);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Copy3 {
            len: u32::get(r)?,
            n1: u32::get(r)?,
            dram_stride1: u64::get(r)?,
            sram_stride1: u32::get(r)?,
            n2: u32::get(r)?,
            dram_stride2: u64::get(r)?,
            sram_stride2: u32::get(r)?,
        })
    }
    fn show(&self) -> String {
        match (self.n1, self.n2) {
            (1, 1) => format!("{}B", self.len),
            (n1, 1) => format!("{n1}x{}B(dram+{},sram+{})", self.len, self.dram_stride1, self.sram_stride1),
            (n1, n2) => format!(
                "{n2}x{n1}x{}B(dram+{}/+{},sram+{}/+{})",
                self.len, self.dram_stride2, self.dram_stride1, self.sram_stride2, self.sram_stride1
            ),
        }
    }
}

/// The activation function applied by a compute command, or `None`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Act(pub Option<UnaryOp>);

/// Activation codes are part of the file format: explicit and append-only, like opcodes.
fn act_code(op: &UnaryOp) -> (u8, f32, f32) {
    match *op {
        UnaryOp::Relu => (1, 0.0, 0.0),
        UnaryOp::Clip { min, max } => (2, min, max),
        UnaryOp::LeakyRelu { alpha } => (3, alpha, 0.0),
        UnaryOp::Sigmoid => (4, 0.0, 0.0),
        UnaryOp::HardSwish => (5, 0.0, 0.0),
        UnaryOp::HardSigmoid { alpha, beta } => (6, alpha, beta),
        UnaryOp::Silu => (7, 0.0, 0.0),
        UnaryOp::Gelu => (8, 0.0, 0.0),
        UnaryOp::Tanh => (9, 0.0, 0.0),
        UnaryOp::Exp => (10, 0.0, 0.0),
        UnaryOp::Log => (11, 0.0, 0.0),
        UnaryOp::Sqrt => (12, 0.0, 0.0),
        UnaryOp::Reciprocal => (13, 0.0, 0.0),
        UnaryOp::Neg => (14, 0.0, 0.0),
        UnaryOp::Abs => (15, 0.0, 0.0),
        UnaryOp::Erf => (16, 0.0, 0.0),
        UnaryOp::Floor => (17, 0.0, 0.0),
        UnaryOp::Ceil => (18, 0.0, 0.0),
        UnaryOp::Softplus => (19, 0.0, 0.0),
        UnaryOp::Elu { alpha } => (20, alpha, 0.0),
    }
}

fn act_from_code(code: u8, a: f32, b: f32) -> Option<Option<UnaryOp>> {
    Some(Some(match code {
        0 => return Some(None),
        1 => UnaryOp::Relu,
        2 => UnaryOp::Clip { min: a, max: b },
        3 => UnaryOp::LeakyRelu { alpha: a },
        4 => UnaryOp::Sigmoid,
        5 => UnaryOp::HardSwish,
        6 => UnaryOp::HardSigmoid { alpha: a, beta: b },
        7 => UnaryOp::Silu,
        8 => UnaryOp::Gelu,
        9 => UnaryOp::Tanh,
        10 => UnaryOp::Exp,
        11 => UnaryOp::Log,
        12 => UnaryOp::Sqrt,
        13 => UnaryOp::Reciprocal,
        14 => UnaryOp::Neg,
        15 => UnaryOp::Abs,
        16 => UnaryOp::Erf,
        17 => UnaryOp::Floor,
        18 => UnaryOp::Ceil,
        19 => UnaryOp::Softplus,
        20 => UnaryOp::Elu { alpha: a },
        _ => return None,
    }))
}

impl Field for Act {
    fn put(&self, out: &mut Vec<u8>) {
        let (code, a, b) = self.0.as_ref().map_or((0, 0.0, 0.0), act_code);
        out.push(code);
        out.extend_from_slice(&a.to_le_bytes());
        out.extend_from_slice(&b.to_le_bytes());
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let code = u8::get(r)?;
        let a = f32::from_le_bytes(r.take::<4>()?);
        let b = f32::from_le_bytes(r.take::<4>()?);
        if !a.is_finite() || !b.is_finite() {
            return Err(r.invalid("activation parameter", a.to_bits() as u64, 8));
        }
        act_from_code(code, a, b).map(Act).ok_or_else(|| r.invalid("activation", code as u64, 9))
    }
    fn show(&self) -> String {
        match &self.0 {
            None => "-".into(),
            Some(UnaryOp::Clip { min, max }) => format!("clip({min},{max})"),
            Some(UnaryOp::LeakyRelu { alpha }) => format!("leaky-relu({alpha})"),
            Some(UnaryOp::HardSigmoid { alpha, beta }) => format!("hard-sigmoid({alpha},{beta})"),
            Some(UnaryOp::Elu { alpha }) => format!("elu({alpha})"),
            Some(op) => op.name().into(),
        }
    }
}

/// Elementwise binary function codes of `vec.binary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BinCode(pub crate::op::BinaryOp);

impl Field for BinCode {
    fn put(&self, out: &mut Vec<u8>) {
        use crate::op::BinaryOp::*;
        out.push(match self.0 {
            Add => 0,
            Sub => 1,
            Mul => 2,
            Div => 3,
            Pow => 4,
            Max => 5,
            Min => 6,
        })
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use crate::op::BinaryOp::*;
        let c = u8::get(r)?;
        let op = match c {
            0 => Add,
            1 => Sub,
            2 => Mul,
            3 => Div,
            4 => Pow,
            5 => Max,
            6 => Min,
            _ => return Err(r.invalid("binary op", c as u64, 1)),
        };
        Ok(BinCode(op))
    }
    fn show(&self) -> String {
        self.0.name().into()
    }
}

/// Pool function codes of `vec.pool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PoolCode(pub crate::op::PoolKind);

impl Field for PoolCode {
    fn put(&self, out: &mut Vec<u8>) {
        use crate::op::PoolKind::*;
        out.push(match self.0 {
            Max => 0,
            Avg { count_include_pad: false } => 1,
            Avg { count_include_pad: true } => 2,
        })
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use crate::op::PoolKind::*;
        let c = u8::get(r)?;
        let kind = match c {
            0 => Max,
            1 => Avg { count_include_pad: false },
            2 => Avg { count_include_pad: true },
            _ => return Err(r.invalid("pool kind", c as u64, 1)),
        };
        Ok(PoolCode(kind))
    }
    fn show(&self) -> String {
        self.0.name().into()
    }
}
