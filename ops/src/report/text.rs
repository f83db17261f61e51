//! The text forms of a `Report`: the per-layer table and the totals, identical for a prediction and a
//! simulation (only the title line says which).
use super::{Report, Source};
use std::fmt::Write;

impl Report {
    /// One row per layer, fixed widths: layer, where, precision, MACs, cycles, MAC utilization, SRAM peak, DRAM
    /// read and written, energy.
    pub fn layer_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<44} {:<9} {:<5} {:>9} {:>11} {:>6} {:>9} {:>9} {:>9} {:>10}",
            "layer", "where", "prec", "MACs", "cycles", "util", "SRAM pk", "DRAM rd", "DRAM wr", "energy uJ"
        );
        for l in &self.layers {
            let _ = writeln!(
                s,
                "{:<44} {:<9} {:<5} {:>9} {:>11} {:>5.1}% {:>9} {:>9} {:>9} {:>10.2}",
                shorten(&l.name, 44),
                l.placement,
                l.precision,
                si(l.macs as f64),
                l.cycles,
                100.0 * l.mac_utilization,
                si(l.sram_peak_bytes as f64),
                si(l.dram_read_bytes as f64),
                si(l.dram_written_bytes as f64),
                l.energy_mj * 1e3
            );
        }
        s
    }

    /// The totals, a few lines for humans.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let what = match self.source {
            Source::Predicted => "predicted",
            Source::Simulated => "simulated",
        };
        let _ = writeln!(
            s,
            "latency     {} cycles = {} ms at {} GHz ({:.1} frames/s, {what}); roofline {} ms ({}-bound)",
            self.latency_cycles,
            four_digits(self.latency_ms),
            self.clock_ghz,
            self.frames_per_s,
            four_digits(self.roofline_ms),
            if self.roofline_compute_ms >= self.roofline_dram_ms { "compute" } else { "DRAM" }
        );
        if let Some(period) = self.frame_period_cycles {
            let stages: Vec<String> = self.stage_ms.iter().map(|&ms| four_digits(ms)).collect();
            let _ = writeln!(
                s,
                "pipeline    {} stages of {} ms: a frame every {} cycles = {:.1} frames/s, latency {} ms",
                self.stage_ms.len(),
                stages.join(" / "),
                period,
                self.frames_per_s,
                four_digits(self.latency_ms)
            );
        }
        let executed = if self.executed_macs > self.macs {
            format!(", {} executed", si(self.executed_macs as f64))
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "MACs        {}{executed} ({:.1}% utilization of {} tiles): {:.3} TOPS achieved of {:.3} peak",
            si(self.macs as f64),
            100.0 * self.mac_utilization,
            self.tiles,
            self.achieved_tops,
            self.peak_tops
        );
        let _ = writeln!(
            s,
            "DRAM        {}B read, {}B written ({}B unavoidable); NoC {}B x links",
            si(self.dram_read_bytes as f64),
            si(self.dram_written_bytes as f64),
            si(self.unavoidable_dram_bytes as f64),
            si(self.noc_bytes as f64)
        );
        let e = &self.energy_split_mj;
        let pct = |v: f64| if self.energy_mj > 0.0 { 100.0 * v / self.energy_mj } else { 0.0 };
        let _ = writeln!(
            s,
            "energy      {} mJ/frame: DRAM {:.0}%, MAC {:.0}%, vector {:.0}%, SRAM {:.0}%, NoC {:.0}%; {:.2} W at {:.1} frames/s",
            four_digits(self.energy_mj),
            pct(e.dram),
            pct(e.mac),
            pct(e.vector),
            pct(e.sram),
            pct(e.noc),
            self.power_w,
            self.frames_per_s
        );
        let st = &self.stall_cycles;
        if st.total() > 0 {
            let _ = writeln!(
                s,
                "stalls      {} cycles summed over units: DRAM channel {}, links {}, same-tile sync {}, other tiles {}, host {}",
                st.total(),
                st.dram,
                st.link,
                st.unit,
                st.tile,
                st.host
            );
        }
        if self.host_calls > 0 {
            let measured =
                self.host_ms_measured.map_or(String::new(), |m| format!(", {m:.3} ms measured (not in the latency)"));
            let _ = writeln!(
                s,
                "host        {} calls: {} ms estimated (in the latency){measured}",
                self.host_calls,
                four_digits(self.host_ms)
            );
        }
        s
    }
}

/// At least four significant digits, and at least three decimals: `12.345`, `0.0005792`.
pub fn four_digits(v: f64) -> String {
    // -0.0 (an empty model's roofline) prints as 0.
    let v = if v == 0.0 { 0.0 } else { v };
    let decimals = if v > 0.0 && v < 1.0 { (3.0 - v.log10().floor()).clamp(3.0, 12.0) as usize } else { 3 };
    format!("{v:.decimals$}")
}

/// `1234567` -> `1.23M`.
pub fn si(v: f64) -> String {
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

#[cfg(test)]
mod tests {
    use super::four_digits;

    #[test]
    fn four_digits_keeps_small_values_readable_and_zero_unsigned() {
        assert_eq!(four_digits(-0.0), "0.000");
        assert_eq!(four_digits(0.0), "0.000");
        assert_eq!(four_digits(12.5), "12.500");
        assert_eq!(four_digits(0.0012345), "0.001234");
    }
}
