//! Cross-layer prefetch of resident operands: a layer's resident weights are constants, so they can be loaded
//! while the layer before it still computes, as soon as the bytes they land in are ones that layer does not
//! touch. The DRAM channel then streams the next layer's weights under the current layer's compute instead of
//! idling until the barrier and then making every tile wait for them.
//!
//! Safety: every tile's DMA-in queue has passed the barrier of the layer before (so every earlier layer is
//! complete on every tile) when it reaches the prefetch, and the prefetch's bytes are disjoint from every SRAM
//! byte that layer's commands read or write on any tile (`Live`).
use super::multicast::Load;
use super::{WorkItem, RESIDENT};
use crate::lower::tiling::align64;
use accel_ops::command::Space;
use accel_ops::command::{Command, SramAddr};

/// Half-open SRAM byte ranges a tile layer uses on some tile (the same on all: the union of every tile's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Live(pub Vec<(u64, u64)>);

impl Live {
    /// A layer's ranges: the used part of its two buffer sets and its resident region.
    pub fn of_layer(half: u64, used: u64, resident_base: u64, resident_bytes: u64) -> Live {
        let mut ranges = vec![(0, used), (half, half + used)];
        if resident_bytes > 0 {
            ranges.push((resident_base, resident_base + resident_bytes));
        }
        Live(ranges.into_iter().filter(|(a, b)| b > a).collect())
    }

    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.0.iter().any(|&(a, b)| start < b && a < end)
    }
}

/// The SRAM bytes `[start, end)` a DMA of a work item or resident set touches (offset, DRAM address, copy);
/// `None` when its span overflows (the verifier refuses such a copy).
pub fn transfer_span(&(s, dram, copy): &Load) -> Option<(u64, u64)> {
    let load = Command::Load { sram: SramAddr(u32::try_from(s).ok()?), dram, copy };
    let access = load.footprint().ok()?.into_iter().find(|a| a.space == Space::Sram)?;
    Some((access.start, access.end()))
}

/// The bytes of its buffer set that a work item touches, from offset 0: the end of its furthest load, store or
/// compute operand (resident operands excluded). An operand whose footprint cannot be computed counts as the
/// whole set (`set`), which keeps the answer conservative.
pub fn buffer_extent(item: &WorkItem, set: u64) -> u64 {
    let mut end = 0;
    for t in item.loads.iter().chain(&item.stores) {
        let Some((_, e)) = transfer_span(t) else { return set };
        end = end.max(e);
    }
    for c in &item.compute {
        let Ok(accesses) = c.footprint() else { return set };
        for a in accesses.iter().filter(|a| a.space == Space::Sram && a.start < RESIDENT as u64) {
            end = end.max(a.end());
        }
    }
    end
}

/// Where a layer's `bytes` of resident operands can go so that they are loaded during the layer before: a
/// 64-byte aligned start in `[0, sram)` whose range misses both that layer's ranges (`before`) and this
/// layer's own buffers (`own`). `preferred` (the usual place, after the two buffer sets) wins when it fits;
/// otherwise the lowest fitting start. `None`: no room, the operands are loaded after the barrier as before.
pub fn place_resident(sram: u64, bytes: u64, preferred: u64, before: &Live, own: &Live) -> Option<u64> {
    if bytes == 0 {
        return None;
    }
    let fits = |start: u64| {
        let end = start.checked_add(bytes)?;
        (end <= sram && !before.overlaps(start, end) && !own.overlaps(start, end)).then_some(start)
    };
    if let Some(at) = fits(preferred) {
        return Some(at);
    }
    // A fitting range, if any, starts at 0 or right after some range ends.
    let mut starts: Vec<u64> = before.0.iter().chain(&own.0).map(|&(_, end)| align64(end)).collect();
    starts.push(0);
    starts.sort_unstable();
    starts.into_iter().find_map(fits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use accel_ops::command::{Act, Copy3, DramAddr};
    use accel_ops::op::UnaryOp;

    #[test]
    fn the_usual_place_wins_when_the_layer_before_leaves_it_free() {
        // The layer before used 100 KiB of each 900 KiB set and had no resident operands.
        let before = Live::of_layer(900 << 10, 100 << 10, 1800 << 10, 0);
        let own = Live::of_layer(800 << 10, 50 << 10, 1600 << 10, 0);
        assert_eq!(place_resident(2 << 20, 400 << 10, 1600 << 10, &before, &own), Some(1600 << 10));
    }

    #[test]
    fn a_gap_is_found_when_the_usual_place_is_busy() {
        // The layer before keeps 448 KiB of resident weights at the top; its sets use 200 KiB each.
        let before = Live::of_layer(800 << 10, 200 << 10, 1600 << 10, 448 << 10);
        // This layer's sets use 100 KiB each of 700 KiB; its 600 KiB would go at 1400 KiB (busy).
        let own = Live::of_layer(700 << 10, 100 << 10, 1400 << 10, 0);
        let at = place_resident(2 << 20, 300 << 10, 1400 << 10, &before, &own).expect("a gap");
        // The first range missing both: after the layer before's first set (200 KiB) ... up to 500 KiB.
        assert_eq!(at, 200 << 10);
        assert!(!before.overlaps(at, at + (300 << 10)) && !own.overlaps(at, at + (300 << 10)));
        // Too big for any gap.
        assert_eq!(place_resident(2 << 20, 1200 << 10, 1400 << 10, &before, &own), None);
    }

    #[test]
    fn an_items_extent_covers_its_transfers_and_operands_but_not_resident_ones() {
        let item = WorkItem {
            loads: vec![(0, DramAddr(0), Copy3::contiguous(1000)), (1024, DramAddr(0), Copy3::contiguous(64))],
            compute: vec![Command::Unary {
                func: Act(Some(UnaryOp::Relu)),
                src: SramAddr(0),
                dst: SramAddr(4096),
                len: 10,
            }],
            stores: vec![(4096, DramAddr(0), Copy3::contiguous(40))],
        };
        assert_eq!(buffer_extent(&item, 1 << 20), 4136);
        let resident_src = WorkItem {
            compute: vec![Command::Unary {
                func: Act(Some(UnaryOp::Relu)),
                src: SramAddr(RESIDENT),
                dst: SramAddr(64),
                len: 4,
            }],
            loads: Vec::new(),
            stores: Vec::new(),
        };
        assert_eq!(buffer_extent(&resident_src, 1 << 20), 80);
    }
}
