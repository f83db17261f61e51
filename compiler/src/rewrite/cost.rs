//! The cost model extraction minimizes, in device cycles, from the target description: a tile layer takes
//! the longer of its compute (MAC-array cycles at the dtype's rate over all tiles, or vector passes over the
//! lanes) and its DRAM traffic (every operand read and the output written, at the DRAM bandwidth), plus a
//! fixed per-layer cost (DRAM latency and the layer barrier). The output bytes are what fusion saves: an
//! intermediate that is never materialized is neither written nor read back. A host layer pays the transfer
//! of operands and result over the host link plus its arithmetic at the host's rate. Whether the tiles can
//! run a node at all mirrors `lower::plan` (constant weights, broadcast patterns, ...): an operator they list
//! but cannot run as given would fall back to the host anyway.
use super::analysis::Facts;
use super::lang::Place;
use crate::lower::{broadcast_pattern, chain_patterns, tile_supports_op};
use accel_ops::cost::mac_rate;
use accel_ops::op::{Op, Step, UnaryOp};
use accel_ops::target::Target;
use accel_ops::DType;

/// A cost larger than any real one but still finite, so sums stay ordered.
pub const INFEASIBLE: f64 = 1e18;

/// The cost of a reshape (see `op_cost`).
const ALIAS: f64 = 1.0;

/// Per-cycle rates derived once from the target.
#[derive(Debug, Clone)]
pub struct CostModel {
    target: Target,
    dram_bytes_per_cycle: f64,
    host_bytes_per_cycle: f64,
    host_flops_per_cycle: f64,
    lanes: f64,
    tiles: f64,
    layer_fixed: f64,
}

impl CostModel {
    pub fn new(target: &Target) -> CostModel {
        CostModel {
            target: target.clone(),
            dram_bytes_per_cycle: target.dram_bytes_per_cycle().max(1e-9),
            host_bytes_per_cycle: (target.host.link_gb_per_s / target.clock_ghz).max(1e-9),
            host_flops_per_cycle: (target.host.gflops / target.clock_ghz).max(1e-9),
            lanes: target.tile.vector_lanes.max(1) as f64,
            tiles: target.tiles.max(1) as f64,
            // The first load waits for the DRAM latency after the barrier; the last store ends with it.
            layer_fixed: 2.0 * target.dram.latency_cycles as f64 + 64.0,
        }
    }

    /// Cycles of one operator node with operands `args` producing `out`.
    pub fn op_cost(&self, op: &Op, place: Place, args: &[&Facts], out: &Facts) -> f64 {
        if matches!(op, Op::Reshape(_)) {
            // An alias: free, but not nothing, so that extraction prefers one reshape to a chain of them.
            return ALIAS;
        }
        match place {
            Place::Fold if args.iter().all(|a| a.konst.is_const()) => 0.0,
            Place::Fold => INFEASIBLE,
            Place::Tile => self.tile_cost(op, args, out),
            Place::Host => self.host_cost(op, args, out),
        }
    }

    /// Cycles of a MAC layer of `macs` multiply-accumulates in `dtype` moving `bytes` to and from DRAM: the
    /// precision e-graph's variants of one layer (`formats`).
    pub fn mac_layer(&self, macs: f64, dtype: DType, bytes: f64) -> f64 {
        let compute = macs / (mac_rate(&self.target, dtype).max(1) as f64 * self.tiles);
        compute.max(bytes / self.dram_bytes_per_cycle) + self.layer_fixed
    }

    /// Cycles of one vector-unit pass over `numel` elements moving `bytes` (a format conversion).
    pub fn vector_pass(&self, numel: f64, bytes: f64) -> f64 {
        (numel / (self.lanes * self.tiles)).max(bytes / self.dram_bytes_per_cycle) + self.layer_fixed
    }

    fn macs(op: &Op, args: &[&Facts], out: &Facts) -> f64 {
        let types: Vec<_> = args.iter().map(|a| a.ty.clone()).collect();
        op.macs(&types, &out.ty) as f64
    }

    fn bytes(args: &[&Facts], out: &Facts) -> f64 {
        let b = |f: &Facts| (f.ty.shape.numel() * f.ty.dtype.size()) as f64;
        args.iter().map(|a| b(a)).sum::<f64>() + b(out)
    }

