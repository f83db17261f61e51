//! The performance report shared by the compiler's prediction (`accelc --report`) and the simulator's profile
//! (`accelrt run --profile`): one row type, one JSON shape and one table printer, so the two cannot drift.
//! The static facts of each layer (MACs, precision, SRAM peak, DRAM traffic, energy) come from `crate::cost` on
//! the program, identically for both; only the cycles (and the stalls, for a simulation) differ by source.
mod text;

use crate::command::{Command, Space, Unit};
use crate::cost::{mac_rate, Energy, ProgramCosts};
use crate::program::Program;
use crate::DType;
use serde::Serialize;

/// Name of the row holding commands that the debug map does not attribute.
pub const UNATTRIBUTED: &str = "(unattributed)";

/// Where a report's cycles come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The compiler's cost model summed along its schedule.
    Predicted,
    /// The simulator's event-driven timing.
    Simulated,
}

/// Cycles units spent blocked, by cause. In a simulation, every cycle of every queue is either a command's
/// own cost or one of these, so per queue they add up to its finishing time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stalls {
    /// A DMA waiting for the shared DRAM channel.
    pub dram: u64,
    /// A DMA waiting for an interconnect link on its route.
    pub link: u64,
    /// A `sync.wait` satisfied by another unit of the same tile (the double-buffering pipeline).
    pub unit: u64,
    /// A `sync.wait` satisfied by another tile (layer barriers).
    pub tile: u64,
    /// A `sync.wait` satisfied by the host.
    pub host: u64,
}

impl Stalls {
    pub fn total(&self) -> u64 {
        self.dram + self.link + self.unit + self.tile + self.host
    }

    pub fn add(&mut self, o: &Stalls) {
        self.dram += o.dram;
        self.link += o.link;
        self.unit += o.unit;
        self.tile += o.tile;
        self.host += o.host;
    }
}

/// One layer (an ONNX node, or fused nodes) of a report. JSON keys are the field names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerRow {
    /// ONNX node names (fused ones joined).
    pub name: String,
    /// `tile`, `host` or `tile+host`: where the layer's non-sync commands ran.
    pub placement: String,
    /// Dtypes of the layer's MAC commands (`f32`, `bf16`, `i8`, joined with `+` when mixed); the vector unit
    /// and the host compute in `f32`.
    pub precision: String,
    /// Unit kinds used (`dma-in`, `mac`, `vector`, `dma-out`, `host`).
    pub units: Vec<String>,
    pub commands: u64,
    /// The model's MACs of the layer (`DebugInfo::layer_macs`; the commands' when the blob does not say).
    pub macs: u64,
    /// The MACs the layer's commands compute: `macs` plus recomputed halo rows and the tiles' padding.
    pub executed_macs: u64,
    pub start_cycle: u64,
    pub end_cycle: u64,
    /// The layer's share of the latency: the cycles from the end of the layer before to its own end.
    pub cycles: u64,
    /// MACs over what `cycles` allow at peak on all tiles (0..1).
    pub mac_utilization: f64,
    /// Cycles the layer's model MACs take at the peak rate of their dtype on one tile (summed over tiles).
    pub ideal_mac_cycles: f64,
    /// The most SRAM bytes the layer's commands touch on one tile (union of their footprints).
    pub sram_peak_bytes: u64,
    pub dram_read_bytes: u64,
    pub dram_written_bytes: u64,
    /// Bytes times interconnect links crossed.
    pub noc_bytes: u64,
    pub energy_mj: f64,
    pub energy_split_mj: Energy,
    /// Sum of the layer's command costs over all units (the work, without waits).
    pub busy_cycles: u64,
    pub stall_cycles: Stalls,
    /// Estimated host cycles (part of the latency).
    pub host_cycles: u64,
    /// Measured wall time of the layer's host kernels (simulation only; not part of the latency).
    pub host_ms_measured: Option<f64>,
}

