//! The reduced-precision numerics of the tiles, defined once: BF16 rounding and accumulation order, INT8
//! quantization and fixed-point requantization, element conversions (`vec.convert`), and the precision-aware
//! reference semantics of `Conv`, `Gemm` and `MatMul` on BF16 and INT8 operands. The simulator's kernels are
//! tested against these functions (INT8 bit for bit, BF16 bit for bit as well: the order is defined); it must
//! not decide how to compile (that is `accel_compiler::precision`).
//!
//! # BF16 (`bf16`)
//! - `f32 -> bf16` rounds to nearest, ties to even (`half::bf16::from_f32`); NaN stays NaN (quieted), infinities
//!   and signed zeros are kept, f32 subnormals round to bf16 subnormals, values past the largest finite bf16
//!   round to infinity. `bf16 -> f32` is exact.
//! - A BF16 `mac.conv` / `mac.matmul` multiplies bf16 x bf16 in f32 (exact: 8-bit significands, except below
//!   the f32 normal range) and accumulates in f32 with IEEE addition, no fused multiply-add, in this order:
//!   `acc = bias` (f32, 0 when absent), then `acc += x * w` over `(ic, ky, kx)` (convolution; padding
//!   positions contribute `0 * w`, as the MAC array multiplies the zero padding) or over `p` (matmul), then
//!   `acc += residual` (widened), then the activation in f32, then one rounding to bf16.
//!
//! # INT8 (`requant`, `int8`)
//! - Weights: int8, symmetric per output channel. Activations: int8 per tensor with a zero point
//!   (`real = scale * (q - zero)`). Bias: int32 in units of `scale_x * scale_w[c]`.
//! - Accumulation: `acc = bias[c] + sum (x - x_zero) * w` in wrapping two's-complement i32 (exact for any
//!   realistic depth, and then independent of order). Padding reads `x_zero` (contributes 0).
//! - Requantization (`requant::requantize`): `round(acc * m / 2^(31 - shift))` with the product exact in 64
//!   bits and ties rounded **away from zero**, once (not gemmlowp's two roundings), saturated to i32. With a
//!   residual `r`, its term `(r - r_zero) * r_mult / 2^(31 - r_shift)` is added to the exact product before
//!   that one rounding (`requant::requantize_sum`, exact in i128; since blob format 5.0). Then `y = y_zero +
//!   that`, clamped to `[y_min, y_max]` (which also implements a fused Relu or Clip; a LeakyReLU scales a
//!   negative sum once more before the zero point).
//! - Other fused activations (SiLU, Sigmoid, Tanh, HardSwish, HardSigmoid, GELU) are a 256-entry int8 lookup
//!   table (`table`): the value above is then the pre-activation in its own calibrated quantization, and the
//!   output is `table[y + 128]`. The table is carried in the `quant` operand; an int8 command with an `act`
//!   has one.
//! - Quantize (`f32 -> i8`): `clamp(round_half_even(x / scale) + zero, -128, 127)`, NaN -> `zero`;
//!   dequantize: `(q - zero) * scale` in f32 (both as ONNX QuantizeLinear/DequantizeLinear).
//! - Pooling (`pool`): max and average pools on int8 with one requantization of the window's max or sum.
//!
//! # Graph level
//! `Op::infer` / `Op::eval` hand `Conv`, `Gemm` and `MatMul` nodes whose first input is BF16 or I8 to
//! `infer` / `eval` here; their input conventions are in `bf16` and `int8`.
pub mod bf16;
pub(crate) mod conv_rows;
pub mod convert;
pub mod int8;
pub mod pool;
pub mod requant;
pub mod table;

#[cfg(test)]
pub(crate) mod tests;

use crate::error::OpError;
use crate::op::Op;
use crate::tensor::{Tensor, TensorType};
use crate::DType;

pub use convert::{convert, ConvertParams};
pub use requant::{quantize_multiplier, requantize, QuantHeader, QuantParams};

/// The geometry of one convolution block (as `mac.conv` sees it): `x` is `[in_c, in_h, in_w]`, `w` is
/// `[out_c, in_c/groups, kh, kw]`, the output `[out_c, out_h, out_w]`. Padding top/left shifts the window;
/// positions outside the block are padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    pub in_c: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub out_c: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    /// Top and left.
    pub pad: [usize; 2],
    pub groups: usize,
}

