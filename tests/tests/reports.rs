//! `accelc --report` (the compiler's prediction) and `accelrt run --profile` (the simulation) print the same
//! per-layer table columns, and both write JSON reports with the same top-level keys.
use std::path::PathBuf;
use std::process::{Command, Output};

fn bin(name: &str) -> PathBuf {
    // Integration tests live in target/<profile>/deps; the workspace's binaries in target/<profile>.
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join(name)
}

fn run(name: &str, args: &[&str]) -> Output {
    let out = Command::new(bin(name)).args(args).output().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    assert!(out.status.success(), "{name} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn table_header(stdout: &str) -> String {
    stdout.lines().find(|l| l.starts_with("layer ")).unwrap_or_else(|| panic!("no table in {stdout}")).to_string()
}

#[test]
fn prediction_and_simulation_print_the_same_table_and_json_keys() {
    let dir = std::env::temp_dir().join(format!("accel-reports-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("tiny.onnx");
    std::fs::write(&model, accel_modelgen::to_bytes(&accel_modelgen::zoo::tiny_cnn(32, 32, 5).unwrap())).unwrap();
    let (blob, pred, sim) = (dir.join("tiny.bin"), dir.join("pred.json"), dir.join("sim.json"));
    let p = |x: &PathBuf| x.to_str().unwrap().to_string();
    let c = run("accelc", &[&p(&model), "-o", &p(&blob), "--report", "--report-json", &p(&pred)]);
    let r = run("accelrt", &["run", &p(&blob), "--random-inputs", "1", "--profile", "--report-json", &p(&sim)]);
    let (c, r) = (String::from_utf8_lossy(&c.stdout).into_owned(), String::from_utf8_lossy(&r.stdout).into_owned());
    assert_eq!(table_header(&c), table_header(&r));
    for col in ["layer", "where", "prec", "MACs", "cycles", "util", "SRAM pk", "DRAM rd", "DRAM wr", "energy uJ"] {
        assert!(table_header(&c).contains(col), "{col}");
    }
    assert!(c.contains("predicted") && r.contains("simulated"));
    // The compiler also lists each fused chain's tile (rows x columns), which the simulation cannot know.
    assert!(c.lines().any(|l| l.starts_with("chain tile ") && l.contains(" x ")), "no chain tiles in {c}");
    let json =
        |f: &PathBuf| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap() };
    let (a, b) = (json(&pred), json(&sim));
    let keys = [
        "latency_ms",
        "frames_per_s",
        "roofline_ms",
        "mac_utilization",
        "dram_bytes",
        "energy_mj",
        "host_ms",
        "layers",
    ];
    for key in keys {
        assert!(a.get(key).is_some() && b.get(key).is_some(), "{key}");
    }
    let names = |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(names(&a), names(&b), "the two reports have one shape");
    assert_eq!(names(&a["layers"][0]), names(&b["layers"][0]));
    assert_eq!((a["source"].as_str(), b["source"].as_str()), (Some("predicted"), Some("simulated")));
    let u = b["mac_utilization"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&u));
    let _ = std::fs::remove_dir_all(&dir);
}
