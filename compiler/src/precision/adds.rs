//! Adds of two activations become convolutions before precision is chosen, so they compute in int8 or bf16
//! too. The tiles already run such an `Add` (two non-constant NCHW tensors of one shape) as a depthwise 1x1 convolution with
//! weight 1 whose residual is the other operand (`lower::plan`); written into the graph, the precision pass
//! sees a MAC layer and gives it an int8 form (`y = requant(x) + requant(r)`, each operand with its own scale)
//! or a bf16 one (the f32 sum of the two bf16 operands, rounded to bf16 once: what the next bf16 layer read),
//! instead of an f32 add between three conversions (Darknet's and YOLOv5/v8's shortcuts add after the
//! activation, where no convolution can absorb them). The f32 function is the same, up to the sign of a zero
//! sum (`0 + x` first).
use crate::ir::{Graph, IrError};
use crate::lower::NodePlan;
use accel_ops::op::{BinaryOp, Conv, Op};
use accel_ops::Tensor;

/// `g` with every `Add` the tiles run as a convolution (`plans`, `g`'s node plans) written as that
/// convolution; the number rewritten.
pub fn adds_as_convolutions(g: &Graph, plans: &[NodePlan]) -> Result<(Graph, usize), IrError> {
    let mut out = g.clone();
    let mut count = 0;
    for (i, (n, plan)) in g.nodes.iter().zip(plans).enumerate() {
        let (Op::Binary(b), NodePlan::Conv { input, residual: Some(residual), .. }) = (&n.op, plan) else {
            continue;
        };
        if b.op != BinaryOp::Add {
            continue;
        }
        let c = g.ty(n.output).shape.dims().get(1).copied().unwrap_or(0);
        let invalid = |e: accel_ops::OpError| IrError::Invalid { node: n.name.clone(), why: e.to_string() };
        let ones = out
            .add_const(format!("{}:ones", n.name), Tensor::from_f32(vec![c, 1, 1, 1], vec![1.0; c]).map_err(invalid)?);
        let zeros =
            out.add_const(format!("{}:zeros", n.name), Tensor::from_f32(vec![c], vec![0.0; c]).map_err(invalid)?);
        let conv = Conv { kernel: [1, 1], strides: [1, 1], dilations: [1, 1], pads: [0; 4], group: c, act: None };
        let node = &mut out.nodes[i];
        node.op = Op::Conv(conv);
        node.inputs = vec![*input, ones, zeros, *residual];
        count += 1;
    }
    if count > 0 {
        out.verify()?;
    }
    Ok((out, count))
}
