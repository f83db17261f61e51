//! The INT8 microkernels in AVX-512 intrinsics, each behind a safe, checked API (with `gemm.rs`, the only
//! `unsafe` in `sim`): the VNNI dot product of the INT8 GEMM, whose loads and stores stay inside fixed-size
//! arrays (a partial tile's live rows and columns stored with masks), the INT8 depthwise taps in quads
//! (`depthwise_quads`: VBMI byte permutation and VNNI, every load's reach checked once per call), and the masked
//! row copy into its byte planes (`flip_row`).
#![allow(unsafe_code)]
use super::gemm::{isa, Isa};
/// Rows of the INT8 microkernel's output tile.
pub const I8_MR: usize = 8;
/// Columns of the INT8 microkernel's output tile.
pub const I8_NR: usize = 32;
/// One packed step of the INT8 microkernel's B panel: for each of the `I8_NR` columns, 4 consecutive k.
pub type I8Panel = [i8; 4 * I8_NR];

/// Whether `dot_u8i8` runs the AVX-512 VNNI kernel on this CPU.
pub fn has_vnni() -> bool {
    #[cfg(all(target_arch = "x86_64", accel_avx512))]
    {
        isa() == Isa::Avx512 && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(all(target_arch = "x86_64", accel_avx512)))]
    {
        false
    }
}

/// `acc[r][j] += sum over q, t of a[q][r][t] (as u8) * b[q][4j + t] (as i8)`, exact with wrapping i32
/// arithmetic. Returns `false` (and does nothing) when the CPU has no AVX-512 VNNI or `a` and `b` have
/// different lengths: the caller then runs its portable loop, which computes the same numbers.
pub fn dot_u8i8(a: &[[[u8; 4]; I8_MR]], b: &[I8Panel], acc: &mut [[i32; I8_NR]; I8_MR]) -> bool {
    if a.len() != b.len() || !has_vnni() {
        return false;
    }
    #[cfg(all(target_arch = "x86_64", accel_avx512))]
    // SAFETY: `has_vnni` saw the CPU report avx512f, avx512bw and avx512vnni, all that `dot_vnni` enables.
    unsafe {
        dot_vnni(a, b, acc)
    };
    has_vnni()
}

/// The k loop both VNNI tiles share: per step, the two B vectors and one `vpdpbusd` per row and half.
#[cfg(all(target_arch = "x86_64", accel_avx512))]
macro_rules! vnni_steps {
    ($a:expr, $b:expr, $acc:ident) => {
        for (aq, bq) in $a.iter().zip($b) {
            use std::arch::x86_64::{_mm512_dpbusd_epi32, _mm512_loadu_si512, _mm512_set1_epi32};
            let (lo, hi) = bq.split_at(64);
            // SAFETY: `lo` and `hi` are exactly 64 bytes each (a 128-byte array split in half), and an unaligned
            // 512-bit load reads exactly 64 bytes from its pointer.
            let (b0, b1) = unsafe { (_mm512_loadu_si512(lo.as_ptr().cast()), _mm512_loadu_si512(hi.as_ptr().cast())) };
            for (cr, ar) in $acc.iter_mut().zip(aq) {
                let av = _mm512_set1_epi32(i32::from_le_bytes(*ar));
                cr[0] = _mm512_dpbusd_epi32(cr[0], av, b0);
                cr[1] = _mm512_dpbusd_epi32(cr[1], av, b1);
            }
        }
    };
}

#[cfg(all(target_arch = "x86_64", accel_avx512))]
#[allow(clippy::incompatible_msrv)]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn dot_vnni(a: &[[[u8; 4]; I8_MR]], b: &[I8Panel], acc: &mut [[i32; I8_NR]; I8_MR]) {
    use std::arch::x86_64::{__m512i, _mm512_loadu_si512, _mm512_storeu_si512};
    // The accumulators start from `acc` (the sums wrap, so adding at the start or at the end is the same).
    let mut c: [[__m512i; 2]; I8_MR] = std::array::from_fn(|r| {
        let (lo, hi) = acc[r].split_at(16);
        // SAFETY: `lo` and `hi` are exactly 16 i32 = 64 bytes each (a 32-element array split in half), what an
        // unaligned 512-bit load reads.
        unsafe { [_mm512_loadu_si512(lo.as_ptr().cast()), _mm512_loadu_si512(hi.as_ptr().cast())] }
    });
    vnni_steps!(a, b, c);
    for (cr, accr) in c.iter().zip(acc.iter_mut()) {
        let (lo, hi) = accr.split_at_mut(16);
        // SAFETY: `lo` and `hi` are exactly 16 i32 = 64 bytes each, what an unaligned 512-bit store writes.
        unsafe {
            _mm512_storeu_si512(lo.as_mut_ptr().cast(), cr[0]);
            _mm512_storeu_si512(hi.as_mut_ptr().cast(), cr[1]);
        }
    }
}

