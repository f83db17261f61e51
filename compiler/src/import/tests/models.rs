//! The public ONNX models in `tests/data/light` (opset 9, weights as ConstantOfShape nodes, some graph
//! inputs backed by initializers) import; the small ones evaluate to what tract computes.
use super::{assert_close, rand_f32, run_accel, run_tract};
use crate::import::{import_path, ImportOptions};
use std::path::PathBuf;

fn light(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/light").join(format!("{name}.onnx"))
}

const ALL: [&str; 9] = [
    "light_bvlc_alexnet",
    "light_densenet121",
    "light_inception_v1",
    "light_inception_v2",
    "light_resnet50",
    "light_shufflenet",
    "light_squeezenet",
    "light_vgg19",
    "light_zfnet512",
];

#[test]
fn every_light_model_imports() {
    let dir = light("x").parent().map(|p| p.to_path_buf()).unwrap();
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".onnx"))
        .collect();
    found.sort();
    assert_eq!(found.len(), ALL.len(), "update ALL: {found:?}");
    for name in ALL {
        let g = import_path(&light(name), &ImportOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(g.inputs.len(), 1, "{name}: one real input, the rest are constants");
        assert_eq!(g.ty(g.inputs[0]).shape.dims(), [1, 3, 224, 224], "{name}");
        assert_eq!(g.outputs.len(), 1, "{name}");
        assert!(g.nodes.iter().all(|n| !n.name.is_empty()), "{name}");
    }
}

/// Imports `name`, evaluates it on a seeded random input and compares with tract.
fn matches_tract(name: &str) {
    let path = light(name);
    let g = import_path(&path, &ImportOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let dims = g.ty(g.inputs[0]).shape.dims().to_vec();
    let inputs = vec![(dims.clone(), rand_f32(42, dims.iter().product(), -1.0, 1.0))];
    let bytes = std::fs::read(&path).unwrap();
    let want = run_tract(&bytes, &inputs);
    let got = run_accel(&g, &inputs);
    assert_close(name, &got, &want);
}

#[test]
fn light_squeezenet_matches_tract() {
    matches_tract("light_squeezenet");
}

#[test]
fn light_resnet50_matches_tract() {
    matches_tract("light_resnet50");
}

#[test]
fn light_shufflenet_matches_tract() {
    // Channel shuffle: 5-D Reshape -> Transpose -> Reshape.
    matches_tract("light_shufflenet");
}