    fn tile_cost(&self, op: &Op, args: &[&Facts], out: &Facts) -> f64 {
        if !self.tile_can_run(op, args, out) {
            return INFEASIBLE;
        }
        let numel = out.ty.shape.numel() as f64;
        let vector = |passes: f64| numel * passes / (self.lanes * self.tiles);
        let compute = match op {
            Op::Conv(_) | Op::Gemm(_) | Op::MatMul(_) => {
                Self::macs(op, args, out) / (mac_rate(&self.target, out.ty.dtype).max(1) as f64 * self.tiles)
            }
            Op::Unary(u) => vector(unary_passes(&u.op)),
            Op::Pool(p) => vector((p.kernel[0] * p.kernel[1]) as f64),
            Op::BatchNorm(_) => vector(2.0),
            // One pass per step over data that stays in SRAM: the DRAM side below pays x, the operands and
            // the result once, which is what makes a chain cheaper than its steps alone.
            Op::Elementwise(e) => vector(e.steps.iter().map(step_passes).sum()),
            _ => vector(1.0),
        };
        let dram = Self::bytes(args, out) / self.dram_bytes_per_cycle;
        compute.max(dram) + self.layer_fixed
    }

    fn host_cost(&self, op: &Op, args: &[&Facts], out: &Facts) -> f64 {
        let per_element = match op {
            Op::Elementwise(e) => e.steps.len() as f64,
            // Two sums over the row, then centre, divide, scale and shift.
            Op::LayerNorm(_) => 8.0,
            _ => 1.0,
        };
        let flops = (out.ty.shape.numel() as f64 * per_element).max(2.0 * Self::macs(op, args, out));
        Self::bytes(args, out) / self.host_bytes_per_cycle + flops / self.host_flops_per_cycle + self.layer_fixed
    }

    /// Whether `lower::plan` would put this node on the tiles (see the module comment).
    fn tile_can_run(&self, op: &Op, args: &[&Facts], out: &Facts) -> bool {
        let f32_only = args.iter().chain([&out]).all(|a| a.ty.dtype == DType::F32);
        if !tile_supports_op(&self.target, op) || !f32_only || out.ty.shape.numel() == 0 {
            return false;
        }
        let konst = |i: usize| args.get(i).is_some_and(|a| a.konst.is_const());
        let dims = |i: usize| args.get(i).map_or(&[][..], |a| a.ty.shape.dims());
        match op {
            Op::Conv(_) => !konst(0) && konst(1),
            Op::Gemm(g) => {
                let n = out.ty.shape.dims().get(1).copied().unwrap_or(0);
                let c_ok = args.get(2).is_none_or(|c| {
                    c.konst.is_const()
                        && match c.ty.shape.dims() {
                            [] | [1] | [1, 1] => true,
                            [x] | [1, x] => *x == n,
                            _ => false,
                        }
                });
                !g.trans_a && konst(1) && c_ok
            }
            Op::MatMul(_) => konst(1) && dims(1).len() == 2 && dims(0).len() >= 2 && !konst(0),
            Op::Unary(_) => true,
            Op::Binary(b) => {
                let od = out.ty.shape.dims();
                let fits = |x: usize, y: usize| dims(x) == od && !konst(x) && broadcast_pattern(od, dims(y)).is_some();
                fits(0, 1) || (b.op.commutes() && fits(1, 0))
            }
            Op::Pool(_) => dims(0).len() == 4,
            Op::BatchNorm(_) => !konst(0) && (1..5).all(konst),
            Op::Elementwise(_) => {
                let od = out.ty.shape.dims();
                let operands: Vec<&[usize]> = (1..args.len()).map(dims).collect();
                dims(0) == od && !konst(0) && chain_patterns(od, &operands).is_some()
            }
            _ => false,
        }
    }
}

fn step_passes(s: &Step) -> f64 {
    match s {
        Step::Unary(u) => unary_passes(u),
        Step::Binary { .. } => 1.0,
    }
}

/// Vector-unit passes per element, as `accel_ops::cost` charges them: transcendental functions take several.
fn unary_passes(op: &UnaryOp) -> f64 {
    match op {
        UnaryOp::Relu | UnaryOp::Clip { .. } | UnaryOp::LeakyRelu { .. } | UnaryOp::Neg | UnaryOp::Abs => 1.0,
        UnaryOp::HardSwish | UnaryOp::HardSigmoid { .. } | UnaryOp::Floor | UnaryOp::Ceil => 2.0,
        _ => 4.0,
    }
}
