//! Scalar code for one instruction: constants, loads and stores with the dtype conversions of the IR, the
//! elementwise operations, casts and bounds checks (a trapping check branches to a block that returns
//! `1 + instruction index`). Types: f32 as `f32`, i32/i64 as themselves, bool as `i8` 0/1.
use super::math::{cast_flags, flags, float_cc, int_cc, ClifMath};
use super::Translator;
use crate::host::HostError;
use accel_ops::kernel::math as kmath;
use accel_ops::kernel::{BinaryFn, BoundsMode, BufId, Const, Inst, ScalarType, UnaryFn};
use accel_ops::DType;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, Signature, Type, Value};

/// The IR's `Pow`: called from native code, the same function the interpreter uses.
extern "C" fn pow_f32(a: f32, b: f32) -> f32 {
    accel_ops::kernel::pow(a, b)
}

pub fn clif_type(t: ScalarType) -> Type {
    match t {
        ScalarType::F32 => types::F32,
        ScalarType::I32 => types::I32,
        ScalarType::I64 => types::I64,
        ScalarType::Bool => types::I8,
    }
}

impl Translator<'_, '_> {
    /// The address of element `index` (i64) of `buf`.
    pub(super) fn addr(&mut self, buf: BufId, index: Value) -> Result<Value, HostError> {
        let dtype = self.dtype(buf)?;
        let base = *self.bases.get(buf.index()).ok_or_else(|| HostError::internal("buffer"))?;
        let off = self.b.ins().ishl_imm_s(index, dtype.size().trailing_zeros() as i64);
        Ok(self.b.ins().iadd(base, off))
    }

    pub(super) fn dtype(&self, buf: BufId) -> Result<DType, HostError> {
        self.vk.kernel().buffers.get(buf.index()).map(|b| b.dtype).ok_or_else(|| HostError::internal("buffer"))
    }

    /// Loads one element, widened to its value type.
    pub(super) fn load_elem(&mut self, dtype: DType, addr: Value) -> Value {
        let f = flags();
        let ins = self.b.ins();
        match dtype {
            DType::F32 => ins.load(types::F32, f, addr, 0),
            DType::BF16 => {
                let bits = ins.uload16(types::I32, f, addr, 0);
                let bits = self.b.ins().ishl_imm_s(bits, 16);
                self.b.ins().bitcast(types::F32, cast_flags(), bits)
            }
            DType::I8 => ins.sload8(types::I32, f, addr, 0),
            DType::U8 => ins.uload8(types::I32, f, addr, 0),
            DType::I32 => ins.load(types::I32, f, addr, 0),
            DType::I64 => ins.load(types::I64, f, addr, 0),
            DType::Bool => {
                let byte = ins.load(types::I8, f, addr, 0);
                self.b.ins().icmp_imm_s(IntCC::NotEqual, byte, 0)
            }
            // Unreachable: the kernel verifier rejects buffers of the host-only dtypes before codegen.
            DType::F16 | DType::F64 | DType::I16 | DType::U16 | DType::U32 | DType::U64 => ins.iconst(types::I64, 0),
        }
    }

    /// Stores one value, narrowed to `dtype` (bf16 rounds to nearest even).
    pub(super) fn store_elem(&mut self, dtype: DType, addr: Value, v: Value) {
        let f = flags();
        match dtype {
            DType::F32 | DType::I32 | DType::I64 | DType::Bool => {
                self.b.ins().store(f, v, addr, 0);
            }
            DType::BF16 => {
                let r = kmath::round_bf16(&mut ClifMath { b: &mut self.b, vector: false }, v);
                let bits = self.b.ins().bitcast(types::I32, cast_flags(), r);
                let hi = self.b.ins().ushr_imm_u(bits, 16);
                self.b.ins().istore16(f, hi, addr, 0);
            }
            DType::I8 | DType::U8 => {
                self.b.ins().istore8(f, v, addr, 0);
            }
            // Unreachable: the kernel verifier rejects buffers of the host-only dtypes before codegen.
            DType::F16 | DType::F64 | DType::I16 | DType::U16 | DType::U32 | DType::U64 => {}
        }
    }

    /// The integer type that moves one element's bytes.
    pub(super) fn raw_type(dtype: DType) -> Type {
        match dtype.size() {
            1 => types::I8,
            2 => types::I16,
            4 => types::I32,
            _ => types::I64,
        }
    }

