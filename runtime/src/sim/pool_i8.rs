//! `vec.pool.i8`: int8 pooling, each output `accel_ops::numerics::pool::window` (the definition itself, so the
//! simulator equals the reference bit for bit), planes in parallel on large blocks.
use super::memory::{bytes, bytes_mut};
use super::vector::par_threshold;
use accel_ops::command::Command;
use accel_ops::numerics::pool::window;
use accel_ops::op::Pool;
use rayon::prelude::*;

/// Pools the command's `[c, in_h, in_w]` int8 block at `src` into `[c, out_h, out_w]` at `dst`.
pub(crate) fn pool_i8_cmd(sram: &mut [u8], cmd: &Command) -> Result<(), String> {
    let (p, q) = match cmd.pool_fields() {
        Some(p) => (p, p.quant.ok_or("vec.pool without int8 parameters")?),
        None => return Err(format!("{} is not vec.pool.i8", cmd.mnemonic())),
    };
    let (h, w, oh, ow) = (p.in_h as usize, p.in_w as usize, p.out_h as usize, p.out_w as usize);
    let plane_in = h.checked_mul(w).ok_or("size overflow")?;
    let plane_out = oh.checked_mul(ow).ok_or("size overflow")?;
    let len = |plane: usize| (p.c as usize).checked_mul(plane).map(|n| n as u64).ok_or("size overflow");
    let src: Vec<i8> = bytes(sram, p.src.0 as u64, len(plane_in)?)?.iter().map(|&b| b as i8).collect();
    let dst = bytes_mut(sram, p.dst.0 as u64, len(plane_out)?)?;
    if plane_out == 0 {
        return Ok(());
    }
    let pool = Pool {
        kind: p.kind,
        kernel: p.kernel.map(usize::from),
        strides: p.stride.map(usize::from),
        pads: p.pads.map(usize::from),
    };
    let run = |(d, s): (&mut [u8], &[i8])| {
        for (i, o) in d.iter_mut().enumerate() {
            *o = window(&pool, s, h, w, i / ow, i % ow, &q) as u8;
        }
    };
    // An empty input plane still has (all-padding) outputs: give `window` an empty plane per output plane.
    let planes_in: Vec<&[i8]> =
        if plane_in == 0 { vec![&[][..]; p.c as usize] } else { src.chunks(plane_in).collect() };
    if src.len() < par_threshold() {
        dst.chunks_mut(plane_out).zip(planes_in).for_each(run);
    } else {
        dst.par_chunks_mut(plane_out).zip(planes_in.into_par_iter()).for_each(run);
    }
    Ok(())
}
