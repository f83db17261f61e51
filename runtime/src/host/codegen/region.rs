//! An innermost loop or reduction (a straight-line body): a 4-lane vector loop over the largest multiple of 4
//! iterations when `vector::plan` allows, then a scalar loop over the rest. A reduction keeps its `PARTIALS`
//! partials in the lanes of `VACCS` vector accumulators (vector iteration v steps accumulator v % VACCS, so
//! lane l of accumulator k holds partial 4k + l), spills them to a stack slot and carries them into the scalar
//! loop as rotating accumulators, or combines them in the lanes when no scalar iteration is left: this is
//! exactly the order `Inst::Reduce` defines, so native code and the interpreter agree bit for bit.
use super::math::{cast_flags, ClifMath, Wide, WideMath, MAX_WIDE};
use super::{rotate, vector, Translator};
use crate::host::HostError;
use accel_ops::kernel::math as kmath;
use accel_ops::kernel::{Inst, ReduceFn, UnaryFn, PARTIALS};
use cranelift_codegen::ir::{types, ConstantData, InstBuilder, StackSlotData, StackSlotKind, Value};

/// Vector iterations per trip of the unrolled vector loop (Cranelift does not unroll). 6 measured best for the
/// unfused `exp` on Zen 4 (4: too little overlap; 8 and more: spills, x86-64 has 16 xmm registers); the fused
/// `exp` runs as fast with 4 as with 6. A multiple of `VACCS`.
const UNROLL: i64 = MAX_WIDE as i64;
// A reduction over a math chain unrolls by `VACCS` instead (`Translator::unroll`).

