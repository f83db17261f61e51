//! Lowering: graph -> placement plans -> DRAM layout -> command queues -> `Program`.
//! The first-path schedule runs one layer at a time, each spread over all tiles in double-buffered work items.
mod concat;
#[cfg(test)]
mod concat_tests;
mod elementwise;
mod emit;
mod error;
mod fuse;
mod host;
mod layout;
mod pipeline;
mod plan;
mod tiling;

pub use elementwise::{chain_patterns, tile_supports_op};
pub use error::LowerError;
pub use host::{HostFallback, HostLayer, HostPlan};
pub use layout::Layout;
pub use pipeline::Objective;
pub use plan::{broadcast_pattern, plan as plan_nodes, Broadcast, NodePlan};

use crate::ir::Graph;
use accel_ops::command::Unit;
use accel_ops::cost::mac_rate;
use accel_ops::program::{DebugInfo, IoDesc, Meta, Program};
use accel_ops::target::Target;
use emit::{Emitter, WindowShapeExt};

/// Options of the lowering.
#[derive(Debug, Clone)]
pub struct LowerOptions {
    /// A human-readable summary of the compile options, stored in the blob's metadata.
    pub summary: String,
    /// Depth-first fusion of convolution chains and weight-stationary layers (off: every layer streams its
    /// weights and goes through DRAM, to measure what fusion buys).
    pub fuse_layers: bool,
    /// Batch-1 latency, or frames/s by pipelining frames over stages of tiles (`pipeline`).
    pub objective: Objective,
}

impl Default for LowerOptions {
    fn default() -> Self {
        LowerOptions { summary: String::new(), fuse_layers: true, objective: Objective::Latency }
    }
}

/// The result of lowering, with the facts reports need.
pub struct Lowered {
    pub program: Program,
    pub plans: Vec<NodePlan>,
    pub layout_peak: u64,
    /// The first node of each layer of the debug map.
    pub layer_nodes: Vec<usize>,
    /// Host nodes left in operator form (no kernel-IR lowering), in node order.
    pub host_fallbacks: Vec<HostFallback>,
    /// The tile each fused chain (or weight-stationary layer) runs in, in layer order.
    pub chain_tiles: Vec<ChainTile>,
}

/// The tile a fused chain runs in: `rows` x `cols` outputs of its last layer per work item (`cols` below the
/// output's width when the chain is cut into columns too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainTile {
    /// The chain's layer name (its ONNX nodes joined with ` > `).
    pub layer: String,
    pub rows: usize,
    pub cols: usize,
    /// The last layer's output width.
    pub width: usize,
}

/// Lowers `g` for `target`. Fused chains of two or more layers may keep half or three quarters of a tile's SRAM
/// for their weights: more lets deeper chains hold their intermediates on chip (YOLOv3's 1x1 + 3x3 residual
/// blocks in f32), but a chain that fills SRAM leaves the next layer no room to prefetch its weights (ResNet-50's
/// stage 3 in int8), and the planners' estimates do not see prefetch. So both programs are built and the one
/// with the shorter simulated latency wins (the first on a tie). With the throughput objective, every split of
/// the tiles into equal groups is then tried with that choice (layers balanced over the stages by their
/// predicted cycles on one group) and the program with the shortest simulated frame period wins; the latency
/// schedule stays when no split cuts its period by `MIN_PIPELINE_GAIN`.
pub fn lower(g: &Graph, target: &Target, opts: &LowerOptions) -> Result<Lowered, LowerError> {
    let sram = target.tile.sram_bytes;
    let single = pipeline::StagePlan::single(target.tiles);
    let mut chain_resident = sram / 2;
    let mut latency = lower_stages(g, target, opts, &single, chain_resident)?;
    if opts.fuse_layers {
        let wide = lower_stages(g, target, opts, &single, sram / 4 * 3)?;
        if simulated_latency(&wide.program)? < simulated_latency(&latency.program)? {
            (latency, chain_resident) = (wide, sram / 4 * 3);
        }
    }
    if opts.objective == Objective::Latency {
        return Ok(latency);
    }
    let single_period = simulated_period(&latency.program)?;
    let mut best = (single_period, latency);
    for stages in (2..=target.tiles).filter(|s| target.tiles % s == 0) {
        let group = target.tiles / stages;
        // Each layer's predicted cycles on one group, alone: the single-stage program for a `group`-tile target.
        let sub = Target { tiles: group, ..target.clone() };
        let trial = lower_stages(g, &sub, opts, &pipeline::StagePlan::single(group), chain_resident)?;
        let cycles = crate::predict::layer_cycles(&trial.program);
        if cycles.len() < stages as usize {
            continue;
        }
        let starts = pipeline::balance(&cycles, stages as usize);
        let starts = starts.iter().map(|&l| if l == 0 { 0 } else { trial.layer_nodes[l] }).collect();
        let lowered = lower_stages(g, target, opts, &pipeline::StagePlan { group, starts }, chain_resident)?;
        let p = simulated_period(&lowered.program)?;
        if p < best.0 && p as f64 <= single_period as f64 * (1.0 - MIN_PIPELINE_GAIN) {
            best = (p, lowered);
        }
    }
    Ok(best.1)
}

