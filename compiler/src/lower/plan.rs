//! Placement and preparation of each node: on the tiles (with its constants in the form the tiles read) or on
//! the host; reshapes become aliases. No addresses yet: those come from the DRAM layout.
use super::error::LowerError;
use crate::ir::{Graph, Node, Placement, ValueId};
use accel_ops::numerics::pool::PoolQuant;
use accel_ops::op::{BinaryOp, Conv, Op, Pool, UnaryOp};
use accel_ops::target::Target;
use accel_ops::{DType, Tensor};

/// An operand the tiles read from DRAM: a graph value, or a constant made by the compiler.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Value(ValueId),
    Const(Tensor),
}

/// How `b` of a binary op repeats over the output: `b[(i / repeat) % period]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Broadcast {
    pub period: usize,
    pub repeat: usize,
}

/// What one node becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum NodePlan {
    /// Shares its input's DRAM storage (reshapes).
    Alias {
        input: ValueId,
    },
    /// A concatenation whose operands are laid out inside its output's storage, so their producers write it in
    /// place (`lower::concat`): no command.
    ConcatInPlace {
        inputs: Vec<ValueId>,
    },
    /// `residual` (a value of the output's shape) is added before the activation. The compute dtype is the
    /// output's (f32, bf16 or i8, see `accel_ops::numerics`); i8 has its `quant` operand.
    Conv {
        input: ValueId,
        conv: Conv,
        weights: Operand,
        bias: Operand,
        residual: Option<ValueId>,
        act: Option<UnaryOp>,
        quant: Option<Operand>,
    },
    /// `out[M,N] = act(a[M,K] b[K,N] + bias[N])` with a constant `b`; dtype and `quant` as for `Conv`.
    MatMul {
        a: ValueId,
        b: Operand,
        bias: Operand,
        m: usize,
        k: usize,
        n: usize,
        act: Option<UnaryOp>,
        quant: Option<Operand>,
    },
    /// An element conversion on the vector unit (`vec.convert`): f32 <-> bf16, or int8 (de)quantization with
    /// `params` (scale and zero point, `numerics::ConvertParams`).
    Convert {
        input: ValueId,
        from: DType,
        to: DType,
        params: Option<Operand>,
    },
    Unary {
        input: ValueId,
        op: UnaryOp,
    },
    Binary {
        a: ValueId,
        b: Operand,
        op: BinaryOp,
        bcast: Broadcast,
    },
    /// A fused elementwise chain on `input`; `bcasts[k]` is how `operands[k]` repeats (`lower::elementwise`).
    Elementwise {
        input: ValueId,
        steps: Vec<accel_ops::op::Step>,
        operands: Vec<Operand>,
        bcasts: Vec<Broadcast>,
    },
    /// f32, or int8 with its requantization (`accel_ops::numerics::pool`, the node's constant `quant` operand).
    Pool {
        input: ValueId,
        pool: Pool,
        quant: Option<PoolQuant>,
    },
    /// Per-channel `x * params[0][c] + params[1][c]` over `[outer, C, inner]`.
    Affine {
        input: ValueId,
        params: Operand,
        c: usize,
        inner: usize,
    },
    Host {
        op: Op,
        inputs: Vec<ValueId>,
    },
}

impl NodePlan {
    pub fn runs_on_tiles(&self) -> bool {
        !matches!(self, NodePlan::Alias { .. } | NodePlan::ConcatInPlace { .. } | NodePlan::Host { .. })
    }

    /// Whether the node emits no command: its output shares storage that other nodes write.
    pub fn is_alias(&self) -> bool {
        matches!(self, NodePlan::Alias { .. } | NodePlan::ConcatInPlace { .. })
    }
}

/// Decides placement and prepares constants for every node, in node order.
pub fn plan(g: &Graph, target: &Target) -> Result<Vec<NodePlan>, LowerError> {
    g.nodes.iter().map(|n| plan_node(g, n, target)).collect()
}

