//! DRAM layout: constants first (64-byte aligned), then activations placed by liveness (first fit), so a
//! value's memory is reused once its last reader has run. Reshapes alias their input's storage; the operands of
//! an in-place concatenation live inside its output's.
use super::plan::{NodePlan, Operand};
use super::tiling::align64;
use crate::ir::{Graph, ValueId};
use accel_ops::program::NamedRegion;
use accel_ops::Tensor;
use std::collections::BTreeMap;

/// Where everything lives in DRAM.
#[derive(Debug, Clone)]
pub struct Layout {
    pub constants: Vec<u8>,
    /// Address of each value's storage (constants and activations), by value id.
    pub value_addr: Vec<Option<u64>>,
    /// Addresses of the compiler-made constants of each plan, in operand order.
    pub plan_consts: Vec<Vec<u64>>,
    pub dram_bytes: u64,
    /// Peak bytes of activations alive at once.
    pub activation_peak: u64,
    pub regions: Vec<NamedRegion>,
}

struct ConstPool {
    bytes: Vec<u8>,
    regions: Vec<NamedRegion>,
}

impl ConstPool {
    fn add(&mut self, name: String, t: &Tensor) -> u64 {
        self.bytes.resize(align64(self.bytes.len() as u64) as usize, 0);
        let at = self.bytes.len() as u64;
        let data = t.to_le_bytes();
        self.regions.push(NamedRegion { name, start: at, len: data.len() as u64 });
        self.bytes.extend_from_slice(&data);
        at
    }
}

/// Where each value's bytes live: in storage of its own, or inside another value's at a byte offset (a
/// reshape's output at its input's address, an in-place concatenation's operand inside the concatenation's
/// output). Following the links from a value ends at its storage root: reshape links lead to earlier values,
/// concatenation links to later ones, and a value links at most once, so there is no cycle.
#[derive(Debug, Clone)]
pub struct Storage {
    parent: Vec<Option<(ValueId, u64)>>,
    /// Per storage root: the first node that writes into it (its producer, or an in-place concatenation's
    /// first operand's).
    first_writer: Vec<Option<usize>>,
}

impl Storage {
    pub fn new(g: &Graph, plans: &[NodePlan]) -> Storage {
        let mut parent = vec![None; g.values.len()];
        for (n, p) in g.nodes.iter().zip(plans) {
            match p {
                NodePlan::Alias { input } => parent[n.output.0 as usize] = Some((*input, 0)),
                NodePlan::ConcatInPlace { inputs } => {
                    let mut offset = 0;
                    for &v in inputs {
                        parent[v.0 as usize] = Some((n.output, offset));
                        offset += bytes_of(g, v);
                    }
                }
                _ => {}
            }
        }
        let mut s = Storage { parent, first_writer: vec![None; g.values.len()] };
        for (i, (n, p)) in g.nodes.iter().zip(plans).enumerate() {
            if !p.is_alias() {
                let r = s.root(n.output).0 .0 as usize;
                s.first_writer[r] = s.first_writer[r].or(Some(i));
            }
        }
        s
    }

    /// The value whose storage holds `v`, and `v`'s byte offset in it.
    pub fn root(&self, mut v: ValueId) -> (ValueId, u64) {
        let mut offset = 0;
        while let Some((p, o)) = self.parent.get(v.0 as usize).copied().flatten() {
            v = p;
            offset += o;
        }
        (v, offset)
    }

    /// The first node writing into the storage of root `r` (`None` for graph inputs and constants).
    pub fn first_writer(&self, r: ValueId) -> Option<usize> {
        self.first_writer.get(r.0 as usize).copied().flatten()
    }
}

fn plan_operands(p: &NodePlan) -> Vec<&Operand> {
    match p {
        NodePlan::Conv { weights, bias, quant, .. } | NodePlan::MatMul { b: weights, bias, quant, .. } => {
            [Some(weights), Some(bias), quant.as_ref()].into_iter().flatten().collect()
        }
        NodePlan::Convert { params, .. } => params.iter().collect(),
        NodePlan::Binary { b, .. } => vec![b],
        NodePlan::Elementwise { operands, .. } => operands.iter().collect(),
        NodePlan::Affine { params, .. } => vec![params],
        _ => vec![],
    }
}

/// The graph values a plan reads from DRAM as they are.
fn value_inputs(p: &NodePlan) -> Vec<ValueId> {
    match p {
        NodePlan::Conv { input, residual, .. } => [Some(*input), *residual].into_iter().flatten().collect(),
        NodePlan::Alias { input }
        | NodePlan::Unary { input, .. }
        | NodePlan::Pool { input, .. }
        | NodePlan::Affine { input, .. }
        | NodePlan::Convert { input, .. } => vec![*input],
        NodePlan::MatMul { a, .. } => vec![*a],
        NodePlan::Binary { a, b, .. } => {
            let mut v = vec![*a];
            if let Operand::Value(b) = b {
                v.push(*b);
            }
            v
        }
        NodePlan::Elementwise { input, operands, .. } => {
            let values = operands.iter().filter_map(|o| match o {
                Operand::Value(v) => Some(*v),
                Operand::Const(_) => None,
            });
            std::iter::once(*input).chain(values).collect()
        }
        NodePlan::Host { inputs, .. } | NodePlan::ConcatInPlace { inputs } => inputs.clone(),
    }
}

