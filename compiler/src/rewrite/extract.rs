//! Extraction: choose one e-node per e-class so that the graph reachable from the outputs is cheapest, where
//! a node shared by several consumers is paid once (DAG cost, not tree cost). This is the greedy-DAG
//! extractor (as in extraction-gym's `greedy-dag`): each class keeps the set of classes its best choice
//! needs, with their costs; a node's cost is its own plus the union of its children's sets; a worklist
//! re-examines the parents of a class whose choice improved, until nothing improves. A node whose set would
//! contain its own class is a cycle and is skipped. Constant classes are free (they are folded at compile
//! time) and are chosen apart: the node with the fewest folding steps. Greedy-DAG judges each class alone;
//! a local search on the whole graph's DAG cost then fixes what that misses (see `Extracted::improve`).
use super::analysis::{EGraph, Facts};
use super::cost::CostModel;
use super::lang::ENode;
use egg::{Id, Language};
use std::collections::VecDeque;

/// One chosen node per class, by canonical class id (of the rewrite language by default; the precision
/// e-graph extracts its own language with the same algorithm).
pub struct Extracted<L = ENode> {
    /// Each class's nodes (children canonical) with their own cost.
    nodes: Vec<Vec<(L, f64)>>,
    chosen: Vec<Option<usize>>,
    konst: Vec<bool>,
}

impl<L: Language> Extracted<L> {
    /// The chosen node of a class (children canonical).
    pub fn node(&self, id: Id) -> Option<&L> {
        let i = usize::from(id);
        let k = (*self.chosen.get(i)?)?;
        self.nodes.get(i).and_then(|n| n.get(k)).map(|(n, _)| n)
    }

    fn own_cost(&self, i: usize) -> f64 {
        match self.chosen[i] {
            Some(k) if !self.konst[i] => self.nodes[i][k].1,
            _ => 0.0,
        }
    }

    /// The cost model's cycles for the chosen graph reachable from `roots`, each class counted once; `None`
    /// if the choice is cyclic or incomplete.
    pub fn dag_cost(&self, roots: &[Id]) -> Option<f64> {
        // Iterative DFS with colours: 1 = on the stack, 2 = done.
        let mut colour = vec![0u8; self.chosen.len()];
        let mut total = 0.0;
        let mut stack: Vec<(usize, bool)> = roots.iter().map(|&r| (usize::from(r), false)).collect();
        while let Some((i, leaving)) = stack.pop() {
            if leaving {
                colour[i] = 2;
                continue;
            }
            match colour.get(i)? {
                2 => continue,
                1 => return None,
                _ => {}
            }
            colour[i] = 1;
            total += self.own_cost(i);
            stack.push((i, true));
            let node = self.node(Id::from(i))?;
            for &c in Language::children(node) {
                match colour.get(usize::from(c))? {
                    1 => return None,
                    2 => {}
                    _ => stack.push((usize::from(c), false)),
                }
            }
        }
        Some(total)
    }

    /// The classes reachable from `roots` under the current choice.
    fn reachable(&self, roots: &[Id]) -> Vec<usize> {
        let mut seen = vec![false; self.chosen.len()];
        let mut stack: Vec<usize> = roots.iter().map(|&r| usize::from(r)).collect();
        let mut out = Vec::new();
        while let Some(i) = stack.pop() {
            if i >= seen.len() || seen[i] {
                continue;
            }
            seen[i] = true;
            out.push(i);
            if let Some(n) = self.node(Id::from(i)) {
                stack.extend(Language::children(n).iter().map(|&c| usize::from(c)));
            }
        }
        out.sort_unstable();
        out
    }

    /// Local search on the whole graph's DAG cost: greedy-DAG judges each class alone and so cannot see that
    /// a node another output needs anyway is free to reuse (a convolution read both by a batch norm and by
    /// the graph output). Try every alternative of every reachable class; keep a change that lowers the
    /// total; repeat while something improves (bounded).
    fn improve(&mut self, roots: &[Id]) {
        let Some(mut best) = self.dag_cost(roots) else { return };
        for _ in 0..MAX_IMPROVE_ROUNDS {
            let mut improved = false;
            for c in self.reachable(roots) {
                if self.konst[c] || self.nodes[c].len() < 2 {
                    continue;
                }
                let current = self.chosen[c];
                for k in 0..self.nodes[c].len() {
                    if Some(k) == current || self.nodes[c][k].1 >= super::cost::INFEASIBLE {
                        continue;
                    }
                    let keep = self.chosen[c];
                    self.chosen[c] = Some(k);
                    match self.dag_cost(roots) {
                        Some(t) if t < best - 1e-9 * best.abs().max(1.0) => {
                            best = t;
                            improved = true;
                        }
                        _ => self.chosen[c] = keep,
                    }
                }
            }
            if !improved {
                break;
            }
        }
    }
}

/// Rounds of `Extracted::improve` at most.
const MAX_IMPROVE_ROUNDS: usize = 4;

/// A class's current best: the chosen node (index into the class's nodes), and the sorted set of
/// (class, own cost) it needs, itself included.
struct Best {
    node: usize,
    total: f64,
    set: Vec<(u32, f64)>,
}

/// Merges sorted sets, keeping the first cost of a class.
fn union(sets: &[&[(u32, f64)]]) -> Vec<(u32, f64)> {
    let mut out: Vec<(u32, f64)> = match sets.first() {
        Some(s) => s.to_vec(),
        None => return Vec::new(),
    };
    for s in &sets[1..] {
        let mut merged = Vec::with_capacity(out.len() + s.len());
        let (mut i, mut j) = (0, 0);
        while i < out.len() && j < s.len() {
            match out[i].0.cmp(&s[j].0) {
                std::cmp::Ordering::Less => {
                    merged.push(out[i]);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    merged.push(s[j]);
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    merged.push(out[i]);
                    i += 1;
                    j += 1;
                }
            }
        }
        merged.extend_from_slice(&out[i..]);
        merged.extend_from_slice(&s[j..]);
        out = merged;
    }
    out
}

