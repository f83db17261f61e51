//! Convolution, pooling, batch normalization and LRN: the NCHW window operators. `auto_pad` and `ceil_mode`
//! are resolved here into explicit pads, so the ops see only static, validated windows.
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use accel_ops::op::{BatchNorm, Conv, Lrn, Op, Pad, Pool, PoolKind};

type Res = Result<(), ImportError>;

/// The spatial dims of an NCHW value, or an error saying only 2-D is supported.
fn spatial(b: &Builder<'_>, n: &OnnxNode<'_>, v: crate::ir::ValueId) -> Result<[usize; 2], ImportError> {
    match b.dims(v) {
        &[_, _, h, w] => Ok([h, w]),
        d => Err(n.err(format!("only 2-D (NCHW) inputs are supported, got rank {}", d.len()))),
    }
}

/// Resolves `auto_pad` / `pads` into [top, left, bottom, right] for a window of `kernel` (dilated).
fn resolve_pads(
    n: &OnnxNode<'_>,
    input: [usize; 2],
    kernel: [usize; 2],
    strides: [usize; 2],
    dilations: [usize; 2],
) -> Result<[usize; 4], ImportError> {
    let auto_pad = n.string_or("auto_pad", "NOTSET")?;
    match auto_pad {
        "NOTSET" | "" => match n.ints("pads")? {
            None => Ok([0; 4]),
            Some(&[t, l, bo, r]) => {
                Ok([n.to_usize(t, "pads")?, n.to_usize(l, "pads")?, n.to_usize(bo, "pads")?, n.to_usize(r, "pads")?])
            }
            Some(p) => Err(n.err(format!("pads must have 4 values for a 2-D op, got {p:?}"))),
        },
        "VALID" => Ok([0; 4]),
        "SAME_UPPER" | "SAME_LOWER" => {
            let mut pads = [0; 4];
            for a in 0..2 {
                // out = ceil(in / stride); total = max(0, (out - 1) * stride + (k - 1) * d + 1 - in).
                let out = input[a].div_ceil(strides[a]);
                let span = (kernel[a] - 1)
                    .checked_mul(dilations[a])
                    .and_then(|s| s.checked_add(1))
                    .and_then(|s| out.saturating_sub(1).checked_mul(strides[a])?.checked_add(s))
                    .ok_or_else(|| n.err("window size overflows"))?;
                let total = span.saturating_sub(input[a]);
                let (lo, hi) = if auto_pad == "SAME_UPPER" {
                    (total / 2, total - total / 2)
                } else {
                    (total - total / 2, total / 2)
                };
                pads[a] = lo;
                pads[a + 2] = hi;
            }
            Ok(pads)
        }
        other => Err(n.err(format!("unknown auto_pad `{other}`"))),
    }
}

/// `kernel_shape` as two sizes >= 1.
fn kernel_attr(n: &OnnxNode<'_>) -> Result<Option<[usize; 2]>, ImportError> {
    match n.ints("kernel_shape")? {
        None => Ok(None),
        Some(&[h, w]) => Ok(Some([n.to_positive(h, "kernel_shape")?, n.to_positive(w, "kernel_shape")?])),
        Some(k) => Err(n.err(format!("kernel_shape must have 2 values for a 2-D op, got {k:?}"))),
    }
}

pub(super) fn conv(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 3)?;
    let x = b.input(n, 0)?;
    let w = b.input(n, 1)?;
    let bias = b.opt_input(n, 2)?;
    let op = conv_op(b, n, x, w)?;
    let inputs: Vec<_> = [Some(x), Some(w), bias].into_iter().flatten().collect();
    b.emit_out(n, op, &inputs)?;
    Ok(())
}

/// The `Conv` of node `n`'s attributes for input `x` and weights `w` (also QLinearConv's).
pub(super) fn conv_op(
    b: &Builder<'_>,
    n: &OnnxNode<'_>,
    x: crate::ir::ValueId,
    w: crate::ir::ValueId,
) -> Result<Op, ImportError> {
    let hw = spatial(b, n, x)?;
    let kernel = match (kernel_attr(n)?, b.dims(w)) {
        (Some(k), _) => k,
        (None, &[_, _, kh, kw]) => {
            [n.to_positive(kh as i64, "kernel height")?, n.to_positive(kw as i64, "kernel width")?]
        }
        (None, d) => return Err(n.err(format!("weights must be OIHW, got rank {}", d.len()))),
    };
    let strides = n.spatial2("strides")?;
    let dilations = n.spatial2("dilations")?;
    let group = n.to_positive(n.int_or("group", 1)?, "group")?;
    let pads = resolve_pads(n, hw, kernel, strides, dilations)?;
    Ok(Op::Conv(Conv { kernel, strides, dilations, pads, group, act: None }))
}

