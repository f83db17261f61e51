//! A LeakyReLU fused into int8 convolutions (YOLO's activation): the layers stay int8 (the slope is a second
//! requantization multiplier for negative sums, `QuantHeader::neg_mult`), the simulator gives exactly the
//! reference interpreter's bits, and the result is close to tract's f32.
use accel_modelgen::{Conv, Dim, GraphBuilder};
use accel_ops::op::Op;
use accel_ops::DType;
use accel_tests::harness::{check_exact_and_close, compile_int8};

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
    let c = compile_int8(&onnx, &dims, 8, 300);
    let g = &c.optimized;
    let int8 = g.nodes.iter().filter(|n| matches!(n.op, Op::Conv(_)) && g.ty(n.output).dtype == DType::I8).count();
    assert_eq!(int8, 2, "both conv + LeakyReLU layers run int8:\n{g}");
    for got in check_exact_and_close(&c, &onnx, &dims, &[1, 2, 3], 30.0) {
        assert!(got.iter().any(|&v| v < 0.0), "the negative (leaky) side is exercised");
    }
}
