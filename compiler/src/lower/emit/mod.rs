//! Emission of the command queues: work items (load, compute, store) placed round-robin on the tiles with
//! double-buffered SRAM, synchronized by monotonic semaphores. Layers run one after another: the first load of
//! a layer waits until every store of the layer before it is done (a barrier on the `DONE` semaphore), which
//! also makes DRAM reuse by liveness safe.
mod chain;
mod convert;
mod elementwise;
mod flat;
mod matmul;
mod multicast;
mod overlap;
mod prefetch;
mod stationary;
mod window;
#[cfg(test)]
mod window_tests;

use super::error::LowerError;
use super::tiling::align64;
use accel_ops::command::{Command, Copy3, DramAddr, Queue, QueueId, SramAddr, Unit};
use accel_ops::program::{DramTensor, HostKernel};
use accel_ops::target::Target;
use multicast::{Load, Sharing, MIN_SHARED_BYTES};
use prefetch::{buffer_extent, place_resident, transfer_span, Live};
use std::collections::BTreeMap;

pub use chain::{emit_chain, plan_chain, ChainLayer, Residual, Src, Wiring};
pub use convert::emit_convert;
pub use elementwise::{emit_elementwise, ElementwiseIo};
pub use flat::{emit_affine, emit_binary, emit_unary};
pub use matmul::emit_matmul;
pub use stationary::{emit_stationary, plan_stationary, StationaryPlan};
pub use window::{
    conv_estimate, conv_stream_plan, emit_conv, emit_pool, Budget, ConvIo, PoolIo, WindowShape, WindowShapeExt,
};

/// Semaphore 0 counts completed work items of all layers (the layer barrier).
const DONE: u16 = 0;

/// Semaphores per tile after `DONE`: items loaded, computed and stored, and multicasts landed (signalled by a
/// tile after the loads it multicast to others).
const TILE_SEMS: usize = 4;

/// Semaphore `k` of `tile` (`TILE_SEMS`).
fn tile_sem(tile: u16, k: usize) -> u16 {
    (1 + TILE_SEMS * tile as usize + k) as u16
}

/// One unit of work on one tile: DMA in, compute commands (run in order on one unit), DMA out. SRAM addresses
/// are relative to the item's buffer set, or `RESIDENT + offset` into the layer's resident region; the
/// emitter rebases both.
pub struct WorkItem {
    pub loads: Vec<(u64, DramAddr, Copy3)>,
    pub compute: Vec<Command>,
    pub stores: Vec<(u64, DramAddr, Copy3)>,
}

/// Marks an SRAM address in a work item as an offset into the resident region (weights loaded once per tile
/// and kept for the whole layer). Targets have at most 1 GiB of SRAM per tile, so the bit is free.
pub const RESIDENT: u32 = 1 << 31;

/// Operands loaded once per tile before a layer's items and kept in SRAM: weight-stationary layers and fused
/// chains. Offsets are relative to the resident region.
#[derive(Default)]
pub struct Resident {
    pub loads: Vec<(u64, DramAddr, Copy3)>,
    pub bytes: u64,
}

/// Bump allocation inside one SRAM buffer set.
pub struct SramAlloc {
    next: u64,
    cap: u64,
}

impl SramAlloc {
    pub fn new(cap: u64) -> Self {
        SramAlloc { next: 0, cap }
    }
    /// Reserves `bytes`; `None` when the set is full.
    pub fn take(&mut self, bytes: u64) -> Option<u64> {
        let at = self.next;
        let end = align64(at.checked_add(bytes)?);
        if end > self.cap {
            return None;
        }
        self.next = end;
        Some(at)
    }
    /// Whether buffers of these sizes fit together.
    pub fn fits(cap: u64, sizes: &[u64]) -> bool {
        let mut a = SramAlloc::new(cap);
        sizes.iter().all(|&s| a.take(s).is_some())
    }
}

/// Builds queues, semaphores and the debug map.
pub struct Emitter<'a> {
    pub target: &'a Target,
    queues: BTreeMap<QueueId, Vec<(Command, u32)>>,
    signals: Vec<u32>,
    layer: u32,
    pub kernels: Vec<HostKernel>,
    /// The tiles of the current pipeline stage (all tiles for a latency program).
    group: Vec<u16>,
    /// The barrier semaphore of the current stage.
    done: u16,
    /// Pipeline stages of the program (1: a latency program).
    stages: usize,
    /// Waits every tile's first load of the next layer makes besides the barrier; kept even at value 0,
    /// because they bind from the second frame on (`accel_ops::pipeline`).
    entry: Vec<(u16, u32)>,
    /// The SRAM ranges the last tile layer uses (what a prefetch of the next layer's resident operands must
    /// miss); empty before the first.
    live: Live,
    /// The tiles whose DMA-in queue waited at the last tile layer's barrier: only there is every layer before
    /// that one known to be done when a prefetch runs (a tile without items skips a layer's barrier).
    entered: Vec<u16>,
}

