//! Slice with negative steps and Pad in edge/reflect/wrap modes, done as gathers with import-time indices:
//! against tract, plus the index maps themselves on pads larger than the axis and crops.
use super::builder::{astr, ti64, M};
use super::check;
use crate::import::translate::index_map::{padded, reversed};

/// A Slice's starts, ends, axes and steps.
type SliceArgs<'a> = (&'a [i64], &'a [i64], &'a [i64], &'a [i64]);

#[test]
fn flips_and_reversed_slices_match_tract() {
    // On a [3, 5, 4] input: a full flip, a strided reversal, two axes at once.
    let cases: [SliceArgs<'_>; 3] = [
        (&[-1], &[i64::MIN], &[1], &[-1]),
        (&[4, 3], &[0, -5], &[1, 2], &[-2, -1]),
        (&[0, 10], &[2, -100], &[0, 1], &[1, -3]),
    ];
    for (starts, ends, axes, steps) in cases {
        let k = starts.len() as i64;
        let m = M::new(13)
            .input("x", &[3, 5, 4])
            .init(ti64("starts", &[k], starts))
            .init(ti64("ends", &[k], ends))
            .init(ti64("axes", &[k], axes))
            .init(ti64("steps", &[k], steps))
            .node("Slice", &["x", "starts", "ends", "axes", "steps"], &["y"], vec![])
            .output("y");
        check(&m);
    }
}

/// (tract 0.23.9 has no `wrap`: the index-map test below and the conformance cases cover it.)
#[test]
fn edge_and_reflect_pads_match_tract() {
    for mode in ["edge", "reflect"] {
        let m = M::new(13)
            .input("x", &[1, 2, 4, 5])
            .init(ti64("pads", &[8], &[0, 0, 2, 3, 0, 0, 3, 1]))
            .node("Pad", &["x", "pads"], &["y"], vec![astr("mode", mode)])
            .output("y");
        check(&m);
    }
}

#[test]
fn index_maps_repeat_past_the_axis_and_crop() {
    assert_eq!(reversed(5, -1, i64::MIN, -1), [4, 3, 2, 1, 0]);
    assert_eq!(reversed(5, 10, -100, -2), [4, 2, 0]);
    assert_eq!(reversed(0, 0, -1, -1), Vec::<usize>::new());
    // reflect: period 2 (d - 1) without repeating the edges; edge: clamp; wrap: periodic.
    assert_eq!(padded("reflect", 3, 5, 2).unwrap(), [1, 0, 1, 2, 1, 0, 1, 2, 1, 0]);
    assert_eq!(padded("edge", 3, 2, 1).unwrap(), [0, 0, 0, 1, 2, 2]);
    assert_eq!(padded("wrap", 3, 4, 0).unwrap(), [2, 0, 1, 2, 0, 1, 2]);
    assert_eq!(padded("reflect", 1, 2, 0).unwrap(), [0, 0, 0]);
    // Negative pads crop.
    assert_eq!(padded("edge", 5, -1, -2).unwrap(), [1, 2]);
    assert!(padded("wrap", 0, 1, 0).is_err());
    assert!(padded("edge", 2, -2, -1).is_err());
}
