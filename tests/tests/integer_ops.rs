//! ConvInteger and MatMulInteger (models from `accel_modelgen::qdq::integer_model`: QuantizeLinear -> integer op
//! -> Cast -> Mul by the scales -> Add bias, optionally requantized) against tract. In fp32 the integer sums are
//! exact, so the outputs match tract at the f32 tolerance (requantized: within one output step, where an f32
//! rounding of the scaled sum lands on the other side of a rounding boundary); the casts cancel in the e-graph.
//! With `--precision int8` the requantized pattern runs on the INT8 tile commands with the model's own scales
//! (no calibration data), bit-exact against the reference interpreter; the plain pattern runs int8 from
//! calibration data.
use accel_compiler::driver::{compile_bytes, CompileOptions, Compiled, Precision};
use accel_compiler::ir::evaluate;
use accel_compiler::precision::{Calibration, CalibrationMethod};
use accel_modelgen::qdq::{integer_model, IntegerOp};
use accel_ops::numerics::sqnr_db;
use accel_ops::op::Op;
use accel_ops::DType;
use accel_tests::harness::{assert_close, random_tensor, run_blob, tract_run, ATOL, RTOL};

/// The output step of the requantized models (`y_scale` in `integer_model`).
const Y_STEP: f32 = 0.03;

fn model(op: IntegerOp, requantize: bool) -> (Vec<u8>, Vec<usize>) {
    let dims = match op {
        IntegerOp::Conv => vec![1, 3, 12, 12],
        IntegerOp::MatMul => vec![2, 16],
    };
    (accel_modelgen::to_bytes(&integer_model(op, requantize, 11).unwrap()), dims)
}

fn compile(onnx: &[u8], precision: Precision, calibration: Option<Calibration>) -> Compiled {
    let opts = CompileOptions { precision, calibration, ..Default::default() };
    compile_bytes(onnx, None, &opts).unwrap_or_else(|e| panic!("compile failed: {e}"))
}

fn run(c: &Compiled, x: &accel_ops::Tensor) -> Vec<f32> {
    run_blob(&c.blob, &[("input".to_string(), x.clone())]).swap_remove(0).1.to_f32_vec()
}

fn int8_mac_layers(c: &Compiled) -> usize {
    let g = &c.optimized;
    g.nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Conv(_) | Op::Gemm(_) | Op::MatMul(_)) && g.ty(n.output).dtype == DType::I8)
        .count()
}

#[test]
fn integer_ops_match_tract_in_fp32_and_the_casts_cancel() {
    for op in [IntegerOp::Conv, IntegerOp::MatMul] {
        for requantize in [false, true] {
            let name = format!("{op:?} requantize={requantize}");
            let (onnx, dims) = model(op, requantize);
            let c = compile(&onnx, Precision::Fp32, None);
            let casts = c.optimized.nodes.iter().filter(|n| matches!(n.op, Op::Cast(_))).count();
            assert_eq!(casts, 0, "{name}: int32 round trip left in the graph:\n{}", c.optimized);
            for seed in 0..3 {
                let x = random_tensor(&dims, 40 + seed);
                let got = run(&c, &x);
                let want = &tract_run(&onnx, std::slice::from_ref(&x))[0];
                if requantize {
                    assert_close(&name, &got, want, Y_STEP * 1.01, 0.0);
                    let same = got.iter().zip(want).filter(|(a, b)| (*a - *b).abs() < Y_STEP / 2.0).count();
                    assert!(same * 100 >= got.len() * 99, "{name}: {same} of {} on the same step", got.len());
                } else {
                    assert_close(&name, &got, want, ATOL, RTOL);
                }
            }
        }
    }
}

#[test]
fn requantized_integer_ops_run_in_int8_with_the_models_scales() {
    for op in [IntegerOp::Conv, IntegerOp::MatMul] {
        let (onnx, dims) = model(op, true);
        let c = compile(&onnx, Precision::Int8, None);
        assert_eq!(int8_mac_layers(&c), 1, "{op:?}: the layer runs int8:\n{}", c.optimized);
        for seed in 0..3 {
            let x = random_tensor(&dims, 60 + seed);
            let got = run(&c, &x);
            let reference = evaluate(&c.optimized, std::slice::from_ref(&x)).unwrap()[0].to_f32_vec();
            assert!(
                got.iter().zip(&reference).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{op:?}: simulator != reference interpreter"
            );
            let want = &tract_run(&onnx, std::slice::from_ref(&x))[0];
            // The weights are requantized per channel from the model's integers and scales: a step at most.
            assert_close(&format!("{op:?} int8"), &got, want, 2.0 * Y_STEP, 0.0);
            let db = sqnr_db(&got, want);
            assert!(db >= 30.0, "{op:?} int8 vs tract: {db:.1} dB");
        }
    }
}

#[test]
fn plain_integer_ops_run_in_int8_from_calibration_data() {
    for op in [IntegerOp::Conv, IntegerOp::MatMul] {
        let (onnx, dims) = model(op, false);
        let samples = (0..8).map(|s| vec![random_tensor(&dims, 80 + s)]).collect();
        let c = compile(&onnx, Precision::Int8, Some(Calibration { samples, method: CalibrationMethod::MinMax }));
        assert_eq!(int8_mac_layers(&c), 1, "{op:?}: the layer runs int8:\n{}", c.optimized);
        let x = random_tensor(&dims, 99);
        let got = run(&c, &x);
        let want = &tract_run(&onnx, std::slice::from_ref(&x))[0];
        let db = sqnr_db(&got, want);
        assert!(db >= 30.0, "{op:?} int8 from calibration vs tract: {db:.1} dB");
    }
}
