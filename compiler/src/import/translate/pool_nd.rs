//! MaxPool / AveragePool as the N-D host operator (`PoolNd`) when the tile pool cannot run them: spatial rank
//! other than 1 or 2, dilations, a dtype other than f32, or MaxPool's indices output; LpPool always. `auto_pad` becomes
//! explicit pads here (dilated windows, as the ONNX definition gives them); `ceil_mode` stays an attribute.
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use accel_ops::op::pool_nd::{PoolNd, PoolNdKind};
use accel_ops::op::{HostOnly, Op};
use accel_ops::DType;

type Res = Result<(), ImportError>;

/// Whether node `n` needs the host pool rather than the tile one.
pub(super) fn needs_host(b: &Builder<'_>, n: &OnnxNode<'_>, max: bool) -> Result<bool, ImportError> {
    let x = b.input(n, 0)?;
    let rank = b.dims(x).len();
    let dilated = n.ints("dilations")?.is_some_and(|d| d.iter().any(|&v| v != 1));
    let indices = max && n.proto.output.get(1).is_some_and(|o| !o.is_empty());
    Ok(!(rank == 3 || rank == 4) || dilated || b.ty(x).dtype != DType::F32 || indices)
}

/// Which ONNX pooling operator a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    Max,
    Average,
    Lp,
}

/// LpPool (`p`, default 2), always on the host.
pub(super) fn lp_pool(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    pool(b, n, Family::Lp)
}

pub(super) fn pool(b: &mut Builder<'_>, n: &OnnxNode<'_>, family: Family) -> Res {
    let max = family == Family::Max;
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let dims = b.dims(x).to_vec();
    if dims.len() < 3 {
        return Err(n.err(format!("pooling needs an input of rank >= 3, got {}", b.ty(x))));
    }
    let sp = dims.len() - 2;
    let list = |name: &str, default: Option<usize>, count: usize| -> Result<Vec<usize>, ImportError> {
        match (n.ints(name)?, default) {
            (None, Some(d)) => Ok(vec![d; count]),
            (None, None) => Err(n.err(format!("attribute `{name}` is required"))),
            (Some(v), _) if v.len() == count => {
                v.iter().map(|&x| if name == "pads" { n.to_usize(x, name) } else { n.to_positive(x, name) }).collect()
            }
            (Some(v), _) => Err(n.err(format!("`{name}` has {} values for {sp} spatial axes", v.len()))),
        }
    };
    let kernel = list("kernel_shape", None, sp)?;
    let strides = list("strides", Some(1), sp)?;
    let dilations = list("dilations", Some(1), sp)?;
    let mut ceil_mode = n.flag("ceil_mode", false)?;
    let (pads_begin, pads_end) = match n.string_or("auto_pad", "NOTSET")? {
        "NOTSET" | "" => {
            let pads = list("pads", Some(0), 2 * sp)?;
            (pads[..sp].to_vec(), pads[sp..].to_vec())
        }
        "VALID" => {
            ceil_mode = false;
            (vec![0; sp], vec![0; sp])
        }
        auto @ ("SAME_UPPER" | "SAME_LOWER") => {
            // out = ceil(in / stride); the padding completes the last dilated window, the odd one at the end
            // (SAME_UPPER) or the beginning (SAME_LOWER).
            ceil_mode = false;
            let (mut begin, mut end) = (Vec::with_capacity(sp), Vec::with_capacity(sp));
            for a in 0..sp {
                let input = dims[a + 2];
                let window = (kernel[a] - 1).checked_mul(dilations[a]).and_then(|w| w.checked_add(1));
                let last_start = input.div_ceil(strides[a]).saturating_sub(1).checked_mul(strides[a]);
                let span = window
                    .zip(last_start)
                    .and_then(|(w, s)| s.checked_add(w))
                    .ok_or_else(|| n.err("window size overflows"))?;
                let total = span.saturating_sub(input);
                let (lo, hi) = (total / 2, total - total / 2);
                let (lo, hi) = if auto == "SAME_UPPER" { (lo, hi) } else { (hi, lo) };
                begin.push(lo);
                end.push(hi);
            }
            (begin, end)
        }
        other => return Err(n.err(format!("unknown auto_pad `{other}`"))),
    };
    let count_include_pad = !max && n.flag("count_include_pad", false)?;
    let column_major = match n.int_or("storage_order", 0)? {
        0 => false,
        1 => true,
        v => return Err(n.err(format!("storage_order must be 0 or 1, got {v}"))),
    };
    let op = |kind| PoolNd {
        kind,
        kernel: kernel.clone(),
        strides: strides.clone(),
        dilations: dilations.clone(),
        pads_begin: pads_begin.clone(),
        pads_end: pads_end.clone(),
        ceil_mode,
    };
    if family == Family::Lp {
        let p = n.int_or("p", 2)?;
        let p = u32::try_from(p).ok().filter(|&p| (1..=64).contains(&p));
        let p = p.ok_or_else(|| n.err("LpPool's p must be in 1..=64"))?;
        b.emit_out(n, Op::HostOnly(HostOnly::PoolNd(op(PoolNdKind::Lp { p }))), &[x])?;
        return Ok(());
    }
    if !max {
        b.emit_out(n, Op::HostOnly(HostOnly::PoolNd(op(PoolNdKind::Avg { count_include_pad }))), &[x])?;
        return Ok(());
    }
    // Values and indices are separate host nodes, one per used output (as TopK).
    for (slot, kind) in [(0, PoolNdKind::Max), (1, PoolNdKind::ArgMax { column_major })] {
        let Some(name) = n.proto.output.get(slot).filter(|o| !o.is_empty()) else { continue };
        let name = name.clone();
        let v = b.emit(n, Op::HostOnly(HostOnly::PoolNd(op(kind))), &[x], &name)?;
        b.define(n, slot, v)?;
    }
    Ok(())
}
