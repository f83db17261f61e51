//! A simulator trace as Chrome trace-event JSON (loads in Perfetto and chrome://tracing): one process per tile
//! with one track per unit (DMA-in, MAC, vector, DMA-out), one for the host, and one "memory system" process with
//! a track for the DRAM channel and one per interconnect link. Commands are complete events (`"ph": "X"`) named
//! by their ONNX node (the blob's debug map), with the mnemonic, bytes and MACs as args. Times are microseconds
//! of simulated time. `sync.signal` and waits that did not block are left out: they are one cycle each.
use crate::sim::{Resource, Trace};
use accel_ops::command::{Command, Unit};
use accel_ops::cost::ProgramCosts;
use accel_ops::noc::Noc;
use accel_ops::program::Program;
use accel_ops::report::{command_layer, UNATTRIBUTED};
use serde::Serialize;
use std::io::Write;

/// One trace event: `X` (a complete slice) or `M` (a process or thread name).
#[derive(Debug, Serialize)]
struct Event<'a> {
    name: &'a str,
    ph: &'static str,
    pid: u32,
    tid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cat: Option<&'static str>,
    args: Args<'a>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Args<'a> {
    Name { name: String },
    Sort { sort_index: u32 },
    Command { mnemonic: &'static str, bytes: u64, macs: u64, cycles: u64, stall_cycles: u64, queue: String },
    Hold { mnemonic: &'static str, bytes: u64, tile: u16, queue: &'a str },
}

/// The process and track of each thing that runs: tiles are processes `1..=tiles`, the host `tiles + 1`, the
/// memory system `tiles + 2`.
struct Tracks {
    tiles: u32,
}

impl Tracks {
    fn unit(&self, tile: u16, unit: Unit) -> (u32, u32) {
        match unit {
            Unit::Host => (self.tiles + 1, 1),
            u => (tile as u32 + 1, u.code() as u32 + 1),
        }
    }
    fn memory(&self) -> u32 {
        self.tiles + 2
    }
}

/// Writes the trace of one run of `program` as trace-event JSON.
pub fn write_chrome_trace(program: &Program, trace: &Trace, out: &mut dyn Write) -> std::io::Result<()> {
    let t = &program.meta.target;
    let us = |cycles: u64| cycles as f64 / (t.clock_ghz * 1e3);
    let tracks = Tracks { tiles: t.tiles };
    let noc = Noc::new(t);
    let costs = ProgramCosts::new(program);
    let layer_name = |l: usize| program.debug.layers.get(l).map_or(UNATTRIBUTED, |s| s.as_str());
    let queue_names: Vec<String> = program.queues.iter().map(|q| q.id.to_string()).collect();
    let mut events: Vec<Event> = Vec::new();
    let meta = |name: &'static str, pid: u32, tid: u32, args: Args<'static>| Event {
        name,
        ph: "M",
        pid,
        tid,
        ts: None,
        dur: None,
        cat: None,
        args,
    };
    // Names and order of the processes and tracks that appear.
    let mut tiles_used: Vec<u16> =
        program.queues.iter().filter(|q| q.id.unit != Unit::Host).map(|q| q.id.tile).collect();
    tiles_used.sort_unstable();
    tiles_used.dedup();
    for &tile in &tiles_used {
        let pid = tile as u32 + 1;
        events.push(meta("process_name", pid, 0, Args::Name { name: format!("tile {tile}") }));
        events.push(meta("process_sort_index", pid, 0, Args::Sort { sort_index: pid }));
    }
    for q in &program.queues {
        let (pid, tid) = tracks.unit(q.id.tile, q.id.unit);
        if q.id.unit == Unit::Host {
            events.push(meta("process_name", pid, 0, Args::Name { name: "host".into() }));
        }
        events.push(meta("thread_name", pid, tid, Args::Name { name: q.id.unit.name().into() }));
        events.push(meta("thread_sort_index", pid, tid, Args::Sort { sort_index: tid }));
    }
    let mem = tracks.memory();
    events.push(meta("process_name", mem, 0, Args::Name { name: "memory system".into() }));
    events.push(meta("thread_name", mem, 1, Args::Name { name: "DRAM channel".into() }));
    for (i, link) in noc.links().iter().enumerate() {
        let tid = i as u32 + 2;
        events.push(meta("thread_name", mem, tid, Args::Name { name: format!("link {}", link.name()) }));
        events.push(meta("thread_sort_index", mem, tid, Args::Sort { sort_index: tid }));
    }
    for r in &trace.records {
        let Some(q) = program.queues.get(r.queue as usize) else { continue };
        let Some(cmd) = q.commands.get(r.index as usize) else { continue };
        let blocked = r.stalls.total();
        if matches!(cmd, Command::Signal { .. }) || (matches!(cmd, Command::Wait { .. }) && blocked == 0) {
            continue;
        }
        let c = costs.of(q.id.tile, cmd);
        let (pid, tid) = tracks.unit(q.id.tile, q.id.unit);
        let name = layer_name(command_layer(program, r.queue as usize, r.index as usize));
        events.push(Event {
            name,
            ph: "X",
            pid,
            tid,
            ts: Some(us(r.start)),
            dur: Some(us(r.end - r.start)),
            cat: Some(q.id.unit.name()),
            args: Args::Command {
                mnemonic: cmd.mnemonic(),
                bytes: c.dram_read + c.dram_written,
                macs: c.macs,
                cycles: r.end - r.start,
                stall_cycles: blocked,
                queue: queue_names.get(r.queue as usize).cloned().unwrap_or_default(),
            },
        });
    }
    for u in &trace.resources {
        let Some(r) = trace.records.get(u.record as usize) else { continue };
        let Some(q) = program.queues.get(r.queue as usize) else { continue };
        let Some(cmd) = q.commands.get(r.index as usize) else { continue };
        let tid = match u.resource {
            Resource::DramChannel => 1,
            Resource::Link(l) => l.0 + 2,
        };
        let bytes = match cmd {
            Command::Load { copy, .. } | Command::Store { copy, .. } | Command::Multicast { copy, .. } => {
                copy.bytes().unwrap_or(0)
            }
            _ => 0,
        };
        events.push(Event {
            name: layer_name(command_layer(program, r.queue as usize, r.index as usize)),
            ph: "X",
            pid: mem,
            tid,
            ts: Some(us(u.start)),
            dur: Some(us(u.end - u.start)),
            cat: Some(if tid == 1 { "dram" } else { "link" }),
            args: Args::Hold {
                mnemonic: cmd.mnemonic(),
                bytes,
                tile: q.id.tile,
                queue: queue_names.get(r.queue as usize).map_or("", |s| s.as_str()),
            },
        });
    }
    // Per track in time order (the records are in processing order, which interleaves tracks).
    events.sort_by(|a, b| {
        (a.ph != "M", a.pid, a.tid, a.ts.unwrap_or(0.0))
            .partial_cmp(&(b.ph != "M", b.pid, b.tid, b.ts.unwrap_or(0.0)))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let doc = serde_json::json!({
        "displayTimeUnit": "ns",
        "otherData": {
            "target": program.meta.target_name,
            "clock_ghz": t.clock_ghz,
            "latency_cycles": trace.latency_cycles(),
            "time_unit": "microseconds of simulated time",
        },
    });
    // Stream the (possibly large) event list instead of building one JSON value.
    out.write_all(b"{\"traceEvents\":[\n")?;
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut *out, e)?;
    }
    out.write_all(b"\n],")?;
    let rest = doc.to_string();
    out.write_all(rest.trim_start_matches('{').as_bytes())?;
    out.write_all(b"\n")
}

/// The trace as a string (small programs and tests).
pub fn chrome_trace(program: &Program, trace: &Trace) -> String {
    let mut buf = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_chrome_trace(program, trace, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
