//! The portable kernel IR for host operators: buffers, a flat structured instruction list (loop nests,
//! reductions, elementwise values, loads/stores with index arithmetic), its verifier, its reference
//! interpreter, the lowerings from `Op` and elementwise fusion. It names no code generator: the runtime's
//! host module compiles verified kernels to native code and is tested against `interpret`.
//!
//! The form is flat on purpose (BAD-INPUT class 10): a kernel is a `Vec<Inst>` where every instruction that
//! yields a value is referred to by its index (`ValueId`), and loops are bracketed by `Loop`/`Reduce` ... `End`.
//! Decoding, verifying, interpreting and compiling are single passes with explicit stacks, never recursion over
//! untrusted structure.
use crate::DType;
use serde::{Deserialize, Serialize};
use thiserror::Error;

mod analysis;
mod build;
mod fuse;
mod interp;
mod lower;
pub mod math;
mod print;
mod verify;

#[cfg(test)]
mod tests;

pub use analysis::{affine_forms, Affine};
pub use build::Builder;
pub use fuse::{fuse_elementwise, Fused};
pub use interp::{combine, interpret, pow, reduce_identity, reduce_step};

/// The partials of a reduction (`Inst::Reduce`): element `j` goes into partial `j % PARTIALS`. Three 4-lane
/// vectors, so native code keeps three independent accumulator chains (one chain is bound by the latency of
/// an add or a max, not by throughput: 3x slower on the reductions of softmax).
pub const PARTIALS: usize = 12;
pub use lower::from_op;
pub use verify::{verify, verify_with, Range, VerifiedKernel, VerifyLimits};

/// Index of an instruction in `Kernel::insts`; names the value that instruction yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ValueId(pub u32);

/// Index of a buffer in `Kernel::buffers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BufId(pub u32);

impl ValueId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl BufId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The type of a value computed by a kernel. Buffer elements widen to these on load (`DType::value_type`)
/// and narrow back on store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScalarType {
    F32,
    I32,
    I64,
    Bool,
}

/// A constant. f32 is stored as bits so that kernels compare and hash exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Const {
    F32(u32),
    I32(i32),
    I64(i64),
    Bool(bool),
}

impl Const {
    pub fn f32(x: f32) -> Const {
        Const::F32(x.to_bits())
    }
    pub fn ty(self) -> ScalarType {
        match self {
            Const::F32(_) => ScalarType::F32,
            Const::I32(_) => ScalarType::I32,
            Const::I64(_) => ScalarType::I64,
            Const::Bool(_) => ScalarType::Bool,
        }
    }
}

/// What a kernel does with a buffer. `Input` and `Output` buffers are the kernel's arguments, in declaration
/// order; `Const` buffers (tables such as gather indices) travel inside the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BufKind {
    Input,
    Output,
    Const(Vec<u8>),
}

/// A buffer: `len` elements of `dtype`, little-endian, no alignment assumed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Buffer {
    pub dtype: DType,
    pub len: u64,
    pub kind: BufKind,
}

/// Elementwise functions of one operand. Float functions take and return `F32`; `Neg` and `Abs` also work on
/// integers (wrapping); `Not` takes `Bool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UnaryFn {
    Neg,
    Abs,
    Sqrt,
    Floor,
    Ceil,
    Trunc,
    /// Round half to even.
    RoundEven,
    /// The polynomial approximations of `math` (the same operation sequence in the interpreter and in native
    /// code, so the two agree bit for bit; within 1e-6 relative of libm over the normal range).
    Exp,
    Log,
    Tanh,
    Erf,
    Sigmoid,
    /// Round an f32 to the nearest bf16 (ties to even), keeping it an f32.
    RoundBf16,
    Not,
}

/// Elementwise functions of two operands of the same type. `Div` and `Pow` are f32 only; `And`, `Or`, `Xor`
/// are bool only; integer arithmetic wraps. `Min`/`Max` ignore a NaN operand (see `math::max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BinaryFn {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    Pow,
    And,
    Or,
    Xor,
}

/// Comparisons; f32 comparisons are ordered (false on NaN) except `Ne`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CmpFn {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// The combining function of a reduction over f32. `Max`/`Min` ignore NaN elements and, of equal elements
/// (+0 and -0), keep the earlier one in each partial (`math::reduce_max`: one `maxps` per step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReduceFn {
    Sum,
    Prod,
    Max,
    Min,
}

/// What a bounds check does with an index outside `[0, len)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BoundsMode {
    /// Clamp into `[0, len - 1]`.
    Clamp,
    /// Stop the kernel and report `KernelError::IndexOutOfRange` (outputs are then unspecified).
    Trap,
}

