//! An innermost loop or reduction (a straight-line body): a 4-lane vector loop over the largest multiple of 4
//! iterations when `vector::plan` allows, then a scalar loop over the rest. A reduction keeps its four partials
//! in the vector's lanes, spills them to a stack slot (the vector loop covers a multiple of 4 elements, so
//! lane k holds partial k) and carries them into the scalar loop as rotating accumulators: this is exactly the
//! order `Inst::Reduce` defines, so native code and the interpreter agree bit for bit.
use super::math::{ClifMath, Wide, WideMath, MAX_WIDE};
use super::{rotate, vector, Translator};
use crate::host::HostError;
use accel_ops::kernel::math as kmath;
use accel_ops::kernel::{Inst, ReduceFn, UnaryFn};
use cranelift_codegen::ir::{types, InstBuilder, StackSlotData, StackSlotKind, Value};

/// Vector iterations per trip of the unrolled vector loop (Cranelift does not unroll). 6 measured best for
/// `exp` chains on Zen 4 (4: too little overlap; 8 and more: spills, x86-64 has 16 xmm registers).
const UNROLL: i64 = MAX_WIDE as i64;

impl Translator<'_, '_> {
    pub(super) fn region(&mut self, opener: usize, end: usize) -> Result<(), HostError> {
        let (extent, reduce) = match &self.vk.kernel().insts[opener] {
            Inst::Loop { extent } => (*extent, None),
            Inst::Reduce { op, extent } => (*extent, Some(*op)),
            _ => return Err(HostError::internal("region without a loop")),
        };
        let n = i64::try_from(extent).map_err(|_| HostError::internal("extent"))?;
        let plan = if n >= 4 { vector::plan(self.vk, opener, end) } else { None };
        self.stats.regions += 1;
        self.stats.vector_regions += usize::from(plan.is_some());
        let mut start = 0;
        let mut accs: Vec<Value> = match reduce {
            Some(op) => vec![self.identity(op, false); 4],
            None => Vec::new(),
        };
        if let Some(plan) = &plan {
            let m = n - n % 4;
            let mut acc = reduce.map(|op| self.identity(op, true));
            // The unrolled loop, then the remaining vectors (fewer than `UNROLL`, known at compile time) as one
            // straight-line trip: both cover multiples of 4 elements, so lanes stay partials.
            let big = if m >= 4 * UNROLL { m - m % (4 * UNROLL) } else { 0 };
            if big > 0 {
                let init: Vec<Value> = acc.into_iter().collect();
                let l = self.open_loop(0, big, 4 * UNROLL, &init, types::F32X4);
                let lane0s: Vec<Value> =
                    (0..UNROLL).map(|u| if u == 0 { l.j } else { self.b.ins().iadd_imm_s(l.j, 4 * u) }).collect();
                let a = self.vector_body(plan, opener, end, &lane0s, l.accs.first().copied(), reduce)?;
                let next: Vec<Value> = a.into_iter().collect();
                acc = self.close_loop(&l, 4 * UNROLL, &next).first().copied();
            }
            if big < m {
                let lane0s: Vec<Value> = (big..m).step_by(4).map(|j| self.b.ins().iconst(types::I64, j)).collect();
                acc = self.vector_body(plan, opener, end, &lane0s, acc, reduce)?;
            }
            if let Some(acc) = acc {
                accs = self.spill_lanes(acc);
            }
            start = m;
        }
        if start < n {
            let l = self.open_loop(start, n, 1, &accs, types::F32);
            self.vals[opener] = Some(l.j);
            for at in opener + 1..end {
                self.scalar(at)?;
            }
            let next = match (reduce, &self.vk.kernel().insts[end]) {
                (Some(op), Inst::End { value: Some(v) }) => {
                    let v = self.val(*v)?;
                    rotate(self.step(op, l.accs[0], v, false), &l.accs)
                }
                _ => Vec::new(),
            };
            accs = self.close_loop(&l, 1, &next);
        }
        if let Some(op) = reduce {
            // The scalar loop ran n - start steps with partial k starting in position k (start % 4 == 0).
            let r = self.combine(op, &accs, n - start);
            self.vals[end] = Some(r);
        }
        Ok(())
    }

