//! Neural-network lowerings as plain loops (the host fallback, not the fast path): batched MatMul, Gemm, 2-D
//! pooling, LRN, direct convolution and Resize (nearest and bilinear, coordinates computed in the IR exactly as
//! the reference computes them).
use super::{
    broadcast_strides, close, close_nest, declare, loop_or_zero, open_nest, row_major, unary_value, unsupported,
};
use crate::kernel::build::Builder;
use crate::kernel::{BinaryFn, CmpFn, Kernel, KernelError, ReduceFn, ScalarType, UnaryFn, ValueId};
use crate::op::{resize, Conv, CoordMode, Gemm, Lrn, NearestRounding, Op, Pool, PoolKind, Resize, ResizeMode};
use crate::tensor::TensorType;

pub(super) fn matmul(inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let mut b = Builder::new("matmul");
    let (ins, out) = declare(&mut b, inputs, output);
    let (a, bd) = (inputs[0].shape.dims(), inputs[1].shape.dims());
    let (a_batch, m, k) = match a.len() {
        1 => (&a[..0], 1, a[0]),
        r => (&a[..r - 2], a[r - 2], a[r - 1]),
    };
    let (b_batch, n) = match bd.len() {
        1 => (&bd[..0], 1),
        r => (&bd[..r - 2], bd[r - 1]),
    };
    let batch = crate::shape::broadcast(&crate::Shape::new(a_batch), &crate::Shape::new(b_batch))?;
    let bdims = batch.dims();
    let scale = |s: Vec<i64>, by: usize| s.into_iter().map(|x| x * by as i64).collect::<Vec<_>>();
    let strides = vec![
        scale(row_major(bdims), m * n),
        scale(broadcast_strides(bdims, a_batch), m * k),
        scale(broadcast_strides(bdims, b_batch), k * n),
    ];
    let Some(nest) = open_nest(&mut b, bdims, &strides, &[0, 0, 0]) else { return Ok(b.finish()) };
    if m * n > 0 {
        let (yb, ab, bb) = (nest.index[0], nest.index[1], nest.index[2]);
        let i = b.loop_(m);
        let j = b.loop_(n);
        let p = b.reduce(ReduceFn::Sum, k);
        let ai = b.affine(&[(ab, 1), (i, k as i64), (p, 1)], 0);
        let bi = b.affine(&[(bb, 1), (p, n as i64), (j, 1)], 0);
        let (x, w) = (b.load(ins[0], ai), b.load(ins[1], bi));
        let prod = b.mul(x, w);
        let acc = b.end_reduce(prod);
        let yi = b.affine(&[(yb, 1), (i, n as i64), (j, 1)], 0);
        b.store(out, yi, acc);
        b.end();
        b.end();
    }
    close_nest(&mut b, nest);
    Ok(b.finish())
}

pub(super) fn gemm(g: &Gemm, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let mut b = Builder::new("gemm");
    let (ins, out) = declare(&mut b, inputs, output);
    let [m, n] = output.shape.dims()[..] else { return Err(unsupported(&Op::Gemm(g.clone()), "output rank")) };
    let ad = inputs[0].shape.dims();
    let k = if g.trans_a { ad[0] } else { ad[1] };
    if m * n == 0 {
        return Ok(b.finish());
    }
    let i = b.loop_(m);
    let j = b.loop_(n);
    let p = b.reduce(ReduceFn::Sum, k);
    let ai = if g.trans_a { b.affine(&[(p, m as i64), (i, 1)], 0) } else { b.affine(&[(i, k as i64), (p, 1)], 0) };
    let bi = if g.trans_b { b.affine(&[(j, k as i64), (p, 1)], 0) } else { b.affine(&[(p, n as i64), (j, 1)], 0) };
    let (x, w) = (b.load(ins[0], ai), b.load(ins[1], bi));
    let prod = b.mul(x, w);
    let acc = b.end_reduce(prod);
    let alpha = b.f32(g.alpha);
    let mut v = b.mul(alpha, acc);
    if let Some(c) = inputs.get(2) {
        let cs = broadcast_strides(&[m, n], c.shape.dims());
        let ci = b.affine(&[(i, cs[0]), (j, cs[1])], 0);
        let cv = b.load(ins[2], ci);
        let beta = b.f32(g.beta);
        let bc = b.mul(beta, cv);
        v = b.add(v, bc);
    }
    if let Some(act) = &g.act {
        v = unary_value(&mut b, act, v);
    }
    let yi = b.affine(&[(i, n as i64), (j, 1)], 0);
    b.store(out, yi, v);
    b.end();
    b.end();
    Ok(b.finish())
}