/// An INT8 tile from its init terms straight into the output: `c[r * ldc + j] = row_init[r] + col_init[j] +
/// sum over q, t of a[q][r][t] (as u8) * b[q][4j + t] (as i8)`, wrapping i32, for the first `rows` rows and
/// `cols` columns (the tile's other rows and columns are computed in registers and dropped: masked stores).
/// The same numbers as `dot_u8i8` on an accumulator tile holding the init terms, without the tile's round trip
/// through memory, which costs as much as the products when k is short (grouped 1x1 convolutions), nor the
/// copy of a partial tile's live part. `false` (nothing written): no AVX-512 VNNI, `a` and `b` of different
/// lengths, `rows` or `cols` outside `1 ..= I8_MR` / `1 ..= I8_NR`, or `c` too short.
pub fn dot_u8i8_into(
    a: &[[[u8; 4]; I8_MR]],
    b: &[I8Panel],
    init: (&[i32; I8_MR], &[i32; I8_NR]),
    c: &mut [i32],
    ldc: usize,
    (rows, cols): (usize, usize),
) -> bool {
    let shape = (1..=I8_MR).contains(&rows) && (1..=I8_NR).contains(&cols);
    let fits = shape && (rows - 1).checked_mul(ldc).and_then(|e| e.checked_add(cols)).is_some_and(|e| e <= c.len());
    if a.len() != b.len() || !fits || !has_vnni() {
        return false;
    }
    #[cfg(all(target_arch = "x86_64", accel_avx512))]
    // SAFETY: `has_vnni` saw the CPU report avx512f, avx512bw and avx512vnni, all that `vnni_into` enables.
    unsafe {
        vnni_into(a, b, init, c, ldc, (rows, cols))
    };
    has_vnni()
}

#[cfg(all(target_arch = "x86_64", accel_avx512))]
#[allow(clippy::incompatible_msrv)]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn vnni_into(
    a: &[[[u8; 4]; I8_MR]],
    b: &[I8Panel],
    (row_init, col_init): (&[i32; I8_MR], &[i32; I8_NR]),
    c: &mut [i32],
    ldc: usize,
    (rows, cols): (usize, usize),
) {
    use std::arch::x86_64::{__m512i, _mm512_add_epi32, _mm512_loadu_si512, _mm512_mask_storeu_epi32};
    use std::arch::x86_64::{_mm512_set1_epi32, _mm512_storeu_si512};
    let (lo, hi) = col_init.split_at(16);
    // SAFETY: `lo` and `hi` are exactly 16 i32 = 64 bytes each, what an unaligned 512-bit load reads.
    let (k0, k1) = unsafe { (_mm512_loadu_si512(lo.as_ptr().cast()), _mm512_loadu_si512(hi.as_ptr().cast())) };
    let mut acc: [[__m512i; 2]; I8_MR] = std::array::from_fn(|r| {
        let ri = _mm512_set1_epi32(row_init[r]);
        [_mm512_add_epi32(ri, k0), _mm512_add_epi32(ri, k1)]
    });
    vnni_steps!(a, b, acc);
    // The live columns of each half.
    let (m0, m1) = (low_bits(cols.min(16)) as u16, low_bits(cols.saturating_sub(16)) as u16);
    for (r, cr) in acc.iter().enumerate().take(rows) {
        // `dot_u8i8_into` checked that every live row's `cols` outputs lie inside `c`.
        let Some(row) = c.get_mut(r * ldc..r * ldc + cols) else { return };
        if let Ok(full) = <&mut [i32; I8_NR]>::try_from(&mut *row) {
            let (lo, hi) = full.split_at_mut(16);
            // SAFETY: `lo` and `hi` are exactly 16 i32 = 64 bytes each, what an unaligned 512-bit store writes.
            unsafe {
                _mm512_storeu_si512(lo.as_mut_ptr().cast(), cr[0]);
                _mm512_storeu_si512(hi.as_mut_ptr().cast(), cr[1]);
            }
            continue;
        }
        let (lo, hi) = row.split_at_mut(cols.min(16));
        // SAFETY: the masks cover the first `lo.len()` lanes of the first store and `hi.len()` of the second,
        // exactly the elements of `lo` and `hi`; masked-off lanes are not written, and an empty `hi` is skipped.
        unsafe {
            _mm512_mask_storeu_epi32(lo.as_mut_ptr(), m0, cr[0]);
            if !hi.is_empty() {
                _mm512_mask_storeu_epi32(hi.as_mut_ptr(), m1, cr[1]);
            }
        }
    }
}

