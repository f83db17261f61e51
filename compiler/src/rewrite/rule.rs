//! How rules are written: a rule is a named pair of plain functions, `find` (the matches rooted at one
//! e-class, read-only) and `build` (adds the equivalent e-nodes for one match), wrapped as an egg `Searcher`
//! and `Applier`. Matching is Rust code over typed `Op`s rather than s-expression patterns, because the
//! conditions (constness, shapes, attribute values) are most of each rule. Also the match and build helpers
//! the rule families share.
use super::analysis::{Ctx, EGraph, Konst};
use super::lang::{ENode, Place};
use accel_ops::op::{Binary, BinaryOp, Op, Reshape, Unary, UnaryOp};
use accel_ops::shape::Shape;
use accel_ops::TensorType;
use egg::{Applier, Id, PatternAst, Rewrite, SearchMatches, Searcher, Subst, Symbol, Var};

/// A rule: `find` lists the matches rooted at a class; `build` returns the class of an equivalent
/// expression for one match (or `None` when it cannot be built after all).
pub struct Rule<M> {
    pub name: &'static str,
    pub find: fn(&EGraph, Id) -> Vec<M>,
    pub build: fn(&mut EGraph, &M) -> Option<Id>,
}

impl<M> Clone for Rule<M> {
    fn clone(&self) -> Self {
        Rule { name: self.name, find: self.find, build: self.build }
    }
}

/// Wraps a rule for egg's runner.
pub fn rewrite<M: 'static>(rule: Rule<M>) -> Result<Rewrite<ENode, Ctx>, String> {
    Rewrite::new(rule.name, rule.clone(), rule)
}

impl<M: 'static> Searcher<ENode, Ctx> for Rule<M> {
    fn search_eclass_with_limit(&self, eg: &EGraph, eclass: Id, limit: usize) -> Option<SearchMatches<'_, ENode>> {
        // One (empty) substitution per matching class: the applier finds the class's matches again, so that
        // a match's typed payload never has to travel through egg's `Subst`.
        if limit == 0 || (self.find)(eg, eclass).is_empty() {
            return None;
        }
        Some(SearchMatches { eclass, substs: vec![Subst::with_capacity(0)], ast: None })
    }

    fn vars(&self) -> Vec<Var> {
        Vec::new()
    }
}

impl<M: 'static> Applier<ENode, Ctx> for Rule<M> {
    fn apply_one(
        &self,
        eg: &mut EGraph,
        eclass: Id,
        _subst: &Subst,
        _ast: Option<&PatternAst<ENode>>,
        _rule: Symbol,
    ) -> Vec<Id> {
        let mut changed = Vec::new();
        for m in (self.find)(eg, eclass) {
            let Some(new) = (self.build)(eg, &m) else { continue };
            if eg[new].data.ty != eg[eclass].data.ty {
                let why = format!("rule {} built {} for a class of {}", self.name, eg[new].data.ty, eg[eclass].data.ty);
                eg.analysis.conflicts.push(why);
                continue;
            }
            if eg.union(eclass, new) {
                changed.push(eclass);
            }
        }
        changed
    }
}

// ---- matching ----------------------------------------------------------------------------------------------

/// Whether an operator node is the one rules match: the tile node, or the host node of an operator the tiles
/// do not run (the host twins that `place/host-fallback` adds are not matched again; constant nodes neither).
fn canonical(eg: &EGraph, op: &Op, place: Place) -> bool {
    match place {
        Place::Tile => true,
        Place::Host => eg.analysis.home(op) == Place::Host,
        Place::Fold => false,
    }
}

/// The canonical operator nodes of a class.
pub fn ops(eg: &EGraph, id: Id) -> impl Iterator<Item = (&Op, &[Id])> + '_ {
    eg[id].nodes.iter().filter_map(move |n| match n {
        ENode::Op { op, place, args } if canonical(eg, op.op(), *place) => Some((op.op(), args.as_slice())),
        _ => None,
    })
}

/// The operands of each canonical unary node of `id` applying `f`.
pub fn unary_args(eg: &EGraph, id: Id, f: impl Fn(&UnaryOp) -> bool) -> Vec<Id> {
    ops(eg, id)
        .filter_map(|(op, args)| match op {
            Op::Unary(u) if f(&u.op) => Some(args[0]),
            _ => None,
        })
        .collect()
}

