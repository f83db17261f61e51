//! Concatenations between int8 layers stay int8. A concatenation only moves bytes when its operands share its
//! output's scale and zero point, so calibration gives every operand of a concatenation the concatenation's
//! parameters (its calibrated range covers theirs); the producers then requantize to them directly, and the
//! concatenation runs on int8 bytes (a quarter of f32's) with no conversion around it. As TensorRT and
//! OpenVINO do; an operand read elsewhere too is read there with that (coarser or equal) scale. A nearest
//! upsample (YOLO's route: upsample, then concatenate) is a gather, so it runs on int8 too, and shares them.
//! Not where an operand's own range is much narrower than the concatenation's: a detector's output joins box
//! coordinates (hundreds) and class scores (below 1), and the scores, on the boxes' grid, all became zero
//! (YOLOv8's class scores at 0 dB). Such a concatenation runs in float, each operand dequantized from its own
//! parameters.
use super::nodes::Params;
use super::rewrite::{Fmt, Rewriter};
use crate::ir::{Graph, IrError, Node};
use accel_ops::op::Op;

/// Most an operand's own scale may be finer than its concatenation's for the two to share one: 8 keeps every
/// operand at least 32 of the 256 steps.
const MAX_SHARED_SPREAD: f32 = 8.0;

/// Gives each non-constant operand of every concatenation with parameters the concatenation's parameters, and
/// so the input of an operand that is a nearest upsample (YOLO's route) too; not when some operand's own scale
/// is more than `MAX_SHARED_SPREAD` times finer (that concatenation stays float, see `int8_concat`).
pub fn share_scales(g: &Graph, params: &mut [Option<(f32, i32)>]) {
    for n in g.nodes.iter().rev() {
        let Op::Concat(_) = n.op else { continue };
        let Some(p) = params.get(n.output.0 as usize).copied().flatten() else { continue };
        let operands = || n.inputs.iter().filter(|&&v| g.constant(v).is_none());
        let own = |v: crate::ir::ValueId| params.get(v.0 as usize).copied().flatten();
        if operands().any(|&v| own(v).is_some_and(|(s, _)| s * MAX_SHARED_SPREAD < p.0)) {
            continue;
        }
        for &v in operands() {
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
        // An operand `share_scales` left with its own parameters is not converted to the concatenation's.
        if params.get(v.0 as usize).copied().flatten().is_some_and(|q| q != (scale, zero)) {
            return Ok(false);
        }
    }
    let ins = n.inputs.iter().map(|&v| rw.need(v, want)).collect::<Result<Vec<_>, _>>()?;
    rw.emit(n, n.op.clone(), ins, want)?;
    Ok(true)
}