/// `lo <= x < hi` on i64 values.
fn within(b: &mut Builder, x: ValueId, lo: i64, hi: i64) -> ValueId {
    let (l, h) = (b.i64(lo), b.i64(hi));
    let ge = b.cmp(CmpFn::Ge, x, l);
    let lt = b.cmp(CmpFn::Lt, x, h);
    b.bin(BinaryFn::And, ge, lt)
}

/// Three nested loops (an extent-1 one becomes the constant 0): the variables and which loops were opened.
fn plane_loops(b: &mut Builder, planes: usize, oh: usize, ow: usize) -> ([ValueId; 3], [bool; 3]) {
    let (p, lp) = loop_or_zero(b, planes);
    let (y, ly) = loop_or_zero(b, oh);
    let (x, lx) = loop_or_zero(b, ow);
    ([p, y, x], [lp, ly, lx])
}

fn close_planes(b: &mut Builder, opened: [bool; 3]) {
    for o in opened.into_iter().rev() {
        close(b, o);
    }
}

pub(super) fn pool(p: &Pool, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let mut b = Builder::new(p.kind.name());
    let (ins, out) = declare(&mut b, inputs, output);
    let [n, c, h, w] = inputs[0].shape.dims()[..] else { return Err(unsupported(&Op::Pool(p.clone()), "rank")) };
    let [_, _, oh, ow] = output.shape.dims()[..] else { return Err(unsupported(&Op::Pool(p.clone()), "rank")) };
    if output.shape.numel() == 0 {
        return Ok(b.finish());
    }
    let ([pl, oy, ox], opened) = plane_loops(&mut b, n * c, oh, ow);
    let [kh, kw] = p.kernel;
    let y0 = b.affine(&[(oy, p.strides[0] as i64)], -(p.pads[0] as i64));
    let x0 = b.affine(&[(ox, p.strides[1] as i64)], -(p.pads[1] as i64));
    let (op, fill) = match p.kind {
        PoolKind::Max => (ReduceFn::Max, f32::NEG_INFINITY),
        PoolKind::Avg { .. } => (ReduceFn::Sum, 0.0),
    };
    let ky = b.reduce(op, kh);
    let kx = b.reduce(op, kw);
    let iy = b.add(y0, ky);
    let ix = b.add(x0, kx);
    let fill_v = b.f32(fill);
    let v = if h * w == 0 {
        fill_v
    } else {
        let (in_y, in_x) = (within(&mut b, iy, 0, h as i64), within(&mut b, ix, 0, w as i64));
        let inside = b.bin(BinaryFn::And, in_y, in_x);
        let (cy, cx) = (b.clamp_i64(iy, 0, h as i64 - 1), b.clamp_i64(ix, 0, w as i64 - 1));
        let xi = b.affine(&[(pl, (h * w) as i64), (cy, w as i64), (cx, 1)], 0);
        let x = b.load(ins[0], xi);
        b.select(inside, x, fill_v)
    };
    let inner = b.end_reduce(v);
    let mut acc = b.end_reduce(inner);
    if let PoolKind::Avg { count_include_pad } = p.kind {
        // The reference's divisor: positions inside the input, or inside the padded input.
        let (ylo, yhi, xlo, xhi) = if count_include_pad {
            (-(p.pads[0] as i64), (h + p.pads[2]) as i64, -(p.pads[1] as i64), (w + p.pads[3]) as i64)
        } else {
            (0, h as i64, 0, w as i64)
        };
        let span = |b: &mut Builder, start: ValueId, k: usize, lo: i64, hi: i64| {
            let l = b.i64(lo);
            let first = b.max(start, l);
            let kk = b.i64(k as i64);
            let end = b.add(start, kk);
            let hv = b.i64(hi);
            let last = b.min(end, hv);
            b.sub(last, first)
        };
        let sy = span(&mut b, y0, kh, ylo, yhi);
        let sx = span(&mut b, x0, kw, xlo, xhi);
        let area = b.mul(sy, sx);
        let one = b.i64(1);
        let area = b.max(area, one);
        let area = b.cast(ScalarType::F32, area);
        acc = b.div(acc, area);
    }
    let yi = b.affine(&[(pl, (oh * ow) as i64), (oy, ow as i64), (ox, 1)], 0);
    b.store(out, yi, acc);
    close_planes(&mut b, opened);
    Ok(b.finish())
}

