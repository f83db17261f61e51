//! The one place the runtime calls `matrixmultiply::sgemm`, an `unsafe fn` over raw pointers: a safe wrapper
//! over row-major slice views that checks, with checked arithmetic, that every element the call can touch lies
//! inside the slices it was given. Nothing else in the runtime uses `unsafe`.
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

/// `c = a * b + beta * c`. Errors (never panics) when the shapes disagree or a view does not fit its slice.
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
                *v *= beta;
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
        let short = MatRef { data: &a[..3], rows: 2, cols: 2, ld: 2 };
        assert!(gemm(short, r(&b), MatMut { data: &mut c, rows: 2, cols: 2, ld: 2 }, 0.0).is_err());
        let overlap = MatRef { data: &a, rows: 2, cols: 2, ld: 1 };
        assert!(gemm(overlap, r(&b), MatMut { data: &mut c, rows: 2, cols: 2, ld: 2 }, 0.0).is_err());
    }
}
