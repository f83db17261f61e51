//! `vec.pool.i8`: int8 pooling, bit for bit `accel_ops::numerics::pool::window` per output, planes in
//! parallel on large blocks. The window is the in-bounds taps `Pool::for_each_tap` visits: per output row the
//! window's input rows reduced column by column, then across the row one pass per tap over the stride phases
//! of that reduced row, padded with the identity (`Phases`); a max pool's output depends only on the window's
//! largest input byte, so it is looked up in a 256-entry table of the definition's `output`; an average's sum
//! is exact in i64 (in i32 where bounded, `lanes_exact`) and requantized by `average`, the definition's rounding
//! with an i64 division where the quotient fits (else the definition), or by its branch-free twin in lanes
//! (`average_lanes`) where the parameters bound every intermediate.
use super::gemm::{dispatch, Simd};
use super::memory::src_dst;
use super::vector::par_threshold;
use accel_ops::command::Command;
use accel_ops::numerics::pool::{output, PoolQuant};
use accel_ops::op::{Pool, PoolKind};
use rayon::prelude::*;
use zerocopy::FromBytes;

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
    let (src_len, dst_len) = (len(plane_in)?, len(plane_out)?);
    let mut copied = Vec::new();
    let (src, dst) = src_dst(sram, (p.src.0 as u64, src_len), (p.dst.0 as u64, dst_len), &mut copied)?;
    let src = <[i8]>::ref_from_bytes(src).map_err(|_| "int8 pool input view")?;
    if plane_out == 0 {
        return Ok(());
    }
    let pool = Pool {
        kind: p.kind,
        kernel: p.kernel.map(usize::from),
        strides: p.stride.map(usize::from),
        pads: p.pads.map(usize::from),
    };
    let k = Kernel::new(pool, q, [h, w], [oh, ow]);
    // An empty input plane still has (all-padding) outputs: give each output plane an empty input plane.
    let planes_in: Vec<&[i8]> =
        if plane_in == 0 { vec![&[][..]; p.c as usize] } else { src.chunks(plane_in).collect() };
    if src.len() < par_threshold() {
        k.planes(&planes_in, dst);
    } else {
        dst.par_chunks_mut(plane_out).zip(planes_in.par_iter()).for_each(|(d, s)| k.planes(std::slice::from_ref(s), d));
    }
    Ok(())
}

/// One command's pooling: the window geometry and the requantization.
struct Kernel {
    pool: Pool,
    q: PoolQuant,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    /// A max pool's output for each largest input byte `v` (at index `v + 128`): `output(v - x_zero, 1, q)`.
    max_table: [i8; 256],
    /// The in-bounds input columns `[x0, x1)` of each output column's window.
    cols: Vec<(usize, usize)>,
    /// The row taps' layout (`Phases`), unless its buffers would dwarf the planes (a hostile geometry).
    phases: Option<Phases>,
    /// An average's divisor per output (`Pool::divisor`), row-major, and the same as f64 (exact: at most
    /// `kh kw`); empty for a max pool.
    divs: Vec<u64>,
    divf: Vec<f64>,
    /// Whether every average of this command requantizes exactly in `average_lanes`' 64-bit and f64 form.
    lanes: bool,
}

/// A padded row of per-column maxima (or sums) and its `stride` phases: input column `x` at `pad + x` of the
/// row, the identity (`i8::MIN`, or 0 for sums) elsewhere, and phase `r` holding row positions `i * stride +
/// r`. Tap `kx` of output `ox` reads row position `ox * stride + kx`, which is phase `kx % stride` at `ox + kx /
/// stride`: every tap is one contiguous pass over the output row.
#[derive(Debug, Clone, Copy)]
struct Phases {
    stride: usize,
    pad: usize,
    kernel: usize,
    /// Length of each phase: `ow + (kernel - 1) / stride + 1`, so that every tap's `ow` positions fit.
    len: usize,
}

impl Phases {
    fn new(pool: &Pool, w: usize, ow: usize) -> Option<Phases> {
        let (stride, pad, kernel) = (pool.strides[1], pool.pads[1], pool.kernel[1]);
        let len = ow.checked_add((kernel - 1) / stride + 1)?;
        let p = Phases { stride, pad, kernel, len };
        (p.row_len()? <= (w + ow).saturating_mul(4).saturating_add(1 << 12)).then_some(p)
    }

    /// Length of the padded row: `(len + 1) * stride`, past every phase position and every tap.
    fn row_len(&self) -> Option<usize> {
        self.len.checked_add(1)?.checked_mul(self.stride)
    }

