//! The simulator's only `unsafe` code, each piece behind a safe, checked API: the wrapper around
//! `matrixmultiply::sgemm` (an `unsafe fn` over raw pointers) that proves every element it can touch lies in
//! the slices it was given; the CPU-feature dispatch (`dispatch`) that runs a safe kernel body compiled for
//! AVX-512 or AVX2 once the CPU has been seen to support it; and the microkernels in AVX-512 intrinsics, the
//! f32 FMA tile of the packed convolution GEMM (and its half-width twin), the channel-lane f32 tile (B read
//! unchecked after one bounds check per tile) and the 16 x 16 transposition of the channel-lane GEMM's output
//! (rows checked once per block). The INT8 microkernels are in `gemm_i8.rs`; nothing else in `sim` uses
//! `unsafe`.
#![allow(unsafe_code)]

/// A row-major `rows x cols` view of `data`; row `r` starts at `r * ld`.
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub ld: usize,
}

/// A mutable row-major view, as `MatRef`.
pub struct MatMut<'a> {
    pub data: &'a mut [f32],
    pub rows: usize,
    pub cols: usize,
    pub ld: usize,
}

/// Whether a `rows x cols` view with leading dimension `ld` fits in `len` elements (rows do not overlap).
fn fits(rows: usize, cols: usize, ld: usize, len: usize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    if ld < cols || ld > isize::MAX as usize {
        return false;
    }
    (rows - 1).checked_mul(ld).and_then(|x| x.checked_add(cols)).is_some_and(|end| end <= len)
}

/// `c = a * b + beta * c` (with `beta == 0`, `c` is only written, never read: it may hold anything).
/// Errors (never panics) when the shapes disagree or a view does not fit its slice.
pub fn gemm(a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>, beta: f32) -> Result<(), String> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k || c.rows != m || c.cols != n {
        return Err(format!("gemm shapes disagree: {m}x{k} * {}x{n} -> {}x{}", b.rows, c.rows, c.cols));
    }
    if !fits(a.rows, a.cols, a.ld, a.data.len())
        || !fits(b.rows, b.cols, b.ld, b.data.len())
        || !fits(c.rows, c.cols, c.ld, c.data.len())
    {
        return Err("gemm view exceeds its buffer".into());
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        for row in c.data.chunks_mut(c.ld).take(m) {
            for v in row.iter_mut().take(n) {
                *v = if beta == 0.0 { 0.0 } else { *v * beta };
            }
        }
        return Ok(());
    }
    // SAFETY: `fits` proved that for every i < m, p < k, j < n the offsets i*lda+p, p*ldb+j and i*ldc+j are
    // inside `a.data`, `b.data` and `c.data` respectively (all strides are non-negative and <= isize::MAX, so
    // the casts are exact). `c.data` is a unique borrow, so it aliases neither input, and rows of C do not
    // overlap because ldc >= n. The pointers stay valid for the whole call, which does not retain them.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.data.as_ptr(),
            a.ld as isize,
            1,
            b.data.as_ptr(),
            b.ld as isize,
            1,
            beta,
            c.data.as_mut_ptr(),
            c.ld as isize,
            1,
        );
    }
    Ok(())
}

/// A kernel body to compile once per instruction set: `run` must be `#[inline(always)]` and safe code only,
/// so that inlined into `dispatch`'s feature-enabled copies it is auto-vectorized for the wider vectors.
pub trait Simd {
    type Output;
    fn run(self) -> Self::Output;
}

/// The instruction-set level `dispatch` picks on this CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    Baseline,
    Avx2,
    Avx512,
}

/// The best level this CPU supports (detected once).
pub fn isa() -> Isa {
    static ISA: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
    *ISA.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return Isa::Avx2;
            }
        }
        Isa::Baseline
    })
}

/// Runs `k` compiled for the widest instruction set the CPU supports. Results are the same on every level
/// (the bodies use no fused multiply-add unless they ask for it with `mul_add`): only the speed differs.
pub fn dispatch<K: Simd>(k: K) -> K::Output {
    #[cfg(target_arch = "x86_64")]
    match isa() {
        // SAFETY: `isa` saw the CPU report every feature `with_avx512` enables.
        #[cfg(accel_avx512)]
        Isa::Avx512 => return unsafe { with_avx512(k) },
        // SAFETY: AVX-512 implies AVX2 and FMA, all that `with_avx2` enables.
        #[cfg(not(accel_avx512))]
        Isa::Avx512 => return unsafe { with_avx2(k) },
        // SAFETY: `isa` saw the CPU report every feature `with_avx2` enables.
        Isa::Avx2 => return unsafe { with_avx2(k) },
        Isa::Baseline => {}
    }
    k.run()
}

