//! Softmax/LogSoftmax (with the pre-opset-13 "coerce to 2-D" semantics) and the Reduce family (axes as an
//! attribute or, from opset 13 for ReduceSum and 18 for the others, as a constant input).
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use crate::import::fold;
use accel_ops::op::{Op, Reduce, ReduceKind, Reshape, Softmax};
use accel_ops::{DType, Shape};

type Res = Result<(), ImportError>;

pub(super) fn softmax(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let log = n.op_type() == "LogSoftmax";
    let dims = b.dims(x).to_vec();
    let rank = dims.len();
    if n.opset >= 13 {
        let axis = n.axis(n.int_or("axis", -1)?, rank, "axis")?;
        b.emit_out(n, Op::Softmax(Softmax { axis, log }), &[x])?;
        return Ok(());
    }
    // Before opset 13 the input is coerced to 2-D [prod(dims[..axis]), prod(dims[axis..])] and normalized
    // over the second axis. With axis = rank - 1 that is the last axis already.
    let axis_attr = n.int_or("axis", 1)?;
    let axis = if rank == 0 { 0 } else { n.axis(axis_attr, rank, "axis")? };
    if rank == 0 || axis + 1 == rank {
        let axis = rank.saturating_sub(1);
        b.emit_out(n, Op::Softmax(Softmax { axis, log }), &[x])?;
        return Ok(());
    }
    let outer: usize = dims[..axis].iter().product();
    let inner: usize = dims[axis..].iter().product();
    let flat_name = b.helper_name(n, "2d")?;
    let flat = b.emit(n, Op::Reshape(Reshape { shape: Shape(vec![outer, inner]) }), &[x], &flat_name)?;
    let sm_name = b.helper_name(n, "softmax")?;
    let sm = b.emit(n, Op::Softmax(Softmax { axis: 1, log }), &[flat], &sm_name)?;
    b.emit_out(n, Op::Reshape(Reshape { shape: Shape(dims) }), &[sm])?;
    Ok(())
}

/// The normalized axes and `keepdims` of reduction `n` (axes as an attribute, or as a constant input from
/// opset 18, 13 for ReduceSum), or `None` when empty axes with `noop_with_empty_axes` make it an identity.
pub(super) fn reduce_axes(
    b: &Builder<'_>,
    n: &OnnxNode<'_>,
    sum: bool,
) -> Result<Option<(Vec<usize>, bool)>, ImportError> {
    let axes_as_input = n.opset >= 18 || (sum && n.opset >= 13);
    let rank = b.dims(b.input(n, 0)?).len();
    let (axes, noop) = if axes_as_input {
        b.arity(n, 1, 2)?;
        (b.const_ints(n, 1, "axes")?, n.flag("noop_with_empty_axes", false)?)
    } else {
        b.arity(n, 1, 1)?;
        (n.ints("axes")?.map(<[i64]>::to_vec), false)
    };
    let keepdims = n.flag("keepdims", true)?;
    Ok(match axes {
        Some(a) if !a.is_empty() => Some((n.axes(&a, rank, "axes")?, keepdims)),
        _ if noop => None,
        _ => Some(((0..rank).collect(), keepdims)),
    })
}

pub(super) fn reduce(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let kind = match n.op_type() {
        "ReduceMean" => ReduceKind::Mean,
        "ReduceSum" => ReduceKind::Sum,
        "ReduceMax" => ReduceKind::Max,
        "ReduceMin" => ReduceKind::Min,
        "ReduceProd" => ReduceKind::Prod,
        other => return Err(n.err(format!("`{other}` is not a reduction"))),
    };
    let x = b.input(n, 0)?;
    let Some((axes, keepdims)) = reduce_axes(b, n, kind == ReduceKind::Sum)? else { return b.alias_out(n, x) };
    if let Some(t) = b.constant(x) {
        if t.dtype() != DType::F32 {
            let y = fold::int_reduce(kind, t, &axes, keepdims).map_err(|e| n.err(e))?;
            return b.const_out(n, y);
        }
    }
    b.emit_out(n, Op::Reduce(Reduce { kind, axes, keepdims }), &[x])?;
    Ok(())
}
