//! Layout operators: Reshape/Flatten/Squeeze/Unsqueeze (all become a static Reshape), Transpose, Concat,
//! Slice and Split (static strided slices with bounds clamped here), constant-mode Pad, and Gather with
//! constant indices. Every axis, perm and index is normalized and range-checked here (BAD-INPUT #6).
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use crate::ir::ValueId;
use accel_ops::op::{Concat, Gather, Op, Pad, Reshape, Slice, Transpose};
use accel_ops::shape::checked_numel;
use accel_ops::{DType, Shape, Tensor};

type Res = Result<(), ImportError>;

fn reshape_to(b: &mut Builder<'_>, n: &OnnxNode<'_>, x: ValueId, dims: Vec<usize>) -> Res {
    b.emit_out(n, Op::Reshape(Reshape { shape: Shape(dims) }), &[x])?;
    Ok(())
}

/// The output dims of ONNX Reshape: `0` copies the input dim (unless `allowzero`), one `-1` is inferred.
pub(crate) fn reshape_dims(input: &[usize], spec: &[i64], allowzero: bool) -> Result<Vec<usize>, String> {
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &s) in spec.iter().enumerate() {
        let d = match s {
            -1 => {
                if infer.replace(i).is_some() {
                    return Err(format!("shape {spec:?} has more than one -1"));
                }
                1
            }
            0 if !allowzero => *input
                .get(i)
                .ok_or_else(|| format!("shape {spec:?} copies dim {i}, but the input has rank {}", input.len()))?,
            s if s < 0 => return Err(format!("shape {spec:?} has a negative dim {s}")),
            s => usize::try_from(s).map_err(|_| format!("dim {s} is too large"))?,
        };
        out.push(d);
    }
    let known = checked_numel(&out).map_err(|_| format!("the element count of shape {spec:?} overflows"))?;
    let total = checked_numel(input).map_err(|e| e.to_string())?;
    if let Some(i) = infer {
        if allowzero && spec.contains(&0) {
            return Err(format!("shape {spec:?} has both -1 and 0 with allowzero"));
        }
        if known == 0 || total % known != 0 {
            return Err(format!("cannot infer the -1 in {spec:?} for {total} elements"));
        }
        out[i] = total / known;
    } else if known != total {
        return Err(format!("cannot reshape {input:?} ({total} elements) to {spec:?} ({known} elements)"));
    }
    Ok(out)
}

pub(super) fn reshape(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 2)?;
    let x = b.input(n, 0)?;
    let spec = b.const_ints(n, 1, "shape")?.ok_or_else(|| n.err("required input #1 (shape) is missing"))?;
    let allowzero = n.opset >= 14 && n.flag("allowzero", false)?;
    let dims = reshape_dims(b.dims(x), &spec, allowzero).map_err(|e| n.err(e))?;
    reshape_to(b, n, x, dims)
}

pub(super) fn flatten(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let dims = b.dims(x).to_vec();
    // The axis ranges over -rank..=rank (rank puts everything in the outer dim).
    let a = n.int_or("axis", 1)?;
    let r = dims.len() as i64;
    if a < -r || a > r {
        return Err(n.err(format!("axis {a} is out of range for rank {r}")));
    }
    let axis = (if a < 0 { a + r } else { a }) as usize;
    let outer: usize = dims[..axis].iter().product();
    let inner: usize = dims[axis..].iter().product();
    reshape_to(b, n, x, vec![outer, inner])
}

/// Squeeze/Unsqueeze axes: an attribute before opset 13, a constant input from 13.
fn axes_arg(b: &Builder<'_>, n: &OnnxNode<'_>) -> Result<Option<Vec<i64>>, ImportError> {
    if n.opset >= 13 {
        b.arity(n, 1, 2)?;
        b.const_ints(n, 1, "axes")
    } else {
        b.arity(n, 1, 1)?;
        Ok(n.ints("axes")?.map(<[i64]>::to_vec))
    }
}

pub(super) fn squeeze(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let x = b.input(n, 0)?;
    let axes = axes_arg(b, n)?;
    let dims = b.dims(x).to_vec();
    let drop = match axes {
        None => (0..dims.len()).filter(|&a| dims[a] == 1).collect(),
        Some(a) => n.axes(&a, dims.len(), "axes")?,
    };
    if let Some(&a) = drop.iter().find(|&&a| dims[a] != 1) {
        return Err(n.err(format!("cannot squeeze axis {a} of size {}", dims[a])));
    }
    let out = dims.iter().enumerate().filter(|(a, _)| !drop.contains(a)).map(|(_, &d)| d).collect();
    reshape_to(b, n, x, out)
}