fn host(n: &Node) -> NodePlan {
    NodePlan::Host { op: n.op.clone(), inputs: n.inputs.clone() }
}

fn operand(g: &Graph, v: ValueId) -> Operand {
    match g.constant(v) {
        Some(t) => Operand::Const(t.clone()),
        None => Operand::Value(v),
    }
}

fn all_f32(g: &Graph, n: &Node) -> bool {
    n.inputs.iter().chain([&n.output]).all(|&v| g.ty(v).dtype == DType::F32)
}

/// A MAC node in bf16 or i8 (its types were checked by `accel_ops::numerics`), or an int8 pool.
fn reduced_mac(g: &Graph, n: &Node) -> bool {
    match n.op {
        Op::Conv(_) | Op::Gemm(_) | Op::MatMul(_) => matches!(g.ty(n.output).dtype, DType::BF16 | DType::I8),
        Op::Pool(_) => g.ty(n.output).dtype == DType::I8,
        _ => false,
    }
}

/// The requantization of an int8 pool, from its constant `quant` operand (`None`: f32, or not constant).
fn pool_quant(g: &Graph, n: &Node) -> Option<Option<PoolQuant>> {
    if g.ty(n.output).dtype != DType::I8 {
        return Some(None);
    }
    let words = g.constant(*n.inputs.get(1)?)?.as_i32().ok()?;
    PoolQuant::from_words(words).ok().map(Some)
}

/// Conversions between the tiles' formats run on the vector unit of every target: they exist because the
/// compiler chose a precision, not because the model asked for an operator.
fn plan_convert(g: &Graph, n: &Node) -> Option<NodePlan> {
    let (input, from, to) = (n.inputs[0], g.ty(n.inputs[0]).dtype, g.ty(n.output).dtype);
    let needs = accel_ops::numerics::convert::supported(from, to)?;
    let params = match &n.op {
        Op::Cast(_) if !needs => None,
        Op::Quant(q) if needs => {
            let p = q.params();
            Some(Operand::Const(Tensor::from_i32(vec![2], vec![p.scale.to_bits() as i32, p.zero]).ok()?))
        }
        _ => return None,
    };
    Some(NodePlan::Convert { input, from, to, params })
}

fn plan_node(g: &Graph, n: &Node, target: &Target) -> Result<NodePlan, LowerError> {
    if let Op::Reshape(_) = n.op {
        return Ok(NodePlan::Alias { input: n.inputs[0] });
    }
    // Int8 (de)quantization has no host kernel: it is the vector unit's `vec.convert`, wherever the e-graph
    // stage (which does not cost it) placed it.
    if matches!(n.op, Op::Quant(_)) && g.constant(n.inputs[0]).is_none() && g.ty(n.output).shape.numel() > 0 {
        return Ok(plan_convert(g, n).unwrap_or_else(|| host(n)));
    }
    // The e-graph stage chose the host for this node (its cost model found the tiles slower or unable).
    if n.placement == Placement::Host {
        return Ok(host(n));
    }
    if g.ty(n.output).shape.numel() == 0 {
        return Ok(host(n));
    }
    if matches!(n.op, Op::Cast(_)) && g.constant(n.inputs[0]).is_none() {
        return Ok(plan_convert(g, n).unwrap_or_else(|| host(n)));
    }
    if !super::elementwise::tile_supports_op(target, &n.op) || !(all_f32(g, n) || reduced_mac(g, n)) {
        return Ok(host(n));
    }
    let plan = match &n.op {
        Op::Conv(c) => plan_conv(g, n, c),
        Op::Gemm(gm) => plan_gemm(g, n, gm),
        Op::MatMul(_) => plan_matmul(g, n),
        Op::Unary(u) => Some(NodePlan::Unary { input: n.inputs[0], op: u.op }),
        Op::Binary(b) if b.op == BinaryOp::Add && target.tile_supports("conv") => {
            plan_add_as_conv(g, n).or_else(|| plan_binary(g, n, b.op))
        }
        Op::Binary(b) => plan_binary(g, n, b.op),
        Op::Pool(p) if g.ty(n.inputs[0]).shape.rank() == 4 => {
            pool_quant(g, n).map(|quant| NodePlan::Pool { input: n.inputs[0], pool: p.clone(), quant })
        }
        Op::BatchNorm(bn) => plan_batchnorm(g, n, bn)?,
        Op::Elementwise(e) => super::elementwise::plan(g, n, e),
        _ => None,
    };
    Ok(plan.unwrap_or_else(|| host(n)))
}

