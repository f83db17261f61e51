//! The reference interpreter of the kernel IR over little-endian byte buffers: the oracle the JIT is tested
//! against. It walks the flat instruction list with an explicit loop stack (no recursion) and checks every
//! access again, so a verifier bug shows up as an error here instead of memory corruption (BAD-INPUT 17).
use super::math::{self, ScalarMath};
use super::verify::VerifiedKernel;
use super::{BinaryFn, BoundsMode, BufKind, CmpFn, Const, Inst, KernelError, ReduceFn, ScalarType, UnaryFn, PARTIALS};
use crate::DType;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Val {
    F(f32),
    I(i32),
    L(i64),
    B(bool),
}

struct Frame {
    opener: usize,
    j: u64,
    extent: u64,
    reduce: Option<ReduceFn>,
    partial: [f32; PARTIALS],
}

/// Where a buffer's bytes are: an argument slot or a constant inside the kernel.
#[derive(Clone, Copy)]
enum Slot {
    Arg(usize),
    Const(usize),
}

/// The identity element of a reduction.
pub fn reduce_identity(op: ReduceFn) -> f32 {
    match op {
        ReduceFn::Sum => 0.0,
        ReduceFn::Prod => 1.0,
        ReduceFn::Max => f32::NEG_INFINITY,
        ReduceFn::Min => f32::INFINITY,
    }
}

/// One step of a reduction: `acc op x`.
pub fn reduce_step(op: ReduceFn, acc: f32, x: f32) -> f32 {
    match op {
        ReduceFn::Sum => acc + x,
        ReduceFn::Prod => acc * x,
        ReduceFn::Max => math::reduce_max(&mut ScalarMath, acc, x),
        ReduceFn::Min => math::reduce_min(&mut ScalarMath, acc, x),
    }
}

