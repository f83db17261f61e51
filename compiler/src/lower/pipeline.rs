//! `--objective throughput`: which layers form each pipeline stage. The tiles split into equal groups (x1's 4
//! tiles: 2 stages of 2 or 4 stages of 1); the layers split into contiguous stages balanced by the predicted
//! cycles of each layer on one group; the cross-stage values decide which waits let frames overlap safely.
//! Only the choice of stages lives here; `lower` emits them and `accel_ops::pipeline` describes them.
use super::layout::Storage;
use super::plan::NodePlan;
use crate::ir::Graph;

/// What the schedule optimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Objective {
    /// Batch-1 latency: every layer spread over all tiles, one after another.
    #[default]
    Latency,
    /// Frames per second: consecutive frames pipelined over stages of layers, each on its own tile group.
    Throughput,
}

impl Objective {
    pub fn name(self) -> &'static str {
        match self {
            Objective::Latency => "latency",
            Objective::Throughput => "throughput",
        }
    }
}

/// Stages of equal tile groups: stage `s` runs nodes `starts[s]..starts[s + 1]` on tiles
/// `s * group..(s + 1) * group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagePlan {
    pub group: u32,
    pub starts: Vec<usize>,
}

impl StagePlan {
    /// One stage on all `tiles`: the latency schedule.
    pub fn single(tiles: u32) -> StagePlan {
        StagePlan { group: tiles, starts: vec![0] }
    }

    /// The stage of node `i`.
    pub fn stage_of(&self, i: usize) -> usize {
        self.starts.iter().rposition(|&s| s <= i).unwrap_or(0)
    }
}

/// Splits `cycles` (per layer, in order) into at most `stages` contiguous non-empty ranges that minimize the
/// largest sum; returns the index of each range's first layer. Exact (dynamic programming over prefixes).
pub fn balance(cycles: &[u64], stages: usize) -> Vec<usize> {
    let n = cycles.len();
    let k = stages.clamp(1, n.max(1));
    let prefix: Vec<u64> = std::iter::once(0)
        .chain(cycles.iter().scan(0u64, |a, &c| {
            *a += c;
            Some(*a)
        }))
        .collect();
    let span = |a: usize, b: usize| prefix[b] - prefix[a];
    // best[j][i]: the least largest sum of the first `i` layers in `j` ranges; cut[j][i]: where the last starts.
    let mut best = vec![vec![u64::MAX; n + 1]; k + 1];
    let mut cut = vec![vec![0usize; n + 1]; k + 1];
    best[0][0] = 0;
    for j in 1..=k {
        for i in j..=n {
            for c in (j - 1)..i {
                if best[j - 1][c] == u64::MAX {
                    continue;
                }
                let v = best[j - 1][c].max(span(c, i));
                if v < best[j][i] {
                    best[j][i] = v;
                    cut[j][i] = c;
                }
            }
        }
    }
    let mut starts = Vec::with_capacity(k);
    let mut i = n;
    for j in (1..=k).rev() {
        let c = cut[j][i];
        starts.push(c);
        i = c;
    }
    starts.reverse();
    starts
}

/// Cross-stage values of a stage plan: per stage, the stages that read values it writes (each writer node
/// listed), and per stage the last node that reads a value of an earlier stage.
pub struct Crossings {
    /// (writer node, reader stage), sorted.
    pub writers: Vec<(usize, usize)>,
    /// Per stage: the last node reading a value an earlier stage wrote.
    pub last_reader: Vec<Option<usize>>,
}

pub fn crossings(g: &Graph, plans: &[NodePlan], stages: &StagePlan) -> Crossings {
    let mut writers = std::collections::BTreeSet::new();
    let mut last_reader = vec![None; stages.starts.len()];
    let storage = Storage::new(g, plans);
    for (i, n) in g.nodes.iter().enumerate() {
        if plans[i].is_alias() {
            continue;
        }
        let si = stages.stage_of(i);
        for &v in &n.inputs {
            // The writer whose layer waits for the readers of the previous frame: the first into the storage.
            let Some(p) = storage.first_writer(storage.root(v).0) else { continue };
            if stages.stage_of(p) < si {
                writers.insert((p, si));
                last_reader[si] = Some(i);
            }
        }
    }
    Crossings { writers: writers.into_iter().collect(), last_reader }
}

/// Per value: the stage that alone uses its storage (its producer's, when every reader is in that stage and it
/// is not a graph output), or `None` (graph inputs and values crossing stages: never shared, because stages of
/// different frames run at once).
pub fn value_stages(g: &Graph, plans: &[NodePlan], stages: &StagePlan) -> Vec<Option<usize>> {
    let mut class: Vec<Option<usize>> = vec![None; g.values.len()];
    let storage = Storage::new(g, plans);
    for (i, n) in g.nodes.iter().enumerate() {
        class[n.output.0 as usize] = Some(stages.stage_of(i));
    }
    for (i, n) in g.nodes.iter().enumerate() {
        for &v in &n.inputs {
            let r = storage.root(v).0 .0 as usize;
            if class[r].is_some_and(|s| s != stages.stage_of(i)) {
                class[r] = None;
            }
        }
    }
    for &o in &g.outputs {
        class[storage.root(o).0 .0 as usize] = None;
    }
    class
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_minimizes_the_largest_stage() {
        assert_eq!(balance(&[5, 1, 1, 1, 5], 2), vec![0, 2]);
        assert_eq!(balance(&[1, 1, 1, 1], 4), vec![0, 1, 2, 3]);
        assert_eq!(balance(&[9, 1, 1, 9], 3), vec![0, 1, 3]);
        // More stages than layers: one layer each.
        assert_eq!(balance(&[3, 4], 4), vec![0, 1]);
        assert_eq!(balance(&[7], 1), vec![0]);
    }
}