// Compiled only where the AVX-512 target features are stable (`build.rs`), above the workspace's MSRV.
#[cfg(all(target_arch = "x86_64", accel_avx512))]
#[allow(clippy::incompatible_msrv)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
fn with_avx512<K: Simd>(k: K) -> K::Output {
    k.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn with_avx2<K: Simd>(k: K) -> K::Output {
    k.run()
}

/// Rows of the f32 microkernel's output tile.
pub const F_MR: usize = 8;
/// Columns of the f32 microkernel's output tile.
pub const F_NR: usize = 32;

/// An f32 output tile of `rows <= F_MR` rows and `cols <= F_NR` columns at `c[r * ldc + j]`.
pub struct Tile<'a> {
    pub c: &'a mut [f32],
    pub ldc: usize,
    pub rows: usize,
    pub cols: usize,
    /// Add to what `c` holds (`false`: overwrite it).
    pub accumulate: bool,
}

/// The operands of one f32 tile: `kc = offs.len()` steps; A as `F_MR` row slices (step `p` of row `r` is
/// `a[r][p]`), B as rows of `F_NR` values anywhere in `b` (step `p` is `b[offs[p]..][..F_NR]`).
#[derive(Clone, Copy)]
pub struct Panels<'a> {
    pub a: [&'a [f32]; F_MR],
    pub b: &'a [f32],
    pub offs: &'a [usize],
}

impl Panels<'_> {
    /// Whether every step the tile reads lies inside the slices.
    pub fn fits(&self) -> bool {
        let kc = self.offs.len();
        self.a.iter().all(|r| r.len() >= kc)
            && self.offs.iter().all(|&o| o.checked_add(F_NR).is_some_and(|e| e <= self.b.len()))
    }
}

/// `tile (+)= sum_p a[r][p] * b[p][j]` with the AVX-512 FMA kernel when the CPU has it. `None`: no AVX-512, the
/// caller runs its portable loop (which agrees within f32 rounding); `Some(false)`: an operand or the tile does
/// not fit its slice (checked step by step, the tile is then incomplete); `Some(true)`: done.
pub fn f32_tile(ops: &Panels<'_>, t: &mut Tile<'_>) -> Option<bool> {
    if isa() != Isa::Avx512 {
        return None;
    }
    let kc = ops.offs.len();
    let fits = t.rows <= F_MR
        && t.cols <= F_NR
        && ops.a.iter().all(|r| r.len() >= kc)
        && (t.rows == 0
            || (t.rows - 1).checked_mul(t.ldc).and_then(|e| e.checked_add(t.cols)).is_some_and(|e| e <= t.c.len()));
    if !fits {
        return Some(false);
    }
    #[cfg(all(target_arch = "x86_64", accel_avx512))]
    // SAFETY: `isa` saw the CPU report avx512f and fma, all that `tile_avx512` and `half_tile_avx512` enable.
    return Some(unsafe {
        // A last panel of at most 16 columns needs only one vector per row: half the multiply-adds.
        if t.cols <= F_NR / 2 {
            half_tile_avx512(ops, t)
        } else {
            tile_avx512(ops, t)
        }
    });
    #[cfg(not(all(target_arch = "x86_64", accel_avx512)))]
    None
}

