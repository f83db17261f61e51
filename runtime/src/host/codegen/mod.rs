//! Lowers a `VerifiedKernel` to one Cranelift function `fn(buffers: *const *mut u8) -> u32` (0, or 1 + the
//! instruction index of a trapping bounds check). One linear walk over the instructions with an explicit loop
//! stack: outer loops and reductions become scalar loops (header block with the induction variable and, for a
//! reduction, `PARTIALS` rotating accumulators as block parameters); each innermost loop or reduction is a region
//! (`region.rs`) emitted as an f32x4 loop when `vector::plan` allows, followed by a scalar remainder.
//! Every address comes from an index the verifier proved in bounds; nothing here decides what is safe.
use super::HostError;
use accel_ops::kernel::{Inst, ReduceFn, VerifiedKernel, PARTIALS};
use cranelift_codegen::ir::{
    types, AbiParam, Block, BlockArg, Function, InstBuilder, Signature, StackSlot, Type, Value,
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

mod math;
mod region;
mod scalar;
mod vector;

pub use math::flags;

/// The signature of every kernel: a pointer to the table of buffer pointers, returning the status.
pub fn kernel_signature(ptr: Type, call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.push(AbiParam::new(ptr));
    sig.returns.push(AbiParam::new(types::I32));
    sig
}

/// Whether `vk` is compiled with Cranelift's mid-end optimizer off, keeping the instruction order emitted here:
/// its e-graph elaboration would serialize the interleaved math chains of unrolled vector loops again
/// (`region::vector_body`). For a kernel with such a loop the interleaving is worth more than the optimizer
/// (1.6-1.8x on the `exp`-bound kernels of `jit_bench`); kernels without one keep the optimizer.
pub fn keeps_order(vk: &VerifiedKernel) -> bool {
    let insts = &vk.kernel().insts;
    (0..insts.len()).any(|pc| match &insts[pc] {
        Inst::Loop { extent } | Inst::Reduce { extent, .. } if *extent >= 8 && vk.is_innermost(pc) => {
            let end = vk.matching(pc);
            let chain = insts[pc + 1..end].iter().any(|i| matches!(i, Inst::Unary { op, .. } if region::is_chain(*op)));
            chain && vector::plan(vk, pc, end).is_some()
        }
        _ => false,
    })
}

/// A scalar loop being emitted: its blocks, induction variable and accumulators.
struct LoopBlocks {
    header: Block,
    exit: Block,
    j: Value,
    accs: Vec<Value>,
}

/// An open outer loop or reduction.
struct Frame {
    opener: usize,
    extent: i64,
    reduce: Option<ReduceFn>,
    blocks: LoopBlocks,
}

/// What the code generator did, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodegenStats {
    /// Innermost loops and reductions.
    pub regions: usize,
    /// Of those, the ones with a 4-lane vector loop.
    pub vector_regions: usize,
}

pub(super) struct Translator<'a, 'k> {
    vk: &'k VerifiedKernel,
    stats: CodegenStats,
    b: FunctionBuilder<'a>,
    ptr: Type,
    call_conv: CallConv,
    bases: Vec<Value>,
    /// The scalar value of each instruction (for a vector region: lane 0 of affine and uniform values).
    vals: Vec<Option<Value>>,
    lanes_slot: Option<StackSlot>,
    /// Within one trip of a vector loop (`region::vector_body`), shared by its iterations: the splat of each
    /// uniform operand, and copy 0's address of each vector load and store (the others add a constant offset).
    trip: vector::TripCache,
}

/// Fills `func` (whose signature is `kernel_signature`) with the code of `vk`.
pub fn translate(
    vk: &VerifiedKernel,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    ptr: Type,
    call_conv: CallConv,
    config: TargetFrontendConfig,
) -> Result<CodegenStats, HostError> {
    let b = FunctionBuilder::new(func, fctx);
    let n = vk.kernel().insts.len();
    let mut t = Translator {
        vk,
        stats: CodegenStats::default(),
        b,
        ptr,
        call_conv,
        bases: Vec::new(),
        vals: vec![None; n],
        lanes_slot: None,
        trip: vector::TripCache::default(),
    };
    let entry = t.b.create_block();
    t.b.append_block_params_for_function_params(entry);
    t.b.switch_to_block(entry);
    let table = t.b.block_params(entry)[0];
    for i in 0..vk.kernel().buffers.len() {
        let off = i32::try_from(i * ptr.bytes() as usize).map_err(|_| HostError::internal("too many buffers"))?;
        let base = t.b.ins().load(ptr, flags().with_readonly(), table, off);
        t.bases.push(base);
    }
    t.body()?;
    let ok = t.b.ins().iconst(types::I32, 0);
    t.b.ins().return_(&[ok]);
    t.b.seal_all_blocks();
    let stats = t.stats;
    t.b.finalize(config);
    Ok(stats)
}