    /// Lays `vals` (one per input column) into the padded `row` (whose other positions hold the identity and
    /// are never written) and splits it into the phases `ph` (`stride x len`).
    #[inline(always)]
    fn fill<T: Copy>(&self, vals: &[T], row: &mut [T], ph: &mut [T]) {
        if let Some(dst) = row.get_mut(self.pad..) {
            let n = vals.len().min(dst.len());
            dst[..n].copy_from_slice(&vals[..n]);
        }
        if self.stride == 1 {
            ph.copy_from_slice(&row[..self.len]);
            return;
        }
        if self.stride == 2 {
            let (even, odd) = ph.split_at_mut(self.len);
            for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(row.chunks_exact(2)) {
                *e = pair[0];
                *o = pair[1];
            }
            return;
        }
        for (r, p) in ph.chunks_exact_mut(self.len).enumerate() {
            for (d, c) in p.iter_mut().zip(row[r..].chunks(self.stride)) {
                *d = c[0];
            }
        }
    }

    /// The `ow` values of tap `kx` in the phases.
    #[inline(always)]
    fn tap<'p, T>(&self, ph: &'p [T], kx: usize, ow: usize) -> &'p [T] {
        &ph[(kx % self.stride) * self.len + kx / self.stride..][..ow]
    }
}

impl Kernel {
    /// The kernel of `[h, w]` planes pooled into `[oh, ow]` ones.
    fn new(pool: Pool, q: PoolQuant, [h, w]: [usize; 2], [oh, ow]: [usize; 2]) -> Kernel {
        let max_table = std::array::from_fn(|i| output(i as i64 - 128 - q.x_zero as i64, 1, &q));
        let mut k = Kernel {
            pool,
            q,
            h,
            w,
            oh,
            ow,
            max_table,
            cols: Vec::new(),
            phases: None,
            divs: Vec::new(),
            divf: Vec::new(),
            lanes: false,
        };
        k.cols = (0..ow).map(|ox| k.span(ox, 1, w)).collect();
        k.phases = Phases::new(&k.pool, w, ow);
        if let PoolKind::Avg { .. } = k.pool.kind {
            k.divs = (0..oh)
                .flat_map(|oy| {
                    let (y0, y1) = k.span(oy, 0, h);
                    let k = &k;
                    k.cols
                        .iter()
                        .enumerate()
                        .map(move |(ox, &(x0, x1))| k.pool.divisor(h, w, oy, ox, (y1 - y0) * (x1 - x0)).max(1) as u64)
                })
                .collect();
            k.divf = k.divs.iter().map(|&d| d as f64).collect();
            k.lanes = lanes_exact(&k.pool, &k.q);
        }
        k
    }

    /// The in-bounds input positions `[lo, hi)` along `axis` (of length `len`) of output position `o`'s window,
    /// as `Pool::for_each_tap` visits them.
    fn span(&self, o: usize, axis: usize, len: usize) -> (usize, usize) {
        let start = (o * self.pool.strides[axis]) as i64 - self.pool.pads[axis] as i64;
        let lo = start.clamp(0, len as i64) as usize;
        let hi = (start + self.pool.kernel[axis] as i64).clamp(0, len as i64) as usize;
        (lo, hi.max(lo))
    }

    /// Planes `srcs` (each `h x w`, or empty when the input has no elements) into `d` (`oh x ow` each).
    fn planes(&self, srcs: &[&[i8]], d: &mut [u8]) {
        dispatch(Planes { k: self, srcs, d, rows: true });
    }

    /// `planes` one output at a time across each row (the form hostile geometries take), for tests.
    #[cfg(test)]
    fn planes_per_output(&self, srcs: &[&[i8]], d: &mut [u8]) {
        dispatch(Planes { k: self, srcs, d, rows: false });
    }
}

/// Planes of a command (`d`: one `oh x ow` plane per input plane of `srcs`), compiled per instruction set, their
/// buffers allocated once. Separably: per output row, the maxima (or sums) of
/// its window's in-bounds input rows for every column, in one pass over those rows; then across the row, with
/// `rows` and the `Phases` layout one pass per tap over the padded row's phases (then the requantization in
/// lanes where `Kernel::lanes`), else per output over its in-bounds columns. The same taps as
/// `Pool::for_each_tap`: a max is order-free, the identity changes no maximum or sum, and the sums are exact.
struct Planes<'a> {
    k: &'a Kernel,
    srcs: &'a [&'a [i8]],
    d: &'a mut [u8],
    rows: bool,
}