fn plan_conv(g: &Graph, n: &Node, c: &Conv) -> Option<NodePlan> {
    let x = n.inputs[0];
    if g.constant(x).is_some() || g.constant(n.inputs[1]).is_none() {
        return None;
    }
    let k = g.ty(n.inputs[1]).shape.dims()[0];
    let bias = match n.inputs.get(2) {
        Some(&b) => operand(g, b),
        None => Operand::Const(Tensor::from_f32(vec![k], vec![0.0; k]).ok()?),
    };
    let mut conv = c.clone();
    let act = conv.act.take();
    // INT8 convolutions read [X, W, B, Q, R?] (`accel_ops::numerics::int8`), the others [X, W, B?, R?].
    let (quant, residual) = if g.ty(n.output).dtype == DType::I8 {
        (Some(operand(g, n.inputs[3])), n.inputs.get(4).copied())
    } else {
        (None, n.inputs.get(3).copied())
    };
    Some(NodePlan::Conv { input: x, conv, weights: operand(g, n.inputs[1]), bias, residual, act, quant })
}

/// A bf16 or i8 Gemm (alpha = beta = 1 and no transA, checked by its type): `b` transposes to `[K, N]` in its
/// own dtype; the bias is C (f32 `[N]`-broadcast, or i32 `[N]` for i8).
fn plan_reduced_gemm(g: &Graph, n: &Node, gm: &accel_ops::op::Gemm) -> Option<NodePlan> {
    let b = g.constant(n.inputs[1])?;
    let [r, c] = b.dims()[..] else { return None };
    let (k, nn) = if gm.trans_b { (c, r) } else { (r, c) };
    let kn = if gm.trans_b {
        b.gather_flat(accel_ops::Shape::new(vec![k, nn]), (0..k * nn).map(|i| (i % nn) * k + i / nn)).ok()?
    } else {
        b.clone()
    };
    let i8 = g.ty(n.output).dtype == DType::I8;
    let bias = match n.inputs.get(2) {
        Some(&cv) if i8 => operand(g, cv),
        Some(&cv) => {
            let v = g.constant(cv)?.as_f32().ok()?;
            match g.ty(cv).shape.dims() {
                [x] | [1, x] if *x == nn => Operand::Const(Tensor::from_f32(vec![nn], v.to_vec()).ok()?),
                [] | [1] | [1, 1] => Operand::Const(Tensor::from_f32(vec![nn], vec![v[0]; nn]).ok()?),
                _ => return None,
            }
        }
        None => Operand::Const(Tensor::from_f32(vec![nn], vec![0.0; nn]).ok()?),
    };
    let quant = if i8 { Some(operand(g, *n.inputs.get(3)?)) } else { None };
    let m = g.ty(n.inputs[0]).shape.dims()[0];
    Some(NodePlan::MatMul { a: n.inputs[0], b: Operand::Const(kn), bias, m, k, n: nn, act: gm.act, quant })
}

