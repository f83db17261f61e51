//! The functional model: the data effect of the commands `exec` hands over in its deterministic timing order,
//! and of host calls. Timing is not here. Switched off (`ExecOptions::functional = false`) it does nothing.
//!
//! With more than one rayon thread, tile commands are not applied at once but queued per tile and run in
//! parallel, one thread per tile queue, when something needs their effect. Each tile's commands keep their
//! order (a multicast is queued on each destination tile, as that tile's load); commands of different tiles
//! touch different SRAMs, and meet only in DRAM: loads read a DRAM that no one writes while tiles run, stores
//! park their bytes in the tile's outbox and reach DRAM afterwards, in submission order where they may
//! overlap (`apply::drain_outboxes`). So the memories end exactly as in sequential order, provided that no
//! queued store overlaps a later load: such a load (and every host call, and the end of the run) first drains
//! the queue. Overlap is judged on DRAM hulls, which is conservative for strided transfers; stores never drain
//! for other stores (tiles store interleaved column and channel blocks of one tensor, whose hulls overlap). In
//! practice a whole layer's loads, MACs and stores run in one parallel batch.
use super::apply::{apply_tracked, drain_outboxes, Dram, Held, Outbox};
use super::lazy::Immutable;
use super::memory::Machine;
use crate::error::ExecError;
use accel_ops::command::{Command, QueueId, Space};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Most commands queued before a drain, and most bytes parked in outboxes.
const MAX_QUEUED: usize = 4096;
const MAX_PARKED_BYTES: usize = 64 << 20;
/// Most bytes of strided-load images (`lazy`) over all tiles.
const MAX_IMAGE_BYTES: u64 = 1 << 30;

/// Reusable per-tile state of the functional model, kept in the `Machine` across runs.
#[derive(Debug, Default)]
pub struct Workspace {
    outboxes: Vec<Outbox>,
    held: Vec<Held>,
    /// DRAM below this never changes during a run (the constants, when nothing writes them): loads from there
    /// may be skipped when SRAM already holds their bytes. 0 unless the session proved it.
    pub(crate) immutable_end: u64,
    /// The `immutable_end` under which the tiles' lazy-load images were gathered.
    images_for: u64,
    /// Apply tile commands one at a time even with several threads (only the kernels then run in parallel).
    pub(crate) serial_tiles: bool,
    /// Copies of host kernel inputs, for calls whose DRAM tensors overlap.
    pub(crate) host: super::host_call::HostScratch,
}

impl Workspace {
    /// Before a run: drops lazy-load images gathered under another immutable range (they may be stale).
    pub(crate) fn begin_run(&mut self) {
        if self.images_for != self.immutable_end {
            self.held.iter_mut().for_each(|h| {
                h.lazy.clear();
                h.mac.clear();
            });
            self.images_for = self.immutable_end;
        }
    }

    /// After a run (also a failed one): copies every pending lazy load into SRAM, so that the memories are
    /// what a copying model leaves; returns the first tile that failed, with why.
    pub(crate) fn settle(&mut self, dram: &[u8], sram: &mut [Vec<u8>]) -> Result<(), (usize, String)> {
        let mut first = Ok(());
        for (tile, (h, s)) in self.held.iter_mut().zip(sram.iter_mut()).enumerate() {
            if let Err(why) = h.lazy.settle(dram, s) {
                first = first.and(Err((tile, why)));
            }
        }
        first
    }
}

/// The functional model during one run.
pub(crate) struct Functional<'p> {
    enabled: bool,
    defer: bool,
    /// Queued commands in submission order (their index is their tag).
    queued: Vec<(QueueId, usize, &'p Command)>,
    /// Tags per tile.
    per_tile: Vec<Vec<usize>>,
    /// The union of the queued stores' DRAM hulls, as disjoint ranges `start -> end`.
    stores: BTreeMap<u64, u64>,
    /// What this run may treat as immutable (per tile).
    fixed: Immutable,
}

