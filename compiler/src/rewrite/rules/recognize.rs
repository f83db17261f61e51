//! Rule family `recognize/`: activations exported as several elementwise operators, recognized as the one
//! unary operator they compute (which the tiles then fuse into the convolution before them): SiLU
//! `x * sigmoid(x)`, HardSigmoid `relu6(x + 3) / 6`, HardSwish `x * relu6(x + 3) / 6` and `x * hardsigmoid(x)`,
//! and exact GELU `x * (1 + erf(x / sqrt 2)) * 0.5`. Products are matched through `terms`, which sees every
//! grouping of up to four factors and constant scales (`a * b * c`, `(a * b) / 6`, `a * (0.5 * b)`), so no
//! associativity rule is needed. LayerNorm and its scale and bias: `layer_norm.rs`.
use crate::rewrite::analysis::EGraph;
use crate::rewrite::rule::{add_unary, binary_args, close, same, splat, splat_is, unary_args, Rule};
use accel_ops::op::{BinaryOp, UnaryOp};
use egg::Id;

mod layer_norm;

pub fn rules() -> Vec<super::Any> {
    vec![
        super::any(Rule { name: "recognize/silu", find: find_silu, build: build_silu }),
        super::any(Rule { name: "recognize/hard-sigmoid", find: find_hard_sigmoid, build: build_hard_sigmoid }),
        super::any(Rule { name: "recognize/hard-swish", find: find_hard_swish, build: build_hard_swish }),
        super::any(Rule { name: "recognize/gelu", find: find_gelu, build: build_gelu }),
    ]
    .into_iter()
    .chain(layer_norm::rules())
    .collect()
}

/// One way to read a class as a product: `coef * factors[0] * factors[1] * ...` (factors are non-splat
/// classes, canonical ids, in operand order).
#[derive(Debug, Clone)]
struct Term {
    coef: f32,
    factors: Vec<Id>,
}

const MAX_TERMS: usize = 32;

/// The products `id` is known to equal, looking `depth` Mul/Div levels down.
fn terms(eg: &EGraph, id: Id, depth: usize) -> Vec<Term> {
    if let Some(v) = splat(eg, id) {
        return vec![Term { coef: v, factors: Vec::new() }];
    }
    let mut out = vec![Term { coef: 1.0, factors: vec![eg.find(id)] }];
    if depth == 0 {
        return out;
    }
    for (x, y) in binary_args(eg, id, BinaryOp::Mul) {
        let ty = terms(eg, y, depth - 1);
        for tx in terms(eg, x, depth - 1) {
            for t in &ty {
                let mut factors = tx.factors.clone();
                factors.extend(&t.factors);
                out.push(Term { coef: tx.coef * t.coef, factors });
            }
        }
    }
    for (x, c) in binary_args(eg, id, BinaryOp::Div) {
        let Some(v) = splat(eg, c).filter(|v| *v != 0.0) else { continue };
        out.extend(terms(eg, x, depth - 1).into_iter().map(|t| Term { coef: t.coef / v, ..t }));
    }
    out.truncate(MAX_TERMS);
    out
}

/// `(x, other)` for each two-factor term of `id` with coefficient `coef`, in both orders.
fn pairs(eg: &EGraph, id: Id, depth: usize, coef: f32) -> Vec<(Id, Id)> {
    let mut out = Vec::new();
    for t in terms(eg, id, depth) {
        if let [a, b] = t.factors[..] {
            if close(t.coef, coef) {
                out.extend([(a, b), (b, a)]);
            }
        }
    }
    out
}

/// Whether `r` is `relu6(x + 3)` (Clip(0, 6) of x plus the constant 3).
fn is_relu6_x_plus_3(eg: &EGraph, r: Id, x: Id) -> bool {
    unary_args(eg, r, |u| matches!(u, UnaryOp::Clip { min, max } if *min == 0.0 && *max == 6.0)).into_iter().any(|s| {
        binary_args(eg, s, BinaryOp::Add)
            .into_iter()
            .any(|(a, b)| (same(eg, a, x) && splat_is(eg, b, 3.0)) || (same(eg, b, x) && splat_is(eg, a, 3.0)))
    })
}

