//! GridSample(X, grid) as a host operator. Opset 16 names the modes `bilinear` / `bicubic` and takes only 4-D
//! input; opset 20 renamed them `linear` / `cubic` and allowed any number of spatial axes.
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use accel_ops::op::grid_sample::{GridMode, GridPadding, GridSample};
use accel_ops::op::{HostOnly, Op};

pub(super) fn grid_sample(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Result<(), ImportError> {
    b.arity(n, 2, 2)?;
    let (x, grid) = (b.input(n, 0)?, b.input(n, 1)?);
    let old = n.opset < 20;
    let mode = match (n.string_or("mode", if old { "bilinear" } else { "linear" })?, old) {
        ("bilinear", true) | ("linear", false) => GridMode::Linear,
        ("bicubic", true) | ("cubic", false) => GridMode::Cubic,
        ("nearest", _) => GridMode::Nearest,
        (other, _) => return Err(n.err(format!("mode `{other}` is not a GridSample mode at opset {}", n.opset))),
    };
    let padding = match n.string_or("padding_mode", "zeros")? {
        "zeros" => GridPadding::Zeros,
        "border" => GridPadding::Border,
        "reflection" => GridPadding::Reflection,
        other => return Err(n.err(format!("padding_mode `{other}` is unsupported"))),
    };
    if old && b.dims(x).len() != 4 {
        return Err(n.err(format!("GridSample before opset 20 takes 4-D input, got {}", b.ty(x))));
    }
    let op = GridSample { mode, padding, align_corners: n.flag("align_corners", false)? };
    b.emit_out(n, Op::HostOnly(HostOnly::GridSample(op)), &[x, grid])?;
    Ok(())
}
