//! `FloatOps` for Cranelift: the kernel IR's math functions (`accel_ops::kernel::math`) emitted as the same
//! operation sequence the interpreter runs, on `f32` scalars or on `f32x4` vectors (masks are `i32x4` lanes of
//! all ones or zeros, scalar masks are `i8` 0/1).
use accel_ops::kernel::math::FloatOps;
use accel_ops::kernel::CmpFn;
use cranelift_codegen::entity::packed_option::ReservedValue;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::Endianness;
use cranelift_codegen::ir::{types, ConstantData, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;

/// Flags for memory accesses: little-endian, never trapping (the verifier proved the bounds).
pub fn flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap().with_endianness(Endianness::Little)
}

/// Flags for bitcasts (which take only an endianness).
pub fn cast_flags() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

pub fn float_cc(op: CmpFn) -> FloatCC {
    match op {
        CmpFn::Eq => FloatCC::Equal,
        CmpFn::Ne => FloatCC::NotEqual,
        CmpFn::Lt => FloatCC::LessThan,
        CmpFn::Le => FloatCC::LessThanOrEqual,
        CmpFn::Gt => FloatCC::GreaterThan,
        CmpFn::Ge => FloatCC::GreaterThanOrEqual,
    }
}

pub fn int_cc(op: CmpFn) -> IntCC {
    match op {
        CmpFn::Eq => IntCC::Equal,
        CmpFn::Ne => IntCC::NotEqual,
        CmpFn::Lt => IntCC::SignedLessThan,
        CmpFn::Le => IntCC::SignedLessThanOrEqual,
        CmpFn::Gt => IntCC::SignedGreaterThan,
        CmpFn::Ge => IntCC::SignedGreaterThanOrEqual,
    }
}

/// Emits math on scalars (`vector == false`) or 4-lane vectors.
pub struct ClifMath<'s, 'a> {
    pub b: &'s mut FunctionBuilder<'a>,
    pub vector: bool,
}

impl ClifMath<'_, '_> {
    fn fty(&self) -> Type {
        if self.vector {
            types::F32X4
        } else {
            types::F32
        }
    }
    /// A vector constant with `bits` in every lane: one load from the constant pool (an integer `splat` is a
    /// move, a transfer and a broadcast when the mid-end optimizer is off).
    fn splat_const(&mut self, ty: Type, bits: u32) -> Value {
        let bytes: Vec<u8> = (0..4).flat_map(|_| bits.to_le_bytes()).collect();
        let handle = self.b.func.dfg.constants.insert(ConstantData::from(bytes));
        self.b.ins().vconst(ty, handle)
    }
    fn ity(&self) -> Type {
        if self.vector {
            types::I32X4
        } else {
            types::I32
        }
    }
}

