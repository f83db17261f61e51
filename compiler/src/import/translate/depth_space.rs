//! DepthToSpace and SpaceToDepth (super-resolution and detection heads), expanded as their ONNX definitions
//! read: a reshape to rank 6, a transpose, a reshape back. The reshapes are aliases; only the transpose moves
//! data.
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use accel_ops::op::{Op, Reshape, Transpose};
use accel_ops::Shape;

type Res = Result<(), ImportError>;

/// `x` (`[N, C, H, W]`) through reshape to `split`, transpose by `perm`, reshape to `out`.
fn shuffle(b: &mut Builder<'_>, n: &OnnxNode<'_>, split: Vec<usize>, perm: Vec<usize>, out: Vec<usize>) -> Res {
    let x = b.input(n, 0)?;
    let name = b.helper_name(n, "split")?;
    let r = b.emit(n, Op::Reshape(Reshape { shape: Shape(split) }), &[x], &name)?;
    let name = b.helper_name(n, "transposed")?;
    let t = b.emit(n, Op::Transpose(Transpose { perm }), &[r], &name)?;
    b.emit_out(n, Op::Reshape(Reshape { shape: Shape(out) }), &[t])?;
    Ok(())
}

/// The input's `[N, C, H, W]` and the block size, checked.
fn nchw_and_block(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Result<([usize; 4], usize), ImportError> {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let &[batch, c, h, w] = b.dims(x) else {
        return Err(n.err(format!("{} needs a rank-4 input, got {}", n.op_type(), b.ty(x))));
    };
    let bs = n.int("blocksize")?.ok_or_else(|| n.err("attribute `blocksize` is required"))?;
    let bs =
        usize::try_from(bs).ok().filter(|&v| v >= 1).ok_or_else(|| n.err(format!("blocksize {bs} must be >= 1")))?;
    Ok(([batch, c, h, w], bs))
}

pub(super) fn depth_to_space(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let ([batch, c, h, w], bs) = nchw_and_block(b, n)?;
    let sq = bs
        .checked_mul(bs)
        .filter(|&sq| c % sq == 0)
        .ok_or_else(|| n.err(format!("the {c} channels are not a multiple of blocksize^2 ({bs}^2)")))?;
    let out = vec![batch, c / sq, h * bs, w * bs];
    match n.string_or("mode", "DCR")? {
        "DCR" => shuffle(b, n, vec![batch, bs, bs, c / sq, h, w], vec![0, 3, 4, 1, 5, 2], out),
        "CRD" => shuffle(b, n, vec![batch, c / sq, bs, bs, h, w], vec![0, 1, 4, 2, 5, 3], out),
        other => Err(n.err(format!("mode `{other}` is unsupported (DCR or CRD)"))),
    }
}

pub(super) fn space_to_depth(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let ([batch, c, h, w], bs) = nchw_and_block(b, n)?;
    if h % bs != 0 || w % bs != 0 {
        return Err(n.err(format!("the spatial size {h}x{w} is not a multiple of blocksize {bs}")));
    }
    let (oh, ow) = (h / bs, w / bs);
    let (split, out) = (vec![batch, c, oh, bs, ow, bs], vec![batch, c * bs * bs, oh, ow]);
    // The inverses of DepthToSpace's modes (`mode` is newer than the operator; DCR is the original layout).
    match n.string_or("mode", "DCR")? {
        "DCR" => shuffle(b, n, split, vec![0, 3, 5, 1, 2, 4], out),
        "CRD" => shuffle(b, n, split, vec![0, 1, 3, 5, 2, 4], out),
        other => Err(n.err(format!("mode `{other}` is unsupported (DCR or CRD)"))),
    }
}