impl ConvGeom {
    /// Checks the geometry and the operand lengths.
    pub fn check(&self, x: usize, w: usize, y: usize) -> Result<(), OpError> {
        let g = self.groups;
        if g == 0 || self.in_c % g != 0 || self.out_c % g != 0 {
            return Err(OpError::attr("group", "must divide the input and output channels"));
        }
        if self.kernel.contains(&0) || self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err(OpError::attr("kernel/strides/dilations", "must all be >= 1"));
        }
        let prod = |d: &[usize]| d.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
        let want = |index: usize, dims: &[usize], have: usize| match prod(dims) {
            Some(n) if n == have => Ok(()),
            _ => Err(OpError::shape(index, format!("{have} elements, the geometry needs {dims:?}"))),
        };
        want(0, &[self.in_c, self.in_h, self.in_w], x)?;
        want(1, &[self.out_c, self.in_c / g, self.kernel[0], self.kernel[1]], w)?;
        want(0, &[self.out_c, self.out_h, self.out_w], y)
    }

    /// The input element read by output `(oy, ox)` at kernel offset `(ky, kx)` of input channel `xc`, or
    /// `None` in the padding.
    #[inline]
    pub fn input_index(&self, xc: usize, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<usize> {
        let iy = (oy * self.stride[0] + ky * self.dilation[0]).checked_sub(self.pad[0])?;
        let ix = (ox * self.stride[1] + kx * self.dilation[1]).checked_sub(self.pad[1])?;
        if iy >= self.in_h || ix >= self.in_w {
            return None;
        }
        Some((xc * self.in_h + iy) * self.in_w + ix)
    }

    /// The block geometry of batch item of an NCHW convolution with whole-tensor padding.
    pub fn of_conv(c: &crate::op::Conv, x: &[usize], out: &[usize]) -> Result<ConvGeom, OpError> {
        let ([_, ic, ih, iw], [_, oc, oh, ow]) = (x, out) else {
            return Err(OpError::shape(0, "expected NCHW"));
        };
        Ok(ConvGeom {
            in_c: *ic,
            in_h: *ih,
            in_w: *iw,
            out_c: *oc,
            out_h: *oh,
            out_w: *ow,
            kernel: c.kernel,
            stride: c.strides,
            dilation: c.dilations,
            pad: [c.pads[0], c.pads[1]],
            groups: c.group,
        })
    }
}

/// The compute dtype of a MAC node: the dtype of its first input.
fn mac_dtype(op: &Op, inputs: &[DType]) -> Option<DType> {
    match op {
        Op::Conv(_) | Op::Gemm(_) | Op::MatMul(_) => match inputs.first() {
            Some(d @ (DType::BF16 | DType::I8)) => Some(*d),
            _ => None,
        },
        _ => None,
    }
}

/// The output type of a reduced-precision MAC node, or `None` when `op` is not one (the f32 rules apply).
pub fn infer(op: &Op, inputs: &[TensorType]) -> Option<Result<TensorType, OpError>> {
    let dtypes: Vec<DType> = inputs.iter().map(|t| t.dtype).collect();
    Some(match (mac_dtype(op, &dtypes)?, op) {
        (DType::BF16, Op::Conv(c)) => bf16::infer_conv(c, inputs),
        (DType::BF16, Op::Gemm(g)) => bf16::infer_gemm(g, inputs),
        (DType::BF16, Op::MatMul(_)) => bf16::infer_matmul(inputs),
        (_, Op::Conv(c)) => int8::infer_conv(c, inputs),
        (_, Op::Gemm(g)) => int8::infer_gemm(g, inputs),
        (_, _) => int8::infer_matmul(inputs),
    })
}

/// Reference evaluation of a reduced-precision MAC node, or `None` when `op` is not one.
pub fn eval(op: &Op, inputs: &[&Tensor], out: &TensorType) -> Option<Result<Tensor, OpError>> {
    let dtypes: Vec<DType> = inputs.iter().map(|t| t.dtype()).collect();
    Some(match (mac_dtype(op, &dtypes)?, op) {
        (DType::BF16, Op::Conv(c)) => bf16::eval_conv(c, inputs, out),
        (DType::BF16, Op::Gemm(g)) => bf16::eval_gemm(g, inputs, out),
        (DType::BF16, Op::MatMul(_)) => bf16::eval_matmul(inputs, out),
        (_, Op::Conv(c)) => int8::eval_conv(c, inputs, out),
        (_, Op::Gemm(g)) => int8::eval_gemm(g, inputs, out),
        (_, _) => int8::eval_matmul(inputs, out),
    })
}

/// Checks that input `index` exists and has dtype `want`.
pub(crate) fn want(inputs: &[TensorType], index: usize, want: DType) -> Result<&TensorType, OpError> {
    match inputs.get(index) {
        Some(t) if t.dtype == want => Ok(t),
        Some(t) => Err(OpError::DType { index, expected: want.to_string(), got: t.dtype.to_string() }),
        None => Err(OpError::Arity { expected: format!("at least {}", index + 1), got: inputs.len() }),
    }
}

/// Signal-to-quantization-noise ratio of `got` against `want` in dB: `10 log10(sum want^2 / sum (got-want)^2)`
/// (infinite when they are equal). The error measure of the precision report.
pub fn sqnr_db(got: &[f32], want: &[f32]) -> f64 {
    let (mut s, mut n) = (0f64, 0f64);
    for (&g, &w) in got.iter().zip(want) {
        s += (w as f64) * (w as f64);
        n += (g as f64 - w as f64) * (g as f64 - w as f64);
    }
    if n == 0.0 {
        f64::INFINITY
    } else if s == 0.0 {
        f64::NEG_INFINITY
    } else {
        10.0 * (s / n).log10()
    }
}
