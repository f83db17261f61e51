//! Pools between int8 layers stay int8 (`accel_ops::numerics::pool`, the vector unit's `vec.pool.i8`) instead
//! of running in f32 between two conversions: a max pool keeps its input's scale and zero point (exact; its
//! output's calibrated range is its input's, `max_ranges`), an average requantizes each window's sum once, to
//! its output's calibrated (or the model's) parameters.
use super::nodes::Params;
use super::rewrite::{Fmt, Rewriter};
use crate::ir::{Graph, IrError, Node};
use accel_ops::numerics::pool::PoolQuant;
use accel_ops::op::{Op, Pool, PoolKind};
use accel_ops::Tensor;

/// Gives the output of every tile max pool (`tile_pools`, per node of `g`) its input's calibrated range: the
/// int8 max pool is then exact (its output keeps its input's scale and zero point).
pub fn max_ranges(g: &Graph, tile_pools: &[bool], ranges: &mut [Option<(f32, f32)>]) {
    for (n, _) in g.nodes.iter().zip(tile_pools).filter(|(_, &t)| t) {
        if let Op::Pool(Pool { kind: PoolKind::Max, .. }) = n.op {
            if let (Some(&x), Some(_)) = (ranges.get(n.inputs[0].0 as usize), ranges.get(n.output.0 as usize)) {
                ranges[n.output.0 as usize] = x;
            }
        }
    }
}

/// Adds the int8 form of pool `n` when its input is int8 (and, for an average, its output has parameters);
/// `Ok(false)` (nothing added) otherwise.
pub fn int8_pool(rw: &mut Rewriter<'_>, n: &Node, params: &Params) -> Result<bool, IrError> {
    let Op::Pool(p) = &n.op else { return Ok(false) };
    let (x, Fmt::I8 { scale, zero }) = rw.value(n.inputs[0])? else { return Ok(false) };
    let (q, fmt) = match p.kind {
        // Exact when the output keeps the input's parameters (`max_ranges` makes them equal, unless a later
        // decision such as `residual::share` widened the output's).
        PoolKind::Max => match params.get(n.output.0 as usize).copied().flatten() {
            Some((ys, yz)) if (ys, yz) != (scale, zero) => match PoolQuant::between((scale, zero), (ys, yz)) {
                Ok(q) => (q, Fmt::I8 { scale: ys, zero: yz }),
                Err(_) => return Ok(false),
            },
            _ => (PoolQuant::identity(zero), Fmt::I8 { scale, zero }),
        },
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