#[cfg(all(target_arch = "x86_64", accel_avx512))]
#[allow(clippy::incompatible_msrv)]
#[target_feature(enable = "avx512f,fma")]
fn tile_avx512(ops: &Panels<'_>, t: &mut Tile<'_>) -> bool {
    use std::arch::x86_64::{__m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps};
    use std::arch::x86_64::{_mm512_setzero_ps, _mm512_storeu_ps};
    let kc = ops.offs.len();
    let [a0, a1, a2, a3, a4, a5, a6, a7] = ops.a.map(|r| &r[..kc]);
    // Sixteen named accumulators: an array here would live on the stack, not in registers.
    let z = _mm512_setzero_ps();
    let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21, mut c30, mut c31) = (z, z, z, z, z, z, z, z);
    let (mut c40, mut c41, mut c50, mut c51, mut c60, mut c61, mut c70, mut c71) = (z, z, z, z, z, z, z, z);
    for (p, &off) in ops.offs.iter().enumerate() {
        let Some(bp) = ops.b.get(off..off + F_NR) else { return false };
        let (lo, hi) = bp.split_at(16);
        // SAFETY: `lo` and `hi` are exactly 16 f32 each (a 32-element slice split in half), what an unaligned
        // 512-bit load reads.
        let (b0, b1) = unsafe { (_mm512_loadu_ps(lo.as_ptr()), _mm512_loadu_ps(hi.as_ptr())) };
        macro_rules! row {
            ($a:ident, $x:ident, $y:ident) => {
                let av = _mm512_set1_ps($a[p]);
                $x = _mm512_fmadd_ps(av, b0, $x);
                $y = _mm512_fmadd_ps(av, b1, $y);
            };
        }
        row!(a0, c00, c01);
        row!(a1, c10, c11);
        row!(a2, c20, c21);
        row!(a3, c30, c31);
        row!(a4, c40, c41);
        row!(a5, c50, c51);
        row!(a6, c60, c61);
        row!(a7, c70, c71);
    }
    let c: [[__m512; 2]; F_MR] =
        [[c00, c01], [c10, c11], [c20, c21], [c30, c31], [c40, c41], [c50, c51], [c60, c61], [c70, c71]];
    for (r, cr) in c.iter().enumerate().take(t.rows) {
        let Some(row) = t.c.get_mut(r * t.ldc..r * t.ldc + t.cols) else { return false };
        if let Ok(row) = <&mut [f32; F_NR]>::try_from(&mut *row) {
            let (lo, hi) = row.split_at_mut(16);
            // SAFETY: `lo` and `hi` are exactly 16 f32 each (a 32-element array split in half), what an
            // unaligned 512-bit load or store touches.
            unsafe {
                let (mut v0, mut v1) = (cr[0], cr[1]);
                if t.accumulate {
                    v0 = _mm512_add_ps(_mm512_loadu_ps(lo.as_ptr()), v0);
                    v1 = _mm512_add_ps(_mm512_loadu_ps(hi.as_ptr()), v1);
                }
                _mm512_storeu_ps(lo.as_mut_ptr(), v0);
                _mm512_storeu_ps(hi.as_mut_ptr(), v1);
            }
        } else {
            let mut full = [0f32; F_NR];
            let (lo, hi) = full.split_at_mut(16);
            // SAFETY: as above, 16 f32 each.
            unsafe {
                _mm512_storeu_ps(lo.as_mut_ptr(), cr[0]);
                _mm512_storeu_ps(hi.as_mut_ptr(), cr[1]);
            }
            for (d, v) in row.iter_mut().zip(full) {
                *d = if t.accumulate { *d + v } else { v };
            }
        }
    }
    true
}

