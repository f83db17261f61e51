//! Rule family `fuse/`: what the MAC array does on its way out. An activation the tiles run is applied by the
//! convolution or Gemm that produces its operand; a residual `Add` of an output-shaped value becomes the
//! convolution's fourth input (`act(conv(x, w) + b + r)`, so a following activation fuses too). The rules
//! only add the fused alternative: when the unfused result is also needed elsewhere, extraction (which counts
//! shared nodes once) decides whether computing both is worth it.
use crate::rewrite::analysis::EGraph;
use crate::rewrite::rule::{add_op, add_reshape, add_splat, add_unary, binary_args, dims, is_const, ops, ty, Rule};
use accel_ops::op::{BinaryOp, Conv, Gemm, Op, UnaryOp};
use egg::Id;

pub fn rules() -> Vec<super::Any> {
    vec![
        super::any(Rule { name: "fuse/conv-act", find: find_conv_act, build: build_fused }),
        super::any(Rule { name: "fuse/gemm-act", find: find_gemm_act, build: build_fused }),
        super::any(Rule { name: "fuse/conv-residual", find: find_conv_residual, build: build_conv_residual }),
        super::any(Rule { name: "fuse/act-before-reshape", find: find_act_reshape, build: build_act_reshape }),
    ]
}

/// Activations the vector stage behind the MAC array applies: the ones the target's tiles run.
fn fusable(eg: &EGraph, act: &UnaryOp) -> bool {
    eg.analysis.target.tile_supports(act.name())
}

/// The activation operands of class `id`: `(act, x)` for each canonical `act(x)` the tiles can fuse.
fn activations(eg: &EGraph, id: Id) -> Vec<(UnaryOp, Id)> {
    ops(eg, id)
        .filter_map(|(op, a)| match op {
            Op::Unary(u) if fusable(eg, &u.op) => Some((u.op, a[0])),
            _ => None,
        })
        .collect()
}

fn build_fused(eg: &mut EGraph, (op, args): &(Op, Vec<Id>)) -> Option<Id> {
    add_op(eg, op.clone(), args)
}

/// `act(Conv(...))` -> `Conv(...)` with `act` (residual or not).
fn find_conv_act(eg: &EGraph, id: Id) -> Vec<(Op, Vec<Id>)> {
    let mut out = Vec::new();
    for (act, y) in activations(eg, id) {
        for (op, a) in ops(eg, y) {
            if let Op::Conv(c) = op {
                if c.act.is_none() {
                    out.push((Op::Conv(Conv { act: Some(act), ..c.clone() }), a.to_vec()));
                }
            }
        }
    }
    out
}

/// `act(Gemm(...))` -> `Gemm(...)` with `act`.
fn find_gemm_act(eg: &EGraph, id: Id) -> Vec<(Op, Vec<Id>)> {
    let mut out = Vec::new();
    for (act, y) in activations(eg, id) {
        for (op, a) in ops(eg, y) {
            if let Op::Gemm(g) = op {
                if g.act.is_none() {
                    out.push((Op::Gemm(Gemm { act: Some(act), ..g.clone() }), a.to_vec()));
                }
            }
        }
    }
    out
}

/// `Conv(x, w, b?) + r` (either order) with a non-constant `r` of the output's type -> `Conv(x, w, b, r)`.
fn find_conv_residual(eg: &EGraph, id: Id) -> Vec<(Op, Vec<Id>, Id)> {
    let mut out = Vec::new();
    for (p, q) in binary_args(eg, id, BinaryOp::Add) {
        for (cv, r) in [(p, q), (q, p)] {
            if is_const(eg, r) || ty(eg, r) != ty(eg, id) || ty(eg, cv) != ty(eg, id) {
                continue;
            }
            for (op, a) in ops(eg, cv) {
                if matches!(op, Op::Conv(c) if c.act.is_none()) && a.len() <= 3 {
                    out.push((op.clone(), a.to_vec(), r));
                }
            }
        }
    }
    out
}

/// The residual is the fourth input, so a bias-less convolution gets a zero bias.
fn build_conv_residual(eg: &mut EGraph, (op, args, r): &(Op, Vec<Id>, Id)) -> Option<Id> {
    let mut args = args.clone();
    if args.len() == 2 {
        let k = *dims(eg, args[1]).first()?;
        args.push(add_splat(eg, 0.0, &[k]));
    }
    args.push(*r);
    add_op(eg, op.clone(), &args)
}

/// `act(Reshape(y))` where y is a Conv or Gemm output -> `Reshape(act(y))`, so the activation can fuse
/// (matmuls reach Gemm through a reshape to 2-D and back).
fn find_act_reshape(eg: &EGraph, id: Id) -> Vec<(UnaryOp, Id, Vec<usize>)> {
    let mut out = Vec::new();
    for (act, r) in activations(eg, id) {
        for (op, a) in ops(eg, r) {
            let Op::Reshape(rs) = op else { continue };
            if ops(eg, a[0]).any(|(p, _)| matches!(p, Op::Conv(_) | Op::Gemm(_))) {
                out.push((act, a[0], rs.shape.dims().to_vec()));
            }
        }
    }
    out
}

fn build_act_reshape(eg: &mut EGraph, (act, y, shape): &(UnaryOp, Id, Vec<usize>)) -> Option<Id> {
    let z = add_unary(eg, *act, *y)?;
    add_reshape(eg, z, shape)
}
