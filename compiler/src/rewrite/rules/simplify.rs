//! Rule family `simplify/`: canonical forms. Identity operators are merged with their operand, transpose and
//! reshape chains collapse, division by a constant becomes multiplication (the tiles multiply, the host
//! divides), `x^2` becomes `x*x`, and MatMul plus a constant bias becomes one Gemm (reshaped to 2-D).
use crate::rewrite::analysis::EGraph;
use crate::rewrite::rule::{
    add_binary, add_op, add_reshape, add_unary, binary_args, dims, is_const, ops, same, splat, splat_is, ty, Rule,
};
use accel_ops::op::{BinaryOp, Gemm, Op, Transpose, UnaryOp};
use egg::Id;

pub fn rules() -> Vec<super::Any> {
    vec![
        super::any(Rule { name: "simplify/identity-reshape", find: find_identity_reshape, build: keep }),
        super::any(Rule { name: "simplify/identity-transpose", find: find_identity_transpose, build: keep }),
        super::any(Rule { name: "simplify/identity-slice", find: find_identity_slice, build: keep }),
        super::any(Rule { name: "simplify/identity-pad", find: find_identity_pad, build: keep }),
        super::any(Rule { name: "simplify/identity-cast", find: find_identity_cast, build: keep }),
        super::any(Rule { name: "simplify/identity-concat", find: find_identity_concat, build: keep }),
        super::any(Rule { name: "simplify/identity-arith", find: find_identity_arith, build: keep }),
        super::any(Rule { name: "simplify/transpose-transpose", find: find_transposes, build: build_transposes }),
        super::any(Rule { name: "simplify/reshape-reshape", find: find_reshapes, build: build_reshapes }),
        super::any(Rule { name: "simplify/div-by-const", find: find_div_const, build: build_div_const }),
        super::any(Rule { name: "simplify/square", find: find_square, build: build_square }),
        super::any(Rule { name: "simplify/matmul-add-to-gemm", find: find_matmul_add, build: build_matmul_add }),
    ]
}

/// The build of identity rules: the matched class equals the operand.
fn keep(_: &mut EGraph, x: &Id) -> Option<Id> {
    Some(*x)
}

/// Operands `x` of canonical unary-input nodes of `id` for which `is_identity(op, x)` holds.
fn identity_of(eg: &EGraph, id: Id, is_identity: impl Fn(&Op, &[usize]) -> bool) -> Vec<Id> {
    ops(eg, id)
        .filter(|(op, a)| a.len() == 1 && is_identity(op, dims(eg, a[0])) && ty(eg, a[0]) == ty(eg, id))
        .map(|(_, a)| a[0])
        .filter(|&x| !same(eg, x, id))
        .collect()
}

/// `Reshape(x)` to x's own shape.
fn find_identity_reshape(eg: &EGraph, id: Id) -> Vec<Id> {
    identity_of(eg, id, |op, d| matches!(op, Op::Reshape(r) if r.shape.dims() == d))
}

/// `Transpose(x)` with the identity permutation.
fn find_identity_transpose(eg: &EGraph, id: Id) -> Vec<Id> {
    identity_of(eg, id, |op, _| matches!(op, Op::Transpose(t) if t.perm.iter().enumerate().all(|(i, &p)| i == p)))
}

/// `Slice(x)` that takes every element.
fn find_identity_slice(eg: &EGraph, id: Id) -> Vec<Id> {
    identity_of(
        eg,
        id,
        |op, d| matches!(op, Op::Slice(s) if s.starts.iter().all(|&x| x == 0) && s.steps.iter().all(|&x| x == 1) && s.lens == d),
    )
}

/// `Pad(x)` by nothing.
fn find_identity_pad(eg: &EGraph, id: Id) -> Vec<Id> {
    identity_of(eg, id, |op, _| matches!(op, Op::Pad(p) if p.begin.iter().chain(&p.end).all(|&x| x == 0)))
}

/// `Cast(x)` to x's own dtype (the type check in `identity_of` compares dtypes).
fn find_identity_cast(eg: &EGraph, id: Id) -> Vec<Id> {
    identity_of(eg, id, |op, _| matches!(op, Op::Cast(_)))
}

/// `Concat(x)` of one operand.
fn find_identity_concat(eg: &EGraph, id: Id) -> Vec<Id> {
    identity_of(eg, id, |op, _| matches!(op, Op::Concat(_)))
}

/// `x + 0`, `0 + x`, `x - 0`, `x * 1`, `1 * x`, `x / 1` where the constant does not broadcast x bigger.
fn find_identity_arith(eg: &EGraph, id: Id) -> Vec<Id> {
    let mut out = Vec::new();
    for (op, a) in ops(eg, id) {
        let Op::Binary(b) = op else { continue };
        let unit = match b.op {
            BinaryOp::Add | BinaryOp::Sub => 0.0,
            BinaryOp::Mul | BinaryOp::Div => 1.0,
            _ => continue,
        };
        let mut cands = vec![(a[0], a[1])];
        if b.op.commutes() {
            cands.push((a[1], a[0]));
        }
        for (x, k) in cands {
            if splat(eg, k) == Some(unit) && ty(eg, x) == ty(eg, id) && !same(eg, x, id) {
                out.push(x);
            }
        }
    }
    out
}