impl<'a> Emitter<'a> {
    /// An emitter for `stages` pipeline stages: besides the tiles' semaphores, each stage after the first has
    /// a barrier semaphore and a "cross-stage inputs read" semaphore.
    pub fn pipelined(target: &'a Target, stages: usize) -> Self {
        let stages = stages.max(1);
        let sems = 1 + TILE_SEMS * target.tiles as usize + 2 * (stages - 1);
        Emitter {
            target,
            queues: BTreeMap::new(),
            signals: vec![0; sems],
            layer: 0,
            kernels: Vec::new(),
            group: (0..target.tiles as u16).collect(),
            done: DONE,
            stages,
            entry: Vec::new(),
            live: Live::default(),
            entered: Vec::new(),
        }
    }

    /// Tiles a layer is spread over: the current stage's group.
    pub fn tiles(&self) -> usize {
        self.group.len()
    }

    fn stage_done(&self, s: usize) -> u16 {
        if s == 0 {
            DONE
        } else {
            (TILE_SEMS * self.target.tiles as usize + s) as u16
        }
    }
    fn stage_read(&self, s: usize) -> u16 {
        (TILE_SEMS * self.target.tiles as usize + self.stages - 1 + s) as u16
    }

    /// Starts pipeline stage `s` on `tiles`: its first layer waits until stage `s - 1` has finished the frame.
    pub fn begin_stage(&mut self, s: usize, tiles: std::ops::Range<u16>) {
        self.group = tiles.collect();
        if s > 0 {
            let prev = self.stage_done(s - 1);
            self.entry.push((prev, self.signals[prev as usize]));
        }
        self.done = self.stage_done(s);
    }

    /// The next layer overwrites values that stage `t` reads: it waits until stage `t` has read the previous
    /// frame's (a wait at 0 in frame 0, raised by one per frame).
    pub fn wait_read(&mut self, t: usize) {
        let sem = self.stage_read(t);
        self.entry.push((sem, self.signals[sem as usize]));
    }

    /// The current stage (`t`) has read every value an earlier stage wrote: signals it once the layers so far
    /// are done.
    pub fn signal_read(&mut self, t: usize) {
        let Some(&tile) = self.group.first() else { return };
        let q = QueueId { tile, unit: Unit::DmaIn };
        let (done, sem) = (self.done, self.stage_read(t));
        self.push(q, Command::Wait { sem: done, value: self.signals[done as usize] });
        self.signal(q, sem);
    }

    /// The barrier and entry waits before a layer's first command on queue `q`.
    /// Waits that block in a one-frame run come first, so that the layer starts (for reports) when they are
    /// satisfied, not at the trivially satisfied waits at 0.
    fn enter(&mut self, q: QueueId, barrier: u32, entry: &[(u16, u32)]) {
        for &(sem, value) in entry.iter().filter(|(_, v)| *v > 0) {
            self.push(q, Command::Wait { sem, value });
        }
        if self.stages > 1 {
            // Kept at 0: from the second frame on it orders this stage's frames.
            self.push(q, Command::Wait { sem: self.done, value: barrier });
        } else {
            self.wait(q, self.done, barrier);
        }
        for &(sem, value) in entry.iter().filter(|(_, v)| *v == 0) {
            self.push(q, Command::Wait { sem, value });
        }
    }

    /// Bytes of one of the two SRAM buffer sets of a tile.
    pub fn buffer_set_bytes(&self) -> u64 {
        set_bytes(self.target.tile.sram_bytes, 0)
    }

    pub fn set_layer(&mut self, layer: u32) {
        self.layer = layer;
    }

    fn push(&mut self, q: QueueId, c: Command) {
        self.queues.entry(q).or_default().push((c, self.layer));
    }
    fn signal(&mut self, q: QueueId, sem: u16) {
        self.signals[sem as usize] += 1;
        self.push(q, Command::Signal { sem });
    }
    fn wait(&mut self, q: QueueId, sem: u16, value: u32) {
        if value > 0 {
            self.push(q, Command::Wait { sem, value });
        }
    }

