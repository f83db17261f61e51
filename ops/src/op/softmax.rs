//! Softmax over one axis (opset 13 semantics; older opsets are rewritten to this form at import).
use super::util::{arity, f32_input, f32_output, want_dtype};
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Softmax {
    pub axis: usize,
    /// LogSoftmax when set.
    pub log: bool,
}

impl Softmax {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        want_dtype(inputs, 0, DType::F32)?;
        // `axis` is stored normalized (the importer ran `normalize_axis`), so it is checked as it is: casting
        // it to i64 for `normalize_axis` turned a hostile `usize::MAX` into -1, an accepted axis. A scalar has
        // the one axis 0, as `normalize_axis` has it.
        let rank = inputs[0].shape.rank();
        if self.axis >= rank.max(1) {
            return Err(OpError::attr("axis", format!("{} is out of range for rank {rank}", self.axis)));
        }
        Ok(inputs[0].clone())
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let x = f32_input(inputs, 0)?;
        let dims = inputs[0].dims();
        let len = dims.get(self.axis).copied().unwrap_or(1);
        // `get`: a scalar (rank 0, axis 0) has no dims on either side.
        let inner: usize = dims.get(self.axis.saturating_add(1)..).unwrap_or_default().iter().product();
        let outer: usize = dims.get(..self.axis).unwrap_or_default().iter().product();
        let mut y = vec![0f32; x.len()];
        for o in 0..outer {
            for i in 0..inner {
                let at = |j: usize| (o * len + j) * inner + i;
                let max = (0..len).map(|j| x[at(j)]).fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = (0..len).map(|j| (x[at(j)] - max).exp()).sum();
                for j in 0..len {
                    let e = x[at(j)] - max;
                    y[at(j)] = if self.log { e - sum.ln() } else { e.exp() / sum };
                }
            }
        }
        f32_output(out, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Op;

    #[test]
    fn rows_sum_to_one() {
        let x = Tensor::from_f32(vec![2, 3], vec![1.0, 2.0, 3.0, 1000.0, 1000.0, 1000.0]).unwrap();
        let y = Op::Softmax(Softmax { axis: 1, log: false }).eval(&[&x]).unwrap();
        let y = y.as_f32().unwrap();
        assert!((y[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((y[4] - 1.0 / 3.0).abs() < 1e-6);
    }
}