    /// The four lanes of an f32x4 as scalars (through a stack slot).
    fn spill_lanes(&mut self, v: Value) -> Vec<Value> {
        let slot = match self.lanes_slot {
            Some(s) => s,
            None => {
                let s = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 16, 4));
                self.lanes_slot = Some(s);
                s
            }
        };
        let ptr = self.ptr;
        self.b.ins().stack_store(ptr, v, slot, 0);
        (0..4).map(|k| self.b.ins().stack_load(ptr, types::F32, slot, 4 * k)).collect()
    }

    /// Emits one trip of the vector loop: `lane0s.len()` vector iterations (lanes `lane0 .. lane0 + 4` each),
    /// interleaved instruction by instruction. Emitted one after the other, each iteration is one long
    /// dependency chain (an `exp` is ~30 dependent operations) and the out-of-order window holds too few of
    /// them to overlap; side by side, the CPU sees independent work at every step. Returns the new
    /// accumulator of a reduction, stepped by the iterations in order (the order `Inst::Reduce` defines).
    fn vector_body(
        &mut self,
        plan: &vector::Plan,
        opener: usize,
        end: usize,
        lane0s: &[Value],
        acc: Option<Value>,
        reduce: Option<ReduceFn>,
    ) -> Result<Option<Value>, HostError> {
        let len = end - opener;
        let mut copies: Vec<Iteration> = lane0s
            .iter()
            .map(|&j| {
                let mut vals = vec![None; len];
                vals[0] = Some(j);
                Iteration { vals, vecs: vec![None; len] }
            })
            .collect();
        for at in opener + 1..end {
            if plan.is_uniform(opener, at) {
                // The same in every iteration: emitted once (the mid-end optimizer may be off, see `keeps_order`).
                let (first, rest) = copies.split_first_mut().ok_or_else(|| HostError::internal("no iteration"))?;
                self.in_copy(opener, first, |t, _| t.scalar(at))?;
                let v = first.vals[at - opener];
                rest.iter_mut().for_each(|c| c.vals[at - opener] = v);
                continue;
            }
            if copies.len() > 1 && plan.is_vector(opener, at) && self.wide_inst(plan, opener, at, &mut copies)? {
                continue;
            }
            for c in &mut copies {
                self.in_copy(opener, c, |t, vecs| {
                    if plan.is_vector(opener, at) {
                        vecs[at - opener] = t.vector_inst(plan, opener, at, vecs)?;
                        Ok(())
                    } else {
                        t.scalar(at)
                    }
                })?;
            }
        }
        match (reduce, acc, &self.vk.kernel().insts[end]) {
            (Some(op), Some(mut acc), Inst::End { value: Some(v) }) => {
                for c in &mut copies {
                    let x = self.in_copy(opener, c, |t, vecs| t.vec_operand(plan, opener, *v, vecs))?;
                    acc = self.step(op, acc, x, true);
                }
                Ok(Some(acc))
            }
            _ => Ok(None),
        }
    }

    /// Emits a math function (`exp`, `sigmoid`, ...: long dependency chains) of vector instruction `at` for all
    /// iterations at once, operation by operation; false if `at` is not one.
    fn wide_inst(
        &mut self,
        plan: &vector::Plan,
        opener: usize,
        at: usize,
        copies: &mut [Iteration],
    ) -> Result<bool, HostError> {
        let (op, x) = match &self.vk.kernel().insts[at] {
            Inst::Unary { op, x } if is_chain(*op) => (*op, *x),
            _ => return Ok(false),
        };
        let xs = copies
            .iter_mut()
            .map(|c| self.in_copy(opener, c, |t, vecs| t.vec_operand(plan, opener, x, vecs)))
            .collect::<Result<Vec<Value>, HostError>>()?;
        let mut m = WideMath { m: ClifMath { b: &mut self.b, vector: true }, n: xs.len() };
        let x = Wide::new(&xs);
        let y = match op {
            UnaryFn::Exp => kmath::exp(&mut m, x),
            UnaryFn::Log => kmath::log(&mut m, x),
            UnaryFn::Tanh => kmath::tanh(&mut m, x),
            UnaryFn::Erf => kmath::erf(&mut m, x),
            _ => kmath::sigmoid(&mut m, x),
        };
        for (c, &y) in copies.iter_mut().zip(y.values()) {
            c.vecs[at - opener] = Some(y);
        }
        Ok(true)
    }

    /// Runs `f` with the values of `c` in place of the region's values in `self.vals` (and its vectors).
    fn in_copy<R>(
        &mut self,
        opener: usize,
        c: &mut Iteration,
        f: impl FnOnce(&mut Self, &mut [Option<Value>]) -> Result<R, HostError>,
    ) -> Result<R, HostError> {
        let range = opener..opener + c.vals.len();
        self.vals[range.clone()].swap_with_slice(&mut c.vals);
        let r = f(self, &mut c.vecs);
        self.vals[range].swap_with_slice(&mut c.vals);
        r
    }
}

/// One of the interleaved vector iterations of an unrolled trip: the scalar values (lane 0 of affine ones)
/// and the vectors of the region's instructions, indexed by `at - opener`.
struct Iteration {
    vals: Vec<Option<Value>>,
    vecs: Vec<Option<Value>>,
}

/// The unary functions `wide_inst` interleaves.
pub(super) fn is_chain(op: UnaryFn) -> bool {
    matches!(op, UnaryFn::Exp | UnaryFn::Log | UnaryFn::Tanh | UnaryFn::Erf | UnaryFn::Sigmoid)
}
