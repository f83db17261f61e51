//! Small zoo graphs run in tract; export options (opsets, weights as constants, folded
//! batch norm, dynamic batch) load and agree; generation is deterministic per seed.

mod common;

use accel_modelgen::{to_bytes, zoo, Arch, ZooOptions};
use common::{assert_close, check_output, names, run_in_tract};
use tract_onnx::prelude::*;

#[test]
fn small_blocks_run_in_tract() {
    let o = ZooOptions::default();
    let cases = [
        (zoo::tiny_cnn(20, 12, 1), vec![1, 3, 20, 12], vec![1, 10]),
        (zoo::conv_bn_relu_stack(16, 16, 8, 3, 2), vec![1, 3, 16, 16], vec![1, 8, 16, 16]),
        (zoo::residual_block(8, 8, 16, 3), vec![1, 16, 8, 8], vec![1, 16, 8, 8]),
        (zoo::inverted_residual(8, 8, 16, 6, 4), vec![1, 16, 8, 8], vec![1, 16, 8, 8]),
        (zoo::c2f_block(8, 8, 32, 2, 5), vec![1, 32, 8, 8], vec![1, 32, 8, 8]),
        (zoo::transformer_block(10, 32, 4, 6), vec![1, 10, 32], vec![1, 10, 32]),
        (zoo::build(Arch::TinyCnn, 7, 9, 0, &o), vec![1, 3, 7, 9], vec![1, 10]),
    ];
    for (model, input, output) in cases {
        let model = model.expect("model builds");
        let out = run_in_tract(&model, &input, false);
        check_output(&out[0], &output);
    }
}

#[test]
fn tiny_cnn_softmax_sums_to_one() {
    let out = run_in_tract(&zoo::tiny_cnn(16, 16, 9).expect("tiny"), &[1, 3, 16, 16], false);
    let sum: f32 = common::values(&out[0]).iter().sum();
    assert!((sum - 1.0).abs() < 1e-5);
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    for arch in Arch::ALL.into_iter().filter(|a| !matches!(a, Arch::Resnet50 | Arch::Yolov3)) {
        let (h, w) = if arch == Arch::TransformerBlock { (8, 32) } else { (32, 32) };
        let o = ZooOptions::default();
        let a = to_bytes(&zoo::build(arch, h, w, 7, &o).expect("build"));
        let b = to_bytes(&zoo::build(arch, h, w, 7, &o).expect("build"));
        let c = to_bytes(&zoo::build(arch, h, w, 8, &o).expect("build"));
        assert_eq!(a, b, "{arch} not deterministic");
        assert_ne!(a, c, "{arch} ignores the seed");
    }
}

#[test]
fn constants_and_opsets_load_in_tract() {
    for opset in [11, 12, 13, 14, 15, 16, 17] {
        for constants in [false, true] {
            let o = ZooOptions { opset, weights_as_constants: constants, ..Default::default() };
            let models = [
                (zoo::tiny_cnn_with(16, 16, 1, &o), vec![1, 3, 16, 16]),
                (zoo::c2f_block_with(8, 8, 16, 1, 1, &o), vec![1, 16, 8, 8]),
                (zoo::inverted_residual_with(8, 8, 8, 2, 1, &o), vec![1, 8, 8, 8]),
                (zoo::transformer_block_with(6, 16, 2, 1, &o), vec![1, 6, 16]),
            ];
            for (m, input) in models {
                let m = m.expect("model builds");
                assert_eq!(m.opset_import[0].version, opset);
                let g = m.graph.as_ref().expect("graph");
                assert_eq!(g.initializer.is_empty(), constants);
                let out = run_in_tract(&m, &input, false);
                assert!(common::values(&out[0]).iter().all(|x| x.is_finite()));
            }
        }
    }
}

#[test]
fn weights_as_constants_compute_the_same() {
    let a = zoo::residual_block(8, 8, 8, 11).expect("block");
    let o = ZooOptions { weights_as_constants: true, ..Default::default() };
    let b = zoo::residual_block_with(8, 8, 8, 11, &o).expect("block");
    let (_, ops, _, vals) = names(&b);
    assert!(ops.iter().any(|o| o == "Constant"));
    assert!(vals.contains(&"conv1.weight".to_string()));
    let ya = run_in_tract(&a, &[1, 8, 8, 8], false);
    let yb = run_in_tract(&b, &[1, 8, 8, 8], false);
    assert_close(&yb[0], &ya[0]);
}

