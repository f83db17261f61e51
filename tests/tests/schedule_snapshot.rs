//! The schedule of a small conv network, pinned: `accelc --emit schedule` text (stripes, halos, SRAM
//! addresses, sync commands), and the same text from the blob through the runtime's disassembler.
use accel_ops::target::Target;
use accel_tests::harness::compile;

#[test]
fn small_conv_network_schedule() {
    let m = accel_modelgen::zoo::conv_bn_relu_stack(64, 48, 16, 2, 5).unwrap();
    let compiled = compile(&accel_modelgen::to_bytes(&m), &Target::x1(), &[]);
    let text = accel_ops::disasm::disassemble(compiled.program());
    let from_blob = accel_runtime::Session::load(&compiled.blob).unwrap();
    assert_eq!(accel_ops::disasm::disassemble(from_blob.program()), text, "accelrt dis must print what accelc emitted");
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("schedule_conv_bn_relu_stack", text);
    });
}

/// The same network in int8: one fused chain whose members keep their weights, int32 biases and
/// requantization parameters resident, int8 stripes in SRAM, and the conversions at the graph's edges.
#[test]
fn small_conv_network_int8_schedule() {
    use accel_compiler::driver::{compile_bytes, CompileOptions, Precision};
    use accel_compiler::precision::{Calibration, CalibrationMethod};
    let m = accel_modelgen::zoo::conv_bn_relu_stack(64, 48, 16, 2, 5).unwrap();
    let samples = (0..2).map(|s| vec![accel_tests::harness::random_tensor(&[1, 3, 64, 48], 70 + s)]).collect();
    let opts = CompileOptions {
        precision: Precision::Int8,
        calibration: Some(Calibration { samples, method: CalibrationMethod::MinMax }),
        ..Default::default()
    };
    let compiled = compile_bytes(&accel_modelgen::to_bytes(&m), None, &opts).unwrap();
    let text = accel_ops::disasm::disassemble(compiled.program());
    assert!(text.contains(" > "), "the int8 layers run as one fused chain:\n{text}");
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("schedule_conv_bn_relu_stack_int8", text);
    });
}

#[test]
fn same_model_same_bytes() {
    let m = accel_modelgen::zoo::resnet50(64, 64, 9).unwrap();
    let bytes = accel_modelgen::to_bytes(&m);
    let a = compile(&bytes, &Target::x1(), &[]).blob;
    let b = compile(&bytes, &Target::x1(), &[]).blob;
    assert!(a == b, "two compiles of the same model gave different blobs");
    let c = compile(&bytes, &Target::preset("x16").unwrap(), &[]).blob;
    assert!(a != c, "a different target must give a different blob");
}
