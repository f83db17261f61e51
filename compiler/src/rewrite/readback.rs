//! From the extracted e-graph back to a `Graph`: constant classes are folded to tensors (the constant math
//! of the rules happens here, once), operator classes become nodes in an order close to the original one,
//! each with its placement, and each node is named after the ONNX nodes it covers, joined with `+`: the ONNX
//! nodes that map to its class, plus those whose class was not kept and whose result only flows into it.
use super::analysis::EGraph;
use super::extract::Extracted;
use super::lang::{ENode, Place};
use super::RewriteError;
use crate::ir::{Graph, NodeId, Placement, ValueId};
use accel_ops::op::{Binary, Op};
use accel_ops::Tensor;
use egg::{Id, Language};
use std::collections::{BTreeSet, HashMap};

/// What readback needs to know about the original graph.
pub struct Origin<'a> {
    pub graph: &'a Graph,
    /// The e-class of each original node's output.
    pub node_class: Vec<Id>,
    /// The e-class of each graph input.
    pub input_class: Vec<Id>,
    /// The graph value of each side-table constant.
    pub const_values: Vec<ValueId>,
}

/// A fused node of the result: its name and the ONNX nodes it covers (more than one).
#[derive(Debug, Clone, PartialEq)]
pub struct Covered {
    pub node: NodeId,
    pub originals: Vec<String>,
}

pub fn readback(eg: &EGraph, ex: &Extracted, origin: &Origin) -> Result<(Graph, Vec<Covered>), RewriteError> {
    let g = origin.graph;
    let find = |id: Id| eg.find(id);
    // `None`: the output is one of the graph's constants.
    let outputs: Vec<Option<Id>> = g.outputs.iter().map(|&o| class_of_value(g, origin, o).map(find)).collect();
    let is_const = |id: Id| eg[id].data.konst.is_const();
    let chosen = |id: Id| ex.node(find(id)).ok_or(RewriteError::NoChoice);
    // The operator classes to emit, found from the outputs (constants stop the walk).
    let mut needed: BTreeSet<Id> = BTreeSet::new();
    let mut stack: Vec<Id> = outputs.iter().flatten().copied().collect();
    while let Some(id) = stack.pop() {
        let id = find(id);
        if is_const(id) || !needed.insert(id) {
            continue;
        }
        stack.extend(chosen(id)?.children().iter().copied());
    }
    needed.retain(|&id| matches!(ex.node(id), Some(ENode::Op { .. })));
    let (covers, moved) = ownership(eg, ex, origin, &needed);
    let order = emit_order(eg, ex, &needed, &covers)?;

    let mut out = Graph::default();
    let mut value: HashMap<Id, ValueId> = HashMap::new();
    for (k, &i) in g.inputs.iter().enumerate() {
        let v = out.add_input(g.value(i).name.clone(), g.ty(i).clone());
        if let Some(&c) = origin.input_class.get(k) {
            value.entry(find(c)).or_insert(v);
        }
    }
    let mut folded: HashMap<Id, Tensor> = HashMap::new();
    let mut fused = Vec::new();
    for &c in &order {
        let Some(ENode::Op { op, place, args }) = ex.node(c) else { return Err(RewriteError::NoChoice) };
        let originals: Vec<String> =
            covers.get(&c).map_or(Vec::new(), |v| v.iter().map(|&i| g.nodes[i].name.clone()).collect());
        let name = if originals.is_empty() {
            format!("{}:{}", rule_made_name(g, eg, ex, c, &covers, &order, &moved), op.op().kind())
        } else {
            originals.join("+")
        };
        let mut ins = Vec::with_capacity(args.len());
        for (k, &a) in args.iter().enumerate() {
            let a = find(a);
            let v = match value.get(&a) {
                Some(&v) => v,
                None if is_const(a) => {
                    let t = take_folded(eg, ex, a, &mut folded, origin)?;
                    let cname = match leaf_value(ex, a, origin) {
                        Some(v) => g.value(v).name.clone(),
                        None => format!("{name}:folded{k}"),
                    };
                    let v = out.add_const(cname, t);
                    value.insert(a, v);
                    v
                }
                None => return Err(RewriteError::NoChoice),
            };
            ins.push(v);
        }
        let out_name = output_name(g, origin, c, eg).unwrap_or_else(|| format!("{name}:out"));
        let v = out.add_node(name.clone(), op.op().clone(), ins, out_name)?;
        let id = NodeId(out.nodes.len() as u32 - 1);
        out.set_placement(
            id,
            match (op.op(), place) {
                (Op::Reshape(_), _) => Placement::Auto,
                (_, Place::Host) => Placement::Host,
                _ => Placement::Tile,
            },
        );
        if originals.len() > 1 {
            fused.push(Covered { node: id, originals });
        }
        value.insert(c, v);
    }
    for (&o, c) in g.outputs.iter().zip(&outputs) {
        let v = match c.and_then(|c| value.get(&c).copied()) {
            Some(v) => v,
            None => {
                let t = match (c, g.constant(o)) {
                    (Some(c), _) => take_folded(eg, ex, *c, &mut folded, origin)?,
                    (None, Some(t)) => t.clone(),
                    (None, None) => return Err(RewriteError::NoChoice),
                };
                let v = out.add_const(g.value(o).name.clone(), t);
                if let Some(c) = c {
                    value.insert(*c, v);
                }
                v
            }
        };
        // An output that became a graph input or another output (an Identity removed) keeps its own name
        // through an alias, as the importer gives it: the runtime finds outputs by name.
        let want = &g.value(o).name;
        let v = if out.value(v).name != *want && (out.inputs.contains(&v) || out.outputs.contains(&v)) {
            let shape = out.ty(v).shape.clone();
            out.add_node(want.clone(), Op::Reshape(accel_ops::op::Reshape { shape }), vec![v], want.clone())?
        } else {
            v
        };
        out.outputs.push(v);
    }
    Ok((out, fused))
}

