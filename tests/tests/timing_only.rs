//! The timing model never looks at data: `Session::run_timing_only` (and `accelrt run --timing-only`) reports
//! exactly the cycles of a full functional run, command by command, and one session runs many inputs, timing
//! only or not, with the same outputs as fresh sessions.
use accel_ops::target::Target;
use accel_runtime::Session;
use accel_tests::harness::{compile, random_tensor};

fn check(name: &str, onnx: &[u8], input: &str, dims: &[usize]) {
    let compiled = compile(onnx, &Target::x1(), &[]);
    let mut session = Session::load(&compiled.blob).unwrap_or_else(|e| panic!("{name}: load: {e}"));
    let first = vec![(input.to_string(), random_tensor(dims, 1))];
    let second = vec![(input.to_string(), random_tensor(dims, 2))];

    let full = session.run(&first).unwrap_or_else(|e| panic!("{name}: run: {e}"));
    let full_trace = session.last_trace().expect("trace").clone();
    let timing = session.run_timing_only().unwrap_or_else(|e| panic!("{name}: timing only: {e}"));
    let timing_trace = session.last_trace().expect("trace").clone();
    assert_eq!(full_trace.latency_cycles(), timing_trace.latency_cycles(), "{name}: latency");
    assert_eq!(full.report.latency_cycles, timing.latency_cycles, "{name}: reported latency");
    assert_eq!(full_trace.records.len(), timing_trace.records.len(), "{name}: command count");
    for (a, b) in full_trace.records.iter().zip(&timing_trace.records) {
        let key = |r: &accel_runtime::sim::CommandRecord| (r.queue, r.index, r.start, r.end, r.host_cycles);
        assert_eq!(key(a), key(b), "{name}: a command's timing differs");
    }
    assert_eq!(full_trace.queue_end, timing_trace.queue_end, "{name}: queue ends");

    // The same session again, after a timing-only run, on other inputs: the outputs of a fresh session.
    let reused = session.run(&second).unwrap_or_else(|e| panic!("{name}: second run: {e}"));
    let mut fresh = Session::load(&compiled.blob).unwrap_or_else(|e| panic!("{name}: load: {e}"));
    let want = fresh.run(&second).unwrap_or_else(|e| panic!("{name}: fresh run: {e}"));
    for ((n, a), (_, b)) in reused.outputs.iter().zip(&want.outputs) {
        assert_eq!(a.to_f32_vec(), b.to_f32_vec(), "{name}/{n}: reused session differs from a fresh one");
    }
    assert_eq!(reused.report.latency_cycles, full.report.latency_cycles, "{name}: latency of the second run");
}

#[test]
fn timing_only_reports_the_cycles_of_a_full_run() {
    let tiny = accel_modelgen::to_bytes(&accel_modelgen::zoo::tiny_cnn(40, 56, 3).expect("model"));
    check("tiny-cnn", &tiny, "input", &[1, 3, 40, 56]);
    let yolo = accel_modelgen::to_bytes(&accel_modelgen::zoo::yolov3(96, 96, 4).expect("model"));
    check("yolov3@96", &yolo, "images", &[1, 3, 96, 96]);
}
