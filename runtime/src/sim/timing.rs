//! The shared resources of the timing model and the accounting of stalls by cause: the one DRAM channel, the
//! interconnect links (`accel_ops::noc`), and the semaphores' signal times. `exec` asks when a queue's next
//! command can start (`ready`) and charges each command it runs (`charge`); this module never touches data.
//!
//! A DMA issues (`ISSUE_CYCLES`), then streams through its resources in flow order (a load: the DRAM channel,
//! then the links from DRAM's router to the tile; a store: the links back, then the channel). Each resource
//! serves one transfer at a time, for that transfer's time at its own bandwidth, in the order DMAs were issued
//! (ties: the lower queue index). A stage starts when the data's head arrives (one hop latency per link crossed)
//! and its resource is free, and cannot finish before the stage before it has delivered the last byte; the DRAM
//! latency comes last. Alone, a DMA takes exactly `accel_ops::cost::DmaTiming::isolated`; anything more is a
//! stall, charged to the channel or the links in the order the delay arose.
use crate::verify::MAX_SEMAPHORES;
use accel_ops::command::{Command, QueueId, Unit};
use accel_ops::cost::{Cost, DmaTiming};
use accel_ops::noc::{Direction, LinkId, Noc};
use accel_ops::program::Program;
use accel_ops::report::Stalls;

/// A resource shared between tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    DramChannel,
    Link(LinkId),
}

/// One DMA holding one resource: `[start, end)` in cycles, for the command at `record` (an index into
/// `Trace::records`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceUse {
    pub resource: Resource,
    pub record: u32,
    pub start: u64,
    pub end: u64,
}

/// What one command cost on the time line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charged {
    /// When the command finished: its start plus its own cost plus `stalls.total()`.
    pub end: u64,
    pub stalls: Stalls,
}

/// The state of the shared resources and the semaphores during one run.
#[derive(Debug)]
pub struct Timing<'p> {
    program: &'p Program,
    noc: Noc,
    channel_free: u64,
    link_free: Vec<u64>,
    /// Per semaphore, in order: when each signal completed and which queue sent it (the value-th signal is at
    /// `[value - 1]`). Commands are charged in non-decreasing start order, so the lists are sorted.
    signals: Vec<Vec<(u64, u32)>>,
    uses: Vec<ResourceUse>,
}

