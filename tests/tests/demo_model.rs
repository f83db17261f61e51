//! The demo model embedded in accelc is exactly what the model generator writes, so it can be regenerated; the
//! demo runs in bf16 by default (as `accelc` without calibration data) and in fp32 on request, each checked at
//! its own tolerance.
use accel_compiler::driver::Precision;

#[test]
fn embedded_demo_model_is_reproducible() {
    let m = accel_modelgen::zoo::tiny_cnn(96, 96, 7).unwrap();
    assert!(accel_modelgen::to_bytes(&m) == accel_compiler::demo::DEMO_MODEL, "regenerate compiler/assets/demo.onnx");
}

fn demo(precision: Option<Precision>) -> String {
    let g = accel_compiler::import::import_bytes(accel_compiler::demo::DEMO_MODEL, None, &Default::default()).unwrap();
    let t = accel_ops::target::Target::x1();
    match precision {
        None => accel_compiler::demo::run_demo(g, t),
        Some(p) => accel_compiler::demo::run_demo_with(g, t, p),
    }
    .unwrap_or_else(|e| panic!("demo: {e}"))
}

#[test]
fn demo_runs_in_bf16_by_default_and_matches_the_reference() {
    let text = demo(None);
    assert!(text.contains("compiled in bf16") && text.contains("matches the reference interpreter"), "{text}");
    assert!(text.contains("bf16: 1e-2 of max |y|"), "{text}");
    assert!(text.contains("| bf16") || text.contains(" bf16 "), "the profile shows bf16 layers:\n{text}");
}

#[test]
fn demo_runs_in_fp32_on_request() {
    let text = demo(Some(Precision::Fp32));
    assert!(text.contains("compiled in fp32") && text.contains("fp32: 1e-4 + 1e-3 max |y|"), "{text}");
}

#[test]
fn demo_refuses_int8_without_data() {
    let g = accel_compiler::import::import_bytes(accel_compiler::demo::DEMO_MODEL, None, &Default::default()).unwrap();
    let e = accel_compiler::demo::run_demo_with(g, accel_ops::target::Target::x1(), Precision::Int8).unwrap_err();
    assert!(e.to_string().contains("calibration data"), "{e}");
}