/// Whether `depthwise_quads` runs on this CPU: AVX-512 VBMI (the byte permutation) and VNNI (the dot product).
pub fn has_vbmi_vnni() -> bool {
    #[cfg(all(target_arch = "x86_64", accel_avx512))]
    {
        static VBMI: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        has_vnni() && *VBMI.get_or_init(|| std::arch::is_x86_feature_detected!("avx512vbmi"))
    }
    #[cfg(not(all(target_arch = "x86_64", accel_avx512)))]
    {
        false
    }
}

/// Outputs per step of `depthwise_quads`: one vector of i32.
pub const QUAD_STEP: usize = 16;
/// Bytes `depthwise_quads` reads from one quad's start for one step (one 512-bit load).
pub const QUAD_READ: usize = 64;

/// Taps of a depthwise convolution four at a time, on byte planes, into rows of outputs: `out[r * width + c] =
/// init + sum over quads (o, w) of sum_t planes[o + r * pitch + c + t] (as u8) * w.to_le_bytes()[t] (as i8)`,
/// wrapping i32, for every row `r < out.len() / width` and column `c < width`: per step of `QUAD_STEP` outputs
/// of a row and per quad, one load, one byte permutation (the four consecutive bytes of each output into its
/// lane) and one `vpdpbusd`, the step's live lanes stored (masked). `false` (nothing written): the CPU lacks
/// VBMI or VNNI, `width` is 0, above `pitch` or does not divide `out.len()`, or `planes` does not hold every
/// step's `QUAD_READ` bytes (bytes past the outputs' taps are read, never used for `out`).
pub fn depthwise_quads(
    planes: &[u8],
    quads: &[(usize, i32)],
    init: i32,
    out: &mut [i32],
    (width, pitch): (usize, usize),
) -> bool {
    if width == 0 || width > pitch || out.len() % width != 0 || !has_vbmi_vnni() {
        return false;
    }
    let rows = out.len() / width;
    // The last step of the last row reads from `(rows - 1) pitch + 16 floor((width - 1) / 16)` on.
    let last = (rows.max(1) - 1).checked_mul(pitch).and_then(|e| e.checked_add((width - 1) / QUAD_STEP * QUAD_STEP));
    let reach = last.and_then(|e| e.checked_add(QUAD_READ));
    let fits = quads.iter().all(|&(o, _)| reach.and_then(|r| o.checked_add(r)).is_some_and(|e| e <= planes.len()));
    if !fits {
        return false;
    }
    if rows == 0 {
        return true;
    }
    #[cfg(all(target_arch = "x86_64", accel_avx512))]
    // SAFETY: `has_vbmi_vnni` saw the CPU report avx512f, avx512bw, avx512vbmi and avx512vnni, all that
    // `quads_vnni` enables; `fits` is its precondition.
    unsafe {
        quads_vnni(planes, quads, init, out, (width, pitch))
    };
    has_vbmi_vnni()
}

