//! ONNX quantization operators. QuantizeLinear / DequantizeLinear on activations become `Op::Quant` (per
//! tensor: a scalar scale and zero point); on constants (weights, int32 biases) they fold at import, per axis
//! too. QLinearConv and QLinearMatMul expand to dequantize -> f32 Conv / MatMul on dequantized constant
//! weights -> quantize. The precision stage then runs each region between a dequantize and a quantize in int8
//! with the model's own scales (`accel_compiler::precision`). uint8 tensors are carried as int8 with the zero
//! point shifted by -128: the same real values, the same rounding and saturation.
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use crate::ir::ValueId;
use accel_ops::op::{Binary, BinaryOp, Cast, MatMul, Op, Quant};
use accel_ops::{DType, Tensor};

type Res = Result<(), ImportError>;

/// Scales and zero points of one quantization (one per tensor, or one per slice along an axis).
struct Params {
    scales: Vec<f32>,
    /// Zero points in the int8 carrier (uint8 ones shifted by -128).
    zeros: Vec<i32>,
}

/// The constant scale (input `si`) and zero point (input `zi`, default 0 of `default_dt`) of node `n`.
fn params(
    b: &Builder<'_>,
    n: &OnnxNode<'_>,
    si: usize,
    zi: usize,
    default_dt: DType,
) -> Result<(Params, DType), ImportError> {
    let scales = b.const_floats(n, si, "scale")?.ok_or_else(|| n.err(format!("input #{si} (scale) is required")))?;
    if scales.is_empty() || scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(n.err(format!("scales must be finite and > 0, got {scales:?}")));
    }
    let (zeros, dt) = match b.const_input(n, zi, "zero point")? {
        None => (vec![0; scales.len()], default_dt),
        Some(z) => {
            (z.to_i64_vec().map_err(|e| n.err(e.to_string()))?.into_iter().map(|v| v as i32).collect(), z.dtype())
        }
    };
    let shift = match dt {
        DType::U8 => 128,
        DType::I8 | DType::I32 => 0,
        other => return Err(n.err(format!("{other} quantization is unsupported (int8, uint8 and int32 biases are)"))),
    };
    if zeros.len() != scales.len() {
        return Err(n.err(format!("{} scales but {} zero points", scales.len(), zeros.len())));
    }
    Ok((Params { scales, zeros: zeros.into_iter().map(|z| z - shift).collect() }, dt))
}

/// The index of the per-axis parameter of each element of a tensor of `dims` (all 0 per tensor).
fn slice_index(dims: &[usize], axis: usize, count: usize) -> impl Fn(usize) -> usize + '_ {
    let inner: usize = dims.get(axis + 1..).map_or(1, |d| d.iter().product());
    let per = dims.get(axis).copied().unwrap_or(1);
    move |i| if count == 1 { 0 } else { (i / inner.max(1)) % per.max(1) }
}

/// The quantization axis; per-tensor parameters ignore it (the ONNX default axis 1 does not exist on a rank-1
/// tensor, and a scalar scale applies everywhere).
fn check_axis(n: &OnnxNode<'_>, dims: &[usize], p: &Params) -> Result<usize, ImportError> {
    if p.scales.len() == 1 {
        return Ok(0);
    }
    let axis = n.axis(n.int_or("axis", 1)?, dims.len().max(1), "axis")?;
    if p.scales.len() != 1 && dims.get(axis) != Some(&p.scales.len()) {
        return Err(n.err(format!("{} scales do not match axis {axis} of {dims:?}", p.scales.len())));
    }
    Ok(axis)
}

/// Dequantizes a constant (`(q - zero) * scale` per slice) into an f32 tensor.
fn dequantize_const(n: &OnnxNode<'_>, t: &Tensor, p: &Params, axis: usize, shift: i64) -> Result<Tensor, ImportError> {
    let q = t.to_i64_vec().map_err(|e| n.err(e.to_string()))?;
    let at = slice_index(t.dims(), axis, p.scales.len());
    let v =
        q.iter().enumerate().map(|(i, &q)| ((q - shift) - p.zeros[at(i)] as i64) as f32 * p.scales[at(i)]).collect();
    Tensor::from_f32(t.dims().to_vec(), v).map_err(|e| n.err(e.to_string()))
}

