//! The runs of one DMA copy (`Copy3`) between two memories, bounds-checked once per copy and walked with plain
//! offsets, and the copy of one run. Schedules of small work items move ~10^6 runs per frame, many of a few
//! dozen bytes: checking and slicing each run with `Result`s cost more than copying it. Runs that lie back to
//! back on both sides are walked as one longer run (the same bytes in the same order). Only the byte moves
//! are here; which memories a command touches is `apply`'s business.
use accel_ops::command::Copy3;

/// Where a copy's runs lie in one memory: run `(i2, i1)` starts at `base + i2 * s2 + i1 * s1`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Side {
    pub(super) base: u64,
    pub(super) s1: u64,
    pub(super) s2: u64,
}

impl Side {
    /// The DRAM side of `c`, from `base`.
    pub(super) fn dram(c: &Copy3, base: u64) -> Side {
        Side { base, s1: c.dram_stride1, s2: c.dram_stride2 }
    }

    /// The SRAM side of `c`, from `base`.
    pub(super) fn sram(c: &Copy3, base: u64) -> Side {
        Side { base, s1: c.sram_stride1 as u64, s2: c.sram_stride2 as u64 }
    }

    /// The runs of `c` packed back to back from `base` (a parked store's bytes).
    pub(super) fn packed(c: &Copy3, base: u64) -> Side {
        let s1 = c.len as u64;
        Side { base, s1, s2: s1.saturating_mul(c.n1 as u64) }
    }
}

/// The runs of a copy as (offset in memory `a`, offset in memory `b`) pairs, every one inside both memories.
#[derive(Debug, Clone, Copy)]
pub(super) struct Runs {
    /// Bytes per run (0: no runs).
    pub(super) len: usize,
    n1: usize,
    n2: usize,
    a: [usize; 3],
    b: [usize; 3],
}

/// The end of the last run of `n2 x n1` runs of `len` bytes on `side`, if it is within `size` bytes.
fn fits(side: &Side, len: u64, n1: u64, n2: u64, size: usize) -> Result<[usize; 3], String> {
    let end = (n2 - 1)
        .checked_mul(side.s2)
        .and_then(|o| o.checked_add((n1 - 1).checked_mul(side.s1)?))
        .and_then(|o| o.checked_add(side.base)?.checked_add(len));
    match end {
        // Every offset of a run start is below `end <= size`, so it fits in usize, and so do the strides
        // that lead to one (a stride only matters when its count is above 1).
        Some(end) if end <= size as u64 => Ok([
            side.base as usize,
            if n1 > 1 { side.s1 as usize } else { 0 },
            if n2 > 1 { side.s2 as usize } else { 0 },
        ]),
        _ => Err(format!(
            "copy of {n2}x{n1}x{len}B at {:#x} (strides {}/{}) is outside a memory of {size} bytes",
            side.base, side.s2, side.s1
        )),
    }
}

impl Runs {
    /// The runs of `c` from side `a` (in a memory of `a_size` bytes) to side `b` (`b_size`); an error if any
    /// byte of any run would lie outside its memory.
    pub(super) fn new(c: &Copy3, a: Side, a_size: usize, b: Side, b_size: usize) -> Result<Runs, String> {
        let (len, n1, n2) = (c.len as u64, c.n1 as u64, c.n2 as u64);
        if len == 0 || n1 == 0 || n2 == 0 {
            return Ok(Runs { len: 0, n1: 0, n2: 0, a: [0; 3], b: [0; 3] });
        }
        let (a, b) = (fits(&a, len, n1, n2, a_size)?, fits(&b, len, n1, n2, b_size)?);
        // Everything checked is in usize now; merging runs only shortens the walk over the same bytes.
        let (mut r, mut len) = (Runs { len: 0, n1: n1 as usize, n2: n2 as usize, a, b }, len as usize);
        let joins = |r: &Runs, len: usize| r.n1 == 1 || (r.a[1] == len && r.b[1] == len);
        if joins(&r, len) {
            // Back to back (or a single run): the inner runs are one; the outer ones become the inner ones.
            len *= r.n1;
            (r.n1, r.a[1], r.b[1], r.n2, r.a[2], r.b[2]) = (r.n2, r.a[2], r.b[2], 1, 0, 0);
            if joins(&r, len) {
                len *= r.n1;
                (r.n1, r.a[1], r.b[1]) = (1, 0, 0);
            }
        }
        r.len = len;
        Ok(r)
    }

