//! Builder ops that move data around: Flatten, Reshape, Transpose, Concat, Split,
//! Squeeze/Unsqueeze, Resize (nearest upsampling), Softmax, MatMul and ReduceMean, each in
//! the form the selected opset requires.

use crate::builder::GraphBuilder;
use crate::proto::{attr_float, attr_int, attr_ints, attr_string};
use crate::shape::{self, fixed_at, norm_axis, show, Dim};
use crate::stats::Stats;
use anyhow::{ensure, Result};

impl GraphBuilder {
    /// `Flatten` at `axis` (PyTorch's `torch.flatten(x, 1)` exports `axis = 1`).
    pub fn flatten(&mut self, x: &str, axis: i64) -> String {
        self.guard(|b| {
            let v = b.value(x)?.clone();
            let rank = v.shape.len() as i64;
            ensure!(axis >= -rank && axis <= rank, "flatten: axis {axis} for rank {rank}");
            let ax = if axis < 0 { axis + rank } else { axis } as usize;
            let outer = if ax == 0 {
                Dim::Fixed(1)
            } else if ax == 1 {
                v.shape[0].clone()
            } else {
                Dim::Fixed(product(&v.shape[..ax], "flatten")?)
            };
            let inner = Dim::Fixed(product(&v.shape[ax..], "flatten")?);
            let attrs = vec![attr_int("axis", axis)];
            Ok(b.emit1("Flatten", vec![x.to_string()], attrs, vec![outer, inner], v.stats))
        })
    }

    /// `Reshape` with a constant int64 shape (0 copies a dim, -1 is inferred).
    pub fn reshape(&mut self, x: &str, dims: &[i64]) -> String {
        self.guard(|b| {
            let v = b.value(x)?.clone();
            let out = shape::reshape(&v.shape, dims)?;
            let k = b.const_i64(&[dims.len()], dims);
            Ok(b.emit1("Reshape", vec![x.to_string(), k], vec![], out, v.stats))
        })
    }

    /// `Transpose` with permutation `perm`.
    pub fn transpose(&mut self, x: &str, perm: &[usize]) -> String {
        self.guard(|b| {
            let v = b.value(x)?.clone();
            let out = shape::transpose(&v.shape, perm)?;
            let p: Vec<i64> = perm.iter().map(|&p| p as i64).collect();
            Ok(b.emit1("Transpose", vec![x.to_string()], vec![attr_ints("perm", &p)], out, v.stats))
        })
    }

    /// `Concat` along `axis`.
    pub fn concat<S: AsRef<str>>(&mut self, xs: &[S], axis: i64) -> String {
        self.guard(|b| {
            let mut shapes = vec![];
            let (mut sum, mut sq, mut count) = (0.0, 0.0, 0.0);
            for x in xs {
                let v = b.value(x.as_ref())?;
                let ax = norm_axis(axis, v.shape.len())?;
                let n = fixed_at(&v.shape, ax, "concat")? as f32;
                sum += v.stats.mean * n;
                sq += v.stats.rms * v.stats.rms * n;
                count += n;
                shapes.push(v.shape.clone());
            }
            let out = shape::concat(&shapes, axis)?;
            let inputs = xs.iter().map(|x| x.as_ref().to_string()).collect();
            let st = Stats { mean: sum / count, rms: (sq / count).sqrt() };
            Ok(b.emit1("Concat", inputs, vec![attr_int("axis", axis)], out, st))
        })
    }

