//! Elementwise binary arithmetic with numpy broadcasting.
use super::util::{arity, broadcast_index, f32_input, f32_output, want_dtype};
use crate::error::OpError;
use crate::shape::broadcast;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

/// The arithmetic function of a binary node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
}

impl BinaryOp {
    pub fn name(&self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::Max => "max",
            BinaryOp::Min => "min",
        }
    }

    pub fn apply(&self, a: f32, b: f32) -> f32 {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Pow => a.powf(b),
            BinaryOp::Max => a.max(b),
            BinaryOp::Min => a.min(b),
        }
    }

    /// Whether `a op b == b op a`, so the compiler may swap operands to put the broadcast one second.
    pub fn commutes(&self) -> bool {
        matches!(self, BinaryOp::Add | BinaryOp::Mul | BinaryOp::Max | BinaryOp::Min)
    }
}

/// A binary elementwise node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binary {
    pub op: BinaryOp,
}

impl Binary {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 2, 2)?;
        want_dtype(inputs, 0, DType::F32)?;
        want_dtype(inputs, 1, DType::F32)?;
        Ok(TensorType { dtype: DType::F32, shape: broadcast(&inputs[0].shape, &inputs[1].shape)? })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let (a, b) = (f32_input(inputs, 0)?, f32_input(inputs, 1)?);
        let od = out.shape.dims();
        let (ad, bd) = (inputs[0].dims(), inputs[1].dims());
        let y = (0..out.shape.numel())
            .map(|i| self.op.apply(a[broadcast_index(od, ad, i)], b[broadcast_index(od, bd, i)]))
            .collect();
        f32_output(out, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Op;

    #[test]
    fn per_channel_broadcast() {
        let x = Tensor::from_f32(vec![1, 2, 1, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let b = Tensor::from_f32(vec![2, 1, 1], vec![10.0, 20.0]).unwrap();
        let y = Op::Binary(Binary { op: BinaryOp::Add }).eval(&[&x, &b]).unwrap();
        assert_eq!(y.as_f32().unwrap(), &[11.0, 12.0, 23.0, 24.0]);
        assert_eq!(y.dims(), &[1, 2, 1, 2]);
    }
}
