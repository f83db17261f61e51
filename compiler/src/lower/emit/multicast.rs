//! Loads that several tiles make alike, done once: when the tiles of a layer split its output channels, item
//! `j` of every tile reads the same input stripe into the same buffer offset; when they split its rows (a fused
//! chain), every tile loads the same resident weights. The group's first tile then multicasts them
//! (`dma.multicast`: one DRAM read for all of them) and the others wait for its signal.
use super::WorkItem;
use accel_ops::command::{Copy3, DramAddr};

/// Loads below this many bytes are not shared: their time is the DMA's latency (~100 cycles, ~1,600 bytes of
/// channel time on `x1`), which sharing does not save, while it ties the tiles' queues together.
pub const MIN_SHARED_BYTES: u64 = 2048;

/// One DMA of a work item: SRAM offset in its buffer set, DRAM address, copy.
pub type Load = (u64, DramAddr, Copy3);

/// Per item index `j`: the tiles (indices into the group) that have an item `j`, and the loads all of those
/// items make; empty when fewer than two tiles take part, when the group's first tile (the one that
/// multicasts) has no item `j`, or when no load of at least `MIN_SHARED_BYTES` is common.
pub struct Sharing {
    pub rounds: Vec<(Vec<usize>, Vec<Load>)>,
    /// The layer's resident operands are multicast by the first tile before its first item (set by the
    /// emitter: every busy tile loads the same ones).
    pub resident: bool,
}

impl Sharing {
    /// `per_tile[t]`: tile `t`'s items in order.
    pub fn find(per_tile: &[Vec<&WorkItem>]) -> Sharing {
        let len = per_tile.iter().map(Vec::len).max().unwrap_or(0);
        let rounds = (0..len)
            .map(|j| {
                let members: Vec<usize> = (0..per_tile.len()).filter(|&t| per_tile[t].len() > j).collect();
                if members.len() < 2 || members.first() != Some(&0) {
                    return (Vec::new(), Vec::new());
                }
                let common: Vec<Load> = per_tile[0][j]
                    .loads
                    .iter()
                    .filter(|l| l.2.bytes().unwrap_or(0) >= MIN_SHARED_BYTES)
                    .filter(|l| members.iter().all(|&t| per_tile[t][j].loads.contains(l)))
                    .copied()
                    .collect();
                if common.is_empty() {
                    (Vec::new(), Vec::new())
                } else {
                    (members, common)
                }
            })
            .collect();
        Sharing { rounds, resident: false }
    }

    /// The tiles taking part in round `j` and its shared loads (`None`: nothing shared).
    pub fn round(&self, j: usize) -> Option<(&[usize], &[Load])> {
        self.rounds.get(j).filter(|(m, _)| !m.is_empty()).map(|(m, l)| (m.as_slice(), l.as_slice()))
    }

    /// How many times the multicasting tile has signalled "multicasts landed" once round `j`'s multicasts are
    /// in: once for the resident operands, once per shared round up to `j`.
    pub fn landed(&self, j: usize) -> u32 {
        let rounds = self.rounds.iter().take(j + 1).filter(|(m, _)| !m.is_empty()).count();
        u32::from(self.resident) + rounds as u32
    }

    /// None shared in any round.
    pub fn none() -> Sharing {
        Sharing { rounds: Vec::new(), resident: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(loads: &[(u64, u64)]) -> WorkItem {
        WorkItem {
            loads: loads.iter().map(|&(s, d)| (s, DramAddr(d), Copy3::contiguous(4096))).collect(),
            compute: Vec::new(),
            stores: Vec::new(),
        }
    }

    #[test]
    fn common_loads_of_a_round_are_shared_and_private_ones_are_not() {
        // Tiles 0-2 read input stripe 0x100 into offset 0, each with its own residual at 0x40.
        let a = [item(&[(0, 0x100), (0x40, 0x1000)]), item(&[(0, 0x200)])];
        let b = [item(&[(0, 0x100), (0x40, 0x2000)]), item(&[(0, 0x200)])];
        let c = [item(&[(0, 0x100), (0x40, 0x3000)])];
        let per_tile: Vec<Vec<&WorkItem>> = [&a[..], &b[..], &c[..]].iter().map(|v| v.iter().collect()).collect();
        let s = Sharing::find(&per_tile);
        let (members, loads) = s.round(0).expect("round 0 shares");
        assert_eq!(members, [0, 1, 2]);
        assert_eq!(loads, [(0, DramAddr(0x100), Copy3::contiguous(4096))]);
        // Round 1: tile 2 has no item; tiles 0 and 1 share.
        assert_eq!(s.round(1).map(|(m, _)| m.to_vec()), Some(vec![0, 1]));
        assert!(s.round(2).is_none());
        // The first tile signals once per shared round, and once more for multicast resident operands.
        assert_eq!((s.landed(0), s.landed(1), s.landed(5)), (1, 2, 2));
        let s = Sharing { resident: true, ..s };
        assert_eq!((s.landed(0), s.landed(1)), (2, 3));
    }

    #[test]
    fn a_round_without_the_first_tile_or_a_common_load_shares_nothing() {
        let a = [item(&[(0, 0x100)])];
        let b = [item(&[(0, 0x200)]), item(&[(0, 0x300)])];
        let c = [item(&[(0, 0x200)]), item(&[(0, 0x300)])];
        let per_tile: Vec<Vec<&WorkItem>> = [&a[..], &b[..], &c[..]].iter().map(|v| v.iter().collect()).collect();
        let s = Sharing::find(&per_tile);
        assert!(s.round(0).is_none(), "different stripes");
        assert!(s.round(1).is_none(), "tile 0 has no item 1");
        // Offsets differ: not the same load.
        let d = [item(&[(64, 0x100)])];
        let per_tile: Vec<Vec<&WorkItem>> = [&a[..], &d[..]].iter().map(|v| v.iter().collect()).collect();
        assert!(Sharing::find(&per_tile).round(0).is_none());
        // Small loads are not worth tying the tiles together.
        let small = |d: u64| WorkItem { loads: vec![(0, DramAddr(d), Copy3::contiguous(64))], ..item(&[]) };
        let (e, f) = ([small(0x100)], [small(0x100)]);
        let per_tile: Vec<Vec<&WorkItem>> = [&e[..], &f[..]].iter().map(|v| v.iter().collect()).collect();
        assert!(Sharing::find(&per_tile).round(0).is_none());
    }
}
