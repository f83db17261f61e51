//! Rule family `fold/`: per-channel constant arithmetic after a convolution (or Gemm) folded into its weights
//! and bias, and zero padding folded into the convolution's pads. The new weights are constant expressions
//! over the old ones (folded once, after extraction), so a rule firing again adds nothing.
use crate::rewrite::analysis::EGraph;
use crate::rewrite::rule::{
    add_binary, add_op, add_reshape, add_splat, add_unary, channel_vector, dims, is_const, ops, per_channel, splat, ty,
    Rule,
};
use accel_ops::op::{BinaryOp, Conv, Gemm, Op, UnaryOp};
use egg::Id;

pub fn rules() -> Vec<super::Any> {
    vec![
        super::any(Rule { name: "fold/bn-into-conv", find: find_bn_conv, build: build_bn_conv }),
        super::any(Rule { name: "fold/bn-into-gemm", find: find_bn_gemm, build: build_bn_gemm }),
        super::any(Rule { name: "fold/mul-into-conv", find: find_mul_conv, build: build_mul_conv }),
        super::any(Rule { name: "fold/add-into-conv", find: find_add_conv, build: build_add_conv }),
        super::any(Rule { name: "fold/pad-into-conv", find: find_pad_conv, build: build_pad_conv }),
    ]
}

/// A convolution whose weights (and bias, if any) are constant, with no activation and no residual: the form
/// into which per-channel affine maps fold.
#[derive(Clone)]
pub struct PlainConv {
    pub conv: Conv,
    pub x: Id,
    pub w: Id,
    pub b: Option<Id>,
}

fn plain_convs(eg: &EGraph, id: Id) -> Vec<PlainConv> {
    ops(eg, id)
        .filter_map(|(op, a)| match op {
            Op::Conv(c) if c.act.is_none() && a.len() <= 3 && a[1..].iter().all(|&v| is_const(eg, v)) => {
                Some(PlainConv { conv: c.clone(), x: a[0], w: a[1], b: a.get(2).copied() })
            }
            _ => None,
        })
        .collect()
}

/// BatchNorm parameters: scale, bias, mean, var (constant classes) and epsilon.
#[derive(Clone, Copy)]
pub struct BnParams {
    s: Id,
    beta: Id,
    mean: Id,
    var: Id,
    eps: f32,
}

/// `(bn input, params)` of each canonical BatchNorm in `id` with constant parameters.
fn batch_norms(eg: &EGraph, id: Id) -> Vec<(Id, BnParams)> {
    ops(eg, id)
        .filter_map(|(op, a)| match op {
            Op::BatchNorm(bn) if a[1..].iter().all(|&v| is_const(eg, v)) => {
                Some((a[0], BnParams { s: a[1], beta: a[2], mean: a[3], var: a[4], eps: bn.epsilon }))
            }
            _ => None,
        })
        .collect()
}

/// `k = s / sqrt(var + eps)` and `off = beta - mean * k`, each `[C]`.
fn bn_affine(eg: &mut EGraph, p: &BnParams) -> Option<(Id, Id)> {
    let eps = add_splat(eg, p.eps, &[]);
    let ve = add_binary(eg, BinaryOp::Add, p.var, eps)?;
    let sd = add_unary(eg, UnaryOp::Sqrt, ve)?;
    let k = add_binary(eg, BinaryOp::Div, p.s, sd)?;
    let mk = add_binary(eg, BinaryOp::Mul, p.mean, k)?;
    let off = add_binary(eg, BinaryOp::Sub, p.beta, mk)?;
    Some((k, off))
}

/// Scales the output channels of a convolution by `k` (`[K]`) and then adds `off` (`[K]`, optional).
fn affine_conv(eg: &mut EGraph, c: &PlainConv, k: Option<Id>, off: Option<Id>) -> Option<Id> {
    let kk = dims(eg, c.w)[0];
    let (w, b) = match k {
        Some(k) => {
            let kr = add_reshape(eg, k, &[kk, 1, 1, 1])?;
            let w = add_binary(eg, BinaryOp::Mul, c.w, kr)?;
            let b = match c.b {
                Some(b) => Some(add_binary(eg, BinaryOp::Mul, b, k)?),
                None => None,
            };
            (w, b)
        }
        None => (c.w, c.b),
    };
    let b = match (b, off) {
        (Some(b), Some(o)) => Some(add_binary(eg, BinaryOp::Add, b, o)?),
        (None, Some(o)) => Some(o),
        (b, None) => b,
    };
    let mut args = vec![c.x, w];
    args.extend(b);
    add_op(eg, Op::Conv(c.conv.clone()), &args)
}

/// `BatchNorm(Conv(x, w, b?))` -> `Conv(x, w * k, b * k + off)`.
fn find_bn_conv(eg: &EGraph, id: Id) -> Vec<(PlainConv, BnParams)> {
    let mut out = Vec::new();
    for (x, p) in batch_norms(eg, id) {
        out.extend(plain_convs(eg, x).into_iter().map(|c| (c, p)));
    }
    out
}

fn build_bn_conv(eg: &mut EGraph, (c, p): &(PlainConv, BnParams)) -> Option<Id> {
    let (k, off) = bn_affine(eg, p)?;
    affine_conv(eg, c, Some(k), Some(off))
}

/// A Gemm with constant B and C (if any), `beta == 1` when there is a C, no activation.
#[derive(Clone)]
pub struct PlainGemm {
    gemm: Gemm,
    a: Id,
    b: Id,
    c: Option<Id>,
}

