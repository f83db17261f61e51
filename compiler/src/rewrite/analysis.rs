//! The e-class analysis: every class knows its tensor type (shape and dtype) and its constness (not constant,
//! a constant whose value is known only after folding, or a splat whose every element is one known value).
//! Merging two classes checks that the facts agree; a disagreement is a rule bug, recorded and reported as an
//! error by `optimize` instead of a panic.
use super::lang::{ENode, Place};
use accel_ops::op::{Op, ReduceKind};
use accel_ops::target::Target;
use accel_ops::{DType, Tensor, TensorType};
use egg::{Analysis, DidMerge, Id};

/// The e-graph type used everywhere in this module.
pub type EGraph = egg::EGraph<ENode, Ctx>;

/// Whether a class's value is known at compile time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Konst {
    No,
    /// Constant; the value is computed after extraction (or read from the side table).
    Tensor,
    /// Constant, and every element is this value (never NaN).
    Splat(f32),
}

impl Konst {
    pub fn is_const(self) -> bool {
        !matches!(self, Konst::No)
    }
}

/// The facts of one e-class.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub ty: TensorType,
    pub konst: Konst,
    /// An f32 class whose elements are all integers of at most this magnitude (`integral.rs`).
    pub int_bound: Option<f64>,
}

/// The analysis state: the facts of the side-table constants (their tensors stay in the graph), the graph's
/// input types, the target (for placements) and the conflicts found while merging.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub consts: Vec<Facts>,
    pub inputs: Vec<TensorType>,
    pub target: Target,
    pub conflicts: Vec<String>,
    /// The classes of the graph outputs (their values are needed whatever else reads them).
    pub outputs: Vec<Id>,
}

impl Ctx {
    pub fn new(target: Target) -> Ctx {
        Ctx { consts: Vec::new(), inputs: Vec::new(), target, conflicts: Vec::new(), outputs: Vec::new() }
    }

    /// Where a rule-made (or imported) operator node on non-constant operands runs by default: the tiles if
    /// they list its kind, else the host. The `place/host-fallback` rule adds the host twin of tile nodes.
    pub fn home(&self, op: &Op) -> Place {
        if crate::lower::tile_supports_op(&self.target, op) {
            Place::Tile
        } else {
            Place::Host
        }
    }
}

/// The facts of a constant tensor.
pub fn const_facts(t: &Tensor) -> Facts {
    Facts { ty: t.ty(), konst: splat_of(t), int_bound: super::integral::const_bound(t) }
}

/// The single value of a constant tensor if all its elements are equal (and not NaN).
fn splat_of(t: &Tensor) -> Konst {
    let Ok(v) = t.as_f32() else { return Konst::Tensor };
    match v.first() {
        Some(&x) if !x.is_nan() && v.iter().all(|&y| y == x) => Konst::Splat(x),
        _ => Konst::Tensor,
    }
}

/// Constness of an operator over operands with these facts.
fn konst_of(op: &Op, args: &[&Facts]) -> Konst {
    if args.is_empty() || !args.iter().all(|a| a.konst.is_const()) {
        return Konst::No;
    }
    let splats: Option<Vec<f32>> = args
        .iter()
        .map(|a| match a.konst {
            Konst::Splat(v) => Some(v),
            _ => None,
        })
        .collect();
    let Some(s) = splats else { return Konst::Tensor };
    let v = match op {
        Op::Unary(u) => u.op.apply(s[0]),
        Op::Binary(b) => b.op.apply(s[0], s[1]),
        Op::Reshape(_) | Op::Transpose(_) | Op::Slice(_) | Op::Gather(_) => s[0],
        Op::Reduce(r) if matches!(r.kind, ReduceKind::Mean | ReduceKind::Max | ReduceKind::Min) => s[0],
        Op::Concat(_) if s.iter().all(|&x| x == s[0]) => s[0],
        Op::Cast(c) if c.to == DType::F32 => s[0],
        _ => return Konst::Tensor,
    };
    if v.is_nan() {
        Konst::Tensor
    } else {
        Konst::Splat(v)
    }
}