pub(super) fn lrn(l: &Lrn, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let mut b = Builder::new("lrn");
    let (ins, out) = declare(&mut b, inputs, output);
    let dims = inputs[0].shape.dims();
    if output.shape.numel() == 0 {
        return Ok(b.finish());
    }
    let (n, c) = (dims[0], dims[1]);
    let inner: usize = dims[2..].iter().product();
    let (lo, hi) = ((l.size - 1) / 2, l.size.div_ceil(2) - 1);
    let ([bn, ch, i], opened) = plane_loops(&mut b, n, c, inner);
    let base = b.affine(&[(bn, (c * inner) as i64), (i, 1)], 0);
    let t = b.reduce(ReduceFn::Sum, lo + hi + 1);
    let j = b.affine(&[(ch, 1), (t, 1)], -(lo as i64));
    let inside = within(&mut b, j, 0, c as i64);
    let cj = b.clamp_i64(j, 0, c as i64 - 1);
    let xi = b.affine(&[(base, 1), (cj, inner as i64)], 0);
    let xj = b.load(ins[0], xi);
    let sq = b.mul(xj, xj);
    let zero = b.f32(0.0);
    let sq = b.select(inside, sq, zero);
    let sum = b.end_reduce(sq);
    let (bias, k) = (b.f32(l.bias), b.f32(l.alpha / l.size as f32));
    let t = b.mul(k, sum);
    let t = b.add(bias, t);
    let beta = b.f32(l.beta);
    let d = b.bin(BinaryFn::Pow, t, beta);
    let at = b.affine(&[(base, 1), (ch, inner as i64)], 0);
    let x = b.load(ins[0], at);
    let y = b.div(x, d);
    b.store(out, at, y);
    close_planes(&mut b, opened);
    Ok(b.finish())
}

pub(super) fn conv(cv: &Conv, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let mut b = Builder::new("conv");
    let (ins, out) = declare(&mut b, inputs, output);
    let [_, c, h, w] = inputs[0].shape.dims()[..] else { return Err(unsupported(&Op::Conv(cv.clone()), "rank")) };
    let [n, k, oh, ow] = output.shape.dims()[..] else { return Err(unsupported(&Op::Conv(cv.clone()), "rank")) };
    if output.shape.numel() == 0 {
        return Ok(b.finish());
    }
    let (cg, kg) = (c / cv.group, k / cv.group);
    let [kh, kw] = cv.kernel;
    // Output channel oc = g * kg + o reads input channels g * cg .. (g + 1) * cg.
    let ([bi, g, o], outer) = plane_loops(&mut b, n, cv.group, kg);
    let oc = b.affine(&[(g, kg as i64), (o, 1)], 0);
    let g0 = b.affine(&[(g, cg as i64)], 0);
    let ([_, oy, ox], opened) = plane_loops(&mut b, 1, oh, ow);
    let y0 = b.affine(&[(oy, cv.strides[0] as i64)], -(cv.pads[0] as i64));
    let x0 = b.affine(&[(ox, cv.strides[1] as i64)], -(cv.pads[1] as i64));
    let ic = b.reduce(ReduceFn::Sum, cg);
    let ky = b.reduce(ReduceFn::Sum, kh);
    let kx = b.reduce(ReduceFn::Sum, kw);
    let iy = b.affine(&[(y0, 1), (ky, cv.dilations[0] as i64)], 0);
    let ix = b.affine(&[(x0, 1), (kx, cv.dilations[1] as i64)], 0);
    let zero = b.f32(0.0);
    let term = if h * w == 0 {
        zero
    } else {
        let (in_y, in_x) = (within(&mut b, iy, 0, h as i64), within(&mut b, ix, 0, w as i64));
        let inside = b.bin(BinaryFn::And, in_y, in_x);
        let (cy, cx) = (b.clamp_i64(iy, 0, h as i64 - 1), b.clamp_i64(ix, 0, w as i64 - 1));
        let xc = b.add(g0, ic);
        let xi = b.affine(&[(bi, (c * h * w) as i64), (xc, (h * w) as i64), (cy, w as i64), (cx, 1)], 0);
        let wi = b.affine(&[(oc, (cg * kh * kw) as i64), (ic, (kh * kw) as i64), (ky, kw as i64), (kx, 1)], 0);
        let (xv, wv) = (b.load(ins[0], xi), b.load(ins[1], wi));
        let prod = b.mul(xv, wv);
        b.select(inside, prod, zero)
    };
    let s = b.end_reduce(term);
    let s = b.end_reduce(s);
    let mut acc = b.end_reduce(s);
    if inputs.len() > 2 {
        let bv = b.load(ins[2], oc);
        acc = b.add(bv, acc);
    }
    let yi = b.affine(&[(bi, (k * oh * ow) as i64), (oc, (oh * ow) as i64), (oy, ow as i64), (ox, 1)], 0);
    if inputs.len() > 3 {
        let r = b.load(ins[3], yi);
        acc = b.add(acc, r);
    }
    if let Some(act) = &cv.act {
        acc = unary_value(&mut b, act, acc);
    }
    b.store(out, yi, acc);
    close_planes(&mut b, opened);
    close_planes(&mut b, outer);
    Ok(b.finish())
}

