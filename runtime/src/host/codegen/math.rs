//! `FloatOps` for Cranelift: the kernel IR's math functions (`accel_ops::kernel::math`) emitted as the same
//! operation sequence the interpreter runs, on `f32` scalars or on `f32x4` vectors (masks are `i32x4` lanes of
//! all ones or zeros, scalar masks are `i8` 0/1).
use accel_ops::kernel::math::FloatOps;
use accel_ops::kernel::CmpFn;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::Endianness;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};
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
        let s = self.b.ins().f32const(c);
        if self.vector {
            self.b.ins().splat(types::F32X4, s)
        } else {
            s
        }
    }
    fn iconst(&mut self, c: i32) -> Value {
        let s = self.b.ins().iconst(types::I32, i64::from(c));
        if self.vector {
            self.b.ins().splat(types::I32X4, s)
        } else {
            s
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
    fn fneg(&mut self, a: Value) -> Value {
        self.b.ins().fneg(a)
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
    fn mask_or(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().bor(a, b)
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