/// Chooses a node for every class that has a finite, acyclic choice, then improves the choice for the graph
/// reachable from `roots`.
pub fn extract(eg: &EGraph, model: &CostModel, roots: &[Id]) -> Extracted {
    let size = eg.classes().map(|c| usize::from(c.id) + 1).max().unwrap_or(0);
    let mut konst = vec![false; size];
    // Nodes of each class with canonical children and their own cost.
    let mut nodes: Vec<Vec<(ENode, f64)>> = vec![Vec::new(); size];
    for class in eg.classes() {
        let id = usize::from(class.id);
        konst[id] = class.data.konst.is_const();
        for n in &class.nodes {
            let mut n = n.clone();
            Language::update_children(&mut n, |c| eg.find(c));
            let cost = match &n {
                ENode::Op { op, place, args } => {
                    let facts: Vec<&Facts> = args.iter().map(|&a| &eg[a].data).collect();
                    model.op_cost(op.op(), *place, &facts, &class.data)
                }
                _ => 0.0,
            };
            nodes[id].push((n, cost));
        }
    }
    let roots: Vec<Id> = roots.iter().map(|&r| eg.find(r)).collect();
    extract_table(nodes, konst, &roots)
}

/// The greedy-DAG extraction on a table: each class's nodes (children canonical class indices) with their own
/// cost, and which classes are constants (free, chosen apart by `choose_constants`). A class without nodes
/// does not exist.
pub fn extract_table<L: Language>(nodes: Vec<Vec<(L, f64)>>, konst: Vec<bool>, roots: &[Id]) -> Extracted<L> {
    let size = nodes.len();
    let ids: Vec<Id> = (0..size).filter(|&i| !nodes[i].is_empty()).map(Id::from).collect();
    let mut parents: Vec<Vec<u32>> = vec![Vec::new(); size];
    for &id in &ids {
        for (n, _) in &nodes[usize::from(id)] {
            for &c in Language::children(n) {
                if let Some(p) = parents.get_mut(usize::from(c)) {
                    p.push(usize::from(id) as u32);
                }
            }
        }
    }
    for p in &mut parents {
        p.sort_unstable();
        p.dedup();
    }
    let const_choice = choose_constants(&ids, &nodes, &konst);
    let mut best: Vec<Option<Best>> = (0..size).map(|_| None).collect();
    let mut queue: VecDeque<u32> = ids.iter().map(|&i| usize::from(i) as u32).collect();
    let mut queued = vec![false; size];
    for &i in &queue {
        queued[i as usize] = true;
    }
    while let Some(c) = queue.pop_front() {
        let c = c as usize;
        queued[c] = false;
        if konst[c] {
            continue;
        }
        let mut improved = false;
        for (ni, (n, cost)) in nodes[c].iter().enumerate() {
            let children = Language::children(n);
            let mut sets: Vec<&[(u32, f64)]> = Vec::with_capacity(children.len());
            let mut ready = true;
            for &ch in children {
                let ch = usize::from(ch);
                if konst[ch] {
                    ready &= const_choice[ch].is_some();
                } else {
                    match &best[ch] {
                        Some(b) => sets.push(&b.set),
                        None => ready = false,
                    }
                }
            }
            if !ready {
                continue;
            }
            let mut set = union(&sets);
            if set.binary_search_by_key(&(c as u32), |e| e.0).is_ok() {
                continue;
            }
            let total = set.iter().map(|e| e.1).sum::<f64>() + cost;
            let better = match &best[c] {
                None => true,
                Some(b) => total < b.total - 1e-9 * b.total.abs().max(1.0),
            };
            if better {
                let at = set.partition_point(|e| e.0 < c as u32);
                set.insert(at, (c as u32, *cost));
                best[c] = Some(Best { node: ni, total, set });
                improved = true;
            }
        }
        if improved {
            for &p in &parents[c] {
                if !queued[p as usize] {
                    queued[p as usize] = true;
                    queue.push_back(p);
                }
            }
        }
    }
    let chosen = (0..size).map(|i| if konst[i] { const_choice[i] } else { best[i].as_ref().map(|b| b.node) }).collect();
    let mut ex = Extracted { nodes, chosen, konst };
    ex.improve(roots);
    ex
}

/// For constant classes: the node with the fewest folding steps below it (leaves first), which is acyclic.
fn choose_constants<L: Language>(ids: &[Id], nodes: &[Vec<(L, f64)>], konst: &[bool]) -> Vec<Option<usize>> {
    let size = nodes.len();
    let mut depth: Vec<Option<(usize, usize)>> = vec![None; size];
    let const_ids: Vec<usize> = ids.iter().map(|&i| usize::from(i)).filter(|&i| konst[i]).collect();
    // Bellman-Ford style: at most one more class settles per round.
    for _ in 0..=const_ids.len() {
        let mut changed = false;
        for &c in &const_ids {
            for (ni, (n, _)) in nodes[c].iter().enumerate() {
                let children = Language::children(n);
                let d: Option<usize> = children
                    .iter()
                    .map(|&ch| depth[usize::from(ch)].filter(|_| konst[usize::from(ch)]).map(|(d, _)| d))
                    .try_fold(0usize, |acc, d| d.map(|d| acc.max(d + 1)));
                if let Some(d) = d {
                    if depth[c].is_none_or(|(old, _)| d < old) {
                        depth[c] = Some((d, ni));
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    depth.into_iter().map(|d| d.map(|(_, ni)| ni)).collect()
}
