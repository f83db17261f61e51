//! `--objective throughput`: consecutive frames pipelined over stages of layers, each stage on its own group of
//! tiles. The pipelined blob computes what the latency blob computes, carries its stages, verifies (the
//! runtime's verifier proves every wait satisfiable, so the cross-stage synchronization cannot deadlock), runs
//! unrolled over several frames to the same outputs, and lets frames overlap: its measured steady-state period
//! is shorter than one frame's latency.
use accel_compiler::driver::{compile_bytes, CompileOptions, Compiled, Objective};
use accel_ops::command::Unit;
use accel_ops::pipeline::unroll_frames;
use accel_runtime::stream::pipelined_period;
use accel_runtime::Session;
use accel_tests::harness::{random_tensor, run_blob};

fn compile(onnx: &[u8], objective: Objective) -> Compiled {
    let opts = CompileOptions { objective, ..Default::default() };
    compile_bytes(onnx, None, &opts).unwrap_or_else(|e| panic!("compile failed: {e}"))
}

#[test]
fn throughput_objective_pipelines_frames_over_tile_groups() {
    let onnx = accel_modelgen::to_bytes(&accel_modelgen::zoo::mobilenetv2(64, 64, 1).unwrap());
    let latency = compile(&onnx, Objective::Latency);
    let pipelined = compile(&onnx, Objective::Throughput);
    assert!(latency.program().meta.stages.is_empty());

    // Stages: at least two, contiguous, covering every layer, each on its own equal tile group.
    let p = pipelined.program();
    let stages = &p.meta.stages;
    assert!(stages.len() >= 2, "no pipeline chosen: {stages:?}");
    let tiles = p.meta.target.tiles as u16;
    let mut next_layer = 0;
    for (k, s) in stages.iter().enumerate() {
        assert_eq!(s.first_layer, next_layer, "stage {k} does not start where the one before ends");
        assert!(s.layers > 0 && s.tiles == tiles / stages.len() as u16 && s.first_tile == k as u16 * s.tiles);
        next_layer += s.layers;
    }
    assert_eq!(next_layer as usize, p.debug.layers.len());
    // Commands of a stage's layers run only on its tiles (the host queue aside).
    for q in p.queues.iter().filter(|q| q.id.unit != Unit::Host) {
        let layers = &p.debug.command_layer[p.queues.iter().position(|x| x.id == q.id).unwrap()];
        for &l in layers {
            let s = stages.iter().find(|s| s.has_layer(l as usize)).expect("every layer is in a stage");
            let own = s.first_tile..s.first_tile + s.tiles;
            assert!(own.contains(&q.id.tile), "layer {l} has commands on tile {} outside {own:?}", q.id.tile);
        }
    }

    // Same outputs as the latency schedule, bit for bit (fp32: each output's sum runs in the same order).
    let x = random_tensor(&[1, 3, 64, 64], 7);
    let inputs = vec![("input".to_string(), x)];
    let want = run_blob(&latency.blob, &inputs);
    let got = run_blob(&pipelined.blob, &inputs);
    assert_eq!(got, want);

    // Three frames back to back verify, run, and give every frame's outputs.
    let unrolled = unroll_frames(p, 3).expect("semaphore counts fit u32");
    let mut s = Session::from_program(unrolled).expect("the unrolled frames verify");
    let out = s.run(&inputs).expect("the unrolled frames run");
    assert_eq!(out.outputs, want);

    // Frames overlap: the steady-state period is shorter than a frame's latency.
    let one = Session::load(&pipelined.blob).unwrap().run_timing_only().unwrap().latency_cycles;
    let period = pipelined_period(p).unwrap().expect("a pipelined program has a period");
    assert!(period < one, "period {period} cycles, latency {one}");
    assert_eq!(pipelined_period(latency.program()).unwrap(), None);
}

#[test]
fn the_same_model_gives_the_same_pipelined_blob() {
    let onnx = accel_modelgen::to_bytes(&accel_modelgen::zoo::mobilenetv2(32, 32, 1).unwrap());
    assert_eq!(compile(&onnx, Objective::Throughput).blob, compile(&onnx, Objective::Throughput).blob);
}

/// A split into stages costs latency, so it must cut the frame period by `MIN_PIPELINE_GAIN` (2%) to be chosen:
/// ResNet-50@224 on `x1` splits into two stages for 0.1% more frames/s at a 49% longer frame otherwise.
#[test]
fn throughput_objective_keeps_the_latency_schedule_for_a_marginal_gain() {
    let onnx = accel_modelgen::to_bytes(&accel_modelgen::zoo::resnet50(224, 224, 1).unwrap());
    let pipelined = compile(&onnx, Objective::Throughput);
    assert!(pipelined.program().meta.stages.is_empty(), "stages: {:?}", pipelined.program().meta.stages);
}