impl Simd for Planes<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let Planes { k, srcs, d: all, rows } = self;
        let (w, ow) = (k.w, k.ow);
        let plane_out = (k.oh * ow).max(1);
        let phases = k.phases.filter(|_| rows);
        // Buffers of the padded row and its phases (empty without `phases`).
        let sizes = phases.map_or((0, 0), |p| (p.row_len().unwrap_or(0), p.stride * p.len));
        match k.pool.kind {
            PoolKind::Max => {
                let mut maxes = vec![0i8; w];
                let (mut row, mut ph, mut best) = (vec![i8::MIN; sizes.0], vec![i8::MIN; sizes.1], vec![i8::MIN; ow]);
                for ((oy, drow), s) in output_rows(all, srcs, plane_out, ow) {
                    let (y0, y1) = k.span(oy, 0, k.h);
                    // Empty when the window has no in-bounds row (or the plane no elements).
                    let rows = s.get(y0 * w..y1 * w).unwrap_or(&[]);
                    if rows.is_empty() {
                        drow.fill(i8::MIN as u8);
                        continue;
                    }
                    let (first, rest) = rows.split_at(w);
                    maxes.copy_from_slice(first);
                    for r in rest.chunks_exact(w) {
                        for (m, &v) in maxes.iter_mut().zip(r) {
                            *m = (*m).max(v);
                        }
                    }
                    let Some(p) = phases else {
                        for (o, &(x0, x1)) in drow.iter_mut().zip(&k.cols) {
                            *o = match maxes[x0..x1].iter().copied().max() {
                                Some(max) => k.max_table[(max as i16 + 128) as usize] as u8,
                                // No in-bounds tap.
                                None => i8::MIN as u8,
                            };
                        }
                        continue;
                    };
                    p.fill(&maxes, &mut row, &mut ph);
                    best.copy_from_slice(p.tap(&ph, 0, ow));
                    for kx in 1..p.kernel {
                        for (b, &v) in best.iter_mut().zip(p.tap(&ph, kx, ow)) {
                            *b = (*b).max(v);
                        }
                    }
                    for ((o, &b), &(x0, x1)) in drow.iter_mut().zip(&best).zip(&k.cols) {
                        *o = if x0 == x1 { i8::MIN as u8 } else { k.max_table[(b as u8 ^ 0x80) as usize] as u8 };
                    }
                }
            }
            PoolKind::Avg { .. } => {
                let xz = k.q.x_zero as i64;
                if let (Some(p), true) = (phases, k.lanes) {
                    return avg_lanes(k, p, srcs, all, sizes);
                }
                let mut sums = vec![0i32; w];
                let (mut row, mut ph, mut acc) = (vec![0i64; sizes.0], vec![0i64; sizes.1], vec![0i64; ow]);
                for ((oy, drow), s) in output_rows(all, srcs, plane_out, ow) {
                    let (y0, y1) = k.span(oy, 0, k.h);
                    let rows = s.get(y0 * w..y1 * w).unwrap_or(&[]);
                    let divs = &k.divs[oy * ow..][..ow];
                    // Column sums of at most 65535 rows of bytes: exact in i32.
                    sums.fill(0);
                    for r in rows.chunks_exact(w.max(1)) {
                        for (a, &v) in sums.iter_mut().zip(r) {
                            *a += v as i32;
                        }
                    }
                    let Some(p) = phases else {
                        for (ox, (o, &(x0, x1))) in drow.iter_mut().zip(&k.cols).enumerate() {
                            let count = (y1 - y0) * (x1 - x0);
                            let raw: i64 = if count == 0 { 0 } else { sums[x0..x1].iter().map(|&v| v as i64).sum() };
                            *o = average(raw - count as i64 * xz, divs[ox], &k.q) as u8;
                        }
                        continue;
                    };
                    let wide: Vec<i64> = sums.iter().map(|&v| v as i64).collect();
                    p.fill(&wide, &mut row, &mut ph);
                    acc.copy_from_slice(p.tap(&ph, 0, ow));
                    for kx in 1..p.kernel {
                        for (a, &v) in acc.iter_mut().zip(p.tap(&ph, kx, ow)) {
                            *a += v;
                        }
                    }
                    let ycount = (y1 - y0) as i64;
                    for (((o, &a), &(x0, x1)), &div) in drow.iter_mut().zip(&acc).zip(&k.cols).zip(divs) {
                        *o = average(a - ycount * (x1 - x0) as i64 * xz, div, &k.q) as u8;
                    }
                }
            }
        }
    }
}

