//! Pre-quantized ONNX (QDQ: QuantizeLinear/DequantizeLinear around every Conv and Gemm, int8 weights per
//! channel, written by `accel_modelgen::qdq`): it imports (Q/DQ become `Quant` nodes, weight DequantizeLinear
//! folds), runs in fp32 as the model's fake quantization close to tract, and with `--precision int8` runs its
//! MAC layers in int8 with the model's own scales (no calibration data), bit-exact against the reference
//! interpreter and close to tract.
use accel_compiler::driver::{compile_bytes, CompileOptions, Compiled, Precision};
use accel_compiler::ir::evaluate;
use accel_ops::numerics::sqnr_db;
use accel_ops::op::Op;
use accel_ops::DType;
use accel_tests::harness::{noise_rms, random_tensor, run_blob, top2_gap, tract_run};

fn qdq_model(m: accel_modelgen::ModelProto, dims: &[usize]) -> Vec<u8> {
    let cal: Vec<(Vec<usize>, Vec<f32>)> =
        (0..6).map(|s| (dims.to_vec(), random_tensor(dims, 300 + s).as_f32().unwrap().to_vec())).collect();
    accel_modelgen::to_bytes(&accel_modelgen::qdq::to_qdq(&m, &cal).unwrap())
}

fn compile(onnx: &[u8], precision: Precision) -> Compiled {
    let opts = CompileOptions { precision, ..Default::default() };
    compile_bytes(onnx, None, &opts).unwrap_or_else(|e| panic!("compile failed: {e}"))
}

fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().fold(0, |b, (i, &x)| if x > v[b] { i } else { b })
}

/// Runs `c` on seeded inputs: exact against the reference interpreter on its graph up to the host Softmax's
/// ulps (int8; f32 sums in another order can move a fake-quantized value by a step), and the worst SQNR and
/// top-1 agreement against tract (near-ties excepted).
fn check(name: &str, onnx: &[u8], c: &Compiled, dims: &[usize], min_db: f64, exact: bool) {
    let mut worst = f64::INFINITY;
    for seed in 0..3 {
        let x = random_tensor(dims, 900 + seed);
        let got = run_blob(&c.blob, &[("input".to_string(), x.clone())]);
        let reference = evaluate(&c.optimized, std::slice::from_ref(&x)).unwrap();
        let (g, r) = (got[0].1.to_f32_vec(), reference[0].to_f32_vec());
        if exact {
            // The final Softmax runs on the host, whose kernel IR computes exp with its own polynomial (within
            // a few ulps of the reference's libm); every tile layer before it is bit-exact.
            assert!(
                g.iter().zip(&r).all(|(a, b)| (a - b).abs() <= 4.0 * f32::EPSILON * b.abs()),
                "{name}: simulator != reference interpreter: {g:?} vs {r:?}"
            );
        }
        let want = &tract_run(onnx, &[x])[0];
        worst = worst.min(sqnr_db(&g, want));
        // The classes must agree unless tract's two best lie within twice the output noise of each other (a
        // near-tie that any rounding may flip: the generated weights are random).
        let (gap, noise) = (top2_gap(want), noise_rms(&g, want) as f32);
        if gap >= 2.0 * noise {
            assert_eq!(argmax(&g), argmax(want), "{name}: top-1 differs from tract (top-2 gap {gap}, noise {noise})");
        } else {
            eprintln!("{name}: seed {seed} is a near-tie (top-2 gap {gap:.2e}, noise rms {noise:.2e})");
        }
    }
    eprintln!("{name}: worst SQNR vs tract {worst:.1} dB");
    assert!(worst >= min_db, "{name}: SQNR {worst:.1} dB < {min_db}");
}

fn int8_layers(c: &Compiled) -> usize {
    let g = &c.optimized;
    g.nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Conv(_) | Op::Gemm(_) | Op::MatMul(_)) && g.ty(n.output).dtype == DType::I8)
        .count()
}

#[test]
fn qdq_tiny_cnn_imports_and_runs_in_fp32_and_int8() {
    let dims = [1, 3, 24, 24];
    let onnx = qdq_model(accel_modelgen::zoo::tiny_cnn(24, 24, 5).unwrap(), &dims);
    let fp32 = compile(&onnx, Precision::Fp32);
    let quants = fp32.imported.nodes.iter().filter(|n| matches!(n.op, Op::Quant(_))).count();
    assert!(quants >= 8, "Q/DQ pairs import as Quant nodes ({quants})");
    check("qdq tiny-cnn fp32", &onnx, &fp32, &dims, 30.0, false);
    let int8 = compile(&onnx, Precision::Int8);
    // conv1 and the block's first conv have quantized inputs and outputs; the layers whose output the model
    // does not quantize (before pooling, before Softmax) run bf16 without calibration data.
    assert!(int8_layers(&int8) >= 2, "int8 layers with the model's scales:\n{}", int8.optimized);
    check("qdq tiny-cnn int8", &onnx, &int8, &dims, 25.0, true);
}

