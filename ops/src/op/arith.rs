//! Broadcasting arithmetic of two tensors of one dtype on the host: integer arithmetic (wrapping to the dtype's
//! width, as two's-complement hardware does; division truncates toward zero and a zero divisor is an error),
//! Mod (both ONNX forms), bit shifts and bitwise logic. The f32 forms of Add..Min are `Binary` (tile-capable);
//! this operator carries what `Binary` cannot: integers, and Mod on floats.
use super::compare::same_dtype;
use super::util::{arity, broadcast_index};
use super::values::{is_float, is_int, Values};
use crate::error::OpError;
use crate::shape::broadcast;
use crate::tensor::{Tensor, TensorType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    /// `fmod`: the remainder takes the dividend's sign (C `fmod`); otherwise the divisor's (Python `%`).
    Mod {
        fmod: bool,
    },
    Max,
    Min,
    ShiftLeft,
    ShiftRight,
    BitAnd,
    BitOr,
    BitXor,
}

impl ArithOp {
    pub fn name(self) -> &'static str {
        match self {
            ArithOp::Add => "int-add",
            ArithOp::Sub => "int-sub",
            ArithOp::Mul => "int-mul",
            ArithOp::Div => "int-div",
            ArithOp::Mod { .. } => "mod",
            ArithOp::Max => "int-max",
            ArithOp::Min => "int-min",
            ArithOp::ShiftLeft => "shift-left",
            ArithOp::ShiftRight => "shift-right",
            ArithOp::BitAnd => "bit-and",
            ArithOp::BitOr => "bit-or",
            ArithOp::BitXor => "bit-xor",
        }
    }

    /// A small code for the e-graph's operator key.
    pub fn code(self) -> u64 {
        match self {
            ArithOp::Add => 0,
            ArithOp::Sub => 1,
            ArithOp::Mul => 2,
            ArithOp::Div => 3,
            ArithOp::Mod { fmod: false } => 4,
            ArithOp::Mod { fmod: true } => 5,
            ArithOp::Max => 6,
            ArithOp::Min => 7,
            ArithOp::ShiftLeft => 8,
            ArithOp::ShiftRight => 9,
            ArithOp::BitAnd => 10,
            ArithOp::BitOr => 11,
            ArithOp::BitXor => 12,
        }
    }

    fn int(self, a: i128, b: i128) -> Result<i128, OpError> {
        if b == 0 && matches!(self, ArithOp::Div | ArithOp::Mod { .. }) {
            return Err(OpError::Other(format!("{}: division by zero", self.name())));
        }
        Ok(match self {
            ArithOp::Add => a.wrapping_add(b),
            ArithOp::Sub => a.wrapping_sub(b),
            ArithOp::Mul => a.wrapping_mul(b),
            ArithOp::Div => a.wrapping_div(b),
            ArithOp::Mod { fmod } => {
                let r = a.wrapping_rem(b);
                if !fmod && r != 0 && ((r < 0) != (b < 0)) {
                    r + b
                } else {
                    r
                }
            }
            ArithOp::Max => a.max(b),
            ArithOp::Min => a.min(b),
            // Left shifts by 128 or more (or negative) clear every bit; narrowing clears those past the width.
            ArithOp::ShiftLeft => u32::try_from(b).ok().and_then(|s| a.checked_shl(s)).unwrap_or(0),
            // Right shifts past the width, or by a negative count, fill with the sign (numpy's semantics).
            ArithOp::ShiftRight => {
                u32::try_from(b).ok().and_then(|s| a.checked_shr(s)).unwrap_or(if a < 0 { -1 } else { 0 })
            }
            ArithOp::BitAnd => a & b,
            ArithOp::BitOr => a | b,
            ArithOp::BitXor => a ^ b,
        })
    }

    fn float(self, a: f64, b: f64) -> f64 {
        match self {
            ArithOp::Add => a + b,
            ArithOp::Sub => a - b,
            ArithOp::Mul => a * b,
            ArithOp::Div => a / b,
            ArithOp::Mod { fmod: true } => a % b,
            ArithOp::Mod { fmod: false } => {
                let r = a % b;
                if r != 0.0 && ((r < 0.0) != (b < 0.0)) {
                    r + b
                } else {
                    r
                }
            }
            ArithOp::Max if a.is_nan() || b.is_nan() => f64::NAN,
            ArithOp::Min if a.is_nan() || b.is_nan() => f64::NAN,
            ArithOp::Max => a.max(b),
            ArithOp::Min => a.min(b),
            _ => f64::NAN,
        }
    }

    /// Whether the operation is defined on floats (the bit operations are not).
    fn takes_floats(self) -> bool {
        !matches!(self, ArithOp::ShiftLeft | ArithOp::ShiftRight | ArithOp::BitAnd | ArithOp::BitOr | ArithOp::BitXor)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arith {
    pub op: ArithOp,
}

impl Arith {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 2, 2)?;
        same_dtype(inputs)?;
        let d = inputs[0].dtype;
        let ok = match self.op {
            // ONNX defines shifts on unsigned types (opset 11) and numpy's on signed ones too: left wraps,
            // right is arithmetic. Exact for every width through the i128 values.
            ArithOp::ShiftLeft | ArithOp::ShiftRight => is_int(d),
            op if op.takes_floats() => is_int(d) || is_float(d),
            _ => is_int(d),
        };
        if !ok {
            return Err(OpError::DType {
                index: 0,
                expected: format!("a type {} takes", self.op.name()),
                got: d.to_string(),
            });
        }
        Ok(TensorType { dtype: d, shape: broadcast(&inputs[0].shape, &inputs[1].shape)? })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let (od, ad, bd) = (out.shape.dims(), inputs[0].dims(), inputs[1].dims());
        let at = |i| (broadcast_index(od, ad, i), broadcast_index(od, bd, i));
        let n = out.shape.numel();
        let y = match (Values::of(inputs[0]), Values::of(inputs[1])) {
            (Values::Int(a), Values::Int(b)) => {
                Values::Int((0..n).map(at).map(|(i, j)| self.op.int(a[i], b[j])).collect::<Result<_, _>>()?)
            }
            (Values::Float(a), Values::Float(b)) => {
                Values::Float((0..n).map(at).map(|(i, j)| self.op.float(a[i], b[j])).collect())
            }
            _ => return Err(OpError::Other(format!("{} takes integers or floats", self.op.name()))),
        };
        y.into_tensor(out.dtype, out.shape.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(op: ArithOp, a: &Tensor, b: &Tensor) -> Result<Tensor, OpError> {
        let x = Arith { op };
        let out = x.infer(&[a.ty(), b.ty()])?;
        x.eval(&[a, b], &out)
    }

    #[test]
    fn mod_signs_wrapping_and_errors() {
        let a = Tensor::from_i32(vec![4], vec![-4, 7, 5, -5]).unwrap();
        let b = Tensor::from_i32(vec![4], vec![3, -3, 3, -3]).unwrap();
        assert_eq!(run(ArithOp::Mod { fmod: false }, &a, &b).unwrap().as_i32().unwrap(), &[2, -2, 2, -2]);
        assert_eq!(run(ArithOp::Mod { fmod: true }, &a, &b).unwrap().as_i32().unwrap(), &[-1, 1, 2, -2]);
        assert_eq!(run(ArithOp::Div, &a, &b).unwrap().as_i32().unwrap(), &[-1, -2, 1, 1]);
        let f = Tensor::from_f32(vec![2], vec![-4.5, 7.0]).unwrap();
        let g = Tensor::from_f32(vec![1], vec![2.0]).unwrap();
        assert_eq!(run(ArithOp::Mod { fmod: true }, &f, &g).unwrap().as_f32().unwrap(), &[-0.5, 1.0]);
        let u = Tensor::from_u8(vec![3], vec![250, 16, 1]).unwrap();
        let v = Tensor::from_u8(vec![3], vec![10, 2, 9]).unwrap();
        assert_eq!(run(ArithOp::Add, &u, &v).unwrap().as_u8().unwrap(), &[4, 18, 10]);
        assert_eq!(run(ArithOp::ShiftLeft, &u, &v).unwrap().as_u8().unwrap(), &[0, 64, 0]);
        assert_eq!(run(ArithOp::ShiftRight, &u, &v).unwrap().as_u8().unwrap(), &[0, 4, 0]);
        let z = Tensor::from_i32(vec![1], vec![0]).unwrap();
        assert!(run(ArithOp::Div, &a, &z).unwrap_err().to_string().contains("division by zero"));
        assert!(run(ArithOp::BitAnd, &f, &g).is_err());
    }

    /// The host-only integer widths: u64 above i64::MAX divides, orders and shifts as unsigned; 16-bit
    /// values wrap at their width; signed shifts are numpy's (left wraps, right is arithmetic).
    #[test]
    fn wide_and_narrow_integer_types_are_exact() {
        let big = u64::MAX - 5;
        let a = Tensor::from_u64(vec![3], vec![big, 7, 1 << 63]).unwrap();
        let b = Tensor::from_u64(vec![3], vec![2, big, 1]).unwrap();
        assert_eq!(run(ArithOp::Div, &a, &b).unwrap().as_u64().unwrap(), &[big / 2, 0, 1 << 63]);
        assert_eq!(run(ArithOp::Max, &a, &b).unwrap().as_u64().unwrap(), &[big, big, 1 << 63]);
        assert_eq!(run(ArithOp::Add, &a, &b).unwrap().as_u64().unwrap(), &[u64::MAX - 3, 1, (1 << 63) + 1]);
        assert_eq!(run(ArithOp::ShiftRight, &a, &b).unwrap().as_u64().unwrap(), &[big >> 2, 0, 1 << 62]);
        let u = Tensor::from_u16(vec![2], vec![65535, 3]).unwrap();
        let v = Tensor::from_u16(vec![2], vec![2, 65535]).unwrap();
        assert_eq!(run(ArithOp::Mul, &u, &v).unwrap().as_u16().unwrap(), &[65534, 65533]);
        let i = Tensor::from_i16(vec![2], vec![-32768, -8]).unwrap();
        let j = Tensor::from_i16(vec![2], vec![-1, 1]).unwrap();
        assert_eq!(run(ArithOp::Div, &i, &j).unwrap().as_i16().unwrap(), &[-32768, -8]);
        assert_eq!(run(ArithOp::ShiftRight, &i, &j).unwrap().as_i16().unwrap(), &[-1, -4]);
        let x = Tensor::from_i32(vec![1], vec![0x4000_0001]).unwrap();
        let s = Tensor::from_i32(vec![1], vec![1]).unwrap();
        assert_eq!(run(ArithOp::ShiftLeft, &x, &s).unwrap().as_i32().unwrap(), &[-0x7fff_fffe]);
    }

    /// f16 arithmetic rounds once, to nearest even, from the exact f64 result.
    #[test]
    fn f16_rounds_once() {
        use half::f16;
        let a = Tensor::from_f16(vec![2], vec![f16::from_f32(2048.0), f16::from_f32(1.0)]).unwrap();
        let b = Tensor::from_f16(vec![2], vec![f16::from_f32(1.0), f16::from_f32(3.0)]).unwrap();
        let sum = run(ArithOp::Add, &a, &b).unwrap();
        // 2049 is a tie between 2048 and 2050 (f16 spacing 2 there): even mantissa wins.
        assert_eq!(sum.as_f16().unwrap()[0].to_f32(), 2048.0);
        let q = run(ArithOp::Div, &a, &b).unwrap();
        assert_eq!(q.as_f16().unwrap()[1], f16::from_f64(1.0 / 3.0));
    }
}
