//! `accelc`'s import limits as flags (`--max-model-bytes`, `--max-nodes`, `--max-depth`, `--max-elements`) and
//! absurd `--input-shape` pins: each refusal is one error paragraph naming the limit and the value, never a
//! panic; raising a limit lets the same model through.
use accel_modelgen::{Dim, GraphBuilder};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("accelc-limits-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("cannot create a temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `x: f32[batch, 8]` through `n` Relu nodes to `dir/model.onnx`.
fn relu_chain(dir: &Path, batch: Dim, n: usize) -> PathBuf {
    let mut b = GraphBuilder::new(1);
    let mut x = b.input("x", &[batch, Dim::Fixed(8)]);
    for _ in 0..n {
        x = b.relu(&x);
    }
    b.output(&x, "y");
    let path = dir.join("model.onnx");
    accel_modelgen::write(&path, &b.finish().expect("the chain builds")).expect("cannot write the model");
    path
}

fn accelc(model: &Path, args: &[&str]) -> Output {
    let out = model.with_extension("bin");
    Command::new(env!("CARGO_BIN_EXE_accelc"))
        .arg(model)
        .arg("-o")
        .arg(&out)
        .args(args)
        .output()
        .expect("cannot start accelc")
}

/// Asserts that `accelc` fails with an error containing every one of `needles`.
fn refused(o: &Output, needles: &[&str]) {
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "accelc succeeded; stderr:\n{e}");
    assert!(!e.contains("panicked") && !e.contains("internal error"), "{e}");
    for n in needles {
        assert!(e.contains(n), "the error lacks {n:?}:\n{e}");
    }
}

fn ok(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn each_limit_flag_refuses_a_model_over_it_and_admits_it_when_raised() {
    let tmp = TempDir::new("flags");
    let model = relu_chain(&tmp.0, Dim::Fixed(1), 12);
    let len = std::fs::metadata(&model).expect("the model exists").len();
    let (len_s, short) = (len.to_string(), (len - 1).to_string());
    refused(&accelc(&model, &["--max-model-bytes", &short]), &["exceeds a limit", &format!("{len} bytes")]);
    ok(&accelc(&model, &["--max-model-bytes", &len_s]));
    refused(&accelc(&model, &["--max-nodes", "11"]), &["12 nodes, over the limit of 11"]);
    ok(&accelc(&model, &["--max-nodes", "12"]));
    refused(&accelc(&model, &["--max-depth", "11"]), &["12 nodes deep, over the limit of 11"]);
    ok(&accelc(&model, &["--max-depth", "12"]));
    refused(&accelc(&model, &["--max-elements", "7"]), &["input `x`", "over the limit of 7"]);
    ok(&accelc(&model, &["--max-elements", "8"]));
    refused(&accelc(&model, &["--max-depth=-1"]), &["invalid value", "--max-depth"]);
}

#[test]
fn absurd_input_shapes_are_refused_with_the_reason() {
    let tmp = TempDir::new("pins");
    let model = relu_chain(&tmp.0, Dim::Sym("batch".into()), 1);
    refused(&accelc(&model, &[]), &["`batch` (axis 0)", "--input-shape x=1,8"]);
    let max = usize::MAX.to_string();
    refused(&accelc(&model, &["--input-shape", &format!("x={max},8")]), &["input `x`", "overflow"]);
    refused(&accelc(&model, &["--input-shape", "x=4194304,8", "--max-elements", "1000"]), &["over the limit of 1000"]);
    ok(&accelc(&model, &["--input-shape", "x=0,8"]));
    refused(&accelc(&model, &["--input-shape", "x=-1,8"]), &["`-1` is not a dimension"]);
    refused(&accelc(&model, &["--input-shape", "x=1,9"]), &["axis 1", "fixes it at 8"]);
    refused(&accelc(&model, &["--input-shape", "x=1,1,1,1,1,1,1,1,8"]), &["rank"]);
    refused(&accelc(&model, &["--input-shape", "nope=1,8"]), &["`nope`", "no such input"]);
    ok(&accelc(&model, &["--input-shape", "x=3,8"]));
}