    /// Emits instruction `at` on scalars.
    pub(super) fn scalar(&mut self, at: usize) -> Result<(), HostError> {
        let vk = self.vk;
        let inst = &vk.kernel().insts[at];
        let ty = |v: accel_ops::kernel::ValueId| vk.value_type(v).ok_or_else(|| HostError::internal("type"));
        let v = match inst {
            Inst::Loop { .. } | Inst::Reduce { .. } | Inst::End { .. } => {
                return Err(HostError::internal("structure in scalar code"));
            }
            Inst::Const(c) => Some(match *c {
                Const::F32(bits) => self.b.ins().f32const(f32::from_bits(bits)),
                Const::I32(x) => self.b.ins().iconst(types::I32, i64::from(x)),
                Const::I64(x) => self.b.ins().iconst(types::I64, x),
                Const::Bool(x) => self.b.ins().iconst(types::I8, i64::from(x)),
            }),
            Inst::Load { buf, index } => {
                let i = self.val(*index)?;
                let a = self.addr(*buf, i)?;
                Some(self.load_elem(self.dtype(*buf)?, a))
            }
            Inst::Store { buf, index, value } => {
                let (i, x) = (self.val(*index)?, self.val(*value)?);
                let a = self.addr(*buf, i)?;
                self.store_elem(self.dtype(*buf)?, a, x);
                None
            }
            Inst::Copy { dst, dst_index, src, src_index } => {
                let (di, si) = (self.val(*dst_index)?, self.val(*src_index)?);
                let (da, sa) = (self.addr(*dst, di)?, self.addr(*src, si)?);
                let raw = Self::raw_type(self.dtype(*src)?);
                let x = self.b.ins().load(raw, flags(), sa, 0);
                self.b.ins().store(flags(), x, da, 0);
                None
            }
            Inst::Unary { op, x } => {
                let (t, x) = (ty(*x)?, self.val(*x)?);
                Some(self.unary(*op, t, x, false)?)
            }
            Inst::Binary { op, a, b } => {
                let (t, a, b) = (ty(*a)?, self.val(*a)?, self.val(*b)?);
                Some(self.binary(*op, t, a, b, false)?)
            }
            Inst::Compare { op, a, b } => {
                let (t, a, b) = (ty(*a)?, self.val(*a)?, self.val(*b)?);
                Some(match t {
                    ScalarType::F32 => self.b.ins().fcmp(float_cc(*op), a, b),
                    _ => self.b.ins().icmp(int_cc(*op), a, b),
                })
            }
            Inst::Select { cond, then, otherwise } => {
                let (c, a, b) = (self.val(*cond)?, self.val(*then)?, self.val(*otherwise)?);
                Some(self.b.ins().select(c, a, b))
            }
            Inst::Cast { to, x } => {
                let (from, x) = (ty(*x)?, self.val(*x)?);
                Some(self.cast(from, *to, x))
            }
            Inst::CheckIndex { index, len, mode } => {
                let i = self.val(*index)?;
                let len = i64::try_from(*len).map_err(|_| HostError::internal("length"))?;
                Some(match mode {
                    BoundsMode::Clamp => {
                        let lo = self.b.ins().iconst(types::I64, 0);
                        let hi = self.b.ins().iconst(types::I64, len - 1);
                        let t = self.b.ins().smax(i, lo);
                        self.b.ins().smin(t, hi)
                    }
                    BoundsMode::Trap => {
                        // Unsigned comparison: a negative index is a huge one.
                        let ok = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, i, len);
                        let cont = self.b.create_block();
                        let trap = self.b.create_block();
                        self.b.set_cold_block(trap);
                        self.b.ins().brif(ok, cont, &[], trap, &[]);
                        self.b.switch_to_block(trap);
                        let code = i64::try_from(at + 1).map_err(|_| HostError::internal("index"))?;
                        let code = self.b.ins().iconst(types::I32, code);
                        self.b.ins().return_(&[code]);
                        self.b.switch_to_block(cont);
                        i
                    }
                })
            }
        };
        self.vals[at] = v;
        Ok(())
    }

    /// A unary function on a scalar or vector of type `t`.
    pub(super) fn unary(&mut self, op: UnaryFn, t: ScalarType, x: Value, vector: bool) -> Result<Value, HostError> {
        let mut m = ClifMath { b: &mut self.b, vector };
        let ins = m.b.ins();
        Ok(match (op, t) {
            (UnaryFn::Neg, ScalarType::F32) => ins.fneg(x),
            (UnaryFn::Abs, ScalarType::F32) => ins.fabs(x),
            (UnaryFn::Neg, _) => ins.ineg(x),
            (UnaryFn::Abs, _) => ins.iabs(x),
            (UnaryFn::Not, _) if vector => ins.bnot(x),
            (UnaryFn::Not, _) => ins.bxor_imm_s(x, 1),
            (UnaryFn::Sqrt, _) => ins.sqrt(x),
            (UnaryFn::Floor, _) => ins.floor(x),
            (UnaryFn::Ceil, _) => ins.ceil(x),
            (UnaryFn::Trunc, _) => ins.trunc(x),
            (UnaryFn::RoundEven, _) => ins.nearest(x),
            (UnaryFn::Exp, _) => kmath::exp(&mut m, x),
            (UnaryFn::Log, _) => kmath::log(&mut m, x),
            (UnaryFn::Tanh, _) => kmath::tanh(&mut m, x),
            (UnaryFn::Erf, _) => kmath::erf(&mut m, x),
            (UnaryFn::Sigmoid, _) => kmath::sigmoid(&mut m, x),
            (UnaryFn::RoundBf16, _) => kmath::round_bf16(&mut m, x),
        })
    }

    /// A binary function on scalars or vectors of type `t` (`Pow` only on scalars).
    pub(super) fn binary(
        &mut self,
        op: BinaryFn,
        t: ScalarType,
        a: Value,
        b: Value,
        vector: bool,
    ) -> Result<Value, HostError> {
        let mut m = ClifMath { b: &mut self.b, vector };
        Ok(match (op, t) {
            (BinaryFn::Add, ScalarType::F32) => m.b.ins().fadd(a, b),
            (BinaryFn::Sub, ScalarType::F32) => m.b.ins().fsub(a, b),
            (BinaryFn::Mul, ScalarType::F32) => m.b.ins().fmul(a, b),
            (BinaryFn::Div, _) => m.b.ins().fdiv(a, b),
            (BinaryFn::Min, ScalarType::F32) => kmath::min(&mut m, a, b),
            (BinaryFn::Max, ScalarType::F32) => kmath::max(&mut m, a, b),
            (BinaryFn::Add, _) => m.b.ins().iadd(a, b),
            (BinaryFn::Sub, _) => m.b.ins().isub(a, b),
            (BinaryFn::Mul, _) => m.b.ins().imul(a, b),
            (BinaryFn::Min, _) => m.b.ins().smin(a, b),
            (BinaryFn::Max, _) => m.b.ins().smax(a, b),
            (BinaryFn::And, _) => m.b.ins().band(a, b),
            (BinaryFn::Or, _) => m.b.ins().bor(a, b),
            (BinaryFn::Xor, _) => m.b.ins().bxor(a, b),
            (BinaryFn::Pow, _) if vector => return Err(HostError::internal("pow on vectors")),
            (BinaryFn::Pow, _) => {
                let mut sig = Signature::new(self.call_conv);
                sig.params.extend([AbiParam::new(types::F32), AbiParam::new(types::F32)]);
                sig.returns.push(AbiParam::new(types::F32));
                let sig = self.b.import_signature(sig);
                let f = self.b.ins().iconst(self.ptr, pow_f32 as extern "C" fn(f32, f32) -> f32 as usize as i64);
                let call = self.b.ins().call_indirect(sig, f, &[a, b]);
                self.b.inst_results(call)[0]
            }
        })
    }

    /// A scalar conversion, with the IR's semantics.
    pub(super) fn cast(&mut self, from: ScalarType, to: ScalarType, x: Value) -> Value {
        use ScalarType::*;
        let ins = self.b.ins();
        match (from, to) {
            (a, b) if a == b => x,
            (F32, I32 | I64) => ins.fcvt_to_sint_sat(clif_type(to), x),
            (I32 | I64, F32) => ins.fcvt_from_sint(types::F32, x),
            (I32, I64) => ins.sextend(types::I64, x),
            (I64, I32) => ins.ireduce(types::I32, x),
            (Bool, F32) => {
                let i = ins.uextend(types::I32, x);
                self.b.ins().fcvt_from_sint(types::F32, i)
            }
            (Bool, _) => ins.uextend(clif_type(to), x),
            (F32, Bool) => {
                let z = ins.f32const(0.0);
                self.b.ins().fcmp(FloatCC::NotEqual, x, z)
            }
            (_, Bool) => ins.icmp_imm_s(IntCC::NotEqual, x, 0),
            _ => x,
        }
    }
}
