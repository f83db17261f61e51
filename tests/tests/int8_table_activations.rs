//! Activations without an integer clamp (SiLU, HardSwish, Sigmoid) fused into int8 convolutions as 256-entry
//! lookup tables (`accel_ops::numerics::table`): the layers stay int8, the simulator gives exactly the
//! reference interpreter's bits, and the result is close to tract's f32.
use accel_compiler::driver::{compile_bytes, CompileOptions, Precision};
use accel_compiler::ir::evaluate;
use accel_compiler::precision::{Calibration, CalibrationMethod};
use accel_modelgen::{Conv, Dim, GraphBuilder};
use accel_ops::numerics::sqnr_db;
use accel_ops::op::{Op, UnaryOp};
use accel_ops::DType;
use accel_tests::harness::{random_tensor, run_blob, tract_run};

/// Compiles `onnx` (one input of `dims`) in int8 with min/max calibration and checks that its convolutions
/// are int8 with the activations `acts` (in order), that the simulator equals the reference bit for bit and
/// that the output is >= 30 dB from tract's.
fn check(onnx: &[u8], dims: &[usize], acts: &[UnaryOp]) {
    let samples = (0..8).map(|s| vec![random_tensor(dims, 300 + s)]).collect();
    let opts = CompileOptions {
        precision: Precision::Int8,
        calibration: Some(Calibration { samples, method: CalibrationMethod::MinMax }),
        ..Default::default()
    };
    let c = compile_bytes(onnx, None, &opts).unwrap_or_else(|e| panic!("compile failed: {e}"));
    let g = &c.optimized;
    let int8: Vec<Option<UnaryOp>> = g
        .nodes
        .iter()
        .filter(|n| g.ty(n.output).dtype == DType::I8)
        .filter_map(|n| match &n.op {
            Op::Conv(cv) => Some(cv.act),
            _ => None,
        })
        .collect();
    let want: Vec<Option<UnaryOp>> = acts.iter().map(|&a| Some(a)).collect();
    assert_eq!(int8, want, "every conv + activation layer runs int8 with its table:\n{g}");
    for seed in [1, 2, 3] {
        let x = random_tensor(dims, seed);
        let got = run_blob(&c.blob, &[("input".to_string(), x.clone())]).swap_remove(0).1.to_f32_vec();
        let reference = evaluate(g, std::slice::from_ref(&x)).unwrap()[0].to_f32_vec();
        assert!(got.iter().zip(&reference).all(|(a, b)| a.to_bits() == b.to_bits()), "simulator != reference");
        let want = &tract_run(onnx, &[x])[0];
        let db = sqnr_db(&got, want);
        assert!(db >= 30.0, "int8 conv + {acts:?} vs tract: {db:.1} dB");
    }
}

/// YOLOv5/v8's layer: conv + SiLU (exported as Sigmoid then Mul), one with a residual added before its SiLU.
#[test]
fn conv_silu_layers_run_int8_and_exactly() {
    let dims = [1, 8, 20, 18];
    let mut b = GraphBuilder::new(23);
    let x = b.input("input", &[Dim::Fixed(1), 8.into(), 20.into(), 18.into()]);
    let y = b.scoped("conv0", |b| b.conv_with(&x, Conv::new(16, 3).pad(1).bias(true)));
    let y = b.silu(&y);
    let y = b.scoped("conv1", |b| b.conv_with(&y, Conv::new(12, 3).stride(2).pad(1).bias(true)));
    let y1 = b.silu(&y);
    let y = b.scoped("conv2", |b| b.conv_with(&y1, Conv::new(12, 3).pad(1).bias(true)));
    let y = b.add(&y, &y1);
    let y = b.silu(&y);
    b.output(&y, "output");
    let onnx = accel_modelgen::to_bytes(&b.finish().expect("the model builds"));
    check(&onnx, &dims, &[UnaryOp::Silu; 3]);
}

/// MobileNetV3's layers: conv + HardSwish (the opset-14 op), and a conv + Sigmoid.
#[test]
fn conv_hardswish_layers_run_int8_and_exactly() {
    let dims = [1, 8, 16, 16];
    let mut b = GraphBuilder::new(24).opset(14);
    let x = b.input("input", &[Dim::Fixed(1), 8.into(), 16.into(), 16.into()]);
    let y = b.scoped("conv0", |b| b.conv_with(&x, Conv::new(16, 3).pad(1).bias(true)));
    let y = b.hardswish(&y);
    let y = b.scoped("conv1", |b| b.conv_with(&y, Conv::new(16, 3).pad(1).bias(true)));
    let y = b.hardswish(&y);
    let y = b.scoped("conv2", |b| b.conv_with(&y, Conv::new(8, 1).bias(true)));
    let y = b.sigmoid(&y);
    b.output(&y, "output");
    let onnx = accel_modelgen::to_bytes(&b.finish().expect("the model builds"));
    check(&onnx, &dims, &[UnaryOp::HardSwish, UnaryOp::HardSwish, UnaryOp::Sigmoid]);
}