/// Runs a verified kernel. `args` are the argument buffers in order (`Kernel::args`), each exactly as long as
/// its declaration. On `IndexOutOfRange` (a trapping bounds check), outputs are partially written.
pub fn interpret(vk: &VerifiedKernel, args: &mut [&mut [u8]]) -> Result<(), KernelError> {
    let k = vk.kernel();
    let name = &k.name;
    let bad_args = |why: String| KernelError::Args { kernel: name.clone(), why };
    if args.len() != vk.arg_bytes().len() {
        return Err(bad_args(format!("{} argument buffers, expected {}", args.len(), vk.arg_bytes().len())));
    }
    for (i, (a, &want)) in args.iter().zip(vk.arg_bytes()).enumerate() {
        if a.len() != want {
            return Err(bad_args(format!("argument {i} has {} bytes, expected {want}", a.len())));
        }
    }
    let mut slots = Vec::with_capacity(k.buffers.len());
    let mut next_arg = 0;
    for (i, b) in k.buffers.iter().enumerate() {
        slots.push(match b.kind {
            BufKind::Const(_) => Slot::Const(i),
            _ => {
                next_arg += 1;
                Slot::Arg(next_arg - 1)
            }
        });
    }
    let internal = |at: usize, why: &str| KernelError::Invalid { kernel: name.clone(), at, why: why.into() };
    let n = k.insts.len();
    let mut vals = vec![Val::B(false); n];
    let mut frames: Vec<Frame> = Vec::new();
    let mut pc = 0;
    while pc < n {
        let at = pc;
        let get = |v: super::ValueId| vals.get(v.index()).copied().ok_or_else(|| internal(at, "bad operand"));
        let f = |v: super::ValueId| match get(v)? {
            Val::F(x) => Ok(x),
            _ => Err(internal(at, "expected an f32 operand")),
        };
        let idx = |v: super::ValueId| match get(v)? {
            Val::L(x) => Ok(x),
            _ => Err(internal(at, "expected an i64 index")),
        };
        let elem = |buf: super::BufId, index: i64| -> Result<(Slot, DType, usize), KernelError> {
            let b = k.buffers.get(buf.index()).ok_or_else(|| internal(at, "bad buffer"))?;
            let slot = slots.get(buf.index()).copied().ok_or_else(|| internal(at, "bad buffer"))?;
            if index < 0 || index as u64 >= b.len {
                // Unreachable for verified kernels: the verifier proved this access in bounds.
                return Err(internal(at, &format!("access {index} outside [0, {}) (a verifier bug)", b.len)));
            }
            Ok((slot, b.dtype, index as usize * b.dtype.size()))
        };
        let v = match &k.insts[pc] {
            Inst::Loop { extent } | Inst::Reduce { extent, .. } => {
                let reduce = match &k.insts[pc] {
                    Inst::Reduce { op, .. } => Some(*op),
                    _ => None,
                };
                let end = vk.matching(pc);
                if *extent == 0 {
                    if let Some(op) = reduce {
                        let id = reduce_identity(op);
                        vals[end] = Val::F(combine(op, &[id; PARTIALS]));
                    }
                    pc = end + 1;
                    continue;
                }
                let id = reduce.map_or(0.0, reduce_identity);
                frames.push(Frame { opener: pc, j: 0, extent: *extent, reduce, partial: [id; PARTIALS] });
                Val::L(0)
            }
            Inst::End { value } => {
                let x = match value {
                    Some(v) => Some(f(*v)?),
                    None => None,
                };
                let frame = frames.last_mut().ok_or_else(|| internal(at, "end without a loop"))?;
                if let (Some(op), Some(x)) = (frame.reduce, x) {
                    let p = &mut frame.partial[(frame.j % PARTIALS as u64) as usize];
                    *p = reduce_step(op, *p, x);
                }
                frame.j += 1;
                if frame.j < frame.extent {
                    vals[frame.opener] = Val::L(frame.j as i64);
                    pc = frame.opener + 1;
                    continue;
                }
                let result = frame.reduce.map(|op| combine(op, &frame.partial));
                frames.pop();
                match result {
                    Some(r) => Val::F(r),
                    None => Val::B(false),
                }
            }
            Inst::Const(c) => match *c {
                Const::F32(bits) => Val::F(f32::from_bits(bits)),
                Const::I32(x) => Val::I(x),
                Const::I64(x) => Val::L(x),
                Const::Bool(x) => Val::B(x),
            },
            Inst::Load { buf, index } => {
                let (slot, dtype, off) = elem(*buf, idx(*index)?)?;
                let src: &[u8] = match slot {
                    Slot::Arg(a) => args[a],
                    Slot::Const(c) => match &k.buffers[c].kind {
                        BufKind::Const(d) => d,
                        _ => return Err(internal(at, "bad constant")),
                    },
                };
                decode(dtype, src, off).ok_or_else(|| internal(at, "load outside its buffer"))?
            }
            Inst::Store { buf, index, value } => {
                let (slot, dtype, off) = elem(*buf, idx(*index)?)?;
                let x = get(*value)?;
                let Slot::Arg(a) = slot else { return Err(internal(at, "store to a constant")) };
                encode(dtype, x, args[a], off).ok_or_else(|| internal(at, "store outside its buffer"))?;
                Val::B(false)
            }
            Inst::Copy { dst, dst_index, src, src_index } => {
                let (dslot, dtype, doff) = elem(*dst, idx(*dst_index)?)?;
                let (sslot, _, soff) = elem(*src, idx(*src_index)?)?;
                let size = dtype.size();
                let mut tmp = [0u8; 8];
                let src_bytes: &[u8] = match sslot {
                    Slot::Arg(a) => args[a],
                    Slot::Const(c) => match &k.buffers[c].kind {
                        BufKind::Const(d) => d,
                        _ => return Err(internal(at, "bad constant")),
                    },
                };
                let from = src_bytes.get(soff..soff + size).ok_or_else(|| internal(at, "copy outside its buffer"))?;
                tmp[..size].copy_from_slice(from);
                let Slot::Arg(a) = dslot else { return Err(internal(at, "copy to a constant")) };
                let to = args[a].get_mut(doff..doff + size).ok_or_else(|| internal(at, "copy outside its buffer"))?;
                to.copy_from_slice(&tmp[..size]);
                Val::B(false)
            }
            Inst::Unary { op, x } => unary(*op, get(*x)?).ok_or_else(|| internal(at, "ill-typed unary"))?,
            Inst::Binary { op, a, b } => {
                binary(*op, get(*a)?, get(*b)?).ok_or_else(|| internal(at, "ill-typed binary"))?
            }
            Inst::Compare { op, a, b } => {
                let r = match (get(*a)?, get(*b)?) {
                    (Val::F(x), Val::F(y)) => math::cmp_f32(*op, x, y),
                    (Val::I(x), Val::I(y)) => cmp_ord(*op, x, y),
                    (Val::L(x), Val::L(y)) => cmp_ord(*op, x, y),
                    _ => return Err(internal(at, "ill-typed comparison")),
                };
                Val::B(r)
            }
            Inst::Select { cond, then, otherwise } => match get(*cond)? {
                Val::B(true) => get(*then)?,
                Val::B(false) => get(*otherwise)?,
                _ => return Err(internal(at, "select on a non-bool")),
            },
            Inst::Cast { to, x } => cast(*to, get(*x)?),
            Inst::CheckIndex { index, len, mode } => {
                let i = idx(*index)?;
                let top = (*len as i64).saturating_sub(1);
                if (0..=top).contains(&i) {
                    Val::L(i)
                } else if *mode == BoundsMode::Clamp {
                    Val::L(i.clamp(0, top))
                } else {
                    return Err(KernelError::IndexOutOfRange { kernel: name.clone(), at, index: i, len: *len });
                }
            }
        };
        vals[pc] = v;
        pc += 1;
    }
    Ok(())
}

