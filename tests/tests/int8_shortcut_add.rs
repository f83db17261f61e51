//! Darknet's (and YOLOv5/v8's) shortcut adds two activations after their convolutions' activations, where no
//! convolution can absorb it as a residual. In int8 it runs as the depthwise 1x1 convolution with a residual
//! the tiles run an add as, with each operand requantized from its own scale: no conversion to f32 and back
//! between the int8 layers, the simulator equal to the reference interpreter bit for bit, close to tract.
use accel_modelgen::{Conv, Dim, GraphBuilder};
use accel_ops::op::Op;
use accel_ops::DType;
use accel_tests::harness::{check_exact_and_close, compile_int8};

#[test]
fn darknet_shortcut_adds_run_int8_and_exactly() {
    let dims = [1, 8, 24, 20];
    let mut b = GraphBuilder::new(33);
    let x = b.input("input", &[Dim::Fixed(1), 8.into(), 24.into(), 20.into()]);
    let a = b.scoped("conv0", |b| b.conv_with(&x, Conv::new(16, 3).pad(1).bias(true)));
    let a = b.leaky_relu(&a, 0.1);
    let y = b.scoped("conv1", |b| b.conv_with(&a, Conv::new(8, 1).bias(true)));
    let y = b.leaky_relu(&y, 0.1);
    let y = b.scoped("conv2", |b| b.conv_with(&y, Conv::new(16, 3).pad(1).bias(true)));
    let y = b.leaky_relu(&y, 0.1);
    let s = b.add(&y, &a);
    // A second shortcut reads the first's sum, as Darknet's stages do.
    let y = b.scoped("conv3", |b| b.conv_with(&s, Conv::new(16, 3).pad(1).bias(true)));
    let y = b.leaky_relu(&y, 0.1);
    let s = b.add(&s, &y);
    b.output(&s, "output");
    let onnx = accel_modelgen::to_bytes(&b.finish().expect("the model builds"));
    let c = compile_int8(&onnx, &dims, 8, 500);
    let g = &c.optimized;
    let int8 = g.nodes.iter().filter(|n| matches!(n.op, Op::Conv(_)) && g.ty(n.output).dtype == DType::I8).count();
    assert_eq!(int8, 6, "four conv + LeakyReLU layers and both adds run int8:\n{g}");
    // Only the model's input is quantized and its output dequantized.
    let conversions = g.nodes.iter().filter(|n| matches!(n.op, Op::Quant(_) | Op::Cast(_))).count();
    assert_eq!(conversions, 2, "no conversion between the int8 layers:\n{g}");
    check_exact_and_close(&c, &onnx, &dims, &[1, 2, 3], 30.0);
}