pub(super) fn quantize_linear(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 3)?;
    let x = b.input(n, 0)?;
    let (p, _) = params(b, n, 1, 2, DType::U8)?;
    let dims = b.dims(x).to_vec();
    let axis = check_axis(n, &dims, &p)?;
    if let (Some(t), true) = (b.constant(x), p.scales.len() > 1) {
        // Per-axis quantization of a constant (weights): fold now.
        let v = t.to_f32_vec();
        let at = slice_index(&dims, axis, p.scales.len());
        let q = v
            .iter()
            .enumerate()
            .map(|(i, &x)| accel_ops::numerics::requant::quantize(x, p.scales[at(i)], p.zeros[at(i)]))
            .collect();
        let t = Tensor::from_i8(dims.clone(), q).map_err(|e| n.err(e.to_string()))?;
        return b.const_out(n, t);
    }
    if p.scales.len() != 1 {
        return Err(n.err("per-axis quantization of activations is unsupported (per tensor is)"));
    }
    b.emit_out(n, Op::Quant(Quant { scale: p.scales[0], zero_point: p.zeros[0], to: DType::I8 }), &[x])?;
    Ok(())
}

pub(super) fn dequantize_linear(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 3)?;
    let x = b.input(n, 0)?;
    let (p, dt) = params(b, n, 1, 2, b.ty(x).dtype)?;
    let dims = b.dims(x).to_vec();
    let axis = check_axis(n, &dims, &p)?;
    if let Some(t) = b.constant(x) {
        // Weights and biases: dequantized once, here. A uint8 constant holds the unshifted values.
        let shift = if t.dtype() == DType::U8 { 128 } else { 0 };
        let t = dequantize_const(n, t, &p, axis, shift)?;
        return b.const_out(n, t);
    }
    let x = int8_carrier(b, n, x, "x")?;
    if p.scales.len() != 1 || b.ty(x).dtype != DType::I8 || dt == DType::I32 {
        return Err(n.err(format!("dequantizing a computed {} per axis or from int32 is unsupported", b.ty(x))));
    }
    b.emit_out(n, Op::Quant(Quant { scale: p.scales[0], zero_point: p.zeros[0], to: DType::F32 }), &[x])?;
    Ok(())
}

/// A computed uint8 tensor (a graph input declared uint8) in the int8 carrier: `x - 128`, exactly (through
/// f32, which holds every value), so the zero points shifted by -128 apply to it as to every other uint8 value. Anything else is
/// returned as it is.
pub(super) fn int8_carrier(
    b: &mut Builder<'_>,
    n: &OnnxNode<'_>,
    x: ValueId,
    what: &str,
) -> Result<ValueId, ImportError> {
    if b.ty(x).dtype != DType::U8 || b.constant(x).is_some() {
        return Ok(x);
    }
    let name = b.helper_name(n, &format!("{what}_f32"))?;
    let wide = b.emit(n, Op::Cast(Cast { to: DType::F32 }), &[x], &name)?;
    let k = Tensor::from_f32(vec![], vec![128.0]).map_err(|e| n.err(e.to_string()))?;
    let name = b.helper_name(n, &format!("{what}_128"))?;
    let k = b.add_const(n, &name, k)?;
    let name = b.helper_name(n, &format!("{what}_shifted"))?;
    let shifted = b.emit(n, Op::Binary(Binary { op: BinaryOp::Sub }), &[wide, k], &name)?;
    let name = b.helper_name(n, &format!("{what}_i8"))?;
    b.emit(n, Op::Cast(Cast { to: DType::I8 }), &[shifted], &name)
}