pub(super) fn unsqueeze(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let x = b.input(n, 0)?;
    let axes = axes_arg(b, n)?.ok_or_else(|| n.err("axes are required"))?;
    let dims = b.dims(x).to_vec();
    let rank = dims.len().checked_add(axes.len()).ok_or_else(|| n.err("rank overflows"))?;
    let axes = n.axes(&axes, rank, "axes")?;
    let mut rest = dims.into_iter();
    let out = (0..rank).map(|a| if axes.contains(&a) { 1 } else { rest.next().unwrap_or(1) }).collect();
    reshape_to(b, n, x, out)
}

pub(super) fn transpose(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let rank = b.dims(x).len();
    let perm: Vec<usize> = match n.ints("perm")? {
        None => (0..rank).rev().collect(),
        Some(p) => {
            let mut seen = vec![false; rank];
            let mut out = Vec::with_capacity(rank);
            if p.len() != rank {
                return Err(n.err(format!("perm {p:?} does not match rank {rank}")));
            }
            for &a in p {
                let a = usize::try_from(a)
                    .ok()
                    .filter(|&a| a < rank)
                    .ok_or_else(|| n.err(format!("perm {p:?} is out of range for rank {rank}")))?;
                if std::mem::replace(&mut seen[a], true) {
                    return Err(n.err(format!("perm {p:?} repeats axis {a}")));
                }
                out.push(a);
            }
            out
        }
    };
    b.emit_out(n, Op::Transpose(Transpose { perm }), &[x])?;
    Ok(())
}

pub(super) fn concat(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let count = n.proto.input.len();
    if count == 0 {
        return Err(n.err("needs at least one input"));
    }
    let inputs = (0..count).map(|i| b.input(n, i)).collect::<Result<Vec<_>, _>>()?;
    let rank = b.dims(inputs[0]).len();
    let axis = n.int("axis")?.ok_or_else(|| n.err("attribute `axis` is required"))?;
    let axis = n.axis(axis, rank, "axis")?;
    b.emit_out(n, Op::Concat(Concat { axis }), &inputs)?;
    Ok(())
}

/// Clamped start and element count of `start:end:step` (step > 0) on a dim of length `dim`.
fn clamp_slice(dim: usize, start: i64, end: i64, step: i64) -> (usize, usize) {
    let d = dim as i128;
    let norm = |v: i64| {
        let v = i128::from(v);
        (if v < 0 { v + d } else { v }).clamp(0, d)
    };
    let (s, e, st) = (norm(start), norm(end), i128::from(step));
    let len = if e > s { (e - s + st - 1) / st } else { 0 };
    (s as usize, len as usize)
}

pub(super) fn slice(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let x = b.input(n, 0)?;
    let (starts, ends, axes, steps) = if n.opset < 10 {
        b.arity(n, 1, 1)?;
        let req = |name: &str| {
            n.ints(name)?.map(<[i64]>::to_vec).ok_or_else(|| n.err(format!("attribute `{name}` is required")))
        };
        (req("starts")?, req("ends")?, n.ints("axes")?.map(<[i64]>::to_vec), None)
    } else {
        b.arity(n, 3, 5)?;
        let req =
            |i, what: &str| b.const_ints(n, i, what)?.ok_or_else(|| n.err(format!("input #{i} ({what}) is required")));
        (req(1, "starts")?, req(2, "ends")?, b.const_ints(n, 3, "axes")?, b.const_ints(n, 4, "steps")?)
    };
    let dims = b.dims(x).to_vec();
    let k = starts.len();
    let axes = match axes {
        None => (0..k as i64).collect(),
        Some(a) => a,
    };
    let steps = steps.unwrap_or_else(|| vec![1; k]);
    if ends.len() != k || axes.len() != k || steps.len() != k {
        return Err(
            n.err(format!("starts {starts:?}, ends {ends:?}, axes {axes:?} and steps {steps:?} differ in length"))
        );
    }
    // Validates and rejects repeated axes (the order stays the given one).
    n.axes(&axes, dims.len(), "axes")?;
    let mut op = Slice { starts: vec![0; dims.len()], lens: dims.clone(), steps: vec![1; dims.len()] };
    // Axes with a negative step: gathered after the slice of the others (`index_map`).
    let mut reversed = Vec::new();
    for i in 0..k {
        let a = n.axis(axes[i], dims.len(), "axes")?;
        match steps[i] {
            0 => return Err(n.err("slice step 0 is invalid")),
            s if s < 0 => reversed.push((a, super::index_map::reversed(dims[a], starts[i], ends[i], s))),
            s => {
                let (start, len) = clamp_slice(dims[a], starts[i], ends[i], s);
                op.starts[a] = start;
                op.lens[a] = len;
                op.steps[a] = s as usize;
            }
        }
    }
    if reversed.is_empty() {
        b.emit_out(n, Op::Slice(op), &[x])?;
        return Ok(());
    }
    let x = if op.lens == dims && op.steps.iter().all(|&s| s == 1) {
        x
    } else {
        let name = b.helper_name(n, "forward")?;
        b.emit(n, Op::Slice(op), &[x], &name)?
    };
    super::index_map::gather_axes(b, n, x, reversed)
}

