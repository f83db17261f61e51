//! The LayerNorm lowering: per row of the normalized axes, a sum reduction for the mean, a second for the
//! variance of the centered values, then one pass that normalizes and applies the broadcast scale and bias.
//! The same operation order as `op::layernorm` except the 4-lane reduction order of the two sums.
use super::{broadcast_strides, close, declare, loop_or_zero, row_major};
use crate::kernel::build::Builder;
use crate::kernel::{Kernel, KernelError, ReduceFn, UnaryFn, ValueId};
use crate::op::LayerNorm;
use crate::tensor::TensorType;

pub(super) fn layer_norm(ln: &LayerNorm, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let mut b = Builder::new("layer-norm");
    let (ins, out) = declare(&mut b, inputs, output);
    let dims = inputs[0].shape.dims();
    let norm = &dims[ln.axis..];
    let len: usize = norm.iter().product();
    let outer: usize = dims[..ln.axis].iter().product();
    if len == 0 || outer == 0 {
        return Ok(b.finish());
    }
    let (o, lo) = loop_or_zero(&mut b, outer);
    let n = b.f32(len as f32);
    let j = b.reduce(ReduceFn::Sum, len);
    let ix = b.affine(&[(o, len as i64), (j, 1)], 0);
    let x = b.load(ins[0], ix);
    let sum = b.end_reduce(x);
    let mean = b.div(sum, n);
    let j = b.reduce(ReduceFn::Sum, len);
    let ix = b.affine(&[(o, len as i64), (j, 1)], 0);
    let x = b.load(ins[0], ix);
    let d = b.sub(x, mean);
    let sq = b.mul(d, d);
    let ssq = b.end_reduce(sq);
    let var = b.div(ssq, n);
    let eps = b.f32(ln.epsilon);
    let ve = b.add(var, eps);
    let std = b.un(UnaryFn::Sqrt, ve);
    // One loop per normalized axis, so that scale and bias index with their own broadcast strides.
    let x_strides = row_major(norm);
    let operand_strides: Vec<Vec<i64>> = inputs[1..].iter().map(|t| broadcast_strides(norm, t.shape.dims())).collect();
    let mut vars: Vec<(ValueId, bool)> = Vec::with_capacity(norm.len());
    for &e in norm {
        vars.push(loop_or_zero(&mut b, e));
    }
    let mut terms = vec![(o, len as i64)];
    terms.extend(vars.iter().zip(&x_strides).map(|(&(v, _), &s)| (v, s)));
    let ix = b.affine(&terms, 0);
    let x = b.load(ins[0], ix);
    let d = b.sub(x, mean);
    let mut y = b.div(d, std);
    for (k, strides) in operand_strides.iter().enumerate() {
        let t: Vec<(ValueId, i64)> = vars.iter().zip(strides).map(|(&(v, _), &s)| (v, s)).collect();
        let at = b.affine(&t, 0);
        let p = b.load(ins[k + 1], at);
        y = if k == 0 { b.mul(y, p) } else { b.add(y, p) };
    }
    b.store(out, ix, y);
    for &(_, opened) in vars.iter().rev() {
        close(&mut b, opened);
    }
    close(&mut b, lo);
    Ok(b.finish())
}