/// How the partials of a reduction combine: lane-wise across the three vectors of partials,
/// `q_l = (p_l op p_{4+l}) op p_{8+l}`, then `(q_0 op q_1) op (q_2 op q_3)` (vector adds, then a horizontal
/// tree, as native code does it).
pub fn combine(op: ReduceFn, p: &[f32; PARTIALS]) -> f32 {
    let q: [f32; 4] =
        std::array::from_fn(|l| (4 + l..PARTIALS).step_by(4).fold(p[l], |acc, k| reduce_step(op, acc, p[k])));
    let a = reduce_step(op, q[0], q[1]);
    let b = reduce_step(op, q[2], q[3]);
    reduce_step(op, a, b)
}

fn cmp_ord<T: PartialOrd>(op: CmpFn, a: T, b: T) -> bool {
    match op {
        CmpFn::Eq => a == b,
        CmpFn::Ne => a != b,
        CmpFn::Lt => a < b,
        CmpFn::Le => a <= b,
        CmpFn::Gt => a > b,
        CmpFn::Ge => a >= b,
    }
}

fn decode(dtype: DType, src: &[u8], off: usize) -> Option<Val> {
    let b = src.get(off..off + dtype.size())?;
    Some(match dtype {
        DType::F32 => Val::F(f32::from_le_bytes(b.try_into().ok()?)),
        DType::BF16 => Val::F(math::bf16_to_f32(u16::from_le_bytes(b.try_into().ok()?))),
        DType::I8 => Val::I(i32::from(b[0] as i8)),
        DType::U8 => Val::I(i32::from(b[0])),
        DType::I32 => Val::I(i32::from_le_bytes(b.try_into().ok()?)),
        DType::I64 => Val::L(i64::from_le_bytes(b.try_into().ok()?)),
        DType::Bool => Val::B(b[0] != 0),
        DType::F16 | DType::F64 | DType::I16 | DType::U16 | DType::U32 | DType::U64 => return None,
    })
}

fn encode(dtype: DType, x: Val, dst: &mut [u8], off: usize) -> Option<()> {
    let d = dst.get_mut(off..off + dtype.size())?;
    match (dtype, x) {
        (DType::F32, Val::F(v)) => d.copy_from_slice(&v.to_le_bytes()),
        (DType::BF16, Val::F(v)) => d.copy_from_slice(&math::bf16_bits(v).to_le_bytes()),
        (DType::I8 | DType::U8, Val::I(v)) => d[0] = v as u8,
        (DType::I32, Val::I(v)) => d.copy_from_slice(&v.to_le_bytes()),
        (DType::I64, Val::L(v)) => d.copy_from_slice(&v.to_le_bytes()),
        (DType::Bool, Val::B(v)) => d[0] = u8::from(v),
        _ => return None,
    }
    Some(())
}