/// The source coordinate of output position `o` (an i64 loop variable) on spatial axis `axis`, as
/// `Resize::source` computes it.
fn source(b: &mut Builder, r: &Resize, axis: usize, o: ValueId, in_len: usize, out_len: usize) -> ValueId {
    let scale = r.scales[axis];
    let of = b.cast(ScalarType::F32, o);
    let half_pixel = |b: &mut Builder| {
        let (h, s) = (b.f32(0.5), b.f32(scale));
        let t = b.add(of, h);
        let t = b.div(t, s);
        b.sub(t, h)
    };
    match r.coord {
        CoordMode::HalfPixel => half_pixel(b),
        CoordMode::PytorchHalfPixel if out_len > 1 => half_pixel(b),
        CoordMode::AlignCorners if out_len > 1 => {
            let len = resize::unrounded_len(in_len, out_len, scale);
            let (num, den) = (b.f32(in_len as f32 - 1.0), b.f32(len - 1.0));
            let t = b.mul(of, num);
            b.div(t, den)
        }
        CoordMode::TfCropAndResize { start_bits, end_bits, .. } => {
            let (start, end) = (f32::from_bits(start_bits[axis]), f32::from_bits(end_bits[axis]));
            let t = resize::crop_terms(start, end, in_len, out_len, scale);
            let (step, den, offset) = (b.f32(t.step), b.f32(t.den), b.f32(t.offset));
            let u = b.mul(of, step);
            let u = b.div(u, den);
            b.add(u, offset)
        }
        CoordMode::PytorchHalfPixel | CoordMode::AlignCorners => b.f32(0.0),
        CoordMode::Asymmetric => {
            let s = b.f32(scale);
            b.div(of, s)
        }
        CoordMode::HalfPixelSymmetric => {
            let t = half_pixel(b);
            let offset = b.f32(resize::symmetric_offset(in_len, out_len, scale));
            b.add(offset, t)
        }
    }
}

/// `f32::round` (half away from zero) from truncation, exactly.
fn round_half_away(b: &mut Builder, s: ValueId) -> ValueId {
    let t = b.un(UnaryFn::Trunc, s);
    let d = b.sub(s, t);
    let ad = b.un(UnaryFn::Abs, d);
    let half = b.f32(0.5);
    let away = b.cmp(CmpFn::Ge, ad, half);
    let zero = b.f32(0.0);
    let neg = b.cmp(CmpFn::Lt, s, zero);
    let (one, minus) = (b.f32(1.0), b.f32(-1.0));
    let step = b.select(neg, minus, one);
    let bumped = b.add(t, step);
    b.select(away, bumped, t)
}

/// The nearest source index, as the reference's `nearest`.
fn nearest(b: &mut Builder, s: ValueId, r: NearestRounding, len: usize) -> ValueId {
    let i = match r {
        NearestRounding::RoundPreferFloor => {
            let t = b.un(UnaryFn::Trunc, s);
            let fract = b.sub(s, t);
            let half = b.f32(0.5);
            let tie = b.cmp(CmpFn::Eq, fract, half);
            let fl = b.un(UnaryFn::Floor, s);
            let rd = round_half_away(b, s);
            b.select(tie, fl, rd)
        }
        NearestRounding::RoundPreferCeil => round_half_away(b, s),
        NearestRounding::Floor => b.un(UnaryFn::Floor, s),
        NearestRounding::Ceil => b.un(UnaryFn::Ceil, s),
    };
    let i = b.cast(ScalarType::I64, i);
    b.clamp_i64(i, 0, len as i64 - 1)
}