/// `depthwise_quads` once checked: every quad's `QUAD_READ` bytes at `o + r * pitch + c0` lie in `planes` for
/// every row `r` and step `c0` below `width`.
#[cfg(all(target_arch = "x86_64", accel_avx512))]
#[allow(clippy::incompatible_msrv)]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vnni")]
fn quads_vnni(planes: &[u8], quads: &[(usize, i32)], init: i32, out: &mut [i32], (width, pitch): (usize, usize)) {
    use std::arch::x86_64::{_mm512_dpbusd_epi32, _mm512_loadu_si512, _mm512_mask_storeu_epi32};
    use std::arch::x86_64::{_mm512_permutexvar_epi8, _mm512_set1_epi32, _mm512_storeu_si512};
    // Lane `i` takes bytes `i .. i + 4` of the load: byte `4 i + t` of the permutation reads byte `i + t`.
    let idx: [u8; 64] = std::array::from_fn(|b| (b / 4 + b % 4) as u8);
    // SAFETY: `idx` is exactly 64 bytes, what an unaligned 512-bit load reads.
    let idx = unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) };
    let base = planes.as_ptr();
    for (r, row) in out.chunks_exact_mut(width).enumerate() {
        for (s, chunk) in row.chunks_mut(QUAD_STEP).enumerate() {
            let at = r * pitch + s * QUAD_STEP;
            let mut acc = _mm512_set1_epi32(init);
            for &(o, w) in quads {
                // SAFETY: the caller checked `o + at + QUAD_READ <= planes.len()` for every row and step (`fits`).
                let v = unsafe { _mm512_loadu_si512(base.add(o + at).cast()) };
                acc = _mm512_dpbusd_epi32(acc, _mm512_permutexvar_epi8(idx, v), _mm512_set1_epi32(w));
            }
            // SAFETY: a full chunk is exactly 16 i32 = 64 bytes, what an unaligned 512-bit store writes; a last
            // chunk of `len < 16` is written only in its first `len` lanes (the mask).
            unsafe {
                if chunk.len() == QUAD_STEP {
                    _mm512_storeu_si512(chunk.as_mut_ptr().cast(), acc);
                } else {
                    _mm512_mask_storeu_epi32(chunk.as_mut_ptr(), (1u16 << chunk.len()) - 1, acc);
                }
            }
        }
    }
}

/// `dst[j] = src[j * stride] ^ 0x80` for every `j < dst.len()` (an int8 row into a byte plane as `x + 128`)
/// with AVX-512 masked loads and stores, so that a short row (7 or 14 bytes) is one step, not a byte loop.
/// `false` (nothing written): no AVX-512, a stride other than 1 or 2, or `src` shorter than the row needs.
pub fn flip_row(dst: &mut [u8], src: &[i8], stride: usize) -> bool {
    let need = match dst.len() {
        0 => 0,
        n => (n - 1).saturating_mul(stride).saturating_add(1),
    };
    if isa() != Isa::Avx512 || !(1..=2).contains(&stride) || src.len() < need {
        return false;
    }
    #[cfg(all(target_arch = "x86_64", accel_avx512))]
    // SAFETY: `isa` saw the CPU report avx512f and avx512bw, all that `flip_avx512` enables; `src` holds every
    // byte the row reads (checked above).
    unsafe {
        flip_avx512(dst, src, stride)
    };
    isa() == Isa::Avx512
}

