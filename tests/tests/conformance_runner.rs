//! The conformance runner's per-case logic on tiny cases written in the ONNX backend layout (`model.onnx`,
//! `test_data_set_0/{input,output}_0.pb`), so the runner cannot rot while the real suite (a pip download) is
//! not part of `cargo test`: a passing case, a wrong expected output, and an operator accel does not know (DFT).
use accel_modelgen::{Dim, GraphBuilder};
use accel_tests::conformance::case;
use accel_tests::conformance::engines::{run_accel, run_tract};
use accel_tests::conformance::report::{markdown, totals, CaseResult};
use accel_tests::conformance::Outcome;
use accel_tests::onnx_model::{int, value_info, Model};
use prost::Message;
use std::path::{Path, PathBuf};
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::TensorProto;

fn f32_pb(name: &str, dims: &[i64], v: &[f32]) -> Vec<u8> {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        float_data: v.to_vec(),
        ..Default::default()
    }
    .encode_to_vec()
}

/// Writes one case: the model, one f32 input and one expected f32 output, all of shape `dims`.
fn write_case(root: &Path, name: &str, model: &[u8], dims: &[i64], input: &[f32], output: &[f32]) -> PathBuf {
    let dir = root.join(name);
    let data = dir.join("test_data_set_0");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(dir.join("model.onnx"), model).unwrap();
    std::fs::write(data.join("input_0.pb"), f32_pb("x", dims, input)).unwrap();
    std::fs::write(data.join("output_0.pb"), f32_pb("y", dims, output)).unwrap();
    dir
}

/// The inverse DFT of complex values stored as (re, im) pairs: `y[n] = 1/N sum_k x[k] e^(2 pi i k n / N)`.
fn inverse_dft(x: &[f32]) -> Vec<f32> {
    let n = x.len() / 2;
    let mut y = Vec::with_capacity(x.len());
    for j in 0..n {
        let (mut re, mut im) = (0f64, 0f64);
        for k in 0..n {
            let a = 2.0 * std::f64::consts::PI * (k * j) as f64 / n as f64;
            let (xr, xi) = (x[2 * k] as f64, x[2 * k + 1] as f64);
            re += xr * a.cos() - xi * a.sin();
            im += xr * a.sin() + xi * a.cos();
        }
        y.extend([(re / n as f64) as f32, (im / n as f64) as f32]);
    }
    y
}

fn relu_model() -> Vec<u8> {
    let mut b = GraphBuilder::new(1).opset(13);
    let x = b.input("x", &[Dim::from(2), Dim::from(3)]);
    let y = b.relu(&x);
    b.output(&y, "y");
    accel_modelgen::to_bytes(&b.finish().unwrap())
}

fn check(dir: &Path, accel: impl Fn(&Outcome) -> bool, tract: impl Fn(&Outcome) -> bool) -> CaseResult {
    let c = case::load(dir).unwrap();
    let r = CaseResult {
        name: c.name.clone(),
        ops: c.ops.clone(),
        opset: c.opset,
        accel: run_accel(&c),
        tract: run_tract(&c),
    };
    assert!(accel(&r.accel), "{}: accel gave {}", r.name, r.accel);
    assert!(tract(&r.tract), "{}: tract gave {}", r.name, r.tract);
    r
}

#[test]
fn runner_classifies_pass_fail_and_unsupported() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("conformance-{}", std::process::id()));
    let x = [-1.0, 0.5, 2.0, -0.25, 0.0, 3.0];
    let relu: Vec<f32> = x.iter().map(|v: &f32| v.max(0.0)).collect();
    let mut results = Vec::new();

    let dir = write_case(&root, "test_relu_ok", &relu_model(), &[2, 3], &x, &relu);
    results.push(check(&dir, Outcome::is_pass, Outcome::is_pass));

    // Off by 1e-2 at element 2: outside rtol 1e-3 for both engines.
    let mut wrong = relu.clone();
    wrong[2] += 1e-2;
    let dir = write_case(&root, "test_relu_wrong", &relu_model(), &[2, 3], &x, &wrong);
    let r =
        check(&dir, |o| matches!(o, Outcome::Fail(d) if d.contains("element 2")), |o| matches!(o, Outcome::Fail(_)));
    results.push(r);

    // An operator tract runs and accel does not (yet): DFT (here the inverse transform of 3 complex values,
    // shape [1, 3, 2] in and out).
    let mut m = Model::default().node("", "DFT", &["x"], &["y"], vec![int("inverse", 1), int("axis", 1)]);
    m.opset = 17;
    m.graph.input.push(value_info("x", &[Some(1), Some(3), Some(2)]));
    m.graph.output.push(value_info("y", &[Some(1), Some(3), Some(2)]));
    let dir = write_case(&root, "test_dft_inverse", &m.bytes(), &[1, 3, 2], &x, &inverse_dft(&x));
    results.push(check(&dir, |o| matches!(o, Outcome::Unsupported(d) if d.contains("DFT")), Outcome::is_pass));

    assert_eq!(case::list(&root).unwrap().len(), 3);
    let (a, t) = totals(&results, |_| true);
    assert_eq!((a.cases, a.pass, a.fail, a.unsupported), (3, 1, 1, 1));
    assert_eq!((t.pass, t.fail), (2, 1));
    let md = markdown(&results, "# test");
    assert!(md.contains("- **DFT** (1):"), "{md}");
    std::fs::remove_dir_all(&root).unwrap();
}
