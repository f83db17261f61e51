//! The compiler's performance prediction: the per-command cost function (`accel_ops::cost`, the one the simulator
//! charges) summed along the schedule, into the same `Report` the simulator fills.
//!
//! The model follows the schedule the emitter builds (`lower::emit`): layers run one after another behind the
//! `DONE` barrier; a tile layer's work items go round-robin to the tiles, so item `j` of every tile forms round
//! `j`, and the tiles move through the rounds nearly in step. Per round and tile, three phases, one per unit,
//! each its commands' isolated costs (`accel_ops::cost`, sync commands included):
//! - **load**: the tiles' loads of a round interleave on the one DRAM channel: together they hold it for the sum
//!   of their transfer times, plus one DMA's issue, DRAM latency and hop latencies; the tiles finish in tile
//!   order, each one last-DMA transfer after the one before; and no tile finishes before its own DMAs back to
//!   back (each waits for its data to land);
//! - **compute**: each tile's MAC (or vector) commands, on its own;
//! - **store**: each tile stores when its compute is done; the stores take the channel in that order.
//!
//! The phases form the schedule's double-buffered pipeline: load `j` after load `j - 1` and after store `j - 2`
//! (its buffer set is free), compute `j` after load `j` and compute `j - 1`, store `j` after compute `j` and
//! store `j - 1`; load and store phases take the channel in the order they become ready. A host layer (or a
//! layer of another shape) costs its longest queue. What only the simulator sees, the command-by-command
//! arbitration of the channel and the links, is the difference between the two reports.
use accel_ops::command::{mask_tiles, Command, Unit};
use accel_ops::cost::{DmaTiming, ProgramCosts};
use accel_ops::program::Program;
use accel_ops::report::{command_layer, static_rows, Report, Source};

/// The predicted performance of `p`, in the simulator's report shape.
pub fn predict(p: &Program) -> Report {
    let model = Model::new(p);
    let mut rows = static_rows(p);
    let mut cycles: Vec<u64> = (0..rows.len()).map(|l| model.layer_cycles(l)).collect();
    // A layer's prefetched resident loads share the channel with the layer before (the last one with
    // commands): hidden while that layer leaves the channel idle, lengthening it otherwise.
    let mut before: Option<usize> = None;
    for (l, row) in rows.iter().enumerate() {
        if row.commands == 0 {
            continue;
        }
        let prefetch = model.prefetch_channel(l);
        if let Some(k) = before.filter(|_| prefetch > 0) {
            cycles[k] = cycles[k].max(model.channel(k) + prefetch);
        }
        before = Some(l);
    }
    let mut at = 0u64;
    for (l, row) in rows.iter_mut().enumerate() {
        if row.commands == 0 {
            continue;
        }
        row.cycles = cycles[l];
        row.start_cycle = at;
        at += row.cycles;
        row.end_cycle = at;
    }
    Report::finish(p, Source::Predicted, rows, at)
}

/// The predicted cycles of each layer of `p`'s debug map, alone (for balancing pipeline stages).
pub fn layer_cycles(p: &Program) -> Vec<u64> {
    let model = Model::new(p);
    (0..p.debug.layers.len()).map(|l| model.layer_cycles(l)).collect()
}

/// One unit's part of one work item.
#[derive(Debug, Clone, Copy, Default)]
struct Phase {
    /// Cycles on the unit with nothing else running (sync commands included).
    alone: u64,
    /// Cycles the DRAM channel is held.
    channel: u64,
    /// Issue, DRAM latency and hop latencies of one of its DMAs.
    fixed: u64,
    /// Cycles the channel is held by its last DMA.
    last: u64,
    /// A load phase that first waits for the tile's compute of an earlier item of the layer (a new chunk of
    /// resident operands replaces the one that item reads): its index.
    waits_compute: Option<usize>,
    /// A load or compute phase that also waits for another tile's multicasts (the first tile multicasts a
    /// layer's resident operands before any tile loads; an item's shared loads land before it computes).
    waits_other: bool,
    /// The isolated cycles of a load phase's multicasts together.
    multicast_alone: u64,
    /// Cycles its multicasts hold the DRAM channel.
    multicast_channel: u64,
}