impl<'p> Timing<'p> {
    pub fn new(program: &'p Program) -> Timing<'p> {
        let noc = Noc::new(&program.meta.target);
        let links = noc.links().len();
        Timing {
            program,
            noc,
            channel_free: 0,
            link_free: vec![0; links],
            signals: vec![Vec::new(); (program.meta.semaphores as usize).min(MAX_SEMAPHORES)],
            uses: Vec::new(),
        }
    }

    /// When a command at the head of a queue whose clock reads `now` can start, or `None` while it is blocked
    /// (a wait whose signal has not happened). DMAs start at `now`: the resources they wait for are stalls
    /// inside the command.
    pub fn ready(&self, cmd: &Command, now: u64) -> Option<u64> {
        match cmd {
            Command::Wait { value: 0, .. } => Some(now),
            Command::Wait { sem, value } => {
                let list = self.signals.get(*sem as usize)?;
                list.get(*value as usize - 1).map(|&(t, _)| now.max(t))
            }
            _ => Some(now),
        }
    }

    /// Charges `cmd` of queue number `q` starting at `now` (the queue's clock) with its isolated `cost`, as
    /// record number `record`. A wait's stall is the time until its signal, by where the signal came from.
    pub fn charge(&mut self, q: usize, cmd: &Command, now: u64, cost: &Cost, record: u32) -> Charged {
        let queue = self.program.queues.get(q).map_or(QueueId { tile: 0, unit: Unit::Host }, |x| x.id);
        let mut stalls = Stalls::default();
        let end = match cmd {
            Command::Wait { sem, value } => {
                let got = match value {
                    0 => None,
                    v => self.signals.get(*sem as usize).and_then(|l| l.get(*v as usize - 1)).copied(),
                };
                let start = match got {
                    Some((t, from)) if t > now => {
                        let from = self.program.queues.get(from as usize).map(|q| q.id);
                        let blocked = t - now;
                        match from {
                            Some(id) if id.unit == Unit::Host => stalls.host = blocked,
                            Some(id) if id.tile == queue.tile && queue.unit != Unit::Host => stalls.unit = blocked,
                            _ => stalls.tile = blocked,
                        }
                        t
                    }
                    _ => now,
                };
                start.saturating_add(cost.cycles)
            }
            Command::Signal { sem } => {
                let end = now.saturating_add(cost.cycles);
                if let Some(list) = self.signals.get_mut(*sem as usize) {
                    list.push((end, q as u32));
                }
                end
            }
            Command::Load { copy, .. } | Command::Store { copy, .. } => {
                let dir = if matches!(cmd, Command::Load { .. }) { Direction::ToTile } else { Direction::ToDram };
                let bytes = copy.bytes().unwrap_or(0);
                let t = DmaTiming::new(&self.program.meta.target, bytes, self.noc.hops(queue.tile as u32));
                let (end, s) = self.dma(queue.tile as u32, dir, &t, now, record);
                stalls = s;
                end
            }
            Command::Multicast { copy, tiles, .. } => {
                let bytes = copy.bytes().unwrap_or(0);
                let hops = accel_ops::command::mask_tiles(*tiles).map(|t| self.noc.hops(t as u32)).max();
                let t = DmaTiming::new(&self.program.meta.target, bytes, hops.unwrap_or(0));
                let (end, s) = self.multicast(*tiles, &t, now, record);
                stalls = s;
                end
            }
            _ => now.saturating_add(cost.cycles),
        };
        Charged { end, stalls }
    }

    /// Runs a multicast through the DRAM channel once, then through each link of its destinations' routes once
    /// (a link starts when its predecessor on the route delivers, as in `dma`); it ends when the last
    /// destination has its last byte. Stalls: the wait for the channel, then the links, up to what the end lost.
    fn multicast(&mut self, mask: u32, t: &DmaTiming, now: u64, record: u32) -> (u64, Stalls) {
        let t0 = now.saturating_add(t.issue);
        let start = t0.max(self.channel_free);
        let finish = start + t.dram_xfer;
        self.channel_free = finish;
        if finish > start {
            self.uses.push(ResourceUse { resource: Resource::DramChannel, record, start, end: finish });
        }
        // Per link already crossed: when the data's head and its last byte leave it.
        let mut crossed: Vec<(LinkId, u64, u64)> = Vec::new();
        let mut last = finish;
        for tile in accel_ops::command::mask_tiles(mask) {
            let (mut head, mut tail) = (start, finish);
            for &l in self.noc.route(tile as u32, Direction::ToTile) {
                if let Some(&(_, h, tl)) = crossed.iter().find(|(c, _, _)| *c == l) {
                    (head, tail) = (h, tl);
                    continue;
                }
                let free = self.link_free.get(l.0 as usize).copied().unwrap_or(0);
                let s = head.max(free);
                let f = (s + t.link_xfer).max(tail);
                if let Some(slot) = self.link_free.get_mut(l.0 as usize) {
                    *slot = f;
                }
                if f > s {
                    self.uses.push(ResourceUse { resource: Resource::Link(l), record, start: s, end: f });
                }
                (head, tail) = (s + t.hop_latency, f + t.hop_latency);
                crossed.push((l, head, tail));
            }
            last = last.max(tail);
        }
        let end = last + t.dram_latency;
        let mut lost = end.saturating_sub(now.saturating_add(t.isolated()));
        let dram = (start - t0).min(lost);
        lost -= dram;
        (end, Stalls { dram, link: lost, ..Stalls::default() })
    }

    /// Runs one DMA through its resources (see the module comment); returns its end and its stalls.
    fn dma(&mut self, tile: u32, dir: Direction, t: &DmaTiming, now: u64, record: u32) -> (u64, Stalls) {
        // Stages in flow order: (resource, transfer cycles, latency to the next stage).
        let links = self.noc.route(tile, dir).iter().map(|&l| (Resource::Link(l), t.link_xfer, t.hop_latency));
        let channel = std::iter::once((Resource::DramChannel, t.dram_xfer, 0));
        let stages: Vec<(Resource, u64, u64)> = match dir {
            Direction::ToTile => channel.chain(links).collect(),
            Direction::ToDram => links.chain(channel).collect(),
        };
        let t0 = now.saturating_add(t.issue);
        // `head`: when the data's head reaches this stage; `tail`: when the stage before delivered the last byte.
        let (mut head, mut tail) = (t0, t0);
        // The same stage times with every resource free, to measure the delay each stage adds.
        let (mut free_head, mut free_tail) = (t0, t0);
        let mut prev_delay = 0u64;
        let mut stalls = Stalls::default();
        for (res, xfer, latency) in stages {
            let free = match res {
                Resource::DramChannel => self.channel_free,
                Resource::Link(l) => self.link_free.get(l.0 as usize).copied().unwrap_or(0),
            };
            let start = head.max(free);
            let finish = (start + xfer).max(tail);
            match res {
                Resource::DramChannel => self.channel_free = finish,
                Resource::Link(l) => {
                    if let Some(f) = self.link_free.get_mut(l.0 as usize) {
                        *f = finish;
                    }
                }
            }
            if finish > start {
                self.uses.push(ResourceUse { resource: res, record, start, end: finish });
            }
            let free_finish = (free_head + xfer).max(free_tail);
            let delay = finish.saturating_sub(free_finish);
            if delay > prev_delay {
                match res {
                    Resource::DramChannel => stalls.dram += delay - prev_delay,
                    Resource::Link(_) => stalls.link += delay - prev_delay,
                }
                prev_delay = delay;
            }
            head = start + latency;
            tail = finish + latency;
            free_head += latency;
            free_tail = free_finish + latency;
        }
        let end = tail + t.dram_latency;
        // A later, slower stage can absorb an earlier delay: charge only what the end actually lost, in order.
        let mut lost = end.saturating_sub(now.saturating_add(t.isolated()));
        for part in [&mut stalls.dram, &mut stalls.link] {
            let keep = (*part).min(lost);
            lost -= keep;
            *part = keep;
        }
        (end, stalls)
    }

    /// Every resource use, in the order the DMAs were charged.
    pub fn into_uses(self) -> Vec<ResourceUse> {
        self.uses
    }
}
