//! The reference convolutions' inner loops, shared by the f32 operator (`op::Conv::eval`) and the bf16 and
//! int8 block kernels (`bf16::conv`, `int8::conv`): output planes' accumulators (f32, or wrapping i32), each element adding its taps' products in the
//! defined (ic, ky, kx) order, computed a row (or a whole plane) at a time so that the innermost loops
//! vectorize. Calibration and the precision report evaluate whole models with these, so a per-element loop
//! made a 1440x1440 model take many minutes; the order every element sees is unchanged.
use super::ConvGeom;
use std::borrow::Cow;

/// What a tap in the padding contributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Padding {
    /// Nothing (the f32 operator skips the tap).
    Skip,
    /// `0 * w` (the bf16 block kernel reads a zero there: `+0`, `-0`, or NaN for an infinite weight).
    ZeroProduct,
}

/// One convolution's tap geometry, computed once per evaluation instead of once per row and tap.
pub(crate) struct PlaneConv {
    g: ConvGeom,
    padding: Padding,
    /// Per `kx`: the output columns `lo..hi` whose tap lies inside the input row, and the input column of `lo`
    /// (`(0, 0, 0)` when none does).
    columns: Vec<(usize, usize, usize)>,
    /// For a 3-wide kernel at stride 1 with skipped padding: the output columns `l..r` where all three taps lie
    /// inside the input.
    interior: Option<(usize, usize)>,
    /// A 1x1 stride-1 unpadded convolution: a whole plane per pass.
    pointwise: bool,
}

impl PlaneConv {
    pub(crate) fn new(g: &ConvGeom, padding: Padding) -> PlaneConv {
        let (wd, ow, sx) = (g.in_w, g.out_w, g.stride[1]);
        let columns: Vec<(usize, usize, usize)> = (0..g.kernel[1])
            .map(|kx| {
                let off = (kx * g.dilation[1]) as isize - g.pad[1] as isize;
                let lo = if off >= 0 { 0 } else { (-off) as usize }.div_ceil(sx);
                let hi = if (wd as isize) <= off { 0 } else { (wd as isize - off - 1) as usize / sx + 1 }.min(ow);
                if lo >= hi {
                    (0, 0, 0)
                } else {
                    (lo, hi, ((lo * sx) as isize + off) as usize)
                }
            })
            .collect();
        let interior = (g.kernel[1] == 3 && sx == 1 && padding == Padding::Skip)
            .then(|| {
                let l = columns.iter().map(|c| c.0).max().unwrap_or(0);
                let r = columns.iter().map(|c| c.1).min().unwrap_or(0);
                (l, r)
            })
            .filter(|(l, r)| l < r);
        let pointwise =
            g.kernel == [1, 1] && g.stride == [1, 1] && g.pad == [0, 0] && (g.in_h, g.in_w) == (g.out_h, g.out_w);
        PlaneConv { g: *g, padding, columns, interior, pointwise }
    }

