//! Per-layer precision as an e-graph. Every value has one e-class per numeric format (f32, bf16, int8); a
//! MAC layer has one e-node per format it can compute in (reading its activations and writing its output in
//! that format), other nodes compute in f32, a reshape passes any format through, and conversion e-nodes link
//! a value's formats. The greedy-DAG extractor of the rewrite stage then minimizes, over the whole graph,
//! cycles + lambda x noise: each variant's cycles from the target's cost model (MAC rate and bytes per
//! format), each conversion paid once per value and format, and each variant's noise (linear noise-to-signal
//! ratio) as the caller measured it. `precision::auto` searches lambda for the cheapest choice that meets the
//! accuracy budget.
use super::cost::CostModel;
use super::extract::extract_table;
use accel_ops::target::Target;
use accel_ops::DType;
use egg::{Id, Language};

/// The format a value is stored in and a MAC layer computes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Numeric {
    F32,
    Bf16,
    Int8,
}

impl Numeric {
    const ALL: [Numeric; 3] = [Numeric::F32, Numeric::Bf16, Numeric::Int8];

    fn index(self) -> usize {
        self as usize
    }

    fn dtype(self) -> DType {
        match self {
            Numeric::F32 => DType::F32,
            Numeric::Bf16 => DType::BF16,
            Numeric::Int8 => DType::I8,
        }
    }
}

/// One format a MAC layer can compute in, and the noise it adds (noise energy over signal energy of the
/// layer's output, the layer alone against f32; 0 for f32).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Variant {
    pub numeric: Numeric,
    pub noise: f64,
}

/// What a node of the problem does with formats.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Reads and writes f32 (vector-unit, host and other nodes).
    F32,
    /// Passes its first input's format through (a reshape).
    Alias,
    /// A MAC layer of `macs` multiply-accumulates over `weights` constant elements, in any of `variants`.
    Mac { macs: f64, weights: f64, variants: Vec<Variant> },
}

/// One node: its non-constant inputs and its output, as value indices.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatNode {
    pub inputs: Vec<usize>,
    pub output: usize,
    pub kind: Kind,
}

/// A graph reduced to what the choice needs: element counts by value index, the graph inputs, the nodes in
/// topological order, the graph outputs (wanted in f32).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FormatProblem {
    pub numel: Vec<usize>,
    pub inputs: Vec<usize>,
    pub nodes: Vec<FormatNode>,
    pub outputs: Vec<usize>,
}

/// The choice: per node, the format of a MAC layer (`None` for the others and for layers no output needs),
/// and the extracted graph's cycles and summed noise.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatChoice {
    pub numerics: Vec<Option<Numeric>>,
    pub cycles: f64,
    pub noise: f64,
}

/// One e-node of the format e-graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum FNode {
    /// Graph input value (f32).
    Input(u32),
    /// Node `node` computing in `numeric`.
    Node { node: u32, numeric: Numeric, args: Vec<Id> },
    /// Value `value` converted to `to` from the format of `arg`'s class.
    Convert { value: u32, to: Numeric, arg: [Id; 1] },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Disc {
    Input,
    Node(u32, Numeric),
    Convert(u32, Numeric),
}

impl Language for FNode {
    type Discriminant = Disc;

    fn discriminant(&self) -> Disc {
        match self {
            FNode::Input(_) => Disc::Input,
            FNode::Node { node, numeric, .. } => Disc::Node(*node, *numeric),
            FNode::Convert { value, to, .. } => Disc::Convert(*value, *to),
        }
    }

    fn matches(&self, other: &Self) -> bool {
        match (self, other) {
            (FNode::Input(a), FNode::Input(b)) => a == b,
            (FNode::Node { node: a, numeric: x, args: p }, FNode::Node { node: b, numeric: y, args: q }) => {
                a == b && x == y && p.len() == q.len()
            }
            (FNode::Convert { value: a, to: x, .. }, FNode::Convert { value: b, to: y, .. }) => a == b && x == y,
            _ => false,
        }
    }

    fn children(&self) -> &[Id] {
        match self {
            FNode::Input(_) => &[],
            FNode::Node { args, .. } => args,
            FNode::Convert { arg, .. } => arg,
        }
    }

    fn children_mut(&mut self) -> &mut [Id] {
        match self {
            FNode::Input(_) => &mut [],
            FNode::Node { args, .. } => args,
            FNode::Convert { arg, .. } => arg,
        }
    }
}

type FormatGraph = egg::EGraph<FNode, ()>;

