//! A layer whose output is mostly its bias, fed by tiny activations: what the last layers of randomly
//! initialized PyTorch exports look like (torchvision's GoogLeNet, ShuffleNetV2, DeepLabV3 with `weights=None`).
//! With the weights' own scales the int32 bias saturated and the int8 layer wrote zeros (0 dB); the quantizer
//! now raises such a channel's weight scale until its bias fits, so the layer stays int8 and close to f32.
use accel_modelgen::{Conv, Dim, GraphBuilder};
use accel_ops::op::Op;
use accel_ops::DType;
use accel_tests::harness::{check_exact_and_close, compile_int8};

#[test]
fn a_bias_dominated_int8_layer_keeps_its_bias() {
    let dims = [1, 8, 12, 10];
    let mut b = GraphBuilder::new(5);
    let x = b.input("input", &[Dim::Fixed(1), 8.into(), 12.into(), 10.into()]);
    let y = b.scoped("conv0", |b| b.conv_with(&x, Conv::new(16, 3).pad(1).bias(true)));
    let y = b.relu(&y);
    // Activations of ~1e-7 next to biases of ~0.1: the bias is ~10^11 steps of input scale x weight scale.
    let y = b.mul_scalar(&y, 1e-7);
    // The generator scales a layer's weights to its input's RMS; drawn as if for unit activations instead, the
    // weights stay ~0.1, as in an untrained network whose activations have died out.
    b.set_stats(&y, accel_modelgen::Stats::centered(1.0));
    let y = b.scoped("conv1", |b| b.conv_with(&y, Conv::new(12, 1).bias(true)));
    b.output(&y, "output");
    let onnx = accel_modelgen::to_bytes(&b.finish().expect("the model builds"));
    let c = compile_int8(&onnx, &dims, 4, 40);
    let g = &c.optimized;
    let int8 = g.nodes.iter().filter(|n| matches!(n.op, Op::Conv(_)) && g.ty(n.output).dtype == DType::I8).count();
    assert_eq!(int8, 2, "both convolutions run int8:\n{g}");
    check_exact_and_close(&c, &onnx, &dims, &[1, 2], 30.0);
}