/// A whole report: totals and the per-layer rows. JSON keys are the field names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub source: Source,
    pub target: String,
    pub clock_ghz: f64,
    pub tiles: u32,
    pub latency_cycles: u64,
    pub latency_ms: f64,
    /// `1000 / latency_ms` at batch 1 (0 for an empty program); for a pipelined program the steady state:
    /// one frame per `frame_period_cycles`.
    pub frames_per_s: f64,
    /// Pipelined programs: each stage's span within one frame, in milliseconds (empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stage_ms: Vec<f64>,
    /// Pipelined programs: cycles between frames in the steady state, the larger of the slowest stage, the
    /// DRAM channel's busy time per frame and the host's (the stages share both).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_period_cycles: Option<u64>,
    /// The larger of `roofline_compute_ms` and `roofline_dram_ms`: no schedule can beat it.
    pub roofline_ms: f64,
    /// The MACs at the peak rate of their dtypes on all tiles.
    pub roofline_compute_ms: f64,
    /// The unavoidable DRAM bytes (constants, inputs, outputs) at the DRAM bandwidth.
    pub roofline_dram_ms: f64,
    /// The model's MACs (the commands' for blobs that do not carry them, before format 5.2).
    pub macs: u64,
    /// The MACs the tiles compute, recomputed halo rows and padding included.
    pub executed_macs: u64,
    /// `sum(macs / rate(dtype)) / (latency_cycles * tiles)`: the fraction of the MAC arrays' peak in use.
    pub mac_utilization: f64,
    /// `2 * macs / latency`, in tera-operations per second.
    pub achieved_tops: f64,
    /// The peak of the tiles at the layers' dtypes, in tera-operations per second.
    pub peak_tops: f64,
    /// DRAM bytes moved (tile DMA and host kernels), read plus written.
    pub dram_bytes: u64,
    pub dram_read_bytes: u64,
    pub dram_written_bytes: u64,
    /// Constants (weights), inputs and outputs: what any schedule must move.
    pub unavoidable_dram_bytes: u64,
    pub noc_bytes: u64,
    /// Energy per frame, in millijoules, and where it goes.
    pub energy_mj: f64,
    pub energy_split_mj: Energy,
    /// Average power at `frames_per_s` (energy per frame times frames per second), in watts.
    pub power_w: f64,
    /// Host kernel time as estimated from the target's host description (part of the latency).
    pub host_ms: f64,
    pub host_cycles: u64,
    /// Always true: `host_ms` is an estimate, not a measurement.
    pub host_ms_is_estimate: bool,
    /// Measured wall time of the host kernels (simulation only; not part of the latency).
    pub host_ms_measured: Option<f64>,
    pub host_calls: u64,
    pub stall_cycles: Stalls,
    pub commands: u64,
    pub layers: Vec<LayerRow>,
}

/// The layer index of command `index` of queue `queue`: `layers.len()` (the unattributed row) when unmapped.
pub fn command_layer(p: &Program, queue: usize, index: usize) -> usize {
    let n = p.debug.layers.len();
    p.debug.command_layer.get(queue).and_then(|l| l.get(index)).map(|&l| l as usize).filter(|&l| l < n).unwrap_or(n)
}

