//! The conformance regression check: every ONNX node case in `tests/conformance/allow-list.txt` must still
//! pass through accel (compile for `x1`, run on the simulator, compare with the case's expected outputs).
//! The cases are regenerated from the `onnx` package (PyPI, never a model hub) by `tests/conformance/fetch.sh`
//! when the cache folder `target/onnx-node/node` does not hold them yet (~20 s once per checkout).
use accel_tests::conformance::case;
use accel_tests::conformance::engines::run_accel;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the tests crate lives in the workspace").to_path_buf()
}

/// The regenerated node cases, fetched first if missing.
fn cases_dir(root: &Path) -> PathBuf {
    let dir = root.join("target/onnx-node/node");
    if !dir.join("test_abs").is_dir() {
        let status = Command::new("bash")
            .arg(root.join("tests/conformance/fetch.sh"))
            .status()
            .expect("running tests/conformance/fetch.sh (needs bash and python3 with venv and pip)");
        assert!(status.success(), "tests/conformance/fetch.sh failed: {status}");
    }
    dir
}

#[test]
fn allow_listed_cases_still_pass() {
    let root = workspace_root();
    let list = std::fs::read_to_string(root.join("tests/conformance/allow-list.txt")).expect("the allow-list");
    let names: Vec<&str> = list.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    assert!(names.len() > 500, "the allow-list lost its cases: {}", names.len());
    let dir = cases_dir(&root);
    let regressions: Vec<String> = names
        .par_iter()
        .filter_map(|name| {
            let outcome = match case::load(&dir.join(name)) {
                Ok(c) => run_accel(&c),
                Err(e) => return Some(format!("{name}: the case does not load: {e}")),
            };
            (!outcome.is_pass()).then(|| format!("{name}: {outcome}"))
        })
        .collect();
    assert!(
        regressions.is_empty(),
        "{} of {} allow-listed conformance cases no longer pass:\n{}",
        regressions.len(),
        names.len(),
        regressions.join("\n")
    );
}
