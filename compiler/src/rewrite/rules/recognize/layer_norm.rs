//! LayerNorm exported as operators (below opset 17, or expanded by the importer's function body):
//! `d = x - mean(x)`, `var = mean(d * d)` (or `d ^ 2`), `y = d / sqrt(var + eps)` (or `d * 1/sqrt(...)`),
//! the means over the trailing axes `axis..rank` with kept dims, recognized as one `LayerNorm` with a unit
//! scale; then `* gamma` and `+ beta` by constants that vary only along the normalized axes become its scale
//! and bias. The host runs the one operator in one kernel instead of nine layers.
use crate::rewrite::analysis::EGraph;
use crate::rewrite::rule::{add_binary, add_op, add_reshape, add_splat, binary_args, dims, is_const, ops};
use crate::rewrite::rule::{same, splat, splat_is, unary_args, Rule};
use accel_ops::op::{BinaryOp, LayerNorm, Op, ReduceKind, UnaryOp};
use egg::Id;

pub fn rules() -> Vec<crate::rewrite::rules::Any> {
    use crate::rewrite::rules::any;
    vec![
        any(Rule { name: "recognize/layer-norm", find: find_layer_norm, build: build_layer_norm }),
        any(Rule { name: "recognize/layer-norm-scale", find: find_scale, build: build_scale }),
        any(Rule { name: "recognize/layer-norm-bias", find: find_bias, build: build_bias }),
    ]
}

/// A recognized normalization: `x`, the first normalized axis and epsilon.
type Norm = (Id, usize, f32);

/// `(axis, x)` for each keepdims ReduceMean of `id` over the trailing axes `axis..rank` of `x`.
fn trailing_means(eg: &EGraph, id: Id) -> Vec<(usize, Id)> {
    ops(eg, id)
        .filter_map(|(op, a)| match op {
            Op::Reduce(r) if r.kind == ReduceKind::Mean && r.keepdims => {
                let rank = dims(eg, a[0]).len();
                let axis = *r.axes.first()?;
                (r.axes.iter().copied().eq(axis..rank) && axis < rank).then_some((axis, a[0]))
            }
            _ => None,
        })
        .collect()
}

/// `(x, axis)` if `d` is `x - mean(x)` over the trailing axes from `axis`.
fn centered(eg: &EGraph, d: Id) -> Vec<(Id, usize)> {
    let mut out = Vec::new();
    for (x, m) in binary_args(eg, d, BinaryOp::Sub) {
        for (axis, y) in trailing_means(eg, m) {
            if same(eg, x, y) && !is_const(eg, x) {
                out.push((x, axis));
            }
        }
    }
    out
}

/// Epsilon if `s` is `sqrt(mean(d * d) + eps)` with the mean over the trailing axes from `axis`.
fn std_of(eg: &EGraph, s: Id, d: Id, axis: usize) -> Option<f32> {
    for e in unary_args(eg, s, |u| *u == UnaryOp::Sqrt) {
        for (p, q) in binary_args(eg, e, BinaryOp::Add) {
            for (var, eps) in [(p, q), (q, p)] {
                let Some(eps) = splat(eg, eps).filter(|v| v.is_finite() && *v >= 0.0) else { continue };
                let is_square = |sq: Id| {
                    binary_args(eg, sq, BinaryOp::Mul).into_iter().any(|(a, b)| same(eg, a, d) && same(eg, b, d))
                        || binary_args(eg, sq, BinaryOp::Pow)
                            .into_iter()
                            .any(|(a, k)| same(eg, a, d) && splat_is(eg, k, 2.0))
                };
                if trailing_means(eg, var).into_iter().any(|(ax, sq)| ax == axis && is_square(sq)) {
                    return Some(eps);
                }
            }
        }
    }
    None
}

