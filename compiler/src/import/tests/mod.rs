//! Tests of the ONNX importer: per-family differential tests against tract, the public light models, and
//! hostile inputs, each asserting its specific error.
mod attention;
mod builder;
mod conformance_gaps;
mod dynamic_quant;
mod einsum;
mod hostile;
mod index_map;
mod models;
mod ops;
mod resize;
mod shapes;

use super::{import_bytes, ImportError, ImportOptions};
use crate::ir::{evaluate, Graph};
use accel_ops::Tensor;
use builder::M;
use tract_onnx::prelude::*;

/// Deterministic pseudo-random f32s in `[lo, hi)` (SplitMix64), so tests need no RNG crate.
pub(super) fn rand_f32(seed: u64, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            lo + (hi - lo) * ((z >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

/// Imports model bytes with default options.
pub(super) fn import(bytes: &[u8]) -> Result<Graph, ImportError> {
    import_bytes(bytes, None, &ImportOptions::default())
}

/// Runs `bytes` in tract on f32 inputs; returns each output's dims and values.
pub(super) fn run_tract(bytes: &[u8], inputs: &[(Vec<usize>, Vec<f32>)]) -> Vec<(Vec<usize>, Vec<f32>)> {
    let mut model = tract_onnx::onnx().model_for_read(&mut &bytes[..]).expect("tract reads the model");
    for (i, (dims, _)) in inputs.iter().enumerate() {
        model = model.with_input_fact(i, f32::fact(dims).into()).expect("tract input fact");
    }
    let plan = model.into_optimized().expect("tract optimizes").into_runnable().expect("tract plan");
    let tv: TVec<TValue> = inputs
        .iter()
        .map(|(d, v)| tract_onnx::prelude::Tensor::from_shape(d, v).expect("tract tensor").into())
        .collect();
    let outs = plan.run(tv).expect("tract runs");
    outs.iter()
        .map(|t| {
            let t = t.cast_to::<f32>().expect("tract output as f32");
            let v = t.try_as_plain_ram().expect("plain").as_slice::<f32>().expect("f32").to_vec();
            (t.shape().to_vec(), v)
        })
        .collect()
}

/// Evaluates the imported graph on the same inputs.
pub(super) fn run_accel(g: &Graph, inputs: &[(Vec<usize>, Vec<f32>)]) -> Vec<(Vec<usize>, Vec<f32>)> {
    let ts: Vec<Tensor> =
        inputs.iter().map(|(d, v)| Tensor::from_f32(d.clone(), v.clone()).expect("input tensor")).collect();
    evaluate(g, &ts).expect("evaluate").iter().map(|t| (t.dims().to_vec(), t.to_f32_vec())).collect()
}

/// Asserts `got` matches `want` within |a-b| <= 1e-4 + 1e-3|b| (NaN matches NaN).
pub(super) fn assert_close(what: &str, got: &[(Vec<usize>, Vec<f32>)], want: &[(Vec<usize>, Vec<f32>)]) {
    assert_eq!(got.len(), want.len(), "{what}: output count");
    for (k, ((gd, gv), (wd, wv))) in got.iter().zip(want).enumerate() {
        assert_eq!(gd, wd, "{what}: output {k} dims");
        for (i, (&a, &b)) in gv.iter().zip(wv).enumerate() {
            let ok = (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-4 + 1e-3 * b.abs();
            assert!(ok, "{what}: output {k} element {i}: accel {a} vs tract {b}");
        }
    }
}

/// The one differential check: imports `m`, evaluates it on seeded random inputs in `[lo, hi)` and compares
/// with tract. Returns the graph for further assertions.
pub(super) fn check_range(m: &M, seed: u64, lo: f32, hi: f32) -> Graph {
    let bytes = m.bytes();
    let g = import(&bytes).unwrap_or_else(|e| panic!("import failed: {e}"));
    let inputs: Vec<(Vec<usize>, Vec<f32>)> = g
        .inputs
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let dims = g.ty(v).shape.dims().to_vec();
            let n = dims.iter().product();
            (dims, rand_f32(seed + i as u64, n, lo, hi))
        })
        .collect();
    let want = run_tract(&bytes, &inputs);
    let got = run_accel(&g, &inputs);
    assert_close(&format!("{g}"), &got, &want);
    g
}

pub(super) fn check(m: &M) -> Graph {
    check_range(m, 7, -2.0, 2.0)
}
