//! The run report: totals (latency, throughput, MACs and MAC utilization, DRAM traffic, energy, host time) and a
//! per-layer breakdown from the blob's debug map, built from a simulator trace; a text summary, a per-layer
//! table and JSON. It only summarizes: every number comes from `accel_ops::cost` or the simulator's trace.
use crate::sim::Trace;
use accel_ops::command::{Command, Unit};
use accel_ops::cost::{command_cost, mac_rate};
use accel_ops::program::Program;
use serde::Serialize;
use std::fmt::Write;

/// Totals of one run. JSON keys are the field names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub target: String,
    pub clock_ghz: f64,
    pub tiles: u32,
    pub latency_cycles: u64,
    pub latency_ms: f64,
    /// `1000 / latency_ms` (0 for an empty program).
    pub frames_per_s: f64,
    pub macs: u64,
    /// `sum(macs / rate(dtype)) / (latency_cycles * tiles)`: the fraction of the MAC arrays' peak in use.
    pub mac_utilization: f64,
    /// DRAM bytes moved by DMA, read plus written.
    pub dram_bytes: u64,
    pub dram_read_bytes: u64,
    pub dram_written_bytes: u64,
    /// Sum of the commands' energy (`accel_ops::cost`), in millijoules.
    pub energy_mj: f64,
    /// Measured wall time of host kernels (not part of the cycle count).
    pub host_ms: f64,
    /// Estimated host cycles (part of the cycle count).
    pub host_cycles: u64,
    pub host_calls: u64,
    /// Cycles DMA commands waited for the shared DRAM channel.
    pub channel_stall_cycles: u64,
    /// Cycles queues sat blocked in `sync.wait`.
    pub sync_wait_cycles: u64,
    pub commands: u64,
    pub layers: Vec<LayerReport>,
}

/// One layer (ONNX node or fused group) of the debug map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerReport {
    pub name: String,
    /// `tile`, `host` or `tile+host`: where the layer's non-sync commands ran.
    pub placement: String,
    /// Unit kinds used (`dma-in`, `mac`, `vector`, `dma-out`, `host`).
    pub units: Vec<String>,
    pub commands: u64,
    pub start_cycle: u64,
    pub end_cycle: u64,
    pub macs: u64,
    /// Sum of the layer's command durations, over all its units.
    pub busy_cycles: u64,
    pub dram_read_bytes: u64,
    pub dram_written_bytes: u64,
    pub energy_mj: f64,
    /// DRAM channel contention suffered by the layer's DMA commands.
    pub stall_cycles: u64,
    /// Cycles the layer's waits were blocked.
    pub wait_cycles: u64,
    pub host_cycles: u64,
    pub host_ms: f64,
}

/// Name of the layer holding commands that the debug map does not attribute.
pub const UNATTRIBUTED: &str = "(unattributed)";

#[derive(Default)]
struct Acc {
    commands: u64,
    start: Option<u64>,
    end: u64,
    macs: u64,
    busy: u64,
    read: u64,
    written: u64,
    energy_pj: f64,
    stall: u64,
    wait: u64,
    host_cycles: u64,
    host_ns: u64,
    units: [bool; 5],
}

impl RunReport {
    /// Summarizes a trace of `program`.
    pub fn build(program: &Program, trace: &Trace) -> RunReport {
        let target = &program.meta.target;
        let layers = &program.debug.layers;
        let mut acc: Vec<Acc> = (0..=layers.len()).map(|_| Acc::default()).collect();
        let mut peak_cycles = 0f64;
        for r in &trace.records {
            let Some(queue) = program.queues.get(r.queue as usize) else { continue };
            let Some(cmd) = queue.commands.get(r.index as usize) else { continue };
            let layer = program
                .debug
                .command_layer
                .get(r.queue as usize)
                .and_then(|l| l.get(r.index as usize))
                .map(|&l| l as usize)
                .filter(|&l| l < layers.len())
                .unwrap_or(layers.len());
            let Some(a) = acc.get_mut(layer) else { continue };
            let cost = command_cost(cmd, target);
            if let Command::Conv { dtype, .. } | Command::MatMul { dtype, .. } = cmd {
                peak_cycles += cost.macs as f64 / mac_rate(target, *dtype).max(1) as f64;
            }
            a.commands += 1;
            a.start = Some(a.start.map_or(r.start, |s| s.min(r.start)));
            a.end = a.end.max(r.end);
            a.macs += cost.macs;
            a.busy += r.end - r.start;
            a.read += cost.dram_read;
            a.written += cost.dram_written;
            a.energy_pj += cost.energy_pj;
            a.stall += r.channel_stall;
            a.wait += r.sync_wait;
            a.host_cycles += r.host_cycles;
            a.host_ns += r.host_wall_ns;
            if !matches!(cmd, Command::Signal { .. } | Command::Wait { .. }) {
                if let Some(u) = Unit::ALL.iter().position(|&u| u == queue.id.unit).and_then(|i| a.units.get_mut(i)) {
                    *u = true;
                }
            }
        }
        let latency_cycles = trace.latency_cycles();
        let latency_ms = target.cycles_to_ms(latency_cycles);
        let sum = |f: fn(&Acc) -> u64| acc.iter().map(f).sum::<u64>();
        let (read, written) = (sum(|a| a.read), sum(|a| a.written));
        let denom = latency_cycles as f64 * target.tiles as f64;
        let layer_reports = acc
            .iter()
            .enumerate()
            .filter(|(_, a)| a.commands > 0)
            .map(|(i, a)| layer_report(layers.get(i).map_or(UNATTRIBUTED, |s| s.as_str()), a))
            .collect();
        RunReport {
            target: program.meta.target_name.clone(),
            clock_ghz: target.clock_ghz,
            tiles: target.tiles,
            latency_cycles,
            latency_ms,
            frames_per_s: if latency_ms > 0.0 { 1000.0 / latency_ms } else { 0.0 },
            macs: sum(|a| a.macs),
            mac_utilization: if denom > 0.0 { peak_cycles / denom } else { 0.0 },
            dram_bytes: read + written,
            dram_read_bytes: read,
            dram_written_bytes: written,
            energy_mj: acc.iter().map(|a| a.energy_pj).sum::<f64>() * 1e-9,
            host_ms: sum(|a| a.host_ns) as f64 * 1e-6,
            host_cycles: sum(|a| a.host_cycles),
            host_calls: trace.records.iter().filter(|r| is_host_call(program, r.queue, r.index)).count() as u64,
            channel_stall_cycles: sum(|a| a.stall),
            sync_wait_cycles: sum(|a| a.wait),
            commands: trace.records.len() as u64,
            layers: layer_reports,
        }
    }

