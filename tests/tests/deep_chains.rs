//! A fused chain of two or more layers may keep up to three quarters of a tile's SRAM for its weights
//! (`lower::emit::chain_resident_cap`). Darknet's residual block in f32 (1x1 256->128, 3x3 128->256, the shortcut
//! add after the activation) holds 1.3 MB of weights, more than half of a tile's 2 MiB on `x1`: with the old
//! half-SRAM cap the 3x3 ran alone (weight-stationary) and its output went through DRAM to the add. Now the 3x3
//! and the add are one chain (as in YOLOv3, whose 3x3 > add > next 1x1 chains took 149.4 -> 142.0 ms at 608),
//! and the result is still tract's.
use accel_modelgen::{Conv, Dim, GraphBuilder};
use accel_ops::target::Target;
use accel_runtime::Session;
use accel_tests::harness::{assert_close, compile, random_tensor, tract_run};

#[test]
fn darknet_block_with_weights_over_half_of_sram_runs_as_one_chain() {
    let dims = [1, 256, 48, 24];
    let mut b = GraphBuilder::new(41);
    let x = b.input("input", &[Dim::Fixed(1), 256.into(), 48.into(), 24.into()]);
    let y = b.scoped("conv1", |b| b.conv_with(&x, Conv::new(128, 1).bias(true)));
    let y = b.leaky_relu(&y, 0.1);
    let y = b.scoped("conv2", |b| b.conv_with(&y, Conv::new(256, 3).pad(1).bias(true)));
    let y = b.leaky_relu(&y, 0.1);
    let s = b.add(&y, &x);
    b.output(&s, "output");
    let onnx = accel_modelgen::to_bytes(&b.finish().expect("the model builds"));
    let target = Target::x1();
    let weights: u64 = 4 * (256 * 128 + 128 * 256 * 9);
    let per_tile = target.tile.sram_bytes;
    assert!(weights > per_tile / 2, "the block's {weights} weight bytes must exceed half of {per_tile}");
    let c = compile(&onnx, &target, &[]);
    let mut s = Session::load(&c.blob).expect("loads");
    let input = random_tensor(&dims, 3);
    let run = s.run(&[("input".to_string(), input.clone())]).expect("runs");
    let want = tract_run(&onnx, &[input]);
    assert_close("block", run.outputs[0].1.as_f32().expect("f32"), &want[0], 1e-4, 1e-4);
    // The 3x3 convolution and the add are one chain: the 3x3's output never reaches DRAM. Written are at most
    // the 1x1's output (half an activation, when the 1x1 runs apart) and the block's output.
    let activation = 4 * dims.iter().product::<usize>() as u64;
    let written: u64 = run.report.layers.iter().map(|l| l.dram_written_bytes).sum();
    assert!(written <= activation * 3 / 2, "{written} bytes written for a {activation}-byte output");
    let chained = run.report.layers.iter().any(|l| l.name.contains("conv2") && l.name.contains(" > /Add"));
    assert!(
        chained,
        "the 3x3 and the add share a chain: {:?}",
        run.report.layers.iter().map(|l| &l.name).collect::<Vec<_>>()
    );
}

/// Reports measure against the model's MACs (`DebugInfo::layer_macs`), not the commands': a chain of two 3x3
/// convolutions recomputes the first one's halo rows per stripe, which must not raise the roofline or the
/// utilization.
#[test]
fn reports_count_the_models_macs_not_the_recomputed_halos() {
    let (c_in, c_mid, c_out, h, w) = (16usize, 32usize, 32usize, 64usize, 64usize);
    let mut b = GraphBuilder::new(43);
    let x = b.input("input", &[Dim::Fixed(1), c_in.into(), h.into(), w.into()]);
    let y = b.scoped("conv1", |b| b.conv_with(&x, Conv::new(c_mid, 3).pad(1).bias(true)));
    let y = b.relu(&y);
    let y = b.scoped("conv2", |b| b.conv_with(&y, Conv::new(c_out, 3).pad(1).bias(true)));
    b.output(&y, "output");
    let onnx = accel_modelgen::to_bytes(&b.finish().expect("the model builds"));
    let target = Target::x1();
    let c = compile(&onnx, &target, &[]);
    let r = Session::load(&c.blob).expect("loads").run_timing_only().expect("runs").0;
    let model = (h * w * 9 * (c_in * c_mid + c_mid * c_out)) as u64;
    assert_eq!(r.macs, model, "the model's MACs");
    assert!(r.executed_macs > model, "the chain recomputes halo rows: {} executed", r.executed_macs);
    let peak_per_ms = (target.tiles as u64 * target.tile.fp32_macs_per_cycle as u64) as f64 * target.clock_ghz * 1e6;
    let want = model as f64 / peak_per_ms;
    assert!((r.roofline_compute_ms - want).abs() <= 1e-9 * want, "{} ms against {want} ms", r.roofline_compute_ms);
    let util = model as f64 / peak_per_ms / r.latency_ms;
    assert!((r.mac_utilization - util).abs() <= 1e-9, "{} against {util}", r.mac_utilization);
}
