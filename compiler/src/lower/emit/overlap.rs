//! The time estimate of a double-buffered layer, shared by the streamed, weight-stationary and fused-chain
//! planners so that their choices compare like with like. Double buffering hides a work item's DMAs behind the
//! previous item's compute, but not the first item's loads, the last item's compute and stores, nor the
//! resident operands loaded before the first item: a layer cut into one item per tile runs load, compute and
//! store one after another. Estimating only `max(compute, DRAM)` made the planners pick the tallest stripe that
//! fits, which is exactly that case (YOLOv3's 38x38 layers: 627k cycles where 490k were possible).
use super::Budget;

/// One work item as the estimate sees it (the layer's largest).
#[derive(Debug, Clone, Copy)]
pub struct ItemCost {
    pub load_bytes: f64,
    /// DMA commands that load them (each pays the DMA latency on its queue).
    pub loads: usize,
    pub store_bytes: f64,
    pub stores: usize,
    /// Cycles of the item's compute commands.
    pub compute: f64,
}

/// Operands a tile loads once per phase, before the phase's items.
#[derive(Debug, Clone, Copy)]
pub struct ResidentCost {
    pub bytes: f64,
    pub loads: usize,
}

/// DMA commands that load one convolution's resident operands: weights and bias, and in int8 the
/// requantization header and the channels' parameters (`window::quant_loads`).
pub fn layer_resident_loads(int8: bool) -> usize {
    if int8 {
        4
    } else {
        2
    }
}

/// How a layer's work spreads over the tiles.
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    /// Tiles that work (they share the DRAM channel evenly while they all move data).
    pub active: usize,
    /// Phases per tile, each loading its resident operands and then running `items` items.
    pub phases: usize,
    pub items: usize,
}

/// Estimated cycles of the busiest tile, and never less than the DRAM channel needs for `total_bytes`: each
/// phase loads its resident operands and the first item's input, then runs the items with every item's DMAs
/// under the previous item's compute (or the other way round when DMA is longer), then computes and stores the
/// last one.
pub fn overlapped_cycles(b: &Budget, spread: Spread, resident: ResidentCost, item: ItemCost, total_bytes: f64) -> f64 {
    let bw = b.dram_bytes_per_cycle.max(1e-9);
    let share = spread.active.max(1) as f64 / bw;
    let dma = |bytes: f64, count: usize| count as f64 * b.dma_latency + bytes * share;
    let load = dma(item.load_bytes, item.loads);
    let store = dma(item.store_bytes, item.stores);
    // Loads and stores run on their own queues; they share the channel.
    let steady_dma = (item.loads as f64 * b.dma_latency).max(item.stores as f64 * b.dma_latency)
        + (item.load_bytes + item.store_bytes) * share;
    let n = spread.items.max(1) as f64;
    let phase =
        dma(resident.bytes, resident.loads) + load + (n - 1.0) * item.compute.max(steady_dma) + item.compute + store;
    (spread.phases.max(1) as f64 * phase).max(total_bytes / bw)
}

/// `overlapped_cycles` for a tile whose phases alternate between two resident slots: only the first phase
/// loads its resident operands up front; each later phase's load runs under the phase before it, sharing the
/// channel with that phase's item DMAs.
pub fn double_buffered_cycles(
    b: &Budget,
    spread: Spread,
    resident: ResidentCost,
    item: ItemCost,
    total_bytes: f64,
) -> f64 {
    let one = Spread { phases: 1, ..spread };
    let first = overlapped_cycles(b, one, resident, item, 0.0);
    let none = ResidentCost { bytes: 0.0, loads: 0 };
    let body = overlapped_cycles(b, one, none, item, 0.0);
    let bw = b.dram_bytes_per_cycle.max(1e-9);
    let share = spread.active.max(1) as f64 / bw;
    let n = spread.items.max(1) as f64;
    // The next phase's resident bytes and this phase's item DMAs on the channel, against the phase's compute.
    let channel =
        (resident.bytes + n * (item.load_bytes + item.store_bytes)) * share + resident.loads as f64 * b.dma_latency;
    let later = body.max(channel);
    (first + spread.phases.saturating_sub(1) as f64 * later).max(total_bytes / bw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> Budget {
        Budget {
            cap: 1 << 20,
            tiles: 4,
            dram_bytes_per_cycle: 16.0,
            ops_per_cycle: 1024.0,
            dma_latency: 100.0,
            chain_resident: 0,
        }
    }

    /// One item per tile cannot overlap anything: load, compute and store add up.
    #[test]
    fn a_single_item_runs_its_dmas_and_compute_in_sequence() {
        let item = ItemCost { load_bytes: 64_000.0, loads: 1, store_bytes: 32_000.0, stores: 1, compute: 10_000.0 };
        let spread = Spread { active: 4, phases: 1, items: 1 };
        let none = ResidentCost { bytes: 0.0, loads: 0 };
        let t = overlapped_cycles(&budget(), spread, none, item, 4.0 * 96_000.0);
        // 4 tiles share 16 B/cycle: 4 B/cycle each.
        assert_eq!(t, 100.0 + 16_000.0 + 10_000.0 + 100.0 + 8_000.0);
    }

    /// Cut into eight, the same work hides most of its DMAs behind compute.
    #[test]
    fn more_items_hide_dma_behind_compute() {
        let none = ResidentCost { bytes: 0.0, loads: 0 };
        let whole = ItemCost { load_bytes: 64_000.0, loads: 1, store_bytes: 32_000.0, stores: 1, compute: 40_000.0 };
        let eighth = ItemCost { load_bytes: 8_000.0, store_bytes: 4_000.0, compute: 5_000.0, ..whole };
        let one = overlapped_cycles(&budget(), Spread { active: 4, phases: 1, items: 1 }, none, whole, 0.0);
        let eight = overlapped_cycles(&budget(), Spread { active: 4, phases: 1, items: 8 }, none, eighth, 0.0);
        assert!(eight < one * 0.8, "{eight} vs {one}");
        assert!(eight >= 40_000.0);
    }

    /// The channel bounds everything, however the items overlap.
    #[test]
    fn the_dram_channel_is_a_floor() {
        let none = ResidentCost { bytes: 0.0, loads: 0 };
        let item = ItemCost { load_bytes: 0.0, loads: 0, store_bytes: 0.0, stores: 0, compute: 1.0 };
        let t = overlapped_cycles(&budget(), Spread { active: 1, phases: 1, items: 1 }, none, item, 1.6e6);
        assert_eq!(t, 1e5);
    }
}