/// Lays out constants and activations. Each of `spans` (first and last node of a fused chain) runs as one
/// layer: whatever its nodes read stays alive until its last node. Values in `unstored` (fused chain members'
/// outputs that never leave SRAM) get no DRAM at all. Aliases (`Storage`) share their root's storage, which is
/// alive from its first writer to the last reader of any value in it. With `classes` (per value, a pipelined
/// program's `pipeline::value_stages`), storage is reused by liveness only between values of the same stage:
/// stages of consecutive frames run at once, so their values must never share memory.
pub fn layout(
    g: &Graph,
    plans: &[NodePlan],
    spans: &[(usize, usize)],
    unstored: &[ValueId],
    classes: Option<&[Option<usize>]>,
) -> Layout {
    let mut pool = ConstPool { bytes: Vec::new(), regions: Vec::new() };
    let mut value_addr: Vec<Option<u64>> = vec![None; g.values.len()];
    let mut plan_consts = Vec::with_capacity(plans.len());
    for (i, p) in plans.iter().enumerate() {
        let name = &g.nodes[i].name;
        let mut addrs = Vec::new();
        for (k, op) in plan_operands(p).into_iter().enumerate() {
            match op {
                Operand::Const(t) => addrs.push(pool.add(format!("{name}:const{k}"), t)),
                Operand::Value(v) => addrs.push(u64::MAX - v.0 as u64),
            }
        }
        plan_consts.push(addrs);
    }
    // Graph constants read directly from DRAM (by host kernels, through aliases, or as outputs); constants that
    // only feed tile operators were copied into their prepared form above.
    let mut read_directly: Vec<ValueId> = plans.iter().flat_map(value_inputs).collect();
    read_directly.extend(g.outputs.iter().copied());
    let storage = Storage::new(g, plans);
    let mut placed = std::collections::BTreeSet::new();
    for v in read_directly {
        let root = storage.root(v).0;
        if let (Some(t), true) = (&g.value(root).constant, placed.insert(root)) {
            value_addr[root.0 as usize] = Some(pool.add(g.value(root).name.clone(), t));
        }
    }
    let act_base = align64(pool.bytes.len() as u64);

    // Liveness of activation storage roots, in node positions (graph inputs are defined at -1).
    let end = g.nodes.len() as i64;
    let mut interval: BTreeMap<ValueId, (i64, i64, u64)> = BTreeMap::new();
    for &i in &g.inputs {
        interval.insert(i, (-1, -1, bytes_of(g, i)));
    }
    for (i, n) in g.nodes.iter().enumerate() {
        let v = n.output;
        if storage.root(v).0 == v && !unstored.contains(&v) {
            let def = storage.first_writer(v).unwrap_or(i) as i64;
            interval.insert(v, (def, i as i64, bytes_of(g, v)));
        }
    }
    let extend = |v: ValueId, at: i64, interval: &mut BTreeMap<ValueId, (i64, i64, u64)>| {
        let r = storage.root(v).0;
        if let Some(e) = interval.get_mut(&r) {
            e.1 = e.1.max(at);
        }
    };
    for (i, n) in g.nodes.iter().enumerate() {
        for &v in &n.inputs {
            extend(v, i as i64, &mut interval);
        }
    }
    for &(first, last) in spans {
        for n in g.nodes.get(first..=last).unwrap_or_default() {
            for &v in &n.inputs {
                extend(v, last as i64, &mut interval);
            }
        }
    }
    for &o in &g.outputs {
        extend(o, end, &mut interval);
    }
    let mut order: Vec<(ValueId, (i64, i64, u64))> = interval.into_iter().collect();
    order.sort_by_key(|(v, (def, _, _))| (*def, *v));
    // First fit over live blocks (start, size, last use, class). A block of another class, or of none, is never
    // free.
    let class_of = |v: ValueId| classes.map_or(Some(0), |c| c.get(v.0 as usize).copied().flatten());
    let mut blocks: Vec<(u64, u64, i64, Option<usize>)> = Vec::new();
    let mut peak = 0u64;
    let mut regions = pool.regions;
    for (v, (def, last, size)) in order {
        let class = class_of(v);
        if classes.is_none() {
            // One class: a dead block is free for good (the same placement as checking it every time).
            blocks.retain(|&(_, _, l, _)| l >= def);
        }
        let mut live: Vec<(u64, u64, i64, Option<usize>)> =
            blocks.iter().copied().filter(|&(_, _, l, c)| l >= def || c.is_none() || c != class).collect();
        live.sort_unstable();
        let size = align64(size.max(1));
        let mut at = 0u64;
        for &(s, len, _, _) in &live {
            if at + size <= s {
                break;
            }
            at = at.max(s + len);
        }
        blocks.push((at, size, last, class));
        peak = peak.max(at + size);
        value_addr[v.0 as usize] = Some(act_base + at);
        regions.push(NamedRegion { name: g.value(v).name.clone(), start: act_base + at, len: size });
    }
    for i in 0..value_addr.len() {
        if value_addr[i].is_none() {
            let (root, offset) = storage.root(ValueId(i as u32));
            value_addr[i] = value_addr[root.0 as usize].map(|a| a + offset);
        }
    }
    regions.sort_by_key(|r| (r.start, r.name.clone()));
    Layout {
        constants: pool.bytes,
        value_addr,
        plan_consts,
        dram_bytes: act_base + peak,
        activation_peak: peak,
        regions,
    }
}

fn bytes_of(g: &Graph, v: ValueId) -> u64 {
    let t = g.ty(v);
    (t.shape.numel() * t.dtype.size()) as u64
}