    /// The image `x` (`in_c` planes) as `accumulate` reads it: itself, or at a column stride above 1 each row
    /// split into its phases (columns `p, p + sx, ...` in a run each, runs `row_len / sx` apart), done once per
    /// image rather than per output channel so that every tap reads contiguous memory.
    pub(crate) fn prepare<'a, T: Mac>(&self, x: &'a [T]) -> Cow<'a, [T]> {
        let (sx, wd) = (self.g.stride[1], self.g.in_w);
        if sx == 1 || wd == 0 {
            return Cow::Borrowed(x);
        }
        let per_phase = wd.div_ceil(sx);
        let mut out = vec![T::ZERO; x.len() / wd.max(1) * per_phase * sx];
        for (row, src) in out.chunks_mut(per_phase * sx).zip(x.chunks(wd)) {
            for p in 0..sx.min(wd) {
                for (d, &v) in row[p * per_phase..].iter_mut().zip(src.iter().skip(p).step_by(sx)) {
                    *d = v;
                }
            }
        }
        Cow::Owned(out)
    }

    /// Output channels per `accumulate` call: they share each input row while it is in cache (at 1440x1440 an
    /// input plane is megabytes, so a channel at a time re-reads the whole input from memory per output
    /// channel). The most of 8, 4, 2, 1 that divides a group's output channels, so a block never straddles
    /// groups or images.
    pub(crate) fn block(&self) -> usize {
        let kg = self.g.out_c / self.g.groups.max(1);
        [8, 4, 2, 1].into_iter().find(|b| kg % b == 0).unwrap_or(1)
    }

    /// Adds the taps of output channels `oc0..oc0 + n` to `acc` (their `n` planes of `out_h x out_w`, holding
    /// each element's initial value; `n` at most `block()` and within one group): `x` is the image as
    /// `prepare` returns it, `w` all the weights (OIHW). Works in bands of output rows, all `n` channels per
    /// input row, so that the accumulators and the rows stay in cache.
    pub(crate) fn accumulate<T: Mac>(&self, x: &[T], w: &[T], oc0: usize, acc: &mut [T]) {
        let g = &self.g;
        let (cg, kg) = (g.in_c / g.groups, g.out_c / g.groups);
        let [kh, kw] = g.kernel;
        let sx = g.stride[1];
        let (h, oh, ow) = (g.in_h, g.out_h, g.out_w);
        let plane = oh * ow;
        if plane == 0 {
            return;
        }
        let n = acc.len() / plane;
        // The length of a prepared row.
        let wd = if sx == 1 || g.in_w == 0 { g.in_w } else { g.in_w.div_ceil(sx) * sx };
        let first = oc0 / kg * cg;
        let x_plane = |ic: usize| &x[(first + ic) * h * wd..][..h * wd];
        let w_of = |o: usize| &w[(oc0 + o) * cg * kh * kw..][..cg * kh * kw];
        // Accumulator elements per band, over all `n` channels: 64 KiB (a few in tests, so that their small
        // shapes take several bands).
        const BAND: usize = if cfg!(test) { 24 } else { 16 << 10 };
        if self.pointwise {
            let span = (BAND / n).max(1);
            for start in (0..plane).step_by(span) {
                let end = (start + span).min(plane);
                for (o, acc) in acc.chunks_mut(plane).enumerate() {
                    let (acc, w_oc) = (&mut acc[start..end], w_of(o));
                    // Four input channels per pass: each element still adds their products one after another.
                    let mut ic = 0;
                    while ic + 4 <= cg {
                        let xs = [0, 1, 2, 3].map(|d| &x_plane(ic + d)[start..end]);
                        axpy4(acc, xs, [w_oc[ic], w_oc[ic + 1], w_oc[ic + 2], w_oc[ic + 3]]);
                        ic += 4;
                    }
                    for (ic, &wv) in w_oc.iter().enumerate().skip(ic) {
                        axpy(acc, &x_plane(ic)[start..end], wv);
                    }
                }
            }
            return;
        }
        let band = (BAND / (n * ow).max(1)).clamp(1, oh);
        for oy0 in (0..oh).step_by(band) {
            for ic in 0..cg {
                let x_plane = x_plane(ic);
                for ky in 0..kh {
                    for oy in oy0..(oy0 + band).min(oh) {
                        let iy = self.input_row(oy, ky);
                        for (o, acc) in acc.chunks_mut(plane).enumerate() {
                            let taps = &w_of(o)[(ic * kh + ky) * kw..][..kw];
                            let row = &mut acc[oy * ow..][..ow];
                            match iy {
                                Some(iy) => self.row(row, &x_plane[iy * wd..][..wd], taps),
                                None if self.padding == Padding::ZeroProduct => {
                                    for &wv in taps {
                                        add(row, T::ZERO.mul(wv));
                                    }
                                }
                                None => {}
                            }
                        }
                    }
                }
            }
        }
    }

    /// The input row that output row `oy`'s tap `ky` reads, if inside the input.
    fn input_row(&self, oy: usize, ky: usize) -> Option<usize> {
        let g = &self.g;
        (oy * g.stride[0] + ky * g.dilation[0]).checked_sub(g.pad[0]).filter(|&iy| iy < g.in_h)
    }

    /// Adds one kernel row's taps `w` (in `kx` order) reading input row `x_row` to output row `row`. With three
    /// taps at stride 1, the columns where all three lie inside the input take them in one pass (each element
    /// still adds them left to right); the edge columns, and other kernels, take one tap per pass. `x_row` is a
    /// prepared row (split into phases at a column stride above 1).
    fn row<T: Mac>(&self, row: &mut [T], x_row: &[T], w: &[T]) {
        if let (Some((l, r)), &[w0, w1, w2]) = (self.interior, w) {
            for (&wv, &(lo, hi, first)) in w.iter().zip(&self.columns) {
                if lo < hi.min(l) {
                    axpy(&mut row[lo..hi.min(l)], &x_row[first..], wv);
                }
            }
            let [x0, x1, x2] = [0, 1, 2].map(|kx| {
                let (lo, _, first) = self.columns[kx];
                &x_row[first + (l - lo)..]
            });
            axpy3(&mut row[l..r], [x0, x1, x2], [w0, w1, w2]);
            for (&wv, &(lo, hi, first)) in w.iter().zip(&self.columns) {
                let start = lo.max(r);
                if start < hi {
                    axpy(&mut row[start..hi], &x_row[first + (start - lo)..], wv);
                }
            }
            return;
        }
        let sx = self.g.stride[1];
        let per_phase = x_row.len() / sx;
        for (&wv, &(lo, hi, first)) in w.iter().zip(&self.columns) {
            if lo < hi {
                let start = if sx == 1 { first } else { first % sx * per_phase + first / sx };
                axpy(&mut row[lo..hi], &x_row[start..], wv);
            }
            if self.padding == Padding::ZeroProduct {
                add(&mut row[..lo.min(hi)], T::ZERO.mul(wv));
                add(&mut row[hi.max(lo)..], T::ZERO.mul(wv));
            }
        }
    }
}

