//! `accelrt run`'s performance outputs: the per-layer profile (`--profile`), the JSON report (`--report-json`),
//! the Chrome trace (`--trace`), the streaming simulation (`--frames`, `--fps`) and the progress bar of long
//! simulations. Everything is computed by the library (`report`, `trace`, `stream`); this only wires flags.
use accel_runtime::progress::Bar;
use accel_runtime::sim::Progress;
use accel_runtime::stream::{self, StreamOptions, DEFAULT_MAX_WAITING};
use accel_runtime::trace::write_chrome_trace;
use accel_runtime::{RunReport, Session};
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Args)]
pub struct PerfArgs {
    /// Print the per-layer table: where each layer ran, precision, MACs, cycles, MAC utilization, SRAM peak,
    /// DRAM traffic, energy (the columns of `accelc --report`).
    #[arg(long)]
    pub profile: bool,
    /// Write the full report as JSON (with a `stream` object when --frames or --fps is given).
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Write a Chrome/Perfetto trace (trace-event JSON): a track per tile unit, the DRAM channel, each
    /// interconnect link and the host.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Simulate a stream of N frames (batch 1; at most 2 frames wait, later arrivals are dropped).
    #[arg(long, value_name = "N")]
    pub frames: Option<u64>,
    /// The stream's frame rate (frames per second; default: the model's own rate, 1 / latency).
    #[arg(long, value_name = "F")]
    pub fps: Option<f64>,
}

/// Executed commands of the current simulation, read by the progress bar.
static EXECUTED: AtomicU64 = AtomicU64::new(0);

/// Runs `f` (one simulation of `session`) with a progress bar over the program's commands.
pub fn simulate<T>(session: &mut Session, f: impl FnOnce(&mut Session) -> T) -> T {
    let total: u64 = session.program().queues.iter().map(|q| q.commands.len() as u64).sum();
    EXECUTED.store(0, Ordering::Relaxed);
    session.set_progress(Some(Progress(&EXECUTED)));
    let bar = Bar::start("simulating", Some(total), Some(&EXECUTED));
    let out = f(session);
    drop(bar);
    out
}

/// A pipelined program's frame period and frames/s, measured on several frames back to back
/// (`stream::pipelined_period`) instead of estimated from one frame's stage spans.
pub fn measure_period(session: &Session, r: &mut RunReport) -> Result<()> {
    if let Some(period) = stream::pipelined_period(session.program()).context("measuring the pipeline period")? {
        r.0.set_measured_period(period);
    }
    Ok(())
}

/// Prints and writes what the flags ask for, after a run whose report is `r`.
pub fn finish(args: &PerfArgs, session: &Session, r: &RunReport) -> Result<()> {
    if args.profile {
        println!();
        print!("{}", r.layer_table());
    }
    let stream = match (args.frames, args.fps) {
        (None, None) => None,
        (frames, fps) => {
            // A pipelined program's frames overlap: its period, measured by `measure_period` before this.
            let period = r.frame_period_cycles.filter(|_| !session.program().meta.stages.is_empty());
            let own_fps = r.frames_per_s;
            let o = StreamOptions {
                frames: frames.unwrap_or(100),
                fps: fps.unwrap_or(own_fps),
                max_waiting: DEFAULT_MAX_WAITING,
            };
            let s = stream::simulate_pipelined(r.latency_cycles, period, r.clock_ghz, r.energy_mj, &o)?;
            println!();
            print!("{}", s.summary());
            Some(s)
        }
    };
    if let Some(path) = &args.report_json {
        let mut json = serde_json::to_value(r)?;
        if let (Some(s), Some(obj)) = (&stream, json.as_object_mut()) {
            obj.insert("stream".into(), serde_json::to_value(s)?);
        }
        let text = serde_json::to_string_pretty(&json)?;
        std::fs::write(path, text).with_context(|| format!("cannot write report {}", path.display()))?;
    }
    if let Some(path) = &args.trace {
        let trace = session.last_trace().context("no trace recorded")?;
        let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        write_chrome_trace(session.program(), trace, &mut w)
            .and_then(|()| std::io::Write::flush(&mut w))
            .with_context(|| format!("cannot write trace {}", path.display()))?;
        println!("trace       {} (open in ui.perfetto.dev or chrome://tracing)", path.display());
    }
    Ok(())
}
