//! Timing on hand-computable programs: a DMA takes issue + latency + bytes/bandwidth, two tiles share the one
//! DRAM channel, a far tile pays the hop latency and the link bandwidth and shares links, a matmul takes
//! issue + MACs/rate, a wait ends one cycle after the signal it needs, host calls take their estimate, stall
//! causes add up to each queue's time; runs are deterministic and a step budget stops a run.
use crate::common::*;
use accel_ops::command::{Command, Unit};
use accel_ops::cost::{command_cost, ProgramCosts, ISSUE_CYCLES};
use accel_ops::op::{Op, Unary, UnaryOp};
use accel_ops::program::{DramTensor, HostKernel, Program};
use accel_ops::target::Target;
use accel_ops::{Tensor, TensorType};
use accel_runtime::{ExecError, RunReport, RuntimeError, Session};

/// The one place these tests run a program: verifies, runs with no inputs, returns the report.
fn report_of(p: Program) -> RunReport {
    let mut s = Session::from_program(p).unwrap();
    s.run(&[]).unwrap().report
}

fn dma_cycles(bytes: u64) -> u64 {
    let t = Target::x1();
    ISSUE_CYCLES
        + t.dram.latency_cycles as u64
        + (bytes as f64 / (t.dram.bandwidth_gb_per_s / t.clock_ghz)).ceil() as u64
}

const N: u32 = 1 << 20;

#[test]
fn one_dma_takes_bytes_over_bandwidth() {
    let r = report_of(program(vec![queue(0, Unit::DmaIn, vec![load(0, 0, N)])], vec![], vec![], vec![], N as u64, 0));
    assert_eq!(r.latency_cycles, dma_cycles(N as u64));
    assert_eq!(r.latency_cycles, command_cost(&load(0, 0, N), &Target::x1()).cycles);
    assert_eq!((r.dram_read_bytes, r.dram_written_bytes, r.stall_cycles.total()), (N as u64, 0, 0));
    let ms = r.latency_cycles as f64 / (1.067 * 1e6);
    assert!((r.latency_ms - ms).abs() < 1e-12 && (r.frames_per_s - 1000.0 / ms).abs() < 1e-6);
}

/// Cycles the DRAM channel streams `bytes`.
fn xfer(bytes: u64) -> u64 {
    let t = Target::x1();
    (bytes as f64 / (t.dram.bandwidth_gb_per_s / t.clock_ghz)).ceil() as u64
}

#[test]
fn two_tiles_share_the_dram_channel() {
    // Tile 0 sits at DRAM's router; tile 1 is one ring hop away (64 B/cycle links: the channel sets the rate).
    let queues = vec![queue(0, Unit::DmaIn, vec![load(0, 0, N)]), queue(1, Unit::DmaIn, vec![load(0, 0, N)])];
    let r = report_of(program(queues, vec![], vec![], vec![], N as u64, 0));
    let (x, hop) = (xfer(N as u64), Target::x1().noc.hop_latency_cycles as u64);
    // The second load streams when the first releases the channel (the first one's DRAM latency overlaps).
    assert_eq!(r.latency_cycles, dma_cycles(N as u64) + x + hop);
    assert_eq!((r.stall_cycles.dram, r.stall_cycles.link), (x, 0));
    assert_eq!(r.dram_read_bytes, 2 * N as u64);
    assert_eq!(r.noc_bytes, N as u64, "only tile 1's load crosses a link");
}

#[test]
fn a_far_tile_pays_hops_and_link_bandwidth_and_shares_links() {
    // Links of 4 B/cycle, slower than the channel: tiles 1 and 2 both reach DRAM through link r0->r1.
    let n = 64_000u32;
    let (x, y) = (xfer(n as u64), n as u64 / 4);
    let t = Target::x1();
    let (lat, hop) = (t.dram.latency_cycles as u64, t.noc.hop_latency_cycles as u64);
    let run = |queues| {
        let mut p = program(queues, vec![], vec![], vec![], n as u64, 0);
        p.meta.target.noc.link_bytes_per_cycle = 4;
        report_of(p)
    };
    // Alone, two hops away: issue + the slowest stage + DRAM latency + two hop latencies.
    let r = run(vec![queue(2, Unit::DmaIn, vec![load(0, 0, n)])]);
    assert_eq!(r.latency_cycles, ISSUE_CYCLES + y + lat + 2 * hop);
    assert_eq!((r.stall_cycles.total(), r.noc_bytes), (0, 2 * n as u64));
    // Together: tile 1 goes first; tile 2 waits x for the channel, then for the shared link until tile 1's
    // transfer has left it.
    let r = run(vec![queue(1, Unit::DmaIn, vec![load(0, 0, n)]), queue(2, Unit::DmaIn, vec![load(0, 0, n)])]);
    assert_eq!(r.latency_cycles, ISSUE_CYCLES + 2 * y + lat + 2 * hop);
    assert_eq!((r.stall_cycles.dram, r.stall_cycles.link), (x, y - x));
}

#[test]
fn matmul_takes_macs_over_rate() {
    let (m, k, n) = (64u64, 256u64, 128u64);
    let r = report_of(program(vec![queue(0, Unit::Mac, vec![matmul(64, 256, 128)])], vec![], vec![], vec![], 0, 0));
    assert_eq!(r.latency_cycles, ISSUE_CYCLES + m * k * n / 128);
    assert_eq!(r.macs, m * k * n);
    // One tile of four busy at peak for macs/rate cycles out of the latency.
    let want = (m * k * n) as f64 / 128.0 / (r.latency_cycles as f64 * 4.0);
    assert!((r.mac_utilization - want).abs() < 1e-12, "{} vs {want}", r.mac_utilization);
}

