//! Host kernels (`accel_ops::kernel::Kernel`) from fuzzer bytes. Mostly type-correct, so that many pass the
//! verifier and reach code generation: values are tracked per loop scope with their types; indices are loop
//! variables, affine forms of them, data-dependent loads (through `CheckIndex` or not) and constants, so the
//! verifier's interval proof sees both provable and unprovable accesses. Now and then an operand, an extent or
//! a buffer is replaced by a hostile one, to exercise the verifier's rejections.
use crate::gen::rare;
use accel_ops::kernel::{
    BinaryFn, BoundsMode, BufId, BufKind, Buffer, CmpFn, Const, Inst, Kernel, ReduceFn, ScalarType, UnaryFn, ValueId,
};
use accel_ops::DType;
use arbitrary::{Result, Unstructured};

const DTYPES: [DType; 7] = [DType::F32, DType::BF16, DType::I8, DType::U8, DType::I32, DType::I64, DType::Bool];
const UNARY: [UnaryFn; 14] = [
    UnaryFn::Neg,
    UnaryFn::Abs,
    UnaryFn::Sqrt,
    UnaryFn::Floor,
    UnaryFn::Ceil,
    UnaryFn::Trunc,
    UnaryFn::RoundEven,
    UnaryFn::Exp,
    UnaryFn::Log,
    UnaryFn::Tanh,
    UnaryFn::Erf,
    UnaryFn::Sigmoid,
    UnaryFn::RoundBf16,
    UnaryFn::Not,
];
const BINARY: [BinaryFn; 10] = [
    BinaryFn::Add,
    BinaryFn::Sub,
    BinaryFn::Mul,
    BinaryFn::Div,
    BinaryFn::Min,
    BinaryFn::Max,
    BinaryFn::Pow,
    BinaryFn::And,
    BinaryFn::Or,
    BinaryFn::Xor,
];
const CMP: [CmpFn; 6] = [CmpFn::Eq, CmpFn::Ne, CmpFn::Lt, CmpFn::Le, CmpFn::Gt, CmpFn::Ge];
const TYPES: [ScalarType; 4] = [ScalarType::F32, ScalarType::I32, ScalarType::I64, ScalarType::Bool];

/// One open scope: the values defined in it, and whether it is a reduction (pure body, ends with a value).
struct Scope {
    values: Vec<(ValueId, ScalarType)>,
    reduce: bool,
}

struct Gen {
    insts: Vec<Inst>,
    scopes: Vec<Scope>,
}

impl Gen {
    fn push(&mut self, inst: Inst, ty: Option<ScalarType>) -> ValueId {
        let id = ValueId(self.insts.len() as u32);
        self.insts.push(inst);
        if let (Some(t), Some(s)) = (ty, self.scopes.last_mut()) {
            s.values.push((id, t));
        }
        id
    }

    fn visible(&self, t: ScalarType) -> Vec<ValueId> {
        self.scopes.iter().flat_map(|s| &s.values).filter(|(_, vt)| *vt == t).map(|(v, _)| *v).collect()
    }

    /// A visible value of type `t`, or a fresh constant; rarely any id at all (hostile).
    fn value(&mut self, u: &mut Unstructured<'_>, t: ScalarType) -> Result<ValueId> {
        if u.int_in_range(0u16..=399)? == 399 {
            return Ok(ValueId(u.int_in_range(0..=self.insts.len() as u32 + 2)?));
        }
        let vs = self.visible(t);
        if !vs.is_empty() && u.ratio(4u8, 5)? {
            return Ok(*u.choose(&vs)?);
        }
        let c = match t {
            ScalarType::F32 => Const::f32(*u.choose(&[0.0, -0.0, 1.0, -2.5, 0.5, 1e30, f32::INFINITY, f32::NAN])?),
            ScalarType::I32 => Const::I32(*u.choose(&[0, 1, -1, 3, i32::MAX, i32::MIN])?),
            ScalarType::I64 => Const::I64(*u.choose(&[0, 1, 2, -1, 7, i64::MAX, i64::MIN])?),
            ScalarType::Bool => Const::Bool(u.arbitrary()?),
        };
        Ok(self.push(Inst::Const(c), Some(t)))
    }

