//! `mac.matmul` in f32 on already-loaded slices: `out[m,n] = act(a[m,k] * b[k,n] + bias[n])`, split into row
//! or column blocks computed in parallel with sgemm. Also the activation pass shared by the MAC kernels.
use super::gemm::{gemm, MatMut, MatRef};
use accel_ops::op::UnaryOp;
use rayon::prelude::*;

/// Below this many elements, elementwise passes stay on the calling thread.
pub(super) fn par_threshold() -> usize {
    1 << 15
}

/// Applies a fused activation in place, exactly as `UnaryOp::apply`.
pub(super) fn apply_act(act: Option<UnaryOp>, y: &mut [f32]) {
    let Some(f) = act else { return };
    if y.len() < par_threshold() {
        y.iter_mut().for_each(|v| *v = f.apply(*v));
    } else {
        y.par_chunks_mut(1 << 14).for_each(|c| c.iter_mut().for_each(|v| *v = f.apply(*v)));
    }
}

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
    if macs < 1 << 18 || threads == 1 {
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

fn whole(data: &mut [f32], rows: usize, cols: usize) -> MatMut<'_> {
    MatMut { data, rows, cols, ld: cols }
}