/// `x` (input #0 of `n`, int8, or a computed uint8 in its carrier) dequantized by inputs #`si`/#`zi`, as a
/// helper value.
fn dequantize_input(
    b: &mut Builder<'_>,
    n: &OnnxNode<'_>,
    x: ValueId,
    si: usize,
    zi: usize,
    what: &str,
) -> Result<ValueId, ImportError> {
    let (p, _) = params(b, n, si, zi, DType::U8)?;
    if p.scales.len() != 1 {
        return Err(n.err(format!("{what}: per-axis activation scales are unsupported")));
    }
    let x = int8_carrier(b, n, x, what)?;
    if b.ty(x).dtype != DType::I8 {
        return Err(n.err(format!("{what} must be a quantized (int8/uint8) tensor, got {}", b.ty(x))));
    }
    let name = b.helper_name(n, what)?;
    b.emit(n, Op::Quant(Quant { scale: p.scales[0], zero_point: p.zeros[0], to: DType::F32 }), &[x], &name)
}

/// Constant quantized weights (input #`wi`, scales #`wi+1`, zero points #`wi+2`) dequantized to f32, per
/// output channel along `axis`; also returns the per-channel scales.
fn dequantize_weights(
    b: &Builder<'_>,
    n: &OnnxNode<'_>,
    wi: usize,
    axis: usize,
) -> Result<(Tensor, Vec<f32>), ImportError> {
    let w = b.const_input(n, wi, "weights")?.ok_or_else(|| n.err("weights are required"))?;
    let (p, _) = params(b, n, wi + 1, wi + 2, w.dtype())?;
    let shift = if w.dtype() == DType::U8 { 128 } else { 0 };
    let dims = w.dims().to_vec();
    if p.scales.len() != 1 && dims.get(axis) != Some(&p.scales.len()) {
        return Err(n.err(format!("{} weight scales do not match {dims:?}", p.scales.len())));
    }
    let t = dequantize_const(n, w, &p, axis, shift)?;
    Ok((t, p.scales))
}

/// Quantizes the f32 `y` by inputs #`si`/#`zi` into output #0.
fn quantize_out(b: &mut Builder<'_>, n: &OnnxNode<'_>, y: ValueId, si: usize, zi: usize) -> Res {
    let (p, _) = params(b, n, si, zi, DType::U8)?;
    if p.scales.len() != 1 {
        return Err(n.err("per-axis output scales are unsupported"));
    }
    b.emit_out(n, Op::Quant(Quant { scale: p.scales[0], zero_point: p.zeros[0], to: DType::I8 }), &[y])?;
    Ok(())
}

/// QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B?).
pub(super) fn qlinear_conv(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 8, 9)?;
    let x = b.input(n, 0)?;
    let xf = dequantize_input(b, n, x, 1, 2, "x")?;
    let x_scale = b.const_floats(n, 1, "x_scale")?.unwrap_or_default();
    let (w, w_scales) = dequantize_weights(b, n, 3, 0)?;
    let wv = b.add_const(n, &b.helper_name(n, "w")?, w)?;
    let op = super::conv::conv_op(b, n, xf, wv)?;
    let mut inputs = vec![xf, wv];
    if let Some(bias) = b.const_input(n, 8, "bias")? {
        // int32 bias in units of x_scale * w_scale[c].
        let q = bias.to_i64_vec().map_err(|e| n.err(e.to_string()))?;
        let sx = x_scale.first().copied().unwrap_or(1.0);
        let v = q
            .iter()
            .enumerate()
            .map(|(c, &q)| q as f32 * sx * w_scales[if w_scales.len() == 1 { 0 } else { c % w_scales.len() }])
            .collect();
        let t = Tensor::from_f32(vec![q.len()], v).map_err(|e| n.err(e.to_string()))?;
        inputs.push(b.add_const(n, &b.helper_name(n, "bias")?, t)?);
    }
    let name = b.helper_name(n, "y")?;
    let y = b.emit(n, op, &inputs, &name)?;
    quantize_out(b, n, y, 6, 7)
}

/// QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp) with a constant 2-D `b`.
pub(super) fn qlinear_matmul(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 8, 8)?;
    let a = b.input(n, 0)?;
    let af = dequantize_input(b, n, a, 1, 2, "a")?;
    let (w, _) = dequantize_weights(b, n, 3, 1)?;
    let wv = b.add_const(n, &b.helper_name(n, "b")?, w)?;
    let name = b.helper_name(n, "y")?;
    let y = b.emit(n, Op::MatMul(MatMul), &[af, wv], &name)?;
    quantize_out(b, n, y, 6, 7)
}