/// `tile_avx512` for tiles of at most 16 columns: the first 16 columns of each B step, one accumulator per row
/// (the same sums, in the same order, for the columns it keeps).
#[cfg(all(target_arch = "x86_64", accel_avx512))]
#[allow(clippy::incompatible_msrv)]
#[target_feature(enable = "avx512f,fma")]
fn half_tile_avx512(ops: &Panels<'_>, t: &mut Tile<'_>) -> bool {
    use std::arch::x86_64::{__m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps};
    use std::arch::x86_64::{_mm512_setzero_ps, _mm512_storeu_ps};
    const H: usize = F_NR / 2;
    let kc = ops.offs.len();
    let [a0, a1, a2, a3, a4, a5, a6, a7] = ops.a.map(|r| &r[..kc]);
    let z = _mm512_setzero_ps();
    let (mut c0, mut c1, mut c2, mut c3, mut c4, mut c5, mut c6, mut c7) = (z, z, z, z, z, z, z, z);
    for (p, &off) in ops.offs.iter().enumerate() {
        let Some(bp) = ops.b.get(off..off + H) else { return false };
        // SAFETY: `bp` is exactly 16 f32, what an unaligned 512-bit load reads.
        let b0 = unsafe { _mm512_loadu_ps(bp.as_ptr()) };
        c0 = _mm512_fmadd_ps(_mm512_set1_ps(a0[p]), b0, c0);
        c1 = _mm512_fmadd_ps(_mm512_set1_ps(a1[p]), b0, c1);
        c2 = _mm512_fmadd_ps(_mm512_set1_ps(a2[p]), b0, c2);
        c3 = _mm512_fmadd_ps(_mm512_set1_ps(a3[p]), b0, c3);
        c4 = _mm512_fmadd_ps(_mm512_set1_ps(a4[p]), b0, c4);
        c5 = _mm512_fmadd_ps(_mm512_set1_ps(a5[p]), b0, c5);
        c6 = _mm512_fmadd_ps(_mm512_set1_ps(a6[p]), b0, c6);
        c7 = _mm512_fmadd_ps(_mm512_set1_ps(a7[p]), b0, c7);
    }
    let c: [__m512; F_MR] = [c0, c1, c2, c3, c4, c5, c6, c7];
    for (r, &cr) in c.iter().enumerate().take(t.rows) {
        let Some(row) = t.c.get_mut(r * t.ldc..r * t.ldc + t.cols) else { return false };
        if let Ok(row) = <&mut [f32; H]>::try_from(&mut *row) {
            // SAFETY: `row` is exactly 16 f32, what an unaligned 512-bit load or store touches.
            unsafe {
                let v = if t.accumulate { _mm512_add_ps(_mm512_loadu_ps(row.as_ptr()), cr) } else { cr };
                _mm512_storeu_ps(row.as_mut_ptr(), v);
            }
        } else {
            let mut full = [0f32; H];
            // SAFETY: `full` is exactly 16 f32.
            unsafe { _mm512_storeu_ps(full.as_mut_ptr(), cr) };
            for (d, v) in row.iter_mut().zip(full) {
                *d = if t.accumulate { *d + v } else { v };
            }
        }
    }
    true
}

/// Output channels of the channel-lane f32 kernel's tile: two AVX-512 vectors.
pub const L_MR: usize = 32;
/// Most output positions of the channel-lane kernel's tile (each a broadcast B value): 28 accumulators, with
/// the two A vectors and a broadcast, all 32 registers. A row of a 14x14 plane, or two of a 7x7 one, is a tile.
pub const L_NP: usize = 14;

/// B of the channel-lane tiles over one k block, checked once: step `p` of B column `q` reads `b[offs[p] + q]`,
/// and every `offs[p] <= reach`.
#[derive(Clone, Copy)]
pub struct LaneB<'a> {
    b: &'a [f32],
    offs: &'a [usize],
    reach: usize,
}

impl<'a> LaneB<'a> {
    pub fn new(b: &'a [f32], offs: &'a [usize]) -> LaneB<'a> {
        LaneB { b, offs, reach: offs.iter().copied().max().unwrap_or(0) }
    }
}

/// The B columns of a channel-lane tile's `np` positions: a run of `first` from `start`, then (when `first <
/// np`) the other `np - first` from `start + pitch` on, the next row of the plane. Runs, not a list, so each
/// broadcast reads at a constant distance from the step's row: no offset table, no address arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LanePos {
    pub start: usize,
    pub first: usize,
    pub np: usize,
    pub pitch: usize,
}

impl LanePos {
    /// The furthest B column the tile reads, whatever the pitch (`None`: none, or it overflows).
    fn last(&self) -> Option<usize> {
        let first_run = self.start.checked_add(self.first.min(self.np).checked_sub(1)?)?;
        if self.first >= self.np {
            return Some(first_run);
        }
        let second_run = self.start.checked_add(self.pitch)?.checked_add(self.np - self.first - 1)?;
        Some(first_run.max(second_run))
    }
}

/// A transposed output tile of the channel-lane kernel: position `j` at `c[j * ldt..][..L_MR]` (`..L_MR / 2`
/// when `half`).
pub struct LaneTile<'a> {
    pub c: &'a mut [f32],
    pub ldt: usize,
    /// Add to what `c` holds (`false`: overwrite it).
    pub accumulate: bool,
    /// Only the first `L_MR / 2` channels (a last panel of at most 16): one vector per position, half the
    /// multiply-adds, the same sums for the channels it keeps.
    pub half: bool,
}