pub(super) fn split(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let x = b.input(n, 0)?;
    let dims = b.dims(x).to_vec();
    let axis = n.axis(n.int_or("axis", 0)?, dims.len(), "axis")?;
    let sizes = if n.opset >= 13 {
        b.arity(n, 1, 2)?;
        b.const_ints(n, 1, "split")?
    } else {
        b.arity(n, 1, 1)?;
        n.ints("split")?.map(<[i64]>::to_vec)
    };
    let outputs = n.proto.output.len();
    if outputs == 0 {
        return Err(n.err("has no outputs"));
    }
    let d = dims[axis];
    let sizes: Vec<usize> = match sizes {
        Some(s) => {
            if s.len() != outputs {
                return Err(n.err(format!("split {s:?} does not match {outputs} outputs")));
            }
            let s = s.iter().map(|&v| n.to_usize(v, "split")).collect::<Result<Vec<_>, _>>()?;
            if s.iter().try_fold(0usize, |a, &v| a.checked_add(v)) != Some(d) {
                return Err(n.err(format!("split {s:?} does not sum to the axis length {d}")));
            }
            s
        }
        None => {
            if let Some(k) = n.int("num_outputs")? {
                if usize::try_from(k).ok() != Some(outputs) {
                    return Err(n.err(format!("num_outputs {k} does not match {outputs} outputs")));
                }
            }
            if d.checked_rem(outputs) == Some(0) {
                vec![d / outputs; outputs]
            } else if n.opset >= 18 {
                // The last chunk is smaller.
                let chunk = d.div_ceil(outputs);
                let rest = d
                    .checked_sub(chunk * (outputs - 1))
                    .ok_or_else(|| n.err(format!("cannot split {d} into {outputs} chunks")))?;
                let mut v = vec![chunk; outputs - 1];
                v.push(rest);
                v
            } else {
                return Err(n.err(format!("axis length {d} does not split evenly into {outputs} outputs")));
            }
        }
    };
    let mut offset = 0;
    for (i, &len) in sizes.iter().enumerate() {
        let name = b.output_name(n, i)?.to_string();
        if !name.is_empty() {
            let mut op = Slice { starts: vec![0; dims.len()], lens: dims.clone(), steps: vec![1; dims.len()] };
            op.starts[axis] = offset;
            op.lens[axis] = len;
            let v = b.emit(n, Op::Slice(op), &[x], &name)?;
            b.define(n, i, v)?;
        }
        offset += len;
    }
    Ok(())
}

