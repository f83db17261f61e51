//! The compiler's predicted latency against the simulator's deterministic cycles on the generated ResNet-50@224,
//! MobileNetV2@224 and YOLOv3@416, and on small blocks on both presets (`x1`: a ring, `x16`: a mesh), with the
//! timing-only simulation (the cycles never depend on the data): within 10% per model. The two reports share
//! every static column (MACs, DRAM bytes, energy) exactly: one cost function.
use accel_compiler::predict::predict;
use accel_ops::target::Target;
use accel_runtime::Session;
use accel_tests::harness::compile;

fn check(name: &str, onnx: &[u8]) {
    check_on(name, onnx, &Target::x1());
}

fn check_on(name: &str, onnx: &[u8], target: &Target) {
    let compiled = compile(onnx, target, &[]);
    let predicted = predict(compiled.program());
    let mut session = Session::load(&compiled.blob).unwrap();
    let simulated = session.run_timing_only().unwrap();
    let (p, s) = (predicted.latency_cycles as f64, simulated.latency_cycles as f64);
    let err = (p - s) / s;
    eprintln!(
        "{name}: predicted {:.3} ms, simulated {:.3} ms ({:+.1}%)",
        predicted.latency_ms,
        simulated.latency_ms,
        100.0 * err
    );
    assert!(err.abs() <= 0.10, "{name}: predicted {p} cycles, simulated {s} ({:+.1}%)", 100.0 * err);
    assert_eq!(predicted.layers.len(), simulated.layers.len());
    for (a, b) in predicted.layers.iter().zip(&simulated.layers) {
        assert_eq!(
            (&a.name, a.macs, a.dram_read_bytes, a.dram_written_bytes),
            (&b.name, b.macs, b.dram_read_bytes, b.dram_written_bytes)
        );
        assert_eq!((a.sram_peak_bytes, &a.precision, &a.placement), (b.sram_peak_bytes, &b.precision, &b.placement));
        assert!((a.energy_mj - b.energy_mj).abs() <= 1e-12 * b.energy_mj.max(1.0), "{}", a.name);
    }
    assert_eq!(predicted.roofline_ms, simulated.roofline_ms);
    assert!(simulated.latency_ms >= simulated.roofline_ms && predicted.latency_ms >= predicted.roofline_ms);
}

#[test]
fn resnet50_at_224() {
    let m = accel_modelgen::zoo::resnet50(224, 224, 1).unwrap();
    check("resnet50@224", &accel_modelgen::to_bytes(&m));
}

#[test]
fn mobilenetv2_at_224() {
    let m = accel_modelgen::zoo::mobilenetv2(224, 224, 2).unwrap();
    check("mobilenetv2@224", &accel_modelgen::to_bytes(&m));
}

#[test]
fn yolov3_at_416() {
    let m = accel_modelgen::zoo::yolov3(416, 416, 4).unwrap();
    check("yolov3@416", &accel_modelgen::to_bytes(&m));
}

#[test]
fn small_blocks_on_both_presets() {
    use accel_modelgen::zoo::{build, Arch, ZooOptions};
    for arch in [Arch::TinyCnn, Arch::ResidualBlock, Arch::InvertedResidual, Arch::C2fBlock, Arch::TransformerBlock] {
        let (h, w) = arch.default_size();
        let onnx = accel_modelgen::to_bytes(&build(arch, h, w, 3, &ZooOptions::default()).unwrap());
        for t in ["x1", "x16"] {
            check_on(&format!("{arch}@{t}"), &onnx, &Target::preset(t).unwrap());
        }
    }
}