/// Which original nodes each emitted class covers (by index into `g.nodes`): the nodes that map to it, and
/// those whose class was not kept and whose result flows into it (their first kept consumer). Also the
/// operators that received the names of the reshape around them (see below).
fn ownership(
    eg: &EGraph,
    ex: &Extracted,
    origin: &Origin,
    needed: &BTreeSet<Id>,
) -> (HashMap<Id, Vec<usize>>, BTreeSet<Id>) {
    let g = origin.graph;
    let find = |id: Id| eg.find(id);
    // Originals owning each needed class: mapped directly, or absorbed into the first kept consumer.
    let consumers = g.consumers();
    let mut owner: Vec<Option<Id>> = vec![None; g.nodes.len()];
    for i in (0..g.nodes.len()).rev() {
        let c = find(origin.node_class[i]);
        owner[i] = if needed.contains(&c) {
            Some(c)
        } else {
            consumers[g.nodes[i].output.0 as usize].iter().find_map(|n| owner[n.0 as usize])
        };
    }
    let mut covers: HashMap<Id, Vec<usize>> = HashMap::new();
    for (i, o) in owner.iter().enumerate() {
        if let Some(c) = o {
            covers.entry(*c).or_default().push(i);
        }
    }
    // A reshape around a rule-made operator (MatMul + Add -> Reshape(Gemm(Reshape))) is only an alias: the
    // ONNX names of the operators it stands for belong to the operator inside (ONNX reshapes stay).
    let mut moved: BTreeSet<Id> = BTreeSet::new();
    for &c in needed {
        let Some(ENode::Op { op, args, .. }) = ex.node(c) else { continue };
        let inner = find(args[0]);
        let inner_is_op = matches!(ex.node(inner), Some(ENode::Op { op, .. }) if !matches!(op.op(), Op::Reshape(_)));
        if !matches!(op.op(), Op::Reshape(_)) || !inner_is_op || !needed.contains(&inner) || covers.contains_key(&inner)
        {
            continue;
        }
        let Some(mine) = covers.remove(&c) else { continue };
        let stays = |&i: &usize| matches!(g.nodes[i].op, Op::Reshape(_)) && find(origin.node_class[i]) == c;
        let (keep, give): (Vec<usize>, Vec<usize>) = mine.into_iter().partition(stays);
        if !keep.is_empty() {
            covers.insert(c, keep);
        }
        if !give.is_empty() {
            covers.insert(inner, give);
            moved.insert(inner);
        }
    }
    (covers, moved)
}

