//! Vectorization of an innermost region: `plan` classifies every value as uniform (the same in the 4 lanes,
//! computed once as a scalar), affine in the loop variable (an i64 index: lane 0 as a scalar plus a constant
//! stride) or a vector (f32x4 / i32x4 / i32x4 masks), and refuses what has no 4-lane form (i64 data, `Pow`,
//! data-dependent addresses, narrow or strided stores, a buffer both written and accessed at another index).
//! `vector_inst` emits the vector instructions; uniform and affine ones go through the scalar emitter.
use super::math::{cast_flags, flags, float_cc, int_cc};
use super::Translator;
use crate::host::HostError;
use accel_ops::kernel::{BinaryFn, BufId, Const, Inst, ScalarType, UnaryFn, ValueId, VerifiedKernel};
use accel_ops::DType;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, ConstantData, InstBuilder, Type, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Uniform,
    /// Lane k holds lane 0's value + k * stride.
    Affine(i64),
    Vector,
}

/// How every value of a region `opener..end` is computed (indexed by `at - opener`).
pub struct Plan {
    lanes: Vec<Lane>,
}

impl Plan {
    pub fn lane(&self, opener: usize, v: ValueId) -> Lane {
        match v.index().checked_sub(opener) {
            None => Lane::Uniform,
            Some(i) => self.lanes.get(i).copied().unwrap_or(Lane::Uniform),
        }
    }
    pub fn is_uniform(&self, opener: usize, at: usize) -> bool {
        self.lanes.get(at - opener) == Some(&Lane::Uniform)
    }
    pub fn is_vector(&self, opener: usize, at: usize) -> bool {
        self.lanes.get(at - opener) == Some(&Lane::Vector)
    }
}

fn affine(c: i64) -> Lane {
    if c == 0 {
        Lane::Uniform
    } else {
        Lane::Affine(c)
    }
}

/// The vector plan of the innermost region `opener..end`, or `None` if it must stay scalar.
pub fn plan(vk: &VerifiedKernel, opener: usize, end: usize) -> Option<Plan> {
    use Lane::*;
    let k = vk.kernel();
    let mut lanes = vec![Uniform; end - opener];
    lanes[0] = Affine(1);
    let mut accesses: Vec<(BufId, ValueId, bool)> = Vec::new();
    for at in opener + 1..end {
        let lane = |v: ValueId| match v.index().checked_sub(opener) {
            None => Uniform,
            Some(i) => lanes[i],
        };
        let ty = |v: ValueId| vk.value_type(v);
        let dtype = |b: BufId| k.buffers.get(b.index()).map(|b| b.dtype);
        let coef = |l: Lane| match l {
            Uniform => Some(0),
            Affine(c) => Some(c),
            Vector => None,
        };
        let lane_of = match &k.insts[at] {
            Inst::Const(_) => Uniform,
            Inst::Load { buf, index } => {
                accesses.push((*buf, *index, false));
                match (lane(*index), dtype(*buf)?) {
                    (Uniform, _) => Uniform,
                    (Affine(1), _) if dtype(*buf)? != DType::I64 => Vector,
                    (Affine(_), DType::F32 | DType::I32) => Vector,
                    _ => return None,
                }
            }
            Inst::Store { buf, index, value } => {
                accesses.push((*buf, *index, true));
                let ok = lane(*index) == Affine(1)
                    && matches!(dtype(*buf)?, DType::F32 | DType::I32)
                    && lane(*value) != Affine(1);
                if !ok || matches!(lane(*value), Affine(_)) {
                    return None;
                }
                Vector
            }
            Inst::Copy { dst, dst_index, src, src_index } => {
                accesses.push((*dst, *dst_index, true));
                accesses.push((*src, *src_index, false));
                if lane(*dst_index) != Affine(1) || lane(*src_index) != Affine(1) {
                    return None;
                }
                Vector
            }
            Inst::Unary { op, x } => match (lane(*x), ty(*x)?, op) {
                (Uniform, _, _) => Uniform,
                (Affine(c), ScalarType::I64, UnaryFn::Neg) => affine(c.checked_neg()?),
                (Vector, ScalarType::F32, _) => Vector,
                (Vector, ScalarType::I32, UnaryFn::Neg | UnaryFn::Abs) => Vector,
                (Vector, ScalarType::Bool, UnaryFn::Not) => Vector,
                _ => return None,
            },
            Inst::Binary { op, a, b } => {
                let (la, lb) = (lane(*a), lane(*b));
                match ty(*a)? {
                    _ if la == Uniform && lb == Uniform => Uniform,
                    ScalarType::I64 => match op {
                        BinaryFn::Add => affine(coef(la)?.checked_add(coef(lb)?)?),
                        BinaryFn::Sub => affine(coef(la)?.checked_sub(coef(lb)?)?),
                        BinaryFn::Mul => match (la, lb, constant(vk, *a), constant(vk, *b)) {
                            (Affine(c), Uniform, _, Some(m)) | (Uniform, Affine(c), Some(m), _) => {
                                affine(c.checked_mul(m)?)
                            }
                            _ => return None,
                        },
                        _ => return None,
                    },
                    _ if matches!(la, Affine(_)) || matches!(lb, Affine(_)) => return None,
                    _ if *op == BinaryFn::Pow => return None,
                    _ => Vector,
                }
            }
            Inst::Compare { a, b, .. } => match (lane(*a), lane(*b), ty(*a)?) {
                (Uniform, Uniform, _) => Uniform,
                (Affine(_), _, _) | (_, Affine(_), _) | (_, _, ScalarType::I64) => return None,
                _ => Vector,
            },
            Inst::Select { cond, then, otherwise } => {
                let ls = [lane(*cond), lane(*then), lane(*otherwise)];
                if ls.iter().all(|&l| l == Uniform) {
                    Uniform
                } else if ls.iter().any(|l| matches!(l, Affine(_))) || ty(*then)? == ScalarType::I64 {
                    return None;
                } else {
                    Vector
                }
            }
            Inst::Cast { to, x } => match (lane(*x), ty(*x)?, *to) {
                (Uniform, _, _) => Uniform,
                (Affine(_), ScalarType::I64, ScalarType::F32 | ScalarType::I32) => {
                    let r = vk.range(*x)?;
                    if r.lo < i64::from(i32::MIN) || r.hi > i64::from(i32::MAX) {
                        return None;
                    }
                    Vector
                }
                (Vector, from, to) if from != ScalarType::I64 && to != ScalarType::I64 => Vector,
                _ => return None,
            },
            Inst::CheckIndex { index, .. } if lane(*index) == Uniform => Uniform,
            _ => return None,
        };
        lanes[at - opener] = lane_of;
    }
    // A buffer written in the region may be accessed only at the element being written (lanes independent).
    for &(buf, index, write) in &accesses {
        if write && accesses.iter().any(|&(b, i, _)| b == buf && i != index) {
            return None;
        }
    }
    Some(Plan { lanes })
}