/// One row per debug-map layer plus the unattributed row (in that order, empty rows included), with every
/// fact that does not depend on timing filled in. Sources fill `start_cycle`, `end_cycle`, `cycles`, the stalls
/// and measured host time, then call `Report::finish`.
pub fn static_rows(p: &Program) -> Vec<LayerRow> {
    let target = &p.meta.target;
    let costs = ProgramCosts::new(p);
    let n = p.debug.layers.len();
    let mut rows: Vec<LayerRow> =
        (0..=n).map(|i| empty_row(p.debug.layers.get(i).map_or(UNATTRIBUTED, |s| s.as_str()))).collect();
    let mut units = vec![[false; 5]; n + 1];
    let mut dtypes: Vec<Vec<DType>> = vec![Vec::new(); n + 1];
    // SRAM ranges per (layer, tile), merged at the end.
    let mut sram: Vec<std::collections::BTreeMap<u16, Vec<(u64, u64)>>> = vec![Default::default(); n + 1];
    let mut energy = vec![Energy::default(); n + 1];
    for (qi, q) in p.queues.iter().enumerate() {
        for (ci, cmd) in q.commands.iter().enumerate() {
            let l = command_layer(p, qi, ci);
            let (Some(row), Some(u)) = (rows.get_mut(l), units.get_mut(l)) else { continue };
            let c = costs.of(q.id.tile, cmd);
            row.commands += 1;
            row.executed_macs += c.macs;
            row.dram_read_bytes += c.dram_read;
            row.dram_written_bytes += c.dram_written;
            row.noc_bytes += c.noc_bytes;
            row.busy_cycles += c.cycles;
            if let Some(e) = energy.get_mut(l) {
                e.add(&c.energy);
            }
            let dtype = match cmd {
                Command::Conv { dtype, .. } | Command::MatMul { dtype, .. } => {
                    row.ideal_mac_cycles += c.macs as f64 / mac_rate(target, *dtype).max(1) as f64;
                    Some(*dtype)
                }
                Command::HostCall { kernel } => {
                    let k = p.kernels.get(*kernel as usize);
                    row.host_cycles += k.map_or(0, |k| crate::cost::host_estimate_cycles(k, target));
                    k.map(|k| k.output.ty.dtype)
                }
                Command::Unary { .. } | Command::Binary { .. } | Command::Affine { .. } | Command::Pool { .. } => {
                    Some(DType::F32)
                }
                _ => None,
            };
            if let (Some(d), Some(ds)) = (dtype, dtypes.get_mut(l)) {
                if !ds.contains(&d) {
                    ds.push(d);
                }
            }
            if !matches!(cmd, Command::Signal { .. } | Command::Wait { .. }) {
                if let Some(i) = Unit::ALL.iter().position(|&x| x == q.id.unit) {
                    u[i] = true;
                }
            }
            if q.id.unit != Unit::Host {
                if let (Ok(fp), Some(s)) = (cmd.footprint(), sram.get_mut(l)) {
                    let ranges = s.entry(q.id.tile).or_default();
                    ranges.extend(fp.iter().filter(|a| a.space == Space::Sram).map(|a| (a.start, a.end())));
                }
            }
        }
    }
    let model_macs = (p.debug.layer_macs.len() == n).then_some(&p.debug.layer_macs);
    for (l, row) in rows.iter_mut().enumerate() {
        // The ideal cycles count the model's work: the commands' at their dtypes' rates, scaled down by what
        // the schedule computes beyond it (exact for a layer of one dtype).
        row.macs = row.executed_macs;
        if let Some(&m) = model_macs.and_then(|v| v.get(l)) {
            if row.executed_macs > 0 {
                row.ideal_mac_cycles *= m as f64 / row.executed_macs as f64;
                row.macs = m;
            }
        }
        let used = units.get(l).copied().unwrap_or_default();
        row.units = Unit::ALL.iter().zip(used).filter(|(_, on)| *on).map(|(u, _)| u.name().to_string()).collect();
        let host = used[4];
        let tile = used.iter().take(4).any(|&on| on);
        row.placement = match (tile, host) {
            (true, true) => "tile+host",
            (false, true) => "host",
            (true, false) => "tile",
            (false, false) => "-",
        }
        .into();
        let mut ds = dtypes.get(l).cloned().unwrap_or_default();
        ds.sort();
        row.precision =
            if ds.is_empty() { "-".into() } else { ds.iter().map(|d| d.name()).collect::<Vec<_>>().join("+") };
        let e = energy.get(l).copied().unwrap_or_default();
        row.energy_split_mj = e.scaled(1e-9);
        row.energy_mj = e.total() * 1e-9;
        row.sram_peak_bytes = sram.get_mut(l).map_or(0, |m| m.values_mut().map(|r| union_len(r)).max().unwrap_or(0));
    }
    rows
}

