//! The interconnect of a target: where DRAM attaches, the directed links of its topology and the route of each
//! tile's DMA traffic. Only geometry lives here: what a transfer costs is `crate::cost`, contention on the links
//! is the simulator's business.
//!
//! The choices, for every topology:
//! - **DRAM attaches at tile 0's router** (ring and mesh) or at its own crossbar port (crossbar). Tile 0 in a
//!   ring or mesh therefore reaches DRAM without crossing a link; every other tile crosses the links of its
//!   route, paying `noc.hop_latency_cycles` per link and sharing each link with the other transfers on it.
//! - **Links are directed** (full duplex): loads (DRAM -> tile) and stores (tile -> DRAM) never share a link.
//! - **Ring**: routers `0..tiles` in a cycle; a transfer takes the shorter way round, clockwise on a tie.
//! - **Mesh**: routers on a grid of `ceil(sqrt(tiles))` columns, tile `t` at column `t % cols`, row
//!   `t / cols`; dimension-ordered routing (X first, then Y) in both directions.
//! - **Crossbar**: every tile has one port link each way between it and the crossbar: one hop for every tile.
use crate::target::{Target, Topology};
use std::collections::BTreeMap;

/// An index into `Noc::links`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u32);

/// Which way a DMA goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// DRAM -> tile SRAM (`dma.load`).
    ToTile,
    /// Tile SRAM -> DRAM (`dma.store`).
    ToDram,
}

/// One end of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Node {
    /// The router of a tile (ring, mesh) or the tile's own port (crossbar).
    Router(u32),
    /// The crossbar switch.
    Crossbar,
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Node::Router(r) => write!(f, "r{r}"),
            Node::Crossbar => f.write_str("xbar"),
        }
    }
}

/// A directed link between two nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub from: Node,
    pub to: Node,
}

impl Link {
    /// `r0->r1`, `xbar->r3`: the name trace tracks and reports use.
    pub fn name(&self) -> String {
        format!("{}->{}", self.from, self.to)
    }
}

/// The links a target's DMA traffic uses and each tile's routes, in flow order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Noc {
    links: Vec<Link>,
    to_tile: Vec<Vec<LinkId>>,
    to_dram: Vec<Vec<LinkId>>,
}

impl Noc {
    /// The routes of every tile of `target`. Links are numbered in order of first use: tile 0's load route,
    /// its store route, then tile 1's, and so on (deterministic).
    pub fn new(target: &Target) -> Noc {
        let tiles = target.tiles;
        let mut ids: BTreeMap<(Node, Node), LinkId> = BTreeMap::new();
        let mut noc = Noc::default();
        for t in 0..tiles {
            for dir in [Direction::ToTile, Direction::ToDram] {
                let hops = node_path(target.noc.topology, tiles, t, dir);
                let route: Vec<LinkId> = hops
                    .windows(2)
                    .filter_map(|w| match w {
                        [a, b] => Some((*a, *b)),
                        _ => None,
                    })
                    .map(|(from, to)| {
                        *ids.entry((from, to)).or_insert_with(|| {
                            noc.links.push(Link { from, to });
                            LinkId(noc.links.len() as u32 - 1)
                        })
                    })
                    .collect();
                match dir {
                    Direction::ToTile => noc.to_tile.push(route),
                    Direction::ToDram => noc.to_dram.push(route),
                }
            }
        }
        noc
    }

    /// Every link some route uses.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// The links a transfer between DRAM and `tile` crosses, in the order the data flows (empty for a tile
    /// outside the target).
    pub fn route(&self, tile: u32, dir: Direction) -> &[LinkId] {
        let routes = match dir {
            Direction::ToTile => &self.to_tile,
            Direction::ToDram => &self.to_dram,
        };
        routes.get(tile as usize).map_or(&[], |r| r.as_slice())
    }

    /// The links a multicast from DRAM to the tiles of `mask` crosses, each once: the union of their load
    /// routes, each link after the one before it on its route (tiles in increasing order, then flow order).
    /// Tiles outside the target add nothing.
    pub fn multicast_links(&self, mask: u32) -> Vec<LinkId> {
        let mut out: Vec<LinkId> = Vec::new();
        for t in crate::command::mask_tiles(mask) {
            for &l in self.route(t as u32, Direction::ToTile) {
                if !out.contains(&l) {
                    out.push(l);
                }
            }
        }
        out
    }

    /// Links between DRAM and `tile` (the same both ways).
    pub fn hops(&self, tile: u32) -> u32 {
        self.route(tile, Direction::ToTile).len() as u32
    }
}

/// Links crossed between DRAM and `tile` on `target`, without building the whole `Noc`.
pub fn hops(target: &Target, tile: u32) -> u32 {
    (node_path(target.noc.topology, target.tiles, tile, Direction::ToTile).len() as u32).saturating_sub(1)
}

