//! The demo model embedded in accelc is exactly what the model generator writes, so it can be regenerated.
#[test]
fn embedded_demo_model_is_reproducible() {
    let m = accel_modelgen::zoo::tiny_cnn(96, 96, 7).unwrap();
    assert!(accel_modelgen::to_bytes(&m) == accel_compiler::demo::DEMO_MODEL, "regenerate compiler/assets/demo.onnx");
}

#[test]
fn demo_runs_and_matches_the_reference() {
    let g = accel_compiler::import::import_bytes(accel_compiler::demo::DEMO_MODEL, None, &Default::default()).unwrap();
    let text = accel_compiler::demo::run_demo(g, accel_ops::target::Target::x1()).unwrap();
    assert!(text.contains("matches the reference interpreter"), "{text}");
}
