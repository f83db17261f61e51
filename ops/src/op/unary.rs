//! Elementwise unary operators and activations (also the activation fused into Conv/Gemm).
use super::util::{arity, f32_input, f32_output, want_dtype};
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

/// A unary elementwise function on f32. Parameters are stored as plain floats; the e-graph stores bits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum UnaryOp {
    Relu,
    /// Clip to `[min, max]` (Relu6 is `Clip(0, 6)`).
    Clip {
        min: f32,
        max: f32,
    },
    LeakyRelu {
        alpha: f32,
    },
    Sigmoid,
    /// `x * relu6(x + 3) / 6`.
    HardSwish,
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    /// `x * sigmoid(x)`.
    Silu,
    /// `0.5 x (1 + erf(x / sqrt 2))`.
    Gelu,
    Tanh,
    Exp,
    Log,
    Sqrt,
    Reciprocal,
    Neg,
    Abs,
    Erf,
    Floor,
    Ceil,
    Softplus,
    Elu {
        alpha: f32,
    },
}

impl UnaryOp {
    /// Kebab-case name, used in printers and the target's operator lists.
    pub fn name(&self) -> &'static str {
        match self {
            UnaryOp::Relu => "relu",
            UnaryOp::Clip { .. } => "clip",
            UnaryOp::LeakyRelu { .. } => "leaky-relu",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::HardSwish => "hard-swish",
            UnaryOp::HardSigmoid { .. } => "hard-sigmoid",
            UnaryOp::Silu => "silu",
            UnaryOp::Gelu => "gelu",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Reciprocal => "reciprocal",
            UnaryOp::Neg => "neg",
            UnaryOp::Abs => "abs",
            UnaryOp::Erf => "erf",
            UnaryOp::Floor => "floor",
            UnaryOp::Ceil => "ceil",
            UnaryOp::Softplus => "softplus",
            UnaryOp::Elu { .. } => "elu",
        }
    }

    /// The function itself.
    pub fn apply(&self, x: f32) -> f32 {
        match *self {
            UnaryOp::Relu => x.max(0.0),
            UnaryOp::Clip { min, max } => x.max(min).min(max),
            UnaryOp::LeakyRelu { alpha } => {
                if x < 0.0 {
                    alpha * x
                } else {
                    x
                }
            }
            UnaryOp::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            UnaryOp::HardSwish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
            UnaryOp::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            UnaryOp::Silu => x / (1.0 + (-x).exp()),
            UnaryOp::Gelu => 0.5 * x * (1.0 + erf(x / std::f32::consts::SQRT_2)),
            UnaryOp::Tanh => x.tanh(),
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Reciprocal => 1.0 / x,
            UnaryOp::Neg => -x,
            UnaryOp::Abs => x.abs(),
            UnaryOp::Erf => erf(x),
            UnaryOp::Floor => x.floor(),
            UnaryOp::Ceil => x.ceil(),
            UnaryOp::Softplus => (1.0 + x.exp()).ln(),
            UnaryOp::Elu { alpha } => {
                if x < 0.0 {
                    alpha * (x.exp() - 1.0)
                } else {
                    x
                }
            }
        }
    }
}

impl UnaryOp {
    /// The function in f64, for compile-time tables (`numerics::table`): the same formulas as `apply`, with
    /// `erf` in f64; `None` for the others (the clamps and LeakyReLU, which the requantization header carries,
    /// and the functions the tiles do not fuse into a MAC layer).
    pub fn apply_f64(&self, x: f64) -> Option<f64> {
        Some(match *self {
            UnaryOp::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            UnaryOp::HardSwish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
            UnaryOp::HardSigmoid { alpha, beta } => (alpha as f64 * x + beta as f64).clamp(0.0, 1.0),
            UnaryOp::Silu => x / (1.0 + (-x).exp()),
            UnaryOp::Gelu => 0.5 * x * (1.0 + libm_erf(x / std::f64::consts::SQRT_2)),
            UnaryOp::Tanh => x.tanh(),
            _ => return None,
        })
    }
}

/// erf in f64 (Abramowitz-Stegun 7.1.26 is too coarse for 1e-4 checks; this is the W. J. Cody rational
/// approximation as used by libm, accurate to f32 precision).
pub fn erf(x: f32) -> f32 {
    libm_erf(x as f64) as f32
}

fn libm_erf(x: f64) -> f64 {
    // erf(x) = sign(x) * (1 - erfc(|x|)); erfc via a continued-fraction-free Chebyshev fit (Numerical Recipes
    // erfcc), relative error < 1.2e-7 everywhere, which is below f32 resolution.
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 {
        1.0 - r
    } else {
        r - 1.0
    }
}

/// A unary elementwise operator node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unary {
    pub op: UnaryOp,
}

impl Unary {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 1, 1)?;
        want_dtype(inputs, 0, DType::F32)?;
        Ok(inputs[0].clone())
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let x = f32_input(inputs, 0)?;
        f32_output(out, x.iter().map(|&v| self.op.apply(v)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activations_at_known_points() {
        assert_eq!(UnaryOp::Relu.apply(-1.0), 0.0);
        assert_eq!(UnaryOp::Clip { min: 0.0, max: 6.0 }.apply(7.0), 6.0);
        assert_eq!(UnaryOp::HardSwish.apply(3.0), 3.0);
        assert_eq!(UnaryOp::HardSwish.apply(-3.0), 0.0);
        assert!((UnaryOp::Sigmoid.apply(0.0) - 0.5).abs() < 1e-7);
        assert!((UnaryOp::LeakyRelu { alpha: 0.1 }.apply(-2.0) + 0.2).abs() < 1e-7);
    }

    #[test]
    fn erf_matches_tabulated_values() {
        for (x, want) in
            [(0.0f32, 0.0f32), (0.5, 0.520_499_9), (1.0, 0.842_700_8), (2.0, 0.995_322_3), (-1.0, -0.842_700_8)]
        {
            assert!((erf(x) - want).abs() < 2e-7, "erf({x}) = {}", erf(x));
        }
    }
}
