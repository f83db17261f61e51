//! Concatenations between int8 layers stay int8. A concatenation only moves bytes when its operands share its
//! output's scale and zero point, so calibration gives every operand of a concatenation the concatenation's
//! parameters (its calibrated range covers theirs); the producers then requantize to them directly, and the
//! concatenation runs on int8 bytes (a quarter of f32's) with no conversion around it. As TensorRT and
//! OpenVINO do; an operand read elsewhere too is read there with that (coarser or equal) scale. A nearest
//! upsample (YOLO's route: upsample, then concatenate) is a gather, so it runs on int8 too, and shares them.
use super::nodes::Params;
use super::rewrite::{Fmt, Rewriter};
use crate::ir::{Graph, IrError, Node};
use accel_ops::op::Op;

/// Gives each non-constant operand of every concatenation with parameters the concatenation's parameters, and
/// so the input of an operand that is a nearest upsample (YOLO's route) too.
pub fn share_scales(g: &Graph, params: &mut [Option<(f32, i32)>]) {
    for n in g.nodes.iter().rev() {
        let Op::Concat(_) = n.op else { continue };
        let Some(p) = params.get(n.output.0 as usize).copied().flatten() else { continue };
        for &v in n.inputs.iter().filter(|&&v| g.constant(v).is_none()) {
            let mut at = Some(v);
            while let Some(v) = at {
                if let Some(slot) = params.get_mut(v.0 as usize) {
                    *slot = Some(p);
                }
                at = match g.value(v).producer.map(|id| &g.nodes[id.0 as usize]) {
                    Some(m) if matches!(&m.op, Op::Resize(r) if r.moves_int8()) => m.inputs.first().copied(),
                    _ => None,
                };
            }
        }
    }
}

/// Adds nearest resize `n` in int8 with its input's parameters when its input is int8 (every output element
/// is an input element); `Ok(false)` otherwise.
pub fn int8_upsample(rw: &mut Rewriter<'_>, n: &Node) -> Result<bool, IrError> {
    let Op::Resize(r) = &n.op else { return Ok(false) };
    if !r.moves_int8() || n.inputs.len() != 1 {
        return Ok(false);
    }
    let (x, fmt @ Fmt::I8 { .. }) = rw.value(n.inputs[0])? else { return Ok(false) };
    rw.emit(n, n.op.clone(), vec![x], fmt)?;
    Ok(true)
}

/// Adds concatenation `n` in int8 when its output has parameters and each operand is int8 with them already
/// or converts to them once (from f32 or bf16); `Ok(false)` (nothing added) otherwise.
pub fn int8_concat(rw: &mut Rewriter<'_>, n: &Node, params: &Params) -> Result<bool, IrError> {
    let Op::Concat(_) = n.op else { return Ok(false) };
    let Some((scale, zero)) = params.get(n.output.0 as usize).copied().flatten() else { return Ok(false) };
    let want = Fmt::I8 { scale, zero };
    for &v in &n.inputs {
        if rw.src.constant(v).is_some() {
            return Ok(false);
        }
        if let (_, f @ Fmt::I8 { .. }) = rw.value(v)? {
            if f != want {
                return Ok(false);
            }
        }
    }
    let ins = n.inputs.iter().map(|&v| rw.need(v, want)).collect::<Result<Vec<_>, _>>()?;
    rw.emit(n, n.op.clone(), ins, want)?;
    Ok(true)
}