/// The vector accumulators of a reduction: independent dependency chains (a max or an add per vector each).
const VACCS: usize = PARTIALS / 4;
// Every unrolled trip starts at a multiple of `VACCS` vectors, so copy u always steps accumulator u % VACCS.
const _: () = assert!(PARTIALS % 4 == 0 && MAX_WIDE % VACCS == 0);

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
            Some(op) => vec![self.identity(op, false); PARTIALS],
            None => Vec::new(),
        };
        if let Some(plan) = &plan {
            let m = n - n % 4;
            let mut vaccs: Vec<Value> = match reduce {
                Some(op) => vec![self.identity(op, true); VACCS],
                None => Vec::new(),
            };
            // The unrolled loop, then the remaining vectors (fewer than `unroll`, known at compile time) as one
            // straight-line trip: both cover multiples of 4 elements, so lanes stay partials.
            let unroll = self.unroll(opener, end, reduce.is_some());
            let big = if m >= 4 * unroll { m - m % (4 * unroll) } else { 0 };
            if big > 0 {
                let l = self.open_loop(0, big, 4 * unroll, &vaccs, types::F32X4);
                let lane0s: Vec<Value> =
                    (0..unroll).map(|u| if u == 0 { l.j } else { self.b.ins().iadd_imm_s(l.j, 4 * u) }).collect();
                let next = self.vector_body(plan, opener, end, &lane0s, &l.accs, reduce)?;
                vaccs = self.close_loop(&l, 4 * unroll, &next);
            }
            if big < m {
                let lane0s: Vec<Value> = (big..m).step_by(4).map(|j| self.b.ins().iconst(types::I64, j)).collect();
                vaccs = self.vector_body(plan, opener, end, &lane0s, &vaccs, reduce)?;
            }
            if let (Some(op), true) = (reduce, m == n) {
                // No scalar remainder: combine the partials where they are, in the lanes.
                let r = self.combine_lanes(op, &vaccs);
                self.vals[end] = Some(r);
                return Ok(());
            }
            if reduce.is_some() {
                // The scalar loop starts at element m: position k holds partial (m + k) % PARTIALS.
                let partials = self.spill_lanes(&vaccs);
                let r = m as usize % PARTIALS;
                accs = (0..PARTIALS).map(|k| partials[(r + k) % PARTIALS]).collect();
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
            // Position k holds partial (n + k) % PARTIALS (the scalar loop, if any, ended at element n).
            let r = self.combine(op, &accs, n);
            self.vals[end] = Some(r);
        }
        Ok(())
    }

    /// Vector iterations per trip of the region's unrolled loop: `UNROLL`, but `VACCS` for a reduction over a
    /// math chain (softmax's exponentials and their sum): its accumulators stay live across the trip, and six
    /// interleaved `exp`s beside them spill (x86-64 has 16 xmm registers); three do not (`jit_bench` softmax:
    /// 2.62 instead of 2.76 ms, medians of four alternated runs).
    fn unroll(&self, opener: usize, end: usize, reduce: bool) -> i64 {
        let insts = &self.vk.kernel().insts[opener + 1..end];
        let chain = insts.iter().any(|i| matches!(i, Inst::Unary { op, .. } if is_chain(*op)));
        if reduce && chain {
            VACCS as i64
        } else {
            UNROLL
        }
    }

    /// `accel_ops::kernel::combine` of the partials in `VACCS` vector accumulators (partial 4k + l in lane l of
    /// accumulator k), without taking them apart: lane-wise q_l = (p_l op p_{4+l}) op p_{8+l}, then
    /// (q_0 op q_1) op (q_2 op q_3) by two lane swaps, the same steps on the same operands in the same order,
    /// instead of a stack round trip and eleven dependent scalar steps between softmax's passes.
    fn combine_lanes(&mut self, op: ReduceFn, vaccs: &[Value]) -> Value {
        let mut q = vaccs[0];
        for &v in &vaccs[1..] {
            q = self.step(op, q, v, true);
        }
        let swapped = self.swap_lanes(q, [1, 0, 3, 2]);
        let pairs = self.step(op, q, swapped, true);
        let swapped = self.swap_lanes(pairs, [2, 3, 0, 1]);
        let r = self.step(op, pairs, swapped, true);
        self.b.ins().extractlane(r, 0)
    }

    /// The f32x4 `v` with lane i taken from lane `from[i]`.
    fn swap_lanes(&mut self, v: Value, from: [u8; 4]) -> Value {
        let bytes: Vec<u8> = from.iter().flat_map(|&l| (0..4).map(move |b| 4 * l + b)).collect();
        let mask = self.b.func.dfg.immediates.push(ConstantData::from(bytes));
        let x = self.b.ins().bitcast(types::I8X16, cast_flags(), v);
        let y = self.b.ins().shuffle(x, x, mask);
        self.b.ins().bitcast(types::F32X4, cast_flags(), y)
    }

    /// The lanes of `VACCS` f32x4 accumulators as scalars, accumulator by accumulator (through a stack slot).
    fn spill_lanes(&mut self, vs: &[Value]) -> Vec<Value> {
        let slot = match self.lanes_slot {
            Some(s) => s,
            None => {
                let bytes = 16 * VACCS as u32;
                let s = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, bytes, 4));
                self.lanes_slot = Some(s);
                s
            }
        };
        let ptr = self.ptr;
        for (k, &v) in (0i32..).zip(vs) {
            self.b.ins().stack_store(ptr, v, slot, 16 * k);
        }
        let lanes = 4 * vs.len() as i32;
        (0..lanes).map(|i| self.b.ins().stack_load(ptr, types::F32, slot, 4 * i)).collect()
    }

    /// Emits one trip of the vector loop: `lane0s.len()` vector iterations (lanes `lane0 .. lane0 + 4` each),
    /// interleaved instruction by instruction. Emitted one after the other, each iteration is one long
    /// dependency chain (an `exp` is ~12 dependent operations) and the out-of-order window holds too few of
    /// them to overlap; side by side, the CPU sees independent work at every step. Returns the new
    /// accumulators of a reduction: iteration u steps accumulator u % VACCS (the order `Inst::Reduce` defines,
    /// as trips start at multiples of `VACCS` vectors).
    fn vector_body(
        &mut self,
        plan: &vector::Plan,
        opener: usize,
        end: usize,
        lane0s: &[Value],
        accs: &[Value],
        reduce: Option<ReduceFn>,
    ) -> Result<Vec<Value>, HostError> {
        let len = end - opener;
        // Iteration u covers elements lane0s[0] + 4u.. (the callers space them so), which the trip cache's
        // address offsets rely on.
        let mut copies: Vec<Iteration> = (0i64..)
            .zip(lane0s)
            .map(|(u, &j)| {
                let mut vals = vec![None; len];
                vals[0] = Some(j);
                Iteration { u, vals, vecs: vec![None; len] }
            })
            .collect();
        self.trip = vector::TripCache::default();
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
        let result = self.step_accumulators(plan, opener, end, &mut copies, accs, reduce);
        self.trip = vector::TripCache::default();
        result
    }

    /// Steps the reduction's accumulators by the trip's iterations (none for a loop).
    fn step_accumulators(
        &mut self,
        plan: &vector::Plan,
        opener: usize,
        end: usize,
        copies: &mut [Iteration],
        accs: &[Value],
        reduce: Option<ReduceFn>,
    ) -> Result<Vec<Value>, HostError> {
        match (reduce, &self.vk.kernel().insts[end]) {
            (Some(op), Inst::End { value: Some(v) }) => {
                if accs.len() != VACCS {
                    return Err(HostError::internal("vector accumulators"));
                }
                let mut accs = accs.to_vec();
                for (u, c) in copies.iter_mut().enumerate() {
                    let x = self.in_copy(opener, c, |t, vecs| t.vec_operand(plan, opener, *v, vecs))?;
                    accs[u % VACCS] = self.step(op, accs[u % VACCS], x, true);
                }
                Ok(accs)
            }
            _ => Ok(Vec::new()),
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
        self.trip.copy = c.u;
        let r = f(self, &mut c.vecs);
        self.trip.copy = 0;
        self.vals[range].swap_with_slice(&mut c.vals);
        r
    }
}

/// One of the interleaved vector iterations of an unrolled trip: the scalar values (lane 0 of affine ones)
/// and the vectors of the region's instructions, indexed by `at - opener`.
struct Iteration {
    /// Its position in the trip.
    u: i64,
    vals: Vec<Option<Value>>,
    vecs: Vec<Option<Value>>,
}

/// The unary functions `wide_inst` interleaves.
pub(super) fn is_chain(op: UnaryFn) -> bool {
    matches!(op, UnaryFn::Exp | UnaryFn::Log | UnaryFn::Tanh | UnaryFn::Erf | UnaryFn::Sigmoid)
}