/// `Transpose(p2, Transpose(p1, x))` -> `Transpose(p1 ∘ p2, x)` (or x when that is the identity).
fn find_transposes(eg: &EGraph, id: Id) -> Vec<(Vec<usize>, Id)> {
    let mut out = Vec::new();
    for (op, a) in ops(eg, id) {
        let Op::Transpose(t2) = op else { continue };
        for (op1, a1) in ops(eg, a[0]) {
            let Op::Transpose(t1) = op1 else { continue };
            let perm: Option<Vec<usize>> = t2.perm.iter().map(|&p| t1.perm.get(p).copied()).collect();
            out.extend(perm.map(|p| (p, a1[0])));
        }
    }
    out
}

fn build_transposes(eg: &mut EGraph, (perm, x): &(Vec<usize>, Id)) -> Option<Id> {
    if perm.iter().enumerate().all(|(i, &p)| i == p) {
        return Some(*x);
    }
    add_op(eg, Op::Transpose(Transpose { perm: perm.clone() }), &[*x])
}

/// `Reshape(s2, Reshape(s1, x))` -> `Reshape(s2, x)` (or x when s2 is x's shape).
fn find_reshapes(eg: &EGraph, id: Id) -> Vec<(Vec<usize>, Id)> {
    let mut out = Vec::new();
    for (op, a) in ops(eg, id) {
        let Op::Reshape(r) = op else { continue };
        for (op1, a1) in ops(eg, a[0]) {
            if matches!(op1, Op::Reshape(_)) && !same(eg, a1[0], id) {
                out.push((r.shape.dims().to_vec(), a1[0]));
            }
        }
    }
    out
}

fn build_reshapes(eg: &mut EGraph, (shape, x): &(Vec<usize>, Id)) -> Option<Id> {
    add_reshape(eg, *x, shape)
}

/// `x / c` with constant c -> `x * (1 / c)`.
fn find_div_const(eg: &EGraph, id: Id) -> Vec<(Id, Id)> {
    binary_args(eg, id, BinaryOp::Div).into_iter().filter(|&(x, c)| !is_const(eg, x) && is_const(eg, c)).collect()
}

fn build_div_const(eg: &mut EGraph, &(x, c): &(Id, Id)) -> Option<Id> {
    let r = add_unary(eg, UnaryOp::Reciprocal, c)?;
    add_binary(eg, BinaryOp::Mul, x, r)
}

/// `Pow(x, 2)` -> `x * x`.
fn find_square(eg: &EGraph, id: Id) -> Vec<Id> {
    binary_args(eg, id, BinaryOp::Pow)
        .into_iter()
        .filter(|&(x, e)| splat_is(eg, e, 2.0) && ty(eg, x) == ty(eg, id))
        .map(|(x, _)| x)
        .collect()
}

fn build_square(eg: &mut EGraph, &x: &Id) -> Option<Id> {
    add_binary(eg, BinaryOp::Mul, x, x)
}

/// `MatMul(a, B) + c` with constant `B` `[K, N]` and a constant bias of N elements (leading dims 1) ->
/// `Reshape(Gemm(Reshape(a, [M, K]), B, c))`. The reshapes are free (aliases) and the Gemm adds the bias on
/// the MAC array's way out, saving one elementwise pass over the output.
fn find_matmul_add(eg: &EGraph, id: Id) -> Vec<(Id, Id, Id)> {
    let mut out = Vec::new();
    for (x, y) in binary_args(eg, id, BinaryOp::Add) {
        for (mm, c) in [(x, y), (y, x)] {
            if !is_const(eg, c) || ty(eg, mm) != ty(eg, id) {
                continue;
            }
            for (op, a) in ops(eg, mm) {
                let Op::MatMul(_) = op else { continue };
                let [b0, b1] = dims(eg, a[1]) else { continue };
                let cd = dims(eg, c);
                let bias_ok = cd.last() == Some(b1) && cd.iter().rev().skip(1).all(|&d| d == 1);
                if is_const(eg, a[1]) && !is_const(eg, a[0]) && dims(eg, a[0]).len() >= 2 && bias_ok && *b0 > 0 {
                    out.push((a[0], a[1], c));
                }
            }
        }
    }
    out
}

fn build_matmul_add(eg: &mut EGraph, &(a, b, c): &(Id, Id, Id)) -> Option<Id> {
    let ad = dims(eg, a).to_vec();
    let (k, n) = (dims(eg, b)[0], dims(eg, b)[1]);
    let m = ad[..ad.len() - 1].iter().product::<usize>();
    let mut out = ad[..ad.len() - 1].to_vec();
    out.push(n);
    let a2 = add_reshape(eg, a, &[m, k])?;
    let c1 = add_reshape(eg, c, &[n])?;
    let gemm = Gemm { alpha: 1.0, beta: 1.0, trans_a: false, trans_b: false, act: None };
    let g = add_op(eg, Op::Gemm(gemm), &[a2, b, c1])?;
    add_reshape(eg, g, &out)
}
