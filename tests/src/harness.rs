//! The one place the cross-crate tests call the APIs: compile with the driver, run on the simulator, run the
//! same ONNX bytes with tract as an independent reference, and compare with one tolerance rule.
use accel_compiler::driver::{compile_bytes, CompileOptions, Compiled, Precision};
use accel_compiler::import::ImportOptions;
use accel_ops::target::Target;
use accel_ops::Tensor;
use accel_runtime::Session;
use rand::{Rng, SeedableRng};
use tract_onnx::prelude::*;

/// Compiles ONNX bytes for `target` with pinned input shapes, in fp32: the comparisons against tract use the
/// f32 tolerance (reduced precision is tested in `e2e_precision.rs`).
pub fn compile(onnx: &[u8], target: &Target, shapes: &[(&str, Vec<usize>)]) -> Compiled {
    let opts = CompileOptions {
        target: target.clone(),
        precision: Precision::Fp32,
        import: ImportOptions {
            input_shapes: shapes.iter().map(|(n, d)| (n.to_string(), d.clone())).collect(),
            ..Default::default()
        },
        ..Default::default()
    };
    match compile_bytes(onnx, None, &opts) {
        Ok(c) => c,
        Err(e) => panic!("compile failed: {e}"),
    }
}

/// Compiles ONNX bytes in int8, calibrated (min/max) on `samples` random inputs of `dims` (seeds from `seed`).
pub fn compile_int8(onnx: &[u8], dims: &[usize], samples: u64, seed: u64) -> Compiled {
    use accel_compiler::precision::{Calibration, CalibrationMethod};
    let samples = (0..samples).map(|s| vec![random_tensor(dims, seed + s)]).collect();
    let opts = CompileOptions {
        precision: Precision::Int8,
        calibration: Some(Calibration { samples, method: CalibrationMethod::MinMax }),
        ..Default::default()
    };
    compile_bytes(onnx, None, &opts).unwrap_or_else(|e| panic!("compile failed: {e}"))
}

/// Runs a one-input, one-output compiled model on random inputs (seeds `seeds`): the simulator must give the
/// reference interpreter's bits on the compiled graph, and at least `min_db` SQNR against tract on the ONNX
/// bytes. Returns the outputs.
pub fn check_exact_and_close(c: &Compiled, onnx: &[u8], dims: &[usize], seeds: &[u64], min_db: f64) -> Vec<Vec<f32>> {
    let mut outs = Vec::new();
    for &seed in seeds {
        let x = random_tensor(dims, seed);
        let got = run_blob(&c.blob, &[("input".to_string(), x.clone())]).swap_remove(0).1.to_f32_vec();
        let reference = accel_compiler::ir::evaluate(&c.optimized, std::slice::from_ref(&x)).unwrap()[0].to_f32_vec();
        assert!(got.iter().zip(&reference).all(|(a, b)| a.to_bits() == b.to_bits()), "simulator != reference");
        let db = accel_ops::numerics::sqnr_db(&got, &tract_run(onnx, &[x])[0]);
        assert!(db >= min_db, "against tract: {db:.1} dB < {min_db}");
        outs.push(got);
    }
    outs
}

/// Loads a blob and runs it once; returns outputs in the blob's output order.
pub fn run_blob(blob: &[u8], inputs: &[(String, Tensor)]) -> Vec<(String, Tensor)> {
    let mut s = Session::load(blob).unwrap_or_else(|e| panic!("load failed: {e}"));
    s.run(inputs).unwrap_or_else(|e| panic!("run failed: {e}")).outputs
}

/// Deterministic uniform values in [-1, 1).
pub fn random_tensor(dims: &[usize], seed: u64) -> Tensor {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let n: usize = dims.iter().product();
    Tensor::from_f32(dims.to_vec(), (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect()).unwrap()
}

/// Runs the ONNX model with tract (optimized) on f32 inputs; outputs in graph order, as f32.
pub fn tract_run(onnx: &[u8], inputs: &[Tensor]) -> Vec<Vec<f32>> {
    let mut model = tract_onnx::onnx().model_for_read(&mut &onnx[..]).expect("tract loads the model");
    for (i, t) in inputs.iter().enumerate() {
        model = model.with_input_fact(i, f32::fact(t.dims()).into()).expect("input fact");
    }
    let plan = model.into_optimized().expect("tract optimizes").into_runnable().expect("tract plans");
    let tv: TVec<TValue> = inputs
        .iter()
        .map(|t| {
            tract_ndarray::ArrayD::from_shape_vec(t.dims().to_vec(), t.as_f32().unwrap().to_vec())
                .unwrap()
                .into_tvalue()
        })
        .collect();
    plan.run(tv)
        .expect("tract runs")
        .iter()
        // Integer outputs (indices) come back as f32 too, exactly for values below 2^24.
        .map(|o| {
            let f = o.cast_to::<f32>().expect("an output tract casts to f32");
            f.to_plain_array_view::<f32>().unwrap().iter().copied().collect()
        })
        .collect()
}

/// Asserts `|a - b| <= atol + rtol |b|` elementwise and reports the worst element.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let mut worst = (0usize, 0f32);
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        let excess = (a - b).abs() - (atol + rtol * b.abs());
        if excess.is_nan() || excess > worst.1 || a.is_nan() != b.is_nan() {
            worst = (i, if excess.is_nan() { f32::INFINITY } else { excess });
        }
    }
    assert!(
        worst.1 <= 0.0,
        "{what}: element {} is {} but the reference says {} (tolerance {atol} + {rtol}|b|)",
        worst.0,
        got[worst.0],
        want[worst.0]
    );
}

/// The tolerance of the end-to-end f32 tests.
pub const ATOL: f32 = 1e-4;
pub const RTOL: f32 = 1e-3;

/// The difference between the largest and the second largest value (how near a top-1 decision is to a tie).
pub fn top2_gap(v: &[f32]) -> f32 {
    let (mut a, mut b) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
    for &x in v {
        if x > a {
            (a, b) = (x, a);
        } else if x > b {
            b = x;
        }
    }
    a - b
}

/// Root mean square of `got - want`.
pub fn noise_rms(got: &[f32], want: &[f32]) -> f64 {
    let n = got.len().max(1) as f64;
    (got.iter().zip(want).map(|(g, w)| ((g - w) as f64).powi(2)).sum::<f64>() / n).sqrt()
}
