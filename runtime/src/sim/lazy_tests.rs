//! Lazy loads (`lazy`) against the copying model: random command sequences on one small tile, run once with
//! every load copied (nothing immutable) and once with loads from the constants left pending, must give the
//! same SRAM (pending ranges read where they are) and DRAM after every command, and fail alike. The sequences
//! aim MACs and vector ops at recently loaded ranges: whole, inside, straddling, and overwriting them.
use super::apply::{apply_tracked, Dram, Held};
use super::lazy::{Immutable, Operands};
use crate::random::SplitMix64;
use accel_ops::command::{Act, BinCode, Command, Copy3, DramAddr, Space, SramAddr};
use accel_ops::op::{BinaryOp, UnaryOp};
use accel_ops::DType;

const SRAM: u64 = 64 << 10;
const DRAM: u64 = 512 << 10;
/// DRAM below this is the immutable constants; stores go above.
const CONSTS: u64 = 256 << 10;

/// One machine state: DRAM, one tile's SRAM and what it holds.
struct Tile {
    dram: Vec<u8>,
    sram: Vec<u8>,
    held: Held,
    fixed: Immutable,
}

impl Tile {
    fn new(dram: &[u8], fixed: Immutable) -> Tile {
        Tile { dram: dram.to_vec(), sram: vec![0; SRAM as usize], held: Held::default(), fixed }
    }

    fn apply(&mut self, cmd: &Command) -> Result<(), String> {
        apply_tracked(&mut Dram::Direct(&mut self.dram), &mut self.sram, cmd, &mut self.held, self.fixed)
    }

    /// SRAM as a copying model would hold it.
    fn sram_view(&self) -> Vec<u8> {
        self.held.lazy.view(&self.dram, &self.sram)
    }
}

fn below(rng: &mut SplitMix64, n: u64) -> u64 {
    rng.next_u64() % n.max(1)
}

/// A 4-aligned SRAM address with room for `len` bytes.
fn sram_at(rng: &mut SplitMix64, len: u64) -> u32 {
    (below(rng, (SRAM - len) / 4 + 1) * 4) as u32
}

/// A load from the constants, lazy-sized (>= 4 KiB) or not, contiguous or strided in DRAM, packed in SRAM or
/// (rarely) not.
fn load(rng: &mut SplitMix64) -> Command {
    let (len, n1, dram_stride1, sram_stride1) = match below(rng, 4) {
        0 => (4 * (1024 + below(rng, 3072)) as u32, 1, 0, 0),
        1 | 2 => {
            let run = 4 * (4 + below(rng, 60)) as u32;
            let n1 = (4096 / run + 1 + below(rng, 40) as u32).max(1);
            (run, n1, run as u64 + 4 * below(rng, 128), run)
        }
        _ => {
            let run = 4 * (1 + below(rng, 100)) as u32;
            let n1 = 1 + below(rng, 16) as u32;
            (run, n1, run as u64 + 4 * below(rng, 64), run + 4 * below(rng, 3) as u32)
        }
    };
    let copy = Copy3 { len, n1, dram_stride1, sram_stride1, n2: 1, dram_stride2: 0, sram_stride2: 0 };
    let span = (n1 as u64 - 1) * dram_stride1 + len as u64;
    let sram_span = (n1 as u64 - 1) * sram_stride1 as u64 + len as u64;
    // Mostly from the constants; sometimes from the mutable part.
    let base = if below(rng, 5) == 0 { CONSTS } else { 0 };
    let dram = base + 4 * below(rng, CONSTS.saturating_sub(span) / 4);
    Command::Load { sram: SramAddr(sram_at(rng, sram_span)), dram: DramAddr(dram), copy }
}