    /// `Split` along `axis` into parts of the given sizes; one output per part. The sizes
    /// are an attribute below opset 13 and a constant input from 13.
    pub fn split(&mut self, x: &str, axis: i64, sizes: &[usize]) -> Vec<String> {
        self.guard_many(sizes.len(), |b| {
            let v = b.value(x)?.clone();
            let ax = norm_axis(axis, v.shape.len())?;
            let total = fixed_at(&v.shape, ax, "split")?;
            ensure!(
                sizes.iter().sum::<usize>() == total && sizes.iter().all(|&s| s > 0),
                "split: sizes {sizes:?} do not partition {total}"
            );
            let s64: Vec<i64> = sizes.iter().map(|&s| s as i64).collect();
            let mut inputs = vec![x.to_string()];
            let mut attrs = vec![attr_int("axis", axis)];
            if b.opset >= 13 {
                inputs.push(b.const_i64(&[sizes.len()], &s64));
            } else {
                attrs.push(attr_ints("split", &s64));
            }
            let outs = b.emit("Split", inputs, sizes.len(), attrs);
            for (o, &n) in outs.iter().zip(sizes) {
                let mut shape = v.shape.clone();
                shape[ax] = Dim::Fixed(n);
                b.define(o, shape, v.stats);
            }
            Ok(outs)
        })
    }

    /// `Squeeze` of size-1 `axes` (attribute below opset 13, input from 13).
    pub fn squeeze(&mut self, x: &str, axes: &[i64]) -> String {
        self.guard(|b| {
            let v = b.value(x)?.clone();
            let mut drop = vec![];
            for &a in axes {
                let ax = norm_axis(a, v.shape.len())?;
                ensure!(v.shape[ax] == Dim::Fixed(1), "squeeze: axis {ax} of {}", show(&v.shape));
                drop.push(ax);
            }
            let out = (0..v.shape.len()).filter(|i| !drop.contains(i)).map(|i| v.shape[i].clone()).collect();
            b.axes_op("Squeeze", x, axes, out, v.stats)
        })
    }

    /// `Unsqueeze` inserting size-1 `axes` (attribute below opset 13, input from 13).
    pub fn unsqueeze(&mut self, x: &str, axes: &[i64]) -> String {
        self.guard(|b| {
            let v = b.value(x)?.clone();
            let rank = v.shape.len() + axes.len();
            let mut ins = vec![];
            for &a in axes {
                ins.push(norm_axis(a, rank)?);
            }
            let mut rest = v.shape.iter();
            let mut out = vec![];
            for i in 0..rank {
                if ins.contains(&i) {
                    out.push(Dim::Fixed(1));
                } else if let Some(d) = rest.next() {
                    out.push(d.clone());
                }
            }
            ensure!(out.len() == rank, "unsqueeze: repeated axes {axes:?}");
            b.axes_op("Unsqueeze", x, axes, out, v.stats)
        })
    }

    /// Nearest-neighbour upsampling of the two spatial axes by an integer factor, as
    /// `nn.Upsample(scale_factor, mode="nearest")` exports it: `Resize` with a scales
    /// input (opset 11/12: empty roi constant; opset 13+: roi omitted).
    pub fn resize_nearest(&mut self, x: &str, scale: usize) -> String {
        self.guard(|b| {
            let v = b.value(x)?.clone();
            ensure!(v.shape.len() == 4 && scale >= 1, "resize expects NCHW and scale >= 1");
            let mut out = v.shape.clone();
            for (ax, d) in out.iter_mut().enumerate().skip(2) {
                *d = Dim::Fixed(fixed_at(&v.shape, ax, "resize")? * scale);
            }
            let roi = if b.opset >= 13 { String::new() } else { b.const_f32(&[0], &[]) };
            let s = scale as f32;
            let scales = b.const_f32(&[4], &[1.0, 1.0, s, s]);
            let attrs = vec![
                attr_string("coordinate_transformation_mode", "asymmetric"),
                attr_float("cubic_coeff_a", -0.75),
                attr_string("mode", "nearest"),
                attr_string("nearest_mode", "floor"),
            ];
            Ok(b.emit1("Resize", vec![x.to_string(), roi, scales], attrs, out, v.stats))
        })
    }

    /// `resize_nearest(x, 2)`.
    pub fn resize_nearest_2x(&mut self, x: &str) -> String {
        self.resize_nearest(x, 2)
    }

