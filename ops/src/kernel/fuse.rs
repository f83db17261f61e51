//! Elementwise fusion: composes a producer kernel into a consumer that reads the producer's output, so the
//! intermediate never goes through memory (one pass instead of two). Both kernels must be in the form the
//! elementwise lowerings emit: a loop nest, a straight-line body, one store at the row-major index of the loop
//! variables. Nests that coalesced axes differently are re-expressed over their common refinement (splitting
//! a loop variable is affine, so no division is needed).
use super::analysis::{affine_forms, Affine};
use super::{BufId, BufKind, Buffer, Inst, Kernel, KernelError, UnaryFn, ValueId};
use crate::DType;

/// A fused kernel and where each original buffer went (`None`: the intermediate, now gone).
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    pub kernel: Kernel,
    pub a_buffers: Vec<Option<BufId>>,
    pub b_buffers: Vec<Option<BufId>>,
}

struct Elementwise {
    extents: Vec<u64>,
    /// Instruction index of each loop, outermost first.
    loops: Vec<usize>,
    /// Instruction indices of the straight-line body.
    body: std::ops::Range<usize>,
    out: BufId,
    forms: Vec<Option<Affine>>,
}

impl Elementwise {
    /// Whether `index` is the row-major linear index of the loop variables.
    fn canonical(&self, index: ValueId) -> bool {
        let Some(Some(f)) = self.forms.get(index.index()) else { return false };
        let mut stride = 1i64;
        let mut want = Vec::new();
        for (&at, &e) in self.loops.iter().zip(&self.extents).rev() {
            if e > 1 {
                want.push((ValueId(at as u32), stride));
            }
            stride = stride.saturating_mul(e as i64);
        }
        want.sort();
        let mut got: Vec<(ValueId, i64)> = f.terms.clone();
        got.retain(|(v, _)| {
            let i = self.loops.iter().position(|&l| l == v.index());
            i.is_none_or(|i| self.extents[i] > 1)
        });
        f.offset == 0 && got == want
    }
}

fn recognize(k: &Kernel) -> Result<Elementwise, String> {
    let depth = k.insts.iter().take_while(|i| matches!(i, Inst::Loop { .. })).count();
    let extents: Vec<u64> = k.insts[..depth]
        .iter()
        .map(|i| match i {
            Inst::Loop { extent } => *extent,
            _ => 0,
        })
        .collect();
    let end = k.insts.len().checked_sub(depth).filter(|&e| e >= depth).ok_or("no loop body")?;
    if !k.insts[end..].iter().all(|i| matches!(i, Inst::End { value: None })) {
        return Err("not a single loop nest".into());
    }
    let mut store = None;
    for (at, inst) in k.insts[depth..end].iter().enumerate() {
        match inst {
            Inst::Loop { .. } | Inst::Reduce { .. } | Inst::End { .. } | Inst::Copy { .. } => {
                return Err("the body is not straight-line elementwise code".into());
            }
            Inst::Store { buf, index, .. } if store.is_none() => store = Some((depth + at, *buf, *index)),
            Inst::Store { .. } => return Err("more than one store".into()),
            _ => {}
        }
    }
    let (_, out, index) = store.ok_or("no store")?;
    let outputs = k.buffers.iter().filter(|b| b.kind == BufKind::Output).count();
    if outputs != 1 {
        return Err(format!("{outputs} output buffers"));
    }
    let loads_out = k.insts.iter().any(|i| matches!(i, Inst::Load { buf, .. } if *buf == out));
    if loads_out {
        return Err("reads its own output".into());
    }
    let ew = Elementwise { extents, loops: (0..depth).collect(), body: depth..end, out, forms: affine_forms(k) };
    if !ew.canonical(index) {
        return Err("the store is not at the row-major index of the loops".into());
    }
    Ok(ew)
}

/// Inner-cumulative products of a nest (`[1, e_last, e_last * e_prev, ..., total]`).
fn boundaries(extents: &[u64]) -> Option<Vec<u64>> {
    let mut out = vec![1u64];
    for &e in extents.iter().rev() {
        out.push(out.last()?.checked_mul(e)?);
    }
    Some(out)
}

