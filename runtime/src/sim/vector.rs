//! The vector unit's f32 kernels on already-loaded slices: `vec.unary`, `vec.binary` (with its period/repeat
//! broadcast, walked segment by segment instead of dividing per element), `vec.affine` (`vec.pool` is in
//! `pool_f32`); and the MAC kernels' epilogue (bias,
//! residual, fused activation in one pass). Every result is bit-identical to the reference semantics: the
//! common activations and binary operators are spelled out here (so they inline into the loops) with the
//! same expressions as `UnaryOp::apply` / `BinaryOp::apply`, which the tests check on special values.
use super::gemm::{dispatch, Simd};
use accel_ops::op::{BinaryOp, UnaryOp};
use rayon::prelude::*;

/// Below this many elements, elementwise passes stay on the calling thread.
pub(super) fn par_threshold() -> usize {
    1 << 16
}

/// Elements per parallel chunk of an elementwise pass.
const CHUNK: usize = 1 << 14;

/// A loop body generic over the elementwise function, so each activation gets its own inlined copy.
pub(super) trait ActBody {
    fn go<F: Fn(f32) -> f32 + Copy + Send + Sync>(self, f: F);
}

/// Runs `body` with `act` as a closure equal to `UnaryOp::apply` (identity for `None`).
pub(super) fn with_act(act: Option<UnaryOp>, body: impl ActBody) {
    match act {
        None => body.go(|v| v),
        // The same expressions as `UnaryOp::apply` (checked by the tests): inlined, they vectorize.
        Some(UnaryOp::Relu) => body.go(|v: f32| v.max(0.0)),
        Some(UnaryOp::Clip { min, max }) => body.go(move |v: f32| v.max(min).min(max)),
        Some(UnaryOp::LeakyRelu { alpha }) => body.go(move |v: f32| if v < 0.0 { alpha * v } else { v }),
        Some(UnaryOp::Neg) => body.go(|v: f32| -v),
        Some(UnaryOp::Abs) => body.go(|v: f32| v.abs()),
        Some(op) => body.go(move |v| op.apply(v)),
    }
}

/// The MAC epilogue on `y` (rows of `n`): `y = act(y + bias[row] + residual)`, each term only when present.
pub(super) fn epilogue(y: &mut [f32], n: usize, bias: Option<&[f32]>, residual: Option<&[f32]>, act: Option<UnaryOp>) {
    if (bias.is_none() && residual.is_none() && act.is_none()) || n == 0 {
        return;
    }
    with_act(act, Epilogue { y, n, bias, residual });
}

/// Applies a fused activation in place, exactly as `UnaryOp::apply`.
pub(super) fn apply_act(act: Option<UnaryOp>, y: &mut [f32]) {
    let n = y.len();
    epilogue(y, n, None, None, act);
}

struct Epilogue<'a> {
    y: &'a mut [f32],
    n: usize,
    bias: Option<&'a [f32]>,
    residual: Option<&'a [f32]>,
}

struct EpilogueRows<'a, F> {
    y: &'a mut [f32],
    n: usize,
    row0: usize,
    bias: Option<&'a [f32]>,
    residual: Option<&'a [f32]>,
    f: F,
}

impl<F: Fn(f32) -> f32> Simd for EpilogueRows<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let EpilogueRows { y, n, row0, bias, residual, f } = self;
        for (r, row) in y.chunks_mut(n).enumerate() {
            let res = residual.map(|res| &res[(row0 + r) * n..][..row.len()]);
            match (bias.map(|b| b[row0 + r]), res) {
                (Some(b), Some(res)) => row.iter_mut().zip(res).for_each(|(v, &q)| *v = f(*v + b + q)),
                (Some(b), None) => row.iter_mut().for_each(|v| *v = f(*v + b)),
                (None, Some(res)) => row.iter_mut().zip(res).for_each(|(v, &q)| *v = f(*v + q)),
                (None, None) => row.iter_mut().for_each(|v| *v = f(*v)),
            }
        }
    }
}

impl ActBody for Epilogue<'_> {
    fn go<F: Fn(f32) -> f32 + Copy + Send + Sync>(self, f: F) {
        let Epilogue { y, n, bias, residual } = self;
        if y.len() < par_threshold() {
            return dispatch(EpilogueRows { y, n, row0: 0, bias, residual, f });
        }
        // Chunks of whole rows, or pieces of one long row (then bias and residual index by element).
        if n >= CHUNK {
            y.par_chunks_mut(n).enumerate().for_each(|(r, row)| {
                row.par_chunks_mut(CHUNK).enumerate().for_each(|(c, piece)| {
                    let b = bias.map(|b| &b[r..r + 1]);
                    let res = residual.map(|res| &res[r * n + c * CHUNK..][..piece.len()]);
                    let len = piece.len();
                    dispatch(EpilogueRows { y: piece, n: len, row0: 0, bias: b, residual: res, f });
                })
            });
        } else {
            let rows = CHUNK.div_ceil(n);
            y.par_chunks_mut(rows * n).enumerate().for_each(|(c, part)| {
                dispatch(EpilogueRows { y: part, n, row0: c * rows, bias, residual, f });
            });
        }
    }
}

pub(super) fn same_len(what: &str, want: usize, have: usize) -> Result<(), String> {
    if want == have {
        Ok(())
    } else {
        Err(format!("{what} has {have} elements, expected {want}"))
    }
}

struct Map<'a, F> {
    src: &'a [f32],
    dst: &'a mut [f32],
    f: F,
}

impl<F: Fn(f32) -> f32> Simd for Map<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        self.dst.iter_mut().zip(self.src).for_each(|(d, &s)| *d = (self.f)(s));
    }
}

