//! `dma.multicast`: one DRAM read lands in the SRAM of every tile of the mask (and of no other), on one thread
//! and with the tiles applied in parallel; the channel streams the bytes once and each link of the routes'
//! union carries them once; the verifier refuses an empty mask and a tile the target lacks.
use crate::common::*;
use accel_ops::command::{Command, Copy3, DramAddr, SramAddr, Unit};
use accel_ops::cost::ISSUE_CYCLES;
use accel_ops::target::Target;
use accel_ops::TensorType;
use accel_runtime::{RuntimeError, Session};

const N: u32 = 64 << 10;

fn multicast(sram: u32, dram: u64, len: u32, tiles: u32) -> Command {
    Command::Multicast { sram: SramAddr(sram), dram: DramAddr(dram), copy: Copy3::contiguous(len), tiles }
}

/// Tile 0 multicasts the constants to tiles 1-3; then every tile stores its SRAM to output `t<tile>`.
fn fan_out() -> accel_ops::program::Program {
    let pattern: Vec<u8> = (0..N / 4).flat_map(|i| (i as f32 * 0.5 - 7.0).to_le_bytes()).collect();
    let mut queues = vec![queue(0, Unit::DmaIn, vec![multicast(0, 0, N, 0b1110), signal(0)])];
    let mut outputs = Vec::new();
    for t in 0..4u16 {
        let at = (1 + t as u64) * N as u64;
        queues.push(queue(t, Unit::DmaOut, vec![wait(0, 1), store(0, at, N)]));
        outputs.push(io(&format!("t{t}"), TensorType::f32(vec![N as usize / 4]), at));
    }
    program(queues, pattern, vec![], outputs, 5 * N as u64, 1)
}

fn run_fan_out() -> Vec<Vec<f32>> {
    let mut s = Session::from_program(fan_out()).unwrap();
    let out = s.run(&[]).unwrap();
    out.outputs.iter().map(|(_, t)| t.as_f32().unwrap().to_vec()).collect()
}

#[test]
fn every_tile_of_the_mask_gets_the_bytes_and_no_other_does() {
    let want: Vec<f32> = (0..N / 4).map(|i| i as f32 * 0.5 - 7.0).collect();
    let serial = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(run_fan_out);
    // Two threads: the functional model queues each tile's commands and applies the tiles in parallel.
    let parallel = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap().install(run_fan_out);
    for outs in [serial, parallel] {
        assert!(outs[0].iter().all(|&x| x == 0.0), "tile 0 is not in the mask");
        for (t, out) in outs.iter().enumerate().skip(1) {
            assert_eq!(out, &want, "tile {t}");
        }
    }
}

#[test]
fn the_channel_streams_once_and_each_link_of_the_tree_once() {
    let p = program(vec![queue(0, Unit::DmaIn, vec![multicast(0, 0, N, 0b1111)])], vec![], vec![], vec![], N as u64, 0);
    let r = Session::from_program(p).unwrap().run(&[]).unwrap().report;
    let t = Target::x1();
    let xfer = (N as f64 / (t.dram.bandwidth_gb_per_s / t.clock_ghz)).ceil() as u64;
    // Tile 2 is two ring hops away (r0->r1->r2): the multicast ends when its last byte lands there.
    let hops = 2 * t.noc.hop_latency_cycles as u64;
    assert_eq!(r.latency_cycles, ISSUE_CYCLES + xfer + t.dram.latency_cycles as u64 + hops);
    assert_eq!(r.dram_read_bytes, N as u64);
    // r0->r1, r1->r2 and r0->r3; tile 0 sits at DRAM's router.
    assert_eq!(r.noc_bytes, 3 * N as u64);
    assert_eq!(r.stall_cycles.total(), 0);
}

#[test]
fn an_empty_mask_or_a_missing_tile_is_refused() {
    for (mask, why) in [(0u32, "mask is empty"), (1 << 4, "names a tile")] {
        let p = program(vec![queue(0, Unit::DmaIn, vec![multicast(0, 0, 64, mask)])], vec![], vec![], vec![], 64, 0);
        let e = Session::from_program(p).unwrap_err();
        assert!(matches!(e, RuntimeError::Verify(_)) && e.to_string().contains(why), "{e}");
    }
}