/// `tile[j][r] (+)= sum_p a[p * L_MR + r] * b[offs[p] + col(j)]` (A packed: step `p`'s `L_MR` channel weights
/// together; `col(j)` the B column of position `j`, see `LanePos`) with the AVX-512 FMA kernel. `None`: no
/// AVX-512 (the caller must take another path); `Some(false)`: an operand or the tile does not fit its slice, or
/// the positions are not one run of 1 to `L_NP` or two runs of the same length (nothing written); `Some(true)`:
/// done.
pub fn f32_lane_tile(a: &[f32], b: &LaneB<'_>, pos: LanePos, t: &mut LaneTile<'_>) -> Option<bool> {
    if isa() != Isa::Avx512 {
        return None;
    }
    let (kc, np) = (b.offs.len(), pos.np);
    let reach = pos.last().and_then(|q| q.checked_add(b.reach));
    let fits = (1..=L_NP).contains(&np)
        && (pos.first == np || pos.first * 2 == np)
        && kc.checked_mul(L_MR).is_some_and(|e| e <= a.len())
        && (kc == 0 || reach.is_some_and(|r| r < b.b.len()))
        && (np - 1).checked_mul(t.ldt).and_then(|e| e.checked_add(L_MR)).is_some_and(|e| e <= t.c.len());
    if !fits {
        return Some(false);
    }
    #[cfg(all(target_arch = "x86_64", accel_avx512))]
    // SAFETY: `isa` saw the CPU report avx512f and fma, all that `lane_tile` enables; `fits` proved every B index
    // `offs[p] + col(j) <= reach + last column` is below `b.len()`, as `lane_tile` requires, and that `(np,
    // first)` is one of the pairs below.
    return Some(unsafe {
        macro_rules! pick {
            ($(($np:literal, $first:literal)),*) => {
                match (np, pos.first, t.half) {
                    $(($np, $first, false) => lane_tile::<$np, $first, false>(a, b, pos, t),)*
                    $(($np, $first, true) => lane_tile::<$np, $first, true>(a, b, pos, t),)*
                    _ => false,
                }
            };
        }
        pick!(
            (1, 1),
            (2, 2),
            (3, 3),
            (4, 4),
            (5, 5),
            (6, 6),
            (7, 7),
            (8, 8),
            (9, 9),
            (10, 10),
            (11, 11),
            (12, 12),
            (13, 13),
            (14, 14),
            (2, 1),
            (4, 2),
            (6, 3),
            (8, 4),
            (10, 5),
            (12, 6),
            (14, 7)
        )
    });
    #[cfg(not(all(target_arch = "x86_64", accel_avx512)))]
    None
}

