//! Reduction lowerings: ReduceMean/Sum/Max/Min/Prod over any set of axes (kept axes as loops, reduced axes as
//! nested `Reduce`s, adjacent axes merged) and Softmax/LogSoftmax (max; exponentials stored and summed in one
//! pass; normalize).
use super::{close, declare, loop_or_zero, row_major};
use crate::kernel::build::Builder;
use crate::kernel::{BinaryFn, Kernel, KernelError, ReduceFn, UnaryFn, ValueId};
use crate::op::{Reduce, ReduceKind, Softmax};
use crate::tensor::TensorType;

pub(super) fn softmax(s: &Softmax, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let mut b = Builder::new(if s.log { "log-softmax" } else { "softmax" });
    let (ins, out) = declare(&mut b, inputs, output);
    let dims = inputs[0].shape.dims();
    if dims.contains(&0) {
        return Ok(b.finish());
    }
    let len = dims.get(s.axis).copied().unwrap_or(1);
    let inner: usize = dims[s.axis + 1..].iter().product();
    let outer: usize = dims[..s.axis].iter().product();
    let (o, lo) = loop_or_zero(&mut b, outer);
    let (i, li) = loop_or_zero(&mut b, inner);
    // at(j) = (o * len + j) * inner + i
    let at = |b: &mut Builder, j: ValueId| b.affine(&[(o, (len * inner) as i64), (j, inner as i64), (i, 1)], 0);
    let j = b.reduce(ReduceFn::Max, len);
    let ix = at(&mut b, j);
    let x = b.load(ins[0], ix);
    let max = b.end_reduce(x);
    if s.log {
        let j = b.reduce(ReduceFn::Sum, len);
        let ix = at(&mut b, j);
        let x = b.load(ins[0], ix);
        let e = b.sub(x, max);
        let e = b.un(UnaryFn::Exp, e);
        let sum = b.end_reduce(e);
        let log_sum = b.un(UnaryFn::Log, sum);
        let j = b.loop_(len);
        let ix = at(&mut b, j);
        let x = b.load(ins[0], ix);
        let e = b.sub(x, max);
        let y = b.sub(e, log_sum);
        b.store(out, ix, y);
        b.end();
    } else {
        // The exponentials go to the output and are summed in the same pass (a reduction body may store);
        // then divided in place: `exp` once per element (a row is usually small enough to stay in cache
        // between the passes). Element j still goes into partial j % PARTIALS, as a separate sum over the
        // stored values would add them.
        let j = b.reduce(ReduceFn::Sum, len);
        let ix = at(&mut b, j);
        let x = b.load(ins[0], ix);
        let e = b.sub(x, max);
        let e = b.un(UnaryFn::Exp, e);
        b.store(out, ix, e);
        let sum = b.end_reduce(e);
        // One division per row, then a multiply per element (a vector division costs several multiplies;
        // the reciprocal adds at most one rounding, well inside the reference tolerance).
        let one = b.f32(1.0);
        let inv = b.div(one, sum);
        let j = b.loop_(len);
        let ix = at(&mut b, j);
        let e = b.load(out, ix);
        let y = b.mul(e, inv);
        b.store(out, ix, y);
        b.end();
    }
    close(&mut b, li);
    close(&mut b, lo);
    Ok(b.finish())
}

pub(super) fn reduce(r: &Reduce, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let mut b = Builder::new(r.kind.name());
    let (ins, out) = declare(&mut b, inputs, output);
    if output.shape.numel() == 0 {
        return Ok(b.finish());
    }
    let dims = inputs[0].shape.dims();
    let strides = row_major(dims);
    // Group axes into runs of kept / reduced axes, dropping extent-1 axes and merging adjacent ones of a kind
    // (contiguous in the input, so one loop covers the run).
    let mut kept: Vec<(usize, i64)> = Vec::new();
    let mut reduced: Vec<(usize, i64)> = Vec::new();
    let mut last_kind: Option<bool> = None;
    for (a, &d) in dims.iter().enumerate() {
        let is_reduced = r.axes.contains(&a);
        if d == 1 {
            continue;
        }
        let list = if is_reduced { &mut reduced } else { &mut kept };
        match list.last_mut() {
            Some((e, s)) if last_kind == Some(is_reduced) && *s == strides[a] * d as i64 => {
                *e *= d;
                *s = strides[a];
            }
            _ => list.push((d, strides[a])),
        }
        last_kind = Some(is_reduced);
    }
    let count: usize = r.axes.iter().map(|&a| dims[a]).product();
    let op = match r.kind {
        ReduceKind::Mean | ReduceKind::Sum => ReduceFn::Sum,
        ReduceKind::Max => ReduceFn::Max,
        ReduceKind::Min => ReduceFn::Min,
        ReduceKind::Prod => ReduceFn::Prod,
    };
    let loops: Vec<ValueId> = kept.iter().map(|(e, _)| b.loop_(*e)).collect();
    let out_terms: Vec<(ValueId, i64)> = {
        let extents: Vec<usize> = kept.iter().map(|(e, _)| *e).collect();
        loops.iter().copied().zip(row_major(&extents)).collect()
    };
    let base_terms: Vec<(ValueId, i64)> = loops.iter().zip(&kept).map(|(&v, (_, s))| (v, *s)).collect();
    let mut vars = Vec::new();
    for &(e, _) in &reduced {
        vars.push(b.reduce(op, e));
    }
    let mut terms = base_terms;
    terms.extend(vars.iter().zip(&reduced).map(|(&v, (_, s))| (v, *s)));
    let ix = b.affine(&terms, 0);
    let mut acc = b.load(ins[0], ix);
    if vars.is_empty() {
        // No axis reduced: the reference still folds each element into the identity once.
        let id = b.f32(crate::kernel::reduce_identity(op));
        let f = match op {
            ReduceFn::Sum => BinaryFn::Add,
            ReduceFn::Prod => BinaryFn::Mul,
            ReduceFn::Max => BinaryFn::Max,
            ReduceFn::Min => BinaryFn::Min,
        };
        acc = b.bin(f, id, acc);
    }
    for _ in &vars {
        acc = b.end_reduce(acc);
    }
    if r.kind == ReduceKind::Mean {
        let n = b.f32(count.max(1) as f32);
        acc = b.div(acc, n);
    }
    let oi = b.affine(&out_terms, 0);
    b.store(out, oi, acc);
    for _ in &loops {
        b.end();
    }
    Ok(b.finish())
}
