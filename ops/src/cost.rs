//! The cost of one command on a target: cycles on its own unit (no contention), MACs, bytes moved and energy by
//! where it is spent. One function with two users: the compiler sums it along its schedule to predict
//! (`accel_compiler::predict`), the simulator charges it per command and adds what only a simulation knows
//! (contention on the DRAM channel and the links, waits between units). Nothing here knows about time lines.
use crate::command::Command;
use crate::dtype::DType;
use crate::noc::Noc;
use crate::op::UnaryOp;
use crate::program::{HostKernel, Program};
use crate::target::Target;
use serde::Serialize;

/// Energy of a command (or a run) by where it is spent, in picojoules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Energy {
    /// Multiply-accumulates on the MAC arrays, at the dtype's cost.
    pub mac: f64,
    /// Elementwise operations on the vector units (activations, residual adds, pooling).
    pub vector: f64,
    /// Bytes read and written in tile SRAM by compute and DMA.
    pub sram: f64,
    /// Bytes moved to and from DRAM (tile DMA and the host).
    pub dram: f64,
    /// Bytes times links crossed on the interconnect.
    pub noc: f64,
}

impl Energy {
    pub fn total(&self) -> f64 {
        self.mac + self.vector + self.sram + self.dram + self.noc
    }

    pub fn add(&mut self, o: &Energy) {
        self.mac += o.mac;
        self.vector += o.vector;
        self.sram += o.sram;
        self.dram += o.dram;
        self.noc += o.noc;
    }

    /// Every part multiplied by `k` (unit changes: `1e-9` turns pJ into mJ).
    pub fn scaled(&self, k: f64) -> Energy {
        Energy {
            mac: self.mac * k,
            vector: self.vector * k,
            sram: self.sram * k,
            dram: self.dram * k,
            noc: self.noc * k,
        }
    }
}

/// What one command costs in isolation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cost {
    /// Cycles the command occupies its unit when nothing else runs.
    pub cycles: u64,
    pub macs: u64,
    pub dram_read: u64,
    pub dram_written: u64,
    /// SRAM bytes read and written by compute and DMA.
    pub sram_bytes: u64,
    /// Elementwise operations on the vector unit (including a conv's fused activation and residual add).
    pub vector_ops: u64,
    /// Bytes times interconnect links crossed.
    pub noc_bytes: u64,
    pub energy: Energy,
}

impl Cost {
    pub fn energy_pj(&self) -> f64 {
        self.energy.total()
    }
}

/// Fixed cycles to issue a command on a unit (decode, address setup).
pub const ISSUE_CYCLES: u64 = 4;

fn div_ceil(a: u64, b: u64) -> u64 {
    a.div_ceil(b.max(1))
}

/// MACs per cycle of one tile's array in `dtype`.
pub fn mac_rate(target: &Target, dtype: DType) -> u64 {
    let t = &target.tile;
    match dtype {
        DType::I8 | DType::U8 => t.int8_macs_per_cycle as u64,
        DType::BF16 => t.bf16_macs_per_cycle as u64,
        _ => t.fp32_macs_per_cycle as u64,
    }
}

fn mac_energy(target: &Target, dtype: DType) -> f64 {
    let e = &target.energy;
    match dtype {
        DType::I8 | DType::U8 => e.mac_int8_pj,
        DType::BF16 => e.mac_bf16_pj,
        _ => e.mac_fp32_pj,
    }
}

/// Vector-unit passes per element: transcendental functions take several.
fn unary_passes(op: &Option<UnaryOp>) -> u64 {
    match op {
        None | Some(UnaryOp::Relu | UnaryOp::Clip { .. } | UnaryOp::LeakyRelu { .. } | UnaryOp::Neg | UnaryOp::Abs) => {
            1
        }
        Some(UnaryOp::HardSwish | UnaryOp::HardSigmoid { .. } | UnaryOp::Floor | UnaryOp::Ceil) => 2,
        Some(_) => 4,
    }
}

