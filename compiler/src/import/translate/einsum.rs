//! Einsum (opset 12) as plain operators, so the tiles' MatMul and the e-graph see it: a repeated label in one
//! operand takes the diagonal (a gather of every `n + 1`-th element of the two dims merged), a label no other operand and not
//! the output has is summed out, operands are contracted pairwise left to right as one batched MatMul each
//! (batch labels first, the contracted ones flattened into K), and the result is transposed to the output
//! order. `...` stands for the same leading dims in every operand (broadcast from the right, as numpy).
use super::composite::Expand;
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use crate::ir::ValueId;
use accel_ops::op::{Gather, MatMul, Op, Reduce, ReduceKind, Transpose};
use accel_ops::{DType, Shape};

type Res = Result<(), ImportError>;

/// A dim's label: a letter, or the `i`-th dim covered by `...` (counted from the right).
type Label = u32;
const ELLIPSIS: Label = 1 << 16;

/// Operands at most (each is a pairwise contraction).
const MAX_OPERANDS: usize = 64;

/// The parsed equation: each operand's labels (`...` expanded for its rank) and the output's.
struct Equation {
    operands: Vec<Vec<Label>>,
    output: Vec<Label>,
}

/// One term's letters and whether (and where) it has `...`.
fn term(n: &OnnxNode<'_>, t: &str) -> Result<(Vec<Label>, Option<usize>), ImportError> {
    let mut labels = Vec::new();
    let mut ellipsis = None;
    let mut rest = t.trim();
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("...") {
            if ellipsis.replace(labels.len()).is_some() {
                return Err(n.err(format!("equation term `{t}` has `...` twice")));
            }
            rest = r;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            return Err(n.err(format!("equation term `{t}`: `{c}` is not a letter or `...`")));
        }
        labels.push(c as Label);
        rest = &rest[1..];
    }
    Ok((labels, ellipsis))
}

/// `labels` with the `...` at `at` standing for `k` dims.
fn expand(labels: &[Label], at: Option<usize>, k: usize) -> Vec<Label> {
    match at {
        None => labels.to_vec(),
        Some(p) => {
            let mut v = labels[..p].to_vec();
            v.extend((0..k).rev().map(|i| ELLIPSIS + i as Label));
            v.extend_from_slice(&labels[p..]);
            v
        }
    }
}

fn parse(n: &OnnxNode<'_>, eq: &str, ranks: &[usize]) -> Result<Equation, ImportError> {
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (eq, None),
    };
    let terms: Vec<&str> = lhs.split(',').collect();
    if terms.len() != ranks.len() {
        return Err(n.err(format!("equation `{eq}` has {} operands, the node {}", terms.len(), ranks.len())));
    }
    let mut operands = Vec::new();
    let mut dots = 0;
    for (t, &rank) in terms.iter().zip(ranks) {
        let (labels, at) = term(n, t)?;
        let k = match at {
            Some(_) if rank >= labels.len() => rank - labels.len(),
            None if rank == labels.len() => 0,
            _ => return Err(n.err(format!("equation term `{t}` does not fit an operand of rank {rank}"))),
        };
        dots = dots.max(k);
        operands.push(expand(&labels, at, k));
    }
    let output = match rhs {
        Some(r) => {
            let (labels, at) = term(n, r)?;
            expand(&labels, at, dots)
        }
        None => {
            // Implicit output: the ellipsis dims, then the letters used once, in alphabetical order.
            let mut once: Vec<Label> = operands
                .iter()
                .flatten()
                .copied()
                .filter(|&l| l < ELLIPSIS && operands.iter().flatten().filter(|&&m| m == l).count() == 1)
                .collect();
            once.sort_unstable();
            let mut out: Vec<Label> = (0..dots).rev().map(|i| ELLIPSIS + i as Label).collect();
            out.extend(once);
            out
        }
    };
    for (i, &l) in output.iter().enumerate() {
        if output[..i].contains(&l) || !operands.iter().flatten().any(|&m| m == l) {
            return Err(n.err(format!("equation `{eq}`: output label {} is repeated or in no operand", name(l))));
        }
    }
    Ok(Equation { operands, output })
}