/// Columns of the mesh grid: the smallest `c` with `c * c >= tiles`.
pub fn mesh_columns(tiles: u32) -> u32 {
    let mut c = 1u32;
    while c.saturating_mul(c) < tiles {
        c += 1;
    }
    c
}

/// The nodes a transfer visits, from its source to its destination.
fn node_path(topology: Topology, tiles: u32, tile: u32, dir: Direction) -> Vec<Node> {
    let mut path = match topology {
        Topology::Crossbar => vec![Node::Crossbar, Node::Router(tile)],
        Topology::Ring => {
            let n = tiles.max(1);
            let t = tile % n;
            let clockwise = t <= n - t;
            let mut p = vec![Node::Router(0)];
            let mut at = 0u32;
            while at != t {
                at = if clockwise { (at + 1) % n } else { (at + n - 1) % n };
                p.push(Node::Router(at));
            }
            p
        }
        Topology::Mesh => {
            let cols = mesh_columns(tiles);
            let (tx, ty) = (tile % cols, tile / cols);
            match dir {
                // X first from (0, 0) to (tx, ty).
                Direction::ToTile => {
                    let mut p: Vec<Node> = (0..=tx).map(Node::Router).collect();
                    p.extend((1..=ty).map(|y| Node::Router(y * cols + tx)));
                    p
                }
                // X first from (tx, ty) to (0, 0), built forwards.
                Direction::ToDram => {
                    let mut p: Vec<Node> = (0..=tx).rev().map(|x| Node::Router(ty * cols + x)).collect();
                    p.extend((0..ty).rev().map(|y| Node::Router(y * cols)));
                    return p;
                }
            }
        }
    };
    if dir == Direction::ToDram {
        path.reverse();
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(topology: &str, tiles: u32) -> Target {
        let text = include_str!("../targets/x1.toml")
            .replace("topology = \"ring\"", &format!("topology = \"{topology}\""))
            .replace("tiles = 4", &format!("tiles = {tiles}"));
        Target::from_toml(&text).unwrap()
    }

    fn names(noc: &Noc, tile: u32, dir: Direction) -> Vec<String> {
        noc.route(tile, dir).iter().map(|l| noc.links()[l.0 as usize].name()).collect()
    }

    #[test]
    fn ring_takes_the_shorter_way_clockwise_on_ties() {
        let noc = Noc::new(&target("ring", 4));
        assert!(names(&noc, 0, Direction::ToTile).is_empty());
        assert_eq!(names(&noc, 1, Direction::ToTile), ["r0->r1"]);
        assert_eq!(names(&noc, 2, Direction::ToTile), ["r0->r1", "r1->r2"]);
        assert_eq!(names(&noc, 3, Direction::ToTile), ["r0->r3"]);
        assert_eq!(names(&noc, 2, Direction::ToDram), ["r2->r1", "r1->r0"]);
        assert_eq!((noc.hops(0), noc.hops(1), noc.hops(2), noc.hops(3)), (0, 1, 2, 1));
        // Tiles 1 and 2 share the link out of router 0; loads and stores never share one.
        assert_eq!(noc.route(1, Direction::ToTile)[0], noc.route(2, Direction::ToTile)[0]);
        assert_eq!(noc.links().len(), 6);
        // A multicast to every tile crosses each load link once: r0->r1 carries tile 1's and tile 2's bytes.
        let all: Vec<String> = noc.multicast_links(0b1111).iter().map(|l| noc.links()[l.0 as usize].name()).collect();
        assert_eq!(all, ["r0->r1", "r1->r2", "r0->r3"]);
        assert!(noc.multicast_links(0b0001).is_empty());
        assert_eq!(noc.multicast_links(1 << 9), []);
    }

    #[test]
    fn mesh_routes_x_first_and_crossbar_is_one_hop() {
        let t = target("mesh", 16);
        let noc = Noc::new(&t);
        assert_eq!(names(&noc, 6, Direction::ToTile), ["r0->r1", "r1->r2", "r2->r6"]);
        assert_eq!(names(&noc, 6, Direction::ToDram), ["r6->r5", "r5->r4", "r4->r0"]);
        assert_eq!(noc.hops(15), 6);
        for tile in 0..16 {
            assert_eq!(hops(&t, tile), noc.hops(tile));
        }
        let noc = Noc::new(&target("crossbar", 4));
        assert_eq!(names(&noc, 0, Direction::ToTile), ["xbar->r0"]);
        assert_eq!(names(&noc, 3, Direction::ToDram), ["r3->xbar"]);
        assert!((0..4).all(|t| noc.hops(t) == 1));
    }
}