/// The channel-lane tile for exactly `NP` positions, the first `S` of them from `pos.start`, the others from
/// `pos.start + pos.pitch`; with `HALF`, only the first 16 channels. Callers must have checked that `offs[p] +
/// col(j) < b.len()` for every step and position: B is read unchecked in the inner loop.
#[cfg(all(target_arch = "x86_64", accel_avx512))]
#[allow(clippy::incompatible_msrv)]
#[target_feature(enable = "avx512f,fma")]
fn lane_tile<const NP: usize, const S: usize, const HALF: bool>(
    a: &[f32],
    lb: &LaneB<'_>,
    pos: LanePos,
    t: &mut LaneTile<'_>,
) -> bool {
    use std::arch::x86_64::{__m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps};
    use std::arch::x86_64::{_mm512_setzero_ps, _mm512_storeu_ps};
    let kc = lb.offs.len();
    let Some(a) = a.get(..kc * L_MR) else { return false };
    let b = lb.b;
    let (start0, start1) = (pos.start, pos.start.wrapping_add(pos.pitch));
    // Twenty-eight named accumulators (an array would live on the stack); those of positions past `NP` are
    // unused.
    let z = _mm512_setzero_ps();
    let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21, mut c30, mut c31) = (z, z, z, z, z, z, z, z);
    let (mut c40, mut c41, mut c50, mut c51, mut c60, mut c61, mut c70, mut c71) = (z, z, z, z, z, z, z, z);
    let (mut c80, mut c81, mut c90, mut c91, mut ca0, mut ca1, mut cb0, mut cb1) = (z, z, z, z, z, z, z, z);
    let (mut cc0, mut cc1, mut cd0, mut cd1) = (z, z, z, z);
    for (&off, ap) in lb.offs.iter().zip(a.chunks_exact(L_MR)) {
        let (lo, hi) = ap.split_at(16);
        // SAFETY: `lo` and `hi` are exactly 16 f32 each (a 32-element chunk split in half), what an unaligned
        // 512-bit load reads.
        let (a0, a1) = unsafe { (_mm512_loadu_ps(lo.as_ptr()), _mm512_loadu_ps(hi.as_ptr())) };
        let (r0, r1) = (off.wrapping_add(start0), off.wrapping_add(start1));
        macro_rules! col {
            ($j:literal, $x:ident, $y:ident) => {
                if NP > $j {
                    // `S` and `$j` are constants: one of the two indices is compiled, at a fixed distance from
                    // its row.
                    let i = if $j < S { r0.wrapping_add($j) } else { r1.wrapping_add(($j as usize).wrapping_sub(S)) };
                    // SAFETY: the caller checked `off + col(j) < b.len()` for every step and position.
                    let bv = _mm512_set1_ps(unsafe { *b.get_unchecked(i) });
                    $x = _mm512_fmadd_ps(a0, bv, $x);
                    if !HALF {
                        $y = _mm512_fmadd_ps(a1, bv, $y);
                    }
                }
            };
        }
        col!(0, c00, c01);
        col!(1, c10, c11);
        col!(2, c20, c21);
        col!(3, c30, c31);
        col!(4, c40, c41);
        col!(5, c50, c51);
        col!(6, c60, c61);
        col!(7, c70, c71);
        col!(8, c80, c81);
        col!(9, c90, c91);
        col!(10, ca0, ca1);
        col!(11, cb0, cb1);
        col!(12, cc0, cc1);
        col!(13, cd0, cd1);
    }
    let c: [[__m512; 2]; L_NP] = [
        [c00, c01],
        [c10, c11],
        [c20, c21],
        [c30, c31],
        [c40, c41],
        [c50, c51],
        [c60, c61],
        [c70, c71],
        [c80, c81],
        [c90, c91],
        [ca0, ca1],
        [cb0, cb1],
        [cc0, cc1],
        [cd0, cd1],
    ];
    for (j, cj) in c.iter().enumerate().take(NP) {
        let Some(row) = t.c.get_mut(j * t.ldt..j * t.ldt + if HALF { L_MR / 2 } else { L_MR }) else { return false };
        // Two halves of 16 channels, or the first alone with `HALF`.
        for (half, v) in row.chunks_exact_mut(16).zip([cj[0], cj[1]]) {
            let Ok(half) = <&mut [f32; 16]>::try_from(half) else { return false };
            // SAFETY: `half` is exactly 16 f32, what an unaligned 512-bit load or store touches.
            unsafe {
                let v = if t.accumulate { _mm512_add_ps(_mm512_loadu_ps(half.as_ptr()), v) } else { v };
                _mm512_storeu_ps(half.as_mut_ptr(), v);
            }
        }
    }
    true
}

/// `dst[c * ld_dst + j] = src[j * ld_src + c]` for `j < cols` and `c < rows` (both at most 16): the
/// channel-lane GEMM's transposed output back into rows, sixteen values a move instead of one, edge blocks
/// included (their `cols` positions stored under a mask; every source row is read 16 floats wide). `false`
/// (nothing written) without AVX-512, when a count is above 16, or when a row read or written does not fit its
/// slice: the caller then moves the values one by one.
pub fn transpose16(src: &[f32], ld_src: usize, cols: usize, dst: &mut [f32], ld_dst: usize, rows: usize) -> bool {
    let fits = |len: usize, n: usize, ld: usize, w: usize| {
        n == 0 || (n - 1).checked_mul(ld).and_then(|e| e.checked_add(w)).is_some_and(|e| e <= len)
    };
    if isa() != Isa::Avx512 || cols > 16 || rows > 16 || !fits(src.len(), cols, ld_src, 16) {
        return false;
    }
    if !fits(dst.len(), rows, ld_dst, cols) {
        return false;
    }
    #[cfg(all(target_arch = "x86_64", accel_avx512))]
    // SAFETY: `isa` saw the CPU report avx512f, all that `transpose_block` enables; `fits` proved that the
    // `cols` rows of 16 floats it reads (`ld_src` apart) and the `rows` rows of `cols` floats it writes
    // (`ld_dst` apart) lie inside `src` and `dst`.
    return unsafe {
        transpose_block(src, ld_src, cols, dst, ld_dst, rows);
        true
    };
    #[cfg(not(all(target_arch = "x86_64", accel_avx512)))]
    false
}

