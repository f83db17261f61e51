//! The `accelc` binary as the README runs it. Being an integration test of this package, it also makes cargo
//! build `target/<profile>/accelc`, which the cross-crate CLI tests in `tests/` start.
use std::process::{Command, Output};

fn accelc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accelc")).args(args).output().expect("cannot start accelc")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The README's first command: compile the embedded model, run it on the simulator, check and report.
#[test]
fn demo_compiles_runs_and_reports() {
    let o = accelc(&["demo"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    for needle in ["ms", "frames/s", "DRAM"] {
        assert!(s.contains(needle), "demo output lacks `{needle}`:\n{s}");
    }
}

#[test]
fn no_model_is_a_usage_error() {
    let o = accelc(&[]);
    assert!(!o.status.success());
    let e = text(&o.stderr);
    assert!(e.contains("accelc model.onnx -o model.bin") && !e.contains("panicked"), "{e}");
}

#[test]
fn unknown_target_is_named() {
    let o = accelc(&["demo", "--target", "no-such-target"]);
    assert!(!o.status.success());
    let e = text(&o.stderr);
    assert!(e.contains("no-such-target") && !e.contains("panicked"), "{e}");
}
