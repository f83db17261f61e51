//! Operators expanded at import to close ONNX conformance gaps (BatchNormalization in training mode, OneHot),
//! each checked against values computed by hand from the ONNX reference's definition.
use super::builder::{af, ai, tf32, ti64, value_info, M};
use super::import;
use crate::import::ImportError;
use crate::ir::{evaluate, Graph};
use accel_ops::Tensor;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::TensorProto;

fn f32s(dims: &[usize], v: &[f32]) -> Tensor {
    Tensor::from_f32(dims.to_vec(), v.to_vec()).expect("f32 tensor")
}

/// Imports `m`, evaluates it on `inputs` and checks every output (dims and values within 1e-6).
fn check(m: &M, inputs: &[Tensor], want: &[(Vec<usize>, Vec<f32>)]) -> Graph {
    let g = import(&m.bytes()).unwrap_or_else(|e| panic!("import failed: {e}"));
    let got = evaluate(&g, inputs).unwrap_or_else(|e| panic!("evaluate failed: {e}\n{g}"));
    assert_eq!(got.len(), want.len(), "output count\n{g}");
    for (k, (t, (dims, v))) in got.iter().zip(want).enumerate() {
        assert_eq!(t.dims(), dims.as_slice(), "output {k} dims\n{g}");
        for (i, (&a, &b)) in t.to_f32_vec().iter().zip(v).enumerate() {
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "output {k} element {i}: {a} vs {b}\n{g}");
        }
    }
    g
}

fn batch_norm_training(momentum: Option<f32>, outputs: &[&str]) -> M {
    let mut attrs = vec![ai("training_mode", 1), af("epsilon", 4.0)];
    attrs.extend(momentum.map(|m| af("momentum", m)));
    let mut m = M::new(15)
        .input("x", &[2, 2, 1, 2])
        .init_f32("s", &[2], &[2.0, 0.5])
        .init_f32("b", &[2], &[1.0, -1.0])
        .input("mean", &[2])
        .input("var", &[2])
        .node("BatchNormalization", &["x", "s", "b", "mean", "var"], outputs, attrs);
    for o in outputs.iter().filter(|o| !o.is_empty()) {
        m = m.output(o);
    }
    m
}

#[test]
fn batch_norm_training_uses_batch_statistics_and_updates_the_running_ones() {
    // Channel 0 holds 1, 3, 5, 7 (mean 4, biased variance 5), channel 1 holds 2, 2, -6, 10 (mean 2, variance
    // 32); epsilon 4 makes the deviations 3 and 6. y = scale * (x - mean) / std + bias.
    let x = f32s(&[2, 2, 1, 2], &[1.0, 3.0, 2.0, 2.0, 5.0, 7.0, -6.0, 10.0]);
    let (mean, var) = (f32s(&[2], &[0.5, -1.0]), f32s(&[2], &[1.0, 2.0]));
    let y = vec![-1.0, 1.0 / 3.0, -1.0, -1.0, 5.0 / 3.0, 3.0, -5.0 / 3.0, -1.0 / 3.0];
    let m = batch_norm_training(Some(0.5), &["y", "running_mean", "running_var"]);
    // running = input * 0.5 + batch * 0.5.
    let want = [(vec![2, 2, 1, 2], y.clone()), (vec![2], vec![2.25, 0.5]), (vec![2], vec![3.0, 17.0])];
    check(&m, &[x.clone(), mean.clone(), var.clone()], &want);
    // The default momentum is 0.9; an omitted optional output is simply not computed.
    let m = batch_norm_training(None, &["y", "", "running_var"]);
    let want = [(vec![2, 2, 1, 2], y), (vec![2], vec![0.9 + 0.5, 1.8 + 3.2])];
    check(&m, &[x, mean, var], &want);
}

/// OneHot on graph-input indices of `elem` type and `dims`, with constant depth and values.
fn one_hot(elem: DataType, dims: &[i64], depth: TensorProto, values: &[f32], axis: Option<i64>) -> M {
    let d: Vec<Option<i64>> = dims.iter().map(|&x| Some(x)).collect();
    let mut m = M::new(11).init(depth).init(tf32("values", &[2], values));
    m.graph.input.push(value_info("indices", elem, Some(&d)));
    m.node("OneHot", &["indices", "depth", "values"], &["y"], axis.map(|a| ai("axis", a)).into_iter().collect())
        .output("y")
}

#[test]
fn one_hot_wraps_negative_indices_and_leaves_out_of_range_ones_off() {
    // depth 4 along axis 1: -1 wraps to 3, -4 to 0; 5 matches nothing.
    let m = one_hot(DataType::Int64, &[2, 3], ti64("depth", &[], &[4]), &[-1.0, 7.0], Some(1));
    let idx = Tensor::from_i64(vec![2, 3], vec![0, -1, 3, 5, -4, 2]).expect("indices");
    #[rustfmt::skip]
    let want = vec![
        7.0, -1.0, -1.0, /**/ -1.0, -1.0, -1.0, /**/ -1.0, -1.0, -1.0, /**/ -1.0, 7.0, 7.0,
        -1.0, 7.0, -1.0, /**/ -1.0, -1.0, -1.0, /**/ -1.0, -1.0, 7.0, /**/ -1.0, -1.0, -1.0,
    ];
    let g = check(&m, &[idx], &[(vec![2, 4, 3], want)]);
    assert!(format!("{g}").contains("where"), "the indices are computed: a host Where remains\n{g}");
}

#[test]
fn one_hot_on_float_indices_with_a_float_depth_on_the_last_axis() {
    // A float index matches only a whole position; 1.5 gives an all-off row.
    let m = one_hot(DataType::Float, &[3], tf32("depth", &[], &[3.0]), &[0.0, 1.0], None);
    let idx = f32s(&[3], &[1.0, -2.0, 1.5]);
    check(&m, &[idx], &[(vec![3, 3], vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0])]);
}

fn node_err(m: &M, why: &str) {
    match import(&m.bytes()) {
        Err(ImportError::Node { node, why: w, .. }) => {
            assert!(node.contains("OneHot"), "node {node:?}");
            assert!(w.contains(why), "reason {w:?} lacks {why:?}");
        }
        other => panic!("expected a node error about {why:?}, got {other:?}"),
    }
}

#[test]
fn one_hot_refuses_a_computed_fractional_or_empty_depth() {
    let mut m = one_hot(DataType::Int64, &[2], ti64("unused", &[], &[0]), &[0.0, 1.0], None);
    m.graph.input.push(value_info("depth", DataType::Int64, Some(&[])));
    node_err(&m, "must be a constant");
    node_err(&one_hot(DataType::Int64, &[2], tf32("depth", &[], &[2.5]), &[0.0, 1.0], None), "whole number");
    node_err(&one_hot(DataType::Int64, &[2], ti64("depth", &[], &[0]), &[0.0, 1.0], None), "whole number");
    node_err(&one_hot(DataType::Int64, &[2], ti64("depth", &[], &[3]), &[0.0, 1.0], Some(2)), "axis 2");
}