/// The class of a graph value, or `None` for a graph constant.
fn class_of_value(g: &Graph, origin: &Origin, v: ValueId) -> Option<Id> {
    if let Some(p) = g.value(v).producer {
        return origin.node_class.get(p.0 as usize).copied();
    }
    g.inputs.iter().position(|&i| i == v).and_then(|k| origin.input_class.get(k).copied())
}

/// The output value name: a graph output's name if one maps here, else the value name of the first original
/// node whose class this is.
fn output_name(g: &Graph, origin: &Origin, c: Id, eg: &EGraph) -> Option<String> {
    let of = |v: ValueId| g.value(v).producer.is_some_and(|p| eg.find(origin.node_class[p.0 as usize]) == c);
    if let Some(&o) = g.outputs.iter().find(|&&o| of(o)) {
        return Some(g.value(o).name.clone());
    }
    g.nodes.iter().find(|n| of(n.output)).map(|n| g.value(n.output).name.clone())
}

/// Name of a node no ONNX node maps to (made by a rule, e.g. a reshape around a Gemm): after the operator
/// whose reshape it is, else its first consumer, else its first named operand.
fn rule_made_name(
    g: &Graph,
    eg: &EGraph,
    ex: &Extracted,
    c: Id,
    covers: &HashMap<Id, Vec<usize>>,
    order: &[Id],
    moved: &BTreeSet<Id>,
) -> String {
    let joined =
        |d: Id| covers.get(&d).map(|v| v.iter().map(|&i| g.nodes[i].name.as_str()).collect::<Vec<_>>().join("+"));
    let children: Vec<Id> = ex.node(c).map_or(Vec::new(), |n| n.children().iter().map(|&a| eg.find(a)).collect());
    let uses = |o: Id| ex.node(o).is_some_and(|n| n.children().iter().any(|&a| eg.find(a) == c));
    children
        .iter()
        .filter(|d| moved.contains(d))
        .find_map(|&d| joined(d))
        .or_else(|| order.iter().filter(|&&o| uses(o)).find_map(|&o| joined(o)))
        .or_else(|| children.iter().find_map(|&d| joined(d)))
        .unwrap_or_else(|| "rewrite".to_string())
}

