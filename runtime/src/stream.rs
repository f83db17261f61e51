//! Streaming: a camera-like source offers frames at a fixed rate to a batch-1 accelerator. Frame `i` arrives
//! at `i / fps` seconds; it starts when it has arrived and the frame before it has finished (first come, first
//! served); it takes the simulated latency of one frame (identical for every frame: the timing never depends on
//! the data). At most `max_waiting` frames wait (arrived, not started) besides the one running: a frame that
//! arrives to a full queue is dropped. Pure arithmetic on integer cycles, so it is deterministic.
//!
//! A pipelined program (`--objective throughput`, `Meta::stages`) overlaps frames: a frame may start one
//! steady-state period after the one before, not only once it has finished. The period is measured, not
//! assumed: `pipelined_period` simulates the program unrolled over several frames (`accel_ops::pipeline`), so
//! the stages' sharing of the DRAM channel, the links and the host is in it.
use crate::{RuntimeError, Session};
use accel_ops::program::Program;
use serde::Serialize;
use thiserror::Error;

/// Frames allowed to wait besides the one running, unless told otherwise.
pub const DEFAULT_MAX_WAITING: usize = 2;
/// Most frames one stream may simulate: each keeps its latency (8 bytes) for the percentiles, so an absurd
/// `--frames` would exhaust memory instead of answering.
pub const MAX_FRAMES: u64 = 100_000_000;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum StreamError {
    #[error("--fps must be a finite number > 0, got {0}")]
    Fps(f64),
    #[error("--frames must be at least 1")]
    Frames,
    #[error("--frames {0} is over the limit of {MAX_FRAMES}")]
    TooManyFrames(u64),
}

/// What the stream is: how many frames, how often, how much queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamOptions {
    pub frames: u64,
    pub fps: f64,
    pub max_waiting: usize,
}

/// Latency percentiles (nearest rank) over the frames that were not dropped, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// The outcome of a stream. JSON keys are the field names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamReport {
    pub frames: u64,
    pub offered_fps: f64,
    pub max_waiting: usize,
    /// The simulated latency of one frame, alone.
    pub frame_ms: f64,
    pub completed: u64,
    pub dropped: u64,
    /// From the arrival of a frame to the end of its computation.
    pub latency_ms: Percentiles,
    /// Completed frames over the time from the first arrival to the last finish.
    pub achieved_fps: f64,
    /// Energy per frame times the achieved frame rate, in watts.
    pub average_power_w: f64,
    /// A pipelined program: the steady-state time between frame starts (frames overlap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_ms: Option<f64>,
}

/// Frames the unrolled simulation runs to measure a pipelined program's period.
const PERIOD_FRAMES: u32 = 4;

/// The steady-state cycles between frames of a pipelined program: a timing-only simulation of
/// `PERIOD_FRAMES` frames back to back, less one frame, over the frames after the first. `None` for a program
/// without stages (it runs one frame at a time).
pub fn pipelined_period(program: &Program) -> Result<Option<u64>, RuntimeError> {
    if program.meta.stages.is_empty() {
        return Ok(None);
    }
    let cycles = |frames: u32| -> Result<u64, RuntimeError> {
        let p = accel_ops::pipeline::unroll_frames(program, frames)
            .ok_or(RuntimeError::Stream("a semaphore count of the unrolled frames overflows u32".into()))?;
        Ok(Session::from_program(p)?.run_timing_only()?.latency_cycles)
    };
    let (one, many) = (cycles(1)?, cycles(PERIOD_FRAMES)?);
    Ok(Some(many.saturating_sub(one).div_ceil(u64::from(PERIOD_FRAMES - 1)).max(1)))
}

/// Simulates a stream of frames that each take `frame_cycles` at `clock_ghz` and `energy_mj`.
pub fn simulate(
    frame_cycles: u64,
    clock_ghz: f64,
    energy_mj: f64,
    o: &StreamOptions,
) -> Result<StreamReport, StreamError> {
    simulate_pipelined(frame_cycles, None, clock_ghz, energy_mj, o)
}