    /// Emits a tile layer: items round-robin over tiles, double-buffered.
    pub fn tile_layer(&mut self, layer_name: &str, items: Vec<WorkItem>, unit: Unit) -> Result<(), LowerError> {
        self.tile_layer_resident(layer_name, Resident::default(), items, unit)
    }

    /// Emits a tile layer whose `resident` operands each participating tile loads once, before its first item.
    /// SRAM: buffer set 0, buffer set 1, then the resident region.
    pub fn tile_layer_resident(
        &mut self,
        layer_name: &str,
        resident: Resident,
        items: Vec<WorkItem>,
        unit: Unit,
    ) -> Result<(), LowerError> {
        if items.is_empty() {
            return Err(LowerError::layer(layer_name, "no work items"));
        }
        let tiles = self.tiles();
        let group = self.group.clone();
        let entry = std::mem::take(&mut self.entry);
        let barrier = self.signals[self.done as usize];
        let half = set_bytes(self.target.tile.sram_bytes, resident.bytes);
        let resident_base = 2 * half;
        if resident_base + resident.bytes > self.target.tile.sram_bytes {
            return Err(LowerError::layer(layer_name, "resident operands do not fit SRAM"));
        }
        let used = items.iter().map(|item| buffer_extent(item, half)).max().unwrap_or(half);
        let prefetch_at = self.prefetch_place(half, used, resident_base, resident.bytes);
        let resident_base = prefetch_at.unwrap_or(resident_base);
        self.live = Live::of_layer(half, used, resident_base, resident.bytes);
        let entered = std::mem::replace(&mut self.entered, group.iter().take(items.len()).copied().collect());
        let mut frame = self.frame(half);
        frame.resident_base = resident_base;
        let mut per_tile: Vec<Vec<&WorkItem>> = vec![Vec::new(); tiles];
        for (idx, item) in items.iter().enumerate() {
            per_tile[idx % tiles].push(item);
        }
        let mut sharing = frame.sharing(&per_tile);
        // Every tile loads the same resident operands (a chain's weights): the first tile multicasts them, after
        // the barrier (so every tile is done with the layer before), and the others compute once it signals.
        let busy = per_tile.iter().filter(|items| !items.is_empty()).count();
        sharing.resident = busy >= 2 && resident.bytes >= MIN_SHARED_BYTES && group.iter().all(|&g| g < 32);
        let resident_mask =
            group.iter().take(busy).fold(0u32, |mask, &g| mask | 1u32.checked_shl(g.into()).unwrap_or(0));
        let mut count = vec![0u32; tiles];
        for (idx, item) in items.into_iter().enumerate() {
            let t = idx % tiles;
            let j = count[t];
            count[t] += 1;
            let q = QueueId { tile: group[t], unit: Unit::DmaIn };
            if j == 0 {
                // The tile that issues the loads (the first, for a multicast) must have passed the last barrier.
                let issuer = if sharing.resident { group[0] } else { group[t] };
                let prefetch = prefetch_at.is_some() && entered.contains(&issuer);
                if !prefetch {
                    self.enter(q, barrier, &entry);
                }
                for &(s, dram, copy) in &resident.loads {
                    let sram = SramAddr((resident_base + s) as u32);
                    match (sharing.resident, t) {
                        (false, _) => self.push(q, Command::Load { sram, dram, copy }),
                        (true, 0) => self.push(q, Command::Multicast { sram, dram, copy, tiles: resident_mask }),
                        (true, _) => {}
                    }
                }
                if sharing.resident && t == 0 {
                    self.signal(q, frame.sem(0, 3));
                }
                if prefetch {
                    self.enter(q, barrier, &entry);
                }
                if sharing.resident && t != 0 {
                    // The others' loads wait for it: on the channel first, it lets every tile start.
                    self.wait(q, frame.sem(0, 3), frame.base[0][3] + 1);
                }
            }
            self.emit_item(&frame, &sharing, t, j, item, unit);
        }
        Ok(())
    }

