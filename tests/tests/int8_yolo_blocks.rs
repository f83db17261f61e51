//! YOLO's blocks in int8 (and bf16): the shortcut add and the route concatenation run as int8 with no conversion to f32
//! and back between the int8 layers, the simulator equal to the reference interpreter bit for bit, close to
//! tract. Darknet's (and YOLOv5/v8's) shortcut adds two activations after their convolutions' activations,
//! where no convolution can absorb it as a residual; in int8 it runs as the depthwise 1x1 convolution with a
//! residual the tiles run an add as, each operand requantized from its own scale.
use accel_modelgen::{Conv, Dim, GraphBuilder};
use accel_ops::op::Op;
use accel_ops::DType;
use accel_tests::harness::{check_exact_and_close, compile_int8, random_tensor, run_blob, tract_run};
use accel_tests::yolo_blocks::{conv_leaky, onnx_bytes, route};

/// Two Darknet shortcuts (the second reads the first's sum, as Darknet's stages do) on `[1, 8, 24, 20]`.
fn darknet_shortcuts() -> Vec<u8> {
    let mut b = GraphBuilder::new(33);
    let x = b.input("input", &[Dim::Fixed(1), 8.into(), 24.into(), 20.into()]);
    let a = b.scoped("conv0", |b| b.conv_with(&x, Conv::new(16, 3).pad(1).bias(true)));
    let a = b.leaky_relu(&a, 0.1);
    let y = b.scoped("conv1", |b| b.conv_with(&a, Conv::new(8, 1).bias(true)));
    let y = b.leaky_relu(&y, 0.1);
    let y = b.scoped("conv2", |b| b.conv_with(&y, Conv::new(16, 3).pad(1).bias(true)));
    let y = b.leaky_relu(&y, 0.1);
    let s = b.add(&y, &a);
    let y = b.scoped("conv3", |b| b.conv_with(&s, Conv::new(16, 3).pad(1).bias(true)));
    let y = b.leaky_relu(&y, 0.1);
    let s = b.add(&s, &y);
    b.output(&s, "output");
    accel_modelgen::to_bytes(&b.finish().expect("the model builds"))
}

#[test]
fn darknet_shortcut_adds_run_int8_and_exactly() {
    let dims = [1, 8, 24, 20];
    let onnx = darknet_shortcuts();
    let c = compile_int8(&onnx, &dims, 8, 500);
    let g = &c.optimized;
    let int8 = g.nodes.iter().filter(|n| matches!(n.op, Op::Conv(_)) && g.ty(n.output).dtype == DType::I8).count();
    assert_eq!(int8, 6, "four conv + LeakyReLU layers and both adds run int8:\n{g}");
    // Only the model's input is quantized and its output dequantized.
    let conversions = g.nodes.iter().filter(|n| matches!(n.op, Op::Quant(_) | Op::Cast(_))).count();
    assert_eq!(conversions, 2, "no conversion between the int8 layers:\n{g}");
    check_exact_and_close(&c, &onnx, &dims, &[1, 2, 3], 30.0);
}

/// YOLO's route: a deeper feature upsampled and concatenated with an earlier one, then convolved. The
/// concatenation's operands (and the upsample's input) share its scale, so the upsample and the concatenation
/// run on int8 bytes with no conversion around them.
#[test]
fn yolo_route_concatenation_runs_int8_and_exactly() {
    let dims = [1, 8, 16, 16];
    let mut b = GraphBuilder::new(35);
    let x = b.input("input", &[Dim::Fixed(1), 8.into(), 16.into(), 16.into()]);
    let early = conv_leaky(&mut b, "conv0", &x, Conv::new(12, 3).pad(1));
    let deep = conv_leaky(&mut b, "conv1", &early, Conv::new(16, 3).stride(2).pad(1));
    let deep = conv_leaky(&mut b, "conv2", &deep, Conv::new(6, 1));
    let route = route(&mut b, &deep, &early);
    let y = conv_leaky(&mut b, "conv3", &route, Conv::new(8, 3).pad(1));
    b.output(&y, "output");
    let onnx = onnx_bytes(b);
    let c = compile_int8(&onnx, &dims, 8, 700);
    let g = &c.optimized;
    let concat = g.nodes.iter().find(|n| matches!(n.op, Op::Concat(_))).expect("a concatenation");
    assert_eq!(g.ty(concat.output).dtype, DType::I8, "the concatenation runs int8:\n{g}");
    let upsample = g.nodes.iter().find(|n| matches!(n.op, Op::Resize(_))).expect("an upsample");
    assert_eq!(g.ty(upsample.output).dtype, DType::I8, "the upsample runs int8:\n{g}");
    let conversions = g.nodes.iter().filter(|n| matches!(n.op, Op::Quant(_) | Op::Cast(_))).count();
    assert_eq!(conversions, 2, "only the model's input and output convert:\n{g}");
    check_exact_and_close(&c, &onnx, &dims, &[1, 2, 3], 30.0);
}

