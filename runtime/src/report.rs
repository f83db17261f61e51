//! The run report: `accel_ops::report::Report` (the shape the compiler's prediction shares) filled from a
//! simulator trace: each layer's span and share of the latency, stalls by cause, host time estimated and
//! measured. It only summarizes: every number comes from `accel_ops::cost` or the simulator's trace.
use crate::sim::Trace;
use accel_ops::program::Program;
use accel_ops::report::{command_layer, cycles_from_spans, static_rows, Report, Source};
use serde::Serialize;

pub use accel_ops::report::{LayerRow as LayerReport, Stalls, UNATTRIBUTED};

/// A simulated `Report`. Derefs to it: `report.latency_ms`, `report.layer_table()`, ...
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct RunReport(pub Report);

impl std::ops::Deref for RunReport {
    type Target = Report;
    fn deref(&self) -> &Report {
        &self.0
    }
}

impl RunReport {
    /// Summarizes a trace of `program`.
    pub fn build(program: &Program, trace: &Trace) -> RunReport {
        let mut rows = static_rows(program);
        let mut started = vec![false; rows.len()];
        let mut host_ns = vec![0u64; rows.len()];
        for r in &trace.records {
            let l = command_layer(program, r.queue as usize, r.index as usize);
            let (Some(row), Some(seen)) = (rows.get_mut(l), started.get_mut(l)) else { continue };
            // A wait's blocked time is not the layer's: the layer starts when its first command is unblocked.
            let begin = r.start + r.stalls.unit + r.stalls.tile + r.stalls.host;
            row.start_cycle = if *seen { row.start_cycle.min(begin) } else { begin };
            *seen = true;
            row.end_cycle = row.end_cycle.max(r.end);
            row.stall_cycles.add(&r.stalls);
            if let Some(ns) = host_ns.get_mut(l) {
                *ns += r.host_wall_ns;
            }
        }
        // Timing-only runs do not run host kernels: nothing measured.
        for (row, ns) in rows.iter_mut().zip(&host_ns) {
            if row.host_cycles > 0 && *ns > 0 {
                row.host_ms_measured = Some(*ns as f64 * 1e-6);
            }
        }
        cycles_from_spans(&mut rows);
        RunReport(Report::finish(program, Source::Simulated, rows, trace.latency_cycles()))
    }

    /// Pretty JSON of the whole report.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.0).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