impl FloatOps for ClifMath<'_, '_> {
    type F = Value;
    type I = Value;
    type M = Value;
    fn fconst(&mut self, c: f32) -> Value {
        if self.vector {
            self.splat_const(types::F32X4, c.to_bits())
        } else {
            self.b.ins().f32const(c)
        }
    }
    fn iconst(&mut self, c: i32) -> Value {
        if self.vector {
            self.splat_const(types::I32X4, c as u32)
        } else {
            self.b.ins().iconst(types::I32, i64::from(c))
        }
    }
    fn fadd(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fadd(a, b)
    }
    fn fsub(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fsub(a, b)
    }
    fn fmul(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fmul(a, b)
    }
    fn fdiv(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fdiv(a, b)
    }
    fn fma(&mut self, a: Value, b: Value, c: Value) -> Value {
        // One `vfmadd` with the host's FMA (`cranelift_native` enables it when detected), else a libcall per
        // lane: either way a single rounding, as `f32::mul_add`.
        self.b.ins().fma(a, b, c)
    }
    fn fneg(&mut self, a: Value) -> Value {
        if self.vector {
            // Flips the sign bits, as `fneg` does, with the mask from the constant pool (x86 has no vector
            // negation; without the mid-end optimizer the mask would be rebuilt at every use).
            let sign = self.splat_const(types::F32X4, 0x8000_0000);
            self.b.ins().bxor(a, sign)
        } else {
            self.b.ins().fneg(a)
        }
    }
    fn fabs(&mut self, a: Value) -> Value {
        self.b.ins().fabs(a)
    }
    fn floor(&mut self, a: Value) -> Value {
        self.b.ins().floor(a)
    }
    fn round_even(&mut self, a: Value) -> Value {
        self.b.ins().nearest(a)
    }
    fn fcmp(&mut self, op: CmpFn, a: Value, b: Value) -> Value {
        self.b.ins().fcmp(float_cc(op), a, b)
    }
    fn is_nan(&mut self, a: Value) -> Value {
        self.b.ins().fcmp(FloatCC::Unordered, a, a)
    }
    fn fselect(&mut self, m: Value, a: Value, b: Value) -> Value {
        if self.vector {
            let m = self.b.ins().bitcast(types::F32X4, cast_flags(), m);
            self.b.ins().bitselect(m, a, b)
        } else {
            self.b.ins().select(m, a, b)
        }
    }
    fn iselect(&mut self, m: Value, a: Value, b: Value) -> Value {
        if self.vector {
            self.b.ins().bitselect(m, a, b)
        } else {
            self.b.ins().select(m, a, b)
        }
    }
    fn to_bits(&mut self, a: Value) -> Value {
        let t = self.ity();
        self.b.ins().bitcast(t, cast_flags(), a)
    }
    fn bits_to_float(&mut self, a: Value) -> Value {
        let t = self.fty();
        self.b.ins().bitcast(t, cast_flags(), a)
    }
    fn to_int(&mut self, a: Value) -> Value {
        let t = self.ity();
        self.b.ins().fcvt_to_sint_sat(t, a)
    }
    fn to_float(&mut self, a: Value) -> Value {
        let t = self.fty();
        self.b.ins().fcvt_from_sint(t, a)
    }
    fn iadd(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().iadd(a, b)
    }
    fn iand(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().band(a, b)
    }
    fn ior(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().bor(a, b)
    }
    fn ishl(&mut self, a: Value, by: u8) -> Value {
        self.b.ins().ishl_imm_s(a, i64::from(by))
    }
    fn ushr(&mut self, a: Value, by: u8) -> Value {
        self.b.ins().ushr_imm_u(a, i64::from(by))
    }
}

/// The most vectors `WideMath` handles at once (the vector loop's unroll factor).
pub const MAX_WIDE: usize = 6;

/// `n` independent values (scalars or vectors of one type) that `WideMath` processes in lockstep.
#[derive(Clone, Copy)]
pub struct Wide {
    v: [Value; MAX_WIDE],
    n: usize,
}

impl Wide {
    /// Packs up to `MAX_WIDE` values.
    pub fn new(vs: &[Value]) -> Wide {
        let mut v = [Value::reserved_value(); MAX_WIDE];
        v[..vs.len()].copy_from_slice(vs);
        Wide { v, n: vs.len() }
    }
    pub fn values(&self) -> &[Value] {
        &self.v[..self.n]
    }
    fn map(self, mut f: impl FnMut(Value) -> Value) -> Wide {
        let mut out = self;
        for x in &mut out.v[..self.n] {
            *x = f(*x);
        }
        out
    }
    fn zip(self, o: Wide, mut f: impl FnMut(Value, Value) -> Value) -> Wide {
        let mut out = self;
        for (x, &y) in out.v[..self.n].iter_mut().zip(&o.v[..o.n]) {
            *x = f(*x, y);
        }
        out
    }
    fn zip3(self, a: Wide, b: Wide, mut f: impl FnMut(Value, Value, Value) -> Value) -> Wide {
        let mut out = self;
        for i in 0..self.n {
            out.v[i] = f(self.v[i], a.v[i], b.v[i]);
        }
        out
    }
}

