//! Host layers: every node placed on the host becomes one `host.call` kernel in kernel-IR form
//! (`accel_ops::kernel::from_op`), and a run of adjacent host nodes in which each node's output feeds only the
//! next node is fused into one kernel (`kernel::fuse_elementwise`: one loop nest, one pass over memory, the
//! intermediates never reach DRAM). An operator without a lowering, or whose kernel the kernel verifier
//! refuses, stays in operator form (`HostBody::OpFallback`) and is listed in `HostPlan::fallbacks`: nothing is
//! dropped. Every kernel emitted here passed the same checks the runtime's verifier applies.
use super::emit::dram_tensor;
use super::plan::NodePlan;
use crate::ir::{Graph, ValueId};
use accel_ops::kernel::{self, BufId, Kernel};
use accel_ops::program::{check_kernel_args, DramTensor, HostBody, HostKernel};
use std::collections::BTreeMap;

/// One host layer: the nodes it computes (in node order) and its kernel.
#[derive(Debug, Clone)]
pub struct HostLayer {
    pub nodes: Vec<usize>,
    /// The ONNX node names joined with `+` (the layer name in reports and traces).
    pub name: String,
    pub kernel: HostKernel,
}

/// A host node left in operator form, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct HostFallback {
    pub node: String,
    pub op: &'static str,
    pub why: String,
}

/// The host layers of a graph, keyed by their first node.
#[derive(Debug, Clone, Default)]
pub struct HostPlan {
    layers: BTreeMap<usize, HostLayer>,
    /// Nodes computed by a layer that starts at an earlier node.
    fused: Vec<usize>,
    pub fallbacks: Vec<HostFallback>,
}

impl HostPlan {
    /// The layer that starts at node `i`.
    pub fn starting_at(&self, i: usize) -> Option<&HostLayer> {
        self.layers.get(&i)
    }

    /// Whether node `i` is computed by a layer that starts earlier.
    pub fn fused_away(&self, i: usize) -> bool {
        self.fused.binary_search(&i).is_ok()
    }

    pub fn layers(&self) -> impl Iterator<Item = &HostLayer> {
        self.layers.values()
    }
}

/// Plans the host layers of `g`; `addr` gives each value's DRAM address.
pub fn plan_host(g: &Graph, plans: &[NodePlan], addr: &dyn Fn(ValueId) -> u64) -> HostPlan {
    let consumers = g.consumers();
    let tensor = |v: ValueId| dram_tensor(addr(v), g.ty(v));
    let mut out = HostPlan::default();
    let mut i = 0;
    while i < plans.len() {
        let NodePlan::Host { op, inputs } = &plans[i] else {
            i += 1;
            continue;
        };
        let node = &g.nodes[i];
        let ins: Vec<DramTensor> = inputs.iter().map(|&v| tensor(v)).collect();
        let output = tensor(node.output);
        let mut chain = match lower_node(g, i, op, inputs) {
            Ok(k) => Chain { kernel: k, inputs: inputs.clone(), nodes: vec![i] },
            Err(why) => {
                out.fallbacks.push(HostFallback { node: node.name.clone(), op: op.kind(), why });
                let kernel = HostKernel { body: HostBody::OpFallback(op.clone()), inputs: ins, output };
                out.layers.insert(i, HostLayer { nodes: vec![i], name: node.name.clone(), kernel });
                i += 1;
                continue;
            }
        };
        while let Some(next) = fuse_next(g, plans, &consumers, &chain) {
            chain = next;
        }
        let last = chain.nodes[chain.nodes.len() - 1];
        let kernel = HostKernel {
            body: HostBody::Kernel(chain.kernel),
            inputs: chain.inputs.iter().map(|&v| tensor(v)).collect(),
            output: tensor(g.nodes[last].output),
        };
        let name = chain.nodes.iter().map(|&j| g.nodes[j].name.as_str()).collect::<Vec<_>>().join("+");
        out.fused.extend(chain.nodes.iter().skip(1));
        out.layers.insert(i, HostLayer { nodes: chain.nodes, name, kernel });
        i = last + 1;
    }
    out
}

/// A kernel computing nodes `nodes` from the values `inputs` (its input arguments, in order).
struct Chain {
    kernel: Kernel,
    inputs: Vec<ValueId>,
    nodes: Vec<usize>,
}

/// The kernel of host node `i`, verified and with the call's signature; the reason if there is none.
fn lower_node(g: &Graph, i: usize, op: &accel_ops::op::Op, inputs: &[ValueId]) -> Result<Kernel, String> {
    let types: Vec<_> = inputs.iter().map(|&v| g.ty(v).clone()).collect();
    let k = kernel::from_op(op, &types, g.ty(g.nodes[i].output)).map_err(|e| e.to_string())?;
    check(&k, inputs, g.nodes[i].output, g)?;
    Ok(k)
}

/// The runtime's checks of a kernel: the argument signature of its call and the kernel verifier.
fn check(k: &Kernel, inputs: &[ValueId], output: ValueId, g: &Graph) -> Result<(), String> {
    let types: Vec<&accel_ops::TensorType> = inputs.iter().map(|&v| g.ty(v)).collect();
    check_kernel_args(k, &types, g.ty(output))?;
    kernel::verify(k.clone()).map(|_| ()).map_err(|e| e.to_string())
}

/// `chain` extended by the node after its last one, if that node runs on the host, reads the chain's output
/// exactly once and is its only reader (not a graph output either), and the two kernels fuse.
fn fuse_next(g: &Graph, plans: &[NodePlan], consumers: &[Vec<crate::ir::NodeId>], chain: &Chain) -> Option<Chain> {
    let last = *chain.nodes.last()?;
    let j = last + 1;
    let NodePlan::Host { op, inputs } = plans.get(j)? else { return None };
    let v = g.nodes[last].output;
    let readers = consumers.get(v.0 as usize)?;
    if readers.len() != 1 || readers[0].0 as usize != j || g.outputs.contains(&v) {
        return None;
    }
    let pos = inputs.iter().position(|&x| x == v)?;
    let next = lower_node(g, j, op, inputs).ok()?;
    let consumed: BufId = next.args().nth(pos).map(|(id, _)| id)?;
    let fused = kernel::fuse_elementwise(&chain.kernel, &next, consumed).ok()?;
    let mut ins = chain.inputs.clone();
    ins.extend(inputs.iter().enumerate().filter(|&(p, _)| p != pos).map(|(_, &x)| x));
    check(&fused.kernel, &ins, g.nodes[j].output, g).ok()?;
    let mut nodes = chain.nodes.clone();
    nodes.push(j);
    Some(Chain { kernel: fused.kernel, inputs: ins, nodes })
}