    /// Alias of `resize_nearest` (YOLO's `upsample` layer).
    pub fn upsample(&mut self, x: &str, scale: usize) -> String {
        self.resize_nearest(x, scale)
    }

    /// `Softmax` over `axis`. Below opset 13 Softmax flattens from `axis` on, so a
    /// non-last axis is exported as Transpose, Softmax(-1), Transpose like PyTorch does.
    pub fn softmax(&mut self, x: &str, axis: i64) -> String {
        let rank = self.shape(x).map_or(0, |s| s.len());
        let ax = match norm_axis(axis, rank) {
            Ok(ax) => ax,
            Err(e) => return self.guard(|_| Err(e)),
        };
        if self.opset < 13 && ax + 1 != rank {
            let mut perm: Vec<usize> = (0..rank).collect();
            perm.swap(ax, rank - 1);
            let t = self.transpose(x, &perm);
            let s = self.softmax(&t, -1);
            return self.transpose(&s, &perm);
        }
        self.guard(|b| {
            let v = b.value(x)?.clone();
            let st = v.stats.softmax(fixed_at(&v.shape, ax, "softmax")?);
            let attrs = vec![attr_int("axis", axis)];
            Ok(b.emit1("Softmax", vec![x.to_string()], attrs, v.shape, st))
        })
    }

    /// `MatMul` of two values (numpy semantics).
    pub fn matmul(&mut self, a: &str, c: &str) -> String {
        self.guard(|b| {
            let (va, vc) = (b.value(a)?.clone(), b.value(c)?.clone());
            let out = shape::matmul(&va.shape, &vc.shape)?;
            let k = fixed_at(&va.shape, va.shape.len() - 1, "matmul")? as f32;
            // sum of k products: E = k ma mc, E[x^2] = k ra^2 rc^2 + k (k - 1) (ma mc)^2.
            let (sa, sc) = (va.stats, vc.stats);
            let mm = sa.mean * sc.mean;
            let second = k * (sa.rms * sc.rms).powi(2) + k * (k - 1.0) * mm * mm;
            let st = Stats { mean: k * mm, rms: second.sqrt() };
            Ok(b.emit1("MatMul", vec![a.to_string(), c.to_string()], vec![], out, st))
        })
    }

    /// `ReduceMean` over `axes` (an attribute for all supported opsets).
    pub fn reduce_mean(&mut self, x: &str, axes: &[i64], keepdims: bool) -> String {
        self.guard(|b| {
            let v = b.value(x)?.clone();
            let mut red = vec![];
            for &a in axes {
                red.push(norm_axis(a, v.shape.len())?);
            }
            let mut out = vec![];
            for (i, d) in v.shape.iter().enumerate() {
                if !red.contains(&i) {
                    out.push(d.clone());
                } else if keepdims {
                    out.push(Dim::Fixed(1));
                }
            }
            let attrs = vec![attr_ints("axes", axes), attr_int("keepdims", keepdims as i64)];
            Ok(b.emit1("ReduceMean", vec![x.to_string()], attrs, out, v.stats))
        })
    }

    fn axes_op(&mut self, op: &str, x: &str, axes: &[i64], out: shape::Shape, stats: Stats) -> Result<String> {
        let mut inputs = vec![x.to_string()];
        let mut attrs = vec![];
        if self.opset >= 13 {
            inputs.push(self.const_i64(&[axes.len()], axes));
        } else {
            attrs.push(attr_ints("axes", axes));
        }
        Ok(self.emit1(op, inputs, attrs, out, stats))
    }
}

fn product(dims: &[Dim], what: &str) -> Result<usize> {
    let mut p = 1;
    for (i, d) in dims.iter().enumerate() {
        p *= fixed_at(dims, i, what).map_err(|e| e.context(format!("{d} is symbolic")))?;
    }
    Ok(p)
}
