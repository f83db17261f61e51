//! Layer normalization over the trailing axes `axis..rank` (ONNX LayerNormalization, opset 17):
//! `y = (x - mean) / sqrt(var + epsilon) * scale + bias`, mean and (biased) variance per row. Imported from
//! `LayerNormalization` and recognized by the e-graph from its decomposed form (ReduceMean, Sub, Pow,
//! ReduceMean, Add, Sqrt, Div), so one operator carries the layer to the host kernel.
use super::util::{arity, broadcast_index, f32_input, f32_output, want_dtype};
use crate::error::OpError;
use crate::shape::broadcast;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

/// Inputs `[x, scale, bias?]`; scale and bias broadcast into `x`'s normalized dims `x.shape[axis..]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerNorm {
    /// The first normalized axis (normalized at import: `0 <= axis < rank`).
    pub axis: usize,
    pub epsilon: f32,
}

impl LayerNorm {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 2, 3)?;
        for i in 0..inputs.len() {
            want_dtype(inputs, i, DType::F32)?;
        }
        let x = &inputs[0];
        let rank = x.shape.rank();
        if self.axis >= rank {
            return Err(OpError::attr("axis", format!("{} is out of range for rank {rank}", self.axis)));
        }
        if !self.epsilon.is_finite() || self.epsilon < 0.0 {
            return Err(OpError::attr("epsilon", format!("{} is not a finite non-negative number", self.epsilon)));
        }
        let norm = crate::shape::Shape(x.shape.dims()[self.axis..].to_vec());
        for (i, t) in inputs.iter().enumerate().skip(1) {
            if t.shape.rank() > norm.rank() || broadcast(&norm, &t.shape)? != norm {
                return Err(OpError::shape(i, format!("{} does not broadcast into the normalized {norm}", t.shape)));
            }
        }
        Ok(x.clone())
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let x = f32_input(inputs, 0)?;
        let scale = f32_input(inputs, 1)?;
        let bias = if inputs.len() > 2 { Some(f32_input(inputs, 2)?) } else { None };
        let norm = &inputs[0].dims()[self.axis..];
        let len: usize = norm.iter().product();
        let (sd, bd) = (inputs[1].dims(), inputs.get(2).map_or(&[][..], |b| b.dims()));
        let mut y = vec![0f32; x.len()];
        if len == 0 {
            return f32_output(out, y);
        }
        let n = len as f32;
        for (row, yr) in x.chunks(len).zip(y.chunks_mut(len)) {
            let mean = row.iter().fold(0.0f32, |a, &v| a + v) / n;
            let var = row.iter().fold(0.0f32, |a, &v| a + (v - mean) * (v - mean)) / n;
            let std = (var + self.epsilon).sqrt();
            for (j, (o, &v)) in yr.iter_mut().zip(row).enumerate() {
                let z = (v - mean) / std * scale[broadcast_index(norm, sd, j)];
                *o = match bias {
                    Some(b) => z + b[broadcast_index(norm, bd, j)],
                    None => z,
                };
            }
        }
        f32_output(out, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{Binary, BinaryOp, Op, Reduce, ReduceKind, Unary, UnaryOp};

    /// The decomposed form, operator by operator, as exporters write it.
    fn decomposed(x: &Tensor, scale: &Tensor, bias: &Tensor, axes: Vec<usize>, eps: f32) -> Tensor {
        let bin = |op, a: &Tensor, b: &Tensor| Op::Binary(Binary { op }).eval(&[a, b]).unwrap();
        let mean = |t: &Tensor| {
            let r = Reduce { kind: ReduceKind::Mean, axes: axes.clone(), keepdims: true };
            Op::Reduce(r).eval(&[t]).unwrap()
        };
        let d = bin(BinaryOp::Sub, x, &mean(x));
        let var = mean(&bin(BinaryOp::Mul, &d, &d));
        let e = Tensor::from_f32(vec![], vec![eps]).unwrap();
        let s = Op::Unary(Unary { op: UnaryOp::Sqrt }).eval(&[&bin(BinaryOp::Add, &var, &e)]).unwrap();
        bin(BinaryOp::Add, &bin(BinaryOp::Mul, &bin(BinaryOp::Div, &d, &s), scale), bias)
    }

    #[test]
    fn equals_the_decomposed_form() {
        let x = Tensor::from_f32(vec![2, 2, 3], vec![0.5, -1.0, 2.0, 3.0, 3.5, -2.0, 1.0, 1.0, 1.0, 0.0, 4.0, -4.0])
            .unwrap();
        let scale = Tensor::from_f32(vec![3], vec![1.5, -0.5, 2.0]).unwrap();
        let bias = Tensor::from_f32(vec![3], vec![0.1, 0.2, -0.3]).unwrap();
        let ln = Op::LayerNorm(LayerNorm { axis: 2, epsilon: 1e-5 });
        let got = ln.eval(&[&x, &scale, &bias]).unwrap();
        let want = decomposed(&x, &scale, &bias, vec![2], 1e-5);
        for (a, b) in got.as_f32().unwrap().iter().zip(want.as_f32().unwrap()) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
        // Over the last two axes, with a scalar scale.
        let one = Tensor::from_f32(vec![], vec![2.0]).unwrap();
        let zero = Tensor::from_f32(vec![1], vec![0.0]).unwrap();
        let ln = Op::LayerNorm(LayerNorm { axis: 1, epsilon: 1e-3 });
        let got = ln.eval(&[&x, &one, &zero]).unwrap();
        let want = decomposed(&x, &one, &zero, vec![1, 2], 1e-3);
        for (a, b) in got.as_f32().unwrap().iter().zip(want.as_f32().unwrap()) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn attributes_and_operands_are_checked() {
        let t = |d: &[usize]| TensorType::f32(d.to_vec());
        let ln = |axis| LayerNorm { axis, epsilon: 1e-5 };
        assert!(ln(1).infer(&[t(&[2, 3]), t(&[3])]).is_ok());
        assert!(ln(0).infer(&[t(&[2, 3]), t(&[2, 3]), t(&[1])]).is_ok());
        assert!(ln(2).infer(&[t(&[2, 3]), t(&[3])]).is_err());
        assert!(ln(1).infer(&[t(&[2, 3]), t(&[2, 3])]).is_err());
        assert!(ln(1).infer(&[t(&[2, 3]), t(&[4])]).is_err());
        assert!(ln(1).infer(&[t(&[2, 3])]).is_err());
        assert!(LayerNorm { axis: 1, epsilon: f32::NAN }.infer(&[t(&[2, 3]), t(&[3])]).is_err());
    }
}
