//! 1-D convolution and pooling (NCW) as their 2-D forms with a height of 1: the input (and Conv's OIK weights)
//! gain an axis of length 1, the window attributes a leading 1 (pads a leading 0 at each end), the 2-D
//! translator runs on that, and its output loses the axis again. The reshapes are aliases: no copies.
use super::{Builder, Translator};
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use accel_ops::op::{Op, Reshape};
use accel_ops::Shape;
use tract_onnx::pb::NodeProto;

type Res = Result<(), ImportError>;

pub(super) fn conv(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    lift(b, n, super::conv::conv, true)
}

/// MaxPool: the tile pool where it fits, else the N-D host pool.
pub(super) fn max_pool(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    if super::pool_nd::needs_host(b, n, true)? {
        return super::pool_nd::pool(b, n, super::pool_nd::Family::Max);
    }
    lift(b, n, super::conv::max_pool, false)
}

/// AveragePool: the tile pool where it fits, else the N-D host pool.
pub(super) fn average_pool(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    if super::pool_nd::needs_host(b, n, false)? {
        return super::pool_nd::pool(b, n, super::pool_nd::Family::Average);
    }
    lift(b, n, super::conv::average_pool, false)
}

/// Runs `inner` directly on a rank other than 3, else on the lifted node.
fn lift(b: &mut Builder<'_>, n: &OnnxNode<'_>, inner: Translator, weights: bool) -> Res {
    let x = b.input(n, 0)?;
    if b.dims(x).len() != 3 {
        return inner(b, n);
    }
    let out = b.output_name(n, 0)?.to_string();
    let mut proto: NodeProto = n.proto.clone();
    for a in &mut proto.attribute {
        match a.name.as_str() {
            "kernel_shape" | "strides" | "dilations" => a.ints.insert(0, 1),
            "pads" if a.ints.len() == 2 => a.ints = vec![0, a.ints[0], 0, a.ints[1]],
            "pads" => return Err(n.err(format!("pads must have 2 values for a 1-D op, got {:?}", a.ints))),
            _ => {}
        }
    }
    let mut operands = vec![x];
    if weights {
        operands.push(b.input(n, 1)?);
    }
    for (i, v) in operands.into_iter().enumerate() {
        let d = b.dims(v).to_vec();
        let [a, c, w] = d[..] else {
            return Err(n.err(format!("input #{i} must have rank 3 for a 1-D op, got {}", b.ty(v))));
        };
        let name = format!("{out}#in{i}-2d");
        let v2 = b.emit(n, Op::Reshape(Reshape { shape: Shape(vec![a, c, 1, w]) }), &[v], &name)?;
        b.bind(&name, v2);
        proto.input[i] = name;
    }
    let y_name = format!("{out}#2d");
    proto.output = vec![y_name.clone()];
    let lifted = OnnxNode { proto: &proto, label: n.label.clone(), opset: n.opset };
    inner(b, &lifted)?;
    let y = b.lookup(&y_name).ok_or_else(|| n.err("the 2-D form defined no output"))?;
    let d = b.dims(y).to_vec();
    let [a, c, _, w] = d[..] else { return Err(n.err(format!("the 2-D form gave {}", b.ty(y)))) };
    b.emit_out(n, Op::Reshape(Reshape { shape: Shape(vec![a, c, w]) }), &[y])?;
    Ok(())
}