/// Cycles the DRAM channel needs to stream `bytes`.
pub fn dram_xfer_cycles(target: &Target, bytes: u64) -> u64 {
    (bytes as f64 / target.dram_bytes_per_cycle()).ceil() as u64
}

/// Cycles one interconnect link needs to carry `bytes`.
pub fn link_xfer_cycles(target: &Target, bytes: u64) -> u64 {
    div_ceil(bytes, target.noc.link_bytes_per_cycle as u64)
}

/// Cycles for a DMA of `bytes` between DRAM and a tile next to it, on an otherwise idle channel, after issue.
pub fn dma_cycles(target: &Target, bytes: u64) -> u64 {
    target.dram.latency_cycles as u64 + dram_xfer_cycles(target, bytes)
}

/// The parts of a DMA's time: issue, then the data streams through the DRAM channel and each link of the
/// route (each held for its own transfer time, in a pipeline), then the DRAM latency and one hop latency per
/// link. In isolation it takes `isolated()` cycles; the simulator adds the waits for busy resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaTiming {
    pub issue: u64,
    /// Cycles the DRAM channel is held.
    pub dram_xfer: u64,
    /// Cycles each link of the route is held (0 without links).
    pub link_xfer: u64,
    pub hops: u32,
    pub hop_latency: u64,
    pub dram_latency: u64,
}

impl DmaTiming {
    pub fn new(target: &Target, bytes: u64, hops: u32) -> DmaTiming {
        DmaTiming {
            issue: ISSUE_CYCLES,
            dram_xfer: dram_xfer_cycles(target, bytes),
            link_xfer: if hops > 0 { link_xfer_cycles(target, bytes) } else { 0 },
            hops,
            hop_latency: target.noc.hop_latency_cycles as u64,
            dram_latency: target.dram.latency_cycles as u64,
        }
    }

    /// The slowest resource's transfer time: the streaming part of the DMA.
    pub fn xfer(&self) -> u64 {
        self.dram_xfer.max(self.link_xfer)
    }

    /// Cycles from issue to the last byte landing when no other transfer is in the way.
    pub fn isolated(&self) -> u64 {
        self.issue + self.xfer() + self.dram_latency + self.hops as u64 * self.hop_latency
    }
}

/// The cost of `cmd` on `target` for a tile next to DRAM (no interconnect links). Host calls cost only their
/// issue here: their time depends on the kernel (`host_call_cost`).
pub fn command_cost(cmd: &Command, target: &Target) -> Cost {
    command_cost_at(cmd, target, 0)
}