#[test]
fn qdq_resnet50_runs_in_int8_with_its_own_scales() {
    let dims = [1, 3, 32, 32];
    let onnx = qdq_model(accel_modelgen::zoo::resnet50(32, 32, 3).unwrap(), &dims);
    let int8 = compile(&onnx, Precision::Int8);
    let n = int8_layers(&int8);
    assert!(n >= 40, "most MAC layers in int8 without calibration data ({n})");
    check("qdq resnet50@32 int8", &onnx, &int8, &dims, 25.0, true);
}

#[test]
fn qlinear_ops_import() {
    // A QLinearConv between a quantize and a dequantize, against tract.
    use accel_modelgen::qdq::qlinear_conv_model;
    let onnx = accel_modelgen::to_bytes(&qlinear_conv_model(7).unwrap());
    let x = random_tensor(&[1, 3, 10, 10], 1);
    let c = compile(&onnx, Precision::Fp32);
    let got = run_blob(&c.blob, &[("input".to_string(), x.clone())]);
    let want = &tract_run(&onnx, std::slice::from_ref(&x))[0];
    let db = sqnr_db(&got[0].1.to_f32_vec(), want);
    assert!(db >= 30.0, "QLinearConv vs tract: {db:.1} dB");
    let int8 = compile(&onnx, Precision::Int8);
    assert_eq!(int8_layers(&int8), 1, "{}", int8.optimized);
    let got8 = run_blob(&int8.blob, &[("input".to_string(), x)]);
    let db8 = sqnr_db(&got8[0].1.to_f32_vec(), want);
    assert!(db8 >= 30.0, "QLinearConv in int8 vs tract: {db8:.1} dB");
}

/// A uint8 graph input dequantized, requantized to a uint8 graph output: the interface keeps uint8 (carried
/// inside as int8 with shifted zero points) and delivers the exact uint8 values.
#[test]
fn uint8_inputs_and_outputs_keep_their_values() {
    use accel_tests::onnx_model::{value_info, Model};
    use tract_onnx::pb::tensor_proto::DataType;
    use tract_onnx::pb::{type_proto, TensorProto};
    let u8_info = |name: &str| {
        let mut vi = value_info(name, &[Some(2), Some(4)]);
        if let Some(type_proto::Value::TensorType(t)) = vi.r#type.as_mut().and_then(|t| t.value.as_mut()) {
            t.elem_type = DataType::Uint8 as i32;
        }
        vi
    };
    let scalar = |name: &str, dt: DataType, f: Vec<f32>, b: Vec<u8>| TensorProto {
        name: name.into(),
        data_type: dt as i32,
        float_data: f,
        raw_data: b,
        ..Default::default()
    };
    let mut m = Model::default().node("", "DequantizeLinear", &["x", "xs", "xz"], &["f"], vec![]).node(
        "",
        "QuantizeLinear",
        &["f", "ys", "yz"],
        &["y"],
        vec![],
    );
    m.opset = 13;
    m.graph.input.push(u8_info("x"));
    m.graph.output.push(u8_info("y"));
    m.graph.initializer.extend([
        scalar("xs", DataType::Float, vec![0.5], vec![]),
        scalar("xz", DataType::Uint8, vec![], vec![100]),
        scalar("ys", DataType::Float, vec![0.25], vec![]),
        scalar("yz", DataType::Uint8, vec![], vec![10]),
    ]);
    let c = compile(&m.bytes(), Precision::Fp32);
    let x: Vec<u8> = vec![0, 1, 90, 100, 101, 150, 200, 255];
    let got = run_blob(&c.blob, &[("x".to_string(), accel_ops::Tensor::from_u8(vec![2, 4], x.clone()).unwrap())]);
    assert_eq!(got[0].1.dtype(), DType::U8);
    // y = clamp(round(0.5 (x - 100) / 0.25) + 10) = clamp(2 (x - 100) + 10, 0, 255).
    let want: Vec<i64> = x.iter().map(|&v| (2 * (v as i64 - 100) + 10).clamp(0, 255)).collect();
    assert_eq!(got[0].1.to_i64_vec().unwrap(), want);
}
