//! Tests of the e-graph stage. `check` is the one place the rule tests call `optimize`: it asserts that the
//! rule fired, that the printed optimized graph contains the expected lines (partial checks: the one fusion
//! the test is about), and that the optimized graph computes what the original does.
mod chain;
mod fold;
mod formats;
mod fuse;
mod layer_norm;
mod lowering;
mod place;
mod proptests;
mod recognize;
mod simplify;
mod snapshots;

use crate::ir::{evaluate, Graph, ValueId};
use crate::rewrite::{optimize, RewriteOptions, RewriteReport};
use accel_ops::op::{BatchNorm, Binary, BinaryOp, Conv, Op, Unary, UnaryOp};
use accel_ops::target::Target;
use accel_ops::Tensor;

/// Deterministic values in [lo, hi) (xorshift), so tests need no RNG crate.
pub fn values(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

pub fn tensor(dims: &[usize], seed: u64, lo: f32, hi: f32) -> Tensor {
    let n = dims.iter().product();
    Tensor::from_f32(dims.to_vec(), values(n, seed, lo, hi)).unwrap()
}

/// A small graph builder for tests: random constants, names `n0`, `n1`, ... unless given.
pub struct B {
    pub g: Graph,
    seed: u64,
}

impl B {
    pub fn new() -> B {
        B { g: Graph::default(), seed: 1 }
    }
    fn next(&mut self) -> u64 {
        self.seed += 1;
        self.seed
    }
    pub fn input(&mut self, dims: &[usize]) -> ValueId {
        let name = format!("in{}", self.g.inputs.len());
        self.g.add_input(name, accel_ops::TensorType::f32(dims.to_vec()))
    }
    pub fn konst(&mut self, dims: &[usize], lo: f32, hi: f32) -> ValueId {
        let seed = self.next();
        let name = format!("k{seed}");
        self.g.add_const(name, tensor(dims, seed, lo, hi))
    }
    pub fn scalar(&mut self, v: f32) -> ValueId {
        let seed = self.next();
        self.g.add_const(format!("s{seed}"), Tensor::from_f32(vec![], vec![v]).unwrap())
    }
    pub fn op(&mut self, name: &str, op: Op, inputs: &[ValueId]) -> ValueId {
        self.g.add_node(name, op, inputs.to_vec(), format!("{name}.out")).unwrap()
    }
    /// A `k`-channel convolution with a square kernel, stride 1 and "same" padding.
    pub fn conv(&mut self, name: &str, x: ValueId, k: usize, kernel: usize, bias: bool) -> ValueId {
        let c = self.g.ty(x).shape.dims()[1];
        let w = self.konst(&[k, c, kernel, kernel], -0.5, 0.5);
        let mut ins = vec![x, w];
        if bias {
            ins.push(self.konst(&[k], -0.5, 0.5));
        }
        let p = kernel / 2;
        let op = Conv { kernel: [kernel; 2], strides: [1; 2], dilations: [1; 2], pads: [p; 4], group: 1, act: None };
        self.op(name, Op::Conv(op), &ins)
    }
    pub fn bn(&mut self, name: &str, x: ValueId) -> ValueId {
        let c = self.g.ty(x).shape.dims()[1];
        let ps = [
            self.konst(&[c], 0.5, 1.5),
            self.konst(&[c], -0.5, 0.5),
            self.konst(&[c], -0.5, 0.5),
            self.konst(&[c], 0.5, 2.0),
        ];
        self.op(name, Op::BatchNorm(BatchNorm { epsilon: 1e-5 }), &[x, ps[0], ps[1], ps[2], ps[3]])
    }
    pub fn unary(&mut self, name: &str, op: UnaryOp, x: ValueId) -> ValueId {
        self.op(name, Op::Unary(Unary { op }), &[x])
    }
    pub fn binary(&mut self, name: &str, op: BinaryOp, a: ValueId, b: ValueId) -> ValueId {
        self.op(name, Op::Binary(Binary { op }), &[a, b])
    }
    pub fn finish(mut self, outputs: &[ValueId]) -> Graph {
        self.g.outputs = outputs.to_vec();
        self.g.verify().unwrap();
        self.g
    }
}

/// Asserts that two graphs compute the same outputs on the same random inputs (f32: 1e-4 + 1e-3 |b|).
pub fn assert_same(a: &Graph, b: &Graph, seed: u64) {
    let inputs: Vec<Tensor> =
        a.inputs.iter().enumerate().map(|(i, &v)| tensor(a.ty(v).shape.dims(), seed + i as u64, -2.0, 2.0)).collect();
    let (x, y) = (evaluate(a, &inputs).unwrap(), evaluate(b, &inputs).unwrap());
    assert_eq!(x.len(), y.len());
    for (p, q) in x.iter().zip(&y) {
        assert_eq!(p.dims(), q.dims());
        for (i, (u, v)) in p.as_f32().unwrap().iter().zip(q.as_f32().unwrap()).enumerate() {
            assert!((u - v).abs() <= 1e-4 + 1e-3 * v.abs(), "element {i}: {u} (original) vs {v} (optimized)\n{b}");
        }
    }
}

/// Optimizes for `target` with `opts`, checks equivalence, that `rule` fired (when given) and that every
/// `want` fragment is in the printed graph (a fragment starting with `!` must be absent).
pub fn check_with(
    g: &Graph,
    target: &Target,
    opts: &RewriteOptions,
    rule: Option<&str>,
    want: &[&str],
) -> (Graph, RewriteReport) {
    let (out, report) = optimize(g, target, opts).unwrap_or_else(|e| panic!("optimize failed: {e}\n{g}"));
    let text = format!("{report}{out}");
    if let Some(rule) = rule {
        assert!(report.rules_applied.iter().any(|(r, n)| r == rule && *n > 0), "rule {rule} did not fire:\n{text}");
    }
    for w in want {
        match w.strip_prefix('!') {
            Some(absent) => assert!(!text.contains(absent), "`{absent}` should not be in:\n{text}"),
            None => assert!(text.contains(w), "`{w}` not in:\n{text}"),
        }
    }
    assert_same(g, &out, 7);
    (out, report)
}

/// `check_with` on the x1 target with default options.
pub fn check(g: &Graph, rule: &str, want: &[&str]) -> (Graph, RewriteReport) {
    check_with(g, &Target::x1(), &RewriteOptions::default(), Some(rule), want)
}

#[test]
fn same_input_same_output() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 6, 6]);
    let y = b.conv("c", x, 4, 3, false);
    let y = b.bn("bn", y);
    let y = b.unary("r", UnaryOp::Relu, y);
    let g = b.finish(&[y]);
    let t = Target::x1();
    let (a, ra) = optimize(&g, &t, &RewriteOptions::default()).unwrap();
    let (b, rb) = optimize(&g, &t, &RewriteOptions::default()).unwrap();
    assert_eq!(a, b);
    assert_eq!(format!("{ra}"), format!("{rb}"));
}

