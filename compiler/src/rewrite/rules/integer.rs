//! The rules that let integer-operator exports (ConvInteger / MatMulInteger, then `Cast` to float, `Mul` by
//! the scales) become plain layers. `simplify/int-cast-roundtrip`: `Cast(f32, Cast(int, x))` is `x` when `x`
//! is an f32 class of integers that fit the integer type (the integrality fact, `rewrite/integral.rs`): the
//! imported sums are such a class. With the casts gone, the scales fold into the weights: per output channel
//! into a convolution (`fold/mul-into-conv`), and per column or scalar into a matmul's constant right operand
//! (`fold/mul-into-matmul`, here).
use crate::rewrite::analysis::EGraph;
use crate::rewrite::rule::{add_binary, add_op, add_reshape, binary_args, dims, is_const, ops, same, ty, Rule};
use accel_ops::op::{BinaryOp, MatMul, Op};
use accel_ops::DType;
use egg::Id;

pub fn rules() -> Vec<super::Any> {
    vec![
        super::any(Rule { name: "simplify/int-cast-roundtrip", find: find_roundtrip, build: keep }),
        super::any(Rule { name: "fold/mul-into-matmul", find: find_mul_matmul, build: build_mul_matmul }),
    ]
}

fn keep(_: &mut EGraph, x: &Id) -> Option<Id> {
    Some(*x)
}

/// The largest magnitude a cast to `dt` keeps exactly (for integer-valued input).
fn exact_up_to(dt: DType) -> Option<f64> {
    match dt {
        DType::I8 => Some(127.0),
        DType::I32 => Some(i32::MAX as f64),
        DType::I64 => Some(9.0e18),
        _ => None,
    }
}

/// `x` of `Cast(f32, Cast(int, x))` at class `id`, when `x` is f32, integral and within the integer range.
fn find_roundtrip(eg: &EGraph, id: Id) -> Vec<Id> {
    let mut out = Vec::new();
    for (op, a) in ops(eg, id) {
        let Op::Cast(c) = op else { continue };
        if c.to != DType::F32 || a.len() != 1 {
            continue;
        }
        for (inner, b) in ops(eg, a[0]) {
            let Op::Cast(ci) = inner else { continue };
            let (Some(limit), Some(&x)) = (exact_up_to(ci.to), b.first()) else { continue };
            let fits = eg[x].data.int_bound.is_some_and(|bound| bound <= limit);
            if fits && ty(eg, x) == ty(eg, id) && !same(eg, x, id) && !out.contains(&x) {
                out.push(x);
            }
        }
    }
    out
}

/// `MatMul(a, B) * c` with constant 2-D `B` (`[K, N]`) and `c` a scalar or one value per column (`[.., 1, N]`),
/// not enlarging the product: (a, B, c, c's length).
fn find_mul_matmul(eg: &EGraph, id: Id) -> Vec<(Id, Id, Id, usize)> {
    let mut out = Vec::new();
    for (x, y) in binary_args(eg, id, BinaryOp::Mul) {
        for (mm, c) in [(x, y), (y, x)] {
            if !is_const(eg, c) || ty(eg, mm) != ty(eg, id) {
                continue;
            }
            for (op, a) in ops(eg, mm) {
                let Op::MatMul(_) = op else { continue };
                let [_, n] = dims(eg, a[1]) else { continue };
                let cd = dims(eg, c);
                let len = cd.last().copied().unwrap_or(1);
                let shape_ok = (len == 1 || len == *n) && cd.iter().rev().skip(1).all(|&d| d == 1);
                if is_const(eg, a[1]) && !is_const(eg, a[0]) && shape_ok {
                    out.push((a[0], a[1], c, len));
                }
            }
        }
    }
    out
}

/// -> `MatMul(a, B * c)` (c as a row broadcast over B's rows).
fn build_mul_matmul(eg: &mut EGraph, &(a, b, c, len): &(Id, Id, Id, usize)) -> Option<Id> {
    let row = add_reshape(eg, c, &[len])?;
    let scaled = add_binary(eg, BinaryOp::Mul, b, row)?;
    add_op(eg, Op::MatMul(MatMul), &[a, scaled])
}