impl Translator<'_, '_> {
    fn body(&mut self) -> Result<(), HostError> {
        let insts = &self.vk.kernel().insts;
        let mut stack: Vec<Frame> = Vec::new();
        let mut pc = 0;
        while pc < insts.len() {
            match &insts[pc] {
                Inst::Loop { .. } | Inst::Reduce { .. } if self.vk.is_innermost(pc) => {
                    let end = self.vk.matching(pc);
                    self.region(pc, end)?;
                    pc = end + 1;
                    continue;
                }
                Inst::Loop { extent } | Inst::Reduce { extent, .. } => {
                    let reduce = match &insts[pc] {
                        Inst::Reduce { op, .. } => Some(*op),
                        _ => None,
                    };
                    let extent = i64::try_from(*extent).map_err(|_| HostError::internal("extent"))?;
                    let init = match reduce {
                        Some(op) => vec![self.identity(op, false); PARTIALS],
                        None => Vec::new(),
                    };
                    let blocks = self.open_loop(0, extent, 1, &init, types::F32);
                    self.vals[pc] = Some(blocks.j);
                    stack.push(Frame { opener: pc, extent, reduce, blocks });
                }
                Inst::End { value } => {
                    let f = stack.pop().ok_or_else(|| HostError::internal("unbalanced end"))?;
                    let next = match (f.reduce, value) {
                        (Some(op), Some(v)) => {
                            let v = self.val(*v)?;
                            rotate(self.step(op, f.blocks.accs[0], v, false), &f.blocks.accs)
                        }
                        _ => Vec::new(),
                    };
                    let exits = self.close_loop(&f.blocks, 1, &next);
                    if let Some(op) = f.reduce {
                        let r = self.combine(op, &exits, f.extent);
                        self.vals[pc] = Some(r);
                    }
                    let _ = f.opener;
                }
                _ => self.scalar(pc)?,
            }
            pc += 1;
        }
        Ok(())
    }

    fn val(&self, v: accel_ops::kernel::ValueId) -> Result<Value, HostError> {
        self.vals.get(v.index()).copied().flatten().ok_or_else(|| HostError::internal("operand not emitted"))
    }

    /// Opens `for j in (start..end).step_by(step)` (the body runs while `j + step <= end`), carrying `accs`.
    fn open_loop(&mut self, start: i64, end: i64, step: i64, accs: &[Value], acc_ty: Type) -> LoopBlocks {
        let header = self.b.create_block();
        let body = self.b.create_block();
        let exit = self.b.create_block();
        let j = self.b.append_block_param(header, types::I64);
        let params: Vec<Value> = accs.iter().map(|_| self.b.append_block_param(header, acc_ty)).collect();
        for _ in accs {
            self.b.append_block_param(exit, acc_ty);
        }
        let s = self.b.ins().iconst(types::I64, start);
        let mut args = vec![BlockArg::from(s)];
        args.extend(accs.iter().map(|&a| BlockArg::from(a)));
        self.b.ins().jump(header, &args);
        self.b.switch_to_block(header);
        let last = end - step;
        let go = self.b.ins().icmp_imm_s(cranelift_codegen::ir::condcodes::IntCC::SignedLessThanOrEqual, j, last);
        let pass: Vec<BlockArg> = params.iter().map(|&a| BlockArg::from(a)).collect();
        self.b.ins().brif(go, body, &[], exit, &pass);
        self.b.switch_to_block(body);
        LoopBlocks { header, exit, j, accs: params }
    }

    /// Closes a loop: steps `j`, passes the new accumulators back, continues at the exit; returns its params.
    fn close_loop(&mut self, l: &LoopBlocks, step: i64, next_accs: &[Value]) -> Vec<Value> {
        let next = self.b.ins().iadd_imm_s(l.j, step);
        let mut args = vec![BlockArg::from(next)];
        args.extend(next_accs.iter().map(|&a| BlockArg::from(a)));
        self.b.ins().jump(l.header, &args);
        self.b.switch_to_block(l.exit);
        self.b.block_params(l.exit).to_vec()
    }

    /// The identity of a reduction, as a scalar or a splat.
    fn identity(&mut self, op: ReduceFn, vector: bool) -> Value {
        let s = self.b.ins().f32const(accel_ops::kernel::reduce_identity(op));
        if vector {
            self.b.ins().splat(types::F32X4, s)
        } else {
            s
        }
    }

    /// `acc op x`, exactly as `accel_ops::kernel::reduce_step`.
    fn step(&mut self, op: ReduceFn, acc: Value, x: Value, vector: bool) -> Value {
        let mut m = math::ClifMath { b: &mut self.b, vector };
        match op {
            ReduceFn::Sum => m.b.ins().fadd(acc, x),
            ReduceFn::Prod => m.b.ins().fmul(acc, x),
            ReduceFn::Max => accel_ops::kernel::math::reduce_max(&mut m, acc, x),
            ReduceFn::Min => accel_ops::kernel::math::reduce_min(&mut m, acc, x),
        }
    }

    /// The reduction result from rotating accumulators where position `k` holds partial
    /// `(offset + k) % PARTIALS` (after a scalar loop ending at element `offset`), combined exactly as
    /// `accel_ops::kernel::combine`.
    fn combine(&mut self, op: ReduceFn, accs: &[Value], offset: i64) -> Value {
        let n = PARTIALS as i64;
        let p: Vec<Value> = (0..n).map(|r| accs[(r - offset).rem_euclid(n) as usize]).collect();
        let mut q = [p[0], p[1], p[2], p[3]];
        for (l, ql) in q.iter_mut().enumerate() {
            for k in (4 + l..PARTIALS).step_by(4) {
                *ql = self.step(op, *ql, p[k], false);
            }
        }
        let a = self.step(op, q[0], q[1], false);
        let b = self.step(op, q[2], q[3], false);
        self.step(op, a, b, false)
    }
}

/// The accumulators for the next iteration: `(a1, a2, a3, new)`.
fn rotate(new: Value, accs: &[Value]) -> Vec<Value> {
    let mut next = accs[1..].to_vec();
    next.push(new);
    next
}
