//! The f32 GEMM of the convolutions, `C[m x n] = A[m x k] * B[k x n]`, blocked for the caches, with no
//! packing of A (the weights): the microkernel broadcasts from `F_MR` row streams in place. B is read in place
//! too when its rows are in memory (the input planes of a 1x1 convolution), else produced block by block
//! straight into panels of `F_NR` columns (the im2col). Every pair of panels goes to `gemm::f32_tile` (AVX-512
//! FMA) or the portable tile. Loop order as in BLIS: a B micro-panel (`KC x F_NR`, 16 KiB) stays in L1 while
//! every row panel of A streams past it.
use super::gemm::{dispatch, f32_tile, Panels, Simd, Tile, F_MR as MR, F_NR as NR};

/// k per cache block (also `lanes`', whose sums must stay the same).
pub(super) const KC: usize = 256;
/// Columns per cache block (a multiple of `NR`): the B block `KC x NC` is 256 KiB, L2-resident.
const NC: usize = 512;

/// A as a row-major `m x k` matrix with leading dimension `lda`.
#[derive(Clone, Copy)]
pub(super) struct AView<'a> {
    pub data: &'a [f32],
    pub m: usize,
    pub k: usize,
    pub lda: usize,
}

/// Where B comes from.
pub(super) trait FillB {
    /// B in place, when its rows are runs in memory: returns the memory and sets `offs[p - k0]` to where row `p`
    /// (column 0) starts, for `p` in `k0..k1`; columns are contiguous from there.
    fn direct(&self, _k0: usize, _k1: usize, _offs: &mut Vec<usize>) -> Option<&[f32]> {
        None
    }
    /// Writes rows `k0..k1`, columns `n0..n1` into `panels` (`(n1 - n0).div_ceil(NR)` panels of `k1 - k0`
    /// rows each), which arrive zeroed: entries left alone read as zero.
    fn fill(&self, k0: usize, k1: usize, n0: usize, n1: usize, panels: &mut [[f32; NR]]);
}

/// `c` (`m x n` at leading dimension `ldc`) `= A * B`; `bbuf` is scratch for one B block.
pub(super) fn gemm_packed(
    a: AView<'_>,
    fill: &impl FillB,
    n: usize,
    c: &mut [f32],
    ldc: usize,
    bbuf: &mut Vec<[f32; NR]>,
) -> Result<(), String> {
    let (m, k) = (a.m, a.k);
    if m == 0 || n == 0 {
        return Ok(());
    }
    let fits = |rows: usize, cols: usize, ld: usize, len: usize| {
        ld >= cols && (rows - 1).checked_mul(ld).and_then(|e| e.checked_add(cols)).is_some_and(|e| e <= len)
    };
    if !fits(m, n, ldc, c.len()) || (k > 0 && !fits(m, k, a.lda, a.data.len())) {
        return Err(format!("packed gemm: {m}x{k}x{n} does not fit its operands"));
    }
    if k == 0 {
        for r in 0..m {
            c[r * ldc..][..n].fill(0.0);
        }
        return Ok(());
    }
    let (mut offs, mut edge) = (Vec::new(), Vec::new());
    let packed_offs: Vec<usize> = (0..KC.min(k)).map(|p| p * NR).collect();
    for n0 in (0..n).step_by(NC) {
        let n1 = (n0 + NC).min(n);
        let panels = (n1 - n0).div_ceil(NR);
        for k0 in (0..k).step_by(KC) {
            let kc = KC.min(k - k0);
            let direct = fill.direct(k0, k0 + kc, &mut offs);
            if direct.is_none() {
                bbuf.clear();
                bbuf.resize(panels * kc, [0.0; NR]);
                fill.fill(k0, k0 + kc, n0, n1, bbuf);
            }
            for jp in 0..panels {
                let j0 = n0 + jp * NR;
                let cols = NR.min(n1 - j0);
                let (mut b, mut bo) = match direct {
                    Some(d) => (d.get(j0..).unwrap_or(&[]), &offs[..kc]),
                    None => (bbuf[jp * kc..(jp + 1) * kc].as_flattened(), &packed_offs[..kc]),
                };
                if !(Panels { a: [a.data; MR], b, offs: bo }).fits() {
                    // A last, narrow panel read in place would run off the end: copy it.
                    edge.clear();
                    edge.resize(kc, [0.0; NR]);
                    for (e, &o) in edge.iter_mut().zip(bo) {
                        let run = b.get(o..o + cols).ok_or("packed gemm: b row outside its memory")?;
                        e[..cols].copy_from_slice(run);
                    }
                    (b, bo) = (edge.as_flattened(), &packed_offs[..kc]);
                }
                for ip in 0..m.div_ceil(MR) {
                    let rows = MR.min(m - ip * MR);
                    // Rows past `m` repeat the last one: computed, never stored.
                    let row = |r: usize| &a.data[(ip * MR + r.min(rows - 1)) * a.lda + k0..][..kc];
                    let ops = Panels { a: std::array::from_fn(row), b, offs: bo };
                    let start = ip * MR * ldc + j0;
                    let end = start + (rows - 1) * ldc + cols;
                    let mut t = Tile { c: &mut c[start..end], ldc, rows, cols, accumulate: k0 > 0 };
                    match f32_tile(&ops, &mut t) {
                        Some(true) => {}
                        Some(false) => return Err("packed gemm: a panel does not fit its slice".into()),
                        None if ops.fits() => dispatch(PortableTile { ops, t }),
                        None => return Err("packed gemm: a panel does not fit its slice".into()),
                    }
                }
            }
        }
    }
    Ok(())
}

/// The portable f32 tile: the same sums as `gemm::f32_tile` without fused multiply-add.
struct PortableTile<'a, 'c> {
    ops: Panels<'a>,
    t: Tile<'c>,
}

impl Simd for PortableTile<'_, '_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let Panels { a, b, offs } = self.ops;
        let mut acc = [[0f32; NR]; MR];
        for (p, &off) in offs.iter().enumerate() {
            let bp = &b[off..][..NR];
            for (accr, ar) in acc.iter_mut().zip(&a) {
                let av = ar[p];
                for (s, &bv) in accr.iter_mut().zip(bp) {
                    *s += av * bv;
                }
            }
        }
        let t = self.t;
        for (r, accr) in acc.iter().enumerate().take(t.rows) {
            let row = &mut t.c[r * t.ldc..][..t.cols];
            for (d, &v) in row.iter_mut().zip(accr) {
                *d = if t.accumulate { *d + v } else { v };
            }
        }
    }
}

/// B as a row-major matrix in memory (`k x n`, leading dimension `ld`): the 1x1 convolution's input planes.
pub(super) struct RowMajorB<'a> {
    pub data: &'a [f32],
    pub ld: usize,
}

impl FillB for RowMajorB<'_> {
    fn direct(&self, k0: usize, k1: usize, offs: &mut Vec<usize>) -> Option<&[f32]> {
        offs.clear();
        offs.extend((k0..k1).map(|p| p * self.ld));
        Some(self.data)
    }

    fn fill(&self, k0: usize, k1: usize, n0: usize, n1: usize, panels: &mut [[f32; NR]]) {
        let kc = k1 - k0;
        for (jp, panel) in panels.chunks_mut(kc).enumerate() {
            let j0 = n0 + jp * NR;
            let cols = NR.min(n1 - j0);
            for (r, step) in panel.iter_mut().enumerate() {
                step[..cols].copy_from_slice(&self.data[(k0 + r) * self.ld + j0..][..cols]);
            }
        }
    }
}
