//! Folds an inference BatchNormalization into the convolution before it: `w' = w * k`, `b' = (b - mean) * k +
//! beta` with `k = gamma / sqrt(var + eps)` per output channel. Only when the convolution feeds nothing else.
use super::rebuild::{rebuild, Action, Input};
use crate::ir::{Graph, IrError};
use accel_ops::op::Op;
use accel_ops::Tensor;

pub fn run(g: &Graph) -> Result<Graph, IrError> {
    let mut uses = vec![0usize; g.values.len()];
    for n in &g.nodes {
        for v in &n.inputs {
            uses[v.0 as usize] += 1;
        }
    }
    for o in &g.outputs {
        uses[o.0 as usize] += 1;
    }
    rebuild(g, |g, _, n| {
        let Op::BatchNorm(bn) = &n.op else { return Action::Keep };
        let x = n.inputs[0];
        let Some(p) = g.value(x).producer else { return Action::Keep };
        let conv_node = g.node(p);
        let Op::Conv(conv) = &conv_node.op else { return Action::Keep };
        if conv.act.is_some() || uses[x.0 as usize] != 1 {
            return Action::Keep;
        }
        let params: Option<Vec<&Tensor>> = n.inputs[1..].iter().map(|&v| g.constant(v)).collect();
        let (Some(params), Some(w)) = (params, g.constant(conv_node.inputs[1])) else { return Action::Keep };
        let mut args = vec![w];
        args.extend(params);
        let Ok((k, off)) = bn.affine(&args) else { return Action::Keep };
        let Ok(wv) = w.as_f32() else { return Action::Keep };
        let per_out = wv.len() / k.len().max(1);
        let new_w: Vec<f32> = wv.iter().enumerate().map(|(i, v)| v * k[i / per_out]).collect();
        let old_b: Vec<f32> = match conv_node.inputs.get(2).and_then(|&b| g.constant(b)).map(|t| t.as_f32()) {
            Some(Ok(b)) => b.to_vec(),
            Some(Err(_)) => return Action::Keep,
            None if conv_node.inputs.len() > 2 => return Action::Keep,
            None => vec![0.0; k.len()],
        };
        let new_b: Vec<f32> = old_b.iter().zip(&k).zip(&off).map(|((b, k), o)| b * k + o).collect();
        let (Ok(wt), Ok(bt)) = (Tensor::from_f32(w.dims().to_vec(), new_w), Tensor::from_f32(vec![k.len()], new_b)) else {
            return Action::Keep;
        };
        Action::Replace {
            name: format!("{}+{}", conv_node.name, n.name),
            op: Op::Conv(conv.clone()),
            inputs: vec![Input::Old(conv_node.inputs[0]), Input::Const(wt), Input::Const(bt)],
        }
    })
}
