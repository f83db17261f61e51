//! The two binaries as a user runs them: `accelc model.onnx -o model.bin`, `accelrt run`, `accelrt dis`, and
//! their failures (non-zero exit, one message on stderr, no panic).
use accel_tests::harness::{assert_close, random_tensor, tract_run, ATOL, RTOL};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace's binaries live in target/<profile>, integration tests in target/<profile>/deps. Cargo builds a
/// package's binaries only for that package's own integration tests: `compiler/tests/` and `runtime/tests/` exist
/// partly so that `cargo test --workspace` builds `accelc` and `accelrt` before this file runs.
fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(path.exists(), "{} is not built: run `cargo test --workspace` (or `cargo build --bins`)", path.display());
    path
}

fn run(name: &str, args: &[&str]) -> Output {
    Command::new(bin(name)).args(args).output().unwrap_or_else(|e| panic!("cannot start {name}: {e}"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("accel-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_npy(path: &Path, t: &accel_ops::Tensor) {
    accel_runtime::npy::write_npy_file(path, t).unwrap();
}

fn read_npy(path: &Path) -> Vec<f32> {
    accel_runtime::npy::read_npy_file(path).unwrap().to_f32_vec()
}

fn assert_clean_failure(out: &Output, must_mention: &str) {
    assert!(!out.status.success(), "expected failure");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(must_mention), "stderr does not mention `{must_mention}`: {err}");
    assert!(!err.contains("panicked"), "panic on stderr: {err}");
    // Each cause once: errors quote their source in their own message, so a plain chain printed it twice.
    let causes: Vec<&str> = err.trim().split(": ").collect();
    for (i, c) in causes.iter().enumerate().filter(|(_, c)| c.len() > 12) {
        assert!(!causes[i + 1..].contains(c), "`{c}` repeated on stderr: {err}");
    }
}

#[test]
fn compile_run_and_disassemble() {
    let dir = tmp("e2e");
    let model = dir.join("tiny.onnx");
    let onnx = accel_modelgen::to_bytes(&accel_modelgen::zoo::tiny_cnn(32, 32, 11).unwrap());
    std::fs::write(&model, &onnx).unwrap();
    let blob = dir.join("tiny.bin");
    // fp32: compared with tract at the f32 tolerance (the default, bf16, is checked in cli_precision.rs).
    let out = run("accelc", &[model.to_str().unwrap(), "--precision", "fp32", "-o", blob.to_str().unwrap()]);
    assert!(out.status.success(), "accelc failed: {}", String::from_utf8_lossy(&out.stderr));

    let x = random_tensor(&[1, 3, 32, 32], 5);
    let xin = dir.join("x.npy");
    write_npy(&xin, &x);
    let outdir = dir.join("out");
    let input_arg = format!("input={}", xin.display());
    let out = run(
        "accelrt",
        &["run", blob.to_str().unwrap(), "--input", &input_arg, "--output-dir", outdir.to_str().unwrap()],
    );
    assert!(out.status.success(), "accelrt failed: {}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("ms"), "summary: {summary}");
    let got = read_npy(&outdir.join("output.npy"));
    let want = tract_run(&onnx, &[x]);
    assert_close("cli/output", &got, &want[0], ATOL, RTOL);

    let emitted = run("accelc", &[model.to_str().unwrap(), "--precision", "fp32", "--emit", "schedule"]);
    let dis = run("accelrt", &["dis", blob.to_str().unwrap()]);
    assert!(emitted.status.success() && dis.status.success());
    assert_eq!(String::from_utf8_lossy(&emitted.stdout), String::from_utf8_lossy(&dis.stdout));
}

#[test]
fn missing_and_extra_inputs_are_clear_errors() {
    let dir = tmp("inputs");
    let model = dir.join("tiny.onnx");
    std::fs::write(&model, accel_modelgen::to_bytes(&accel_modelgen::zoo::tiny_cnn(16, 16, 1).unwrap())).unwrap();
    let blob = dir.join("tiny.bin");
    assert!(run("accelc", &[model.to_str().unwrap(), "-o", blob.to_str().unwrap()]).status.success());
    assert_clean_failure(&run("accelrt", &["run", blob.to_str().unwrap()]), "input");
    let bad = dir.join("bad.npy");
    write_npy(&bad, &random_tensor(&[1, 3, 8, 8], 1));
    let arg = format!("input={}", bad.display());
    assert_clean_failure(&run("accelrt", &["run", blob.to_str().unwrap(), "--input", &arg]), "input");
    let arg = format!("nosuch={}", bad.display());
    assert_clean_failure(&run("accelrt", &["run", blob.to_str().unwrap(), "--input", &arg]), "nosuch");
}

#[test]
fn bad_files_fail_cleanly() {
    let dir = tmp("bad");
    let junk = dir.join("junk.onnx");
    std::fs::write(&junk, b"\x0a\xff\xff\xff\xff\x0fnot a model").unwrap();
    assert_clean_failure(
        &run("accelc", &[junk.to_str().unwrap(), "-o", dir.join("x.bin").to_str().unwrap()]),
        "junk.onnx",
    );
    let junk_blob = dir.join("junk.bin");
    std::fs::write(&junk_blob, b"ACCELBLB").unwrap();
    assert_clean_failure(&run("accelrt", &["run", junk_blob.to_str().unwrap()]), "truncated");
    assert_clean_failure(&run("accelc", &["/nonexistent/model.onnx", "-o", "/tmp/x.bin"]), "model.onnx");
    let target = dir.join("t.toml");
    std::fs::write(&target, "name = \"bad\"\n").unwrap();
    let m = accel_modelgen::to_bytes(&accel_modelgen::zoo::tiny_cnn(16, 16, 1).unwrap());
    let model = dir.join("m.onnx");
    std::fs::write(&model, m).unwrap();
    assert_clean_failure(
        &run("accelc", &[model.to_str().unwrap(), "--target", target.to_str().unwrap(), "--emit", "graph"]),
        "target",
    );
}

/// `--objective throughput`: the blob carries pipeline stages; `accelrt info` lists them and `accelrt run`
/// reports the measured period next to the latency, and a stream at that rate keeps up.
#[test]
fn throughput_objective_from_the_command_line() {
    let dir = tmp("pipe");
    let model = dir.join("mbv2.onnx");
    std::fs::write(&model, accel_modelgen::to_bytes(&accel_modelgen::zoo::mobilenetv2(64, 64, 3).unwrap())).unwrap();
    let blob = dir.join("mbv2.bin");
    let (m, b) = (model.to_str().unwrap(), blob.to_str().unwrap());
    // fp32: compute-bound enough at 64x64 that a pipeline wins (bf16 stays DRAM-bound and keeps one stage).
    let out = run("accelc", &[m, "--objective", "throughput", "--precision", "fp32", "-o", b]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let info = String::from_utf8_lossy(&run("accelrt", &["info", b]).stdout).into_owned();
    assert!(info.contains("pipeline") && info.contains("stages (frames overlap)"), "{info}");
    let out = run("accelrt", &["run", b, "--random-inputs", "1", "--frames", "20"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("pipeline") && text.contains("a frame may start every"), "{text}");
    assert!(text.contains("20 completed, 0 dropped"), "{text}");
    let out = run("accelc", &[m, "--objective", "fastest", "-o", b]);
    assert_clean_failure(&out, "fastest");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `accelc --freeze`: a TopK whose `k` is a graph input is refused with a hint naming the flag, compiles once
/// `k` is frozen from a .npy file, and the blob then takes only `x` and gives the top values and indices.
#[test]
fn freeze_fixes_an_input_operand() {
    use accel_tests::onnx_model::{int, value_info, Model};
    use tract_onnx::pb::tensor_proto::DataType;
    use tract_onnx::pb::type_proto;
    let dir = tmp("freeze");
    let mut m = Model::default().node("top", "TopK", &["x", "k"], &["v", "i"], vec![int("axis", 1)]);
    m.graph.input.push(value_info("x", &[Some(3), Some(4)]));
    let mut k = value_info("k", &[Some(1)]);
    if let Some(type_proto::Value::TensorType(t)) = k.r#type.as_mut().and_then(|t| t.value.as_mut()) {
        t.elem_type = DataType::Int64 as i32;
    }
    m.graph.input.push(k);
    let m = m.output("v").output("i");
    let model = dir.join("topk.onnx");
    std::fs::write(&model, m.bytes()).unwrap();
    let blob = dir.join("topk.bin");
    let (model_s, blob_s) = (model.to_str().unwrap(), blob.to_str().unwrap());
    assert_clean_failure(&run("accelc", &[model_s, "-o", blob_s]), "--freeze k=FILE.npy");
    let k_file = dir.join("k.npy");
    write_npy(&k_file, &accel_ops::Tensor::from_i64(vec![1], vec![2]).unwrap());
    let freeze = format!("k={}", k_file.display());
    let out = run("accelc", &[model_s, "-o", blob_s, "--freeze", &freeze]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let x_file = dir.join("x.npy");
    write_npy(&x_file, &accel_ops::Tensor::from_f32(vec![3, 4], (0..12).map(|v| v as f32).collect()).unwrap());
    let (x_arg, out_dir) = (format!("x={}", x_file.display()), dir.join("out"));
    let out = run("accelrt", &["run", blob_s, "--input", &x_arg, "--output-dir", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(read_npy(&out_dir.join("v.npy")), [3.0, 2.0, 7.0, 6.0, 11.0, 10.0]);
    assert_eq!(read_npy(&out_dir.join("i.npy")), [3.0, 2.0, 3.0, 2.0, 3.0, 2.0]);
    let _ = std::fs::remove_dir_all(&dir);
}