/// A topological order of the needed classes that follows the original node order: Kahn's algorithm taking
/// the ready class whose first original node comes first (rule-made classes go right before their consumer).
fn emit_order(
    eg: &EGraph,
    ex: &Extracted,
    needed: &BTreeSet<Id>,
    covers: &HashMap<Id, Vec<usize>>,
) -> Result<Vec<Id>, RewriteError> {
    let deps = |c: Id| -> Vec<Id> {
        let mut d: Vec<Id> = ex.node(c).map_or(Vec::new(), |n| n.children().iter().map(|&a| eg.find(a)).collect());
        d.retain(|a| needed.contains(a));
        d.sort();
        d.dedup();
        d
    };
    // Rank: the first original node covered; rule-made classes inherit the smallest rank of their consumers.
    let mut rank: HashMap<Id, usize> =
        needed.iter().map(|&c| (c, covers.get(&c).map_or(usize::MAX, |v| v[0]))).collect();
    for _ in 0..needed.len() {
        let mut changed = false;
        for &c in needed {
            let r = rank[&c];
            for d in deps(c) {
                if rank[&d] == usize::MAX && r != usize::MAX {
                    rank.insert(d, r);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut waiting: HashMap<Id, usize> = needed.iter().map(|&c| (c, deps(c).len())).collect();
    let mut users: HashMap<Id, Vec<Id>> = HashMap::new();
    for &c in needed {
        for d in deps(c) {
            users.entry(d).or_default().push(c);
        }
    }
    let mut ready: BTreeSet<(usize, Id)> =
        waiting.iter().filter(|(_, &n)| n == 0).map(|(&c, _)| (rank[&c], c)).collect();
    let mut order = Vec::with_capacity(needed.len());
    while let Some(first) = ready.pop_first() {
        order.push(first.1);
        for &u in users.get(&first.1).map_or(&[][..], |v| v.as_slice()) {
            if let Some(n) = waiting.get_mut(&u) {
                *n -= 1;
                if *n == 0 {
                    ready.insert((rank[&u], u));
                }
            }
        }
    }
    if order.len() != needed.len() {
        return Err(RewriteError::Cycle);
    }
    Ok(order)
}

/// The graph constant a side-table leaf class stands for.
fn leaf_value(ex: &Extracted, c: Id, origin: &Origin) -> Option<ValueId> {
    match ex.node(c) {
        Some(ENode::Const(i)) => origin.const_values.get(*i as usize).copied(),
        _ => None,
    }
}

/// The tensor of constant class `c`, owned: a copy of a graph constant, or the folded tensor moved out of
/// `memo` (weights are large; each folded constant is usually read once).
fn take_folded(
    eg: &EGraph,
    ex: &Extracted,
    c: Id,
    memo: &mut HashMap<Id, Tensor>,
    origin: &Origin,
) -> Result<Tensor, RewriteError> {
    let c = eg.find(c);
    if let Some(v) = leaf_value(ex, c, origin) {
        return origin.graph.constant(v).cloned().ok_or(RewriteError::NoChoice);
    }
    fold(eg, ex, c, memo, origin)?;
    memo.remove(&c).ok_or(RewriteError::NoChoice)
}

/// The tensor of a constant class if known: a graph constant, or one folded into `memo`.
fn lookup<'a>(
    eg: &EGraph,
    ex: &Extracted,
    c: Id,
    memo: &'a HashMap<Id, Tensor>,
    origin: &'a Origin,
) -> Option<&'a Tensor> {
    let c = eg.find(c);
    match leaf_value(ex, c, origin) {
        Some(v) => origin.graph.constant(v),
        None => memo.get(&c),
    }
}

/// Folds constant class `c` (and what it needs) into `memo`: a splat, or an operator over folded operands.
fn fold(
    eg: &EGraph,
    ex: &Extracted,
    c: Id,
    memo: &mut HashMap<Id, Tensor>,
    origin: &Origin,
) -> Result<(), RewriteError> {
    let c = eg.find(c);
    if lookup(eg, ex, c, memo, origin).is_some() {
        return Ok(());
    }
    let t = match ex.node(c).ok_or(RewriteError::NoChoice)? {
        ENode::Const(_) | ENode::Input(_) => return Err(RewriteError::NoChoice),
        ENode::Splat { bits, shape } => {
            Tensor::from_f32(shape.to_vec(), vec![f32::from_bits(*bits); shape.iter().product()])
                .map_err(|e| RewriteError::Fold { op: "splat", why: e.to_string() })?
        }
        ENode::Op { op, args, .. } => {
            for &a in args {
                fold(eg, ex, a, memo, origin)?;
            }
            let refs: Vec<&Tensor> = args
                .iter()
                .map(|&a| lookup(eg, ex, a, memo, origin).ok_or(RewriteError::NoChoice))
                .collect::<Result<_, _>>()?;
            let op = op.op();
            let fast = match op {
                Op::Binary(b) => fast_binary(b, &refs),
                _ => None,
            };
            match fast {
                Some(t) => t,
                None => op.eval(&refs).map_err(|e| RewriteError::Fold { op: op.kind(), why: e.to_string() })?,
            }
        }
    };
    memo.insert(c, t);
    Ok(())
}

/// Folds `a op b` where `b` repeats over `a` in one contiguous run (weights times a per-channel factor): a
/// plain loop instead of the reference semantics' per-element index arithmetic, for large weights.
fn fast_binary(b: &Binary, args: &[&Tensor]) -> Option<Tensor> {
    let (x, y) = (args.first()?, args.get(1)?);
    let pattern = crate::lower::broadcast_pattern(x.dims(), y.dims())?;
    let (xv, yv) = (x.as_f32().ok()?, y.as_f32().ok()?);
    if yv.len() != pattern.period || pattern.repeat == 0 {
        return None;
    }
    let out: Vec<f32> =
        xv.iter().enumerate().map(|(i, &a)| b.op.apply(a, yv[(i / pattern.repeat) % pattern.period])).collect();
    Tensor::from_f32(x.dims().to_vec(), out).ok()
}