#[test]
fn folded_bn_computes_the_same() {
    let folded = ZooOptions { fold_bn: true, ..Default::default() };
    for (arch, h, w, input) in [
        (Arch::TinyCnn, 16, 16, vec![1, 3, 16, 16]),
        (Arch::InvertedResidual, 8, 8, vec![1, 16, 8, 8]),
        (Arch::C2fBlock, 8, 8, vec![1, 32, 8, 8]),
    ] {
        let a = zoo::build(arch, h, w, 5, &ZooOptions::default()).expect("model");
        let b = zoo::build(arch, h, w, 5, &folded).expect("model");
        let (_, ops, _, _) = names(&b);
        assert!(!ops.iter().any(|o| o == "BatchNormalization"));
        let ya = run_in_tract(&a, &input, false);
        let yb = run_in_tract(&b, &input, false);
        assert_close(&yb[0], &ya[0]);
    }
}

#[test]
fn dynamic_batch_loads_with_input_fact() {
    let o = ZooOptions { dynamic_batch: true, ..Default::default() };
    let model = zoo::tiny_cnn_with(16, 16, 3, &o).expect("tiny");
    let bytes = to_bytes(&model);
    let m = tract_onnx::onnx().model_for_read(&mut bytes.as_slice()).expect("load");
    let fact = m.input_fact(0).expect("input fact");
    let batch = fact.shape.dims().next().map(|d| format!("{d:?}"));
    assert!(batch.is_some_and(|d| d.contains("batch")), "{fact:?}");
    // With the batch fixed through the input fact, and with it left symbolic.
    let out = run_in_tract(&model, &[2, 3, 16, 16], true);
    check_output(&out[0], &[2, 10]);
    let out = run_in_tract(&model, &[3, 3, 16, 16], false);
    check_output(&out[0], &[3, 10]);
    let t = zoo::transformer_block_with(5, 16, 2, 3, &o).expect("transformer");
    check_output(&run_in_tract(&t, &[2, 5, 16], true)[0], &[2, 5, 16]);
    let y = zoo::c2f_block_with(8, 8, 16, 1, 3, &o).expect("c2f");
    check_output(&run_in_tract(&y, &[2, 16, 8, 8], true)[0], &[2, 16, 8, 8]);
}

#[test]
fn invalid_requests_are_errors() {
    let bad_opset = ZooOptions { opset: 10, ..Default::default() };
    assert!(zoo::tiny_cnn_with(16, 16, 0, &bad_opset).is_err());
    let bad_opset = ZooOptions { opset: 18, ..Default::default() };
    assert!(zoo::tiny_cnn_with(16, 16, 0, &bad_opset).is_err());
    let no_batch = ZooOptions { batch: 0, ..Default::default() };
    assert!(zoo::tiny_cnn_with(16, 16, 0, &no_batch).is_err());
    assert!(zoo::tiny_cnn(1, 16, 0).is_err());
    assert!(zoo::resnet50(0, 16, 0).is_err());
    assert!(zoo::mobilenetv2(16, 100_000, 0).is_err());
    assert!(zoo::transformer_block(8, 30, 4, 0).is_err());
    assert!(zoo::c2f_block(8, 8, 15, 1, 0).is_err());
    assert!(zoo::conv_bn_relu_stack(8, 8, 0, 1, 0).is_err());
    assert!("resnet-51".parse::<Arch>().is_err());
    assert_eq!("tiny_cnn".parse::<Arch>(), Ok(Arch::TinyCnn));
}

#[test]
fn batch_size_option() {
    let o = ZooOptions { batch: 2, ..Default::default() };
    let m = zoo::mobilenetv2_with(32, 32, 0, &o).expect("mobilenet");
    check_output(&run_in_tract(&m, &[2, 3, 32, 32], false)[0], &[2, 1000]);
}