fn pool(b: &mut Builder<'_>, n: &OnnxNode<'_>, max: bool) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let hw = spatial(b, n, x)?;
    let kernel = kernel_attr(n)?.ok_or_else(|| n.err("attribute `kernel_shape` is required"))?;
    let strides = n.spatial2("strides")?;
    if n.spatial2("dilations")? != [1, 1] {
        return Err(n.err("dilations other than 1 are unsupported for pooling"));
    }
    let ceil_mode = n.flag("ceil_mode", false)?;
    let count_include_pad = !max && n.flag("count_include_pad", false)?;
    let pads = resolve_pads(n, hw, kernel, strides, [1, 1])?;
    // ceil_mode becomes extra bottom/right padding. The last window must still start inside the input or
    // its leading padding (the rule ONNX Runtime and tract apply).
    let mut extra = [0usize; 2];
    if ceil_mode {
        for a in 0..2 {
            let padded = hw[a]
                .checked_add(pads[a])
                .and_then(|p| p.checked_add(pads[a + 2]))
                .ok_or_else(|| n.err("padded size overflows"))?;
            let Some(room) = padded.checked_sub(kernel[a]) else {
                return Err(n.err(format!("kernel {kernel:?} does not fit the padded input")));
            };
            let overflow = || n.err("pooling window arithmetic overflows");
            // Number of windows after the first: ceil(room / stride), less one if that last window
            // would start past the input and its leading padding.
            let mut steps = room.div_ceil(strides[a]);
            let start = |k: usize| k.checked_mul(strides[a]).ok_or_else(overflow);
            if steps > 0 && start(steps)? >= hw[a] + pads[a] {
                steps -= 1;
            }
            let end = start(steps)?.checked_add(kernel[a]).ok_or_else(overflow)?;
            extra[a] = end.saturating_sub(padded);
        }
    }
    let kind = if max { PoolKind::Max } else { PoolKind::Avg { count_include_pad } };
    let out_name = b.output_name(n, 0)?.to_string();
    if count_include_pad && extra != [0, 0] {
        // The ceil-mode overhang is not counted in the divisor, the declared pads are: zero-pad explicitly,
        // then average without counting the remaining (overhang) padding.
        let mut x = x;
        if pads != [0; 4] {
            let pad = Pad { begin: vec![0, 0, pads[0], pads[1]], end: vec![0, 0, pads[2], pads[3]], value: 0.0 };
            let name = b.helper_name(n, "pad")?;
            x = b.emit(n, Op::Pad(pad), &[x], &name)?;
        }
        let op = Pool {
            kind: PoolKind::Avg { count_include_pad: false },
            kernel,
            strides,
            pads: [0, 0, extra[0], extra[1]],
        };
        let v = b.emit(n, Op::Pool(op), &[x], &out_name)?;
        return b.define(n, 0, v);
    }
    let grow = |p: usize, e: usize| p.checked_add(e).ok_or_else(|| n.err("padding overflows"));
    let pads = [pads[0], pads[1], grow(pads[2], extra[0])?, grow(pads[3], extra[1])?];
    b.emit_out(n, Op::Pool(Pool { kind, kernel, strides, pads }), &[x])?;
    Ok(())
}

pub(super) fn max_pool(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    pool(b, n, true)
}

pub(super) fn average_pool(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    pool(b, n, false)
}

fn global_pool(b: &mut Builder<'_>, n: &OnnxNode<'_>, kind: PoolKind) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let kernel = spatial(b, n, x)?;
    if kernel.contains(&0) {
        return Err(n.err("global pooling over an empty map"));
    }
    b.emit_out(n, Op::Pool(Pool { kind, kernel, strides: [1, 1], pads: [0; 4] }), &[x])?;
    Ok(())
}

pub(super) fn global_average_pool(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    global_pool(b, n, PoolKind::Avg { count_include_pad: false })
}

pub(super) fn global_max_pool(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    global_pool(b, n, PoolKind::Max)
}

pub(super) fn batch_norm(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 5, 5)?;
    if n.opset < 9 && n.int_or("spatial", 1)? != 1 {
        return Err(n.err("spatial=0 (per-element statistics) is unsupported"));
    }
    let epsilon = n.finite_float_or("epsilon", 1e-5)?;
    if epsilon < 0.0 {
        return Err(n.err(format!("epsilon must be >= 0, got {epsilon}")));
    }
    if n.flag("training_mode", false)? {
        return super::normalize::batch_norm_training(b, n, epsilon);
    }
    let inputs = (0..5).map(|i| b.input(n, i)).collect::<Result<Vec<_>, _>>()?;
    b.emit_out(n, Op::BatchNorm(BatchNorm { epsilon }), &inputs)?;
    Ok(())
}

pub(super) fn lrn(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let size = n.to_positive(n.int("size")?.ok_or_else(|| n.err("attribute `size` is required"))?, "size")?;
    if size % 2 == 0 {
        // accel_ops::op::Lrn sums channels c-(size-1)/2 ..= c+size/2-1 rather than ONNX's c+ceil((size-1)/2):
        // the two agree only for odd sizes.
        return Err(n.err(format!("even LRN size {size} is unsupported")));
    }
    let alpha = n.finite_float_or("alpha", 1e-4)?;
    let beta = n.finite_float_or("beta", 0.75)?;
    let bias = n.finite_float_or("bias", 1.0)?;
    b.emit_out(n, Op::Lrn(Lrn { size, alpha, beta, bias }), &[x])?;
    Ok(())
}