/// `FloatOps` on several independent values at once, emitting each operation for all of them side by side:
/// the operation sequence per value is exactly `ClifMath`'s, but the independent dependency chains are
/// interleaved, so the CPU can overlap them (one `exp` alone is a chain of ~12 dependent operations).
pub struct WideMath<'s, 'a> {
    pub m: ClifMath<'s, 'a>,
    pub n: usize,
}

impl FloatOps for WideMath<'_, '_> {
    type F = Wide;
    type I = Wide;
    type M = Wide;
    fn fconst(&mut self, c: f32) -> Wide {
        let x = self.m.fconst(c);
        Wide::new(&[x; MAX_WIDE][..self.n])
    }
    fn iconst(&mut self, c: i32) -> Wide {
        let x = self.m.iconst(c);
        Wide::new(&[x; MAX_WIDE][..self.n])
    }
    fn fadd(&mut self, a: Wide, b: Wide) -> Wide {
        a.zip(b, |a, b| self.m.fadd(a, b))
    }
    fn fsub(&mut self, a: Wide, b: Wide) -> Wide {
        a.zip(b, |a, b| self.m.fsub(a, b))
    }
    fn fmul(&mut self, a: Wide, b: Wide) -> Wide {
        a.zip(b, |a, b| self.m.fmul(a, b))
    }
    fn fdiv(&mut self, a: Wide, b: Wide) -> Wide {
        a.zip(b, |a, b| self.m.fdiv(a, b))
    }
    fn fma(&mut self, a: Wide, b: Wide, c: Wide) -> Wide {
        a.zip3(b, c, |a, b, c| self.m.fma(a, b, c))
    }
    fn fneg(&mut self, a: Wide) -> Wide {
        a.map(|a| self.m.fneg(a))
    }
    fn fabs(&mut self, a: Wide) -> Wide {
        a.map(|a| self.m.fabs(a))
    }
    fn floor(&mut self, a: Wide) -> Wide {
        a.map(|a| self.m.floor(a))
    }
    fn round_even(&mut self, a: Wide) -> Wide {
        a.map(|a| self.m.round_even(a))
    }
    fn fcmp(&mut self, op: CmpFn, a: Wide, b: Wide) -> Wide {
        a.zip(b, |a, b| self.m.fcmp(op, a, b))
    }
    fn is_nan(&mut self, a: Wide) -> Wide {
        a.map(|a| self.m.is_nan(a))
    }
    fn fselect(&mut self, m: Wide, a: Wide, b: Wide) -> Wide {
        m.zip3(a, b, |m, a, b| self.m.fselect(m, a, b))
    }
    fn iselect(&mut self, m: Wide, a: Wide, b: Wide) -> Wide {
        m.zip3(a, b, |m, a, b| self.m.iselect(m, a, b))
    }
    fn to_bits(&mut self, a: Wide) -> Wide {
        a.map(|a| self.m.to_bits(a))
    }
    fn bits_to_float(&mut self, a: Wide) -> Wide {
        a.map(|a| self.m.bits_to_float(a))
    }
    fn to_int(&mut self, a: Wide) -> Wide {
        a.map(|a| self.m.to_int(a))
    }
    fn to_float(&mut self, a: Wide) -> Wide {
        a.map(|a| self.m.to_float(a))
    }
    fn iadd(&mut self, a: Wide, b: Wide) -> Wide {
        a.zip(b, |a, b| self.m.iadd(a, b))
    }
    fn iand(&mut self, a: Wide, b: Wide) -> Wide {
        a.zip(b, |a, b| self.m.iand(a, b))
    }
    fn ior(&mut self, a: Wide, b: Wide) -> Wide {
        a.zip(b, |a, b| self.m.ior(a, b))
    }
    fn ishl(&mut self, a: Wide, by: u8) -> Wide {
        a.map(|a| self.m.ishl(a, by))
    }
    fn ushr(&mut self, a: Wide, by: u8) -> Wide {
        a.map(|a| self.m.ushr(a, by))
    }
}