/// The least frame-period cut that makes a pipelined program replace the latency schedule: a split costs
/// latency (ResNet-50@224 on `x1`: 0.1% more frames/s for a 49% longer frame), so it must buy real throughput.
const MIN_PIPELINE_GAIN: f64 = 0.02;

/// Cycles between frame starts in a steady stream, from the simulator's timing-only run (deterministic: the
/// timing never depends on the data): a frame's latency for a one-stage program, the measured steady-state
/// period of several frames back to back for a pipelined one. Measured rather than predicted because the
/// stages of consecutive frames wait on each other (a stage overwrites the values the next stage reads only
/// once it has read them) and share the DRAM channel, which `predict`'s layer-by-layer model does not see.
fn simulated_period(p: &accel_ops::program::Program) -> Result<u64, LowerError> {
    let sim = |e: accel_runtime::RuntimeError| LowerError::Other(format!("simulating a pipeline candidate: {e}"));
    match accel_runtime::stream::pipelined_period(p).map_err(sim)? {
        Some(period) => Ok(period),
        None => simulated_latency(p),
    }
}

/// One frame's simulated cycles (timing only: deterministic, never depends on the data).
fn simulated_latency(p: &accel_ops::program::Program) -> Result<u64, LowerError> {
    let sim = |e: accel_runtime::RuntimeError| LowerError::Other(format!("simulating a schedule candidate: {e}"));
    Ok(accel_runtime::Session::from_program(p.clone()).map_err(sim)?.run_timing_only().map_err(sim)?.latency_cycles)
}