/// The 16 x 16 transpose: pairs of rows interleaved by 32 bits, then 64 bits, then 128-bit lanes twice; output
/// row `i` is input column `i`. Source rows from `cols` on are not read (zero in registers); output rows from
/// `rows` on are not written, and the others only in their first `cols` floats. The caller checked both
/// slices (see `transpose16`).
#[cfg(all(target_arch = "x86_64", accel_avx512))]
#[allow(clippy::incompatible_msrv)]
#[target_feature(enable = "avx512f")]
fn transpose_block(src: &[f32], ld_src: usize, cols: usize, dst: &mut [f32], ld_dst: usize, rows: usize) {
    use std::arch::x86_64::{__m512, _mm512_castpd_ps, _mm512_castps_pd, _mm512_loadu_ps, _mm512_shuffle_f32x4};
    use std::arch::x86_64::{_mm512_mask_storeu_ps, _mm512_setzero_ps, _mm512_unpacklo_ps};
    use std::arch::x86_64::{_mm512_storeu_ps, _mm512_unpackhi_pd, _mm512_unpackhi_ps, _mm512_unpacklo_pd};
    // SAFETY (loads): row `j < cols` spans `j * ld_src .. j * ld_src + 16`, inside `src` (checked).
    let r: [__m512; 16] = std::array::from_fn(|j| {
        if j < cols {
            unsafe { _mm512_loadu_ps(src.as_ptr().add(j * ld_src)) }
        } else {
            _mm512_setzero_ps()
        }
    });
    let t: [__m512; 16] = std::array::from_fn(|i| {
        let (a, b) = (r[i / 2 * 2], r[i / 2 * 2 + 1]);
        if i % 2 == 0 {
            _mm512_unpacklo_ps(a, b)
        } else {
            _mm512_unpackhi_ps(a, b)
        }
    });
    let u: [__m512; 16] = std::array::from_fn(|i| {
        let (g, k) = (i / 4 * 4, i % 4);
        let (a, c) = (_mm512_castps_pd(t[g + k / 2]), _mm512_castps_pd(t[g + 2 + k / 2]));
        _mm512_castpd_ps(if k % 2 == 0 { _mm512_unpacklo_pd(a, c) } else { _mm512_unpackhi_pd(a, c) })
    });
    let v: [__m512; 16] = std::array::from_fn(|i| {
        let (h, k) = (i / 8 * 8, i % 8);
        let (a, b) = (u[h + k % 4], u[h + 4 + k % 4]);
        if k < 4 {
            _mm512_shuffle_f32x4::<0x88>(a, b)
        } else {
            _mm512_shuffle_f32x4::<0xdd>(a, b)
        }
    });
    // The first `cols` lanes (`cols <= 16`).
    let mask = ((1u32 << cols) - 1) as u16;
    for i in 0..rows {
        let (a, b) = (v[i % 8], v[8 + i % 8]);
        let o = if i < 8 { _mm512_shuffle_f32x4::<0x88>(a, b) } else { _mm512_shuffle_f32x4::<0xdd>(a, b) };
        // SAFETY (stores): row `i < rows` spans `i * ld_dst .. i * ld_dst + cols`, inside `dst` (checked); a
        // whole row when `cols == 16`, else the first `cols` floats under the mask.
        unsafe {
            if cols == 16 {
                _mm512_storeu_ps(dst.as_mut_ptr().add(i * ld_dst), o);
            } else {
                _mm512_mask_storeu_ps(dst.as_mut_ptr().add(i * ld_dst), mask, o);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_product_and_bad_views() {
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0, 7.0, 8.0];
        let mut c = [1.0; 4];
        let r = |d| MatRef { data: d, rows: 2, cols: 2, ld: 2 };
        gemm(r(&a), r(&b), MatMut { data: &mut c, rows: 2, cols: 2, ld: 2 }, 1.0).unwrap();
        assert_eq!(c, [20.0, 23.0, 44.0, 51.0]);
        let mut c = [f32::NAN; 4];
        gemm(r(&a), r(&b), MatMut { data: &mut c, rows: 2, cols: 2, ld: 2 }, 0.0).unwrap();
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
        let short = MatRef { data: &a[..3], rows: 2, cols: 2, ld: 2 };
        assert!(gemm(short, r(&b), MatMut { data: &mut c, rows: 2, cols: 2, ld: 2 }, 0.0).is_err());
        let overlap = MatRef { data: &a, rows: 2, cols: 2, ld: 1 };
        assert!(gemm(overlap, r(&b), MatMut { data: &mut c, rows: 2, cols: 2, ld: 2 }, 0.0).is_err());
    }
}