/// The cost of `cmd` on a tile `hops` links away from DRAM (`crate::noc::hops`).
pub fn command_cost_at(cmd: &Command, target: &Target, hops: u32) -> Cost {
    let lanes = target.tile.vector_lanes as u64;
    let mut c = Cost::default();
    let mut mac_dtype = DType::F32;
    match cmd {
        Command::Load { copy, .. } | Command::Store { copy, .. } => {
            let bytes = copy.bytes().unwrap_or(0);
            c.cycles = DmaTiming::new(target, bytes, hops).isolated();
            if matches!(cmd, Command::Load { .. }) {
                c.dram_read = bytes;
            } else {
                c.dram_written = bytes;
            }
            c.sram_bytes = bytes;
            c.noc_bytes = bytes.saturating_mul(hops as u64);
        }
        // Without the interconnect's geometry: as a load `hops` away, written into every destination's SRAM.
        // `ProgramCosts::of` charges the routes' union instead (`multicast_cost`).
        Command::Multicast { copy, tiles, .. } => {
            let bytes = copy.bytes().unwrap_or(0);
            c.cycles = DmaTiming::new(target, bytes, hops).isolated();
            c.dram_read = bytes;
            c.sram_bytes = bytes.saturating_mul(tiles.count_ones() as u64);
            c.noc_bytes = bytes.saturating_mul(hops as u64);
        }
        Command::Conv {
            dtype,
            in_c,
            in_h,
            in_w,
            out_c,
            out_h,
            out_w,
            kernel_h,
            kernel_w,
            groups,
            act,
            residual,
            ..
        } => {
            mac_dtype = *dtype;
            let cg = *in_c as u64 / (*groups as u64).max(1);
            let outputs = *out_c as u64 * *out_h as u64 * *out_w as u64;
            c.macs = outputs * cg * *kernel_h as u64 * *kernel_w as u64;
            c.cycles = ISSUE_CYCLES + div_ceil(c.macs, mac_rate(target, *dtype));
            let es = dtype.size() as u64;
            c.sram_bytes = (*in_c as u64 * *in_h as u64 * *in_w as u64
                + *out_c as u64 * cg * *kernel_h as u64 * *kernel_w as u64
                + outputs)
                * es;
            if act.0.is_some() {
                c.vector_ops += outputs;
            }
            // The fused residual add: one more operand read and one add per output, in the array's output
            // path (no extra cycles).
            if !residual.is_none() {
                c.vector_ops += outputs;
                c.sram_bytes += outputs * es;
            }
        }
        Command::MatMul { dtype, m, k, n, act, .. } => {
            mac_dtype = *dtype;
            let (m, k, n) = (*m as u64, *k as u64, *n as u64);
            c.macs = m * k * n;
            c.cycles = ISSUE_CYCLES + div_ceil(c.macs, mac_rate(target, *dtype));
            c.sram_bytes = (m * k + k * n + m * n) * dtype.size() as u64;
            if act.0.is_some() {
                c.vector_ops = m * n;
            }
        }
        Command::Unary { func, len, .. } => {
            let len = *len as u64;
            c.vector_ops = len * unary_passes(&func.0);
            c.cycles = ISSUE_CYCLES + div_ceil(c.vector_ops, lanes);
            c.sram_bytes = 8 * len;
        }
        Command::Binary { len, .. } => {
            let len = *len as u64;
            c.vector_ops = len;
            c.cycles = ISSUE_CYCLES + div_ceil(len, lanes);
            c.sram_bytes = 12 * len;
        }
        Command::Affine { c: ch, inner, .. } => {
            let len = *ch as u64 * *inner as u64;
            c.vector_ops = 2 * len;
            c.cycles = ISSUE_CYCLES + div_ceil(len, lanes);
            c.sram_bytes = 8 * len;
        }
        Command::Pool { .. } | Command::PoolI8 { .. } => {
            if let Some(p) = cmd.pool_fields() {
                let outputs = p.c as u64 * p.out_h as u64 * p.out_w as u64;
                c.vector_ops = outputs * p.kernel[0] as u64 * p.kernel[1] as u64;
                c.cycles = ISSUE_CYCLES + div_ceil(c.vector_ops, lanes);
                c.sram_bytes = p.elem_bytes() * (p.c as u64 * p.in_h as u64 * p.in_w as u64 + outputs);
            }
        }
        Command::Convert { from, to, len, .. } => {
            let len = *len as u64;
            c.vector_ops = len;
            c.cycles = ISSUE_CYCLES + div_ceil(len, lanes);
            c.sram_bytes = len * (from.size() + to.size()) as u64;
        }
        Command::HostCall { .. } => c.cycles = ISSUE_CYCLES,
        Command::Signal { .. } | Command::Wait { .. } => c.cycles = 1,
    }
    c.energy = energy_of(&c, target, mac_dtype);
    c
}

fn energy_of(c: &Cost, target: &Target, mac_dtype: DType) -> Energy {
    let e = &target.energy;
    Energy {
        mac: c.macs as f64 * mac_energy(target, mac_dtype),
        vector: c.vector_ops as f64 * e.vector_op_pj,
        sram: c.sram_bytes as f64 * e.sram_byte_pj,
        dram: (c.dram_read + c.dram_written) as f64 * e.dram_byte_pj,
        noc: c.noc_bytes as f64 * e.noc_byte_pj,
    }
}

