//! Pools between int8 layers stay int8 (`accel_ops::numerics::pool`, the vector unit's `vec.pool.i8`) instead
//! of running in f32 between two conversions: a max pool keeps its input's scale and zero point (exact), an
//! average requantizes each window's sum once, to its output's calibrated (or the model's) parameters.
use super::nodes::Params;
use super::rewrite::{Fmt, Rewriter};
use crate::ir::{IrError, Node};
use accel_ops::numerics::pool::PoolQuant;
use accel_ops::op::{Op, PoolKind};
use accel_ops::Tensor;

/// Adds the int8 form of pool `n` when its input is int8 (and, for an average, its output has parameters);
/// `Ok(false)` (nothing added) otherwise.
pub fn int8_pool(rw: &mut Rewriter<'_>, n: &Node, params: &Params) -> Result<bool, IrError> {
    let Op::Pool(p) = &n.op else { return Ok(false) };
    let (x, Fmt::I8 { scale, zero }) = rw.value(n.inputs[0])? else { return Ok(false) };
    let (q, fmt) = match p.kind {
        PoolKind::Max => (PoolQuant::identity(zero), Fmt::I8 { scale, zero }),
        PoolKind::Avg { .. } => {
            let Some((ys, yz)) = params.get(n.output.0 as usize).copied().flatten() else { return Ok(false) };
            match PoolQuant::between((scale, zero), (ys, yz)) {
                Ok(q) => (q, Fmt::I8 { scale: ys, zero: yz }),
                Err(_) => return Ok(false),
            }
        }
    };
    let words = Tensor::from_i32(vec![4], q.to_words().to_vec())
        .map_err(|e| IrError::Invalid { node: n.name.clone(), why: e.to_string() })?;
    let qv = rw.constant(format!("{}:quant", n.name), words);
    rw.emit(n, n.op.clone(), vec![x, qv], fmt)?;
    Ok(true)
}