    /// An index for a buffer of `len` elements: mostly provable (a constant in range, or any value through
    /// `CheckIndex`), sometimes a loop variable or an affine form of a value that may leave the buffer.
    fn index(&mut self, u: &mut Unstructured<'_>, len: u64) -> Result<ValueId> {
        Ok(match u.int_in_range(0u8..=24)? {
            0..=19 => {
                let base = self.value(u, ScalarType::I64)?;
                let len = if rare(u, 10)? { u.arbitrary()? } else { len };
                let mode = if u.arbitrary()? { BoundsMode::Clamp } else { BoundsMode::Trap };
                self.push(Inst::CheckIndex { index: base, len, mode }, Some(ScalarType::I64))
            }
            20 | 21 => {
                let k = u.int_in_range(0..=len.saturating_sub(1).min(i64::MAX as u64) as i64)?;
                self.push(Inst::Const(Const::I64(k)), Some(ScalarType::I64))
            }
            22 => self.value(u, ScalarType::I64)?,
            23 => {
                let base = self.value(u, ScalarType::I64)?;
                let k = self.push(Inst::Const(Const::I64(u.int_in_range(-3..=3)?)), Some(ScalarType::I64));
                self.push(Inst::Binary { op: BinaryFn::Add, a: base, b: k }, Some(ScalarType::I64))
            }
            _ => {
                let base = self.value(u, ScalarType::I64)?;
                let k = self.push(Inst::Const(Const::I64(u.int_in_range(0..=4)?)), Some(ScalarType::I64));
                self.push(Inst::Binary { op: BinaryFn::Mul, a: base, b: k }, Some(ScalarType::I64))
            }
        })
    }
}

fn buffer(u: &mut Unstructured<'_>) -> Result<Buffer> {
    let dtype = *u.choose(&DTYPES)?;
    let len = match u.int_in_range(0u8..=59)? {
        58 => 0,
        59 => u64::MAX / 2,
        _ => u.int_in_range(1..=40)?,
    };
    let kind = match u.int_in_range(0u8..=5)? {
        0 | 1 => BufKind::Input,
        2 | 3 => BufKind::Output,
        _ => {
            let n = (len.min(64) as usize) * dtype.size();
            let n = if rare(u, 40)? { n + 1 } else { n };
            BufKind::Const(u.bytes(n)?.to_vec())
        }
    };
    Ok(Buffer { dtype, len, kind })
}

