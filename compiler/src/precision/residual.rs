//! One int8 scale for a residual add's operand and its sum. An int8 convolution with a fused residual adds
//! `(r - r_zero) * r_scale / y_scale` to its own sum and rounds the two to the output grid once
//! (`numerics::requant::requantize_sum`). Where the residual and the output share scale and zero point the
//! factor is exactly 1, as when NPU toolchains unify the scales of an element-wise add's operands and result.
//! (This was written when each term rounded on its own, and sharing made the residual's rounding exact; with
//! one rounding it only widens ranges, and measured 0.3 dB worse on the generated MobileNetV2: it stays a
//! flag.) Each chain of residual adds (a value, the sum it feeds, the sum that one feeds, ...) takes the union
//! of its calibrated ranges, as far as no member's range widens by more than `MAX_WIDEN`. Decides ranges
//! only; owns no arithmetic.
use super::nodes::table_act;
use crate::ir::Graph;
use accel_ops::op::Op;

/// How much wider than a member's own calibrated range a shared range may be: widening a range by `k`
/// multiplies that value's rounding noise by `k^2` (chosen when sharing saved a second rounding at the sum).
const MAX_WIDEN: f32 = std::f32::consts::SQRT_2;

fn span((lo, hi): (f32, f32)) -> f32 {
    hi.max(0.0) - lo.min(0.0)
}

/// Widens `ranges` (per value of `g`, `(min, max)`) so that a convolution whose residual is fused in (and
/// whose output is not a lookup table's index) has one range for the residual and its output, unless that
/// range would be more than `MAX_WIDEN` times wider than one of the values' own.
pub fn share(g: &Graph, ranges: &mut [Option<(f32, f32)>]) {
    fn root(p: &mut [usize], mut v: usize) -> usize {
        while p[v] != v {
            p[v] = p[p[v]];
            v = p[v];
        }
        v
    }
    let mut parent: Vec<usize> = (0..ranges.len()).collect();
    // Per set (at its root): the union of its ranges and the narrowest member span.
    let mut set: Vec<Option<((f32, f32), f32)>> = ranges.iter().map(|r| r.map(|r| (r, span(r)))).collect();
    for n in &g.nodes {
        let (Op::Conv(_), Some(&r)) = (&n.op, n.inputs.get(3)) else { continue };
        let (r, y) = (r.0 as usize, n.output.0 as usize);
        if table_act(n).is_some() || r.max(y) >= ranges.len() {
            continue;
        }
        let (a, b) = (root(&mut parent, r), root(&mut parent, y));
        let (Some(((alo, ahi), aspan)), Some(((blo, bhi), bspan))) = (set[a], set[b]) else { continue };
        let union = (alo.min(blo), ahi.max(bhi));
        let narrowest = aspan.min(bspan);
        if a != b && span(union) <= MAX_WIDEN * narrowest {
            parent[a] = b;
            set[b] = Some((union, narrowest));
        }
    }
    for v in 0..ranges.len() {
        if ranges[v].is_some() {
            ranges[v] = set[root(&mut parent, v)].map(|(r, _)| r);
        }
    }
}
