//! ConvInteger and MatMulInteger: int8/uint8 operands minus their zero points, multiplied and summed into int32.
//! Each becomes `Quant` to f32 with scale 1 (the exact integer `q - zero`) on a computed operand, a constant
//! operand as the exact f32 integers `w - zero` (per output channel or column), the f32 `Conv`/`MatMul`, and a
//! `Cast` to int32. Every sum of integers in f32 is an integer, so the result is exact while the sums stay below
//! 2^24 and integer-valued (never truncated by the cast) beyond. The usual `Cast` to float and `Mul` by the
//! scales that follow then cancel the cast and fold into the weights in the e-graph (`simplify/int-cast-roundtrip`),
//! so that with a QuantizeLinear after them the layer is the QLinearConv pattern and runs on the INT8 tile
//! commands; otherwise it runs as f32 or bf16 like any other layer.
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use crate::ir::ValueId;
use accel_ops::op::{Cast, MatMul, Op, Quant};
use accel_ops::{DType, Tensor};

type Res = Result<(), ImportError>;

/// Most products one int32 output may sum: `K * 255 * 255` must stay below 2^31.
const MAX_K: usize = (i32::MAX as usize) / (255 * 255);

/// The zero points of input `zi` (raw values and their dtype), or `None` when absent.
fn zero_points(
    b: &Builder<'_>,
    n: &OnnxNode<'_>,
    zi: usize,
    what: &str,
) -> Result<Option<(Vec<i64>, DType)>, ImportError> {
    let Some(z) = b.const_input(n, zi, what)? else { return Ok(None) };
    if !matches!(z.dtype(), DType::I8 | DType::U8) || z.shape().rank() > 1 {
        return Err(n.err(format!("{what} must be an int8 or uint8 scalar or 1-D list, got {}", z.ty())));
    }
    Ok(Some((z.to_i64_vec().map_err(|e| n.err(e.to_string()))?, z.dtype())))
}

/// Operand #`i` of `n` as exact f32 integers `q - zero`, its zero points in input #`zi`. A constant is
/// converted now; its zero points are one per tensor or one per slice along `axis` (the output channels of
/// convolution weights, the columns of a matmul's right operand). A computed operand must be a quantized
/// (int8 carrier) tensor with one zero point; an absent one is uint8 0, as for QLinearConv.
fn integer_operand(
    b: &mut Builder<'_>,
    n: &OnnxNode<'_>,
    i: usize,
    zi: usize,
    axis: usize,
    what: &str,
) -> Result<ValueId, ImportError> {
    let v = b.input(n, i)?;
    // A zero point computed at run time (one value, on a computed operand); any other non-constant zero point
    // gets the usual "must be a constant" error below.
    let computed = |z: &ValueId| b.constant(*z).is_none() && b.constant(v).is_none() && b.ty(*z).shape.numel() == 1;
    if let Some(z) = b.opt_input(n, zi)?.filter(computed) {
        return computed_zero_point(b, n, v, z, what);
    }
    let zeros = zero_points(b, n, zi, &format!("{what} zero point"))?;
    if let Some(t) = b.constant(v) {
        if !matches!(t.dtype(), DType::I8 | DType::U8) {
            return Err(n.err(format!("{what} must be int8 or uint8, got {}", t.ty())));
        }
        let (zeros, zdt) = zeros.unwrap_or((vec![0], t.dtype()));
        if zdt != t.dtype() {
            return Err(n.err(format!("{what} is {} but its zero point is {zdt}", t.dtype())));
        }
        let dims = t.dims().to_vec();
        let slices = dims.get(axis).copied().unwrap_or(1);
        if zeros.len() != 1 && zeros.len() != slices {
            return Err(n.err(format!("{} {what} zero points do not match axis {axis} of {dims:?}", zeros.len())));
        }
        let inner: usize = dims.get(axis + 1..).map_or(1, |d| d.iter().product());
        let q = t.to_i64_vec().map_err(|e| n.err(e.to_string()))?;
        let at = |j: usize| if zeros.len() == 1 { 0 } else { (j / inner.max(1)) % slices.max(1) };
        let f: Vec<f32> = q.iter().enumerate().map(|(j, &q)| (q - zeros[at(j)]) as f32).collect();
        let t = Tensor::from_f32(dims, f).map_err(|e| n.err(e.to_string()))?;
        let name = b.helper_name(n, what)?;
        return b.add_const(n, &name, t);
    }
    let v = super::quant::int8_carrier(b, n, v, what)?;
    if b.ty(v).dtype != DType::I8 {
        return Err(n.err(format!("{what} must be a quantized (int8/uint8) tensor, got {}", b.ty(v))));
    }
    let zero = match zeros {
        None => -128,
        Some((z, dt)) if z.len() == 1 => z[0] - if dt == DType::U8 { 128 } else { 0 },
        Some((z, _)) => return Err(n.err(format!("{what}: {} zero points; a computed operand takes one", z.len()))),
    };
    let name = b.helper_name(n, what)?;
    b.emit(n, Op::Quant(Quant { scale: 1.0, zero_point: zero as i32, to: DType::F32 }), &[v], &name)
}

