//! Shared helpers for the integration tests: load a generated model in tract, run it on a
//! seeded random input, and check outputs.
#![allow(dead_code)]

use accel_modelgen::{to_bytes, ModelProto};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tract_onnx::prelude::*;

/// Loads `model` with tract from its encoded bytes (optionally fixing input 0's shape),
/// optimises it and runs it on a uniform [-1.7, 1.7] input of `input_shape`.
pub fn run_in_tract(model: &ModelProto, input_shape: &[usize], fix_input: bool) -> Vec<Tensor> {
    let bytes = to_bytes(model);
    let mut m = tract_onnx::onnx().model_for_read(&mut bytes.as_slice()).expect("tract loads the model");
    if fix_input {
        m = m.with_input_fact(0, f32::fact(input_shape).into()).expect("input fact");
    }
    let plan = m.into_optimized().expect("optimize").into_runnable().expect("runnable");
    let input = random_input(input_shape, 42);
    let out = plan.run(tvec!(input.into_tvalue())).expect("tract runs the model");
    out.into_iter().map(|t| t.into_tensor()).collect()
}

/// A seeded uniform input with unit variance.
pub fn random_input(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.7f32..1.7)).collect();
    Tensor::from_shape(shape, &data).expect("input tensor")
}

/// The elements of an f32 tensor.
pub fn values(t: &Tensor) -> Vec<f32> {
    t.to_plain_array_view::<f32>().expect("f32 output").iter().copied().collect()
}

/// Asserts `t` has shape `shape`, only finite values, and an RMS in a sane range.
pub fn check_output(t: &Tensor, shape: &[usize]) {
    assert_eq!(t.shape(), shape);
    let v = values(t);
    assert!(v.iter().all(|x| x.is_finite()), "non-finite output");
    let rms = (v.iter().map(|x| (x * x) as f64).sum::<f64>() / v.len() as f64).sqrt();
    assert!(rms > 1e-3 && rms < 1e3, "output rms {rms} out of range");
}

/// Asserts `|a - b| <= 1e-4 + 1e-3 |b|` elementwise.
pub fn assert_close(a: &Tensor, b: &Tensor) {
    assert_eq!(a.shape(), b.shape());
    for (x, y) in values(a).iter().zip(values(b).iter()) {
        assert!((x - y).abs() <= 1e-4 + 1e-3 * y.abs(), "{x} vs {y}");
    }
}

/// Node names, op types, initializer names and value names of a model.
pub fn names(model: &ModelProto) -> (Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
    let g = model.graph.as_ref().expect("graph");
    let nodes = g.node.iter().map(|n| n.name.clone()).collect();
    let ops = g.node.iter().map(|n| n.op_type.clone()).collect();
    let inits = g.initializer.iter().map(|t| t.name.clone()).collect();
    let vals = g.node.iter().flat_map(|n| n.output.clone()).collect();
    (nodes, ops, inits, vals)
}
