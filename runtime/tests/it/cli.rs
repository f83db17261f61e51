//! The `accelrt` binary: run with .npy inputs and outputs, JSON report and profile; `info` and `dis`; every
//! failure is a non-zero exit with one paragraph on stderr and no panic.
use crate::common::*;
use accel_ops::blob::encode;
use accel_runtime::npy::{read_npy_file, write_npy_file};
use accel_runtime::random::random_inputs;
use std::path::PathBuf;
use std::process::{Command, Output};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("accelrt-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The one place these tests start the binary.
fn accelrt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accelrt")).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Writes the conv model and a matching input; returns (dir, model path, input path).
fn model(name: &str) -> (PathBuf, String, String) {
    let dir = temp_dir(name);
    let p = conv_program(3, 4, 8, 8, None, 1).program;
    let model = dir.join("model.bin");
    std::fs::write(&model, encode(&p).unwrap()).unwrap();
    let x = random_inputs(&p.meta.inputs, 5).unwrap().remove(0).1;
    let input = dir.join("x.npy");
    write_npy_file(&input, &x).unwrap();
    (dir, model.display().to_string(), input.display().to_string())
}

#[test]
fn run_writes_outputs_and_reports() {
    let (dir, model, input) = model("run");
    let out_dir = dir.join("out");
    let json = dir.join("report.json");
    let o = accelrt(&[
        "run",
        &model,
        "--input",
        &format!("x={input}"),
        "--output-dir",
        out_dir.to_str().unwrap(),
        "--profile",
        "--report-json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("cycles") && stdout.contains("frames/s") && stdout.contains("(unattributed)"), "{stdout}");
    let y = read_npy_file(&out_dir.join("y.npy")).unwrap();
    assert_eq!(y.dims(), &[1, 4, 8, 8]);
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for key in ["latency_ms", "frames_per_s", "mac_utilization", "dram_bytes", "energy_mj", "host_ms", "layers"] {
        assert!(report.get(key).is_some(), "report lacks {key}");
    }
    // A single-input model also takes a bare file name, and random inputs are deterministic.
    assert!(accelrt(&["run", &model, "--input", &input]).status.success());
    let a = accelrt(&["run", &model, "--random-inputs", "7", "--output-dir", dir.join("a").to_str().unwrap()]);
    let b = accelrt(&["run", &model, "--random-inputs", "7", "--output-dir", dir.join("b").to_str().unwrap()]);
    assert!(a.status.success() && b.status.success());
    assert_eq!(read_npy_file(&dir.join("a/y.npy")).unwrap(), read_npy_file(&dir.join("b/y.npy")).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn info_and_dis_print_the_model() {
    let (dir, model, _) = model("info");
    let o = accelrt(&["info", &model]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(s.contains("input       `x` f32[1x3x8x8]") && s.contains("verifier    ok"), "{s}");
    let o = accelrt(&["dis", &model]);
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("mac.conv"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn failures_are_one_paragraph_and_non_zero() {
    let (dir, model, input) = model("fail");
    let garbage = dir.join("garbage.bin");
    std::fs::write(&garbage, b"not a blob at all, not even close to one").unwrap();
    let wrong = dir.join("wrong.npy");
    write_npy_file(&wrong, &accel_ops::Tensor::from_f32(vec![2], vec![1.0, 2.0]).unwrap()).unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["run".into(), model.clone()], "--random-inputs"),
        (vec!["run".into(), model.clone(), "--input".into(), format!("x={}", wrong.display())], "`x`"),
        (vec!["run".into(), model.clone(), "--input".into(), "x=/nonexistent.npy".into()], "nonexistent"),
        (vec!["run".into(), garbage.display().to_string(), "--input".into(), input.clone()], "blob"),
        (vec!["info".into(), "/nonexistent/model.bin".into()], "cannot read"),
        (vec!["dis".into(), garbage.display().to_string()], "blob"),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let o = accelrt(&args);
        let err = text(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked") && err.trim().lines().count() == 1, "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_writes_a_trace_and_simulates_a_stream() {
    let (dir, model, _) = model("stream");
    let (json, trace) = (dir.join("report.json"), dir.join("trace.json"));
    let o = accelrt(&[
        "run",
        &model,
        "--random-inputs",
        "3",
        "--profile",
        "--report-json",
        json.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
        "--frames",
        "50",
        "--fps",
        "10000000",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    for needle in ["SRAM pk", "util", "prec", "p99", "dropped", "TOPS", "mJ/frame"] {
        assert!(stdout.contains(needle), "stdout lacks `{needle}`: {stdout}");
    }
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for key in ["roofline_ms", "power_w", "energy_split_mj", "stall_cycles", "stream"] {
        assert!(report.get(key).is_some(), "report lacks {key}");
    }
    // Offered far faster than the model runs: most frames are dropped, at most 2 wait, none is lost silently.
    let s = &report["stream"];
    let (done, dropped) = (s["completed"].as_u64().unwrap(), s["dropped"].as_u64().unwrap());
    assert_eq!(done + dropped, 50);
    assert!(dropped > 0 && s["latency_ms"]["max"].as_f64().unwrap() >= s["latency_ms"]["p50"].as_f64().unwrap());
    let trace: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    assert!(trace["traceEvents"].as_array().is_some_and(|e| !e.is_empty()));
    let bad = accelrt(&["run", &model, "--random-inputs", "3", "--fps", "0"]);
    assert!(!bad.status.success() && text(&bad.stderr).contains("--fps"));
    let _ = std::fs::remove_dir_all(&dir);
}