fn cubic_unsupported(r: &Resize) -> KernelError {
    unsupported(&Op::Resize(r.clone()), "cubic mode")
}

/// Whether `s` lies outside `[0, len - 1]` (tf_crop_and_resize extrapolates there).
fn outside(b: &mut Builder, s: ValueId, len: usize) -> ValueId {
    let c = b.clamp_f32(s, 0.0, len as f32 - 1.0);
    b.cmp(CmpFn::Ne, c, s)
}

pub(super) fn resize(r: &Resize, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let mut b = Builder::new(match r.mode {
        ResizeMode::Nearest(_) => "resize-nearest",
        ResizeMode::Linear if r.antialias => return Err(unsupported(&Op::Resize(r.clone()), "antialias")),
        ResizeMode::Linear => "resize-linear",
        // Bicubic and antialiased filters run in operator form (their taps are not lowered).
        ResizeMode::Cubic { .. } => return Err(cubic_unsupported(r)),
    });
    let (ins, out) = declare(&mut b, inputs, output);
    let [n, c, h, w] = inputs[0].shape.dims()[..] else { return Err(unsupported(&Op::Resize(r.clone()), "rank")) };
    let [oh, ow] = r.out_hw;
    if output.shape.numel() == 0 {
        return Ok(b.finish());
    }
    if h * w == 0 {
        return Err(unsupported(&Op::Resize(r.clone()), "resize of an empty plane to a non-empty one"));
    }
    let (pl, lp) = loop_or_zero(&mut b, n * c);
    let (oy, ly) = loop_or_zero(&mut b, oh);
    let sy = source(&mut b, r, 0, oy, h, oh);
    let (ox, lx) = loop_or_zero(&mut b, ow);
    let sx = source(&mut b, r, 1, ox, w, ow);
    let plane = b.affine(&[(pl, (h * w) as i64)], 0);
    let at = |b: &mut Builder, y: ValueId, x: ValueId| {
        let i = b.affine(&[(plane, 1), (y, w as i64), (x, 1)], 0);
        b.load(ins[0], i)
    };
    let v = match r.mode {
        ResizeMode::Cubic { .. } => return Err(cubic_unsupported(r)),
        ResizeMode::Nearest(rounding) => {
            let iy = nearest(&mut b, sy, rounding, h);
            let ix = nearest(&mut b, sx, rounding, w);
            at(&mut b, iy, ix)
        }
        ResizeMode::Linear => {
            let corner = |b: &mut Builder, s: ValueId, len: usize| {
                let s = b.clamp_f32(s, 0.0, (len - 1) as f32);
                let f = b.un(UnaryFn::Floor, s);
                let i0 = b.cast(ScalarType::I64, f);
                let i0 = b.clamp_i64(i0, 0, len as i64 - 1);
                let one = b.i64(1);
                let i1 = b.add(i0, one);
                let top = b.i64(len as i64 - 1);
                let i1 = b.min(i1, top);
                let f0 = b.cast(ScalarType::F32, i0);
                let frac = b.sub(s, f0);
                (i0, i1, frac)
            };
            let (y0, y1, fy) = corner(&mut b, sy, h);
            let (x0, x1, fx) = corner(&mut b, sx, w);
            let one = b.f32(1.0);
            let (gx, gy) = (b.sub(one, fx), b.sub(one, fy));
            let row = |b: &mut Builder, y: ValueId| {
                let (a, c) = (at(b, y, x0), at(b, y, x1));
                let a = b.mul(a, gx);
                let c = b.mul(c, fx);
                b.add(a, c)
            };
            let top = row(&mut b, y0);
            let bottom = row(&mut b, y1);
            let t = b.mul(top, gy);
            let u = b.mul(bottom, fy);
            b.add(t, u)
        }
    };
    let v = match r.coord.extrapolation() {
        Some(e) => {
            let (oy, ox) = (outside(&mut b, sy, h), outside(&mut b, sx, w));
            let e = b.f32(e);
            let v = b.select(oy, e, v);
            b.select(ox, e, v)
        }
        None => v,
    };
    let yi = b.affine(&[(pl, (oh * ow) as i64), (oy, ow as i64), (ox, 1)], 0);
    b.store(out, yi, v);
    close(&mut b, lx);
    close(&mut b, ly);
    close(&mut b, lp);
    Ok(b.finish())
}
