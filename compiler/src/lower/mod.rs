//! Lowering: graph -> placement plans -> DRAM layout -> command queues -> `Program`.
//! The first-path schedule runs one layer at a time, each spread over all tiles in double-buffered work items.
mod emit;
mod error;
mod fuse;
mod layout;
mod plan;
mod tiling;

pub use error::LowerError;
pub use layout::Layout;
pub use plan::{broadcast_pattern, plan as plan_nodes, Broadcast, NodePlan};

use crate::ir::Graph;
use accel_ops::command::Unit;
use accel_ops::cost::mac_rate;
use accel_ops::program::{DebugInfo, IoDesc, Meta, Program};
use accel_ops::target::Target;
use emit::{dram_tensor, Emitter, WindowShapeExt};

/// Options of the lowering.
#[derive(Debug, Clone)]
pub struct LowerOptions {
    /// A human-readable summary of the compile options, stored in the blob's metadata.
    pub summary: String,
    /// Depth-first fusion of convolution chains and weight-stationary layers (off: every layer streams its
    /// weights and goes through DRAM, to measure what fusion buys).
    pub fuse_layers: bool,
}

impl Default for LowerOptions {
    fn default() -> Self {
        LowerOptions { summary: String::new(), fuse_layers: true }
    }
}

/// The result of lowering, with the facts reports need.
pub struct Lowered {
    pub program: Program,
    pub plans: Vec<NodePlan>,
    pub layout_peak: u64,
}

