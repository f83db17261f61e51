//! Affine forms of index values (`sum(coef * loop_var) + offset`), recognized structurally from constants,
//! loop variables, `Add`, `Sub`, `Neg` and multiplication by a constant, with checked arithmetic. Fusion uses
//! them to recognize row-major element indices; code generators may use them to find unit strides.
use super::{BinaryFn, Const, Inst, Kernel, UnaryFn, ValueId};

/// `sum(coef * var) + offset`; `terms` are sorted by variable and have nonzero coefficients.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Affine {
    pub terms: Vec<(ValueId, i64)>,
    pub offset: i64,
}

impl Affine {
    /// The coefficient of `var` (0 if absent).
    pub fn coef(&self, var: ValueId) -> i64 {
        self.terms.iter().find(|(v, _)| *v == var).map_or(0, |(_, c)| *c)
    }

    fn scaled(&self, k: i64) -> Option<Affine> {
        let mut terms = Vec::with_capacity(self.terms.len());
        for &(v, c) in &self.terms {
            let c = c.checked_mul(k)?;
            if c != 0 {
                terms.push((v, c));
            }
        }
        Some(Affine { terms, offset: self.offset.checked_mul(k)? })
    }

    fn plus(&self, other: &Affine, sign: i64) -> Option<Affine> {
        let other = other.scaled(sign)?;
        let mut terms = self.terms.clone();
        for (v, c) in other.terms {
            match terms.iter_mut().find(|(w, _)| *w == v) {
                Some((_, d)) => *d = d.checked_add(c)?,
                None => terms.push((v, c)),
            }
        }
        terms.retain(|(_, c)| *c != 0);
        terms.sort();
        Some(Affine { terms, offset: self.offset.checked_add(other.offset)? })
    }

    fn constant(&self) -> Option<i64> {
        self.terms.is_empty().then_some(self.offset)
    }
}

/// The affine form of every value that has one (indexed like `kernel.insts`).
pub fn affine_forms(kernel: &Kernel) -> Vec<Option<Affine>> {
    let mut forms: Vec<Option<Affine>> = Vec::with_capacity(kernel.insts.len());
    for (at, inst) in kernel.insts.iter().enumerate() {
        let get = |v: ValueId| if v.index() < at { forms[v.index()].as_ref() } else { None };
        let form = match inst {
            Inst::Loop { .. } | Inst::Reduce { .. } => Some(Affine { terms: vec![(ValueId(at as u32), 1)], offset: 0 }),
            Inst::Const(Const::I64(x)) => Some(Affine { terms: Vec::new(), offset: *x }),
            Inst::Binary { op: BinaryFn::Add, a, b } => get(*a).zip(get(*b)).and_then(|(x, y)| x.plus(y, 1)),
            Inst::Binary { op: BinaryFn::Sub, a, b } => get(*a).zip(get(*b)).and_then(|(x, y)| x.plus(y, -1)),
            Inst::Binary { op: BinaryFn::Mul, a, b } => match (get(*a), get(*b)) {
                (Some(x), Some(y)) => match (x.constant(), y.constant()) {
                    (_, Some(k)) => x.scaled(k),
                    (Some(k), _) => y.scaled(k),
                    _ => None,
                },
                _ => None,
            },
            Inst::Unary { op: UnaryFn::Neg, x } => get(*x).and_then(|f| f.scaled(-1)),
            _ => None,
        };
        forms.push(form);
    }
    forms
}