#[test]
fn a_wait_ends_one_cycle_after_its_signal() {
    let queues = vec![
        queue(0, Unit::DmaIn, vec![load(0, 0, 4096), signal(0)]),
        queue(0, Unit::Mac, vec![wait(0, 1), matmul(8, 8, 8)]),
    ];
    let r = report_of(program(queues, vec![], vec![], vec![], 4096, 1));
    let load_end = dma_cycles(4096);
    let signal_end = load_end + 1;
    let wait_end = signal_end + 1;
    assert_eq!(r.latency_cycles, wait_end + ISSUE_CYCLES + (8 * 8 * 8u64).div_ceil(128));
    assert_eq!(r.stall_cycles.unit, signal_end, "the mac queue sat blocked from cycle 0 to the signal");
    assert_eq!(r.stall_cycles.total(), signal_end);
}

#[test]
fn stall_causes_add_up_to_each_queues_time() {
    // Tile 1 waits for tile 0's load (another tile), then three DMAs issue at once (the channel).
    let queues = vec![
        queue(0, Unit::DmaIn, vec![load(0, 0, 4096), signal(0)]),
        queue(0, Unit::DmaOut, vec![wait(0, 1), store(0, 8192, 4096)]),
        queue(1, Unit::DmaIn, vec![wait(0, 1), load(0, 0, 4096)]),
        queue(1, Unit::DmaOut, vec![wait(0, 1), store(0, 12288, 4096)]),
    ];
    let p = program(queues, vec![], vec![], vec![], 16384, 1);
    let mut s = Session::from_program(p.clone()).unwrap();
    let r = s.run(&[]).unwrap().report;
    let trace = s.last_trace().unwrap();
    let costs = ProgramCosts::new(&p);
    let mut per_queue = vec![0u64; p.queues.len()];
    let mut total = accel_ops::report::Stalls::default();
    for rec in &trace.records {
        let q = &p.queues[rec.queue as usize];
        let cost = costs.of(q.id.tile, &q.commands[rec.index as usize]).cycles;
        assert_eq!(rec.end - rec.start, cost + rec.stalls.total(), "{rec:?}");
        per_queue[rec.queue as usize] += cost + rec.stalls.total();
        total.add(&rec.stalls);
    }
    assert_eq!(per_queue, trace.queue_end, "every cycle of a queue is a cost or a stall");
    assert_eq!(r.stall_cycles, total);
    let signal_end = dma_cycles(4096) + 1;
    assert_eq!(r.stall_cycles.tile, 2 * signal_end, "both of tile 1's queues waited for tile 0's signal");
    assert_eq!(r.stall_cycles.unit, signal_end, "tile 0's store waited for its own load");
    assert!(r.stall_cycles.dram > 0, "the stores and tile 1's load met on the channel");
}

#[test]
fn host_calls_take_their_estimate_and_compute_the_reference() {
    let ty = TensorType::f32(vec![2, 8]);
    let mut p = program(
        vec![queue(0, Unit::Host, vec![Command::HostCall { kernel: 0 }])],
        vec![],
        vec![io("x", ty.clone(), 0)],
        vec![io("y", ty.clone(), 64)],
        128,
        0,
    );
    p.kernels.push(HostKernel::fallback(
        Op::Unary(Unary { op: UnaryOp::Sigmoid }),
        vec![DramTensor { dram: 0, ty: ty.clone() }],
        DramTensor { dram: 64, ty: ty.clone() },
    ));
    let t = Target::x1();
    let ns = 128.0 / t.host.link_gb_per_s + 16.0 / t.host.gflops;
    let estimate = (ns * t.clock_ghz).ceil() as u64;
    let mut s = Session::from_program(p).unwrap();
    let x = Tensor::from_f32(vec![2, 8], (0..16).map(|i| i as f32 - 8.0).collect()).unwrap();
    let out = s.run(&[("x".into(), x.clone())]).unwrap();
    assert_eq!(out.report.host_cycles, estimate);
    assert_eq!(out.report.latency_cycles, ISSUE_CYCLES + estimate);
    assert_eq!(out.report.host_calls, 1);
    assert_eq!(out.report.dram_bytes, 128, "the host reads x and writes y");
    let want = Op::Unary(Unary { op: UnaryOp::Sigmoid }).eval(&[&x]).unwrap();
    assert_eq!(out.outputs[0].1, want);
}

#[test]
fn runs_are_deterministic() {
    let p = conv_program(8, 16, 12, 12, Some(UnaryOp::Relu), 5).program;
    let mut s = Session::from_program(p).unwrap();
    let x = accel_runtime::random::random_inputs(&s.meta().inputs, 1).unwrap();
    let a = s.run(&x).unwrap();
    let b = s.run(&x).unwrap();
    assert_eq!(a.outputs, b.outputs);
    assert_eq!(a.report, b.report);
    assert_eq!(s.last_trace().unwrap().records.len(), 9);
}

#[test]
fn the_step_budget_stops_a_run() {
    let p = conv_program(3, 4, 8, 8, None, 1).program;
    let mut s = Session::from_program(p).unwrap();
    s.set_step_budget(Some(3));
    let x = accel_runtime::random::random_inputs(&s.meta().inputs, 1).unwrap();
    let e = s.run(&x).unwrap_err();
    assert!(matches!(e, RuntimeError::Exec(ExecError::StepBudget { budget: 3, .. })), "{e}");
}
