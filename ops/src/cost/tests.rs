//! Hand-computed costs: a DMA is issue + latency + bytes / bandwidth (+ hops), a matmul is MACs / rate, the
//! fused residual add and the interconnect show in the energy, host calls take their estimate.
use super::*;
use crate::command::{Act, Copy3, DramAddr, SramAddr};
use crate::op::{Op, Unary};
use crate::program::DramTensor;
use crate::TensorType;

fn load(bytes: u32) -> Command {
    Command::Load { sram: SramAddr(0), dram: DramAddr(0), copy: Copy3::contiguous(bytes) }
}

#[test]
fn dma_of_n_bytes_takes_n_over_bandwidth() {
    let t = Target::x1();
    let bytes = 1_000_000u64;
    let cost = command_cost(&load(bytes as u32), &t);
    let expect = ISSUE_CYCLES + t.dram.latency_cycles as u64 + (bytes as f64 / (17.1 / 1.067)).ceil() as u64;
    assert_eq!(cost.cycles, expect);
    assert_eq!(cost.dram_read, bytes);
    assert_eq!(cost.energy.dram, bytes as f64 * t.energy.dram_byte_pj);
    assert_eq!((cost.noc_bytes, cost.energy.noc), (0, 0.0));
}

#[test]
fn a_far_tile_pays_hop_latency_and_link_bandwidth() {
    let mut t = Target::x1();
    let bytes = 64_000u64;
    // Two links away, with links faster than DRAM: the channel sets the rate, the hops add latency.
    let near = command_cost_at(&load(bytes as u32), &t, 0);
    let far = command_cost_at(&load(bytes as u32), &t, 2);
    assert_eq!(far.cycles, near.cycles + 2 * t.noc.hop_latency_cycles as u64);
    assert_eq!(far.noc_bytes, 2 * bytes);
    assert_eq!(far.energy.noc, 2.0 * bytes as f64 * t.energy.noc_byte_pj);
    // Links narrower than the channel set the rate instead.
    t.noc.link_bytes_per_cycle = 4;
    let slow = command_cost_at(&load(bytes as u32), &t, 1);
    let want = ISSUE_CYCLES + t.dram.latency_cycles as u64 + t.noc.hop_latency_cycles as u64 + bytes / 4;
    assert_eq!(slow.cycles, want);
    let dma = DmaTiming::new(&t, bytes, 1);
    assert_eq!((dma.link_xfer, dma.xfer(), dma.isolated()), (bytes / 4, bytes / 4, want));
}

#[test]
fn matmul_cycles_are_macs_over_rate() {
    let t = Target::x1();
    let mm = |dtype| Command::MatMul {
        dtype,
        a: SramAddr(0),
        b: SramAddr(0),
        bias: SramAddr::NONE,
        quant: SramAddr::NONE,
        output: SramAddr(0),
        m: 64,
        k: 256,
        n: 128,
        act: Act(None),
    };
    assert_eq!(command_cost(&mm(DType::I8), &t).cycles, ISSUE_CYCLES + 64 * 256 * 128 / 1024);
    assert_eq!(command_cost(&mm(DType::BF16), &t).cycles, ISSUE_CYCLES + 64 * 256 * 128 / 512);
    let f = command_cost(&mm(DType::F32), &t);
    assert_eq!(f.cycles, ISSUE_CYCLES + 64 * 256 * 128 / 128);
    assert_eq!(f.energy.mac, (64 * 256 * 128) as f64 * t.energy.mac_fp32_pj);
    assert_eq!(command_cost(&mm(DType::I8), &t).energy.mac, (64 * 256 * 128) as f64 * t.energy.mac_int8_pj);
}

#[test]
fn the_residual_add_of_a_conv_is_counted() {
    let t = Target::x1();
    let conv = |residual: SramAddr, act: Option<UnaryOp>| Command::Conv {
        dtype: DType::F32,
        input: SramAddr(0),
        in_c: 8,
        in_h: 6,
        in_w: 6,
        in_row_pitch: 6,
        in_plane_rows: 6,
        weights: SramAddr(0),
        bias: SramAddr::NONE,
        residual,
        res_row_pitch: if residual.is_none() { 0 } else { 4 },
        res_plane_rows: if residual.is_none() { 0 } else { 4 },
        quant: SramAddr::NONE,
        output: SramAddr(0),
        out_c: 4,
        out_h: 4,
        out_w: 4,
        kernel_h: 3,
        kernel_w: 3,
        stride_h: 1,
        stride_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: 0,
        pad_left: 0,
        pad_bottom: 0,
        pad_right: 0,
        groups: 1,
        act: Act(act),
    };
    let plain = command_cost(&conv(SramAddr::NONE, None), &t);
    let res = command_cost(&conv(SramAddr(0x100), Some(UnaryOp::Relu)), &t);
    assert_eq!(plain.macs, 4 * 16 * 8 * 9);
    assert_eq!((plain.vector_ops, res.vector_ops), (0, 2 * 64));
    assert_eq!(res.sram_bytes, plain.sram_bytes + 64 * 4);
    assert_eq!(res.cycles, plain.cycles, "the add is in the array's output path");
    assert!((res.energy.vector - 128.0 * t.energy.vector_op_pj).abs() < 1e-9);
}

#[test]
fn host_calls_take_their_estimate_and_move_dram_bytes() {
    let t = Target::x1();
    let ty = TensorType::f32(vec![2, 8]);
    let k = HostKernel::fallback(
        Op::Unary(Unary { op: UnaryOp::Sigmoid }),
        vec![DramTensor { dram: 0, ty: ty.clone() }],
        DramTensor { dram: 64, ty },
    );
    let ns = 128.0 / t.host.link_gb_per_s + 16.0 / t.host.gflops;
    let estimate = (ns * t.clock_ghz).ceil() as u64;
    assert_eq!(host_estimate_cycles(&k, &t), estimate);
    let c = host_call_cost(&k, &t);
    assert_eq!((c.cycles, c.dram_read, c.dram_written), (ISSUE_CYCLES + estimate, 64, 64));
    assert_eq!(c.energy.total(), 128.0 * t.energy.dram_byte_pj);
}
