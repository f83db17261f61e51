//! Per-tensor linear quantization (ONNX QuantizeLinear / DequantizeLinear with a scalar scale and zero point):
//! f32 or bf16 -> i8 when `to` is `I8`, i8 -> f32 or bf16 otherwise. The arithmetic is
//! `accel_ops::numerics::convert`, the same that `vec.convert` runs on the tiles.
use super::util::arity;
use crate::error::OpError;
use crate::numerics::convert::{convert_tensor, supported, ConvertParams};
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quant {
    /// Real value of one step; must be finite and > 0.
    pub scale: f32,
    pub zero_point: i32,
    /// `I8` quantizes; `F32` or `BF16` dequantizes an i8 input.
    pub to: DType,
}

impl Quant {
    /// `quantize` or `dequantize`, for printers.
    pub fn name(&self) -> &'static str {
        if self.to == DType::I8 {
            "quantize"
        } else {
            "dequantize"
        }
    }

    pub fn params(&self) -> ConvertParams {
        ConvertParams { scale: self.scale, zero: self.zero_point }
    }

    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return Err(OpError::attr("scale", format!("{} must be finite and > 0", self.scale)));
        }
        if !(-128..=127).contains(&self.zero_point) {
            return Err(OpError::attr("zero_point", format!("{} is outside int8", self.zero_point)));
        }
        let from = inputs[0].dtype;
        if supported(from, self.to) != Some(true) {
            return Err(OpError::DType {
                index: 0,
                expected: "f32/bf16 -> i8 or i8 -> f32/bf16".into(),
                got: format!("{from} -> {}", self.to),
            });
        }
        Ok(TensorType { dtype: self.to, shape: inputs[0].shape.clone() })
    }

    pub fn eval(&self, inputs: &[&Tensor], _out: &TensorType) -> Result<Tensor, OpError> {
        convert_tensor(inputs[0], self.to, Some(self.params()))
    }
}