/// For each axis of `extents`: the refined axes it covers, with the coefficient of each (`refined` holds, per
/// refined axis, its inner-cumulative product).
fn split(extents: &[u64], refined: &[u64]) -> Vec<Vec<(usize, i64)>> {
    let inner = boundaries(extents).unwrap_or_default();
    let d = extents.len();
    (0..d)
        .map(|t| {
            let (lo, hi) = (inner[d - 1 - t], inner[d - t]);
            refined
                .iter()
                .enumerate()
                .filter(|&(_, &p)| p >= lo && p < hi)
                .map(|(r, &p)| (r, (p / lo.max(1)) as i64))
                .collect()
        })
        .collect()
}

/// Fuses producer `a` into consumer `b`, which reads `a`'s output as its buffer `consumed`. Buffers of the
/// result: `a`'s except its output, then `b`'s except `consumed`.
pub fn fuse_elementwise(a: &Kernel, b: &Kernel, consumed: BufId) -> Result<Fused, KernelError> {
    let fail = |why: String| KernelError::Fuse { a: a.name.clone(), b: b.name.clone(), why };
    let ea = recognize(a).map_err(|w| fail(format!("{}: {w}", a.name)))?;
    let eb = recognize(b).map_err(|w| fail(format!("{}: {w}", b.name)))?;
    let out_a = &a.buffers[ea.out.index()];
    let inb = b.buffers.get(consumed.index()).ok_or_else(|| fail(format!("no buffer {}", consumed.0)))?;
    if inb.kind != BufKind::Input || inb.dtype != out_a.dtype || inb.len != out_a.len {
        return Err(fail(format!("buffer {} is not an input of {}[{}]", consumed.0, out_a.dtype, out_a.len)));
    }
    if matches!(out_a.dtype, DType::I8 | DType::U8) {
        return Err(fail(format!("the intermediate is {}: storing it narrows", out_a.dtype)));
    }
    let (ba, bb) = (boundaries(&ea.extents), boundaries(&eb.extents));
    let (Some(ba), Some(bb)) = (ba, bb) else { return Err(fail("loop nest too large".into())) };
    if ba.last() != bb.last() {
        return Err(fail("the loop nests cover different element counts".into()));
    }
    let mut cuts: Vec<u64> = ba.iter().chain(&bb).copied().collect();
    cuts.sort_unstable();
    cuts.dedup();
    if cuts.contains(&0) {
        return Err(fail("empty loop nest".into()));
    }
    if cuts.windows(2).any(|w| w[1] % w[0] != 0) {
        return Err(fail("the loop nests have no common refinement".into()));
    }
    // Refined axes, outermost first: extent and inner-cumulative product.
    let refined: Vec<(u64, u64)> = cuts.windows(2).rev().map(|w| (w[1] / w[0], w[0])).collect();
    let products: Vec<u64> = refined.iter().map(|r| r.1).collect();

    let mut out = Kernel { name: format!("{}+{}", a.name, b.name), buffers: Vec::new(), insts: Vec::new() };
    let keep = |bufs: &[Buffer], skip: BufId, out: &mut Kernel| -> Vec<Option<BufId>> {
        bufs.iter()
            .enumerate()
            .map(|(i, buf)| {
                (i != skip.index()).then(|| {
                    out.buffers.push(buf.clone());
                    BufId(out.buffers.len() as u32 - 1)
                })
            })
            .collect()
    };
    let a_buffers = keep(&a.buffers, ea.out, &mut out);
    let b_buffers = keep(&b.buffers, consumed, &mut out);
    let push = |out: &mut Kernel, inst: Inst| {
        out.insts.push(inst);
        ValueId(out.insts.len() as u32 - 1)
    };
    let vars: Vec<ValueId> = refined.iter().map(|&(e, _)| push(&mut out, Inst::Loop { extent: e })).collect();
    let var_values = |out: &mut Kernel, ew: &Elementwise| -> Vec<ValueId> {
        split(&ew.extents, &products)
            .into_iter()
            .map(|terms| {
                let mut acc: Option<ValueId> = None;
                for (r, c) in terms {
                    let term = if c == 1 {
                        vars[r]
                    } else {
                        let k = push(out, Inst::Const(super::Const::I64(c)));
                        push(out, Inst::Binary { op: super::BinaryFn::Mul, a: vars[r], b: k })
                    };
                    acc = Some(match acc {
                        None => term,
                        Some(x) => push(out, Inst::Binary { op: super::BinaryFn::Add, a: x, b: term }),
                    });
                }
                acc.unwrap_or_else(|| push(out, Inst::Const(super::Const::I64(0))))
            })
            .collect()
    };

    // Producer body: remap values and buffers; its store becomes the value the consumer reads.
    let mut map: Vec<Option<ValueId>> = vec![None; a.insts.len()];
    for (&l, v) in ea.loops.iter().zip(var_values(&mut out, &ea)) {
        map[l] = Some(v);
    }
    let mut stored = None;
    for at in ea.body.clone() {
        if let Inst::Store { value, .. } = &a.insts[at] {
            let value = map[value.index()].ok_or_else(|| fail(format!("{}: stored value", a.name)))?;
            stored = Some(if out_a.dtype == DType::BF16 {
                push(&mut out, Inst::Unary { op: UnaryFn::RoundBf16, x: value })
            } else {
                value
            });
            continue;
        }
        let inst = remap(&a.insts[at], &map, &a_buffers).ok_or_else(|| fail(format!("{}: operand", a.name)))?;
        map[at] = Some(push(&mut out, inst));
    }
    let stored = stored.ok_or_else(|| fail("producer stores nothing".into()))?;

    let mut map: Vec<Option<ValueId>> = vec![None; b.insts.len()];
    for (&l, v) in eb.loops.iter().zip(var_values(&mut out, &eb)) {
        map[l] = Some(v);
    }
    for at in eb.body.clone() {
        if let Inst::Load { buf, index } = &b.insts[at] {
            if *buf == consumed {
                if !eb.canonical(*index) {
                    return Err(fail("the consumer reads the intermediate at a different element".into()));
                }
                map[at] = Some(stored);
                continue;
            }
        }
        let inst = remap(&b.insts[at], &map, &b_buffers).ok_or_else(|| fail(format!("{}: operand", b.name)))?;
        let is_store = matches!(inst, Inst::Store { .. });
        let v = push(&mut out, inst);
        if !is_store {
            map[at] = Some(v);
        }
    }
    for _ in &vars {
        push(&mut out, Inst::End { value: None });
    }
    Ok(Fused { kernel: out, a_buffers, b_buffers })
}

