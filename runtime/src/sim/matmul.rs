//! `mac.matmul` in f32 on already-loaded slices: `out[m,n] = act(a[m,k] * b[k,n] + bias[n])`, split into row
//! or column blocks computed in parallel with sgemm.
use super::gemm::{dispatch, gemm, MatMut, MatRef, Simd};
use super::vector::apply_act;
use accel_ops::op::UnaryOp;
use rayon::prelude::*;

/// The shape of a matmul, in elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatMulGeom {
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

/// Computes `y = act(a * b + bias)`; `a` is `[m,k]`, `b` is `[k,n]`, `bias` is `[n]`, `y` is `[m,n]`.
pub fn matmul_f32(
    g: &MatMulGeom,
    a: &[f32],
    b: &[f32],
    bias: Option<&[f32]>,
    act: Option<UnaryOp>,
    y: &mut [f32],
) -> Result<(), String> {
    let (m, k, n) = (g.m, g.k, g.n);
    let size = |r: usize, c: usize| r.checked_mul(c);
    if size(m, k) != Some(a.len()) || size(k, n) != Some(b.len()) || size(m, n) != Some(y.len()) {
        return Err(format!("matmul operands do not match {m}x{k}x{n}"));
    }
    if bias.is_some_and(|b| b.len() != n) {
        return Err(format!("bias must have {n} elements"));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    for row in y.chunks_exact_mut(n) {
        match bias {
            Some(b) => row.copy_from_slice(b),
            None => row.fill(0.0),
        }
    }
    let threads = rayon::current_num_threads().max(1);
    let macs = m.saturating_mul(n).saturating_mul(k);
    if m <= SMALL_M && n <= 256 {
        // A few rows (the fully connected layers' blocks): row by row, `y[i] += a[i][p] * b[p]` streaming b once
        // per row, without sgemm's per-call packing buffers.
        for (ar, yr) in a.chunks_exact(k.max(1)).zip(y.chunks_exact_mut(n)) {
            dispatch(RowTimesB { a: ar, b, y: yr });
        }
    } else if macs < 1 << 18 || threads == 1 {
        gemm(
            MatRef { data: a, rows: m, cols: k, ld: k },
            MatRef { data: b, rows: k, cols: n, ld: n },
            whole(y, m, n),
            1.0,
        )?;
    } else if m >= 4 * threads {
        // Row blocks: each writes its own contiguous rows of y.
        let rows = m.div_ceil(2 * threads);
        y.par_chunks_mut(rows * n).enumerate().try_for_each(|(i, yb)| {
            let r0 = i * rows;
            let rb = yb.len() / n;
            let ab = MatRef { data: &a[r0 * k..(r0 + rb) * k], rows: rb, cols: k, ld: k };
            gemm(ab, MatRef { data: b, rows: k, cols: n, ld: n }, whole(yb, rb, n), 1.0)
        })?;
    } else {
        // Few rows (fully connected layers): column blocks into temporaries, then copied into place.
        let cols = n.div_ceil(2 * threads).max(16);
        let starts: Vec<usize> = (0..n).step_by(cols).collect();
        let blocks: Vec<Vec<f32>> = starts
            .par_iter()
            .map(|&c0| {
                let cb = cols.min(n - c0);
                let mut out = vec![0f32; m * cb];
                for (r, row) in out.chunks_exact_mut(cb).enumerate() {
                    row.copy_from_slice(&y[r * n + c0..][..cb]);
                }
                let bb = MatRef { data: &b[c0..], rows: k, cols: cb, ld: n };
                gemm(MatRef { data: a, rows: m, cols: k, ld: k }, bb, whole(&mut out, m, cb), 1.0).map(|()| out)
            })
            .collect::<Result<_, _>>()?;
        for (&c0, block) in starts.iter().zip(blocks) {
            let cb = cols.min(n - c0);
            for (r, row) in block.chunks_exact(cb).enumerate() {
                y[r * n + c0..][..cb].copy_from_slice(row);
            }
        }
    }
    apply_act(act, y);
    Ok(())
}

/// Most rows of a matmul computed row by row (`RowTimesB`).
const SMALL_M: usize = 4;

/// One output row: `y += a * b` for a row `a` of `k` and `b` of `k x n` (row-major).
struct RowTimesB<'a> {
    a: &'a [f32],
    b: &'a [f32],
    y: &'a mut [f32],
}

impl Simd for RowTimesB<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let n = self.y.len();
        for (&av, br) in self.a.iter().zip(self.b.chunks_exact(n)) {
            for (y, &bv) in self.y.iter_mut().zip(br) {
                *y += av * bv;
            }
        }
    }
}

fn whole(data: &mut [f32], rows: usize, cols: usize) -> MatMut<'_> {
    MatMut { data, rows, cols, ld: cols }
}
