//! End to end on the public ONNX `light_*` models (shipped in tests/data/light from the onnx wheel): each
//! compiles for x1 and runs on the simulator with outputs equal to tract's within f32 tolerance.
use accel_ops::target::Target;
use accel_tests::harness::{assert_close, compile, random_tensor, run_blob, tract_run, ATOL, RTOL};
use std::path::Path;

fn check(file: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/light").join(file);
    let onnx = std::fs::read(&path).unwrap();
    let compiled = compile(&onnx, &Target::x1(), &[]);
    let inputs: Vec<_> = compiled
        .program()
        .meta
        .inputs
        .iter()
        .enumerate()
        .map(|(i, io)| (io.name.clone(), random_tensor(io.ty.shape.dims(), 7 + i as u64)))
        .collect();
    let got = run_blob(&compiled.blob, &inputs);
    let want = tract_run(&onnx, &inputs.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>());
    for ((name, g), w) in got.iter().zip(&want) {
        assert_close(&format!("{file}/{name}"), &g.to_f32_vec(), w, ATOL, RTOL);
    }
}

#[test]
fn light_squeezenet() {
    check("light_squeezenet.onnx");
}

#[test]
fn light_resnet50() {
    check("light_resnet50.onnx");
}

#[test]
fn light_densenet121() {
    check("light_densenet121.onnx");
}

#[test]
fn light_inception_v1() {
    check("light_inception_v1.onnx");
}

#[test]
fn light_inception_v2() {
    check("light_inception_v2.onnx");
}

#[test]
fn light_shufflenet() {
    check("light_shufflenet.onnx");
}

#[test]
fn light_vgg19() {
    check("light_vgg19.onnx");
}

#[test]
fn light_bvlc_alexnet() {
    check("light_bvlc_alexnet.onnx");
}

#[test]
fn light_zfnet512() {
    check("light_zfnet512.onnx");
}
