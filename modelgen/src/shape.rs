//! Static shapes with symbolic dims (`Dim`), and the shape rules of the ops the builder emits.

use anyhow::{bail, ensure, Context, Result};
use std::fmt;

/// One dimension of a tensor shape: a fixed size or a named symbol (e.g. a dynamic `batch`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    Fixed(usize),
    Sym(String),
}

impl Dim {
    /// The size if it is fixed.
    pub fn fixed(&self) -> Option<usize> {
        match self {
            Dim::Fixed(n) => Some(*n),
            Dim::Sym(_) => None,
        }
    }
}

impl From<usize> for Dim {
    fn from(n: usize) -> Self {
        Dim::Fixed(n)
    }
}

impl From<&str> for Dim {
    fn from(s: &str) -> Self {
        Dim::Sym(s.to_string())
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Sym(s) => write!(f, "{s}"),
        }
    }
}

/// A tensor shape.
pub type Shape = Vec<Dim>;

/// Formats a shape as `[1, 3, batch]` for error messages.
pub(crate) fn show(shape: &[Dim]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// Converts a list of fixed sizes into a shape.
pub(crate) fn fixed_shape(dims: &[usize]) -> Shape {
    dims.iter().map(|&d| Dim::Fixed(d)).collect()
}

/// The fixed size of `shape[axis]`, or an error naming `what`.
pub(crate) fn fixed_at(shape: &[Dim], axis: usize, what: &str) -> Result<usize> {
    let d = shape.get(axis).with_context(|| format!("{what}: shape {} has no axis {axis}", show(shape)))?;
    d.fixed().with_context(|| format!("{what}: axis {axis} of {} must be fixed", show(shape)))
}

/// Resolves a possibly negative ONNX axis against `rank`.
pub(crate) fn norm_axis(axis: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    ensure!(axis >= -r && axis < r, "axis {axis} out of range for rank {rank}");
    Ok(if axis < 0 { (axis + r) as usize } else { axis as usize })
}

/// Output length of a convolution or pooling window along one axis (floor mode).
pub(crate) fn window_out(len: usize, kernel: usize, stride: usize, pad: usize) -> Result<usize> {
    ensure!(kernel >= 1 && stride >= 1, "kernel and stride must be >= 1");
    let padded = len + 2 * pad;
    ensure!(padded >= kernel, "window of {kernel} (pad {pad}) does not fit in an input of length {len}");
    Ok((padded - kernel) / stride + 1)
}

/// Numpy-style broadcasting of two shapes.
pub(crate) fn broadcast(a: &[Dim], b: &[Dim]) -> Result<Shape> {
    let rank = a.len().max(b.len());
    let one = Dim::Fixed(1);
    let mut out = Vec::with_capacity(rank);
    for i in 0..rank {
        let da = if i + a.len() >= rank { &a[i + a.len() - rank] } else { &one };
        let db = if i + b.len() >= rank { &b[i + b.len() - rank] } else { &one };
        let d = if da == db || *db == one {
            da.clone()
        } else if *da == one {
            db.clone()
        } else {
            bail!("shapes {} and {} do not broadcast", show(a), show(b));
        };
        out.push(d);
    }
    Ok(out)
}

/// Shape of an ONNX `Reshape` (0 copies the input dim, -1 is inferred; allowzero = 0).
pub(crate) fn reshape(input: &[Dim], spec: &[i64]) -> Result<Shape> {
    let mut out: Vec<Option<Dim>> = Vec::with_capacity(spec.len());
    let mut copied_syms: Vec<&Dim> = vec![];
    let mut infer_at = None;
    for (i, &s) in spec.iter().enumerate() {
        match s {
            0 => {
                let d = input.get(i).with_context(|| format!("reshape: 0 at axis {i} beyond input rank"))?;
                if d.fixed().is_none() {
                    copied_syms.push(d);
                }
                out.push(Some(d.clone()));
            }
            -1 => {
                ensure!(infer_at.is_none(), "reshape: more than one -1 in {spec:?}");
                infer_at = Some(i);
                out.push(None);
            }
            n if n > 0 => out.push(Some(Dim::Fixed(n as usize))),
            n => bail!("reshape: invalid dim {n} in {spec:?}"),
        }
    }
    // Symbols of the input must be carried over by a 0 at some position.
    let in_syms: Vec<&Dim> = input.iter().filter(|d| d.fixed().is_none()).collect();
    ensure!(
        in_syms.len() == copied_syms.len() && in_syms.iter().all(|s| copied_syms.contains(s)),
        "reshape {spec:?} of {}: symbolic dims must be copied with 0",
        show(input)
    );
    let in_count: usize = input.iter().filter_map(Dim::fixed).product();
    let known: usize = out.iter().flatten().filter_map(Dim::fixed).product();
    match infer_at {
        Some(i) => {
            ensure!(in_count.checked_rem(known) == Some(0), "reshape {spec:?} of {}: sizes do not divide", show(input));
            out[i] = Some(Dim::Fixed(in_count / known));
        }
        None => ensure!(known == in_count, "reshape {spec:?} of {}: element count mismatch", show(input)),
    }
    Ok(out.into_iter().flatten().collect())
}

/// Shape of a `Transpose` with permutation `perm`.
pub(crate) fn transpose(input: &[Dim], perm: &[usize]) -> Result<Shape> {
    ensure!(perm.len() == input.len(), "transpose: perm {perm:?} vs rank {}", input.len());
    let mut seen = vec![false; perm.len()];
    for &p in perm {
        ensure!(p < perm.len() && !seen[p], "transpose: invalid perm {perm:?}");
        seen[p] = true;
    }
    Ok(perm.iter().map(|&p| input[p].clone()).collect())
}

/// Shape of a `Concat` along `axis`.
pub(crate) fn concat(shapes: &[Shape], axis: i64) -> Result<Shape> {
    let first = shapes.first().context("concat of no inputs")?;
    let ax = norm_axis(axis, first.len())?;
    let mut total = 0;
    for s in shapes {
        ensure!(s.len() == first.len(), "concat: rank mismatch");
        for (i, (a, b)) in s.iter().zip(first.iter()).enumerate() {
            ensure!(i == ax || a == b, "concat on axis {ax}: {} vs {}", show(s), show(first));
        }
        total += fixed_at(s, ax, "concat")?;
    }
    let mut out = first.clone();
    out[ax] = Dim::Fixed(total);
    Ok(out)
}

/// Shape of a `MatMul` (numpy semantics, both ranks >= 2).
pub(crate) fn matmul(a: &[Dim], b: &[Dim]) -> Result<Shape> {
    ensure!(a.len() >= 2 && b.len() >= 2, "matmul: ranks must be >= 2");
    let (ra, rb) = (a.len(), b.len());
    ensure!(a[ra - 1] == b[rb - 2], "matmul: inner dims of {} and {} differ", show(a), show(b));
    let mut out = broadcast(&a[..ra - 2], &b[..rb - 2])?;
    out.push(a[ra - 2].clone());
    out.push(b[rb - 1].clone());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_rules() {
        let s: Shape = vec!["batch".into(), 8.into(), 12.into()];
        let r = reshape(&s, &[0, 0, 3, -1]).unwrap_or_default();
        assert_eq!(r, vec!["batch".into(), 8.into(), 3.into(), 4.into()]);
        assert!(reshape(&s, &[-1, 96]).is_err());
        assert!(reshape(&fixed_shape(&[2, 3]), &[7]).is_err());
    }

    #[test]
    fn broadcast_rules() {
        let a = fixed_shape(&[1, 4, 1]);
        let b = fixed_shape(&[3, 1, 5]);
        assert_eq!(broadcast(&a, &b).ok(), Some(fixed_shape(&[3, 4, 5])));
        assert!(broadcast(&fixed_shape(&[2]), &fixed_shape(&[3])).is_err());
    }

    #[test]
    fn window() {
        assert_eq!(window_out(224, 7, 2, 3).ok(), Some(112));
        assert_eq!(window_out(1, 3, 2, 1).ok(), Some(1));
        assert!(window_out(1, 3, 1, 0).is_err());
    }
}
