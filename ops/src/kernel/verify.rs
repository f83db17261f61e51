//! The kernel verifier: the one place that decides a kernel is safe to run. It type-checks every instruction,
//! checks that loops and reductions nest and that values are used only where they are in scope, bounds trip
//! counts, and proves every load, store and copy in bounds by interval arithmetic over loop bounds and index
//! expressions (i128 intermediates, so bounds never wrap: IREE PR #24763). Data-dependent indices are unbounded
//! until they pass a `CheckIndex` (or an explicit clamp). Code generators accept only `VerifiedKernel`s, which
//! only this module can make: native code is memory-safe because of this proof, not because of the code
//! generator (BAD-INPUT class 19).
use super::{BinaryFn, BufKind, Const, Inst, Kernel, KernelError, ReduceFn, ScalarType, UnaryFn, ValueId};
use crate::DType;

/// Caps on what a kernel may ask for, so that hostile kernels fail verification instead of running for days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyLimits {
    pub max_insts: usize,
    pub max_buffers: usize,
    /// Loop/reduction nesting depth.
    pub max_depth: usize,
    pub max_extent: u64,
    /// Loop iterations of the whole kernel: for every loop, its trip count times those of the loops around it,
    /// summed over all loops.
    pub max_iterations: u64,
    pub max_buffer_bytes: u64,
}

impl Default for VerifyLimits {
    fn default() -> Self {
        // 2^44 innermost iterations is hours of work: far above any real operator (a 2^31-element output with a
        // 4608-long reduction is 2^43), far below "never finishes".
        VerifyLimits {
            max_insts: 1 << 16,
            max_buffers: 1 << 10,
            max_depth: 16,
            max_extent: 1 << 32,
            max_iterations: 1 << 44,
            max_buffer_bytes: 1 << 36,
        }
    }
}

/// An inclusive integer interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub lo: i64,
    pub hi: i64,
}

/// A kernel that passed `verify`, with the facts the verifier established. Only `verify` makes one.
#[derive(Debug, Clone)]
pub struct VerifiedKernel {
    kernel: Kernel,
    types: Vec<Option<ScalarType>>,
    ranges: Vec<Option<Range>>,
    /// For `Loop`/`Reduce`: the index of the matching `End`; for `End`: the opener's index.
    matching: Vec<usize>,
    innermost: Vec<bool>,
    arg_bytes: Vec<usize>,
}

impl VerifiedKernel {
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }
    /// The type of the value `v` yields (`None` for stores, copies and loop ends).
    pub fn value_type(&self, v: ValueId) -> Option<ScalarType> {
        self.types.get(v.index()).copied().flatten()
    }
    /// The proven range of an integer value.
    pub fn range(&self, v: ValueId) -> Option<Range> {
        self.ranges.get(v.index()).copied().flatten()
    }
    /// The matching `End` of a `Loop`/`Reduce` at `at`, or the opener of an `End`.
    pub fn matching(&self, at: usize) -> usize {
        self.matching.get(at).copied().unwrap_or(at)
    }
    /// Whether the scope opened at `at` contains no nested loop or reduction.
    pub fn is_innermost(&self, at: usize) -> bool {
        self.innermost.get(at).copied().unwrap_or(false)
    }
    /// Byte sizes of the argument buffers, in argument order.
    pub fn arg_bytes(&self) -> &[usize] {
        &self.arg_bytes
    }
}

/// Verifies with the default limits.
pub fn verify(kernel: Kernel) -> Result<VerifiedKernel, KernelError> {
    verify_with(kernel, &VerifyLimits::default())
}

struct Frame {
    opener: usize,
    reduce: Option<ReduceFn>,
    dead: bool,
    iterations: u64,
}

