//! Cross-layer prefetch of resident weights (`compiler/src/lower/emit/prefetch.rs`), checked on the compiled
//! programs themselves, independently of how the emitter decided: every load a DMA-in queue issues for a layer
//! before that layer's barrier wait writes SRAM bytes that no command of a layer that may still be running (from
//! the last barrier that queue passed) reads or writes, on any destination tile; it loads only constants; and
//! the generated networks do prefetch (most of their chains and weight-stationary layers). The outputs of the same programs are checked against tract in `e2e_generated.rs`.
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

/// A load a DMA-in queue makes for a layer before waiting at that layer's barrier (semaphore 0).
struct Prefetch {
    layer: usize,
    tile: u16,
    command: Command,
    /// The layer of the last barrier this queue passed before it: every layer before that one is complete.
    entered: usize,
}

fn prefetches(p: &Program) -> Vec<Prefetch> {
    let mut out = Vec::new();
    for (qi, q) in p.queues.iter().enumerate().filter(|(_, q)| q.id.unit == Unit::DmaIn) {
        let mut pending: Vec<(usize, Command)> = Vec::new();
        let mut entered = 0;
        for (ci, c) in q.commands.iter().enumerate() {
            let l = command_layer(p, qi, ci);
            pending.retain(|(pl, _)| *pl == l);
            match c {
                Command::Load { .. } | Command::Multicast { .. } => pending.push((l, c.clone())),
                Command::Wait { sem: 0, .. } => {
                    let tile = q.id.tile;
                    out.extend(pending.drain(..).map(|(layer, command)| Prefetch { layer, tile, command, entered }));
                    entered = l;
                }
                _ => {}
            }
        }
    }
    out
}

fn check(name: &str, p: &Program, min_layers: usize) {
    let accesses = sram_accesses(p);
    let pre = prefetches(p);
    // Constants sit at DRAM 0 (`ProgramMeta::dram_bytes`).
    let constants = 0..p.constants.len() as u64;
    for f in &pre {
        let l = f.layer;
        let acc = f.command.footprint().expect("verified");
        let dram = acc.iter().find(|a| a.space == Space::Dram).expect("a DRAM side");
        assert!(
            constants.contains(&dram.start) && dram.end() <= constants.end,
            "{name}: layer {l} prefetches non-constants"
        );
        // Every layer from the last barrier the queue passed up to this one may still be running.
        let running = |k: usize| (f.entered..l).contains(&k);
        let s = acc.iter().find(|a| a.space == Space::Sram).expect("an SRAM side");
        for t in f.command.sram_destinations(f.tile) {
            let clash = accesses.iter().find(|&&(k, at, a, b)| running(k) && at == t && s.start < b && a < s.end());
            assert!(
                clash.is_none(),
                "{name}: layer {l}'s prefetch on tile {t} {s:?} meets {clash:?} (layer, tile, range)"
            );
        }
    }
    let layers: std::collections::BTreeSet<usize> = pre.iter().map(|p| p.layer).collect();
    let all = p.debug.layers.len();
    eprintln!("{name}: {} of {all} layers prefetch, {} loads", layers.len(), pre.len());
    assert!(layers.len() >= min_layers, "{name}: only {} of {all} layers prefetch", layers.len());
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

#[test]
fn mobilenetv2_at_224_prefetches_into_free_sram() {
    let m = accel_modelgen::zoo::mobilenetv2(224, 224, 2).expect("model");
    let c = compile(&accel_modelgen::to_bytes(&m), &Target::x1(), &[]);
    // Its chains fill up to three quarters of SRAM (`lower::lower` keeps the faster program), so it has only
    // 19 layers, and the layer after a full chain finds no room to prefetch into.
    check("mobilenetv2@224 fp32", c.program(), 8);
}