pub(super) fn pad(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let x = b.input(n, 0)?;
    let mode = n.string_or("mode", "constant")?;
    if !matches!(mode, "constant" | "edge" | "reflect" | "wrap") {
        return Err(n.err(format!("pad mode `{mode}` is unsupported (constant, edge, reflect, wrap)")));
    }
    let rank = b.dims(x).len();
    let (pads, value, axes) = if n.opset < 11 {
        b.arity(n, 1, 1)?;
        let pads = n.ints("pads")?.ok_or_else(|| n.err("attribute `pads` is required"))?.to_vec();
        (pads, n.finite_float_or("value", 0.0)?, None)
    } else {
        b.arity(n, 2, 4)?;
        let pads = b.const_ints(n, 1, "pads")?.ok_or_else(|| n.err("input #1 (pads) is required"))?;
        let value = match b.const_input(n, 2, "constant_value")? {
            None => 0.0,
            Some(t) if t.len() == 1 && t.dtype() == DType::F32 => t.to_f32_vec()[0],
            Some(t) => return Err(n.err(format!("constant_value must be one f32, got {}", t.ty()))),
        };
        let axes = if n.opset >= 18 { b.const_ints(n, 3, "axes")? } else { None };
        (pads, value, axes)
    };
    let axes = match axes {
        None => (0..rank).collect(),
        Some(a) => n.axes(&a, rank, "axes")?,
    };
    if pads.len() != 2 * axes.len() {
        return Err(n.err(format!("pads {pads:?} must have 2 entries per padded axis ({})", axes.len())));
    }
    if mode != "constant" {
        // Every element comes from the input: a gather per padded axis, any dtype, cropping allowed.
        let dims = b.dims(x).to_vec();
        // The padded shape within the tensor limits before any index list is made.
        let mut out: Vec<i128> = dims.iter().map(|&d| d as i128).collect();
        for (i, &a) in axes.iter().enumerate() {
            out[a] += i128::from(pads[i]) + i128::from(pads[i + axes.len()]);
        }
        let numel = out.iter().try_fold(1i128, |acc, &d| if d < 0 { None } else { acc.checked_mul(d) });
        if numel.is_none_or(|e| e > b.limits.tensor.max_elements as i128) {
            return Err(n.err(format!("pads {pads:?} on {dims:?} give a shape outside the limits")));
        }
        let mut maps = Vec::new();
        for (i, &a) in axes.iter().enumerate() {
            let (p, q) = (pads[i], pads[i + axes.len()]);
            if (p, q) != (0, 0) {
                let indices = super::index_map::padded(mode, dims[a], p, q).map_err(|why| n.err(why))?;
                maps.push((a, indices));
            }
        }
        return super::index_map::gather_axes(b, n, x, maps);
    }
    if b.ty(x).dtype != DType::F32 {
        return Err(n.err(format!("padding {} is unsupported (f32 only)", b.ty(x))));
    }
    let (mut begin, mut end) = (vec![0; rank], vec![0; rank]);
    for (i, &a) in axes.iter().enumerate() {
        let (p, q) = (pads[i], pads[i + axes.len()]);
        if p < 0 || q < 0 {
            return Err(n.err(format!("negative pads {pads:?} (cropping) are unsupported")));
        }
        begin[a] = n.to_usize(p, "pads")?;
        end[a] = n.to_usize(q, "pads")?;
    }
    b.emit_out(n, Op::Pad(Pad { begin, end, value }), &[x])?;
    Ok(())
}

pub(super) fn gather(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 2)?;
    let x = b.input(n, 0)?;
    let dims = b.dims(x).to_vec();
    let axis = n.axis(n.int_or("axis", 0)?, dims.len(), "axis")?;
    if b.constant(b.input(n, 1)?).is_none() {
        return super::host_only::take(b, n, x, axis);
    }
    let idx = b.const_input(n, 1, "indices")?.ok_or_else(|| n.err("input #1 (indices) is required"))?;
    if !matches!(idx.dtype(), DType::I64 | DType::I32) {
        return Err(n.err(format!("indices must be int64 or int32, got {}", idx.ty())));
    }
    let index_shape = idx.shape().clone();
    let len = dims[axis];
    let indices =
        constant_indices(n, idx, len, |i| format!("index {i} is out of range for axis {axis} of length {len}"))?;
    b.emit_out(n, Op::Gather(Gather { axis, indices, index_shape }), &[x])?;
    Ok(())
}

/// The indices held by constant `t` into an axis of `len` (negative ones count from the end), for Gather and the
/// like; `out_of_range` words the error for one outside the axis.
pub(super) fn constant_indices(
    n: &OnnxNode<'_>,
    t: &Tensor,
    len: usize,
    out_of_range: impl Fn(i64) -> String,
) -> Result<Vec<usize>, ImportError> {
    t.to_i64_vec()
        .map_err(|e| n.err(e.to_string()))?
        .into_iter()
        .map(|i| {
            let j = if i < 0 { i.checked_add(len as i64) } else { Some(i) };
            j.and_then(|j| usize::try_from(j).ok()).filter(|&j| j < len).ok_or_else(|| n.err(out_of_range(i)))
        })
        .collect()
}