/// Verifies `kernel` against `limits`.
pub fn verify_with(kernel: Kernel, limits: &VerifyLimits) -> Result<VerifiedKernel, KernelError> {
    let name = kernel.name.clone();
    let fail = |at: usize, why: String| KernelError::Invalid { kernel: name.clone(), at, why };
    let arg_bytes = check_buffers(&kernel, limits)?;
    let n = kernel.insts.len();
    if n > limits.max_insts {
        return Err(fail(n, format!("{n} instructions, over the limit of {}", limits.max_insts)));
    }
    let mut types: Vec<Option<ScalarType>> = vec![None; n];
    let mut ranges: Vec<Option<Range>> = vec![None; n];
    let mut matching = vec![0usize; n];
    let mut innermost = vec![false; n];
    // Scope of each value: the opener of the scope it was defined in (`usize::MAX` at top level).
    let mut scope = vec![usize::MAX; n];
    let mut open = vec![false; n];
    let mut stack: Vec<Frame> = Vec::new();
    let mut total = 0u64;

    for (at, inst) in kernel.insts.iter().enumerate() {
        let current = stack.last().map_or(usize::MAX, |f| f.opener);
        let dead = stack.last().is_some_and(|f| f.dead);
        let in_reduce = stack.iter().any(|f| f.reduce.is_some());
        scope[at] = current;
        // The type of an operand, if it is defined before `at`, yields a value and is in scope.
        let operand = |v: ValueId| -> Result<ScalarType, KernelError> {
            let i = v.index();
            if i >= at {
                return Err(fail(at, format!("operand %{i} is not defined before use")));
            }
            let visible = scope[i] == usize::MAX || open[scope[i]];
            match types[i] {
                Some(t) if visible => Ok(t),
                Some(_) => Err(fail(at, format!("operand %{i} is used outside its loop"))),
                None => Err(fail(at, format!("operand %{i} yields no value"))),
            }
        };
        let want = |v: ValueId, t: ScalarType| -> Result<(), KernelError> {
            let got = operand(v)?;
            if got != t {
                return Err(fail(at, format!("operand %{} is {got:?}, expected {t:?}", v.0)));
            }
            Ok(())
        };
        let in_bounds = |v: ValueId, len: u64, what: &str| -> Result<(), KernelError> {
            want(v, ScalarType::I64)?;
            if dead {
                return Ok(());
            }
            let r = ranges[v.index()].unwrap_or(FULL_I64);
            if r.lo < 0 || (r.hi as i128) >= len as i128 {
                return Err(fail(at, format!("{what} index %{} in [{}, {}] may leave [0, {len})", v.0, r.lo, r.hi)));
            }
            Ok(())
        };
        let buffer =
            |b: super::BufId| kernel.buffers.get(b.index()).ok_or_else(|| fail(at, format!("no buffer {}", b.0)));
        match inst {
            Inst::Loop { extent } | Inst::Reduce { extent, .. } => {
                let reduce = match inst {
                    Inst::Reduce { op, .. } => Some(*op),
                    _ => None,
                };
                if reduce.is_none() && in_reduce {
                    return Err(fail(at, "a loop inside a reduction (a reduction body has no loops)".into()));
                }
                if stack.len() >= limits.max_depth {
                    return Err(fail(at, format!("nesting deeper than {}", limits.max_depth)));
                }
                if *extent > limits.max_extent {
                    return Err(fail(at, format!("trip count {extent} over the limit of {}", limits.max_extent)));
                }
                let parent = stack.last().map_or(1, |f| f.iterations);
                // Iterations of this loop counting its enclosing loops, and of all loops so far together.
                let too_many = || fail(at, format!("loop nests run more than {} iterations", limits.max_iterations));
                let iterations =
                    parent.checked_mul(*extent).filter(|&i| i <= limits.max_iterations).ok_or_else(too_many)?;
                total = total.checked_add(iterations).filter(|&t| t <= limits.max_iterations).ok_or_else(too_many)?;
                if let Some(f) = stack.last() {
                    innermost[f.opener] = false;
                }
                innermost[at] = true;
                scope[at] = at;
                open[at] = true;
                types[at] = Some(ScalarType::I64);
                let hi = extent.saturating_sub(1).min(i64::MAX as u64) as i64;
                ranges[at] = Some(Range { lo: 0, hi });
                stack.push(Frame { opener: at, reduce, dead: dead || *extent == 0, iterations });
            }
            Inst::End { value } => {
                let Some(frame) = stack.pop() else {
                    return Err(fail(at, "end without a loop to close".into()));
                };
                match (frame.reduce, value) {
                    (None, None) => {}
                    (Some(_), Some(v)) => {
                        want(*v, ScalarType::F32)?;
                        types[at] = Some(ScalarType::F32);
                    }
                    (None, Some(_)) => return Err(fail(at, "a loop's end carries a value".into())),
                    (Some(_), None) => return Err(fail(at, "a reduction's end names no value".into())),
                }
                open[frame.opener] = false;
                matching[frame.opener] = at;
                matching[at] = frame.opener;
                scope[at] = stack.last().map_or(usize::MAX, |f| f.opener);
            }
            Inst::Const(c) => {
                types[at] = Some(c.ty());
                ranges[at] = match *c {
                    Const::I32(x) => Some(Range { lo: x.into(), hi: x.into() }),
                    Const::I64(x) => Some(Range { lo: x, hi: x }),
                    _ => None,
                };
            }
            Inst::Load { buf, index } => {
                let b = buffer(*buf)?;
                in_bounds(*index, b.len, "load")?;
                types[at] = Some(b.dtype.value_type());
                ranges[at] = dtype_range(b.dtype);
            }
            Inst::Store { buf, index, value } => {
                let b = buffer(*buf)?;
                if b.kind != BufKind::Output {
                    return Err(fail(at, format!("store to buffer {}, which is not an output", buf.0)));
                }
                in_bounds(*index, b.len, "store")?;
                want(*value, b.dtype.value_type())?;
            }
            Inst::Copy { dst, dst_index, src, src_index } => {
                if in_reduce {
                    return Err(fail(at, "a copy inside a reduction".into()));
                }
                let (d, s) = (buffer(*dst)?, buffer(*src)?);
                if d.kind != BufKind::Output {
                    return Err(fail(at, format!("copy to buffer {}, which is not an output", dst.0)));
                }
                if d.dtype != s.dtype {
                    return Err(fail(at, format!("copy from {} to {}", s.dtype, d.dtype)));
                }
                in_bounds(*dst_index, d.len, "copy destination")?;
                in_bounds(*src_index, s.len, "copy source")?;
            }
            Inst::Unary { op, x } => {
                let t = operand(*x)?;
                let ok = match op {
                    UnaryFn::Neg | UnaryFn::Abs => t != ScalarType::Bool,
                    UnaryFn::Not => t == ScalarType::Bool,
                    _ => t == ScalarType::F32,
                };
                if !ok {
                    return Err(fail(at, format!("{op:?} of {t:?}")));
                }
                types[at] = Some(t);
                ranges[at] = ranges[x.index()].map(|r| match op {
                    UnaryFn::Neg => interval(t, -(r.hi as i128), -(r.lo as i128)),
                    _ => {
                        let m = (r.lo as i128).abs().max((r.hi as i128).abs());
                        let lo =
                            if r.lo <= 0 && r.hi >= 0 { 0 } else { (r.lo as i128).abs().min((r.hi as i128).abs()) };
                        interval(t, lo, m)
                    }
                });
            }
            Inst::Binary { op, a, b } => {
                let (ta, tb) = (operand(*a)?, operand(*b)?);
                let ok = ta == tb
                    && match op {
                        BinaryFn::Add | BinaryFn::Sub | BinaryFn::Mul | BinaryFn::Min | BinaryFn::Max => {
                            ta != ScalarType::Bool
                        }
                        BinaryFn::Div | BinaryFn::Pow => ta == ScalarType::F32,
                        BinaryFn::And | BinaryFn::Or | BinaryFn::Xor => ta == ScalarType::Bool,
                    };
                if !ok {
                    return Err(fail(at, format!("{op:?} of {ta:?} and {tb:?}")));
                }
                types[at] = Some(ta);
                if let (Some(x), Some(y)) = (ranges[a.index()], ranges[b.index()]) {
                    ranges[at] = binary_range(*op, ta, x, y);
                }
            }
            Inst::Compare { a, b, .. } => {
                let (ta, tb) = (operand(*a)?, operand(*b)?);
                if ta != tb || ta == ScalarType::Bool {
                    return Err(fail(at, format!("comparison of {ta:?} and {tb:?}")));
                }
                types[at] = Some(ScalarType::Bool);
            }
            Inst::Select { cond, then, otherwise } => {
                want(*cond, ScalarType::Bool)?;
                let (tt, to) = (operand(*then)?, operand(*otherwise)?);
                if tt != to {
                    return Err(fail(at, format!("select between {tt:?} and {to:?}")));
                }
                types[at] = Some(tt);
                if let (Some(x), Some(y)) = (ranges[then.index()], ranges[otherwise.index()]) {
                    ranges[at] = Some(Range { lo: x.lo.min(y.lo), hi: x.hi.max(y.hi) });
                }
            }
            Inst::Cast { to, x } => {
                let from = operand(*x)?;
                types[at] = Some(*to);
                ranges[at] = match (from, *to) {
                    (ScalarType::I32 | ScalarType::I64, ScalarType::I32 | ScalarType::I64) => {
                        let r = ranges[x.index()].unwrap_or(FULL_I64);
                        Some(interval(*to, r.lo.into(), r.hi.into()))
                    }
                    (ScalarType::Bool, ScalarType::I32 | ScalarType::I64) => Some(Range { lo: 0, hi: 1 }),
                    (_, ScalarType::I32) => Some(FULL_I32),
                    (_, ScalarType::I64) => Some(FULL_I64),
                    _ => None,
                };
            }
            Inst::CheckIndex { index, len, .. } => {
                want(*index, ScalarType::I64)?;
                if *len == 0 || *len > i64::MAX as u64 {
                    return Err(fail(at, format!("bounds check against length {len}")));
                }
                let top = *len as i64 - 1;
                let r = ranges[index.index()].unwrap_or(FULL_I64);
                let (lo, hi) = (r.lo.max(0), r.hi.min(top));
                types[at] = Some(ScalarType::I64);
                ranges[at] = Some(if lo <= hi { Range { lo, hi } } else { Range { lo: 0, hi: top } });
            }
        }
    }
    if let Some(f) = stack.last() {
        return Err(fail(f.opener, "loop is never closed".into()));
    }
    Ok(VerifiedKernel { kernel, types, ranges, matching, innermost, arg_bytes })
}