/// `d / std` or `d * (1 / std)` (either order) -> `LayerNorm(x, 1)`.
fn find_layer_norm(eg: &EGraph, id: Id) -> Vec<Norm> {
    let mut cands: Vec<(Id, Id)> = binary_args(eg, id, BinaryOp::Div);
    for (p, q) in binary_args(eg, id, BinaryOp::Mul) {
        for (d, r) in [(p, q), (q, p)] {
            cands.extend(unary_args(eg, r, |u| *u == UnaryOp::Reciprocal).into_iter().map(|s| (d, s)));
        }
    }
    let mut out = Vec::new();
    for (d, s) in cands {
        for (x, axis) in centered(eg, d) {
            if let Some(eps) = std_of(eg, s, d, axis) {
                if !out.contains(&(x, axis, eps)) {
                    out.push((x, axis, eps));
                }
            }
        }
    }
    out
}

fn build_layer_norm(eg: &mut EGraph, &(x, axis, epsilon): &Norm) -> Option<Id> {
    let norm = dims(eg, x).get(axis..)?.to_vec();
    let one = add_splat(eg, 1.0, &norm);
    add_op(eg, Op::LayerNorm(LayerNorm { axis, epsilon }), &[x, one])
}

/// The canonical LayerNorm nodes of `id` with exactly `arity` operands: `(op, operands)`.
fn layer_norms(eg: &EGraph, id: Id, arity: usize) -> Vec<(LayerNorm, Vec<Id>)> {
    ops(eg, id)
        .filter_map(|(op, a)| match op {
            Op::LayerNorm(l) if a.len() == arity => Some((l.clone(), a.to_vec())),
            _ => None,
        })
        .collect()
}

/// The dims of constant `c` as an operand of the normalized dims `norm`: leading 1s beyond `norm`'s rank
/// dropped, each remaining dim 1 or equal to `norm`'s (so the product with the normalized value keeps its
/// shape and varies only along the normalized axes).
fn normalized_operand(eg: &EGraph, c: Id, norm: &[usize]) -> Option<Vec<usize>> {
    let d = dims(eg, c);
    let extra = d.len().saturating_sub(norm.len());
    if !is_const(eg, c) || d[..extra].iter().any(|&k| k != 1) {
        return None;
    }
    let d = &d[extra..];
    let off = norm.len() - d.len();
    d.iter().enumerate().all(|(i, &k)| k == 1 || k == norm[off + i]).then(|| d.to_vec())
}

/// A LayerNorm with a new scale or bias operand: `(op, operands so far, constant, its dims)`.
type Affine = (LayerNorm, Vec<Id>, Id, Vec<usize>);

fn affine_of(eg: &EGraph, id: Id, f: BinaryOp, arity: usize) -> Vec<Affine> {
    let mut out = Vec::new();
    for (p, q) in binary_args(eg, id, f) {
        for (l, c) in [(p, q), (q, p)] {
            for (op, args) in layer_norms(eg, l, arity) {
                let norm = dims(eg, args[0])[op.axis..].to_vec();
                if let Some(cd) = normalized_operand(eg, c, &norm) {
                    out.push((op, args, c, cd));
                }
            }
        }
    }
    out
}

/// `LayerNorm(x, s) * gamma` -> `LayerNorm(x, s * gamma)`.
fn find_scale(eg: &EGraph, id: Id) -> Vec<Affine> {
    affine_of(eg, id, BinaryOp::Mul, 2)
}

fn build_scale(eg: &mut EGraph, (op, args, gamma, gd): &Affine) -> Option<Id> {
    let g = add_reshape(eg, *gamma, gd)?;
    let s = add_binary(eg, BinaryOp::Mul, args[1], g)?;
    add_op(eg, Op::LayerNorm(op.clone()), &[args[0], s])
}

/// `LayerNorm(x, s) + beta` -> `LayerNorm(x, s, beta)`.
fn find_bias(eg: &EGraph, id: Id) -> Vec<Affine> {
    affine_of(eg, id, BinaryOp::Add, 2)
}

fn build_bias(eg: &mut EGraph, (op, args, beta, bd): &Affine) -> Option<Id> {
    let b = add_reshape(eg, *beta, bd)?;
    add_op(eg, Op::LayerNorm(op.clone()), &[args[0], args[1], b])
}
