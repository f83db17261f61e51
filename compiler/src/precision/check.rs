//! The output check of a calibrated compile (`int8`, `auto`): each model output is compared with fp32 on the
//! first calibration sample, whole and slice by slice along every axis, and an output or slice that int8 lost
//! (below `LOST_DB`) becomes a warning. Why slices: a detector's output joins box coordinates (hundreds) with
//! class scores (below 1); when the scores all rounded to zero the whole output still measured ~50 dB, the
//! boxes' energy hiding the scores' loss (YOLOv8's exported head, found on real exports). A bias that saturates
//! int32 or a scale shared by very different ranges silently writes zeros; this says so at compile time.
use super::report::Energy;
use crate::ir::{evaluate, Graph, IrError, ValueId};
use accel_ops::Tensor;

/// An output, or a slice of one, below this SQNR against fp32 is reported: int8 kept little of it (a working
/// int8 layer stack measures 25-50 dB).
pub const LOST_DB: f64 = 20.0;

/// A slice is judged on its own only with at least this many values: one logit of a classifier is too few for
/// an SQNR to mean anything, its whole output is judged instead.
const MIN_SLICE_VALUES: usize = 64;

/// Warnings for the outputs of `dst` that lost their signal against `src` (the f32 graph) on `sample`; `want`,
/// when given, is `src`'s outputs on it (computed already: not evaluated again).
pub fn lost_outputs(
    src: &Graph,
    dst: &Graph,
    sample: &[Tensor],
    want: Option<&[Tensor]>,
) -> Result<Vec<String>, IrError> {
    let owned;
    let want = match want {
        Some(w) => w,
        None => {
            owned = evaluate(src, sample)?;
            &owned[..]
        }
    };
    let got = evaluate(dst, sample)?;
    let mut warnings = vec![];
    for ((o, g), w) in src.outputs.iter().zip(&got).zip(want) {
        let name = &src.value(*o).name;
        let dims = w.dims().to_vec();
        let (g, w) = (g.to_f32_vec(), w.to_f32_vec());
        let mut whole = Energy::default();
        whole.add(&g, &w);
        if lost(&whole) {
            warnings
                .push(format!("{} of output `{name}` against fp32 (on the first calibration sample)", text(&whole)));
            continue;
        }
        if let Some(s) = worst_slice(&dims, &g, &w) {
            warnings.push(format!(
                "{} of output `{name}` slice {} of axis {} against fp32 ({} of {} slices on that axis below \
                 {LOST_DB} dB, the whole output {}; on the first calibration sample)",
                text(&s.energy),
                s.index,
                s.axis,
                s.lost,
                s.count,
                text(&whole)
            ));
        }
    }
    Ok(warnings)
}

/// The MAC layers (indices into `g.nodes`, `mac` true) whose outputs reach a model output through other
/// layers only (reshapes, transposes, activations, conversions, concatenations): a detector's head
/// convolutions, a classifier's last layer.
pub(super) fn output_layers(g: &Graph, mac: &[bool]) -> Vec<usize> {
    let mut producer = vec![None; g.values.len()];
    for (i, n) in g.nodes.iter().enumerate() {
        if let Some(slot) = producer.get_mut(n.output.0 as usize) {
            *slot = Some(i);
        }
    }
    let mut seen = vec![false; g.nodes.len()];
    let mut found = vec![];
    let mut stack: Vec<ValueId> = g.outputs.clone();
    while let Some(v) = stack.pop() {
        let Some(i) = producer.get(v.0 as usize).copied().flatten() else { continue };
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        if mac.get(i).copied().unwrap_or(false) {
            found.push(i);
        } else {
            stack.extend(g.nodes[i].inputs.iter().filter(|&&v| g.constant(v).is_none()));
        }
    }
    found.sort_unstable();
    found
}

/// The least SQNR of any slice of at least `MIN_SLICE_VALUES` values along any axis (infinite when none is
/// judged): where it is below `LOST_DB`, `auto` tries its output layers out of int8.
pub(super) fn least_slice_db(dims: &[usize], got: &[f32], want: &[f32]) -> f64 {
    let mut least = f64::INFINITY;
    for_each_axis(dims, got, want, |_, slices| {
        for e in slices {
            // NaN (a value lost to NaN) is the least of all.
            least = if e.db().is_nan() { f64::NEG_INFINITY } else { least.min(e.db()) };
        }
    });
    least
}