/// An SRAM range for an operand of `len` bytes: inside a recent load's range (often exactly it), or anywhere.
fn operand(rng: &mut SplitMix64, recent: &[(u32, u64)], len: u64) -> u32 {
    if let Some(&(at, span)) = recent.get(below(rng, recent.len() as u64 + 1) as usize) {
        if len <= span && below(rng, 4) != 0 {
            return if below(rng, 2) == 0 { at } else { at + 4 * below(rng, (span - len) / 4 + 1) as u32 };
        }
        if below(rng, 2) == 0 {
            // Straddling the range's end (clamped to SRAM).
            let start = (at as u64 + span).saturating_sub(len / 2) & !3;
            return start.min(SRAM - len) as u32;
        }
    }
    sram_at(rng, len)
}

fn command(rng: &mut SplitMix64, recent: &[(u32, u64)]) -> Command {
    match below(rng, 9) {
        0..=2 => load(rng),
        3 => {
            let len = 4 * (1 + below(rng, 2048));
            let from = operand(rng, recent, len);
            let dram = CONSTS + 4 * below(rng, (DRAM - CONSTS - len) / 4);
            Command::Store { sram: SramAddr(from), dram: DramAddr(dram), copy: Copy3::contiguous(len as u32) }
        }
        4 => {
            let len = 1 + below(rng, 2048) as u32;
            let src = operand(rng, recent, len as u64 * 4);
            let dst = operand(rng, recent, len as u64 * 4);
            Command::Unary { func: Act(Some(UnaryOp::Relu)), src: SramAddr(src), dst: SramAddr(dst), len }
        }
        5 => {
            let len = 1 + below(rng, 2048) as u32;
            let a = operand(rng, recent, len as u64 * 4);
            let b = operand(rng, recent, len as u64 * 4);
            let dst = operand(rng, recent, len as u64 * 4);
            let op = BinCode(BinaryOp::Add);
            Command::Binary { op, a: SramAddr(a), b: SramAddr(b), dst: SramAddr(dst), len, b_period: len, b_repeat: 1 }
        }
        _ => {
            let dtype = if below(rng, 3) == 0 { DType::BF16 } else { DType::F32 };
            let e = if dtype == DType::BF16 { 2 } else { 4 };
            let (m, k, n) = (1 + below(rng, 3) as u32, 1 + below(rng, 64) as u32, 1 + below(rng, 32) as u32);
            let a = operand(rng, recent, (m * k * e) as u64);
            let b = operand(rng, recent, (k * n * e) as u64);
            let bias = if below(rng, 2) == 0 { SramAddr::NONE } else { SramAddr(operand(rng, recent, n as u64 * 4)) };
            let output = SramAddr(operand(rng, recent, (m * n * e) as u64));
            let (a, b, quant, act) = (SramAddr(a), SramAddr(b), SramAddr::NONE, Act(None));
            Command::MatMul { dtype, a, b, bias, quant, output, m, k, n, act }
        }
    }
}

/// Runs `steps` random commands on both models and compares them after each one, up to the first failure.
/// Returns the most ranges pending at once, how many commands read a pending range, and how many ran.
fn check_sequence(seed: u64, steps: usize) -> (usize, usize, usize) {
    let mut rng = SplitMix64::new(seed);
    // Small finite values: sums stay finite, so results compare bit for bit.
    let dram: Vec<u8> = (0..DRAM / 4).flat_map(|_| (rng.uniform() * 4.0).to_le_bytes()).collect();
    let mut copying = Tile::new(&dram, Immutable::default());
    let mut lazy = Tile::new(&dram, Immutable { end: CONSTS, image_budget: 64 << 10 });
    let mut recent: Vec<(u32, u64)> = Vec::new();
    let (mut most_pending, mut pending_reads, mut ran) = (0, 0, 0);
    for step in 0..steps {
        let cmd = command(&mut rng, &recent);
        if let Command::Load { sram, copy, .. } = &cmd {
            let span = (copy.n1 as u64 - 1) * copy.sram_stride1 as u64 + copy.len as u64;
            recent.push((sram.0, span));
            if recent.len() > 4 {
                recent.remove(0);
            }
        }
        let ops = Operands { dram: &lazy.dram, lazy: &lazy.held.lazy };
        let reads = cmd.footprint().map(|fp| fp.into_iter().filter(|a| a.space == Space::Sram && !a.write));
        if reads.is_ok_and(|mut r| r.any(|a| matches!(ops.pending(a.start, a.len), Ok(Some(_))))) {
            pending_reads += 1;
        }
        let want = copying.apply(&cmd);
        let got = lazy.apply(&cmd);
        assert_eq!(got.is_ok(), want.is_ok(), "seed {seed} step {step}: {cmd:?}: {got:?} vs {want:?}");
        if got.is_err() {
            // A run stops at its first failure; the memories are unspecified after it.
            break;
        }
        ran += 1;
        most_pending = most_pending.max(lazy.held.lazy.pending_count());
        assert!(lazy.sram_view() == copying.sram, "seed {seed} step {step}: SRAM differs after {cmd:?}");
        assert!(lazy.dram == copying.dram, "seed {seed} step {step}: DRAM differs after {cmd:?}");
        if below(&mut rng, 16) == 0 {
            let Tile { dram, sram, held, .. } = &mut lazy;
            held.lazy.settle(dram, sram).unwrap();
            assert_eq!(held.lazy.pending_count(), 0);
            assert!(lazy.sram == copying.sram, "seed {seed} step {step}: SRAM differs after settling");
        }
    }
    (most_pending, pending_reads, ran)
}