/// Gemm on the MAC array: `b` must be constant; alpha folds into `b`, beta into a `[N]` bias.
fn plan_gemm(g: &Graph, n: &Node, gm: &accel_ops::op::Gemm) -> Option<NodePlan> {
    if gm.trans_a {
        return None;
    }
    if g.ty(n.output).dtype != DType::F32 {
        return plan_reduced_gemm(g, n, gm);
    }
    let b = g.constant(n.inputs[1])?.as_f32().ok()?;
    let bd = g.ty(n.inputs[1]).shape.dims().to_vec();
    let (k, nn) = if gm.trans_b { (bd[1], bd[0]) } else { (bd[0], bd[1]) };
    let m = g.ty(n.inputs[0]).shape.dims()[0];
    let mut kn = vec![0f32; k * nn];
    for p in 0..k {
        for j in 0..nn {
            let v = if gm.trans_b { b[j * k + p] } else { b[p * nn + j] };
            kn[p * nn + j] = gm.alpha * v;
        }
    }
    let bias = match n.inputs.get(2) {
        None => vec![0.0; nn],
        Some(&c) => {
            let cv = g.constant(c)?.as_f32().ok()?;
            let cd = g.ty(c).shape.dims();
            match cd {
                [x] if *x == nn => cv.iter().map(|v| gm.beta * v).collect(),
                [1, x] if *x == nn => cv.iter().map(|v| gm.beta * v).collect(),
                [] | [1] | [1, 1] => vec![gm.beta * cv[0]; nn],
                _ => return None,
            }
        }
    };
    Some(NodePlan::MatMul {
        a: n.inputs[0],
        b: Operand::Const(Tensor::from_f32(vec![k, nn], kn).ok()?),
        bias: Operand::Const(Tensor::from_f32(vec![nn], bias).ok()?),
        m,
        k,
        n: nn,
        act: gm.act,
        quant: None,
    })
}

/// MatMul of an activation `[..., M, K]` by a constant `[K, N]`: rows of all leading dims are one big M.
fn plan_matmul(g: &Graph, n: &Node) -> Option<NodePlan> {
    let b = g.constant(n.inputs[1])?;
    let ad = g.ty(n.inputs[0]).shape.dims();
    let [k, nn] = b.dims()[..] else { return None };
    if ad.len() < 2 || g.constant(n.inputs[0]).is_some() {
        return None;
    }
    let m = ad[..ad.len() - 1].iter().product();
    // An i8 MatMul reads [A, B, C, Q] (`accel_ops::numerics::int8`).
    let (bias, quant) = if g.ty(n.output).dtype == DType::I8 {
        (operand(g, *n.inputs.get(2)?), Some(operand(g, *n.inputs.get(3)?)))
    } else {
        (Operand::Const(Tensor::from_f32(vec![nn], vec![0.0; nn]).ok()?), None)
    };
    Some(NodePlan::MatMul { a: n.inputs[0], b: Operand::Const(b.clone()), bias, m, k, n: nn, act: None, quant })
}

/// Finds how `b` (right-aligned against `out`) repeats: its non-1 dims must be one contiguous run equal to
/// `out`'s dims there.
pub fn broadcast_pattern(out: &[usize], b: &[usize]) -> Option<Broadcast> {
    let off = out.len().checked_sub(b.len())?;
    let full: Vec<usize> = (0..out.len()).map(|i| if i < off { 1 } else { b[i - off] }).collect();
    let non1: Vec<usize> = (0..out.len()).filter(|&i| full[i] != 1).collect();
    let Some((&a0, &a1)) = non1.first().zip(non1.last()) else {
        return Some(Broadcast { period: 1, repeat: out.iter().product() });
    };
    if (a0..=a1).any(|i| full[i] != out[i]) {
        return None;
    }
    Some(Broadcast { period: out[a0..=a1].iter().product(), repeat: out[a1 + 1..].iter().product() })
}

fn plan_binary(g: &Graph, n: &Node, op: BinaryOp) -> Option<NodePlan> {
    let out = g.ty(n.output).shape.dims();
    let (x, y) = (n.inputs[0], n.inputs[1]);
    let try_order = |a: ValueId, b: ValueId| -> Option<NodePlan> {
        if g.ty(a).shape.dims() != out || g.constant(a).is_some() {
            return None;
        }
        let bcast = broadcast_pattern(out, g.ty(b).shape.dims())?;
        Some(NodePlan::Binary { a, b: operand(g, b), op, bcast })
    };
    try_order(x, y).or_else(|| if op.commutes() { try_order(y, x) } else { None })
}