    /// A few lines for humans: latency, throughput, MACs, DRAM, energy, host.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "latency     {} cycles = {} ms at {} GHz ({:.1} frames/s)",
            self.latency_cycles,
            four_digits(self.latency_ms),
            self.clock_ghz,
            self.frames_per_s
        );
        let _ = writeln!(
            s,
            "MACs        {} ({:.1}% utilization of {} tiles)",
            si(self.macs as f64),
            100.0 * self.mac_utilization,
            self.tiles
        );
        let _ = writeln!(
            s,
            "DRAM        {}B read, {}B written; {} cycles of channel contention",
            si(self.dram_read_bytes as f64),
            si(self.dram_written_bytes as f64),
            self.channel_stall_cycles
        );
        let _ = writeln!(s, "energy      {:.4} mJ", self.energy_mj);
        if self.host_calls > 0 {
            let _ = writeln!(
                s,
                "host        {} calls: {} cycles estimated, {:.3} ms measured",
                self.host_calls, self.host_cycles, self.host_ms
            );
        }
        s
    }

    /// One row per layer, widths fixed so the table lines up.
    pub fn layer_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<40} {:<9} {:>10} {:>12} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "layer", "where", "MACs", "busy cyc", "DRAM rd", "DRAM wr", "energy uJ", "stall cyc", "wait cyc"
        );
        for l in &self.layers {
            let _ = writeln!(
                s,
                "{:<40} {:<9} {:>10} {:>12} {:>10} {:>10} {:>10.2} {:>10} {:>10}",
                shorten(&l.name, 40),
                l.placement,
                si(l.macs as f64),
                l.busy_cycles,
                si(l.dram_read_bytes as f64),
                si(l.dram_written_bytes as f64),
                l.energy_mj * 1e3,
                l.stall_cycles,
                l.wait_cycles
            );
        }
        s
    }

    /// Pretty JSON of the whole report.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

fn is_host_call(p: &Program, q: u32, i: u32) -> bool {
    matches!(p.queues.get(q as usize).and_then(|q| q.commands.get(i as usize)), Some(Command::HostCall { .. }))
}

fn layer_report(name: &str, a: &Acc) -> LayerReport {
    let units: Vec<String> =
        Unit::ALL.iter().zip(a.units).filter(|(_, used)| *used).map(|(u, _)| u.name().to_string()).collect();
    let host = a.units.get(4).copied().unwrap_or(false);
    let tile = a.units.iter().take(4).any(|&u| u);
    let placement = match (tile, host) {
        (true, true) => "tile+host",
        (false, true) => "host",
        (true, false) => "tile",
        (false, false) => "-",
    };
    LayerReport {
        name: name.to_string(),
        placement: placement.into(),
        units,
        commands: a.commands,
        start_cycle: a.start.unwrap_or(0),
        end_cycle: a.end,
        macs: a.macs,
        busy_cycles: a.busy,
        dram_read_bytes: a.read,
        dram_written_bytes: a.written,
        energy_mj: a.energy_pj * 1e-9,
        stall_cycles: a.stall,
        wait_cycles: a.wait,
        host_cycles: a.host_cycles,
        host_ms: a.host_ns as f64 * 1e-6,
    }
}

/// At least four significant digits, and at least three decimals: `12.345`, `0.0005792`.
fn four_digits(v: f64) -> String {
    let decimals = if v > 0.0 && v < 1.0 { (3.0 - v.log10().floor()).clamp(3.0, 12.0) as usize } else { 3 };
    format!("{v:.decimals$}")
}

/// `1234567` -> `1.23M`.
fn si(v: f64) -> String {
    for (scale, suffix) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")] {
        if v >= scale {
            return format!("{:.2}{suffix}", v / scale);
        }
    }
    format!("{v:.0}")
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let tail: String = s.chars().rev().take(max - 3).collect::<Vec<_>>().into_iter().rev().collect();
    format!("...{tail}")
}
