//! Weight-stationary layers whose weights need several chunks per tile (`compiler/src/lower/emit/stationary.rs`)
//! alternate between two resident slots, so a chunk's weights load while the chunk before computes: the layer
//! stays near its roofline instead of stalling every tile at each chunk switch (this layer, YOLOv3's 3x3 at
//! 19x19: 1.40x its roofline with one slot, 1.11x with two), and the result is still tract's.
use accel_modelgen::{Conv, Dim, GraphBuilder};
use accel_ops::command::Command;
use accel_ops::target::Target;
use accel_runtime::Session;
use accel_tests::harness::{assert_close, compile, random_tensor, tract_run};
use std::collections::BTreeSet;

#[test]
fn chunks_alternate_slots_and_hide_their_weight_loads() {
    let dims = [1, 512, 19, 19];
    let mut b = GraphBuilder::new(5);
    let x = b.input("input", &[Dim::Fixed(1), 512.into(), 19.into(), 19.into()]);
    let y = b.scoped("conv", |b| b.conv_with(&x, Conv::new(1024, 3).pad(1).bias(true)));
    b.output(&y, "output");
    let onnx = accel_modelgen::to_bytes(&b.finish().expect("the model builds"));
    let c = compile(&onnx, &Target::x1(), &[]);
    let p = c.program();
    // Per tile: the distinct weight addresses its convolutions read.
    for q in p.queues.iter().filter(|q| q.commands.iter().any(|c| matches!(c, Command::Conv { .. }))) {
        let slots: BTreeSet<u32> = q
            .commands
            .iter()
            .filter_map(|c| if let Command::Conv { weights, .. } = c { Some(weights.0) } else { None })
            .collect();
        assert_eq!(slots.len(), 2, "tile {}: two resident slots, got {slots:?}", q.id.tile);
    }
    let mut s = Session::load(&c.blob).expect("loads");
    let input = random_tensor(&dims, 9);
    let run = s.run(&[("input".to_string(), input.clone())]).expect("runs");
    let want = tract_run(&onnx, &[input]);
    assert_close("conv", run.outputs[0].1.as_f32().expect("f32"), &want[0], 1e-4, 1e-4);
    let r = &run.report;
    eprintln!(
        "latency {:.3} ms, roofline {:.3} ms ({:.2}x)",
        r.latency_ms,
        r.roofline_ms,
        r.latency_ms / r.roofline_ms
    );
    assert!(
        r.latency_ms <= 1.2 * r.roofline_ms,
        "{:.3} ms against a roofline of {:.3} ms",
        r.latency_ms,
        r.roofline_ms
    );
}