fn name(l: Label) -> String {
    match l {
        l if l >= ELLIPSIS => "...".into(),
        l => char::from_u32(l).map_or("?".into(), String::from),
    }
}

/// A value with the label of each of its dims.
struct Term {
    v: ValueId,
    labels: Vec<Label>,
}

/// Emits the steps, each named `out#einsum<k>`.
struct Steps<'n, 'o> {
    e: Expand<'n, 'o>,
    count: usize,
}

impl Steps<'_, '_> {
    fn op(&mut self, b: &mut Builder<'_>, op: Op, inputs: &[ValueId]) -> Result<ValueId, ImportError> {
        self.count += 1;
        self.e.op(b, &format!("einsum{}", self.count), op, inputs)
    }

    fn sum(&mut self, b: &mut Builder<'_>, t: Term, drop: &[Label]) -> Result<Term, ImportError> {
        let axes: Vec<usize> = (0..t.labels.len()).filter(|&i| drop.contains(&t.labels[i])).collect();
        if axes.is_empty() {
            return Ok(t);
        }
        let v = self.op(b, Op::Reduce(Reduce { kind: ReduceKind::Sum, axes, keepdims: false }), &[t.v])?;
        Ok(Term { v, labels: t.labels.into_iter().filter(|l| !drop.contains(l)).collect() })
    }

    fn transpose(&mut self, b: &mut Builder<'_>, t: Term, order: &[Label]) -> Result<Term, ImportError> {
        let perm: Vec<usize> = order.iter().filter_map(|l| t.labels.iter().position(|m| m == l)).collect();
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(Term { v: t.v, labels: order.to_vec() });
        }
        let v = self.op(b, Op::Transpose(Transpose { perm }), &[t.v])?;
        Ok(Term { v, labels: order.to_vec() })
    }

    fn reshape(&mut self, b: &mut Builder<'_>, v: ValueId, dims: Vec<usize>) -> Result<ValueId, ImportError> {
        if b.dims(v) == dims.as_slice() {
            return Ok(v);
        }
        self.count += 1;
        self.e.reshape(b, &format!("einsum{}", self.count), v, dims)
    }

    /// The diagonal of every label repeated within `t`: the second occurrence moved next to the first, the two
    /// dims merged, and every `n + 1`-th element gathered (no mask of `n * n` elements).
    fn diagonals(&mut self, b: &mut Builder<'_>, n: &OnnxNode<'_>, mut t: Term) -> Result<Term, ImportError> {
        while let Some((p, q)) =
            (0..t.labels.len()).find_map(|q| t.labels[..q].iter().position(|&l| l == t.labels[q]).map(|p| (p, q)))
        {
            let dims = b.dims(t.v).to_vec();
            let size = dims[p];
            if dims[q] != size {
                return Err(n.err(format!("label {} has sizes {size} and {}", name(t.labels[p]), dims[q])));
            }
            // Order the dims with q right after p (labels are not unique here, so by position).
            let mut perm: Vec<usize> = (0..dims.len()).filter(|&i| i != q).collect();
            perm.insert(p + 1, q);
            let v = if perm.iter().enumerate().all(|(i, &x)| i == x) {
                t.v
            } else {
                self.op(b, Op::Transpose(Transpose { perm: perm.clone() }), &[t.v])?
            };
            let mut merged: Vec<usize> = perm.iter().map(|&i| dims[i]).collect();
            merged[p] = size * size;
            merged.remove(p + 1);
            let v = self.reshape(b, v, merged)?;
            let gather = Gather {
                axis: p,
                indices: (0..size).map(|i| i * (size + 1)).collect(),
                index_shape: Shape(vec![size]),
            };
            let v = self.op(b, Op::Gather(gather), &[v])?;
            t.labels.remove(q);
            t = Term { v, labels: t.labels };
        }
        Ok(t)
    }

    /// `x` times `y` summed over their shared labels not in `keep`, as one batched MatMul.
    fn contract(
        &mut self,
        b: &mut Builder<'_>,
        n: &OnnxNode<'_>,
        x: Term,
        y: Term,
        keep: &[Label],
    ) -> Result<Term, ImportError> {
        let shared = |l: &Label| y.labels.contains(l);
        let batch: Vec<Label> = x.labels.iter().copied().filter(|l| shared(l) && keep.contains(l)).collect();
        let k: Vec<Label> = x.labels.iter().copied().filter(|l| shared(l) && !keep.contains(l)).collect();
        let m: Vec<Label> = x.labels.iter().copied().filter(|l| !shared(l)).collect();
        let nn: Vec<Label> = y.labels.iter().copied().filter(|l| !x.labels.contains(l)).collect();
        let sizes = |t: &Term, ls: &[Label]| -> Vec<usize> {
            let d = b.dims(t.v);
            ls.iter().map(|l| t.labels.iter().position(|m| m == l).map_or(1, |i| d[i])).collect()
        };
        let (xk, yk) = (sizes(&x, &k), sizes(&y, &k));
        if xk != yk {
            return Err(n.err("a summed label has different sizes in two operands"));
        }
        let (xb, yb) = (sizes(&x, &batch), sizes(&y, &batch));
        let (m_dims, n_dims) = (sizes(&x, &m), sizes(&y, &nn));
        let (mm, kk, ns) = (m_dims.iter().product(), xk.iter().product(), n_dims.iter().product());
        let xt = self.transpose(b, x, &[batch.as_slice(), &m, &k].concat())?;
        let yt = self.transpose(b, y, &[batch.as_slice(), &k, &nn].concat())?;
        let xr = self.reshape(b, xt.v, [xb.as_slice(), &[mm, kk]].concat())?;
        let yr = self.reshape(b, yt.v, [yb.as_slice(), &[kk, ns]].concat())?;
        let v = self.op(b, Op::MatMul(MatMul), &[xr, yr])?;
        let out_batch: Vec<usize> = xb.iter().zip(&yb).map(|(&p, &q)| p.max(q)).collect();
        let v = self.reshape(b, v, [out_batch, m_dims, n_dims].concat())?;
        Ok(Term { v, labels: [batch, m, nn].concat() })
    }
}