#[test]
fn lazy_loads_leave_the_memories_of_copying_loads() {
    let (mut most, mut reads, mut ran) = (0, 0, 0);
    for seed in 0..24 {
        let (m, r, n) = check_sequence(seed, 300);
        most = most.max(m);
        reads += r;
        ran += n;
    }
    assert!(ran >= 24 * 250, "only {ran} commands ran before failures");
    // The sequences did exercise the mechanism: several ranges pending at once, commands around them.
    assert!(most >= 3, "at most {most} pending ranges");
    assert!(reads >= 50, "only {reads} commands read a pending range");
}

#[test]
fn a_write_into_a_pending_range_keeps_the_rest_of_its_bytes() {
    let mut rng = SplitMix64::new(5);
    let dram: Vec<u8> = (0..DRAM / 4).flat_map(|_| rng.uniform().to_le_bytes()).collect();
    let mut copying = Tile::new(&dram, Immutable::default());
    let mut lazy = Tile::new(&dram, Immutable { end: CONSTS, image_budget: 1 << 20 });
    let strided = Copy3 { len: 256, n1: 32, dram_stride1: 1024, sram_stride1: 256, ..Copy3::contiguous(256) };
    let relu = |src: u32, dst: u32, len: u32| Command::Unary {
        func: Act(Some(UnaryOp::Relu)),
        src: SramAddr(src),
        dst: SramAddr(dst),
        len,
    };
    let cmds = [
        Command::Load { sram: SramAddr(0), dram: DramAddr(64), copy: Copy3::contiguous(16384) },
        Command::Load { sram: SramAddr(0x8000), dram: DramAddr(4096), copy: strided },
        // Overwrites the middle of each pending range, then reads across the write.
        relu(0x9000, 0x100, 64),
        relu(0x100, 0xa000, 1024),
        // Reads a whole pending range in place, writes over another one's start.
        Command::Load { sram: SramAddr(0x4000), dram: DramAddr(0x10000), copy: Copy3::contiguous(8192) },
        relu(0x4000, 0x5ff0, 2048),
        Command::Store { sram: SramAddr(0x5000), dram: DramAddr(CONSTS), copy: Copy3::contiguous(4096) },
    ];
    for cmd in &cmds {
        copying.apply(cmd).unwrap();
        lazy.apply(cmd).unwrap();
        assert!(lazy.sram_view() == copying.sram, "SRAM differs after {cmd:?}");
        assert!(lazy.dram == copying.dram, "DRAM differs after {cmd:?}");
    }
    assert!(lazy.held.lazy.pending_count() > 0, "nothing stayed pending");
    let Tile { dram, sram, held, .. } = &mut lazy;
    held.lazy.settle(dram, sram).unwrap();
    assert!(lazy.sram == copying.sram);
}
