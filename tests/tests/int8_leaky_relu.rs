//! A LeakyReLU fused into int8 convolutions (YOLO's activation): the layers stay int8 (the slope is a second
//! requantization multiplier for negative sums, `QuantHeader::neg_mult`), the simulator gives exactly the
//! reference interpreter's bits, and the result is close to tract's f32.
use accel_compiler::driver::{compile_bytes, CompileOptions, Precision};
use accel_compiler::ir::evaluate;
use accel_compiler::precision::{Calibration, CalibrationMethod};
use accel_modelgen::{Conv, Dim, GraphBuilder};
use accel_ops::numerics::sqnr_db;
use accel_ops::op::Op;
use accel_ops::DType;
use accel_tests::harness::{random_tensor, run_blob, tract_run};

#[test]
fn conv_leaky_relu_layers_run_int8_and_exactly() {
    let dims = [1, 8, 20, 18];
    let mut b = GraphBuilder::new(21);
    let x = b.input("input", &[Dim::Fixed(1), 8.into(), 20.into(), 18.into()]);
    let y = b.scoped("conv0", |b| b.conv_with(&x, Conv::new(16, 3).pad(1).bias(true)));
    let y = b.leaky_relu(&y, 0.1);
    let y = b.scoped("conv1", |b| b.conv_with(&y, Conv::new(12, 3).stride(2).pad(1).bias(true)));
    let y = b.leaky_relu(&y, 0.01);
    b.output(&y, "output");
    let onnx = accel_modelgen::to_bytes(&b.finish().expect("the model builds"));
    let samples = (0..8).map(|s| vec![random_tensor(&dims, 300 + s)]).collect();
    let opts = CompileOptions {
        precision: Precision::Int8,
        calibration: Some(Calibration { samples, method: CalibrationMethod::MinMax }),
        ..Default::default()
    };
    let c = compile_bytes(&onnx, None, &opts).unwrap_or_else(|e| panic!("compile failed: {e}"));
    let g = &c.optimized;
    let int8 = g.nodes.iter().filter(|n| matches!(n.op, Op::Conv(_)) && g.ty(n.output).dtype == DType::I8).count();
    assert_eq!(int8, 2, "both conv + LeakyReLU layers run int8:\n{g}");
    for seed in [1, 2, 3] {
        let x = random_tensor(&dims, seed);
        let got = run_blob(&c.blob, &[("input".to_string(), x.clone())]).swap_remove(0).1.to_f32_vec();
        let reference = evaluate(g, std::slice::from_ref(&x)).unwrap()[0].to_f32_vec();
        assert!(got.iter().zip(&reference).all(|(a, b)| a.to_bits() == b.to_bits()), "simulator != reference");
        let want = &tract_run(&onnx, &[x])[0];
        let db = sqnr_db(&got, want);
        assert!(db >= 30.0, "int8 conv + LeakyReLU vs tract: {db:.1} dB");
        assert!(got.iter().any(|&v| v < 0.0), "the negative (leaky) side is exercised");
    }
}