/// The arithmetic of an accumulator: f32 (`acc + x * w`, each rounded) or i32 (wrapping, the int8 kernels'
/// definition, where the order cannot matter).
pub(crate) trait Mac: Copy + Send + Sync {
    const ZERO: Self;
    fn mul(self, w: Self) -> Self;
    fn add(self, v: Self) -> Self;
}

impl Mac for f32 {
    const ZERO: f32 = 0.0;
    #[inline(always)]
    fn mul(self, w: f32) -> f32 {
        self * w
    }
    #[inline(always)]
    fn add(self, v: f32) -> f32 {
        self + v
    }
}

impl Mac for i32 {
    const ZERO: i32 = 0;
    #[inline(always)]
    fn mul(self, w: i32) -> i32 {
        self.wrapping_mul(w)
    }
    #[inline(always)]
    fn add(self, v: i32) -> i32 {
        self.wrapping_add(v)
    }
}

/// `y[i] += v`.
#[inline(always)]
fn add<T: Mac>(y: &mut [T], v: T) {
    for o in y {
        *o = o.add(v);
    }
}

/// `y[i] += x[i] * w` over `y`'s length (`x` at least as long).
#[inline(always)]
pub(crate) fn axpy<T: Mac>(y: &mut [T], x: &[T], w: T) {
    for (o, &xv) in y.iter_mut().zip(x) {
        *o = o.add(xv.mul(w));
    }
}

/// `axpy` of three inputs in turn, one pass over `y`, left to right.
#[inline(always)]
fn axpy3<T: Mac>(y: &mut [T], x: [&[T]; 3], w: [T; 3]) {
    let n = y.len();
    let [x0, x1, x2] = x.map(|x| &x[..n]);
    for i in 0..n {
        y[i] = y[i].add(x0[i].mul(w[0])).add(x1[i].mul(w[1])).add(x2[i].mul(w[2]));
    }
}

/// `axpy` of four inputs in turn, one pass over `y`: `y[i] = y[i] + x0[i] w0 + x1[i] w1 + ...`, left to right.
#[inline(always)]
fn axpy4<T: Mac>(y: &mut [T], x: [&[T]; 4], w: [T; 4]) {
    let n = y.len();
    let [x0, x1, x2, x3] = x.map(|x| &x[..n]);
    for i in 0..n {
        y[i] = y[i].add(x0[i].mul(w[0])).add(x1[i].mul(w[1])).add(x2[i].mul(w[2])).add(x3[i].mul(w[3]));
    }
}