fn empty_row(name: &str) -> LayerRow {
    LayerRow {
        name: name.to_string(),
        placement: "-".into(),
        precision: "-".into(),
        units: Vec::new(),
        commands: 0,
        macs: 0,
        executed_macs: 0,
        start_cycle: 0,
        end_cycle: 0,
        cycles: 0,
        mac_utilization: 0.0,
        ideal_mac_cycles: 0.0,
        sram_peak_bytes: 0,
        dram_read_bytes: 0,
        dram_written_bytes: 0,
        noc_bytes: 0,
        energy_mj: 0.0,
        energy_split_mj: Energy::default(),
        busy_cycles: 0,
        stall_cycles: Stalls::default(),
        host_cycles: 0,
        host_ms_measured: None,
    }
}

/// Bytes covered by a set of half-open ranges.
fn union_len(ranges: &mut [(u64, u64)]) -> u64 {
    ranges.sort_unstable();
    let (mut total, mut cur): (u64, Option<(u64, u64)>) = (0, None);
    for &(s, e) in ranges.iter() {
        cur = match cur {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    total + cur.map_or(0, |(s, e)| e - s)
}

/// Sets each row's `cycles` to its share of the latency: from the end of the rows before it (in order) to its
/// own end, so the shares add up to the last end. For sources that know each layer's span.
pub fn cycles_from_spans(rows: &mut [LayerRow]) {
    let mut prev_end = 0u64;
    for row in rows.iter_mut().filter(|r| r.commands > 0) {
        row.cycles = row.end_cycle.saturating_sub(prev_end);
        prev_end = prev_end.max(row.end_cycle);
    }
}

impl Report {
    /// Totals from the rows (empty rows are dropped) and the latency.
    pub fn finish(p: &Program, source: Source, rows: Vec<LayerRow>, latency_cycles: u64) -> Report {
        let t = &p.meta.target;
        let tiles = t.tiles.max(1) as f64;
        let layers_all = rows;
        let mut layers: Vec<LayerRow> = layers_all.iter().filter(|r| r.commands > 0).cloned().collect();
        for r in &mut layers {
            r.mac_utilization = ratio(r.ideal_mac_cycles, r.cycles as f64 * tiles);
        }
        let sum = |f: fn(&LayerRow) -> u64| layers.iter().map(f).fold(0u64, u64::saturating_add);
        let ideal: f64 = layers.iter().map(|r| r.ideal_mac_cycles).sum();
        let mut energy = Energy::default();
        let mut stalls = Stalls::default();
        for r in &layers {
            energy.add(&r.energy_split_mj);
            stalls.add(&r.stall_cycles);
        }
        let stage_cycles = stage_spans(p, &layers_all);
        let measured: Vec<f64> = layers.iter().filter_map(|r| r.host_ms_measured).collect();
        let io_bytes = |ios: &[crate::program::IoDesc]| -> u64 {
            ios.iter().map(|io| io.ty.checked_bytes().unwrap_or(0) as u64).sum()
        };
        let unavoidable = p.constants.len() as u64 + io_bytes(&p.meta.inputs) + io_bytes(&p.meta.outputs);
        let latency_ms = t.cycles_to_ms(latency_cycles);
        let dram_bytes = sum(|r| r.dram_read_bytes + r.dram_written_bytes);
        let frame_period_cycles = (!stage_cycles.is_empty()).then(|| {
            let dram = (dram_bytes as f64 / t.dram_bytes_per_cycle().max(1e-9)).ceil() as u64;
            stage_cycles.iter().copied().chain([dram, sum(|r| r.host_cycles)]).max().unwrap_or(0)
        });
        let period_ms = t.cycles_to_ms(frame_period_cycles.unwrap_or(latency_cycles));
        let frames_per_s = if period_ms > 0.0 { 1000.0 / period_ms } else { 0.0 };
        let macs = sum(|r| r.macs);
        let compute_cycles = ideal / tiles;
        let roofline_compute_ms = compute_cycles / (t.clock_ghz * 1e6);
        let roofline_dram_ms = unavoidable as f64 / (t.dram.bandwidth_gb_per_s * 1e6);
        let energy_mj = energy.total();
        let clock_hz = t.clock_ghz * 1e9;
        Report {
            source,
            target: p.meta.target_name.clone(),
            clock_ghz: t.clock_ghz,
            tiles: t.tiles,
            latency_cycles,
            latency_ms,
            frames_per_s,
            stage_ms: stage_cycles.iter().map(|&c| t.cycles_to_ms(c)).collect(),
            frame_period_cycles,
            roofline_ms: roofline_compute_ms.max(roofline_dram_ms),
            roofline_compute_ms,
            roofline_dram_ms,
            macs,
            executed_macs: sum(|r| r.executed_macs),
            mac_utilization: ratio(ideal, latency_cycles as f64 * tiles),
            achieved_tops: ratio(2.0 * macs as f64 * clock_hz, latency_cycles as f64) * 1e-12,
            peak_tops: if compute_cycles > 0.0 {
                2.0 * macs as f64 / compute_cycles * clock_hz * 1e-12
            } else {
                2.0 * mac_rate(t, DType::F32) as f64 * tiles * clock_hz * 1e-12
            },
            dram_bytes,
            dram_read_bytes: sum(|r| r.dram_read_bytes),
            dram_written_bytes: sum(|r| r.dram_written_bytes),
            unavoidable_dram_bytes: unavoidable,
            noc_bytes: sum(|r| r.noc_bytes),
            energy_mj,
            energy_split_mj: energy,
            power_w: energy_mj * 1e-3 * frames_per_s,
            host_ms: t.cycles_to_ms(sum(|r| r.host_cycles)),
            host_cycles: sum(|r| r.host_cycles),
            host_ms_is_estimate: true,
            host_ms_measured: if measured.is_empty() { None } else { Some(measured.iter().sum()) },
            host_calls: p
                .queues
                .iter()
                .flat_map(|q| &q.commands)
                .filter(|c| matches!(c, Command::HostCall { .. }))
                .count() as u64,
            stall_cycles: stalls,
            commands: sum(|r| r.commands),
            layers,
        }
    }

    /// Average power in watts at `fps` frames per second (capped at what the latency allows).
    pub fn power_at(&self, fps: f64) -> f64 {
        self.energy_mj * 1e-3 * fps.min(self.frames_per_s).max(0.0)
    }
}

impl Report {
    /// Replaces the pipelined frame period estimated from one frame's stage spans with `cycles` measured on
    /// several frames back to back (`accel_runtime::stream::pipelined_period`): stages of consecutive frames
    /// also wait on each other, which one frame's spans do not show. Frames/s follows.
    pub fn set_measured_period(&mut self, cycles: u64) {
        self.frame_period_cycles = Some(cycles);
        let ms = self.latency_ms * cycles as f64 / self.latency_cycles.max(1) as f64;
        self.frames_per_s = if ms > 0.0 { 1000.0 / ms } else { 0.0 };
    }
}

/// Per pipeline stage of `p`: from the first start to the last end of its layers' rows (indexed by layer).
fn stage_spans(p: &Program, rows: &[LayerRow]) -> Vec<u64> {
    p.meta
        .stages
        .iter()
        .map(|s| {
            let mine = rows.iter().enumerate().filter(|(l, r)| s.has_layer(*l) && r.commands > 0).map(|(_, r)| r);
            let (start, end) = mine.fold((u64::MAX, 0), |(a, b), r| (a.min(r.start_cycle), b.max(r.end_cycle)));
            end.saturating_sub(start)
        })
        .collect()
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_of_ranges_counts_overlaps_once() {
        assert_eq!(union_len(&mut [(0, 10), (5, 20), (30, 40), (40, 41)]), 31);
        assert_eq!(union_len(&mut []), 0);
    }
}