/// The e-graph of `p`, and per value its class in each format (`None`: the value never exists).
fn build(p: &FormatProblem) -> (FormatGraph, Vec<[Option<Id>; 3]>) {
    let mut eg = FormatGraph::default();
    let mut class: Vec<[Option<Id>; 3]> = vec![[None; 3]; p.numel.len()];
    let put = |eg: &mut FormatGraph, class: &mut Vec<[Option<Id>; 3]>, v: usize, f: Numeric, id: Id| {
        if let Some(slot) = class.get_mut(v) {
            slot[f.index()] = Some(match slot[f.index()] {
                Some(old) => {
                    eg.union(old, id);
                    eg.find(old)
                }
                None => id,
            });
        }
    };
    // Every format a value exists in gets a conversion from every other one it exists in.
    let close = |eg: &mut FormatGraph, class: &mut Vec<[Option<Id>; 3]>, v: usize| {
        let Some(&have) = class.get(v) else { return };
        for from in Numeric::ALL {
            let Some(src) = have[from.index()] else { continue };
            for to in Numeric::ALL.into_iter().filter(|&t| t != from) {
                let id = eg.add(FNode::Convert { value: v as u32, to, arg: [src] });
                put(eg, class, v, to, id);
            }
        }
    };
    for &i in &p.inputs {
        let id = eg.add(FNode::Input(i as u32));
        put(&mut eg, &mut class, i, Numeric::F32, id);
        close(&mut eg, &mut class, i);
    }
    for (k, n) in p.nodes.iter().enumerate() {
        let formats: Vec<Numeric> = match &n.kind {
            Kind::F32 => vec![Numeric::F32],
            Kind::Alias => Numeric::ALL.to_vec(),
            Kind::Mac { variants, .. } => variants.iter().map(|v| v.numeric).collect(),
        };
        for f in formats {
            let args: Option<Vec<Id>> = n
                .inputs
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    // A reshape's shape operand (if not constant) is read as f32.
                    let want = if n.kind == Kind::Alias && i > 0 { Numeric::F32 } else { f };
                    class.get(v).and_then(|c| c[want.index()])
                })
                .collect();
            let Some(args) = args else { continue };
            let id = eg.add(FNode::Node { node: k as u32, numeric: f, args });
            put(&mut eg, &mut class, n.output, f, id);
        }
        close(&mut eg, &mut class, n.output);
    }
    eg.rebuild();
    for c in class.iter_mut().flatten().flatten() {
        *c = eg.find(*c);
    }
    (eg, class)
}

/// Chooses every MAC layer's format for `p` on `target`, minimizing cycles + `lambda` x noise.
pub fn choose(p: &FormatProblem, target: &Target, lambda: f64) -> FormatChoice {
    let model = CostModel::new(target);
    let (eg, class) = build(p);
    let size = eg.classes().map(|c| usize::from(c.id) + 1).max().unwrap_or(0);
    let numel = |v: u32| p.numel.get(v as usize).copied().unwrap_or(0) as f64;
    let variant = |k: u32, f: Numeric| -> Option<(f64, f64)> {
        let n = p.nodes.get(k as usize)?;
        let Kind::Mac { macs, weights, variants } = &n.kind else { return None };
        let noise = variants.iter().find(|v| v.numeric == f)?.noise;
        let elems: f64 = n.inputs.iter().map(|&v| numel(v as u32)).sum::<f64>() + numel(n.output as u32) + weights;
        Some((model.mac_layer(*macs, f.dtype(), elems * f.dtype().size() as f64), noise))
    };
    let convert = |value: u32, arg: Id, to: Numeric| {
        let from = eg[arg].nodes.first().map_or(Numeric::F32, produced_format);
        let bytes = numel(value) * (from.dtype().size() + to.dtype().size()) as f64;
        model.vector_pass(numel(value), bytes)
    };
    let mut nodes: Vec<Vec<(FNode, f64)>> = vec![Vec::new(); size];
    for c in eg.classes() {
        for n in &c.nodes {
            let mut n = n.clone();
            n.update_children(|id| eg.find(id));
            let cost = match &n {
                FNode::Input(_) => 0.0,
                FNode::Node { node, numeric, .. } => variant(*node, *numeric).map_or(0.0, |(c, e)| c + lambda * e),
                FNode::Convert { value, to, arg } => convert(*value, arg[0], *to),
            };
            nodes[usize::from(c.id)].push((n, cost));
        }
    }
    let roots: Vec<Id> = p.outputs.iter().filter_map(|&o| class.get(o).and_then(|c| c[Numeric::F32.index()])).collect();
    let ex = extract_table(nodes, vec![false; size], &roots);
    // Walk the chosen graph from the outputs; a layer reached in two formats keeps the less noisy one.
    let mut numerics: Vec<Option<(Numeric, f64)>> = vec![None; p.nodes.len()];
    let (mut cycles, mut noise) = (0.0, 0.0);
    let mut seen = vec![false; size];
    let mut stack = roots.clone();
    while let Some(id) = stack.pop() {
        let i = usize::from(id);
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        let Some(n) = ex.node(id) else { continue };
        match n {
            FNode::Node { node, numeric, .. } => {
                if let Some((c, e)) = variant(*node, *numeric) {
                    cycles += c;
                    noise += e;
                    let slot = &mut numerics[*node as usize];
                    if slot.is_none_or(|(_, old)| e < old) {
                        *slot = Some((*numeric, e));
                    }
                }
            }
            FNode::Convert { value, to, arg } => cycles += convert(*value, arg[0], *to),
            FNode::Input(_) => {}
        }
        stack.extend(n.children().iter().copied());
    }
    FormatChoice { numerics: numerics.into_iter().map(|n| n.map(|(f, _)| f)).collect(), cycles, noise }
}

/// The format the values of a class are in, from any of its nodes (all agree by construction).
fn produced_format(n: &FNode) -> Numeric {
    match n {
        FNode::Input(_) => Numeric::F32,
        FNode::Node { numeric, .. } => *numeric,
        FNode::Convert { to, .. } => *to,
    }
}