#[test]
fn limits_stop_the_run_and_say_so() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 6, 6]);
    let y = b.conv("c", x, 4, 3, false);
    let y = b.bn("bn", y);
    let y = b.unary("r", UnaryOp::Relu, y);
    let g = b.finish(&[y]);
    let opts = RewriteOptions { iter_limit: 1, ..Default::default() };
    let (_, r) = check_with(&g, &Target::x1(), &opts, None, &[]);
    assert_eq!(r.stop_reason, crate::rewrite::StopReason::IterationLimit(1));
    let opts = RewriteOptions { node_limit: 5, ..Default::default() };
    let (_, r) = check_with(&g, &Target::x1(), &opts, None, &[]);
    assert!(matches!(r.stop_reason, crate::rewrite::StopReason::NodeLimit(_)), "{r}");
    let (_, r) = check_with(&g, &Target::x1(), &RewriteOptions::default(), None, &[]);
    assert_eq!(r.stop_reason, crate::rewrite::StopReason::Saturated);
}

#[test]
fn disabled_rules_do_not_run() {
    let mut b = B::new();
    let x = b.input(&[1, 3, 6, 6]);
    let y = b.conv("c", x, 4, 3, false);
    let y = b.unary("r", UnaryOp::Relu, y);
    let g = b.finish(&[y]);
    let opts = RewriteOptions { disabled: vec!["fuse/".into()], ..Default::default() };
    let (_, r) = check_with(&g, &Target::x1(), &opts, None, &["r.out = relu(c.out)", "!conv.relu"]);
    assert!(r.fusions.is_empty());
}