pub(super) fn einsum(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, MAX_OPERANDS)?;
    let eq = n.string("equation")?.ok_or_else(|| n.err("the `equation` attribute is missing"))?;
    let values = (0..n.proto.input.len()).map(|i| b.input(n, i)).collect::<Result<Vec<_>, _>>()?;
    for &v in &values {
        if b.ty(v).dtype != DType::F32 {
            return Err(n.err(format!("Einsum on {} is unsupported (f32 only)", b.ty(v))));
        }
    }
    let ranks: Vec<usize> = values.iter().map(|&v| b.dims(v).len()).collect();
    let Equation { operands, output } = parse(n, eq, &ranks)?;
    let mut s = Steps { e: Expand { n }, count: 0 };
    // Labels every operand and the output use, to know what each step may sum out.
    let mut terms = Vec::new();
    for (i, (&v, labels)) in values.iter().zip(&operands).enumerate() {
        let t = s.diagonals(b, n, Term { v, labels: labels.clone() })?;
        let elsewhere =
            |l: &Label| output.contains(l) || operands.iter().enumerate().any(|(j, o)| j != i && o.contains(l));
        let drop: Vec<Label> = t.labels.iter().copied().filter(|l| !elsewhere(l)).collect();
        terms.push(s.sum(b, t, &drop)?);
    }
    let mut terms = terms.into_iter();
    let Some(mut acc) = terms.next() else { return Err(n.err("no operands")) };
    for (i, t) in terms.enumerate() {
        // Keep what the output or a later operand still needs.
        let keep: Vec<Label> = output.iter().chain(operands.iter().skip(i + 2).flatten()).copied().collect();
        acc = s.contract(b, n, acc, t, &keep)?;
    }
    let extra: Vec<Label> = acc.labels.iter().copied().filter(|l| !output.contains(l)).collect();
    let acc = s.sum(b, acc, &extra)?;
    let acc = s.transpose(b, acc, &output)?;
    b.alias_out(n, acc.v)?;
    Ok(())
}