/// The energies of the slices along each axis that has judged slices (`axis`, one per index).
fn for_each_axis(dims: &[usize], got: &[f32], want: &[f32], mut f: impl FnMut(usize, &[Energy])) {
    let total: usize = dims.iter().product();
    if total != got.len() || total != want.len() {
        return;
    }
    for (axis, &n) in dims.iter().enumerate() {
        if n < 2 || total / n < MIN_SLICE_VALUES {
            continue;
        }
        let inner: usize = dims[axis + 1..].iter().product();
        let mut slices = vec![Energy::default(); n];
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            slices[(i / inner) % n].add(&[g], &[w]);
        }
        f(axis, &slices);
    }
}

/// The lost slice with the least SQNR over all axes, if any.
struct Slice {
    axis: usize,
    index: usize,
    energy: Energy,
    /// Lost slices on that axis, and how many it has.
    lost: usize,
    count: usize,
}

fn worst_slice(dims: &[usize], got: &[f32], want: &[f32]) -> Option<Slice> {
    let mut worst: Option<Slice> = None;
    for_each_axis(dims, got, want, |axis, slices| {
        let n = slices.len();
        let lost_count = slices.iter().filter(|e| lost(e)).count();
        let least = slices.iter().enumerate().filter(|(_, e)| lost(e)).min_by(|a, b| a.1.db().total_cmp(&b.1.db()));
        if let Some((index, e)) = least {
            if worst.as_ref().is_none_or(|s| e.db() < s.energy.db()) {
                worst = Some(Slice { axis, index, energy: *e, lost: lost_count, count: n });
            }
        }
    });
    worst
}

/// An SQNR below `LOST_DB`, or not a number (a NaN where fp32 has none, or the reverse).
fn lost(e: &Energy) -> bool {
    e.db().is_nan() || e.db() < LOST_DB
}

fn text(e: &Energy) -> String {
    match e.db() {
        d if d.is_nan() => "NaN, no SQNR,".into(),
        d => format!("{d:.1} dB SQNR"),
    }
}

#[cfg(test)]
mod tests {
    use super::worst_slice;

    /// A detector-like output `[1, 10, 100]`: channels 0-3 large and exact-ish, 4-9 small and zeroed.
    #[test]
    fn a_zeroed_channel_is_found_though_the_whole_output_is_fine() {
        let want: Vec<f32> =
            (0..1000).map(|i| if i < 400 { 300.0 + (i % 7) as f32 } else { 0.3 + (i % 5) as f32 * 0.1 }).collect();
        let got: Vec<f32> = want.iter().enumerate().map(|(i, &w)| if i < 400 { w + 0.01 } else { 0.0 }).collect();
        let whole = accel_ops::numerics::sqnr_db(&got, &want);
        assert!(whole > 40.0, "the whole output hides it: {whole}");
        let s = worst_slice(&[1, 10, 100], &got, &want).expect("a lost channel");
        assert_eq!((s.axis, s.lost, s.count), (1, 6, 10));
        assert!((4..10).contains(&s.index));
        // The transposed layout `[1, 100, 10]` loses columns of the last axis instead.
        let t = |v: &[f32]| (0..1000).map(|i| v[(i % 10) * 100 + i / 10]).collect::<Vec<f32>>();
        let s = worst_slice(&[1, 100, 10], &t(&got), &t(&want)).expect("a lost column");
        assert_eq!((s.axis, s.lost), (2, 6));
    }

    /// A classifier's logits `[1, 1000]` have one value per class: no slice is judged, only the whole.
    #[test]
    fn single_values_are_not_judged_as_slices() {
        let want: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let mut got = want.clone();
        got[0] = 5.0;
        assert!(worst_slice(&[1, 1000], &got, &want).is_none());
    }

    /// Empty outputs and dims that do not account for the values judge nothing (and never index out of range).
    #[test]
    fn empty_or_mismatched_outputs_judge_nothing() {
        assert!(worst_slice(&[0, 64], &[], &[]).is_none());
        assert!(worst_slice(&[2, 0, 100], &[], &[]).is_none());
        assert_eq!(super::least_slice_db(&[4, 64], &[1.0; 10], &[0.0; 10]), f64::INFINITY);
        assert!(worst_slice(&[4, 64], &[0.0; 256], &[1.0; 255]).is_none());
    }

    /// NaN where fp32 has a number is lost, never passed over.
    #[test]
    fn nan_counts_as_lost() {
        let want = vec![1.0f32; 128];
        let mut got = want.clone();
        got[3] = f32::NAN;
        let s = worst_slice(&[2, 64], &got, &want).expect("the NaN half");
        assert_eq!((s.axis, s.index), (0, 0));
    }
}
