//! The cost of one command on a target: cycles on its own unit (no contention), MACs, bytes moved and energy.
//! One function with two users: the compiler sums it along its schedule to predict, the simulator calls it per
//! command and adds what only a simulation knows (contention on the DRAM channel, waits between units).
use crate::command::Command;
use crate::dtype::DType;
use crate::op::UnaryOp;
use crate::target::Target;

/// What one command costs in isolation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cost {
    /// Cycles the command occupies its unit.
    pub cycles: u64,
    pub macs: u64,
    pub dram_read: u64,
    pub dram_written: u64,
    /// SRAM bytes read and written by compute and DMA.
    pub sram_bytes: u64,
    /// Elementwise operations on the vector unit.
    pub vector_ops: u64,
    pub energy_pj: f64,
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

/// Cycles for a DMA of `bytes` on an otherwise idle DRAM channel.
pub fn dma_cycles(target: &Target, bytes: u64) -> u64 {
    target.dram.latency_cycles as u64 + (bytes as f64 / target.dram_bytes_per_cycle()).ceil() as u64
}

/// The cost of `cmd` on `target`. Host calls cost nothing on the device: the host is timed separately.
pub fn command_cost(cmd: &Command, target: &Target) -> Cost {
    let e = &target.energy;
    let lanes = target.tile.vector_lanes as u64;
    let mut c = Cost::default();
    match cmd {
        Command::Load { copy, .. } | Command::Store { copy, .. } => {
            let bytes = copy.bytes().unwrap_or(0);
            c.cycles = ISSUE_CYCLES + dma_cycles(target, bytes);
            if matches!(cmd, Command::Load { .. }) {
                c.dram_read = bytes;
            } else {
                c.dram_written = bytes;
            }
            c.sram_bytes = bytes;
        }
        Command::Conv { dtype, in_c, in_h, in_w, out_c, out_h, out_w, kernel_h, kernel_w, groups, act, .. } => {
            let cg = *in_c as u64 / (*groups as u64).max(1);
            let outputs = *out_c as u64 * *out_h as u64 * *out_w as u64;
            c.macs = outputs * cg * *kernel_h as u64 * *kernel_w as u64;
            c.cycles = ISSUE_CYCLES + div_ceil(c.macs, mac_rate(target, *dtype));
            let es = dtype.size() as u64;
            c.sram_bytes = (*in_c as u64 * *in_h as u64 * *in_w as u64
                + *out_c as u64 * cg * (*kernel_h * *kernel_w) as u64
                + outputs)
                * es;
            if act.0.is_some() {
                c.vector_ops = outputs;
            }
        }
        Command::MatMul { dtype, m, k, n, act, .. } => {
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
        Command::Pool { c: ch, in_h, in_w, out_h, out_w, kernel_h, kernel_w, .. } => {
            let outputs = *ch as u64 * *out_h as u64 * *out_w as u64;
            c.vector_ops = outputs * *kernel_h as u64 * *kernel_w as u64;
            c.cycles = ISSUE_CYCLES + div_ceil(c.vector_ops, lanes);
            c.sram_bytes = 4 * (*ch as u64 * *in_h as u64 * *in_w as u64 + outputs);
        }
        Command::HostCall { .. } => c.cycles = ISSUE_CYCLES,
        Command::Signal { .. } | Command::Wait { .. } => c.cycles = 1,
    }
    let dtype_mac = match cmd {
        Command::Conv { dtype, .. } | Command::MatMul { dtype, .. } => *dtype,
        _ => DType::F32,
    };
    c.energy_pj = c.macs as f64 * mac_energy(target, dtype_mac)
        + (c.dram_read + c.dram_written) as f64 * e.dram_byte_pj
        + c.sram_bytes as f64 * e.sram_byte_pj
        + c.vector_ops as f64 * e.vector_op_pj;
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Copy3, DramAddr, SramAddr};

    #[test]
    fn dma_of_n_bytes_takes_n_over_bandwidth() {
        let t = Target::x1();
        let bytes = 1_000_000u64;
        let cost = command_cost(
            &Command::Load { sram: SramAddr(0), dram: DramAddr(0), copy: Copy3::contiguous(bytes as u32) },
            &t,
        );
        let expect = ISSUE_CYCLES + t.dram.latency_cycles as u64 + (bytes as f64 / (17.1 / 1.067)).ceil() as u64;
        assert_eq!(cost.cycles, expect);
        assert_eq!(cost.dram_read, bytes);
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
            act: crate::command::Act(None),
        };
        assert_eq!(command_cost(&mm(DType::I8), &t).cycles, ISSUE_CYCLES + 64 * 256 * 128 / 1024);
        assert_eq!(command_cost(&mm(DType::BF16), &t).cycles, ISSUE_CYCLES + 64 * 256 * 128 / 512);
        assert_eq!(command_cost(&mm(DType::F32), &t).cycles, ISSUE_CYCLES + 64 * 256 * 128 / 128);
    }
}
