//! `accelc --precision` and `--calibrate` as a user runs them: int8 without data fails with one clear message;
//! calibration from a directory or a pattern of .npy files compiles, `--report` prints the per-layer precision
//! table, and `accelrt run` of the blob stays close to tract.
use accel_ops::numerics::sqnr_db;
use accel_tests::harness::{random_tensor, tract_run};
use std::path::PathBuf;
use std::process::{Command, Output};

fn bin(name: &str) -> PathBuf {
    // Integration tests live in target/<profile>/deps; the workspace's binaries in target/<profile>.
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join(name)
}

fn run(name: &str, args: &[&str]) -> Output {
    Command::new(bin(name)).args(args).output().unwrap_or_else(|e| panic!("cannot start {name}: {e}"))
}

fn setup(tag: &str) -> (PathBuf, PathBuf, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("accel-cli-precision-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(dir.join("cal")).unwrap();
    let onnx = accel_modelgen::to_bytes(&accel_modelgen::zoo::tiny_cnn(24, 24, 3).unwrap());
    let model = dir.join("model.onnx");
    std::fs::write(&model, &onnx).unwrap();
    for s in 0..6 {
        accel_runtime::npy::write_npy_file(
            &dir.join(format!("cal/sample{s}.npy")),
            &random_tensor(&[1, 3, 24, 24], 500 + s),
        )
        .unwrap();
    }
    (dir, model, onnx)
}

#[test]
fn int8_without_calibration_fails_with_one_clear_message() {
    let (dir, model, _) = setup("nocal");
    let out =
        run("accelc", &[model.to_str().unwrap(), "--precision", "int8", "-o", dir.join("m.bin").to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--calibrate") && err.contains("bf16"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let out = run(
        "accelc",
        &[model.to_str().unwrap(), "--calibrate", dir.join("nothing/*.npy").to_str().unwrap(), "-o", "/tmp/x.bin"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no .npy files"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn calibrated_int8_and_bf16_blobs_run_close_to_tract() {
    let (dir, model, onnx) = setup("cal");
    let x = random_tensor(&[1, 3, 24, 24], 77);
    accel_runtime::npy::write_npy_file(&dir.join("x.npy"), &x).unwrap();
    let want = &tract_run(&onnx, &[x])[0];
    let pattern = dir.join("cal/sample*.npy");
    let cal_dir = dir.join("cal");
    let cases: [(&str, Vec<&str>, f64); 3] = [
        ("int8", vec!["--precision", "int8", "--calibrate", pattern.to_str().unwrap(), "--report"], 25.0),
        (
            "auto",
            vec!["--calibrate", cal_dir.to_str().unwrap(), "--calibration-method", "percentile", "--report"],
            25.0,
        ),
        ("bf16", vec!["--precision", "bf16", "--report"], 35.0),
    ];
    for (tag, args, min_db) in cases {
        let blob = dir.join(format!("{tag}.bin"));
        let mut all = vec![model.to_str().unwrap(), "-o", blob.to_str().unwrap()];
        all.extend(args);
        let out = run("accelc", &all);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{tag}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(
            stdout.contains("SQNR dB") && stdout.contains("output output: SQNR"),
            "{tag}: no precision report:\n{stdout}"
        );
        let outdir = dir.join(format!("out-{tag}"));
        let input = format!("input={}", dir.join("x.npy").display());
        let r = run(
            "accelrt",
            &["run", blob.to_str().unwrap(), "--input", &input, "--output-dir", outdir.to_str().unwrap()],
        );
        assert!(r.status.success(), "{tag}: {}", String::from_utf8_lossy(&r.stderr));
        let got = accel_runtime::npy::read_npy_file(&outdir.join("output.npy")).unwrap().to_f32_vec();
        let db = sqnr_db(&got, want);
        assert!(db >= min_db, "{tag}: output SQNR {db:.1} dB < {min_db}");
    }
}

/// Without `--precision`: bf16 when no calibration data is given (within the BF16 goal of tract's f32
/// output), auto with `--calibrate`; the compile line on stderr names the precision.
#[test]
fn default_precision_is_bf16_without_data_and_auto_with_it() {
    let (dir, model, onnx) = setup("default");
    let x = random_tensor(&[1, 3, 24, 24], 78);
    accel_runtime::npy::write_npy_file(&dir.join("x.npy"), &x).unwrap();
    let want = &tract_run(&onnx, &[x])[0];
    let cal = dir.join("cal");
    let cases: [(&str, Vec<&str>); 2] = [("bf16", vec![]), ("auto", vec!["--calibrate", cal.to_str().unwrap()])];
    for (mode, extra) in cases {
        let blob = dir.join(format!("{mode}.bin"));
        let mut args = vec![model.to_str().unwrap(), "-o", blob.to_str().unwrap()];
        args.extend(extra);
        let out = run("accelc", &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{mode}: {err}");
        assert!(err.contains(&format!("precision {mode},")), "{mode}: the compile line names it: {err}");
        let outdir = dir.join(format!("out-{mode}"));
        let input = format!("input={}", dir.join("x.npy").display());
        let r = run(
            "accelrt",
            &["run", blob.to_str().unwrap(), "--input", &input, "--output-dir", outdir.to_str().unwrap()],
        );
        assert!(r.status.success(), "{mode}: {}", String::from_utf8_lossy(&r.stderr));
        let got = accel_runtime::npy::read_npy_file(&outdir.join("output.npy")).unwrap().to_f32_vec();
        if mode == "bf16" {
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            let worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(worst <= 1e-2 * scale, "bf16: max error {worst} > 1e-2 x {scale}");
        } else {
            let db = sqnr_db(&got, want);
            assert!(db >= 25.0, "auto: output SQNR {db:.1} dB");
        }
    }
}

/// A convolution whose output channels differ 10^5-fold in range: per-tensor int8 activations keep the large
/// channels and round the small ones to zero. `accelc` says so on stderr (the whole output still measures
/// well above 20 dB: the large channels' energy hides the loss), naming the output and the axis; bf16, a
/// model int8 keeps and `--no-output-check` say nothing, and `auto` moves the head to bf16 (it writes the lost
/// channels) and keeps the body int8.
#[test]
fn int8_that_loses_output_channels_warns() {
    use accel_modelgen::{Conv, Dim, GraphBuilder};
    let dir = std::env::temp_dir().join(format!("accel-cli-precision-{}-lost", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut b = GraphBuilder::new(5);
    let x = b.input("input", &[Dim::Fixed(1), 8.into(), 64.into(), 64.into()]);
    let h = b.scoped("body0", |b| b.conv_with(&x, Conv::new(32, 3).pad(1).bias(true)));
    let h = b.relu(&h);
    let h = b.scoped("body1", |b| b.conv_with(&h, Conv::new(32, 3).pad(1).bias(true)));
    let body = b.relu(&h);
    let y = b.scoped("head", |b| b.conv_with(&body, Conv::new(16, 1).bias(true)));
    let scales: Vec<f32> = (0..16).map(|c| if c < 8 { 300.0 } else { 0.003 }).collect();
    let y = b.mul_channels(&y, &scales);
    b.output(&y, "scores");
    let lossy = dir.join("lossy.onnx");
    std::fs::write(&lossy, accel_modelgen::to_bytes(&b.finish().unwrap())).unwrap();
    let (_, fine, _) = setup("lost-fine");
    for s in 0..2 {
        accel_runtime::npy::write_npy_file(&dir.join(format!("cal{s}.npy")), &random_tensor(&[1, 8, 64, 64], 40 + s))
            .unwrap();
    }
    let cal = dir.join("cal*.npy");
    let fine_cal = fine.parent().unwrap().join("cal");
    let cases = [
        (&lossy, vec!["--precision", "int8", "--calibrate", cal.to_str().unwrap()], true),
        (&lossy, vec!["--precision", "int8", "--calibrate", cal.to_str().unwrap(), "--no-output-check"], false),
        (&lossy, vec!["--precision", "bf16"], false),
        // auto keeps every slice of an output above the check's threshold, not only the whole output.
        (&lossy, vec!["--precision", "auto", "--calibrate", cal.to_str().unwrap()], false),
        (&fine, vec!["--precision", "int8", "--calibrate", fine_cal.to_str().unwrap()], false),
    ];
    for (model, extra, warns) in cases {
        let mut args = vec![model.to_str().unwrap(), "-o", "/dev/null"];
        args.extend(extra.iter().copied());
        let out = run("accelc", &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {err}");
        let warned =
            err.contains("warning: int8 keeps 0.0 dB SQNR of output `scores` slice") && err.contains("of axis 1");
        assert_eq!(warned, warns, "{args:?}: {err}");
        assert_eq!(err.contains("warning:"), warns, "{args:?}: {err}");
    }
}