struct Unary<'a> {
    src: &'a [f32],
    dst: &'a mut [f32],
}

impl ActBody for Unary<'_> {
    fn go<F: Fn(f32) -> f32 + Copy + Send + Sync>(self, f: F) {
        if self.src.len() < par_threshold() {
            dispatch(Map { src: self.src, dst: self.dst, f });
        } else {
            self.dst
                .par_chunks_mut(CHUNK)
                .zip(self.src.par_chunks(CHUNK))
                .for_each(|(dst, src)| dispatch(Map { src, dst, f }));
        }
    }
}

/// `dst[i] = f(src[i])`.
pub fn unary_f32(f: UnaryOp, src: &[f32], dst: &mut [f32]) -> Result<(), String> {
    same_len("dst", src.len(), dst.len())?;
    with_act(Some(f), Unary { src, dst });
    Ok(())
}

/// Elements `start..start + dst.len()` of `a op b[(i / repeat) % period]`, segment by segment.
struct BinaryPart<'a, F> {
    a: &'a [f32],
    b: &'a [f32],
    repeat: usize,
    start: usize,
    dst: &'a mut [f32],
    f: F,
}

impl<F: Fn(f32, f32) -> f32> Simd for BinaryPart<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let BinaryPart { a, b, repeat, start, dst, f } = self;
        let (period, end) = (b.len(), start + dst.len());
        let mut i = start;
        while i < end {
            let (d, s) = (&mut dst[i - start..], &a[i - start..]);
            if repeat == 1 {
                // A run of b: from b[i % period] to the end of the period (or of the part).
                let off = i % period;
                let len = (period - off).min(end - i);
                d[..len].iter_mut().zip(&s[..len]).zip(&b[off..off + len]).for_each(|((d, &x), &y)| *d = f(x, y));
                i += len;
            } else {
                // A run of one b value: to the end of its `repeat` block (or of the part).
                let blk = i / repeat;
                let len = ((blk + 1) * repeat).min(end) - i;
                let y = b[blk % period];
                d[..len].iter_mut().zip(&s[..len]).for_each(|(d, &x)| *d = f(x, y));
                i += len;
            }
        }
    }
}

fn binary_with<F: Fn(f32, f32) -> f32 + Copy + Send + Sync>(
    a: &[f32],
    b: &[f32],
    repeat: usize,
    dst: &mut [f32],
    f: F,
) {
    if a.len() < par_threshold() {
        dispatch(BinaryPart { a, b, repeat, start: 0, dst, f });
    } else {
        dst.par_chunks_mut(CHUNK).zip(a.par_chunks(CHUNK)).enumerate().for_each(|(c, (dst, a))| {
            dispatch(BinaryPart { a, b, repeat, start: c * CHUNK, dst, f });
        });
    }
}

/// `dst[i] = a[i] op b[(i / repeat) % period]`.
pub fn binary_f32(op: BinaryOp, a: &[f32], b: &[f32], repeat: usize, dst: &mut [f32]) -> Result<(), String> {
    same_len("dst", a.len(), dst.len())?;
    if b.is_empty() || repeat == 0 {
        return Err("b_period and b_repeat must be >= 1".into());
    }
    // The same expressions as `BinaryOp::apply`.
    match op {
        BinaryOp::Add => binary_with(a, b, repeat, dst, |x, y| x + y),
        BinaryOp::Sub => binary_with(a, b, repeat, dst, |x, y| x - y),
        BinaryOp::Mul => binary_with(a, b, repeat, dst, |x, y| x * y),
        BinaryOp::Div => binary_with(a, b, repeat, dst, |x, y| x / y),
        BinaryOp::Max => binary_with(a, b, repeat, dst, |x: f32, y| x.max(y)),
        BinaryOp::Min => binary_with(a, b, repeat, dst, |x: f32, y| x.min(y)),
        op => binary_with(a, b, repeat, dst, move |x, y| op.apply(x, y)),
    }
    Ok(())
}

struct AffinePlanes<'a> {
    src: &'a [f32],
    dst: &'a mut [f32],
    scale: &'a [f32],
    shift: &'a [f32],
    inner: usize,
}

impl Simd for AffinePlanes<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let planes = self.dst.chunks_mut(self.inner).zip(self.src.chunks(self.inner));
        for ((d, s), (&k, &o)) in planes.zip(self.scale.iter().zip(self.shift)) {
            d.iter_mut().zip(s).for_each(|(d, &s)| *d = s * k + o);
        }
    }
}

/// `dst[c, j] = src[c, j] * params[c] + params[channels + c]` over `[channels, inner]`.
pub fn affine_f32(src: &[f32], params: &[f32], channels: usize, dst: &mut [f32]) -> Result<(), String> {
    same_len("dst", src.len(), dst.len())?;
    same_len("params", channels.checked_mul(2).ok_or("overflow")?, params.len())?;
    if channels == 0 {
        return same_len("src", 0, src.len());
    }
    if src.len() % channels != 0 {
        return Err(format!("{} elements do not split into {channels} channels", src.len()));
    }
    let inner = src.len() / channels;
    if inner == 0 {
        return Ok(());
    }
    let (scale, shift) = params.split_at(channels);
    if src.len() < par_threshold() {
        dispatch(AffinePlanes { src, dst, scale, shift, inner });
    } else {
        let per = CHUNK.div_ceil(inner);
        dst.par_chunks_mut(per * inner).zip(src.par_chunks(per * inner)).enumerate().for_each(|(c, (dst, src))| {
            let (scale, shift) = (&scale[c * per..], &shift[c * per..]);
            dispatch(AffinePlanes { src, dst, scale, shift, inner });
        });
    }
    Ok(())
}