    /// Calls `f(offset in a, offset in b)` for every run, in the copy's order.
    #[inline]
    pub(super) fn for_each(&self, mut f: impl FnMut(usize, usize)) {
        if self.len == 0 {
            return;
        }
        let ([a0, a1, a2], [b0, b1, b2]) = (self.a, self.b);
        for i2 in 0..self.n2 {
            let (mut a, mut b) = (a0 + i2 * a2, b0 + i2 * b2);
            for _ in 0..self.n1 {
                f(a, b);
                // Past the last run these may exceed the memory; they are not used then.
                (a, b) = (a.wrapping_add(a1), b.wrapping_add(b1));
            }
        }
    }

    /// Copies every run from `src` (memory `a`) to `dst` (memory `b`); the sizes were checked by `new`.
    pub(super) fn copy(&self, src: &[u8], dst: &mut [u8]) {
        let len = self.len;
        self.for_each(|a, b| copy_run(&mut dst[b..b + len], &src[a..a + len]));
    }
}

/// Copies one DMA run: in 64-byte pieces of fixed size (inlined moves), the last piece overlapping the one
/// before (the same bytes written twice), and short runs as two overlapping fixed-size moves, since runs are
/// often a few dozen bytes and a `memcpy` call or a byte loop per run would cost more than the copy.
#[inline]
pub(super) fn copy_run(dst: &mut [u8], src: &[u8]) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    if n >= 4096 {
        return dst.copy_from_slice(src);
    }
    /// `dst[..N] = src[..N]` and `dst[n - N..] = src[n - N..]`, for `N <= n <= 2N`.
    #[inline(always)]
    fn ends<const N: usize>(dst: &mut [u8], src: &[u8]) {
        let n = dst.len();
        for at in [0, n - N] {
            let s: &[u8; N] = src[at..at + N].try_into().unwrap_or(&[0; N]);
            dst[at..at + N].copy_from_slice(s);
        }
    }
    match n {
        64.. => {
            let mut d = dst.chunks_exact_mut(64);
            let mut s = src.chunks_exact(64);
            for (d, s) in (&mut d).zip(&mut s) {
                let s: &[u8; 64] = s.try_into().unwrap_or(&[0; 64]);
                d.copy_from_slice(s);
            }
            if !s.remainder().is_empty() {
                let s: &[u8; 64] = src[n - 64..].try_into().unwrap_or(&[0; 64]);
                dst[n - 64..].copy_from_slice(s);
            }
        }
        32.. => ends::<32>(dst, src),
        16.. => ends::<16>(dst, src),
        8.. => ends::<8>(dst, src),
        4.. => ends::<4>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

#[cfg(test)]
mod tests {
    use super::{copy_run, Runs, Side};
    use accel_ops::command::Copy3;

    /// Every run length up to past the `memcpy` threshold, at odd offsets: exactly the source bytes, nothing
    /// outside the run touched.
    #[test]
    fn copy_run_copies_every_length_exactly() {
        let src: Vec<u8> = (0..5000u32).map(|i| (i * 7 + 3) as u8).collect();
        for n in (0..300).chain([4095, 4096, 4097]) {
            let mut dst = vec![0xeeu8; n + 10];
            copy_run(&mut dst[3..3 + n], &src[5..5 + n]);
            assert_eq!(&dst[3..3 + n], &src[5..5 + n], "length {n}");
            assert!(dst[..3].iter().chain(&dst[3 + n..]).all(|&b| b == 0xee), "length {n} wrote outside");
        }
    }

    /// The copy a run at a time with checked offsets, as the walk must equal: later runs overwrite earlier ones.
    fn reference(c: &Copy3, a: Side, src: &[u8], b: Side, dst: &mut [u8]) -> Result<(), ()> {
        let at = |s: &Side, i2: u64, i1: u64| {
            i2.checked_mul(s.s2)?.checked_add(i1.checked_mul(s.s1)?)?.checked_add(s.base).map(|o| o as usize)
        };
        let len = c.len as usize;
        if len == 0 {
            return Ok(());
        }
        // Checked first, as `Runs::new` does: a copy that does not fit writes nothing.
        let mut pairs = Vec::new();
        for i2 in 0..c.n2 as u64 {
            for i1 in 0..c.n1 as u64 {
                let (x, y) = (at(&a, i2, i1).ok_or(())?, at(&b, i2, i1).ok_or(())?);
                if x + len > src.len() || y + len > dst.len() {
                    return Err(());
                }
                pairs.push((x, y));
            }
        }
        for (x, y) in pairs {
            dst[y..y + len].copy_from_slice(&src[x..x + len]);
        }
        Ok(())
    }

    /// Copies of every small shape, with back-to-back, strided, overlapping and zero strides on either side,
    /// in range and not: the walk (merging runs where it can) writes exactly what run-by-run copies write, and
    /// refuses exactly the copies that leave a memory.
    #[test]
    fn runs_equal_a_run_by_run_copy() {
        let src: Vec<u8> = (0..700u32).map(|i| (i * 31 + 7) as u8).collect();
        let mut checked = 0;
        for len in [0u32, 1, 3, 4, 8, 28, 64, 65] {
            for (n1, n2) in [(0, 2), (1, 1), (1, 3), (3, 1), (2, 3), (4, 2)] {
                let l = len as u64;
                let strides = [(l, l * n1 as u64), (l + 5, 3 * l + 20), (0, l), (l, 0), (l, l * n1 as u64 + 1)];
                for ((s1, s2), (t1, t2)) in strides.iter().flat_map(|&d| strides.map(|s| (d, s))) {
                    for (base_a, base_b) in [(0, 0), (7, 3), (600, 0)] {
                        let c = Copy3 {
                            len,
                            n1,
                            dram_stride1: s1,
                            sram_stride1: t1 as u32,
                            n2,
                            dram_stride2: s2,
                            sram_stride2: t2 as u32,
                        };
                        let (a, b) = (Side::dram(&c, base_a), Side::sram(&c, base_b));
                        let mut want = vec![0xaau8; 400];
                        let ok = reference(&c, a, &src, b, &mut want);
                        let mut got = vec![0xaau8; 400];
                        match Runs::new(&c, a, src.len(), b, got.len()) {
                            Ok(r) => r.copy(&src, &mut got),
                            Err(_) => assert!(ok.is_err(), "{c:?} from {base_a} to {base_b} refused"),
                        }
                        assert_eq!(ok.is_ok(), Runs::new(&c, a, src.len(), b, 400).is_ok(), "{c:?}");
                        assert_eq!(got, want, "{c:?} from {base_a} to {base_b}");
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 8 * 6 * 25 * 3);
    }

    /// Back-to-back runs become one run; a stride on either side keeps them apart.
    #[test]
    fn back_to_back_runs_are_walked_as_one() {
        let c = |s1: u64, t1: u32| Copy3 {
            len: 8,
            n1: 4,
            dram_stride1: s1,
            sram_stride1: t1,
            n2: 3,
            dram_stride2: 32,
            sram_stride2: 32,
        };
        let runs = |c: Copy3| {
            let r = Runs::new(&c, Side::dram(&c, 0), 1000, Side::sram(&c, 0), 1000).expect("fits");
            let mut n = 0;
            r.for_each(|_, _| n += 1);
            (n, r.len)
        };
        assert_eq!(runs(c(8, 8)), (1, 96));
        assert_eq!(runs(c(8, 16)), (12, 8));
        assert_eq!(runs(c(16, 8)), (12, 8));
    }
}