struct Model<'a> {
    p: &'a Program,
    costs: ProgramCosts<'a>,
    /// Per semaphore: whether the queues of one tile alone signal it (the tiles' pipeline semaphores, not the
    /// barrier).
    private: Vec<bool>,
    /// Per semaphore: the one tile whose queues signal it, if one.
    owner: Vec<Option<u16>>,
    /// Per semaphore: whether a MAC or vector queue signals it.
    compute: Vec<bool>,
    /// Per semaphore: the layer of each of its signals, in queue order (sorted: layers are emitted in order).
    signal_layers: Vec<Vec<usize>>,
}

impl<'a> Model<'a> {
    fn new(p: &'a Program) -> Model<'a> {
        let sems = p.meta.semaphores as usize;
        // The tile whose queues signal each semaphore; `None` once the host or a second tile signals it.
        let mut owner: Vec<Option<Option<u16>>> = vec![None; sems];
        let mut compute = vec![false; sems];
        let mut signal_layers: Vec<Vec<usize>> = vec![Vec::new(); sems];
        for (qi, q) in p.queues.iter().enumerate() {
            for (ci, cmd) in q.commands.iter().enumerate() {
                let Command::Signal { sem } = cmd else { continue };
                if let Some(v) = signal_layers.get_mut(*sem as usize) {
                    v.push(command_layer(p, qi, ci));
                }
                if matches!(q.id.unit, Unit::Mac | Unit::Vector) {
                    if let Some(c) = compute.get_mut(*sem as usize) {
                        *c = true;
                    }
                }
                let Some(o) = owner.get_mut(*sem as usize) else { continue };
                let tile = (q.id.unit != Unit::Host).then_some(q.id.tile);
                *o = match *o {
                    None => Some(tile),
                    Some(t) if t == tile => Some(t),
                    Some(_) => Some(None),
                };
            }
        }
        let private = owner.iter().map(|o| matches!(o, Some(Some(_)))).collect();
        let owner = owner.into_iter().map(Option::flatten).collect();
        for v in &mut signal_layers {
            v.sort_unstable();
        }
        Model { p, costs: ProgramCosts::new(p), private, owner, compute, signal_layers }
    }

    /// The index in queue `qi` of the first of layer `l`'s commands after its prefetch: on a DMA-in queue whose
    /// layer `l` commands load before they wait at the barrier (a non-private semaphore), the barrier's wait;
    /// otherwise the layer's first command.
    fn after_prefetch(&self, qi: usize, l: usize) -> usize {
        let Some(q) = self.p.queues.get(qi) else { return 0 };
        let mine = || q.commands.iter().enumerate().filter(|&(ci, _)| command_layer(self.p, qi, ci) == l);
        let first = mine().next().map_or(0, |(ci, _)| ci);
        if q.id.unit != Unit::DmaIn {
            return first;
        }
        let barrier = mine().find(|(_, c)| {
            matches!(c, Command::Wait { sem, .. } if !self.private.get(*sem as usize).copied().unwrap_or(false))
        });
        match barrier {
            Some((ci, _))
                if mine()
                    .take_while(|&(i, _)| i < ci)
                    .any(|(_, c)| matches!(c, Command::Load { .. } | Command::Multicast { .. })) =>
            {
                ci
            }
            _ => first,
        }
    }

    /// Cycles layer `l`'s prefetched resident loads hold the DRAM channel (`after_prefetch`).
    fn prefetch_channel(&self, l: usize) -> u64 {
        let t = self.costs.target();
        let mut sum = 0;
        for (qi, q) in self.p.queues.iter().enumerate() {
            let end = self.after_prefetch(qi, l);
            for (ci, cmd) in q.commands.iter().enumerate().take(end) {
                if command_layer(self.p, qi, ci) != l {
                    continue;
                }
                if let Command::Load { copy, .. } | Command::Multicast { copy, .. } = cmd {
                    sum += DmaTiming::new(t, copy.bytes().unwrap_or(0), 0).dram_xfer;
                }
            }
        }
        sum
    }

    /// Cycles layer `l`'s own work (prefetch excluded) holds the DRAM channel.
    fn channel(&self, l: usize) -> u64 {
        (0..self.p.queues.len()).flat_map(|qi| self.items(qi, l)).map(|p| p.channel).sum()
    }

    /// Splits queue `qi`'s commands of layer `l` into work items: an item ends at a signal on a private
    /// semaphore; trailing sync commands (the barrier's signal) join the last item. Prefetched loads (and the
    /// signal after them) are not part of the layer's own work.
    fn items(&self, qi: usize, l: usize) -> Vec<Phase> {
        let Some(q) = self.p.queues.get(qi) else { return Vec::new() };
        let t = self.costs.target();
        let from = self.after_prefetch(qi, l);
        let mut items = vec![Phase::default()];
        for (ci, cmd) in q.commands.iter().enumerate().skip(from) {
            if command_layer(self.p, qi, ci) != l {
                continue;
            }
            let Some(cur) = items.last_mut() else { continue };
            let cost = self.costs.of(q.id.tile, cmd);
            cur.alone += cost.cycles;
            let dma = match cmd {
                Command::Load { copy, .. } | Command::Store { copy, .. } => Some((copy, self.costs.hops(q.id.tile))),
                Command::Multicast { copy, tiles, .. } => {
                    Some((copy, mask_tiles(*tiles).map(|t| self.costs.hops(t)).max().unwrap_or(0)))
                }
                _ => None,
            };
            if let Command::Multicast { .. } = cmd {
                cur.multicast_alone += cost.cycles;
            }
            if let Some((copy, hops)) = dma {
                let d = DmaTiming::new(t, copy.bytes().unwrap_or(0), hops);
                if let Command::Multicast { .. } = cmd {
                    cur.multicast_channel += d.dram_xfer;
                }
                cur.channel += d.dram_xfer;
                cur.fixed = cur.fixed.max(d.isolated() - d.dram_xfer);
                cur.last = d.dram_xfer;
            }
            if let Command::Wait { sem, value } = cmd {
                let private = self.private.get(*sem as usize).copied().unwrap_or(false);
                if q.id.unit == Unit::DmaIn && private && self.compute.get(*sem as usize).copied().unwrap_or(false) {
                    // The layer's items that signalled before it: the wait's value past the earlier layers' count.
                    let before = self.signal_layers.get(*sem as usize).map_or(0, |v| v.partition_point(|&x| x < l));
                    cur.waits_compute = (*value as usize).checked_sub(before + 1);
                }
                let other = self.owner.get(*sem as usize).copied().flatten().is_some_and(|t| t != q.id.tile);
                if private && other {
                    cur.waits_other = true;
                }
            }
            if let Command::Signal { sem } = cmd {
                if self.private.get(*sem as usize).copied().unwrap_or(false) {
                    items.push(Phase::default());
                }
            }
        }
        // What follows the last private signal (the barrier's signal) belongs to the last item.
        if items.len() > 1 {
            if let Some(tail) = items.pop() {
                if let Some(last) = items.last_mut() {
                    last.alone += tail.alone;
                    last.channel += tail.channel;
                }
            }
        }
        items
    }

    /// The predicted cycles of layer `l`.
    fn layer_cycles(&self, l: usize) -> u64 {
        // Per tile: its load, compute and store items.
        let mut tiles: std::collections::BTreeMap<u16, [Vec<Phase>; 3]> = Default::default();
        let mut other: Vec<u64> = Vec::new();
        for (qi, q) in self.p.queues.iter().enumerate() {
            let items = self.items(qi, l);
            if items.iter().all(|i| i.alone == 0) {
                continue;
            }
            let slot = match q.id.unit {
                Unit::DmaIn => 0,
                Unit::Mac | Unit::Vector => 1,
                Unit::DmaOut => 2,
                Unit::Host => {
                    other.push(items.iter().map(|i| i.alone).sum());
                    continue;
                }
            };
            let parts = tiles.entry(q.id.tile).or_default();
            if let Some(p) = parts.get_mut(slot) {
                if !p.is_empty() {
                    // Two compute queues on one tile: not the emitter's shape; sum them.
                    other.push(items.iter().map(|i| i.alone).sum());
                    continue;
                }
                *p = items;
            }
        }
        let pipelined = if tiles.is_empty() { 0 } else { self.rounds(&tiles) };
        other.into_iter().fold(pipelined, u64::max)
    }

    /// The double-buffered pipeline of rounds (see the module comment).
    fn rounds(&self, tiles: &std::collections::BTreeMap<u16, [Vec<Phase>; 3]>) -> u64 {
        let parts: Vec<&[Vec<Phase>; 3]> = tiles.values().collect();
        let n = parts.iter().flat_map(|p| p.iter().map(|v| v.len())).max().unwrap_or(0);
        let at = |t: usize, k: usize, j: usize| -> Option<Phase> { parts.get(t)?.get(k)?.get(j).copied() };
        let get = |v: &[u64], j: usize| v.get(j).copied().unwrap_or(0);
        // Per tile, per round: when its load, compute and store phases end.
        let tiles_n = parts.len();
        let (mut ld, mut c, mut st) = (vec![Vec::new(); tiles_n], vec![Vec::new(); tiles_n], vec![Vec::new(); tiles_n]);
        let round_end = |v: &[Vec<u64>], j: usize| v.iter().map(|x| get(x, j)).max().unwrap_or(0);
        let mut channel_free = 0u64;
        let (mut jl, mut js) = (0usize, 0usize);
        while jl < n || js < n {
            let mut ld_ready = round_end(&ld, jl.wrapping_sub(1)).max(round_end(&st, jl.wrapping_sub(2)));
            if let Some(k) = (0..tiles_n).filter_map(|t| at(t, 0, jl).and_then(|p| p.waits_compute)).max() {
                ld_ready = ld_ready.max(round_end(&c, k));
            }
            // The store phase is ready when its first tile's compute is done.
            let st_ready = (0..tiles_n)
                .filter(|&t| at(t, 2, js).is_some())
                .map(|t| get(&c[t], js).max(get(&st[t], js.wrapping_sub(1))))
                .min()
                .unwrap_or(0);
            let can_load = jl < n && (jl < 2 || js + 2 > jl);
            let load = can_load && (js >= jl || ld_ready <= st_ready);
            if load {
                // The tiles' loads interleave on the channel and end in tile order, each one its last DMA
                // after the one before.
                // The first tile's multicasts: computing tiles that wait for them start once they land (first on
                // the channel); when the other tiles' loads wait for them too, they run alone before the round.
                let first = at(0, 0, jl).unwrap_or_default();
                let landed = ld_ready + first.multicast_alone;
                let ahead = (1..tiles_n).any(|t| at(t, 0, jl).is_some_and(|p| p.waits_other));
                let load_phase = |t: usize| -> Phase {
                    let mut p = at(t, 0, jl).unwrap_or_default();
                    if ahead && t == 0 {
                        p.alone = p.alone.saturating_sub(p.multicast_alone);
                        p.channel = p.channel.saturating_sub(p.multicast_channel);
                    }
                    p
                };
                if ahead {
                    ld_ready = landed;
                }
                let (mut channel, mut fixed, mut alone) = (0u64, 0u64, 0u64);
                for t in 0..tiles_n {
                    if at(t, 0, jl).is_some() {
                        let p = load_phase(t);
                        channel += p.channel;
                        fixed = fixed.max(p.fixed);
                        alone = alone.max(p.alone);
                    }
                }
                let start = ld_ready.max(channel_free);
                channel_free = start + channel;
                let mut end = (start + channel + fixed).max(ld_ready + alone);
                for t in (0..tiles_n).rev() {
                    let p = load_phase(t);
                    let mine = end.max(ld_ready + p.alone);
                    if let (Some(l), Some(cv)) = (ld.get_mut(t), c.get_mut(t)) {
                        l.push(mine);
                        let compute = at(t, 1, jl).map_or(0, |p| p.alone);
                        let prev = get(cv, jl.wrapping_sub(1));
                        let waits = at(t, 1, jl).is_some_and(|p| p.waits_other);
                        let ready = if waits { mine.max(landed) } else { mine };
                        cv.push(prev.max(ready) + compute);
                    }
                    end = end.saturating_sub(p.last);
                }
                jl += 1;
            } else {
                // Each tile stores when its compute is done; the stores take the channel in that order.
                let mut order: Vec<(u64, usize)> =
                    (0..tiles_n).map(|t| (get(&c[t], js).max(get(&st[t], js.wrapping_sub(1))), t)).collect();
                order.sort_unstable();
                for (ready, t) in order {
                    let p = at(t, 2, js).unwrap_or_default();
                    let start = ready.max(channel_free);
                    if p.channel > 0 {
                        channel_free = start + p.channel;
                    }
                    let end = (start + p.channel + p.fixed).max(ready + p.alone);
                    if let Some(sv) = st.get_mut(t) {
                        sv.push(end);
                    }
                }
                js += 1;
            }
        }
        round_end(&st, n.wrapping_sub(1)).max(round_end(&c, n.wrapping_sub(1)))
    }
}

/// The prediction as JSON (the shape of `accelrt run --report-json`).
pub fn to_json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The per-layer table and the totals, as `accelrt run --profile` prints them.
pub fn table(r: &Report) -> String {
    format!("{}\n{}", r.layer_table(), r.summary())
}