const FULL_I64: Range = Range { lo: i64::MIN, hi: i64::MAX };
const FULL_I32: Range = Range { lo: i32::MIN as i64, hi: i32::MAX as i64 };

/// The interval `[lo, hi]` if it fits type `t`; otherwise the whole type (wrapping can give any value).
fn interval(t: ScalarType, lo: i128, hi: i128) -> Range {
    let full = if t == ScalarType::I32 { FULL_I32 } else { FULL_I64 };
    if lo >= full.lo as i128 && hi <= full.hi as i128 && lo <= hi {
        Range { lo: lo as i64, hi: hi as i64 }
    } else {
        full
    }
}

fn binary_range(op: BinaryFn, t: ScalarType, x: Range, y: Range) -> Option<Range> {
    let (a, b, c, d) = (x.lo as i128, x.hi as i128, y.lo as i128, y.hi as i128);
    Some(match op {
        BinaryFn::Add => interval(t, a + c, b + d),
        BinaryFn::Sub => interval(t, a - d, b - c),
        BinaryFn::Mul => {
            let p = [a * c, a * d, b * c, b * d];
            let lo = p.iter().copied().min().unwrap_or(0);
            let hi = p.iter().copied().max().unwrap_or(0);
            interval(t, lo, hi)
        }
        BinaryFn::Min => Range { lo: x.lo.min(y.lo), hi: x.hi.min(y.hi) },
        BinaryFn::Max => Range { lo: x.lo.max(y.lo), hi: x.hi.max(y.hi) },
        _ => return None,
    })
}