    /// Emits a tile layer whose items are placed by the caller: per tile, phases of resident operands and the
    /// items that use them. A phase's resident loads wait until the tile has computed every earlier item (they
    /// overwrite the operands those read); items stay double-buffered across phases.
    pub fn tile_layer_phased(
        &mut self,
        layer_name: &str,
        tiles: Vec<stationary::TilePhases>,
        unit: Unit,
    ) -> Result<(), LowerError> {
        let resident_bytes = tiles.iter().flatten().map(|(r, _)| r.bytes).max().unwrap_or(0);
        if tiles.iter().flatten().all(|(_, items)| items.is_empty()) {
            return Err(LowerError::layer(layer_name, "no work items"));
        }
        if tiles.len() > self.tiles() {
            return Err(LowerError::layer(layer_name, "more tile schedules than tiles"));
        }
        let group = self.group.clone();
        let entry = std::mem::take(&mut self.entry);
        let barrier = self.signals[self.done as usize];
        let half = set_bytes(self.target.tile.sram_bytes, resident_bytes);
        let resident_base = 2 * half;
        if resident_base + resident_bytes > self.target.tile.sram_bytes {
            return Err(LowerError::layer(layer_name, "resident operands do not fit SRAM"));
        }
        let mut frame = self.frame(half);
        let per_tile: Vec<Vec<&WorkItem>> =
            tiles.iter().map(|phases| phases.iter().flat_map(|(_, items)| items.iter()).collect()).collect();
        let used = per_tile.iter().flatten().map(|item| buffer_extent(item, half)).max().unwrap_or(half);
        // The first phase's operands may load during the layer before; later phases replace them in place.
        let prefetch_at = self.prefetch_place(half, used, resident_base, resident_bytes);
        let resident_base = prefetch_at.unwrap_or(resident_base);
        frame.resident_base = resident_base;
        self.live = Live::of_layer(half, used, resident_base, resident_bytes);
        let entered = std::mem::replace(
            &mut self.entered,
            tiles.iter().enumerate().filter(|(_, phases)| !phases.is_empty()).map(|(t, _)| group[t]).collect(),
        );
        let sharing = frame.sharing(&per_tile);
        let sem = |t: usize, k: usize| tile_sem(group[t], k);
        for (t, phases) in tiles.into_iter().enumerate() {
            let q = QueueId { tile: group[t], unit: Unit::DmaIn };
            let mut j = 0u32;
            let prefetch = prefetch_at.is_some() && entered.contains(&group[t]);
            // Per earlier phase: its resident bytes and how many items the tile had computed at its end.
            let mut done: Vec<(Live, u32)> = Vec::new();
            for (resident, items) in phases {
                let mine = resident_ranges(&resident);
                if j == 0 && !prefetch {
                    self.enter(q, barrier, &entry);
                } else if j > 0 {
                    // Its loads replace the operands of the last earlier phase they overlap: wait until that
                    // phase's items are computed (with two slots, the phase before the previous one).
                    let last = done.iter().rev().find(|(r, _)| r.0.iter().any(|&(a, b)| mine.overlaps(a, b)));
                    if let Some(&(_, computed)) = last {
                        self.wait(q, sem(t, 1), frame.base[t][1] + computed);
                    }
                }
                for (s, d, c) in &resident.loads {
                    self.push(q, Command::Load { sram: SramAddr((resident_base + s) as u32), dram: *d, copy: *c });
                }
                if j == 0 && prefetch {
                    self.enter(q, barrier, &entry);
                }
                for item in items {
                    self.emit_item(&frame, &sharing, t, j, item, unit);
                    j += 1;
                }
                done.push((mine, j));
            }
        }
        Ok(())
    }

    /// Where a layer's `bytes` of resident operands load during the layer before (`prefetch::place_resident`),
    /// given its buffer sets of `half` bytes of which items use `used`; `None`: after the barrier, at
    /// `resident_base`. A latency program only: a pipeline stage's layers of other frames run at once.
    fn prefetch_place(&self, half: u64, used: u64, resident_base: u64, bytes: u64) -> Option<u64> {
        if self.stages != 1 || self.live.0.is_empty() {
            return None;
        }
        let own = Live::of_layer(half, used, resident_base, 0);
        place_resident(self.target.tile.sram_bytes, bytes, resident_base, &self.live, &own)
    }

    /// The current group's semaphore counts before a layer, with its buffer geometry.
    fn frame(&self, half: u64) -> Frame {
        let group = self.group.clone();
        let base = group
            .iter()
            .map(|&g| [0, 1, 2, 3].map(|k| self.signals.get(tile_sem(g, k) as usize).copied().unwrap_or(0)))
            .collect();
        Frame { group, base, half, resident_base: 2 * half }
    }