impl<'p> Functional<'p> {
    pub(crate) fn new(machine: &Machine, enabled: bool) -> Functional<'p> {
        Functional {
            enabled,
            defer: rayon::current_num_threads() > 1 && machine.sram.len() > 1 && !machine.work.serial_tiles,
            queued: Vec::new(),
            per_tile: vec![Vec::new(); machine.sram.len()],
            stores: BTreeMap::new(),
            fixed: Immutable {
                end: machine.work.immutable_end,
                image_budget: machine.work.immutable_end.min(MAX_IMAGE_BYTES)
                    / machine.sram.iter().filter(|s| !s.is_empty()).count().max(1) as u64,
            },
        }
    }

    /// Whether the queued stores' hulls cover any byte of `start..end`.
    fn overlaps_store(&self, start: u64, end: u64) -> bool {
        self.stores.range(..end).next_back().is_some_and(|(_, &e)| e > start)
    }

    /// Adds `start..end` to the stores' hulls, merging the ranges it overlaps or touches.
    fn add_store(&mut self, mut start: u64, mut end: u64) {
        while let Some((&s, &e)) = self.stores.range(..=end).next_back() {
            if e < start {
                break;
            }
            self.stores.remove(&s);
            start = start.min(s);
            end = end.max(e);
        }
        self.stores.insert(start, end);
    }

    /// Applies a tile command now, or queues it (see the module doc).
    pub(crate) fn submit(
        &mut self,
        m: &mut Machine,
        queue: QueueId,
        index: usize,
        cmd: &'p Command,
    ) -> Result<(), ExecError> {
        if !self.enabled {
            return Ok(());
        }
        let tile = queue.tile as usize;
        let fail = |why: String| ExecError::Command { queue, index, mnemonic: cmd.mnemonic(), why };
        // The SRAMs the command changes or reads: its own tile's, or a multicast's destinations'.
        // (Only a multicast allocates: this runs for every tile command.)
        let one = [tile];
        let many: Vec<usize>;
        let tiles: &[usize] = match cmd {
            Command::Multicast { .. } => {
                many = cmd.sram_destinations(queue.tile).into_iter().map(usize::from).collect();
                &many
            }
            _ => &one,
        };
        if !self.defer || tiles.iter().any(|&t| t >= self.per_tile.len()) {
            self.drain(m)?;
            let Machine { dram, sram, work } = m;
            for &t in tiles {
                let s = sram.get_mut(t).map(|s| s.as_mut_slice()).unwrap_or(&mut []);
                work.held.resize_with(work.held.len().max(t + 1), Held::default);
                let held = &mut work.held[t];
                apply_tracked(&mut Dram::Direct(dram), s, cmd, held, self.fixed).map_err(fail)?;
            }
            return Ok(());
        }
        if let Command::Load { .. } | Command::Store { .. } | Command::Multicast { .. } = cmd {
            let fp = cmd.footprint().map_err(|e| fail(e.why))?;
            let Some(d) = fp.iter().find(|a| a.space == Space::Dram) else {
                return Err(fail("dma without a DRAM range".into()));
            };
            let parked: usize = m.work.outboxes.iter().map(Outbox::bytes).sum();
            let is_store = matches!(cmd, Command::Store { .. });
            if (!is_store && self.overlaps_store(d.start, d.end())) || parked >= MAX_PARKED_BYTES {
                self.drain(m)?;
            }
            if is_store && d.len > 0 {
                self.add_store(d.start, d.end());
            }
        }
        if self.queued.len() >= MAX_QUEUED {
            self.drain(m)?;
        }
        for &t in tiles {
            if let Some(list) = self.per_tile.get_mut(t) {
                list.push(self.queued.len());
            }
        }
        self.queued.push((queue, index, cmd));
        Ok(())
    }

    /// Runs every queued command: tiles in parallel, then the parked stores in order.
    pub(crate) fn drain(&mut self, m: &mut Machine) -> Result<(), ExecError> {
        if self.queued.is_empty() {
            return Ok(());
        }
        let Machine { dram, sram, work } = m;
        work.outboxes.resize_with(sram.len(), Outbox::default);
        work.held.resize_with(sram.len(), Held::default);
        let (queued, fixed) = (&self.queued, self.fixed);
        let shared: &[u8] = dram;
        let tiles = self
            .per_tile
            .par_iter()
            .zip(sram.par_iter_mut())
            .zip(work.outboxes.par_iter_mut().zip(work.held.par_iter_mut()));
        let failed: Option<(usize, String)> = tiles
            .map(|((tags, s), (outbox, held))| {
                for &tag in tags {
                    let cmd = queued[tag].2;
                    let mut to = Dram::Deferred { dram: shared, outbox: &mut *outbox, tag };
                    apply_tracked(&mut to, s, cmd, held, fixed).map_err(|why| (tag, why))?;
                }
                Ok(())
            })
            .filter_map(Result::err)
            .min_by_key(|(tag, _)| *tag);
        let mut first = failed;
        if first.is_some() {
            work.outboxes.iter_mut().for_each(Outbox::clear);
        } else if let Err(e) = drain_outboxes(&mut work.outboxes, dram) {
            first = Some(e);
        }
        let result = match first {
            Some((tag, why)) => {
                let (queue, index, cmd) = queued[tag];
                Err(ExecError::Command { queue, index, mnemonic: cmd.mnemonic(), why })
            }
            None => Ok(()),
        };
        self.queued.clear();
        self.per_tile.iter_mut().for_each(Vec::clear);
        self.stores.clear();
        result
    }
}