/// The value of an i64 constant instruction.
fn constant(vk: &VerifiedKernel, v: ValueId) -> Option<i64> {
    match vk.kernel().insts.get(v.index())? {
        Inst::Const(Const::I64(x)) => Some(*x),
        _ => None,
    }
}

/// Values shared by the iterations of one trip of a vector loop (reset per trip, so everything in it
/// dominates its uses: a trip is straight-line code).
#[derive(Default)]
pub struct TripCache {
    /// The iteration being emitted (`region::vector_body` sets it).
    pub copy: i64,
    /// Splats of uniform scalars.
    splats: Vec<(ValueId, Value)>,
    /// Per load or store instruction: the address iteration 0 computed.
    addrs: Vec<(usize, Value)>,
}

fn vector_type(t: ScalarType) -> Type {
    match t {
        ScalarType::F32 => types::F32X4,
        _ => types::I32X4,
    }
}

impl Translator<'_, '_> {
    /// A vector operand: a planned vector, or a uniform scalar splatted (a bool becomes an all-ones mask).
    pub(super) fn vec_operand(
        &mut self,
        plan: &Plan,
        opener: usize,
        v: ValueId,
        vecs: &[Option<Value>],
    ) -> Result<Value, HostError> {
        match plan.lane(opener, v) {
            Lane::Vector => {
                vecs.get(v.index() - opener).copied().flatten().ok_or_else(|| HostError::internal("vector"))
            }
            Lane::Uniform => {
                if let Some(&(_, x)) = self.trip.splats.iter().find(|(u, _)| *u == v) {
                    return Ok(x);
                }
                let s = self.val(v)?;
                let x = match self.vk.value_type(v) {
                    Some(ScalarType::F32) => self.b.ins().splat(types::F32X4, s),
                    Some(ScalarType::I32) => self.b.ins().splat(types::I32X4, s),
                    Some(ScalarType::Bool) => {
                        let wide = self.b.ins().uextend(types::I32, s);
                        let mask = self.b.ins().ineg(wide);
                        self.b.ins().splat(types::I32X4, mask)
                    }
                    _ => return Err(HostError::internal("i64 vector operand")),
                };
                self.trip.splats.push((v, x));
                Ok(x)
            }
            Lane::Affine(_) => Err(HostError::internal("affine vector operand")),
        }
    }