/// The deterministic duration of a host kernel in device cycles: the bytes it reads and writes over the host
/// link plus one operation per output element at the host's rate. An estimate (never the host's wall clock),
/// so cycle counts do not depend on the machine running the simulator; reports mark it as such.
pub fn host_estimate_cycles(kernel: &HostKernel, target: &Target) -> u64 {
    let size = |t: &crate::TensorType| t.checked_bytes().unwrap_or(0) as f64;
    let moved: f64 = kernel.inputs.iter().map(|t| size(&t.ty)).sum::<f64>() + size(&kernel.output.ty);
    let elements = kernel.output.ty.shape.checked_numel().unwrap_or(0) as f64;
    // bytes / (GB/s) is nanoseconds; nanoseconds * GHz is cycles.
    let ns = moved / target.host.link_gb_per_s + elements / target.host.gflops;
    let cycles = (ns * target.clock_ghz).ceil();
    if cycles.is_finite() && cycles >= 0.0 {
        cycles.min(u64::MAX as f64 / 4.0) as u64
    } else {
        u64::MAX / 4
    }
}

/// A `host.call` of `kernel`: issue plus the estimate; the host reads its inputs from and writes its output
/// to DRAM (counted as DRAM traffic, not on the tiles' channel).
pub fn host_call_cost(kernel: &HostKernel, target: &Target) -> Cost {
    let size = |t: &crate::TensorType| t.checked_bytes().unwrap_or(0) as u64;
    let mut c = Cost {
        cycles: ISSUE_CYCLES.saturating_add(host_estimate_cycles(kernel, target)),
        dram_read: kernel.inputs.iter().map(|t| size(&t.ty)).sum(),
        dram_written: size(&kernel.output.ty),
        ..Cost::default()
    };
    c.energy = energy_of(&c, target, DType::F32);
    c
}

/// The cost of a `dma.multicast` of `bytes` into the tiles of `mask`: DRAM read once, each link of the routes'
/// union crossed once (`Noc::multicast_links`), every destination's SRAM written; in isolation it takes as long
/// as a load to the farthest destination.
pub fn multicast_cost(target: &Target, noc: &Noc, bytes: u64, mask: u32) -> Cost {
    let hops = crate::command::mask_tiles(mask).map(|t| noc.hops(t as u32)).max().unwrap_or(0);
    let links = noc.multicast_links(mask).len() as u64;
    let mut c = Cost {
        cycles: DmaTiming::new(target, bytes, hops).isolated(),
        dram_read: bytes,
        sram_bytes: bytes.saturating_mul(mask.count_ones() as u64),
        noc_bytes: bytes.saturating_mul(links),
        ..Cost::default()
    };
    c.energy = energy_of(&c, target, DType::F32);
    c
}

/// The costs of one program's commands: `command_cost_at` with each tile's distance from DRAM, multicasts over
/// the interconnect's routes, host calls with their kernel's estimate. What both the compiler's prediction and
/// the simulator charge.
#[derive(Debug, Clone)]
pub struct ProgramCosts<'a> {
    program: &'a Program,
    hops: Vec<u32>,
    noc: Noc,
}

impl<'a> ProgramCosts<'a> {
    pub fn new(program: &'a Program) -> Self {
        let t = &program.meta.target;
        let noc = Noc::new(t);
        ProgramCosts { program, hops: (0..t.tiles).map(|tile| noc.hops(tile)).collect(), noc }
    }

    pub fn target(&self) -> &'a Target {
        &self.program.meta.target
    }

    /// Links between DRAM and `tile`.
    pub fn hops(&self, tile: u16) -> u32 {
        self.hops.get(tile as usize).copied().unwrap_or(0)
    }

    /// The cost of `cmd` held by a queue of `tile`.
    pub fn of(&self, tile: u16, cmd: &Command) -> Cost {
        match cmd {
            Command::HostCall { kernel } => match self.program.kernels.get(*kernel as usize) {
                Some(k) => host_call_cost(k, self.target()),
                None => command_cost(cmd, self.target()),
            },
            Command::Multicast { copy, tiles, .. } => {
                multicast_cost(self.target(), &self.noc, copy.bytes().unwrap_or(0), *tiles)
            }
            _ => command_cost_at(cmd, self.target(), self.hops(tile)),
        }
    }
}

#[cfg(test)]
mod tests;
