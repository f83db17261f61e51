//! Boolean logic (And, Or, Xor with numpy broadcasting; Not) on bool tensors.
use super::util::{arity, broadcast_index, want_dtype};
use crate::error::OpError;
use crate::shape::broadcast;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LogicOp {
    And,
    Or,
    Xor,
    /// Unary: one operand.
    Not,
}

impl LogicOp {
    pub fn name(self) -> &'static str {
        match self {
            LogicOp::And => "and",
            LogicOp::Or => "or",
            LogicOp::Xor => "xor",
            LogicOp::Not => "not",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logic {
    pub op: LogicOp,
}

impl Logic {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        if self.op == LogicOp::Not {
            arity(inputs.len(), 1, 1)?;
            want_dtype(inputs, 0, DType::Bool)?;
            return Ok(inputs[0].clone());
        }
        arity(inputs.len(), 2, 2)?;
        want_dtype(inputs, 0, DType::Bool)?;
        want_dtype(inputs, 1, DType::Bool)?;
        Ok(TensorType { dtype: DType::Bool, shape: broadcast(&inputs[0].shape, &inputs[1].shape)? })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let a = inputs[0].as_bool()?;
        let od = out.shape.dims();
        if self.op == LogicOp::Not {
            return Tensor::from_bool(od.to_vec(), a.iter().map(|&x| !x).collect());
        }
        let b = inputs[1].as_bool()?;
        let (ad, bd) = (inputs[0].dims(), inputs[1].dims());
        let y = (0..out.shape.numel())
            .map(|i| {
                let (x, y) = (a[broadcast_index(od, ad, i)], b[broadcast_index(od, bd, i)]);
                match self.op {
                    LogicOp::And => x && y,
                    LogicOp::Or => x || y,
                    LogicOp::Xor | LogicOp::Not => x != y,
                }
            })
            .collect();
        Tensor::from_bool(od.to_vec(), y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_tables() {
        let a = Tensor::from_bool(vec![2, 2], vec![false, false, true, true]).unwrap();
        let b = Tensor::from_bool(vec![2], vec![false, true]).unwrap();
        let run = |op| {
            let l = Logic { op };
            let out = l.infer(&[a.ty(), b.ty()]).unwrap();
            l.eval(&[&a, &b], &out).unwrap().as_bool().unwrap().to_vec()
        };
        assert_eq!(run(LogicOp::And), [false, false, false, true]);
        assert_eq!(run(LogicOp::Or), [false, true, true, true]);
        assert_eq!(run(LogicOp::Xor), [false, true, true, false]);
        let not = Logic { op: LogicOp::Not };
        assert_eq!(not.eval(&[&b], &b.ty()).unwrap().as_bool().unwrap(), &[true, false]);
        let f = Tensor::from_f32(vec![1], vec![1.0]).unwrap();
        assert!(not.infer(&[f.ty()]).is_err());
    }
}
