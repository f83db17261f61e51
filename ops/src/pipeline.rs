//! Frame pipelining (`--objective throughput`): the stage structure a blob carries in its metadata, and the
//! unrolling of a one-frame program into back-to-back frames that the verifier and the simulator can run.
//!
//! A pipelined program runs each stage (a contiguous range of layers) on its own tile group; stage `s + 1`
//! waits on stage `s`'s barrier semaphore. Semaphores count up monotonically and every queue runs the same
//! commands for every frame, so frame `k` of the stream is the program with every wait raised by `k` times the
//! signals one frame makes on that semaphore: `unroll_frames` builds that. The compiler emits the waits that
//! make frames overlap safely even when their value is 0 in frame 0 (they only bind from frame 1 on).
use crate::command::Command;
use crate::program::Program;
use serde::{Deserialize, Serialize};

/// One pipeline stage: debug-map layers `first_layer..first_layer + layers` on tiles
/// `first_tile..first_tile + tiles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub first_tile: u16,
    pub tiles: u16,
    pub first_layer: u32,
    pub layers: u32,
}

impl Stage {
    /// Whether debug-map layer `l` belongs to this stage.
    pub fn has_layer(&self, l: usize) -> bool {
        let first = self.first_layer as usize;
        l >= first && l < first + self.layers as usize
    }
}

/// Signals one run of `p` makes on each semaphore.
pub fn signals_per_frame(p: &Program) -> Vec<u64> {
    let mut n = vec![0u64; p.meta.semaphores as usize];
    for c in p.queues.iter().flat_map(|q| &q.commands) {
        if let Command::Signal { sem } = c {
            if let Some(x) = n.get_mut(*sem as usize) {
                *x += 1;
            }
        }
    }
    n
}

/// `p` run `frames` times back to back on the same queues: frame `k`'s waits are raised by `k` frames of
/// signals. `None` when a raised wait value would overflow `u32`.
pub fn unroll_frames(p: &Program, frames: u32) -> Option<Program> {
    let per_frame = signals_per_frame(p);
    let mut out = p.clone();
    for (qi, q) in out.queues.iter_mut().enumerate() {
        let one = std::mem::take(&mut q.commands);
        for k in 0..frames {
            for c in &one {
                q.commands.push(match c {
                    &Command::Wait { sem, value } => {
                        let add = per_frame.get(sem as usize).copied().unwrap_or(0).checked_mul(k as u64)?;
                        Command::Wait { sem, value: u32::try_from(value as u64 + add).ok()? }
                    }
                    other => other.clone(),
                });
            }
        }
        if let Some(layers) = out.debug.command_layer.get_mut(qi) {
            let one_layers = std::mem::take(layers);
            for _ in 0..frames {
                layers.extend_from_slice(&one_layers);
            }
        }
    }
    Some(out)
}