pub fn lower(g: &Graph, target: &Target, opts: &LowerOptions) -> Result<Lowered, LowerError> {
    let plans = plan::plan(g, target)?;
    let lay = layout::layout(g, &plans);
    if lay.dram_bytes > target.dram.capacity_bytes {
        return Err(LowerError::DramCapacity { need: lay.dram_bytes, have: target.dram.capacity_bytes });
    }
    let mut em = Emitter::new(target);
    let cap = em.buffer_set_bytes();
    let tiles = em.tiles();
    let budget = |ops_per_cycle: u32| emit::Budget {
        cap,
        tiles,
        dram_bytes_per_cycle: target.dram_bytes_per_cycle(),
        ops_per_cycle: ops_per_cycle as f64,
    };
    let mac_budget = budget(target.tile.fp32_macs_per_cycle);
    let vector_budget = budget(target.tile.vector_lanes);
    let addr = |v: crate::ir::ValueId| lay.value_addr[v.0 as usize].unwrap_or(0);
    let konst_of = |i: usize, k: usize, fallback: Option<crate::ir::ValueId>| {
        let a = lay.plan_consts[i].get(k).copied().unwrap_or(0);
        if a > u64::MAX / 2 {
            fallback.map(addr).unwrap_or(0)
        } else {
            a
        }
    };
    let chain_layer = |i: usize| -> Option<emit::ChainLayer> {
        let NodePlan::Conv { input, conv, weights, bias, residual, act, quant: None } = &plans[i] else { return None };
        // Fused chains compute in f32 only (bf16/i8 layers run one at a time).
        if g.ty(g.nodes[i].output).dtype != accel_ops::DType::F32 {
            return None;
        }
        Some(emit::ChainLayer {
            shape: emit::WindowShape::of(g.ty(*input), g.ty(g.nodes[i].output)),
            conv,
            act: *act,
            w: konst_of(i, 0, operand_value(weights)),
            b: konst_of(i, 1, operand_value(bias)),
            residual: residual.map(addr),
        })
    };
    let chains = if opts.fuse_layers {
        fuse::find_chains(g, &plans, &chain_layer, target.tile.sram_bytes, &mac_budget)
    } else {
        Vec::new()
    };
    let mut in_chain = vec![false; plans.len()];
    for c in &chains {
        for &i in &c.nodes {
            in_chain[i] = true;
        }
    }
    let mut layers = Vec::new();
    for (i, (node, p)) in g.nodes.iter().zip(&plans).enumerate() {
        if let Some(c) = chains.iter().find(|c| c.nodes.first() == Some(&i)) {
            let name = c.nodes.iter().map(|&j| g.nodes[j].name.as_str()).collect::<Vec<_>>().join(" > ");
            em.set_layer(layers.len() as u32);
            let members: Vec<emit::ChainLayer> = c.nodes.iter().filter_map(|&j| chain_layer(j)).collect();
            let NodePlan::Conv { input, .. } = &plans[i] else { continue };
            let last = g.nodes[c.nodes[c.nodes.len() - 1]].output;
            let (resident, items) =
                emit::emit_chain(&name, &members, addr(*input), addr(last), c.rows, target.tile.sram_bytes)?;
            em.tile_layer_resident(&name, resident, items, Unit::Mac)?;
            layers.push(name);
            continue;
        }
        if in_chain[i] {
            continue;
        }
        let name = node.name.as_str();
        let y = addr(node.output);
        let consts = &lay.plan_consts[i];
        let konst = |k: usize, fallback: Option<crate::ir::ValueId>| {
            let a = consts.get(k).copied().unwrap_or(0);
            if a > u64::MAX / 2 {
                fallback.map(addr).unwrap_or(0)
            } else {
                a
            }
        };
        if matches!(p, NodePlan::Alias { .. }) {
            continue;
        }
        em.set_layer(layers.len() as u32);
        layers.push(name.to_string());
        let out_ty = g.ty(node.output);
        match p {
            NodePlan::Alias { .. } => {}
            NodePlan::Conv { input, conv, weights, bias, residual, act, quant } => {
                let s = emit::WindowShape::of(g.ty(*input), out_ty);
                let (wv, bv) = (operand_value(weights), operand_value(bias));
                let quant = quant.as_ref().map(|q| konst(2, operand_value(q)));
                let (x, w, b, residual, dtype) =
                    (addr(*input), konst(0, wv), konst(1, bv), residual.map(addr), out_ty.dtype);
                let io = emit::ConvIo { x, w, b, residual, y, dtype, quant };
                let items = emit::emit_conv(name, &s, conv, *act, &io, &budget(mac_rate(target, dtype) as u32))?;
                em.tile_layer(name, items, Unit::Mac)?;
            }
            NodePlan::MatMul { a, b, bias, m, k, n, act, quant } => {
                let (bv, biv) = (operand_value(b), operand_value(bias));
                let quant = quant.as_ref().map(|q| konst(2, operand_value(q)));
                let (b, bias) = (konst(0, bv), konst(1, biv));
                let items =
                    emit::emit_matmul(name, (*m, *k, *n), *act, addr(*a), b, bias, y, cap, tiles, out_ty.dtype, quant)?;
                em.tile_layer(name, items, Unit::Mac)?;
            }
            NodePlan::Unary { input, op } => {
                let items = emit::emit_unary(*op, out_ty.shape.numel(), addr(*input), y, cap, tiles);
                em.tile_layer(name, items, Unit::Vector)?;
            }
            NodePlan::Binary { a, b, op, bcast } => {
                let bv = operand_value(b);
                let items =
                    emit::emit_binary(name, *op, *bcast, out_ty.shape.numel(), addr(*a), konst(0, bv), y, cap, tiles)?;
                em.tile_layer(name, items, Unit::Vector)?;
            }
            NodePlan::Pool { input, pool } => {
                let s = emit::WindowShape::of(g.ty(*input), out_ty);
                let items = emit::emit_pool(name, &s, pool, addr(*input), y, &vector_budget)?;
                em.tile_layer(name, items, Unit::Vector)?;
            }
            NodePlan::Affine { input, params, c, inner } => {
                let pv = operand_value(params);
                let items =
                    emit::emit_affine(out_ty.shape.numel(), *c, *inner, addr(*input), konst(0, pv), y, cap, tiles);
                em.tile_layer(name, items, Unit::Vector)?;
            }
            NodePlan::Convert { input, from, to, params } => {
                let params = params.as_ref().map(|p| konst(0, operand_value(p)));
                let items = emit::emit_convert(*from, *to, params, out_ty.shape.numel(), addr(*input), y, cap, tiles);
                em.tile_layer(name, items, Unit::Vector)?;
            }
            NodePlan::Host { op, inputs } => {
                let ins = inputs.iter().map(|&v| dram_tensor(addr(v), g.ty(v))).collect();
                em.host_layer(accel_ops::program::HostKernel {
                    op: op.clone(),
                    inputs: ins,
                    output: dram_tensor(y, out_ty),
                });
            }
        }
    }
    let io = |v: &crate::ir::ValueId| IoDesc { name: g.value(*v).name.clone(), ty: g.ty(*v).clone(), dram: addr(*v) };
    let kernels = std::mem::take(&mut em.kernels);
    let (queues, command_layer, semaphores) = em.finish();
    let meta = Meta {
        target: target.clone(),
        compiler_version: env!("CARGO_PKG_VERSION").to_string(),
        target_name: target.name.clone(),
        options: opts.summary.clone(),
        inputs: g.inputs.iter().map(io).collect(),
        outputs: g.outputs.iter().map(io).collect(),
        dram_bytes: lay.dram_bytes,
        semaphores,
    };
    let debug = DebugInfo { layers, command_layer, dram_buffers: lay.regions.clone() };
    let program = Program { meta, queues, constants: lay.constants.clone(), kernels, debug };
    Ok(Lowered { program, plans, layout_peak: lay.activation_peak })
}

fn operand_value(o: &plan::Operand) -> Option<crate::ir::ValueId> {
    match o {
        plan::Operand::Value(v) => Some(*v),
        plan::Operand::Const(_) => None,
    }
}