/// `inst` with operands and buffers renamed; `None` if one has no new name.
fn remap(inst: &Inst, map: &[Option<ValueId>], bufs: &[Option<BufId>]) -> Option<Inst> {
    let v = |x: ValueId| map.get(x.index()).copied().flatten();
    let buf = |x: BufId| bufs.get(x.index()).copied().flatten();
    Some(match inst {
        Inst::Loop { .. } | Inst::Reduce { .. } | Inst::End { .. } => return None,
        Inst::Const(c) => Inst::Const(*c),
        Inst::Load { buf: b, index } => Inst::Load { buf: buf(*b)?, index: v(*index)? },
        Inst::Store { buf: b, index, value } => Inst::Store { buf: buf(*b)?, index: v(*index)?, value: v(*value)? },
        Inst::Copy { dst, dst_index, src, src_index } => {
            Inst::Copy { dst: buf(*dst)?, dst_index: v(*dst_index)?, src: buf(*src)?, src_index: v(*src_index)? }
        }
        Inst::Unary { op, x } => Inst::Unary { op: *op, x: v(*x)? },
        Inst::Binary { op, a, b } => Inst::Binary { op: *op, a: v(*a)?, b: v(*b)? },
        Inst::Compare { op, a, b } => Inst::Compare { op: *op, a: v(*a)?, b: v(*b)? },
        Inst::Select { cond, then, otherwise } => {
            Inst::Select { cond: v(*cond)?, then: v(*then)?, otherwise: v(*otherwise)? }
        }
        Inst::Cast { to, x } => Inst::Cast { to: *to, x: v(*x)? },
        Inst::CheckIndex { index, len, mode } => Inst::CheckIndex { index: v(*index)?, len: *len, mode: *mode },
    })
}
