//! The e-graph language: one e-node per IR operator (the `Op` with its typed attributes, compared and hashed
//! through a canonical key in which floats are bits), graph inputs, constants from a side table, and splat
//! constants made by rules. Every operator node says where it runs; tensor data never enters the e-graph.
use accel_ops::op::{CoordMode, NearestRounding};
use accel_ops::op::{Op, PoolKind, ReduceKind, ResizeMode, Step, UnaryOp};
use egg::{Id, Language};
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

/// Where an operator node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// On the accelerator's tiles.
    Tile,
    /// On the host fallback (with the transfer to and from the host).
    Host,
    /// At compile time: every operand is a constant, the node is folded after extraction.
    Fold,
}

/// An operator with a canonical key: the op's variant and every attribute as 64-bit words, floats as their
/// bits. Equality, hashing and order use the key only, so `Op` (which has floats) can live in an e-node.
#[derive(Debug, Clone)]
pub struct OpKey {
    op: Op,
    key: Box<[u64]>,
}

impl OpKey {
    pub fn new(op: Op) -> OpKey {
        let key = key_of(&op).into_boxed_slice();
        OpKey { op, key }
    }
    pub fn op(&self) -> &Op {
        &self.op
    }
}

impl PartialEq for OpKey {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for OpKey {}
impl Hash for OpKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state)
    }
}
impl PartialOrd for OpKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OpKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// One e-node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ENode {
    /// The graph input at this position of `Graph::inputs`.
    Input(u32),
    /// The constant at this index of the side table (`Ctx::consts`).
    Const(u32),
    /// A constant tensor of `shape` whose every element is the f32 with these bits (made by rules: zero bias,
    /// epsilon, scalars).
    Splat {
        bits: u32,
        shape: Box<[usize]>,
    },
    Op {
        op: OpKey,
        place: Place,
        args: Vec<Id>,
    },
}

/// What `egg` uses to skip nodes that cannot match: the leaf kind or the operator kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disc {
    Input,
    Const,
    Splat,
    Op(&'static str, Place),
}

impl ENode {
    pub fn op(op: Op, place: Place, args: Vec<Id>) -> ENode {
        ENode::Op { op: OpKey::new(op), place, args }
    }
    pub fn splat(value: f32, shape: &[usize]) -> ENode {
        ENode::Splat { bits: value.to_bits(), shape: shape.into() }
    }
}

impl Language for ENode {
    type Discriminant = Disc;

    fn discriminant(&self) -> Disc {
        match self {
            ENode::Input(_) => Disc::Input,
            ENode::Const(_) => Disc::Const,
            ENode::Splat { .. } => Disc::Splat,
            ENode::Op { op, place, .. } => Disc::Op(op.op().kind(), *place),
        }
    }

    fn matches(&self, other: &Self) -> bool {
        match (self, other) {
            (ENode::Input(a), ENode::Input(b)) | (ENode::Const(a), ENode::Const(b)) => a == b,
            (ENode::Splat { bits: a, shape: s }, ENode::Splat { bits: b, shape: t }) => a == b && s == t,
            (ENode::Op { op: a, place: p, args: x }, ENode::Op { op: b, place: q, args: y }) => {
                a == b && p == q && x.len() == y.len()
            }
            _ => false,
        }
    }

    fn children(&self) -> &[Id] {
        match self {
            ENode::Op { args, .. } => args,
            _ => &[],
        }
    }

    fn children_mut(&mut self) -> &mut [Id] {
        match self {
            ENode::Op { args, .. } => args,
            _ => &mut [],
        }
    }
}

fn f(x: f32) -> u64 {
    x.to_bits() as u64
}

fn list(k: &mut Vec<u64>, xs: &[usize]) {
    k.push(xs.len() as u64);
    k.extend(xs.iter().map(|&x| x as u64));
}

/// Code and parameters of a unary function (also the fused activation of Conv/Gemm).
fn unary_key(k: &mut Vec<u64>, u: &UnaryOp) {
    let (code, a, b) = match *u {
        UnaryOp::Relu => (1, 0.0, 0.0),
        UnaryOp::Clip { min, max } => (2, min, max),
        UnaryOp::LeakyRelu { alpha } => (3, alpha, 0.0),
        UnaryOp::Sigmoid => (4, 0.0, 0.0),
        UnaryOp::HardSwish => (5, 0.0, 0.0),
        UnaryOp::HardSigmoid { alpha, beta } => (6, alpha, beta),
        UnaryOp::Silu => (7, 0.0, 0.0),
        UnaryOp::Gelu => (8, 0.0, 0.0),
        UnaryOp::Tanh => (9, 0.0, 0.0),
        UnaryOp::Exp => (10, 0.0, 0.0),
        UnaryOp::Log => (11, 0.0, 0.0),
        UnaryOp::Sqrt => (12, 0.0, 0.0),
        UnaryOp::Reciprocal => (13, 0.0, 0.0),
        UnaryOp::Neg => (14, 0.0, 0.0),
        UnaryOp::Abs => (15, 0.0, 0.0),
        UnaryOp::Erf => (16, 0.0, 0.0),
        UnaryOp::Floor => (17, 0.0, 0.0),
        UnaryOp::Ceil => (18, 0.0, 0.0),
        UnaryOp::Softplus => (19, 0.0, 0.0),
        UnaryOp::Elu { alpha } => (20, alpha, 0.0),
    };
    k.extend([code, f(a), f(b)]);
}