/// A kernel of at most `max_insts` instructions.
pub fn kernel(u: &mut Unstructured<'_>, max_insts: usize) -> Result<Kernel> {
    let buffers = (0..u.int_in_range(1..=4)?).map(|_| buffer(u)).collect::<Result<Vec<_>>>()?;
    let mut g = Gen { insts: Vec::new(), scopes: vec![Scope { values: Vec::new(), reduce: false }] };
    while g.insts.len() < max_insts && !u.is_empty() {
        let in_reduce = g.scopes.iter().any(|s| s.reduce);
        let depth = g.scopes.len() - 1;
        match u.int_in_range(0u8..=13)? {
            0 if !in_reduce && depth < 4 => {
                let extent = if rare(u, 60)? { u.arbitrary()? } else { u.int_in_range(0..=9)? };
                let v = g.push(Inst::Loop { extent }, None);
                g.scopes.push(Scope { values: vec![(v, ScalarType::I64)], reduce: false });
            }
            1 if depth < 4 => {
                let op = *u.choose(&[ReduceFn::Sum, ReduceFn::Prod, ReduceFn::Max, ReduceFn::Min])?;
                let v = g.push(Inst::Reduce { op, extent: u.int_in_range(0..=9)? }, None);
                g.scopes.push(Scope { values: vec![(v, ScalarType::I64)], reduce: true });
            }
            2 | 3 if depth > 0 => {
                let reduce = g.scopes.last().is_some_and(|s| s.reduce);
                let value = if reduce { Some(g.value(u, ScalarType::F32)?) } else { None };
                g.scopes.pop();
                g.push(Inst::End { value }, reduce.then_some(ScalarType::F32));
            }
            4 | 5 => {
                let b = u.int_in_range(0..=buffers.len() as u32 - 1)?;
                let buf = &buffers[b as usize];
                let index = g.index(u, buf.len)?;
                g.push(Inst::Load { buf: BufId(b), index }, Some(buf.dtype.value_type()));
            }
            6 | 7 if !in_reduce => {
                let outs: Vec<u32> =
                    (0..buffers.len() as u32).filter(|&i| buffers[i as usize].kind == BufKind::Output).collect();
                if outs.is_empty() {
                    continue;
                }
                let b = *u.choose(&outs)?;
                let buf = &buffers[b as usize];
                let index = g.index(u, buf.len)?;
                let value = g.value(u, buf.dtype.value_type())?;
                if u.ratio(1u8, 4)? {
                    let src = u.int_in_range(0..=buffers.len() as u32 - 1)?;
                    let src_index = g.index(u, buffers[src as usize].len)?;
                    g.push(Inst::Copy { dst: BufId(b), dst_index: index, src: BufId(src), src_index }, None);
                } else {
                    g.push(Inst::Store { buf: BufId(b), index, value }, None);
                }
            }
            8 => {
                let op = *u.choose(&UNARY)?;
                let t = match op {
                    UnaryFn::Neg | UnaryFn::Abs => *u.choose(&TYPES[..3])?,
                    UnaryFn::Not => ScalarType::Bool,
                    _ => ScalarType::F32,
                };
                let x = g.value(u, t)?;
                g.push(Inst::Unary { op, x }, Some(t));
            }
            9 | 10 => {
                let op = *u.choose(&BINARY)?;
                let t = match op {
                    BinaryFn::Div | BinaryFn::Pow => ScalarType::F32,
                    BinaryFn::And | BinaryFn::Or | BinaryFn::Xor => ScalarType::Bool,
                    _ => *u.choose(&TYPES[..3])?,
                };
                let (a, b) = (g.value(u, t)?, g.value(u, t)?);
                g.push(Inst::Binary { op, a, b }, Some(t));
            }
            11 => {
                let t = *u.choose(&TYPES[..3])?;
                let (a, b) = (g.value(u, t)?, g.value(u, t)?);
                g.push(Inst::Compare { op: *u.choose(&CMP)?, a, b }, Some(ScalarType::Bool));
            }
            12 => {
                let t = *u.choose(&TYPES)?;
                let cond = g.value(u, ScalarType::Bool)?;
                let (a, b) = (g.value(u, t)?, g.value(u, t)?);
                g.push(Inst::Select { cond, then: a, otherwise: b }, Some(t));
            }
            _ => {
                let (from, to) = (*u.choose(&TYPES)?, *u.choose(&TYPES)?);
                let x = g.value(u, from)?;
                g.push(Inst::Cast { to, x }, Some(to));
            }
        }
    }
    // Close what is open (mostly: an unclosed loop is one of the hostile forms).
    while g.scopes.len() > 1 && !rare(u, 30).unwrap_or(false) {
        let reduce = g.scopes.last().is_some_and(|s| s.reduce);
        let value = if reduce { Some(g.value(u, ScalarType::F32)?) } else { None };
        g.scopes.pop();
        g.push(Inst::End { value }, reduce.then_some(ScalarType::F32));
    }
    Ok(Kernel { name: "fuzz".into(), buffers, insts: g.insts })
}