fn unary(op: UnaryFn, x: Val) -> Option<Val> {
    let m = &mut ScalarMath;
    Some(match (op, x) {
        (UnaryFn::Neg, Val::F(v)) => Val::F(-v),
        (UnaryFn::Neg, Val::I(v)) => Val::I(v.wrapping_neg()),
        (UnaryFn::Neg, Val::L(v)) => Val::L(v.wrapping_neg()),
        (UnaryFn::Abs, Val::F(v)) => Val::F(v.abs()),
        (UnaryFn::Abs, Val::I(v)) => Val::I(v.wrapping_abs()),
        (UnaryFn::Abs, Val::L(v)) => Val::L(v.wrapping_abs()),
        (UnaryFn::Not, Val::B(v)) => Val::B(!v),
        (op, Val::F(v)) => Val::F(match op {
            UnaryFn::Sqrt => v.sqrt(),
            UnaryFn::Floor => v.floor(),
            UnaryFn::Ceil => v.ceil(),
            UnaryFn::Trunc => v.trunc(),
            UnaryFn::RoundEven => v.round_ties_even(),
            UnaryFn::Exp => math::exp(m, v),
            UnaryFn::Log => math::log(m, v),
            UnaryFn::Tanh => math::tanh(m, v),
            UnaryFn::Erf => math::erf(m, v),
            UnaryFn::Sigmoid => math::sigmoid(m, v),
            UnaryFn::RoundBf16 => math::round_bf16(m, v),
            UnaryFn::Neg | UnaryFn::Abs | UnaryFn::Not => return None,
        }),
        _ => return None,
    })
}

/// `a.powf(b)`: the IR's `Pow`, which native code calls too.
pub fn pow(a: f32, b: f32) -> f32 {
    a.powf(b)
}

fn binary(op: BinaryFn, a: Val, b: Val) -> Option<Val> {
    let m = &mut ScalarMath;
    Some(match (a, b) {
        (Val::F(x), Val::F(y)) => Val::F(match op {
            BinaryFn::Add => x + y,
            BinaryFn::Sub => x - y,
            BinaryFn::Mul => x * y,
            BinaryFn::Div => x / y,
            BinaryFn::Min => math::min(m, x, y),
            BinaryFn::Max => math::max(m, x, y),
            BinaryFn::Pow => pow(x, y),
            _ => return None,
        }),
        (Val::I(x), Val::I(y)) => Val::I(match op {
            BinaryFn::Add => x.wrapping_add(y),
            BinaryFn::Sub => x.wrapping_sub(y),
            BinaryFn::Mul => x.wrapping_mul(y),
            BinaryFn::Min => x.min(y),
            BinaryFn::Max => x.max(y),
            _ => return None,
        }),
        (Val::L(x), Val::L(y)) => Val::L(match op {
            BinaryFn::Add => x.wrapping_add(y),
            BinaryFn::Sub => x.wrapping_sub(y),
            BinaryFn::Mul => x.wrapping_mul(y),
            BinaryFn::Min => x.min(y),
            BinaryFn::Max => x.max(y),
            _ => return None,
        }),
        (Val::B(x), Val::B(y)) => Val::B(match op {
            BinaryFn::And => x & y,
            BinaryFn::Or => x | y,
            BinaryFn::Xor => x ^ y,
            _ => return None,
        }),
        _ => return None,
    })
}

fn cast(to: ScalarType, x: Val) -> Val {
    match (to, x) {
        (ScalarType::F32, Val::F(v)) => Val::F(v),
        (ScalarType::F32, Val::I(v)) => Val::F(v as f32),
        (ScalarType::F32, Val::L(v)) => Val::F(v as f32),
        (ScalarType::F32, Val::B(v)) => Val::F(if v { 1.0 } else { 0.0 }),
        (ScalarType::I32, Val::F(v)) => Val::I(v as i32),
        (ScalarType::I32, Val::I(v)) => Val::I(v),
        (ScalarType::I32, Val::L(v)) => Val::I(v as i32),
        (ScalarType::I32, Val::B(v)) => Val::I(i32::from(v)),
        (ScalarType::I64, Val::F(v)) => Val::L(v as i64),
        (ScalarType::I64, Val::I(v)) => Val::L(i64::from(v)),
        (ScalarType::I64, Val::L(v)) => Val::L(v),
        (ScalarType::I64, Val::B(v)) => Val::L(i64::from(v)),
        (ScalarType::Bool, Val::F(v)) => Val::B(v != 0.0),
        (ScalarType::Bool, Val::I(v)) => Val::B(v != 0),
        (ScalarType::Bool, Val::L(v)) => Val::B(v != 0),
        (ScalarType::Bool, Val::B(v)) => Val::B(v),
    }
}
