//! A chain of elementwise steps fused into one vector operation (made by the compiler's e-graph stage, never
//! imported): `x` goes through unary functions and binary ops with broadcast operands, in order, without
//! materializing the intermediates. Each step rounds exactly as the unfused `Unary`/`Binary` node would.
use super::util::{arity, broadcast_index, f32_input, f32_output, want_dtype};
use super::{BinaryOp, UnaryOp};
use crate::error::OpError;
use crate::shape::broadcast;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

/// One step of a chain, applied to the running value `acc`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Step {
    /// `acc = op(acc)`.
    Unary(UnaryOp),
    /// `acc = acc op operands[operand]` (`operand` indexes the node's inputs after `x`).
    Binary { op: BinaryOp, operand: usize },
}

impl Step {
    /// The kebab-case name of the step's operator.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Unary(u) => u.name(),
            Step::Binary { op, .. } => op.name(),
        }
    }
}

/// Inputs `[x, operands...]`; every operand broadcasts into `x`'s shape, the output has `x`'s type (f32).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Elementwise {
    pub steps: Vec<Step>,
}

impl Elementwise {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, usize::MAX)?;
        if self.steps.is_empty() {
            return Err(OpError::attr("steps", "an elementwise chain needs at least one step"));
        }
        for i in 0..inputs.len() {
            want_dtype(inputs, i, DType::F32)?;
        }
        let x = &inputs[0];
        for (i, t) in inputs.iter().enumerate().skip(1) {
            if broadcast(&x.shape, &t.shape)? != x.shape {
                return Err(OpError::shape(i, format!("{} does not broadcast into {}", t.shape, x.shape)));
            }
        }
        let used = |k: usize| self.steps.iter().any(|s| matches!(s, Step::Binary { operand, .. } if *operand == k));
        for s in &self.steps {
            if let Step::Binary { operand, .. } = s {
                if operand + 1 >= inputs.len() {
                    return Err(OpError::attr("steps", format!("operand {operand} does not exist")));
                }
            }
        }
        if let Some(k) = (0..inputs.len() - 1).find(|&k| !used(k)) {
            return Err(OpError::attr("steps", format!("operand {k} is not used")));
        }
        Ok(x.clone())
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let mut acc = f32_input(inputs, 0)?.to_vec();
        let od = out.shape.dims();
        for s in &self.steps {
            match *s {
                Step::Unary(u) => acc.iter_mut().for_each(|v| *v = u.apply(*v)),
                Step::Binary { op, operand } => {
                    let b = f32_input(inputs, operand + 1)?;
                    let bd = inputs[operand + 1].dims();
                    for (i, v) in acc.iter_mut().enumerate() {
                        *v = op.apply(*v, b[broadcast_index(od, bd, i)]);
                    }
                }
            }
        }
        f32_output(out, acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{Binary, Op, Unary};

    #[test]
    fn chain_equals_the_unfused_ops_bit_for_bit() {
        let x = Tensor::from_f32(vec![1, 2, 1, 3], vec![-1.5, -0.25, 0.0, 0.5, 1.0, 2.75]).unwrap();
        let a = Tensor::from_f32(vec![2, 1, 1], vec![0.3, -1.7]).unwrap();
        let c = Tensor::from_f32(vec![], vec![1.1]).unwrap();
        let mul = Op::Binary(Binary { op: BinaryOp::Mul });
        let y = mul.eval(&[&x, &a]).unwrap();
        let y = Op::Unary(Unary { op: UnaryOp::Sigmoid }).eval(&[&y]).unwrap();
        let y = Op::Binary(Binary { op: BinaryOp::Sub }).eval(&[&y, &c]).unwrap();
        let steps = vec![
            Step::Binary { op: BinaryOp::Mul, operand: 0 },
            Step::Unary(UnaryOp::Sigmoid),
            Step::Binary { op: BinaryOp::Sub, operand: 1 },
        ];
        let fused = Op::Elementwise(Elementwise { steps }).eval(&[&x, &a, &c]).unwrap();
        assert_eq!(fused, y);
        assert_eq!(fused.dims(), &[1, 2, 1, 3]);
    }

    #[test]
    fn operands_must_broadcast_into_x_and_be_used() {
        let t = |d: &[usize]| TensorType::f32(d.to_vec());
        let add = |operand| Elementwise { steps: vec![Step::Binary { op: BinaryOp::Add, operand }] };
        assert!(add(0).infer(&[t(&[2, 3]), t(&[3])]).is_ok());
        assert!(add(0).infer(&[t(&[3]), t(&[2, 3])]).is_err());
        assert!(add(1).infer(&[t(&[2, 3]), t(&[3])]).is_err());
        assert!(add(0).infer(&[t(&[2, 3]), t(&[3]), t(&[1])]).is_err());
        assert!(Elementwise { steps: vec![] }.infer(&[t(&[2])]).is_err());
    }
}