/// The x of `relu6(x + 3)`, if `r` is that.
fn relu6_operand(eg: &EGraph, r: Id) -> Vec<Id> {
    let clips = unary_args(eg, r, |u| matches!(u, UnaryOp::Clip { min, max } if *min == 0.0 && *max == 6.0));
    let mut out = Vec::new();
    for s in clips {
        for (a, b) in binary_args(eg, s, BinaryOp::Add) {
            if splat_is(eg, b, 3.0) && splat(eg, a).is_none() {
                out.push(a);
            } else if splat_is(eg, a, 3.0) && splat(eg, b).is_none() {
                out.push(b);
            }
        }
    }
    out
}

/// `x * sigmoid(x)` -> `silu(x)`.
fn find_silu(eg: &EGraph, id: Id) -> Vec<Id> {
    pairs(eg, id, 1, 1.0)
        .into_iter()
        .filter(|&(x, s)| unary_args(eg, s, |u| *u == UnaryOp::Sigmoid).into_iter().any(|y| same(eg, x, y)))
        .map(|(x, _)| x)
        .collect()
}

fn build_silu(eg: &mut EGraph, &x: &Id) -> Option<Id> {
    add_unary(eg, UnaryOp::Silu, x)
}

const SIXTH: f32 = 1.0 / 6.0;

fn is_hard_sigmoid_sixth(u: &UnaryOp) -> bool {
    matches!(u, UnaryOp::HardSigmoid { alpha, beta } if close(*alpha, SIXTH) && close(*beta, 0.5))
}

/// `relu6(x + 3) / 6` -> `hard-sigmoid(x)` with alpha 1/6, beta 1/2 (PyTorch's definition).
fn find_hard_sigmoid(eg: &EGraph, id: Id) -> Vec<Id> {
    let mut out = Vec::new();
    for t in terms(eg, id, 1) {
        if let ([r], true) = (&t.factors[..], close(t.coef, SIXTH)) {
            out.extend(relu6_operand(eg, *r));
        }
    }
    out
}

fn build_hard_sigmoid(eg: &mut EGraph, &x: &Id) -> Option<Id> {
    add_unary(eg, UnaryOp::HardSigmoid { alpha: SIXTH, beta: 0.5 }, x)
}

/// `x * hard-sigmoid(x)` or `x * relu6(x + 3) / 6` (any grouping) -> `hard-swish(x)`.
fn find_hard_swish(eg: &EGraph, id: Id) -> Vec<Id> {
    let by_sigmoid = pairs(eg, id, 1, 1.0)
        .into_iter()
        .filter(|&(x, h)| unary_args(eg, h, is_hard_sigmoid_sixth).into_iter().any(|y| same(eg, x, y)));
    let by_relu6 = pairs(eg, id, 2, SIXTH).into_iter().filter(|&(x, r)| is_relu6_x_plus_3(eg, r, x));
    let mut out: Vec<Id> = by_sigmoid.chain(by_relu6).map(|(x, _)| x).collect();
    out.dedup();
    out
}

fn build_hard_swish(eg: &mut EGraph, &x: &Id) -> Option<Id> {
    add_unary(eg, UnaryOp::HardSwish, x)
}

/// Whether `d` is `x / sqrt 2` (or `x * (1 / sqrt 2)`).
fn is_x_over_sqrt2(eg: &EGraph, d: Id, x: Id) -> bool {
    terms(eg, d, 1)
        .into_iter()
        .any(|t| matches!(t.factors[..], [f] if same(eg, f, x)) && close(t.coef, std::f32::consts::FRAC_1_SQRT_2))
}

/// `x * (1 + erf(x / sqrt 2)) * 0.5` (any grouping, 0.5 possibly as `/ 2`) -> `gelu(x)`.
fn find_gelu(eg: &EGraph, id: Id) -> Vec<Id> {
    let mut out = Vec::new();
    for (x, e) in pairs(eg, id, 2, 0.5) {
        let erf_args = |u: Id| unary_args(eg, u, |f| *f == UnaryOp::Erf);
        let one_plus_erf = binary_args(eg, e, BinaryOp::Add).into_iter().any(|(a, b)| {
            let (u, one) = if splat_is(eg, b, 1.0) { (a, b) } else { (b, a) };
            splat_is(eg, one, 1.0) && erf_args(u).into_iter().any(|d| is_x_over_sqrt2(eg, d, x))
        });
        if one_plus_erf && !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

fn build_gelu(eg: &mut EGraph, &x: &Id) -> Option<Id> {
    add_unary(eg, UnaryOp::Gelu, x)
}