fn dtype_range(d: DType) -> Option<Range> {
    match d {
        DType::I8 => Some(Range { lo: -128, hi: 127 }),
        DType::U8 => Some(Range { lo: 0, hi: 255 }),
        DType::I32 => Some(FULL_I32),
        DType::I64 => Some(FULL_I64),
        _ => None,
    }
}

/// Checks buffer sizes and constant payloads; returns the byte sizes of the arguments.
fn check_buffers(kernel: &Kernel, limits: &VerifyLimits) -> Result<Vec<usize>, KernelError> {
    let fail = |buf: usize, why: String| KernelError::Buffer { kernel: kernel.name.clone(), buf, why };
    if kernel.buffers.len() > limits.max_buffers {
        return Err(fail(kernel.buffers.len(), format!("more than {} buffers", limits.max_buffers)));
    }
    let mut args = Vec::new();
    for (i, b) in kernel.buffers.iter().enumerate() {
        if b.dtype.value_type_checked().is_none() {
            return Err(fail(i, format!("{} buffers are not in the kernel IR (operator form only)", b.dtype)));
        }
        let bytes = b
            .len
            .checked_mul(b.dtype.size() as u64)
            .filter(|&n| n <= limits.max_buffer_bytes && n <= isize::MAX as u64)
            .ok_or_else(|| fail(i, format!("{} elements of {} is too large", b.len, b.dtype)))?;
        match &b.kind {
            BufKind::Const(data) if data.len() as u64 != bytes => {
                return Err(fail(i, format!("constant holds {} bytes, its type needs {bytes}", data.len())));
            }
            BufKind::Const(_) => {}
            BufKind::Input | BufKind::Output => args.push(bytes as usize),
        }
    }
    Ok(args)
}
