//! Elementwise math functions on f32 that no tile runs and no model hot path needs (trigonometry, the rarer
//! activations, NaN/infinity tests, sign and rounding). Each is computed in f64 and rounded once to f32.
use super::util::{arity, want_dtype};
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum MathFnOp {
    Cos,
    Sin,
    Tan,
    Acos,
    Asin,
    Atan,
    Cosh,
    Sinh,
    Acosh,
    Asinh,
    Atanh,
    Softsign,
    Mish,
    Sign,
    /// Round half to even.
    Round,
    Selu {
        alpha: f32,
        gamma: f32,
    },
    ThresholdedRelu {
        alpha: f32,
    },
    Celu {
        alpha: f32,
    },
    Shrink {
        bias: f32,
        lambd: f32,
    },
    /// Output bool.
    IsNaN,
    /// Output bool: +inf when `positive`, -inf when `negative`.
    IsInf {
        positive: bool,
        negative: bool,
    },
}

impl MathFnOp {
    pub fn name(self) -> &'static str {
        match self {
            MathFnOp::Cos => "cos",
            MathFnOp::Sin => "sin",
            MathFnOp::Tan => "tan",
            MathFnOp::Acos => "acos",
            MathFnOp::Asin => "asin",
            MathFnOp::Atan => "atan",
            MathFnOp::Cosh => "cosh",
            MathFnOp::Sinh => "sinh",
            MathFnOp::Acosh => "acosh",
            MathFnOp::Asinh => "asinh",
            MathFnOp::Atanh => "atanh",
            MathFnOp::Softsign => "softsign",
            MathFnOp::Mish => "mish",
            MathFnOp::Sign => "sign",
            MathFnOp::Round => "round",
            MathFnOp::Selu { .. } => "selu",
            MathFnOp::ThresholdedRelu { .. } => "thresholded-relu",
            MathFnOp::Celu { .. } => "celu",
            MathFnOp::Shrink { .. } => "shrink",
            MathFnOp::IsNaN => "is-nan",
            MathFnOp::IsInf { .. } => "is-inf",
        }
    }

    /// Code and parameters (as f32 bits) for the e-graph's operator key.
    pub fn key(self) -> [u64; 3] {
        let f = |x: f32| u64::from(x.to_bits());
        let (code, a, b) = match self {
            MathFnOp::Cos => (0, 0, 0),
            MathFnOp::Sin => (1, 0, 0),
            MathFnOp::Tan => (2, 0, 0),
            MathFnOp::Acos => (3, 0, 0),
            MathFnOp::Asin => (4, 0, 0),
            MathFnOp::Atan => (5, 0, 0),
            MathFnOp::Cosh => (6, 0, 0),
            MathFnOp::Sinh => (7, 0, 0),
            MathFnOp::Acosh => (8, 0, 0),
            MathFnOp::Asinh => (9, 0, 0),
            MathFnOp::Atanh => (10, 0, 0),
            MathFnOp::Softsign => (11, 0, 0),
            MathFnOp::Mish => (12, 0, 0),
            MathFnOp::Sign => (13, 0, 0),
            MathFnOp::Round => (14, 0, 0),
            MathFnOp::Selu { alpha, gamma } => (15, f(alpha), f(gamma)),
            MathFnOp::ThresholdedRelu { alpha } => (16, f(alpha), 0),
            MathFnOp::Celu { alpha } => (17, f(alpha), 0),
            MathFnOp::Shrink { bias, lambd } => (18, f(bias), f(lambd)),
            MathFnOp::IsNaN => (19, 0, 0),
            MathFnOp::IsInf { positive, negative } => (20, u64::from(positive), u64::from(negative)),
        };
        [code, a, b]
    }

    fn is_test(self) -> bool {
        matches!(self, MathFnOp::IsNaN | MathFnOp::IsInf { .. })
    }

    fn apply(self, x: f64) -> f64 {
        let softplus = |x: f64| if x > 20.0 { x } else { x.exp().ln_1p() };
        match self {
            MathFnOp::Cos => x.cos(),
            MathFnOp::Sin => x.sin(),
            MathFnOp::Tan => x.tan(),
            MathFnOp::Acos => x.acos(),
            MathFnOp::Asin => x.asin(),
            MathFnOp::Atan => x.atan(),
            MathFnOp::Cosh => x.cosh(),
            MathFnOp::Sinh => x.sinh(),
            MathFnOp::Acosh => x.acosh(),
            MathFnOp::Asinh => x.asinh(),
            MathFnOp::Atanh => x.atanh(),
            MathFnOp::Softsign => x / (1.0 + x.abs()),
            MathFnOp::Mish => x * softplus(x).tanh(),
            MathFnOp::Sign if x.is_nan() => x,
            MathFnOp::Sign if x == 0.0 => 0.0,
            MathFnOp::Sign => x.signum(),
            MathFnOp::Round => x.round_ties_even(),
            MathFnOp::Selu { alpha, gamma } => {
                let (a, g) = (f64::from(alpha), f64::from(gamma));
                if x > 0.0 {
                    g * x
                } else {
                    g * a * x.exp_m1()
                }
            }
            MathFnOp::ThresholdedRelu { alpha } if x > f64::from(alpha) => x,
            MathFnOp::ThresholdedRelu { .. } => 0.0,
            MathFnOp::Celu { alpha } => {
                let a = f64::from(alpha);
                x.max(0.0) + (a * (x / a).exp_m1()).min(0.0)
            }
            MathFnOp::Shrink { bias, lambd } => {
                let (b, l) = (f64::from(bias), f64::from(lambd));
                if x < -l {
                    x + b
                } else if x > l {
                    x - b
                } else {
                    0.0
                }
            }
            MathFnOp::IsNaN | MathFnOp::IsInf { .. } => x,
        }
    }

    fn test(self, x: f32) -> bool {
        match self {
            MathFnOp::IsNaN => x.is_nan(),
            MathFnOp::IsInf { positive, negative } => {
                (positive && x == f32::INFINITY) || (negative && x == f32::NEG_INFINITY)
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MathFn {
    pub op: MathFnOp,
}

impl MathFn {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        want_dtype(inputs, 0, DType::F32)?;
        let dtype = if self.op.is_test() { DType::Bool } else { DType::F32 };
        Ok(TensorType { dtype, shape: inputs[0].shape.clone() })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let x = inputs[0].as_f32()?;
        let dims = out.shape.dims().to_vec();
        if self.op.is_test() {
            return Tensor::from_bool(dims, x.iter().map(|&v| self.op.test(v)).collect());
        }
        Tensor::from_f32(dims, x.iter().map(|&v| self.op.apply(f64::from(v)) as f32).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(op: MathFnOp, x: &[f32]) -> Tensor {
        let t = Tensor::from_f32(vec![x.len()], x.to_vec()).unwrap();
        let m = MathFn { op };
        let out = m.infer(&[t.ty()]).unwrap();
        m.eval(&[&t], &out).unwrap()
    }

    #[test]
    fn hand_checked_values() {
        let f = |op, x: &[f32]| run(op, x).as_f32().unwrap().to_vec();
        assert_eq!(f(MathFnOp::Cos, &[0.0]), [1.0]);
        assert_eq!(f(MathFnOp::Softsign, &[1.0, -3.0]), [0.5, -0.75]);
        assert_eq!(f(MathFnOp::Round, &[0.5, 1.5, -2.5, 2.6]), [0.0, 2.0, -2.0, 3.0]);
        assert_eq!(f(MathFnOp::Sign, &[-2.0, 0.0, 3.0]), [-1.0, 0.0, 1.0]);
        assert_eq!(f(MathFnOp::ThresholdedRelu { alpha: 1.0 }, &[1.0, 2.0]), [0.0, 2.0]);
        assert_eq!(f(MathFnOp::Shrink { bias: 0.5, lambd: 1.0 }, &[-2.0, 0.5, 2.0]), [-1.5, 0.0, 1.5]);
        assert_eq!(f(MathFnOp::Selu { alpha: 2.0, gamma: 3.0 }, &[1.0, 0.0]), [3.0, 0.0]);
        let inf = run(MathFnOp::IsInf { positive: true, negative: false }, &[f32::INFINITY, f32::NEG_INFINITY, 1.0]);
        assert_eq!(inf.as_bool().unwrap(), &[true, false, false]);
        assert_eq!(run(MathFnOp::IsNaN, &[f32::NAN, 0.0]).as_bool().unwrap(), &[true, false]);
    }
}
