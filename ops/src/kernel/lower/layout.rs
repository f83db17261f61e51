//! Layout lowerings: reshape (a copy), transpose, concat, slice and gather move element bytes unchanged
//! (`Copy`, exact for every dtype); constant pad selects between a clamped load and the pad value.
use super::{close, close_nest, declare, loop_or_zero, open_nest, row_major};
use crate::kernel::build::Builder;
use crate::kernel::{BinaryFn, BoundsMode, CmpFn, Kernel, KernelError};
use crate::op::{Concat, Gather, Pad, Slice, Transpose};
use crate::tensor::TensorType;

/// Copies `src` to `dst` along a nest with the given strides and offsets (`[dst, src]`).
fn copy_nest(
    b: &mut Builder,
    extents: &[usize],
    strides: [Vec<i64>; 2],
    offsets: [i64; 2],
    bufs: [crate::kernel::BufId; 2],
) {
    if let Some(nest) = open_nest(b, extents, &strides, &offsets) {
        b.copy(bufs[0], nest.index[0], bufs[1], nest.index[1]);
        close_nest(b, nest);
    }
}

pub(super) fn reshape(inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let mut b = Builder::new("reshape");
    let (ins, out) = declare(&mut b, inputs, output);
    let n = output.shape.numel();
    copy_nest(&mut b, &[n], [vec![1], vec![1]], [0, 0], [out, ins[0]]);
    Ok(b.finish())
}

pub(super) fn transpose(t: &Transpose, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let mut b = Builder::new("transpose");
    let (ins, out) = declare(&mut b, inputs, output);
    let is = row_major(inputs[0].shape.dims());
    let src: Vec<i64> = t.perm.iter().map(|&p| is[p]).collect();
    let od = output.shape.dims();
    copy_nest(&mut b, od, [row_major(od), src], [0, 0], [out, ins[0]]);
    Ok(b.finish())
}

pub(super) fn concat(c: &Concat, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let mut b = Builder::new("concat");
    let (ins, out) = declare(&mut b, inputs, output);
    let os = row_major(output.shape.dims());
    let mut at = 0i64;
    for (t, &buf) in inputs.iter().zip(&ins) {
        let d = t.shape.dims();
        copy_nest(&mut b, d, [os.clone(), row_major(d)], [at * os[c.axis], 0], [out, buf]);
        at += d[c.axis] as i64;
    }
    Ok(b.finish())
}

pub(super) fn slice(s: &Slice, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let mut b = Builder::new("slice");
    let (ins, out) = declare(&mut b, inputs, output);
    let is = row_major(inputs[0].shape.dims());
    let src: Vec<i64> = is.iter().zip(&s.steps).map(|(&st, &step)| st * step as i64).collect();
    let offset: i64 = is.iter().zip(&s.starts).map(|(&st, &start)| st * start as i64).sum();
    let od = output.shape.dims();
    copy_nest(&mut b, od, [row_major(od), src], [0, offset], [out, ins[0]]);
    Ok(b.finish())
}

pub(super) fn pad(p: &Pad, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let mut b = Builder::new("pad");
    let (ins, out) = declare(&mut b, inputs, output);
    let (od, id) = (output.shape.dims(), inputs[0].shape.dims());
    if od.contains(&0) {
        return Ok(b.finish());
    }
    let (os, is) = (row_major(od), row_major(id));
    let empty_input = id.contains(&0);
    let mut opened = Vec::new();
    let mut out_terms = Vec::new();
    let mut src_terms = Vec::new();
    let mut inside = b.bool(true);
    for a in 0..od.len() {
        let (c, o) = loop_or_zero(&mut b, od[a]);
        opened.push(o);
        out_terms.push((c, os[a]));
        if empty_input {
            continue;
        }
        // s = c - begin; inside while 0 <= s < id; the load index clamps s so it stays in bounds regardless.
        let begin = b.i64(p.begin[a] as i64);
        let s = b.sub(c, begin);
        let zero = b.i64(0);
        let ge = b.cmp(CmpFn::Ge, s, zero);
        let len = b.i64(id[a] as i64);
        let lt = b.cmp(CmpFn::Lt, s, len);
        let both = b.bin(BinaryFn::And, ge, lt);
        inside = b.bin(BinaryFn::And, inside, both);
        let clamped = b.clamp_i64(s, 0, id[a] as i64 - 1);
        src_terms.push((clamped, is[a]));
    }
    let oi = b.affine(&out_terms, 0);
    let pad = b.f32(p.value);
    let v = if empty_input {
        pad
    } else {
        let si = b.affine(&src_terms, 0);
        let x = b.load(ins[0], si);
        b.select(inside, x, pad)
    };
    b.store(out, oi, v);
    for o in opened.into_iter().rev() {
        close(&mut b, o);
    }
    Ok(b.finish())
}

pub(super) fn gather(g: &Gather, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let mut b = Builder::new("gather");
    let (ins, out) = declare(&mut b, inputs, output);
    let dims = inputs[0].shape.dims();
    let outer: usize = dims[..g.axis].iter().product();
    let inner: usize = dims[g.axis + 1..].iter().product();
    let len = dims[g.axis];
    let k = g.indices.len();
    if output.shape.numel() == 0 {
        return Ok(b.finish());
    }
    // The indices travel as a constant table and go through a trapping bounds check, as data-dependent indices
    // of a future dynamic gather will.
    let idx: Vec<i64> = g.indices.iter().map(|&i| i as i64).collect();
    let table = b.table_i64(&idx);
    let (o, lo) = loop_or_zero(&mut b, outer);
    let (j, lj) = loop_or_zero(&mut b, k);
    let raw = b.load(table, j);
    let sel = b.check_index(raw, len, BoundsMode::Trap);
    let (i, li) = loop_or_zero(&mut b, inner);
    let dst = b.affine(&[(o, (k * inner) as i64), (j, inner as i64), (i, 1)], 0);
    let row = b.affine(&[(o, (len * inner) as i64), (i, 1)], 0);
    let inner_k = b.i64(inner as i64);
    let off = b.mul(sel, inner_k);
    let src = b.add(row, off);
    b.copy(out, dst, ins[0], src);
    close(&mut b, li);
    close(&mut b, lj);
    close(&mut b, lo);
    Ok(b.finish())
}