fn act_key(k: &mut Vec<u64>, act: &Option<UnaryOp>) {
    match act {
        None => k.push(0),
        Some(u) => unary_key(k, u),
    }
}

/// The canonical key of an operator. Exhaustive: a new `Op` variant must say how it compares.
fn key_of(op: &Op) -> Vec<u64> {
    let mut k = Vec::with_capacity(16);
    match op {
        Op::Conv(c) => {
            k.push(0);
            list(&mut k, &c.kernel);
            list(&mut k, &c.strides);
            list(&mut k, &c.dilations);
            list(&mut k, &c.pads);
            k.push(c.group as u64);
            act_key(&mut k, &c.act);
        }
        Op::Gemm(g) => {
            k.extend([1, f(g.alpha), f(g.beta), g.trans_a as u64, g.trans_b as u64]);
            act_key(&mut k, &g.act);
        }
        Op::MatMul(_) => k.push(2),
        Op::Unary(u) => {
            k.push(3);
            unary_key(&mut k, &u.op);
        }
        Op::Binary(b) => k.extend([4, b.op as u64]),
        Op::BatchNorm(b) => k.extend([5, f(b.epsilon)]),
        Op::Pool(p) => {
            let kind = match p.kind {
                PoolKind::Max => 0,
                PoolKind::Avg { count_include_pad } => 1 + count_include_pad as u64,
            };
            k.extend([6, kind]);
            list(&mut k, &p.kernel);
            list(&mut k, &p.strides);
            list(&mut k, &p.pads);
        }
        Op::Softmax(s) => k.extend([7, s.axis as u64, s.log as u64]),
        Op::Reshape(r) => {
            k.push(8);
            list(&mut k, r.shape.dims());
        }
        Op::Transpose(t) => {
            k.push(9);
            list(&mut k, &t.perm);
        }
        Op::Concat(c) => k.extend([10, c.axis as u64]),
        Op::Slice(s) => {
            k.push(11);
            list(&mut k, &s.starts);
            list(&mut k, &s.lens);
            list(&mut k, &s.steps);
        }
        Op::Pad(p) => {
            k.push(12);
            list(&mut k, &p.begin);
            list(&mut k, &p.end);
            k.push(f(p.value));
        }
        Op::Resize(r) => {
            let mode = match r.mode {
                ResizeMode::Cubic { a_bits, exclude_outside } => {
                    5 | (exclude_outside as u64) << 8 | (a_bits as u64) << 16
                }
                ResizeMode::Linear => 0,
                ResizeMode::Nearest(NearestRounding::RoundPreferFloor) => 1,
                ResizeMode::Nearest(NearestRounding::RoundPreferCeil) => 2,
                ResizeMode::Nearest(NearestRounding::Floor) => 3,
                ResizeMode::Nearest(NearestRounding::Ceil) => 4,
            };
            let coord = match r.coord {
                CoordMode::HalfPixel => 0,
                CoordMode::PytorchHalfPixel => 1,
                CoordMode::AlignCorners => 2,
                CoordMode::Asymmetric => 3,
                CoordMode::HalfPixelSymmetric => 4,
                CoordMode::TfCropAndResize { .. } => 5,
            };
            k.extend([13, mode, coord, r.antialias as u64]);
            if let CoordMode::TfCropAndResize { start_bits, end_bits, extrapolation_bits } = r.coord {
                k.extend(start_bits.iter().chain(&end_bits).chain([&extrapolation_bits]).map(|&b| b as u64));
            }
            list(&mut k, &r.out_hw);
            k.extend([f(r.scales[0]), f(r.scales[1])]);
        }
        Op::Reduce(r) => {
            let kind = match r.kind {
                ReduceKind::Mean => 0,
                ReduceKind::Sum => 1,
                ReduceKind::Max => 2,
                ReduceKind::Min => 3,
                ReduceKind::Prod => 4,
            };
            k.extend([14, kind]);
            list(&mut k, &r.axes);
            k.push(r.keepdims as u64);
        }
        Op::Lrn(l) => k.extend([15, l.size as u64, f(l.alpha), f(l.beta), f(l.bias)]),
        Op::Gather(g) => {
            k.extend([16, g.axis as u64]);
            list(&mut k, &g.indices);
            list(&mut k, g.index_shape.dims());
        }
        Op::Cast(c) => k.extend([17, c.to.code() as u64]),
        Op::Quant(q) => k.extend([18, f(q.scale), q.zero_point as u32 as u64, q.to.code() as u64]),
        Op::Elementwise(e) => {
            k.extend([19, e.steps.len() as u64]);
            for s in &e.steps {
                match s {
                    Step::Unary(u) => unary_key(&mut k, u),
                    Step::Binary { op, operand } => k.extend([100 + *op as u64, *operand as u64, 0]),
                }
            }
        }
        Op::LayerNorm(l) => k.extend([20, l.axis as u64, f(l.epsilon)]),
        Op::HostOnly(h) => {
            k.push(21);
            k.extend(h.key());
        }
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use accel_ops::op::{Unary, UnaryOp};

    #[test]
    fn floats_compare_as_bits() {
        let clip = |min: f32| OpKey::new(Op::Unary(Unary { op: UnaryOp::Clip { min, max: 6.0 } }));
        assert_eq!(clip(0.0), clip(0.0));
        assert_ne!(clip(0.0), clip(-0.0));
        assert_eq!(clip(f32::NAN), clip(f32::NAN));
        assert_ne!(OpKey::new(Op::Unary(Unary { op: UnaryOp::Relu })), clip(0.0));
    }
}