    /// Emits the vector form of instruction `at`.
    pub(super) fn vector_inst(
        &mut self,
        plan: &Plan,
        opener: usize,
        at: usize,
        vecs: &[Option<Value>],
    ) -> Result<Option<Value>, HostError> {
        let vk = self.vk;
        let ty = |v: ValueId| vk.value_type(v).ok_or_else(|| HostError::internal("type"));
        let operand = |t: &mut Self, v: ValueId| t.vec_operand(plan, opener, v, vecs);
        Ok(Some(match &vk.kernel().insts[at] {
            Inst::Load { buf, index } => {
                let dtype = self.dtype(*buf)?;
                let (addr, off) = self.vector_addr(plan, opener, at, *buf, *index)?;
                match (plan.lane(opener, *index), dtype) {
                    (Lane::Affine(1), DType::F32) => self.b.ins().load(types::F32X4, flags(), addr, off),
                    (Lane::Affine(1), DType::I32) => self.b.ins().load(types::I32X4, flags(), addr, off),
                    (Lane::Affine(1), DType::BF16) => {
                        let bits = self.b.ins().uload16x4(flags(), addr, off);
                        let bits = self.b.ins().ishl_imm_s(bits, 16);
                        self.b.ins().bitcast(types::F32X4, cast_flags(), bits)
                    }
                    (Lane::Affine(1), DType::I8 | DType::U8 | DType::Bool) => {
                        // Four bytes, widened lane by lane (never reading past the fourth element).
                        let word = self.b.ins().load(types::I32, flags(), addr, off);
                        let v = self.b.ins().scalar_to_vector(types::I32X4, word);
                        let bytes = self.b.ins().bitcast(types::I8X16, cast_flags(), v);
                        let wide = if dtype == DType::I8 {
                            let h = self.b.ins().swiden_low(bytes);
                            self.b.ins().swiden_low(h)
                        } else {
                            let h = self.b.ins().uwiden_low(bytes);
                            self.b.ins().uwiden_low(h)
                        };
                        if dtype == DType::Bool {
                            let z = self.b.ins().iconst(types::I32, 0);
                            let z = self.b.ins().splat(types::I32X4, z);
                            self.b.ins().icmp(IntCC::NotEqual, wide, z)
                        } else {
                            wide
                        }
                    }
                    (Lane::Affine(c), _) => {
                        let (st, vt) =
                            if dtype == DType::F32 { (types::F32, types::F32X4) } else { (types::I32, types::I32X4) };
                        let step = c.checked_mul(4).ok_or_else(|| HostError::internal("stride"))?;
                        let x0 = self.b.ins().load(st, flags(), addr, off);
                        let mut v = self.b.ins().scalar_to_vector(vt, x0);
                        for lane in 1..4u8 {
                            let a = self.b.ins().iadd_imm_s(addr, step * i64::from(lane));
                            let x = self.b.ins().load(st, flags(), a, off);
                            v = self.b.ins().insertlane(v, x, lane);
                        }
                        v
                    }
                    _ => return Err(HostError::internal("load lane")),
                }
            }
            Inst::Store { buf, index, value } => {
                let x = operand(self, *value)?;
                let (addr, off) = self.vector_addr(plan, opener, at, *buf, *index)?;
                self.b.ins().store(flags(), x, addr, off);
                return Ok(None);
            }
            Inst::Copy { dst, dst_index, src, src_index } => {
                let (di, si) = (self.val(*dst_index)?, self.val(*src_index)?);
                let (da, sa) = (self.addr(*dst, di)?, self.addr(*src, si)?);
                // Four elements are 4 * size contiguous bytes.
                let chunks: &[(Type, i32)] = match self.dtype(*src)?.size() {
                    1 => &[(types::I32, 0)],
                    2 => &[(types::I64, 0)],
                    4 => &[(types::I32X4, 0)],
                    _ => &[(types::I32X4, 0), (types::I32X4, 16)],
                };
                for &(t, off) in chunks {
                    let x = self.b.ins().load(t, flags(), sa, off);
                    self.b.ins().store(flags(), x, da, off);
                }
                return Ok(None);
            }
            Inst::Unary { op, x } => {
                let (t, xv) = (ty(*x)?, operand(self, *x)?);
                self.unary(*op, t, xv, true)?
            }
            Inst::Binary { op, a, b } => {
                let t = ty(*a)?;
                let (av, bv) = (operand(self, *a)?, operand(self, *b)?);
                self.binary(*op, t, av, bv, true)?
            }
            Inst::Compare { op, a, b } => {
                let t = ty(*a)?;
                let (av, bv) = (operand(self, *a)?, operand(self, *b)?);
                match t {
                    ScalarType::F32 => self.b.ins().fcmp(float_cc(*op), av, bv),
                    _ => self.b.ins().icmp(int_cc(*op), av, bv),
                }
            }
            Inst::Select { cond, then, otherwise } => {
                let c = operand(self, *cond)?;
                let (a, b) = (operand(self, *then)?, operand(self, *otherwise)?);
                if ty(*then)? == ScalarType::F32 {
                    let m = self.b.ins().bitcast(types::F32X4, cast_flags(), c);
                    self.b.ins().bitselect(m, a, b)
                } else {
                    self.b.ins().bitselect(c, a, b)
                }
            }
            Inst::Cast { to, x } => {
                let from = ty(*x)?;
                if let Lane::Affine(c) = plan.lane(opener, *x) {
                    // Lanes lane0 + k*c; the verifier's range says every lane fits i32.
                    let s = self.val(*x)?;
                    let s = self.b.ins().ireduce(types::I32, s);
                    let base = self.b.ins().splat(types::I32X4, s);
                    let steps: Vec<u8> = (0..4i64).flat_map(|k| (k.wrapping_mul(c) as i32).to_le_bytes()).collect();
                    let handle = self.b.func.dfg.constants.insert(ConstantData::from(steps));
                    let steps = self.b.ins().vconst(types::I32X4, handle);
                    let iota = self.b.ins().iadd(base, steps);
                    return Ok(Some(self.vector_cast(ScalarType::I32, *to, iota)));
                }
                let xv = operand(self, *x)?;
                self.vector_cast(from, *to, xv)
            }
            _ => return Err(HostError::internal("no vector form")),
        }))
    }

