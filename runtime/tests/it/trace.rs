//! The Chrome trace of a run: valid JSON in the trace-event format, every required key, one named track per
//! tile unit, the DRAM channel, each link used and the host; events on a track in time order and never
//! overlapping; slices named by the debug map's ONNX nodes with their mnemonic, bytes and MACs.
use crate::common::*;
use accel_ops::command::Unit;
use accel_runtime::trace::chrome_trace;
use accel_runtime::Session;
use serde_json::Value;
use std::collections::BTreeMap;

#[test]
fn a_trace_is_valid_trace_event_json() {
    // Tile 0 runs load -> conv -> store; tile 1 (one ring hop away) loads too, so a link is used.
    let mut p = conv_program(3, 4, 8, 8, None, 2).program;
    p.queues.push(queue(1, Unit::DmaIn, vec![load(0, 0, 256)]));
    p.debug.layers = vec!["/stem/conv/Conv".into(), "/side/load".into()];
    p.debug.command_layer =
        p.queues.iter().map(|q| vec![if q.id.tile == 0 { 0 } else { 1 }; q.commands.len()]).collect();
    let mut s = Session::from_program(p.clone()).unwrap();
    let x = accel_runtime::random::random_inputs(&s.meta().inputs, 1).unwrap();
    let latency = s.run(&x).unwrap().report.latency_cycles;
    let text = chrome_trace(&p, s.last_trace().unwrap());
    let doc: Value = serde_json::from_str(&text).expect("the trace is valid JSON");
    let events = doc["traceEvents"].as_array().expect("traceEvents is an array");
    // Track names from the metadata events.
    let mut names: BTreeMap<(u64, u64), String> = BTreeMap::new();
    for e in events.iter().filter(|e| e["ph"] == "M" && e["name"] == "thread_name") {
        names.insert(
            (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap()),
            e["args"]["name"].as_str().unwrap().into(),
        );
    }
    let mut last_end: BTreeMap<(u64, u64), f64> = BTreeMap::new();
    let mut tracks_used: BTreeMap<String, usize> = BTreeMap::new();
    let mut max_end = 0f64;
    for e in events.iter().filter(|e| e["ph"] == "X") {
        for key in ["name", "ph", "ts", "dur", "pid", "tid", "args"] {
            assert!(e.get(key).is_some(), "event lacks `{key}`: {e}");
        }
        let name = e["name"].as_str().unwrap();
        assert!(p.debug.layers.iter().any(|l| l == name), "slice `{name}` is not a debug-map node");
        for key in ["mnemonic", "bytes"] {
            assert!(e["args"].get(key).is_some(), "args lack `{key}`: {e}");
        }
        let track = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
        let track_name = names.get(&track).unwrap_or_else(|| panic!("event on an unnamed track: {e}"));
        *tracks_used.entry(track_name.clone()).or_default() += 1;
        let (ts, dur) = (e["ts"].as_f64().unwrap(), e["dur"].as_f64().unwrap());
        assert!(dur > 0.0);
        let prev = last_end.insert(track, ts + dur).unwrap_or(0.0);
        assert!(ts + 1e-9 >= prev, "events on track {track_name} overlap or go back in time: {e}");
        max_end = max_end.max(ts + dur);
        if e["args"]["mnemonic"] == "mac.conv" {
            assert_eq!(e["args"]["macs"].as_u64().unwrap(), 4 * 3 * 9 * 64);
        }
    }
    for track in ["dma-in", "mac", "dma-out", "DRAM channel", "link r0->r1"] {
        assert!(tracks_used.contains_key(track), "no events on track `{track}`: {tracks_used:?}");
    }
    // Microseconds of simulated time: the last event ends at the latency.
    let want = latency as f64 / (p.meta.target.clock_ghz * 1e3);
    assert!((max_end - want).abs() < 1e-6, "{max_end} vs {want}");
    assert_eq!(doc["otherData"]["latency_cycles"].as_u64(), Some(latency));
}