    /// Emits tile `t`'s item `j` (its `j`-th of the layer): loads into buffer set `j % 2` once the store of
    /// item `j - 2` has freed it, compute once loaded, store once computed. Loads the whole round shares are
    /// multicast by the group's first tile, which waits until every taking part tile has freed the buffer set
    /// and signals its "multicasts landed" semaphore after them; the others' compute waits for that signal.
    fn emit_item(&mut self, f: &Frame, sharing: &Sharing, t: usize, j: u32, item: WorkItem, unit: Unit) {
        let buf = (j % 2) as u64 * f.half;
        let q = |unit| QueueId { tile: f.group[t], unit };
        let round = sharing.round(j as usize).filter(|(members, _)| members.contains(&t));
        let own: Vec<Load> = match round {
            Some((_, shared)) => item.loads.into_iter().filter(|l| !shared.contains(l)).collect(),
            None => item.loads,
        };
        match round {
            Some((members, shared)) if t == 0 => {
                if j >= 2 {
                    for &m in members {
                        self.wait(q(Unit::DmaIn), f.sem(m, 2), f.base[m][2] + j - 1);
                    }
                }
                let tiles = members.iter().fold(0u32, |mask, &m| mask | 1 << f.group[m]);
                for (s, d, c) in shared {
                    let sram = SramAddr((buf + s) as u32);
                    self.push(q(Unit::DmaIn), Command::Multicast { sram, dram: *d, copy: *c, tiles });
                }
                self.signal(q(Unit::DmaIn), f.sem(0, 3));
            }
            _ if j >= 2 && (round.is_none() || !own.is_empty()) => {
                self.wait(q(Unit::DmaIn), f.sem(t, 2), f.base[t][2] + j - 1)
            }
            _ => {}
        }
        for (s, d, c) in own {
            self.push(q(Unit::DmaIn), Command::Load { sram: SramAddr((buf + s) as u32), dram: d, copy: c });
        }
        self.signal(q(Unit::DmaIn), f.sem(t, 0));
        self.wait(q(unit), f.sem(t, 0), f.base[t][0] + j + 1);
        if t != 0 && (round.is_some() || (j == 0 && sharing.resident)) {
            self.wait(q(unit), f.sem(0, 3), f.base[0][3] + sharing.landed(j as usize));
        }
        for c in item.compute {
            self.push(q(unit), rebase(c, buf as u32, f.resident_base as u32));
        }
        self.signal(q(unit), f.sem(t, 1));
        self.wait(q(Unit::DmaOut), f.sem(t, 1), f.base[t][1] + j + 1);
        for (s, d, c) in item.stores {
            self.push(q(Unit::DmaOut), Command::Store { sram: SramAddr((buf + s) as u32), dram: d, copy: c });
        }
        self.signal(q(Unit::DmaOut), f.sem(t, 2));
        self.signal(q(Unit::DmaOut), self.done);
    }

    /// Emits a host layer: one kernel call after every earlier layer, counted as one completed item.
    pub fn host_layer(&mut self, kernel: HostKernel) {
        let q = QueueId { tile: 0, unit: Unit::Host };
        let barrier = self.signals[self.done as usize];
        let entry = std::mem::take(&mut self.entry);
        self.enter(q, barrier, &entry);
        self.push(q, Command::HostCall { kernel: self.kernels.len() as u32 });
        self.kernels.push(kernel);
        self.signal(q, self.done);
    }

    /// The queues and, per queue, the layer of each command.
    pub fn finish(self) -> (Vec<Queue>, Vec<Vec<u32>>, u32) {
        let sems = self.signals.len() as u32;
        let mut queues = Vec::new();
        let mut layers = Vec::new();
        for (id, cmds) in self.queues {
            layers.push(cmds.iter().map(|(_, l)| *l).collect());
            queues.push(Queue { id, commands: cmds.into_iter().map(|(c, _)| c).collect() });
        }
        (queues, layers, sems)
    }
}

/// The resident-region byte ranges a phase's loads write; a load whose span cannot be computed counts as
/// everything, which only adds waits.
fn resident_ranges(r: &Resident) -> Live {
    Live(r.loads.iter().map(|l| transfer_span(l).unwrap_or((0, u64::MAX))).collect())
}