/// In bf16 (the mode without calibration data) the shortcuts are bf16 layers too: the f32 sum of two bf16
/// operands rounded once, with no conversion between the layers.
#[test]
fn darknet_shortcut_adds_run_bf16_and_exactly() {
    use accel_compiler::driver::{compile_bytes, CompileOptions, Precision};
    let dims = [1, 8, 24, 20];
    let onnx = darknet_shortcuts();
    let opts = CompileOptions { precision: Precision::Bf16, ..Default::default() };
    let c = compile_bytes(&onnx, None, &opts).unwrap_or_else(|e| panic!("compile failed: {e}"));
    let g = &c.optimized;
    let bf16 = g.nodes.iter().filter(|n| matches!(n.op, Op::Conv(_)) && g.ty(n.output).dtype == DType::BF16).count();
    assert_eq!(bf16, 6, "four conv + LeakyReLU layers and both adds run bf16:\n{g}");
    let conversions = g.nodes.iter().filter(|n| matches!(n.op, Op::Quant(_) | Op::Cast(_))).count();
    assert_eq!(conversions, 2, "no conversion between the bf16 layers:\n{g}");
    check_exact_and_close(&c, &onnx, &dims, &[1, 2, 3], 40.0);
}

/// A detector's output: box coordinates (hundreds) joined with class scores (below one). Sharing the
/// concatenation's scale put the scores on the boxes' grid, where every one of them rounded to zero (YOLOv8's
/// exported head: class scores at 0 dB); such a concatenation now runs in float, each operand dequantized from
/// its own parameters, and the scores keep their precision.
#[test]
fn a_concatenation_of_very_different_ranges_keeps_the_small_operand() {
    let dims = [1, 8, 10, 12];
    let mut b = GraphBuilder::new(17);
    let x = b.input("input", &[Dim::Fixed(1), 8.into(), 10.into(), 12.into()]);
    let boxes = b.scoped("box", |b| b.conv_with(&x, Conv::new(4, 3).pad(1).bias(true)));
    let boxes = b.mul_scalar(&boxes, 300.0);
    let scores = b.scoped("cls", |b| b.conv_with(&x, Conv::new(6, 1).bias(true)));
    let scores = b.sigmoid(&scores);
    let y = b.concat(&[boxes, scores], 1);
    b.output(&y, "output");
    let onnx = accel_modelgen::to_bytes(&b.finish().expect("the model builds"));
    let c = compile_int8(&onnx, &dims, 4, 90);
    for seed in [1, 2] {
        let x = random_tensor(&dims, seed);
        let got = run_blob(&c.blob, &[("input".to_string(), x.clone())]).swap_remove(0).1.to_f32_vec();
        let want = tract_run(&onnx, &[x]).swap_remove(0);
        // Channels 4..10 of [1, 10, 10, 12]: the scores.
        let plane = 10 * 12;
        let db = accel_ops::numerics::sqnr_db(&got[4 * plane..], &want[4 * plane..]);
        assert!(db >= 30.0, "class scores at {db:.1} dB against tract");
    }
}
