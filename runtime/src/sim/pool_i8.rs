//! `vec.pool.i8`: int8 pooling, bit for bit `accel_ops::numerics::pool::window` per output, planes in
//! parallel on large blocks. The window is the in-bounds taps `Pool::for_each_tap` visits, walked as row
//! segments; a max pool's output depends only on the window's largest input byte, so it is looked up in a
//! 256-entry table of the definition's `output`; an average's sum is exact in i64 and requantized by
//! `average`, the definition's rounding with an i64 division where the quotient fits (else the definition).
use super::memory::{bytes, bytes_mut};
use super::vector::par_threshold;
use accel_ops::command::Command;
use accel_ops::numerics::pool::{output, PoolQuant};
use accel_ops::op::{Pool, PoolKind};
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
    let k = Kernel::new(pool, q, [h, w], ow);
    let run = |(d, s): (&mut [u8], &[i8])| k.plane(s, d);
    // An empty input plane still has (all-padding) outputs: give each output plane an empty input plane.
    let planes_in: Vec<&[i8]> =
        if plane_in == 0 { vec![&[][..]; p.c as usize] } else { src.chunks(plane_in).collect() };
    if src.len() < par_threshold() {
        dst.chunks_mut(plane_out).zip(planes_in).for_each(run);
    } else {
        dst.par_chunks_mut(plane_out).zip(planes_in.into_par_iter()).for_each(run);
    }
    Ok(())
}

/// One command's pooling: the window geometry and the requantization.
struct Kernel {
    pool: Pool,
    q: PoolQuant,
    h: usize,
    w: usize,
    ow: usize,
    /// A max pool's output for each largest input byte `v` (at index `v + 128`): `output(v - x_zero, 1, q)`.
    max_table: [i8; 256],
}

impl Kernel {
    fn new(pool: Pool, q: PoolQuant, [h, w]: [usize; 2], ow: usize) -> Kernel {
        let max_table = std::array::from_fn(|i| output(i as i64 - 128 - q.x_zero as i64, 1, &q));
        Kernel { pool, q, h, w, ow, max_table }
    }

    /// The in-bounds input positions `[lo, hi)` along `axis` (of length `len`) of output position `o`'s window,
    /// as `Pool::for_each_tap` visits them.
    fn span(&self, o: usize, axis: usize, len: usize) -> (usize, usize) {
        let start = (o * self.pool.strides[axis]) as i64 - self.pool.pads[axis] as i64;
        let lo = start.clamp(0, len as i64) as usize;
        let hi = (start + self.pool.kernel[axis] as i64).clamp(0, len as i64) as usize;
        (lo, hi.max(lo))
    }

    /// One plane `s` (`h x w`, or empty when the input has no elements) into `d` (`oh x ow`), separably: per
    /// output row, the maxima (or sums) of its window's in-bounds input rows for every column, in one pass
    /// over those rows that vectorizes, then per output the maximum (or sum) of its in-bounds columns of that
    /// row. The same taps as `Pool::for_each_tap`: a max is order-free, and the sums are exact integers.
    fn plane(&self, s: &[i8], d: &mut [u8]) {
        let cols: Vec<(usize, usize)> = (0..self.ow).map(|ox| self.span(ox, 1, self.w)).collect();
        let w = self.w;
        // The plane's in-bounds columns of the current output row's window: maxima, or sums.
        let (mut maxes, mut sums) = match self.pool.kind {
            PoolKind::Max => (vec![0i8; w], Vec::new()),
            PoolKind::Avg { .. } => (Vec::new(), vec![0i32; w]),
        };
        for (oy, drow) in d.chunks_mut(self.ow).enumerate() {
            let (y0, y1) = self.span(oy, 0, self.h);
            // Empty when the window has no in-bounds row (or the plane no elements): every count is 0.
            let rows = s.get(y0 * w..y1 * w).unwrap_or(&[]);
            match self.pool.kind {
                PoolKind::Max => {
                    if rows.is_empty() {
                        drow.fill(i8::MIN as u8);
                        continue;
                    }
                    let (first, rest) = rows.split_at(w);
                    maxes.copy_from_slice(first);
                    for row in rest.chunks_exact(w) {
                        for (m, &v) in maxes.iter_mut().zip(row) {
                            *m = (*m).max(v);
                        }
                    }
                    for (o, &(x0, x1)) in drow.iter_mut().zip(&cols) {
                        *o = match maxes[x0..x1].iter().copied().max() {
                            Some(max) => self.max_table[(max as i16 + 128) as usize] as u8,
                            // No in-bounds tap.
                            None => i8::MIN as u8,
                        };
                    }
                }
                PoolKind::Avg { .. } => {
                    // Column sums of at most 65535 rows of bytes: exact in i32.
                    sums.fill(0);
                    for row in rows.chunks_exact(w.max(1)) {
                        for (a, &v) in sums.iter_mut().zip(row) {
                            *a += v as i32;
                        }
                    }
                    for (ox, (o, &(x0, x1))) in drow.iter_mut().zip(&cols).enumerate() {
                        let count = (y1 - y0) * (x1 - x0);
                        let raw: i64 = if count == 0 { 0 } else { sums[x0..x1].iter().map(|&v| v as i64).sum() };
                        let sum = raw - count as i64 * self.q.x_zero as i64;
                        let div = self.pool.divisor(self.h, self.w, oy, ox, count) as u64;
                        *o = average(sum, div, &self.q) as u8;
                    }
                }
            }
        }
    }
}

/// `numerics::pool::output(acc, count, q)`: `(|p| + d / 2) / d` with `d = count 2^t` is
/// `((|p| + count 2^(t-1)) >> t) / count` (nested floor divisions), a 64-bit division when that shifted
/// numerator fits in 64 bits; otherwise the definition itself.
#[inline]
fn average(acc: i64, count: u64, q: &PoolQuant) -> i8 {
    let t = (31 - q.shift.clamp(-31, 30)) as u32;
    let count = count.max(1);
    let p = acc as i128 * q.mult as i128;
    let num = (p.unsigned_abs() + ((count as u128) << (t - 1))) >> t;
    let Ok(num) = u64::try_from(num) else { return output(acc, count, q) };
    let mag = floor_div(num, count) as i128;
    let r = if p < 0 { -mag } else { mag };
    (q.y_zero as i128 + r).clamp(-128, 127) as i8
}

/// `num / count` (`count >= 1`). Below 2^52 an f64 quotient truncates to the floor exactly (`num + count <
/// 2^53`, so a quotient just below an integer `k + 1` is at least `1 / count` below it, more than half a unit
/// in its last place), and f64 divisions overlap where the integer divider does not.
#[inline]
fn floor_div(num: u64, count: u64) -> u64 {
    const EXACT: u64 = 1 << 52;
    if num < EXACT && count < EXACT {
        (num as f64 / count as f64) as u64
    } else {
        num / count
    }
}

#[cfg(test)]
#[path = "pool_i8_tests.rs"]
mod tests;