/// A tile layer's group, its tiles' semaphore counts before the layer (loaded, computed, stored) and its SRAM
/// geometry: two buffer sets of `half` bytes, then the resident region.
struct Frame {
    group: Vec<u16>,
    base: Vec<[u32; TILE_SEMS]>,
    half: u64,
    resident_base: u64,
}

impl Frame {
    /// Semaphore `k` (0 loaded, 1 computed, 2 stored, 3 multicasts landed) of the group's tile `t`.
    fn sem(&self, t: usize, k: usize) -> u16 {
        tile_sem(self.group.get(t).copied().unwrap_or(0), k)
    }

    /// The loads the group's tiles share per round; none when a tile's number does not fit a multicast mask.
    fn sharing(&self, per_tile: &[Vec<&WorkItem>]) -> Sharing {
        if self.group.iter().all(|&g| g < 32) {
            Sharing::find(per_tile)
        } else {
            Sharing::none()
        }
    }
}

/// A DRAM tensor for host kernels.
pub fn dram_tensor(addr: u64, ty: &accel_ops::TensorType) -> DramTensor {
    DramTensor { dram: addr, ty: ty.clone() }
}

/// Bytes of each of the two buffer sets when `resident` bytes are reserved.
pub fn set_bytes(sram: u64, resident: u64) -> u64 {
    (sram.saturating_sub(resident.next_multiple_of(64)) / 2) / 64 * 64
}

/// Rebases one operand: buffer-set addresses by `by`, resident ones onto the resident region.
fn shift(a: SramAddr, by: u32, resident_base: u32) -> SramAddr {
    if a.is_none() {
        a
    } else if a.0 >= RESIDENT {
        SramAddr(a.0 - RESIDENT + resident_base)
    } else {
        SramAddr(a.0 + by)
    }
}

/// Moves a compute command's SRAM operands into the buffer set at `by` and the resident region.
fn rebase(c: Command, by: u32, rb: u32) -> Command {
    let shift = |a: SramAddr, by: u32| shift(a, by, rb);
    match c {
        Command::Conv {
            dtype,
            input,
            in_c,
            in_h,
            in_w,
            in_row_pitch,
            in_plane_rows,
            weights,
            bias,
            residual,
            res_row_pitch,
            res_plane_rows,
            quant,
            output,
            out_c,
            out_h,
            out_w,
            kernel_h,
            kernel_w,
            stride_h,
            stride_w,
            dilation_h,
            dilation_w,
            pad_top,
            pad_left,
            pad_bottom,
            pad_right,
            groups,
            act,
        } => Command::Conv {
            dtype,
            input: shift(input, by),
            in_c,
            in_h,
            in_w,
            in_row_pitch,
            in_plane_rows,
            weights: shift(weights, by),
            bias: shift(bias, by),
            residual: shift(residual, by),
            res_row_pitch,
            res_plane_rows,
            quant: shift(quant, by),
            output: shift(output, by),
            out_c,
            out_h,
            out_w,
            kernel_h,
            kernel_w,
            stride_h,
            stride_w,
            dilation_h,
            dilation_w,
            pad_top,
            pad_left,
            pad_bottom,
            pad_right,
            groups,
            act,
        },
        Command::MatMul { dtype, a, b, bias, quant, output, m, k, n, act } => Command::MatMul {
            dtype,
            a: shift(a, by),
            b: shift(b, by),
            bias: shift(bias, by),
            quant: shift(quant, by),
            output: shift(output, by),
            m,
            k,
            n,
            act,
        },
        Command::Unary { func, src, dst, len } => {
            Command::Unary { func, src: shift(src, by), dst: shift(dst, by), len }
        }
        Command::Binary { op, a, b, dst, len, b_period, b_repeat } => {
            Command::Binary { op, a: shift(a, by), b: shift(b, by), dst: shift(dst, by), len, b_period, b_repeat }
        }
        mut pool @ (Command::Pool { .. } | Command::PoolI8 { .. }) => {
            if let Command::Pool { src, dst, .. } | Command::PoolI8 { src, dst, .. } = &mut pool {
                (*src, *dst) = (shift(*src, by), shift(*dst, by));
            }
            pool
        }
        Command::Affine { src, dst, params, c, inner } => {
            Command::Affine { src: shift(src, by), dst: shift(dst, by), params: shift(params, by), c, inner }
        }
        Command::Convert { from, to, src, dst, params, len } => {
            Command::Convert { from, to, src: shift(src, by), dst: shift(dst, by), params: shift(params, by), len }
        }
        other => other,
    }
}