/// The low `n` bits set (`n <= 64`).
#[cfg(all(target_arch = "x86_64", accel_avx512))]
#[inline(always)]
fn low_bits(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

#[cfg(all(target_arch = "x86_64", accel_avx512))]
#[allow(clippy::incompatible_msrv)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn flip_avx512(dst: &mut [u8], src: &[i8], stride: usize) {
    use std::arch::x86_64::{_mm256_mask_storeu_epi8, _mm256_set1_epi8, _mm256_xor_si256, _mm512_cvtepi16_epi8};
    use std::arch::x86_64::{_mm512_mask_storeu_epi8, _mm512_maskz_loadu_epi8, _mm512_set1_epi8, _mm512_xor_si512};
    let n = dst.len();
    if stride == 1 {
        for j0 in (0..n).step_by(64) {
            let m = low_bits(n - j0);
            // SAFETY: the mask covers bytes `j0 .. min(n, j0 + 64)`, inside `src` (`src.len() >= n`) and `dst`;
            // masked-off bytes are neither read nor written.
            unsafe {
                let v = _mm512_maskz_loadu_epi8(m, src.as_ptr().add(j0));
                _mm512_mask_storeu_epi8(
                    dst.as_mut_ptr().add(j0).cast(),
                    m,
                    _mm512_xor_si512(v, _mm512_set1_epi8(-128)),
                );
            }
        }
        return;
    }
    for j0 in (0..n).step_by(32) {
        // Bytes `2 j0 ..` of `src`, as many as it has up to 64: the even ones are the row's.
        let m_in = low_bits(src.len() - 2 * j0);
        // SAFETY: `2 j0 <= 2 (n - 1) < src.len()`; the load mask covers only bytes inside `src`, the store mask
        // bytes `j0 .. min(n, j0 + 32)` of `dst`; masked-off bytes are neither read nor written.
        unsafe {
            let v = _mm512_maskz_loadu_epi8(m_in, src.as_ptr().add(2 * j0));
            let even = _mm256_xor_si256(_mm512_cvtepi16_epi8(v), _mm256_set1_epi8(-128));
            _mm256_mask_storeu_epi8(dst.as_mut_ptr().add(j0).cast(), low_bits(n - j0) as u32, even);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every live tile shape, at a pitch wider than the tile: the live outputs are the scalar sums, every other
    /// element of `c` keeps its value; shapes outside the tile and a short `c` are refused, nothing written.
    #[test]
    fn vnni_into_writes_exactly_the_live_part_of_the_tile() {
        let a: Vec<[[u8; 4]; I8_MR]> = (0..3)
            .map(|q| std::array::from_fn(|r| std::array::from_fn(|t| (q * 41 + r * 13 + t * 7) as u8 ^ 0xc3)))
            .collect();
        let b: Vec<I8Panel> = (0..3).map(|q| std::array::from_fn(|i| ((q * 29 + i * 5) as u8 ^ 0x96) as i8)).collect();
        let row_init: [i32; I8_MR] = std::array::from_fn(|r| i32::MAX - r as i32);
        let col_init: [i32; I8_NR] = std::array::from_fn(|j| 1000 * j as i32 - 7);
        let ldc = I8_NR + 5;
        let sum = |r: usize, j: usize| {
            let mut s = row_init[r].wrapping_add(col_init[j]);
            for q in 0..3 {
                for t in 0..4 {
                    s = s.wrapping_add(a[q][r][t] as i32 * b[q][4 * j + t] as i32);
                }
            }
            s
        };
        for rows in 1..=I8_MR {
            for cols in 1..=I8_NR {
                let mut c = vec![-3i32; (rows - 1) * ldc + cols];
                if !dot_u8i8_into(&a, &b, (&row_init, &col_init), &mut c, ldc, (rows, cols)) {
                    return;
                }
                for (i, &v) in c.iter().enumerate() {
                    let (r, j) = (i / ldc, i % ldc);
                    let want = if j < cols { sum(r, j) } else { -3 };
                    assert_eq!(v, want, "rows {rows} cols {cols} r {r} j {j}");
                }
                let mut short = vec![-3i32; (rows - 1) * ldc + cols - 1];
                assert!(!dot_u8i8_into(&a, &b, (&row_init, &col_init), &mut short, ldc, (rows, cols)));
                assert!(short.iter().all(|&v| v == -3));
            }
        }
        let mut c = vec![0i32; I8_MR * ldc];
        for shape in [(0, 4), (4, 0), (I8_MR + 1, 4), (4, I8_NR + 1)] {
            assert!(!dot_u8i8_into(&a, &b, (&row_init, &col_init), &mut c, ldc, shape));
        }
        assert!(c.iter().all(|&v| v == 0));
    }

    #[test]
    fn vnni_dot_matches_scalar_when_available() {
        let a: Vec<[[u8; 4]; I8_MR]> = (0..5)
            .map(|q| std::array::from_fn(|r| std::array::from_fn(|t| (q * 37 + r * 11 + t * 5) as u8 ^ 0xa5)))
            .collect();
        let b: Vec<I8Panel> = (0..5).map(|q| std::array::from_fn(|i| ((q * 13 + i * 7) as u8 ^ 0x3c) as i8)).collect();
        let mut acc = [[7i32; I8_NR]; I8_MR];
        if !dot_u8i8(&a, &b, &mut acc) {
            return;
        }
        for r in 0..I8_MR {
            for j in 0..I8_NR {
                let mut want = 7i32;
                for q in 0..5 {
                    for t in 0..4 {
                        want = want.wrapping_add(a[q][r][t] as i32 * b[q][4 * j + t] as i32);
                    }
                }
                assert_eq!(acc[r][j], want, "r {r} j {j}");
            }
        }
    }
}