/// Lowers `g` with the layers of each stage on its own group of tiles (one stage: the latency schedule).
fn lower_stages(
    g: &Graph,
    target: &Target,
    opts: &LowerOptions,
    stage_plan: &pipeline::StagePlan,
    chain_resident: u64,
) -> Result<Lowered, LowerError> {
    let mut plans = plan::plan(g, target)?;
    concat::place_in_place(g, &mut plans, &|i| stage_plan.stage_of(i));
    let pipelined = stage_plan.starts.len() > 1;
    // Every decision (tiling, fusion, stationary weights) is made for one stage's group of tiles.
    let tiles = stage_plan.group as usize;
    let budget = |ops_per_cycle: u32| emit::Budget {
        cap: emit::set_bytes(target.tile.sram_bytes, 0),
        tiles,
        dram_bytes_per_cycle: target.dram_bytes_per_cycle(),
        ops_per_cycle: ops_per_cycle as f64,
        dma_latency: (accel_ops::cost::ISSUE_CYCLES + target.dram.latency_cycles as u64) as f64,
        chain_resident,
    };
    let mac_budget = budget(target.tile.fp32_macs_per_cycle);
    let vector_budget = budget(target.tile.vector_lanes);
    // Chains are chosen from shapes alone, before the DRAM layout: a chain reads its inputs while it writes its
    // output, so the layout keeps everything its members read alive until its last member.
    let chains = if opts.fuse_layers {
        let shapes = |i: usize| chain_member(g, target, &plans, i, &|_, _| 0, &|_| 0);
        let chains = fuse::find_chains(g, &plans, &shapes, target.tile.sram_bytes, &mac_budget);
        // A chain never crosses a stage boundary (the stages come from layers of the same chains, so this only
        // guards against a plan made otherwise).
        chains
            .into_iter()
            .filter(|c| c.nodes.iter().all(|&n| stage_plan.stage_of(n) == stage_plan.stage_of(c.nodes[0])))
            .collect()
    } else {
        Vec::new()
    };
    let spans: Vec<(usize, usize)> =
        chains.iter().filter_map(|c| Some((*c.nodes.first()?, *c.nodes.last()?))).collect();
    let classes = pipelined.then(|| pipeline::value_stages(g, &plans, stage_plan));
    // Chain members' outputs that only the chain reads never reach DRAM: they get no storage.
    let unstored: Vec<crate::ir::ValueId> = chains
        .iter()
        .flat_map(|c| c.nodes.iter().zip(&c.wiring).filter(|(_, w)| !w.stored).map(|(&n, _)| g.nodes[n].output))
        .collect();
    let lay = layout::layout(g, &plans, &spans, &unstored, classes.as_deref());
    if lay.dram_bytes > target.dram.capacity_bytes {
        return Err(LowerError::DramCapacity { need: lay.dram_bytes, have: target.dram.capacity_bytes });
    }
    let mut em = Emitter::pipelined(target, stage_plan.starts.len());
    let cap = em.buffer_set_bytes();
    let addr = |v: crate::ir::ValueId| lay.value_addr[v.0 as usize].unwrap_or(0);
    let konst_of = |i: usize, k: usize, fallback: Option<crate::ir::ValueId>| {
        let a = lay.plan_consts[i].get(k).copied().unwrap_or(0);
        if a > u64::MAX / 2 {
            fallback.map(addr).unwrap_or(0)
        } else {
            a
        }
    };
    let chain_layer = |i: usize| chain_member(g, target, &plans, i, &|k, v| konst_of(i, k, v), &addr);
    let mut in_chain = vec![false; plans.len()];
    for c in &chains {
        for &i in &c.nodes {
            in_chain[i] = true;
        }
    }
    let host = host::plan_host(g, &plans, &addr);
    let mut layers = Vec::new();
    // Per layer, its operators' MACs (`DebugInfo::layer_macs`; 0 for host layers).
    let mut layer_macs: Vec<u64> = Vec::new();
    // The first node of each emitted layer.
    let mut layer_nodes: Vec<usize> = Vec::new();
    let mut chain_tiles: Vec<ChainTile> = Vec::new();
    let starts_layer = |i: usize| {
        if chains.iter().any(|c| c.nodes.first() == Some(&i)) {
            return true;
        }
        !in_chain[i] && (host.starting_at(i).is_some() || !(host.fused_away(i) || plans[i].is_alias()))
    };
    let cross = pipeline::crossings(g, &plans, stage_plan);
    let mut stages = Vec::new();
    let mut read_signalled = vec![false; stage_plan.starts.len()];
    for (i, (node, p)) in g.nodes.iter().zip(&plans).enumerate() {
        if pipelined && starts_layer(i) {
            let s = stage_plan.stage_of(i);
            let cur = stages.len().saturating_sub(1);
            // The stage so far has read every cross-stage value it needs: let earlier stages overwrite them.
            if let Some(r) = cross.last_reader.get(cur).copied().flatten() {
                if r < i && !read_signalled[cur] && !stages.is_empty() {
                    em.signal_read(cur);
                    read_signalled[cur] = true;
                }
            }
            if stages.len() <= s {
                let first_tile = (s as u32 * stage_plan.group) as u16;
                em.begin_stage(s, first_tile..first_tile + stage_plan.group as u16);
                stages.push(accel_ops::pipeline::Stage {
                    first_tile,
                    tiles: stage_plan.group as u16,
                    first_layer: layers.len() as u32,
                    layers: 0,
                });
            }
            // This layer writes values later stages read: wait until they read the previous frame's.
            let next = (i + 1..g.nodes.len()).find(|&j| starts_layer(j)).unwrap_or(g.nodes.len());
            let mut readers: Vec<usize> =
                cross.writers.iter().filter(|(w, _)| (i..next).contains(w)).map(|&(_, t)| t).collect();
            readers.dedup();
            for t in readers {
                em.wait_read(t);
            }
        }
        if starts_layer(i) {
            layer_nodes.push(i);
        }
        if let Some(c) = chains.iter().find(|c| c.nodes.first() == Some(&i)) {
            let name = c.nodes.iter().map(|&j| g.nodes[j].name.as_str()).collect::<Vec<_>>().join(" > ");
            em.set_layer(layers.len() as u32);
            let members: Vec<emit::ChainLayer> =
                c.nodes.iter().zip(&c.wiring).filter_map(|(&j, w)| Some(chain_layer(j)?.wired(w))).collect();
            let NodePlan::Conv { input, .. } = &plans[i] else { continue };
            let (resident, items) =
                emit::emit_chain(&name, &members, addr(*input), (c.rows, c.cols), target.tile.sram_bytes)?;
            em.tile_layer_resident(&name, resident, items, Unit::Mac)?;
            let width = members.last().map_or(0, |l| l.shape.ow);
            chain_tiles.push(ChainTile { layer: name.clone(), rows: c.rows, cols: c.cols, width });
            layers.push(name);
            layer_macs.push(c.nodes.iter().map(|&j| g.node_macs(j)).sum());
            continue;
        }
        if in_chain[i] {
            continue;
        }
        if let Some(h) = host.starting_at(i) {
            em.set_layer(layers.len() as u32);
            layers.push(h.name.clone());
            layer_macs.push(0);
            em.host_layer(h.kernel.clone());
            continue;
        }
        if host.fused_away(i) {
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
        if p.is_alias() {
            continue;
        }
        em.set_layer(layers.len() as u32);
        layers.push(name.to_string());
        layer_macs.push(g.node_macs(i));
        let out_ty = g.ty(node.output);
        match p {
            NodePlan::Alias { .. } | NodePlan::ConcatInPlace { .. } => {}
            NodePlan::Conv { input, conv, weights, bias, residual, act, quant } => {
                let s = emit::WindowShape::of(g.ty(*input), out_ty);
                let (wv, bv) = (operand_value(weights), operand_value(bias));
                let quant = quant.as_ref().map(|q| konst(2, operand_value(q)));
                let (x, w, b, residual, dtype) =
                    (addr(*input), konst(0, wv), konst(1, bv), residual.map(addr), out_ty.dtype);
                let table = quant.is_some() && act.is_some();
                let io = emit::ConvIo { x, w, b, residual, y, dtype, quant, table };
                let b = budget(mac_rate(target, dtype) as u32);
                let sram = target.tile.sram_bytes;
                match stationary_plan(&s, conv, &io, sram, &b, opts.fuse_layers) {
                    Some(p) => {
                        let tiles = emit::emit_stationary(name, &s, conv, *act, &io, &p, sram, em.tiles())?;
                        em.tile_layer_phased(name, tiles, Unit::Mac)?;
                    }
                    None => {
                        let items = emit::emit_conv(name, &s, conv, *act, &io, &b)?;
                        em.tile_layer(name, items, Unit::Mac)?;
                    }
                }
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
            NodePlan::Elementwise { input, steps, operands, bcasts } => {
                let ops: Vec<u64> = operands.iter().enumerate().map(|(k, o)| konst(k, operand_value(o))).collect();
                let io = emit::ElementwiseIo { x: addr(*input), operands: &ops, bcasts, y };
                let items = emit::emit_elementwise(name, steps, &io, out_ty.shape.numel(), cap, tiles)?;
                em.tile_layer(name, items, Unit::Vector)?;
            }
            NodePlan::Pool { input, pool, quant } => {
                let s = emit::WindowShape::of(g.ty(*input), out_ty);
                let io = emit::PoolIo { x: addr(*input), y, quant: *quant };
                let items = emit::emit_pool(name, &s, pool, &io, &vector_budget)?;
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
            // `plan_host` gives every host node a host layer, emitted above.
            NodePlan::Host { .. } => return Err(LowerError::layer(name, "internal: a host node without a host layer")),
        }
    }
    if pipelined {
        let last = stages.len().saturating_sub(1);
        if cross.last_reader.get(last).copied().flatten().is_some() && !read_signalled[last] {
            em.signal_read(last);
        }
        let ends: Vec<u32> = stages.iter().skip(1).map(|s| s.first_layer).chain([layers.len() as u32]).collect();
        for (s, end) in stages.iter_mut().zip(ends) {
            s.layers = end - s.first_layer;
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
        stages: if pipelined { stages } else { Vec::new() },
    };
    let debug = DebugInfo { layers, command_layer, dram_buffers: lay.regions.clone(), layer_macs };
    let program = Program { meta, queues, constants: lay.constants.clone(), kernels, debug };
    Ok(Lowered {
        program,
        plans,
        layout_peak: lay.activation_peak,
        layer_nodes,
        host_fallbacks: host.fallbacks,
        chain_tiles,
    })
}

/// The channel-stationary schedule of a convolution when it beats streaming its weights with every stripe:
/// faster, or as fast (within 2%) with less DRAM traffic. Off with `fuse_layers` off, to measure what it buys.
fn stationary_plan(
    s: &emit::WindowShape,
    conv: &accel_ops::op::Conv,
    io: &emit::ConvIo,
    sram: u64,
    b: &emit::Budget,
    enabled: bool,
) -> Option<emit::StationaryPlan> {
    if !enabled {
        return None;
    }
    let p = emit::plan_stationary(s, conv, io, sram, b)?;
    match emit::conv_stream_plan(s, conv, io, b) {
        Some((_, _, t, bytes)) if p.cycles > t * 1.02 || (p.cycles > t * 0.999 && p.dram_bytes >= bytes) => None,
        _ => Some(p),
    }
}

/// Node `i` as a member of a fused chain (a convolution in f32, bf16 or int8), with the DRAM addresses of its
/// constants (`konst`: operand index and the value it may be) and values (`addr`).
fn chain_member<'a>(
    g: &Graph,
    target: &Target,
    plans: &'a [NodePlan],
    i: usize,
    konst: &dyn Fn(usize, Option<crate::ir::ValueId>) -> u64,
    addr: &dyn Fn(crate::ir::ValueId) -> u64,
) -> Option<emit::ChainLayer<'a>> {
    let NodePlan::Conv { input, conv, weights, bias, residual, act, quant } = plans.get(i)? else { return None };
    let dtype = g.ty(g.nodes[i].output).dtype;
    // The tiles' MAC formats; int8 always has its requantization parameters, the others never.
    match (dtype, quant) {
        (accel_ops::DType::F32 | accel_ops::DType::BF16, None) | (accel_ops::DType::I8, Some(_)) => {}
        _ => return None,
    }
    Some(emit::ChainLayer {
        shape: emit::WindowShape::of(g.ty(*input), g.ty(g.nodes[i].output)),
        conv,
        act: *act,
        w: konst(0, operand_value(weights)),
        b: konst(1, operand_value(bias)),
        input: emit::Src::Input,
        residual: residual.map(|r| emit::Residual::Dram(addr(r))),
        y: addr(g.nodes[i].output),
        stored: true,
        dtype,
        quant: quant.as_ref().map(|q| konst(2, operand_value(q))),
        mac_rate: mac_rate(target, dtype) as f64,
    })
}

fn operand_value(o: &plan::Operand) -> Option<crate::ir::ValueId> {
    match o {
        plan::Operand::Value(v) => Some(*v),
        plan::Operand::Const(_) => None,
    }
}