/// Every output row of every plane (`plane_out` bytes of `all` each, rows `ow` wide) with its index in the
/// plane and its plane's input.
fn output_rows<'a>(
    all: &'a mut [u8],
    srcs: &'a [&'a [i8]],
    plane_out: usize,
    ow: usize,
) -> impl Iterator<Item = ((usize, &'a mut [u8]), &'a [i8])> {
    all.chunks_mut(plane_out).zip(srcs).flat_map(move |(d, &s)| d.chunks_mut(ow).enumerate().zip(std::iter::repeat(s)))
}

/// An average pool's plane where `Kernel::lanes` holds: the window sums of `x - x_zero` (the identity 0 at
/// padding) are exact in i32, so the rows, the taps and the requantization (`average_lanes`) all vectorize.
#[inline(always)]
fn avg_lanes(k: &Kernel, p: Phases, srcs: &[&[i8]], all: &mut [u8], (row_len, ph_len): (usize, usize)) {
    let (w, ow) = (k.w, k.ow);
    let plane_out = (k.oh * ow).max(1);
    let (xz, mult, yz) = (k.q.x_zero, k.q.mult as i64, k.q.y_zero as i64);
    let t = (31 - k.q.shift.clamp(-31, 30)) as u32;
    let (mut sums, mut row, mut ph, mut acc) = (vec![0i32; w], vec![0i32; row_len], vec![0i32; ph_len], vec![0i32; ow]);
    for ((oy, drow), s) in output_rows(all, srcs, plane_out, ow) {
        let (y0, y1) = k.span(oy, 0, k.h);
        let rows = s.get(y0 * w..y1 * w).unwrap_or(&[]);
        let (divs, divf) = (&k.divs[oy * ow..][..ow], &k.divf[oy * ow..][..ow]);
        sums.fill(0);
        for r in rows.chunks_exact(w.max(1)) {
            for (a, &v) in sums.iter_mut().zip(r) {
                *a += v as i32 - xz;
            }
        }
        p.fill(&sums, &mut row, &mut ph);
        acc.copy_from_slice(p.tap(&ph, 0, ow));
        for kx in 1..p.kernel {
            for (a, &v) in acc.iter_mut().zip(p.tap(&ph, kx, ow)) {
                *a += v;
            }
        }
        for (((o, &a), &div), &df) in drow.iter_mut().zip(&acc).zip(divs).zip(divf) {
            *o = average_lanes(a, (div, df), mult, t, yz) as u8;
        }
    }
}

/// Whether `avg_lanes` is exact for every average of `pool` with `q`: with at most `kh kw` taps (and a
/// divisor at most that), a window's sum of `x - x_zero` is at most `kh kw (128 + |x_zero|)` in magnitude, which
/// must be below `2^31` (every partial sum is then exact in i32), and its product with the multiplier plus the
/// rounding term `div 2^(t - 1)` below `2^62`, the numerator shifted by `t` below `2^52` (so that it and the
/// divisor are exact f64 and the f64 quotient truncates to the floor, as `floor_div` shows).
fn lanes_exact(pool: &Pool, q: &PoolQuant) -> bool {
    let taps = (pool.kernel[0] as u128).saturating_mul(pool.kernel[1] as u128);
    let t = (31 - q.shift.clamp(-31, 30)) as u32;
    let sum = taps.saturating_mul(128 + q.x_zero.unsigned_abs() as u128);
    let num = sum.saturating_mul(q.mult.unsigned_abs() as u128).saturating_add(taps.saturating_mul(1 << (t - 1)));
    sum < 1 << 31 && num < 1 << 62 && num >> t < 1 << 52
}

/// `average` where `lanes_exact` holds, without branches or 128-bit arithmetic, so that a row of outputs
/// vectorizes: the same nested floor division `((|p| + div 2^(t-1)) >> t) / div`, the quotient in f64 from
/// integers below `2^52` (the numerator converted by its bits, exact: `x | 2^52`'s bits are `2^52 + x`; the
/// divisor `div` given also as `div_f64`, its exact value).
#[inline(always)]
fn average_lanes(sum: i32, (div, div_f64): (u64, f64), mult: i64, t: u32, y_zero: i64) -> i8 {
    const TWO52: f64 = 4_503_599_627_370_496.0;
    let p = sum as i64 * mult;
    let num = (p.unsigned_abs() + (div << (t - 1))) >> t;
    let n = f64::from_bits(num | TWO52.to_bits()) - TWO52;
    let mag = ((n / div_f64).floor() + TWO52).to_bits() as i64 & ((1 << 52) - 1);
    let r = if p < 0 { -mag } else { mag };
    (y_zero + r).clamp(-128, 127) as i8
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
