//! Cross-layer prefetch of resident weights (`compiler/src/lower/emit/prefetch.rs`), checked on the compiled
//! programs themselves, independently of how the emitter decided: every load a DMA-in queue issues for a layer
//! before that layer's barrier wait writes SRAM bytes that no command of the tile layer before it reads or
//! writes, on any tile; loads only from the constants; and the generated networks do prefetch (most of their
//! chains). The outputs of the same programs are checked against tract in `e2e_generated.rs`.
use accel_ops::command::{Command, Space, Unit};
use accel_ops::program::Program;
use accel_ops::report::command_layer;
use accel_ops::target::Target;
use accel_tests::harness::{compile, compile_int8};

/// SRAM byte ranges per tile and layer: (layer, tile, start, end).
fn sram_accesses(p: &Program) -> Vec<(usize, u16, u64, u64)> {
    let mut out = Vec::new();
    for (qi, q) in p.queues.iter().enumerate() {
        if q.id.unit == Unit::Host {
            continue;
        }
        for (ci, c) in q.commands.iter().enumerate() {
            let l = command_layer(p, qi, ci);
            let tiles = c.sram_destinations(q.id.tile);
            for a in c.footprint().expect("verified program").iter().filter(|a| a.space == Space::Sram) {
                for &t in &tiles {
                    out.push((l, t, a.start, a.end()));
                }
            }
        }
    }
    out
}

/// Per layer, the loads its DMA-in queues make before waiting at the barrier (semaphore 0): (tile, command).
fn prefetches(p: &Program) -> Vec<(usize, u16, Command)> {
    let mut out = Vec::new();
    for (qi, q) in p.queues.iter().enumerate().filter(|(_, q)| q.id.unit == Unit::DmaIn) {
        let mut pending: Vec<(usize, Command)> = Vec::new();
        for (ci, c) in q.commands.iter().enumerate() {
            let l = command_layer(p, qi, ci);
            pending.retain(|(pl, _)| *pl == l);
            match c {
                Command::Load { .. } | Command::Multicast { .. } => pending.push((l, c.clone())),
                Command::Wait { sem: 0, .. } => out.extend(pending.drain(..).map(|(l, c)| (l, q.id.tile, c))),
                _ => {}
            }
        }
    }
    out
}

fn check(name: &str, p: &Program, min_layers: usize) {
    let accesses = sram_accesses(p);
    let tile_layers: Vec<usize> = {
        let mut v: Vec<usize> = accesses.iter().map(|a| a.0).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let pre = prefetches(p);
    // Constants sit at DRAM 0 (`ProgramMeta::dram_bytes`).
    let constants = 0..p.constants.len() as u64;
    for (l, tile, c) in &pre {
        let before = tile_layers.iter().copied().filter(|&k| k < *l).max().expect("a tile layer before a prefetch");
        let acc = c.footprint().expect("verified");
        let dram = acc.iter().find(|a| a.space == Space::Dram).expect("a DRAM side");
        assert!(
            constants.contains(&dram.start) && dram.end() <= constants.end,
            "{name}: layer {l} prefetches non-constants"
        );
        let s = acc.iter().find(|a| a.space == Space::Sram).expect("an SRAM side");
        for t in c.sram_destinations(*tile) {
            let clash = accesses.iter().find(|&&(k, at, a, b)| k == before && at == t && s.start < b && a < s.end());
            assert!(clash.is_none(), "{name}: layer {l}'s prefetch on tile {t} {s:?} meets layer {before}'s {clash:?}");
        }
    }
    let mut layers: Vec<usize> = pre.iter().map(|p| p.0).collect();
    layers.dedup();
    eprintln!("{name}: {} prefetched layers, {} loads", layers.len(), pre.len());
    assert!(layers.len() >= min_layers, "{name}: only {} layers prefetch", layers.len());
}

#[test]
fn resnet50_prefetches_into_free_sram() {
    let m = accel_modelgen::zoo::resnet50(96, 96, 1).expect("model");
    let c = compile(&accel_modelgen::to_bytes(&m), &Target::x1(), &[]);
    check("resnet50@96 fp32", c.program(), 10);
}

#[test]
fn mobilenetv2_int8_prefetches_into_free_sram() {
    let m = accel_modelgen::zoo::mobilenetv2(96, 96, 2).expect("model");
    let c = compile_int8(&accel_modelgen::to_bytes(&m), &[1, 3, 96, 96], 2, 7);
    check("mobilenetv2@96 int8", c.program(), 10);
}