    /// The address of lane 0 of load or store `at` as a base and a byte offset: iteration u of a trip reuses
    /// iteration 0's address, offset by the 4u elements between them (an affine index moves by `4u * stride`),
    /// instead of recomputing the index and address.
    fn vector_addr(
        &mut self,
        plan: &Plan,
        opener: usize,
        at: usize,
        buf: BufId,
        index: ValueId,
    ) -> Result<(Value, i32), HostError> {
        let size = self.dtype(buf)?.size() as i64;
        let first = self.trip.addrs.iter().find(|(a, _)| *a == at).map(|&(_, v)| v);
        if let (Lane::Affine(c), Some(addr)) = (plan.lane(opener, index), first) {
            let off = (4 * self.trip.copy).checked_mul(c).and_then(|x| x.checked_mul(size));
            if let Some(off) = off.and_then(|x| i32::try_from(x).ok()) {
                return Ok((addr, off));
            }
        }
        let i = self.val(index)?;
        let addr = self.addr(buf, i)?;
        if self.trip.copy == 0 {
            self.trip.addrs.push((at, addr));
        }
        Ok((addr, 0))
    }

    fn vector_cast(&mut self, from: ScalarType, to: ScalarType, x: Value) -> Value {
        use ScalarType::*;
        match (from, to) {
            (F32, I32) => self.b.ins().fcvt_to_sint_sat(types::I32X4, x),
            (I32, F32) => self.b.ins().fcvt_from_sint(types::F32X4, x),
            (Bool, F32) => {
                let one = self.b.ins().f32const(1.0);
                let one = self.b.ins().splat(types::F32X4, one);
                let one = self.b.ins().bitcast(types::I32X4, cast_flags(), one);
                let bits = self.b.ins().band(x, one);
                self.b.ins().bitcast(types::F32X4, cast_flags(), bits)
            }
            (Bool, I32) => self.b.ins().ineg(x),
            (F32, Bool) => {
                let z = self.b.ins().f32const(0.0);
                let z = self.b.ins().splat(types::F32X4, z);
                self.b.ins().fcmp(FloatCC::NotEqual, x, z)
            }
            (I32, Bool) => {
                let z = self.b.ins().iconst(types::I32, 0);
                let z = self.b.ins().splat(vector_type(I32), z);
                self.b.ins().icmp(IntCC::NotEqual, x, z)
            }
            _ => x,
        }
    }
}