/// Computed operand `v` minus a zero point `z` computed at run time (DynamicQuantizeLinear's), as exact f32
/// integers. `v` may be the int8 carrier of a uint8 tensor: with a uint8 zero point it is shifted back first.
fn computed_zero_point(
    b: &mut Builder<'_>,
    n: &OnnxNode<'_>,
    v: ValueId,
    z: ValueId,
    what: &str,
) -> Result<ValueId, ImportError> {
    let (vt, zt) = (b.ty(v).clone(), b.ty(z).clone());
    let integer = |d: DType| matches!(d, DType::I8 | DType::U8);
    if !integer(vt.dtype) || !integer(zt.dtype) {
        return Err(n.err(format!("{what} ({vt}) and its computed zero point ({zt}) must be int8 or uint8")));
    }
    let e = super::composite::Expand { n };
    let vf = e.op(b, &format!("{what}_f32"), Op::Cast(Cast { to: DType::F32 }), &[v])?;
    let zf = e.op(b, &format!("{what}_zero_f32"), Op::Cast(Cast { to: DType::F32 }), &[z])?;
    // A uint8 zero point on an int8 value: the value is the carrier (q - 128) of a uint8 tensor.
    let zf = if vt.dtype == DType::I8 && zt.dtype == DType::U8 {
        let k = e.scalar(b, &format!("{what}_carrier"), 128.0)?;
        e.binary(b, &format!("{what}_zero_carried"), accel_ops::op::BinaryOp::Sub, zf, k)?
    } else {
        zf
    };
    e.binary(b, what, accel_ops::op::BinaryOp::Sub, vf, zf)
}

/// The f32 sum `acc` as the node's int32 output, once the sum length `k` is known not to overflow.
fn int32_out(b: &mut Builder<'_>, n: &OnnxNode<'_>, acc: ValueId, k: usize) -> Res {
    if k > MAX_K {
        return Err(n.err(format!("{k} products per output may overflow int32 (at most {MAX_K})")));
    }
    b.emit_out(n, Op::Cast(Cast { to: DType::I32 }), &[acc])?;
    Ok(())
}

/// ConvInteger(x, w, x_zero_point?, w_zero_point?) with Conv's attributes.
pub(super) fn conv_integer(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 4)?;
    let x = integer_operand(b, n, 0, 2, 1, "x")?;
    let w = integer_operand(b, n, 1, 3, 0, "w")?;
    let op = super::conv::conv_op(b, n, x, w)?;
    let name = b.helper_name(n, "acc")?;
    let acc = b.emit(n, op, &[x, w], &name)?;
    let k = b.dims(w).iter().skip(1).product();
    int32_out(b, n, acc, k)
}

/// MatMulInteger(a, b, a_zero_point?, b_zero_point?).
pub(super) fn matmul_integer(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 4)?;
    let a = integer_operand(b, n, 0, 2, 0, "a")?;
    let rank = b.dims(b.input(n, 1)?).len();
    let w = integer_operand(b, n, 1, 3, rank.saturating_sub(1), "b")?;
    let name = b.helper_name(n, "acc")?;
    let acc = b.emit(n, Op::MatMul(MatMul), &[a, w], &name)?;
    let k = b.dims(a).last().copied().unwrap_or(1);
    int32_out(b, n, acc, k)
}