/// The operand pairs of each canonical binary node of `id` with function `f`.
pub fn binary_args(eg: &EGraph, id: Id, f: BinaryOp) -> Vec<(Id, Id)> {
    ops(eg, id)
        .filter_map(|(op, args)| match op {
            Op::Binary(b) if b.op == f => Some((args[0], args[1])),
            _ => None,
        })
        .collect()
}

pub fn ty(eg: &EGraph, id: Id) -> &TensorType {
    &eg[id].data.ty
}

pub fn dims(eg: &EGraph, id: Id) -> &[usize] {
    eg[id].data.ty.shape.dims()
}

pub fn is_const(eg: &EGraph, id: Id) -> bool {
    eg[id].data.konst.is_const()
}

/// The value of a splat constant class.
pub fn splat(eg: &EGraph, id: Id) -> Option<f32> {
    match eg[id].data.konst {
        Konst::Splat(v) => Some(v),
        _ => None,
    }
}

/// Whether `id` is a splat constant within relative 1e-5 of `want`.
pub fn splat_is(eg: &EGraph, id: Id, want: f32) -> bool {
    splat(eg, id).is_some_and(|v| close(v, want))
}

pub fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-5 * a.abs().max(b.abs()).max(1e-30)
}

pub fn same(eg: &EGraph, a: Id, b: Id) -> bool {
    eg.find(a) == eg.find(b)
}

/// The channel count if a constant of dims `c` broadcast against NCHW `out` varies only along the channel
/// axis (or is a scalar): `Some(k)` with k in {1, out[1]}.
pub fn per_channel(out: &[usize], c: &[usize]) -> Option<usize> {
    if out.len() != 4 || c.len() > 4 {
        return None;
    }
    let mut full = vec![1usize; 4 - c.len()];
    full.extend_from_slice(c);
    (full[0] == 1 && full[2] == 1 && full[3] == 1 && (full[1] == 1 || full[1] == out[1])).then_some(full[1])
}

// ---- building ----------------------------------------------------------------------------------------------

/// Adds an operator over existing classes if it type-checks: folded at compile time when every operand is
/// constant, else placed where `Ctx::home` says.
pub fn add_op(eg: &mut EGraph, op: Op, args: &[Id]) -> Option<Id> {
    let types: Vec<TensorType> = args.iter().map(|&a| ty(eg, a).clone()).collect();
    op.infer(&types).ok()?;
    let place = if args.iter().all(|&a| is_const(eg, a)) { Place::Fold } else { eg.analysis.home(&op) };
    Some(eg.add(ENode::op(op, place, args.to_vec())))
}

pub fn add_splat(eg: &mut EGraph, value: f32, shape: &[usize]) -> Id {
    eg.add(ENode::splat(value, shape))
}

pub fn add_binary(eg: &mut EGraph, op: BinaryOp, a: Id, b: Id) -> Option<Id> {
    add_op(eg, Op::Binary(Binary { op }), &[a, b])
}

pub fn add_unary(eg: &mut EGraph, op: UnaryOp, x: Id) -> Option<Id> {
    add_op(eg, Op::Unary(Unary { op }), &[x])
}

/// `x` reshaped to `dims` (`x` itself when it already has them).
pub fn add_reshape(eg: &mut EGraph, x: Id, dims: &[usize]) -> Option<Id> {
    if self::dims(eg, x) == dims {
        return Some(x);
    }
    add_op(eg, Op::Reshape(Reshape { shape: Shape(dims.to_vec()) }), &[x])
}

/// A `[k]` vector from a per-channel or scalar constant class (see `per_channel`).
pub fn channel_vector(eg: &mut EGraph, c: Id, k: usize) -> Option<Id> {
    let n: usize = dims(eg, c).iter().product();
    match (n, splat(eg, c)) {
        (_, Some(v)) => Some(add_splat(eg, v, &[k])),
        (n, None) if n == k => add_reshape(eg, c, &[k]),
        _ => None,
    }
}