impl Analysis<ENode> for Ctx {
    type Data = Facts;

    fn make(eg: &mut EGraph, enode: &ENode, _id: Id) -> Facts {
        match enode {
            ENode::Input(i) => match eg.analysis.inputs.get(*i as usize) {
                Some(ty) => Facts { ty: ty.clone(), konst: Konst::No, int_bound: None },
                None => {
                    eg.analysis.conflicts.push(format!("graph input {i} does not exist"));
                    Facts { ty: TensorType::f32(vec![]), konst: Konst::No, int_bound: None }
                }
            },
            ENode::Const(c) => match eg.analysis.consts.get(*c as usize) {
                Some(f) => f.clone(),
                None => {
                    eg.analysis.conflicts.push(format!("constant {c} does not exist"));
                    Facts { ty: TensorType::f32(vec![]), konst: Konst::Tensor, int_bound: None }
                }
            },
            ENode::Splat { bits, shape } => {
                let v = f32::from_bits(*bits);
                let konst = if v.is_nan() { Konst::Tensor } else { Konst::Splat(v) };
                let int_bound = super::integral::splat_bound(v);
                Facts { ty: TensorType::f32(shape.to_vec()), konst, int_bound }
            }
            ENode::Op { op, args, .. } => {
                let facts: Vec<Facts> = args.iter().map(|&a| eg[a].data.clone()).collect();
                let refs: Vec<&Facts> = facts.iter().collect();
                let types: Vec<TensorType> = facts.iter().map(|f| f.ty.clone()).collect();
                let konst = konst_of(op.op(), &refs);
                match op.op().infer(&types) {
                    Ok(ty) => {
                        let int_bound = super::integral::bound_of(op.op(), &refs, &ty);
                        Facts { ty, konst, int_bound }
                    }
                    Err(e) => {
                        eg.analysis.conflicts.push(format!("{} does not type-check: {e}", op.op().kind()));
                        Facts { ty: TensorType::f32(vec![]), konst, int_bound: None }
                    }
                }
            }
        }
    }

    fn merge(&mut self, a: &mut Facts, b: Facts) -> DidMerge {
        if a.ty != b.ty {
            self.conflicts.push(format!("merged classes disagree on the type: {} vs {}", a.ty, b.ty));
            return DidMerge(false, true);
        }
        // Either node's integrality proof holds for the class: keep the tighter bound.
        let bound = super::integral::merge(a.int_bound, b.int_bound);
        let (a_int, b_int) = (bound != a.int_bound, bound != b.int_bound);
        a.int_bound = bound;
        let DidMerge(x, y) = self.merge_konst(a, b.konst);
        DidMerge(x || a_int, y || b_int)
    }
}

impl Ctx {
    /// Merges constness (the `Analysis::merge` part that can disagree).
    fn merge_konst(&mut self, a: &mut Facts, b_konst: Konst) -> DidMerge {
        match (a.konst, b_konst) {
            (x, y) if x == y => DidMerge(false, false),
            (Konst::Tensor, Konst::Splat(_)) => {
                a.konst = b_konst;
                DidMerge(true, false)
            }
            (Konst::Splat(_), Konst::Tensor) => DidMerge(false, true),
            (Konst::Splat(x), Konst::Splat(y)) => {
                // Two computations of the same constant may round differently; more than that is a bug.
                if (x - y).abs() > 1e-5 * x.abs().max(y.abs()).max(1.0) {
                    self.conflicts.push(format!("merged constants disagree: {x} vs {y}"));
                }
                DidMerge(false, false)
            }
            (x, y) => {
                self.conflicts.push(format!("merged classes disagree on constness: {x:?} vs {y:?}"));
                DidMerge(false, true)
            }
        }
    }
}
