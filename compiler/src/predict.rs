//! The compiler's performance prediction: the per-command cost function summed along the schedule. Layers run
//! one after another; inside a layer the units of all tiles run concurrently, and all DMA shares the one DRAM
//! channel, so a layer takes the longer of its busiest unit and its DRAM time.
use accel_ops::command::{Command, Unit};
use accel_ops::cost::{command_cost, mac_rate};
use accel_ops::program::Program;
use accel_ops::DType;
use serde::Serialize;
use std::collections::BTreeMap;

/// One layer's predicted cost.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LayerPrediction {
    pub layer: String,
    pub placement: &'static str,
    pub macs: u64,
    pub cycles: u64,
    /// MACs over what the layer's cycles allow at peak on all tiles (0..1).
    pub mac_utilization: f64,
    pub dram_read: u64,
    pub dram_written: u64,
    pub energy_uj: f64,
}

/// The whole model's predicted cost.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Prediction {
    pub latency_ms: f64,
    pub frames_per_s: f64,
    pub cycles: u64,
    pub macs: u64,
    pub mac_utilization: f64,
    pub dram_bytes: u64,
    pub energy_mj: f64,
    /// Host kernels are estimated from the target's host description (marked as an estimate in reports).
    pub host_ms_estimate: f64,
    pub layers: Vec<LayerPrediction>,
}

pub fn predict(p: &Program) -> Prediction {
    let t = &p.meta.target;
    let mut layers: Vec<LayerPrediction> =
        p.debug.layers.iter().map(|l| LayerPrediction { layer: l.clone(), placement: "tile", ..Default::default() }).collect();
    // Busy cycles per (layer, queue), DMA cycles per layer, and MAC-array cycles at peak rate per layer.
    let mut busy: BTreeMap<(u32, usize), u64> = BTreeMap::new();
    let mut dma: BTreeMap<u32, u64> = BTreeMap::new();
    let mut at_peak = vec![0f64; layers.len()];
    let mut host_cycles = 0u64;
    for (qi, q) in p.queues.iter().enumerate() {
        for (ci, cmd) in q.commands.iter().enumerate() {
            let Some(&l) = p.debug.command_layer.get(qi).and_then(|v| v.get(ci)) else { continue };
            let Some(row) = layers.get_mut(l as usize) else { continue };
            if matches!(cmd, Command::Signal { .. } | Command::Wait { .. }) {
                continue;
            }
            let mut c = command_cost(cmd, t);
            if let Command::HostCall { kernel } = cmd {
                row.placement = "host";
                c.cycles = p.kernels.get(*kernel as usize).map_or(0, |k| host_estimate_cycles(k, t));
                host_cycles += c.cycles;
            }
            row.macs += c.macs;
            row.dram_read += c.dram_read;
            row.dram_written += c.dram_written;
            row.energy_uj += c.energy_pj * 1e-6;
            *busy.entry((l, qi)).or_default() += c.cycles;
            if matches!(q.id.unit, Unit::DmaIn | Unit::DmaOut) {
                *dma.entry(l).or_default() += c.cycles;
            }
            let dtype = match cmd {
                Command::Conv { dtype, .. } | Command::MatMul { dtype, .. } => *dtype,
                _ => DType::F32,
            };
            at_peak[l as usize] += c.macs as f64 / mac_rate(t, dtype) as f64;
        }
    }
    for ((l, _), b) in &busy {
        let row = &mut layers[*l as usize];
        row.cycles = row.cycles.max(*b);
    }
    for (l, d) in &dma {
        let row = &mut layers[*l as usize];
        row.cycles = row.cycles.max(*d);
    }
    let tiles = t.tiles as f64;
    for (row, peak) in layers.iter_mut().zip(&at_peak) {
        row.mac_utilization = if row.cycles > 0 { peak / (row.cycles as f64 * tiles) } else { 0.0 };
    }
    let cycles: u64 = layers.iter().map(|l| l.cycles).sum();
    let latency_ms = t.cycles_to_ms(cycles);
    Prediction {
        latency_ms,
        frames_per_s: if latency_ms > 0.0 { 1000.0 / latency_ms } else { 0.0 },
        cycles,
        macs: layers.iter().map(|l| l.macs).sum(),
        mac_utilization: if cycles > 0 { at_peak.iter().sum::<f64>() / (cycles as f64 * tiles) } else { 0.0 },
        dram_bytes: layers.iter().map(|l| l.dram_read + l.dram_written).sum(),
        energy_mj: layers.iter().map(|l| l.energy_uj).sum::<f64>() * 1e-3,
        host_ms_estimate: t.cycles_to_ms(host_cycles),
        layers,
    }
}

/// Host kernel time estimate in device cycles: transfer over the host link plus arithmetic at the host's rate.
pub fn host_estimate_cycles(k: &accel_ops::program::HostKernel, t: &accel_ops::target::Target) -> u64 {
    let bytes: u64 = k.inputs.iter().chain([&k.output]).map(|d| (d.ty.shape.numel() * d.ty.dtype.size()) as u64).sum();
    let seconds = bytes as f64 / (t.host.link_gb_per_s * 1e9) + k.output.ty.shape.numel() as f64 / (t.host.gflops * 1e9);
    (seconds * t.clock_ghz * 1e9).ceil() as u64
}

/// A fixed-width text table of the prediction.
pub fn table(p: &Prediction) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "{:<48} {:<5} {:>12} {:>12} {:>6} {:>12} {:>12} {:>10}", "layer", "where", "MACs", "cycles", "util", "DRAM read", "DRAM write", "energy uJ");
    for l in &p.layers {
        let util = l.mac_utilization;
        let name: String = if l.layer.chars().count() > 48 { format!("...{}", &l.layer[l.layer.len().saturating_sub(45)..]) } else { l.layer.clone() };
        let _ = writeln!(s, "{:<48} {:<5} {:>12} {:>12} {:>5.1}% {:>12} {:>12} {:>10.1}", name, l.placement, l.macs, l.cycles, util * 100.0, l.dram_read, l.dram_written, l.energy_uj);
    }
    let _ = writeln!(
        s,
        "total: {:.3} ms ({} cycles), {:.1} frames/s, {} MACs, MAC utilization {:.1}%, DRAM {} bytes, {:.3} mJ/frame, host {:.3} ms (estimate)",
        p.latency_ms, p.cycles, p.frames_per_s, p.macs, p.mac_utilization * 100.0, p.dram_bytes, p.energy_mj, p.host_ms_estimate
    );
    s
}
