//! Work items of element conversions (`vec.convert`): the f32 <-> bf16 casts and the int8 quantize/dequantize
//! at the boundaries of reduced-precision regions, over flat chunks spread across the tiles.
use super::{SramAlloc, WorkItem};
use crate::lower::tiling::chunks;
use accel_ops::command::{Command, Copy3, DramAddr, SramAddr};
use accel_ops::numerics::ConvertParams;
use accel_ops::DType;

/// Converts `len` elements at `x` (in `from`) into `y` (in `to`); `params` is the DRAM address of the scale and
/// zero point when one side is i8.
#[allow(clippy::too_many_arguments)]
pub fn emit_convert(
    from: DType,
    to: DType,
    params: Option<u64>,
    len: usize,
    x: u64,
    y: u64,
    cap: u64,
    tiles: usize,
) -> Vec<WorkItem> {
    let (ef, et) = (from.size(), to.size());
    let fit = (cap.saturating_sub(256) / (ef + et) as u64).max(1) as usize;
    let per = fit.min(len.div_ceil(tiles.max(1))).max(1);
    chunks(len, per)
        .into_iter()
        .map(|(i0, n)| {
            let mut a = SramAlloc::new(cap);
            let s = a.take((n * ef) as u64).unwrap_or(0);
            let d = a.take((n * et) as u64).unwrap_or(0);
            let mut loads = vec![(s, DramAddr(x + (i0 * ef) as u64), Copy3::contiguous((n * ef) as u32))];
            let p = params.map(|p| {
                let at = a.take(ConvertParams::BYTES).unwrap_or(0);
                loads.push((at, DramAddr(p), Copy3::contiguous(ConvertParams::BYTES as u32)));
                SramAddr(at as u32)
            });
            WorkItem {
                loads,
                compute: vec![Command::Convert {
                    from,
                    to,
                    src: SramAddr(s as u32),
                    dst: SramAddr(d as u32),
                    params: p.unwrap_or(SramAddr::NONE),
                    len: n as u32,
                }],
                stores: vec![(d, DramAddr(y + (i0 * et) as u64), Copy3::contiguous((n * et) as u32))],
            }
        })
        .collect()
}