/// The sum of two activations of one NCHW shape as a 1x1 depthwise convolution with unit weights whose
/// residual is the other operand: exact in f32 (`1 * a + 0 + b`), and a convolution can join a fused chain,
/// so a residual block's sum (Darknet adds after the activation, where the e-graph cannot fold it into the
/// convolution) keeps its block's intermediates in SRAM. The operand produced later is the convolution's
/// input, as it is the one a chain arrives through.
fn plan_add_as_conv(g: &Graph, n: &Node) -> Option<NodePlan> {
    let (x, y) = (n.inputs[0], n.inputs[1]);
    let out = g.ty(n.output).shape.dims();
    if out.len() != 4 || g.ty(x).shape.dims() != out || g.ty(y).shape.dims() != out {
        return None;
    }
    if g.constant(x).is_some() || g.constant(y).is_some() {
        return None;
    }
    let order = |v: ValueId| g.value(v).producer.map_or(0, |p| p.0 as usize + 1);
    let (input, residual) = if order(x) >= order(y) { (x, y) } else { (y, x) };
    let c = out[1];
    let conv = Conv { kernel: [1, 1], strides: [1, 1], dilations: [1, 1], pads: [0; 4], group: c, act: None };
    Some(NodePlan::Conv {
        input,
        conv,
        weights: Operand::Const(Tensor::from_f32(vec![c, 1, 1, 1], vec![1.0; c]).ok()?),
        bias: Operand::Const(Tensor::from_f32(vec![c], vec![0.0; c]).ok()?),
        residual: Some(residual),
        act: None,
        quant: None,
    })
}

/// A standalone batch norm (one that no convolution absorbed) as a per-channel affine on the vector unit.
fn plan_batchnorm(g: &Graph, n: &Node, bn: &accel_ops::op::BatchNorm) -> Result<Option<NodePlan>, LowerError> {
    let consts: Option<Vec<&Tensor>> = n.inputs[1..].iter().map(|&v| g.constant(v)).collect();
    let (Some(consts), false) = (consts, g.constant(n.inputs[0]).is_some()) else { return Ok(None) };
    let x = Tensor::from_f32(vec![0], vec![]).map_err(|e| LowerError::layer(&n.name, e.to_string()))?;
    let mut args = vec![&x];
    args.extend(consts);
    let (mul, off) = bn.affine(&args).map_err(|e| LowerError::layer(&n.name, e.to_string()))?;
    let dims = g.ty(n.inputs[0]).shape.dims();
    let c = dims[1];
    let inner = dims[2..].iter().product();
    let params = Tensor::from_f32(vec![2, c], mul.into_iter().chain(off).collect())
        .map_err(|e| LowerError::layer(&n.name, e.to_string()))?;
    Ok(Some(NodePlan::Affine { input: n.inputs[0], params: Operand::Const(params), c, inner }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_patterns() {
        assert_eq!(broadcast_pattern(&[1, 8, 4, 4], &[8, 1, 1]), Some(Broadcast { period: 8, repeat: 16 }));
        assert_eq!(broadcast_pattern(&[1, 8, 4, 4], &[1, 8, 4, 4]), Some(Broadcast { period: 128, repeat: 1 }));
        assert_eq!(broadcast_pattern(&[1, 8, 4, 4], &[]), Some(Broadcast { period: 1, repeat: 128 }));
        assert_eq!(broadcast_pattern(&[2, 8, 4, 4], &[4]), Some(Broadcast { period: 4, repeat: 1 }));
        assert_eq!(broadcast_pattern(&[1, 8, 4, 4], &[8, 1, 4]), None);
    }
}