/// `BatchNorm(Gemm(a, B, C))` over `[M, N]` -> `Gemm(a, B * k, C * k + off)` (k along N).
fn find_bn_gemm(eg: &EGraph, id: Id) -> Vec<(PlainGemm, BnParams)> {
    let mut out = Vec::new();
    for (x, p) in batch_norms(eg, id) {
        for (op, a) in ops(eg, x) {
            let Op::Gemm(g) = op else { continue };
            let c_ok = a.get(2).is_none_or(|&c| is_const(eg, c) && g.beta == 1.0 && dims(eg, c).len() <= 2);
            if g.act.is_none() && is_const(eg, a[1]) && c_ok {
                out.push((PlainGemm { gemm: g.clone(), a: a[0], b: a[1], c: a.get(2).copied() }, p));
            }
        }
    }
    out
}

fn build_bn_gemm(eg: &mut EGraph, (g, p): &(PlainGemm, BnParams)) -> Option<Id> {
    let (k, off) = bn_affine(eg, p)?;
    let n = dims(eg, k)[0];
    let kb = if g.gemm.trans_b { add_reshape(eg, k, &[n, 1])? } else { k };
    let b = add_binary(eg, BinaryOp::Mul, g.b, kb)?;
    // `alpha * a * (B k)` = `k * (alpha * a * B)`; `beta * C'` with `beta = 1` and `C' = C k + off`.
    let c = match g.c {
        Some(c) => {
            let ck = add_binary(eg, BinaryOp::Mul, c, k)?;
            add_binary(eg, BinaryOp::Add, ck, off)?
        }
        None => off,
    };
    let gemm = Gemm { beta: 1.0, ..g.gemm.clone() };
    add_op(eg, Op::Gemm(gemm), &[g.a, b, c])
}

/// A convolution and a per-channel (or scalar) constant combined with its output.
type ConvAndConst = (PlainConv, Id, usize);

/// The (conv, constant) operand orders of `op(a, b)` in class `id` where the result keeps the conv's type.
fn conv_with_const(eg: &EGraph, id: Id, f: BinaryOp, commutes: bool) -> Vec<ConvAndConst> {
    let mut out = Vec::new();
    for (op, a) in ops(eg, id) {
        let Op::Binary(b) = op else { continue };
        if b.op != f {
            continue;
        }
        let orders: &[(usize, usize)] = if commutes { &[(0, 1), (1, 0)] } else { &[(0, 1)] };
        for &(ci, ki) in orders {
            let (cv, k) = (a[ci], a[ki]);
            if !is_const(eg, k) || ty(eg, cv) != ty(eg, id) {
                continue;
            }
            let Some(n) = per_channel(dims(eg, id), dims(eg, k)) else { continue };
            out.extend(plain_convs(eg, cv).into_iter().map(|c| (c, k, n)));
        }
    }
    out
}

/// `Conv(x, w, b) * c` (c per output channel or scalar) -> `Conv(x, w * c, b * c)`.
fn find_mul_conv(eg: &EGraph, id: Id) -> Vec<ConvAndConst> {
    conv_with_const(eg, id, BinaryOp::Mul, true)
}

fn build_mul_conv(eg: &mut EGraph, (c, k, _): &ConvAndConst) -> Option<Id> {
    let kk = dims(eg, c.w)[0];
    let kv = channel_vector(eg, *k, kk)?;
    affine_conv(eg, c, Some(kv), None)
}

/// `Conv(x, w, b) + c` or `- c` (c per output channel or scalar) -> `Conv(x, w, b ± c)`.
fn find_add_conv(eg: &EGraph, id: Id) -> Vec<(ConvAndConst, bool)> {
    let add = conv_with_const(eg, id, BinaryOp::Add, true).into_iter().map(|m| (m, false));
    add.chain(conv_with_const(eg, id, BinaryOp::Sub, false).into_iter().map(|m| (m, true))).collect()
}

fn build_add_conv(eg: &mut EGraph, ((c, k, _), negate): &(ConvAndConst, bool)) -> Option<Id> {
    let kk = dims(eg, c.w)[0];
    let mut kv = channel_vector(eg, *k, kk)?;
    if *negate {
        kv = match splat(eg, kv) {
            Some(v) => add_splat(eg, -v, &[kk]),
            None => add_unary(eg, UnaryOp::Neg, kv)?,
        };
    }
    affine_conv(eg, c, None, Some(kv))
}

/// `Conv(Pad(x))` with zero constant padding of the two spatial axes only -> `Conv(x)` with larger pads.
fn find_pad_conv(eg: &EGraph, id: Id) -> Vec<(Conv, Vec<Id>)> {
    let mut out = Vec::new();
    for (op, a) in ops(eg, id) {
        let Op::Conv(c) = op else { continue };
        for (pop, pa) in ops(eg, a[0]) {
            let Op::Pad(p) = pop else { continue };
            let spatial_only = p.begin.len() == 4 && p.begin[..2] == [0, 0] && p.end[..2] == [0, 0];
            if p.value != 0.0 || !spatial_only {
                continue;
            }
            let pads = [c.pads[0] + p.begin[2], c.pads[1] + p.begin[3], c.pads[2] + p.end[2], c.pads[3] + p.end[3]];
            let mut args = a.to_vec();
            args[0] = pa[0];
            out.push((Conv { pads, ..c.clone() }, args));
        }
    }
    out
}

fn build_pad_conv(eg: &mut EGraph, (c, args): &(Conv, Vec<Id>)) -> Option<Id> {
    add_op(eg, Op::Conv(c.clone()), args)
}
