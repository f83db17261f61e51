//! `Builder`: appends instructions to a kernel and hands back the `ValueId`s they yield, with helpers for
//! index arithmetic. It checks nothing: `verify` is the one place that decides whether a kernel is valid.
use super::{
    BinaryFn, BoundsMode, BufId, BufKind, Buffer, CmpFn, Const, Inst, Kernel, ReduceFn, ScalarType, UnaryFn, ValueId,
};
use crate::DType;

/// Builds a `Kernel` instruction by instruction.
#[derive(Debug, Clone)]
pub struct Builder {
    kernel: Kernel,
}

impl Builder {
    pub fn new(name: impl Into<String>) -> Self {
        Builder { kernel: Kernel { name: name.into(), buffers: Vec::new(), insts: Vec::new() } }
    }

    pub fn finish(self) -> Kernel {
        self.kernel
    }

    fn buffer(&mut self, dtype: DType, len: u64, kind: BufKind) -> BufId {
        self.kernel.buffers.push(Buffer { dtype, len, kind });
        BufId(self.kernel.buffers.len() as u32 - 1)
    }

    pub fn input(&mut self, dtype: DType, len: usize) -> BufId {
        self.buffer(dtype, len as u64, BufKind::Input)
    }

    pub fn output(&mut self, dtype: DType, len: usize) -> BufId {
        self.buffer(dtype, len as u64, BufKind::Output)
    }

    /// A constant table of i64 values.
    pub fn table_i64(&mut self, values: &[i64]) -> BufId {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.buffer(DType::I64, values.len() as u64, BufKind::Const(bytes))
    }

    /// A constant table of f32 values.
    pub fn table_f32(&mut self, values: &[f32]) -> BufId {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.buffer(DType::F32, values.len() as u64, BufKind::Const(bytes))
    }

    pub fn push(&mut self, inst: Inst) -> ValueId {
        self.kernel.insts.push(inst);
        ValueId(self.kernel.insts.len() as u32 - 1)
    }

    /// Opens `for var in 0..extent` and returns `var`.
    pub fn loop_(&mut self, extent: usize) -> ValueId {
        self.push(Inst::Loop { extent: extent as u64 })
    }

    /// Closes the innermost loop.
    pub fn end(&mut self) {
        self.push(Inst::End { value: None });
    }

    /// Opens a reduction over `0..extent` and returns its variable.
    pub fn reduce(&mut self, op: ReduceFn, extent: usize) -> ValueId {
        self.push(Inst::Reduce { op, extent: extent as u64 })
    }

    /// Closes the innermost reduction, reducing `value`; returns the result.
    pub fn end_reduce(&mut self, value: ValueId) -> ValueId {
        self.push(Inst::End { value: Some(value) })
    }

    pub fn f32(&mut self, x: f32) -> ValueId {
        self.push(Inst::Const(Const::f32(x)))
    }

    pub fn i64(&mut self, x: i64) -> ValueId {
        self.push(Inst::Const(Const::I64(x)))
    }

    pub fn i32(&mut self, x: i32) -> ValueId {
        self.push(Inst::Const(Const::I32(x)))
    }

    pub fn bool(&mut self, x: bool) -> ValueId {
        self.push(Inst::Const(Const::Bool(x)))
    }

    pub fn load(&mut self, buf: BufId, index: ValueId) -> ValueId {
        self.push(Inst::Load { buf, index })
    }

    pub fn store(&mut self, buf: BufId, index: ValueId, value: ValueId) {
        self.push(Inst::Store { buf, index, value });
    }

    pub fn copy(&mut self, dst: BufId, dst_index: ValueId, src: BufId, src_index: ValueId) {
        self.push(Inst::Copy { dst, dst_index, src, src_index });
    }

    pub fn un(&mut self, op: UnaryFn, x: ValueId) -> ValueId {
        self.push(Inst::Unary { op, x })
    }

    pub fn bin(&mut self, op: BinaryFn, a: ValueId, b: ValueId) -> ValueId {
        self.push(Inst::Binary { op, a, b })
    }

    pub fn add(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.bin(BinaryFn::Add, a, b)
    }

    pub fn sub(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.bin(BinaryFn::Sub, a, b)
    }

    pub fn mul(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.bin(BinaryFn::Mul, a, b)
    }

    pub fn div(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.bin(BinaryFn::Div, a, b)
    }

    pub fn min(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.bin(BinaryFn::Min, a, b)
    }

    pub fn max(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.bin(BinaryFn::Max, a, b)
    }

    pub fn cmp(&mut self, op: CmpFn, a: ValueId, b: ValueId) -> ValueId {
        self.push(Inst::Compare { op, a, b })
    }

    pub fn select(&mut self, cond: ValueId, then: ValueId, otherwise: ValueId) -> ValueId {
        self.push(Inst::Select { cond, then, otherwise })
    }

    pub fn cast(&mut self, to: ScalarType, x: ValueId) -> ValueId {
        self.push(Inst::Cast { to, x })
    }

    pub fn check_index(&mut self, index: ValueId, len: usize, mode: BoundsMode) -> ValueId {
        self.push(Inst::CheckIndex { index, len: len as u64, mode })
    }

    /// `sum(coef * var) + offset` as i64 arithmetic, skipping zero coefficients.
    pub fn affine(&mut self, terms: &[(ValueId, i64)], offset: i64) -> ValueId {
        let mut acc: Option<ValueId> = None;
        for &(v, c) in terms {
            if c == 0 {
                continue;
            }
            let term = if c == 1 {
                v
            } else {
                let k = self.i64(c);
                self.mul(v, k)
            };
            acc = Some(match acc {
                None => term,
                Some(a) => self.add(a, term),
            });
        }
        match (acc, offset) {
            (None, o) => self.i64(o),
            (Some(a), 0) => a,
            (Some(a), o) => {
                let k = self.i64(o);
                self.add(a, k)
            }
        }
    }

    /// `min(max(x, lo), hi)` on i64.
    pub fn clamp_i64(&mut self, x: ValueId, lo: i64, hi: i64) -> ValueId {
        let l = self.i64(lo);
        let h = self.i64(hi);
        let x = self.max(x, l);
        self.min(x, h)
    }

    /// `min(max(x, lo), hi)` on f32.
    pub fn clamp_f32(&mut self, x: ValueId, lo: f32, hi: f32) -> ValueId {
        let l = self.f32(lo);
        let h = self.f32(hi);
        let x = self.max(x, l);
        self.min(x, h)
    }
}
