//! An innermost loop or reduction (a straight-line body): a 4-lane vector loop over the largest multiple of 4
//! iterations when `vector::plan` allows, then a scalar loop over the rest. A reduction keeps its four partials
//! in the vector's lanes, spills them to a stack slot (the vector loop covers a multiple of 4 elements, so
//! lane k holds partial k) and carries them into the scalar loop as rotating accumulators: this is exactly the
//! order `Inst::Reduce` defines, so native code and the interpreter agree bit for bit.
use super::{rotate, vector, Translator};
use crate::host::HostError;
use accel_ops::kernel::{Inst, ReduceFn};
use cranelift_codegen::ir::{types, InstBuilder, StackSlotData, StackSlotKind, Value};

/// Vector iterations per trip of the unrolled vector loop (Cranelift does not unroll).
const UNROLL: i64 = 4;

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
            // Unrolled loop, then single vectors: both cover multiples of 4 elements, so lanes stay partials.
            let big = if m >= 4 * UNROLL { m - m % (4 * UNROLL) } else { 0 };
            for (from, to, unroll) in [(0, big, UNROLL), (big, m, 1)] {
                if to <= from {
                    continue;
                }
                let init: Vec<Value> = acc.into_iter().collect();
                let l = self.open_loop(from, to, 4 * unroll, &init, types::F32X4);
                let mut a = l.accs.first().copied();
                for u in 0..unroll {
                    let lane0 = if u == 0 { l.j } else { self.b.ins().iadd_imm_s(l.j, 4 * u) };
                    a = self.vector_body(plan, opener, end, lane0, a, reduce)?;
                }
                let next: Vec<Value> = a.into_iter().collect();
                let exits = self.close_loop(&l, 4 * unroll, &next);
                acc = exits.first().copied();
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

    /// Emits one vector iteration (lanes `lane0 .. lane0 + 4`); returns the new accumulator of a reduction.
    fn vector_body(
        &mut self,
        plan: &vector::Plan,
        opener: usize,
        end: usize,
        lane0: Value,
        acc: Option<Value>,
        reduce: Option<ReduceFn>,
    ) -> Result<Option<Value>, HostError> {
        self.vals[opener] = Some(lane0);
        let mut vecs: Vec<Option<Value>> = vec![None; end - opener];
        for at in opener + 1..end {
            if plan.is_vector(opener, at) {
                vecs[at - opener] = self.vector_inst(plan, opener, at, &vecs)?;
            } else {
                self.scalar(at)?;
            }
        }
        match (reduce, acc, &self.vk.kernel().insts[end]) {
            (Some(op), Some(acc), Inst::End { value: Some(v) }) => {
                let x = self.vec_operand(plan, opener, *v, &vecs)?;
                Ok(Some(self.step(op, acc, x, true)))
            }
            _ => Ok(None),
        }
    }
}