/// One instruction. Instructions that yield a value are referred to by their index. Loops and reductions
/// bracket a body that ends at the matching `End`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Inst {
    /// `for var in 0..extent { body }`; yields the loop variable (`I64`) inside the body.
    Loop {
        extent: u64,
    },
    /// A reduction over `0..extent` of the f32 value named by the matching `End`; yields the reduction
    /// variable (`I64`) inside the body. The body has no loops or copies (nested reductions are allowed); it may
    /// store, so that one pass can write elements and sum them (softmax's exponentials). The order is fixed:
    /// element `j` goes into partial `j % PARTIALS` (each starting at the identity of `op`), and the result is
    /// `combine`d from the partials. This is what three 4-lane SIMD accumulators compute, so native code agrees
    /// bit for bit.
    Reduce {
        op: ReduceFn,
        extent: u64,
    },
    /// Closes the innermost open `Loop` (value `None`) or `Reduce` (value: the element reduced); a reduction's
    /// `End` yields the reduced value.
    End {
        value: Option<ValueId>,
    },
    Const(Const),
    /// Element `index` of `buf`, widened to `buf.dtype.value_type()`.
    Load {
        buf: BufId,
        index: ValueId,
    },
    /// Writes `value` (narrowed to the buffer's dtype) to element `index` of an output buffer.
    Store {
        buf: BufId,
        index: ValueId,
        value: ValueId,
    },
    /// Copies one element's bytes unchanged between buffers of the same dtype.
    Copy {
        dst: BufId,
        dst_index: ValueId,
        src: BufId,
        src_index: ValueId,
    },
    Unary {
        op: UnaryFn,
        x: ValueId,
    },
    Binary {
        op: BinaryFn,
        a: ValueId,
        b: ValueId,
    },
    /// Yields `Bool`.
    Compare {
        op: CmpFn,
        a: ValueId,
        b: ValueId,
    },
    Select {
        cond: ValueId,
        then: ValueId,
        otherwise: ValueId,
    },
    /// Conversions: f32 to integer truncates and saturates (NaN gives 0); integer to f32 rounds to nearest
    /// even; i64 to i32 wraps; bool gives 0/1; anything to bool is `!= 0` (NaN is true).
    Cast {
        to: ScalarType,
        x: ValueId,
    },
    /// The explicit bounds check every data-dependent index goes through: yields an `I64` in `[0, len)`.
    CheckIndex {
        index: ValueId,
        len: u64,
        mode: BoundsMode,
    },
}

/// A host kernel: buffers and instructions. Arguments are the `Input`/`Output` buffers in declaration order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Kernel {
    pub name: String,
    pub buffers: Vec<Buffer>,
    pub insts: Vec<Inst>,
}

impl Kernel {
    /// The argument buffers (everything but constants), in the order callers pass them.
    pub fn args(&self) -> impl Iterator<Item = (BufId, &Buffer)> {
        self.buffers
            .iter()
            .enumerate()
            .filter(|(_, b)| !matches!(b.kind, BufKind::Const(_)))
            .map(|(i, b)| (BufId(i as u32), b))
    }
}

impl DType {
    /// The type a buffer element of this dtype has once loaded, for the dtypes the kernel IR takes (the
    /// host-only f16, f64, i16 and unsigned 16/32/64-bit types stay in operator form: `from_op` refuses them
    /// and the verifier rejects a kernel holding one).
    pub fn value_type_checked(self) -> Option<ScalarType> {
        Some(match self {
            DType::F32 | DType::BF16 => ScalarType::F32,
            DType::I8 | DType::U8 | DType::I32 => ScalarType::I32,
            DType::I64 => ScalarType::I64,
            DType::Bool => ScalarType::Bool,
            DType::F16 | DType::F64 | DType::I16 | DType::U16 | DType::U32 | DType::U64 => return None,
        })
    }

    /// `value_type_checked` for a dtype already known to be a kernel dtype (a verified kernel's buffer, or a
    /// type `from_op` admitted); the others map to I64 so that this stays total.
    pub fn value_type(self) -> ScalarType {
        self.value_type_checked().unwrap_or(ScalarType::I64)
    }
}

/// Why a kernel could not be built, verified or run.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum KernelError {
    #[error("kernel {kernel}: instruction {at}: {why}")]
    Invalid { kernel: String, at: usize, why: String },
    #[error("kernel {kernel}: buffer {buf}: {why}")]
    Buffer { kernel: String, buf: usize, why: String },
    #[error("kernel {kernel}: index {index} out of range [0, {len}) at instruction {at}")]
    IndexOutOfRange { kernel: String, at: usize, index: i64, len: u64 },
    #[error("kernel {kernel}: {why}")]
    Args { kernel: String, why: String },
    #[error("no host kernel for {op}: {why}")]
    Unsupported { op: String, why: String },
    #[error("cannot fuse {a} into {b}: {why}")]
    Fuse { a: String, b: String, why: String },
    #[error(transparent)]
    Op(#[from] crate::OpError),
}