/// `simulate` for a program whose frames may start `period_cycles` apart (a pipelined program; `None`: one
/// frame at a time).
pub fn simulate_pipelined(
    frame_cycles: u64,
    period_cycles: Option<u64>,
    clock_ghz: f64,
    energy_mj: f64,
    o: &StreamOptions,
) -> Result<StreamReport, StreamError> {
    let period_cycles_or_frame = period_cycles.unwrap_or(frame_cycles);
    if !(o.fps.is_finite() && o.fps > 0.0) {
        return Err(StreamError::Fps(o.fps));
    }
    if o.frames == 0 {
        return Err(StreamError::Frames);
    }
    if o.frames > MAX_FRAMES {
        return Err(StreamError::TooManyFrames(o.frames));
    }
    let period = clock_ghz * 1e9 / o.fps;
    let arrival = |i: u64| (i as f64 * period).round() as u64;
    // Start times of accepted frames still to start or running, oldest first.
    let mut pending: std::collections::VecDeque<u64> = std::collections::VecDeque::new();
    let mut free_at = 0u64;
    let mut latencies: Vec<u64> = Vec::new();
    let mut dropped = 0u64;
    let mut last_finish = 0u64;
    for i in 0..o.frames {
        let a = arrival(i);
        while pending.front().is_some_and(|&s| s <= a) {
            pending.pop_front();
        }
        if pending.len() >= o.max_waiting {
            dropped += 1;
            continue;
        }
        let start = a.max(free_at);
        let finish = start.saturating_add(frame_cycles);
        if start > a {
            pending.push_back(start);
        }
        free_at = start.saturating_add(period_cycles_or_frame);
        last_finish = finish;
        latencies.push(finish - a);
    }
    let ms = |c: u64| c as f64 / (clock_ghz * 1e6);
    latencies.sort_unstable();
    let rank = |p: f64| -> f64 {
        let n = latencies.len();
        if n == 0 {
            return 0.0;
        }
        let k = ((p / 100.0 * n as f64).ceil() as usize).clamp(1, n);
        latencies.get(k - 1).map_or(0.0, |&c| ms(c))
    };
    let completed = latencies.len() as u64;
    // The stream lasts `frames` periods, or until the last frame finishes if the accelerator falls behind: an easy
    // rate then reads as exactly the offered rate, not more.
    let span_s = (ms(last_finish) * 1e-3).max(o.frames as f64 / o.fps);
    let achieved_fps = if span_s > 0.0 { completed as f64 / span_s } else { 0.0 };
    Ok(StreamReport {
        frames: o.frames,
        offered_fps: o.fps,
        max_waiting: o.max_waiting,
        frame_ms: ms(frame_cycles),
        completed,
        dropped,
        latency_ms: Percentiles { p50: rank(50.0), p90: rank(90.0), p99: rank(99.0), max: rank(100.0) },
        achieved_fps,
        average_power_w: energy_mj * 1e-3 * achieved_fps,
        period_ms: period_cycles.map(ms),
    })
}

impl StreamReport {
    /// A few lines for humans.
    pub fn summary(&self) -> String {
        let l = &self.latency_ms;
        format!(
            "stream      {} frames offered at {:.2} frames/s ({:.3} ms each alone, at most {} waiting): {} completed, {} dropped\n\
             latency     p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms\n\
             throughput  {:.2} frames/s achieved; average power {:.3} W\n",
            self.frames,
            self.offered_fps,
            self.frame_ms,
            self.max_waiting,
            self.completed,
            self.dropped,
            l.p50,
            l.p90,
            l.p99,
            l.max,
            self.achieved_fps,
            self.average_power_w
        ) + &self
            .period_ms
            .map(|p| format!("pipelined   a frame may start every {p:.3} ms (measured over {PERIOD_FRAMES} frames)\n"))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(frames: u64, fps: f64) -> StreamOptions {
        StreamOptions { frames, fps, max_waiting: DEFAULT_MAX_WAITING }
    }

    #[test]
    fn an_easy_rate_has_no_queueing() {
        // 1 GHz, 1 ms per frame, 100 frames/s: every frame runs alone.
        let r = simulate(1_000_000, 1.0, 2.0, &opts(10, 100.0)).unwrap();
        assert_eq!((r.completed, r.dropped), (10, 0));
        assert_eq!(r.latency_ms, Percentiles { p50: 1.0, p90: 1.0, p99: 1.0, max: 1.0 });
        // 10 frames over the stream's 100 ms (the last one finishes at 91 ms, within its period).
        assert!((r.achieved_fps - 100.0).abs() < 1e-9);
        assert!((r.average_power_w - 2e-3 * r.achieved_fps).abs() < 1e-12);
    }

    #[test]
    fn an_overload_queues_then_drops() {
        // 10 ms per frame, offered every 4 ms: frames arrive at 0, 4, 8, 12, ... ms.
        let r = simulate(10_000_000, 1.0, 1.0, &opts(6, 250.0)).unwrap();
        // Frame 0 runs 0..10 ms; 1 (arrives 4) runs 10..20; 2 (8) runs 20..30; at 12 ms frame 1 has started, so
        // only 2 waits and frame 3 is accepted (30..40); at 16 ms frames 2 and 3 wait: frame 4 is dropped; at
        // 20 ms frame 2 starts, so frame 5 is accepted (40..50).
        assert_eq!((r.completed, r.dropped), (5, 1));
        // Latencies 10, 16, 22, 28, 30 ms.
        assert_eq!(r.latency_ms.max, 30.0);
        assert_eq!(r.latency_ms.p50, 22.0);
        assert_eq!(simulate(1, 1.0, 1.0, &opts(1, 0.0)), Err(StreamError::Fps(0.0)));
        assert_eq!(simulate(1, 1.0, 1.0, &opts(0, 1.0)), Err(StreamError::Frames));
        let e = simulate(1, 1.0, 1.0, &opts(u64::MAX, 1.0));
        assert_eq!(e, Err(StreamError::TooManyFrames(u64::MAX)));
    }

    #[test]
    fn a_pipelined_program_overlaps_frames() {
        // 10 ms per frame, a new one may start every 4 ms, offered every 4 ms: no frame waits or drops.
        let r = simulate_pipelined(10_000_000, Some(4_000_000), 1.0, 1.0, &opts(6, 250.0)).unwrap();
        assert_eq!((r.completed, r.dropped), (6, 0));
        assert_eq!(r.latency_ms.max, 10.0);
        assert_eq!(r.period_ms, Some(4.0));
        // The same stream one frame at a time drops one (`an_overload_queues_then_drops`).
        assert_eq!(simulate(10_000_000, 1.0, 1.0, &opts(6, 250.0)).unwrap().dropped, 1);
    }
}
