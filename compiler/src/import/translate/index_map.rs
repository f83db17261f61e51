//! Layout operators whose result is a fixed rearrangement along each axis, done as one `Gather` per axis with
//! indices computed at import: Slice with negative steps (a reversal, as `torch.flip` exports), and Pad in
//! `edge`, `reflect` and `wrap` modes (with pads larger than the axis, and negative pads that crop).
use super::composite::Expand;
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use crate::ir::ValueId;
use accel_ops::op::{Gather, Op};
use accel_ops::Shape;

/// The indices a slice with negative `step` takes along an axis of length `dim` (ONNX: `start` clamped to
/// `[0, dim - 1]`, `end` to `[-1, dim - 1]`, negatives counted from the end).
pub(crate) fn reversed(dim: usize, start: i64, end: i64, step: i64) -> Vec<usize> {
    if dim == 0 {
        return Vec::new();
    }
    let d = dim as i128;
    let norm = |v: i64| if v < 0 { i128::from(v) + d } else { i128::from(v) };
    let (mut i, e, step) = (norm(start).clamp(0, d - 1), norm(end).clamp(-1, d - 1), i128::from(step));
    let mut out = Vec::new();
    while i > e {
        out.push(i as usize);
        i += step;
    }
    out
}

/// The source index of every position `-begin .. dim + end` of a padded axis in `mode` (`edge`: the nearest
/// element, `reflect`: mirrored without repeating the edge, `wrap`: periodic).
pub(crate) fn padded(mode: &str, dim: usize, begin: i64, end: i64) -> Result<Vec<usize>, String> {
    let d = dim as i128;
    let (from, to) = (-i128::from(begin), d + i128::from(end));
    if to < from {
        return Err(format!("pads {begin}, {end} crop more than the axis length {dim}"));
    }
    if dim == 0 && to > from {
        return Err(format!("`{mode}` padding of an empty axis has nothing to repeat"));
    }
    let map = |i: i128| -> i128 {
        match mode {
            "edge" => i.clamp(0, d - 1),
            "wrap" => i.rem_euclid(d),
            // reflect: period 2 (d - 1), folded back; a 1-long axis repeats its element.
            _ if d == 1 => 0,
            _ => {
                let j = i.rem_euclid(2 * (d - 1));
                if j >= d {
                    2 * (d - 1) - j
                } else {
                    j
                }
            }
        }
    };
    Ok((from..to).map(|i| map(i) as usize).collect())
}

/// `x` gathered along each `(axis, indices)` in turn; the last result is output #0 of `n`.
pub(super) fn gather_axes(
    b: &mut Builder<'_>,
    n: &OnnxNode<'_>,
    mut x: ValueId,
    maps: Vec<(usize, Vec<usize>)>,
) -> Result<(), ImportError> {
    let e = Expand { n };
    for (axis, indices) in maps {
        let index_shape = Shape(vec![indices.len()]);
        x = e.op(b, &format!("axis{axis}"), Op::Gather(Gather { axis, indices, index_shape }), &[x])?;
    }
    e.define(b, 0, x)
}
