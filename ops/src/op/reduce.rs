//! Reductions over a set of axes (ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd).
use super::util::{arity, f32_input, f32_output, want_dtype};
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReduceKind {
    Mean,
    Sum,
    Max,
    Min,
    Prod,
}

impl ReduceKind {
    pub fn name(&self) -> &'static str {
        match self {
            ReduceKind::Mean => "reduce-mean",
            ReduceKind::Sum => "reduce-sum",
            ReduceKind::Max => "reduce-max",
            ReduceKind::Min => "reduce-min",
            ReduceKind::Prod => "reduce-prod",
        }
    }
}

/// Reduces `axes` (sorted, normalized at import); `keepdims` keeps them as size 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reduce {
    pub kind: ReduceKind,
    pub axes: Vec<usize>,
    pub keepdims: bool,
}

impl Reduce {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        want_dtype(inputs, 0, DType::F32)?;
        let dims = inputs[0].shape.dims();
        if self.axes.iter().any(|&a| a >= dims.len()) {
            return Err(OpError::attr("axes", format!("{:?} out of range for {}", self.axes, inputs[0].shape)));
        }
        let out: Vec<usize> = dims
            .iter()
            .enumerate()
            .filter_map(|(a, &d)| match (self.axes.contains(&a), self.keepdims) {
                (false, _) => Some(d),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect();
        Ok(TensorType::f32(out))
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let x = f32_input(inputs, 0)?;
        let dims = inputs[0].dims();
        let strides = inputs[0].shape().strides();
        let init = match self.kind {
            ReduceKind::Mean | ReduceKind::Sum => 0.0,
            ReduceKind::Max => f32::NEG_INFINITY,
            ReduceKind::Min => f32::INFINITY,
            ReduceKind::Prod => 1.0,
        };
        // Output position = input coordinates with reduced axes dropped; accumulate in input order.
        let mut acc = vec![init; out.shape.numel()];
        let mut count = 0usize;
        for (i, &v) in x.iter().enumerate() {
            let mut o = 0;
            for (a, (&d, &s)) in dims.iter().zip(&strides).enumerate() {
                if !self.axes.contains(&a) {
                    o = o * d + (i / s) % d;
                }
            }
            acc[o] = match self.kind {
                ReduceKind::Mean | ReduceKind::Sum => acc[o] + v,
                ReduceKind::Max => acc[o].max(v),
                ReduceKind::Min => acc[o].min(v),
                ReduceKind::Prod => acc[o] * v,
            };
            if o == 0 {
                count += 1;
            }
        }
        if self.kind == ReduceKind::Mean {
            acc.iter_mut().for_each(|a| *a /= count.max(1) as f32);
        }
        f32_output(out, acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Op;

    #[test]
    fn mean_over_last_axis() {
        let x = Tensor::from_f32(vec![2, 2], vec![1.0, 3.0, 5.0, 7.0]).unwrap();
        let r = Reduce { kind: ReduceKind::Mean, axes: vec![1], keepdims: true };
        let y = Op::Reduce(r).eval(&[&x]).unwrap();
        assert_eq!(y.dims(), &[2, 1]);
        assert_eq!(y.as_f32().unwrap(), &[2.0, 6.0]);
    }
}
