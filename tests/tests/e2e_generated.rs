//! End to end on generated models: ONNX from the model generator -> accelc's driver -> blob -> simulator, with
//! outputs compared against tract running the same ONNX bytes (f32: |a-b| <= 1e-4 + 1e-3|b|).
use accel_ops::command::Command;
use accel_ops::target::Target;
use accel_tests::harness::{assert_close, compile, random_tensor, run_blob, tract_run, ATOL, RTOL};

/// Compiles, runs and compares; returns the number of `dma.multicast` commands of the blob.
fn check(name: &str, onnx: &[u8], input: &str, dims: &[usize], target: &Target) -> usize {
    let compiled = compile(onnx, target, &[]);
    let multicasts = compiled.lowered.program.queues.iter().flat_map(|q| &q.commands);
    let multicasts = multicasts.filter(|c| matches!(c, Command::Multicast { .. })).count();
    let x = random_tensor(dims, 42);
    let got = run_blob(&compiled.blob, &[(input.to_string(), x.clone())]);
    let want = tract_run(onnx, &[x]);
    assert_eq!(got.len(), want.len(), "{name}: output count");
    for ((out_name, g), w) in got.iter().zip(&want) {
        assert_close(&format!("{name}/{out_name}"), &g.to_f32_vec(), w, ATOL, RTOL);
    }
    multicasts
}

#[test]
fn resnet50_at_224_matches_tract() {
    let m = accel_modelgen::zoo::resnet50(224, 224, 1).unwrap();
    let multicasts = check("resnet50@224", &accel_modelgen::to_bytes(&m), "input", &[1, 3, 224, 224], &Target::x1());
    // Its deep layers split output channels over the tiles, which share each input stripe by multicast.
    assert!(multicasts >= 100, "{multicasts} multicasts");
}

#[test]
fn mobilenetv2_at_224_matches_tract() {
    let m = accel_modelgen::zoo::mobilenetv2(224, 224, 2).unwrap();
    check("mobilenetv2@224", &accel_modelgen::to_bytes(&m), "input", &[1, 3, 224, 224], &Target::x1());
}

#[test]
fn tiny_cnn_matches_tract_on_both_presets() {
    let m = accel_modelgen::zoo::tiny_cnn(40, 56, 3).unwrap();
    let bytes = accel_modelgen::to_bytes(&m);
    for t in ["x1", "x16"] {
        check(&format!("tiny-cnn@{t}"), &bytes, "input", &[1, 3, 40, 56], &Target::preset(t).unwrap());
    }
}

#[test]
fn yolov3_at_96_matches_tract() {
    let m = accel_modelgen::zoo::yolov3(96, 96, 4).unwrap();
    check("yolov3@96", &accel_modelgen::to_bytes(&m), "images", &[1, 3, 96, 96], &Target::x1());
}

/// Depth-first fused chains (layers joined by ` > ` in the debug map) compute what unfused layers compute.
#[test]
fn fused_chains_match_unfused_layers() {
    use accel_compiler::driver::{compile_bytes, CompileOptions};
    let onnx = accel_modelgen::to_bytes(&accel_modelgen::zoo::yolov3(64, 64, 8).unwrap());
    let x = random_tensor(&[1, 3, 64, 64], 3);
    let mut outs = Vec::new();
    for no_fusion in [false, true] {
        let opts = CompileOptions { no_fusion, ..Default::default() };
        let c = compile_bytes(&onnx, None, &opts).unwrap();
        let chains = c.program().debug.layers.iter().filter(|l| l.contains(" > ")).count();
        assert_eq!(chains > 0, !no_fusion, "fused chains: {chains}");
        outs.push(run_blob(&c.blob, &[("images".to_string(), x.clone())]));
    }
    for ((_, a), (_, b)) in outs[0].iter().zip(&outs[1]) {
        assert_close("fused vs unfused", &a.to_f32_vec(), &b.to_f32_vec(), ATOL, RTOL);
    }
}

/// A pre-norm transformer block: LayerNorm recognized from its exported pieces (run as one host kernel), GELU,
/// attention, and the bias and residual adds fused into elementwise chains on the tiles.
#[test]
fn transformer_block_matches_tract() {
    let m = accel_modelgen::zoo::transformer_block(16, 64, 4, 5).unwrap();
    let onnx = accel_modelgen::to_bytes(&m);
    let compiled = compile(&onnx, &Target::x1(), &[]);
    let ops: Vec<&str> = compiled.optimized.nodes.iter().map(|n| n.op.kind()).collect();
    for want in ["layer-norm", "elementwise"] {
        assert!(ops.contains(&want), "no {want} in the optimized graph: {ops:?}");
    }
    check("transformer-block", &onnx, "input", &[1, 16, 64], &Target::x1());
}

/// A YOLOv8 C2f block: SiLU recognized and fused into the convolutions, the split and concatenation.
#[test]
fn c2f_block_matches_tract() {
    let m = accel_modelgen::zoo::c2f_block(20, 24, 16, 2, 6).unwrap();
    check("c2f-block", &accel_modelgen::to_bytes(&m), "input", &[1, 16, 20, 24], &Target::x1());
}
