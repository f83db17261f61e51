//! Resize (opsets 10, 11, 13, 18) and the older Upsample (7, 9): nearest, linear or cubic (optionally antialiased)
//! on the two spatial axes of NCHW input, with static output sizes computed here from constant scales or sizes
//! and tf_crop_and_resize's region of interest from the constant `roi` input.
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use accel_ops::op::{CoordMode, NearestRounding, Op, Resize, ResizeMode};

type Res = Result<(), ImportError>;

fn mode(n: &OnnxNode<'_>, nearest: NearestRounding) -> Result<ResizeMode, ImportError> {
    match n.string_or("mode", "nearest")? {
        "nearest" => Ok(ResizeMode::Nearest(nearest)),
        "linear" | "bilinear" => Ok(ResizeMode::Linear),
        "cubic" | "bicubic" => {
            let a = n.finite_float_or("cubic_coeff_a", -0.75)?;
            let exclude_outside = n.int_or("exclude_outside", 0)? != 0;
            Ok(ResizeMode::Cubic { a_bits: a.to_bits(), exclude_outside })
        }
        other => Err(n.err(format!("resize mode `{other}` is unsupported (nearest, linear and cubic)"))),
    }
}

/// What the attributes choose: the filter, the coordinate transform and antialiasing.
struct Form {
    mode: ResizeMode,
    coord: CoordMode,
    antialias: bool,
}

/// Builds the Resize op from per-axis scales or output sizes of the full rank-4 shape.
fn emit(
    b: &mut Builder<'_>,
    n: &OnnxNode<'_>,
    form: Form,
    scales: Option<Vec<f32>>,
    sizes: Option<Vec<i64>>,
    aspect_scale: Option<f32>,
) -> Res {
    let x = b.input(n, 0)?;
    let dims = b.dims(x).to_vec();
    if dims.len() != 4 {
        return Err(n.err(format!("only NCHW (rank 4) input is supported, got rank {}", dims.len())));
    }
    let max = b.limits.tensor.max_elements;
    let (out, scales) = match (scales, sizes) {
        (Some(s), None) => {
            if s.len() != 4 {
                return Err(n.err(format!("scales {s:?} must have 4 values")));
            }
            if s.iter().any(|v| !v.is_finite() || *v <= 0.0) {
                return Err(n.err(format!("scales {s:?} must be finite and > 0")));
            }
            // ONNX: output = floor(input * scale), computed in f32 as reference implementations do.
            let mut out = [0usize; 4];
            for a in 0..4 {
                let o = (dims[a] as f32 * s[a]).floor();
                if o > max as f32 {
                    return Err(n.err(format!("scales {s:?} give a dim over the element limit")));
                }
                out[a] = o as usize;
            }
            // A fractional `in * scale` stays in the scale: align_corners and tf_crop_and_resize divide by it.
            (out, [s[2], s[3]])
        }
        (None, Some(z)) => {
            if z.len() != 4 {
                return Err(n.err(format!("sizes {z:?} must have 4 values")));
            }
            let mut out = [0usize; 4];
            for a in 0..4 {
                out[a] = n.to_usize(z[a], "sizes")?;
            }
            // With a kept aspect ratio the coordinates use the one scale that made the sizes.
            let sc = |a: usize| aspect_scale.unwrap_or(out[a] as f32 / dims[a].max(1) as f32);
            (out, [sc(2), sc(3)])
        }
        _ => return Err(n.err("exactly one of scales and sizes must be given")),
    };
    if out[0] != dims[0] || out[1] != dims[1] {
        return Err(n.err(format!("only the 2 spatial axes of NCHW can be resized: {dims:?} -> {out:?}")));
    }
    if out[2] == 0 || out[3] == 0 || dims[2] == 0 || dims[3] == 0 {
        return Err(n.err(format!("resize {dims:?} -> {out:?} has an empty spatial dim")));
    }
    // Antialiasing only changes the linear and cubic filters.
    let antialias = form.antialias && !matches!(form.mode, ResizeMode::Nearest(_));
    let op = Resize { mode: form.mode, coord: form.coord, out_hw: [out[2], out[3]], scales, antialias };
    b.emit_out(n, Op::Resize(op), &[x])?;
    Ok(())
}

/// Spreads per-`axes` values over the full rank (opset 18's `axes` attribute).
fn spread<T: Copy>(n: &OnnxNode<'_>, v: Vec<T>, axes: Option<&[i64]>, fill: &[T]) -> Result<Vec<T>, ImportError> {
    let Some(axes) = axes else { return Ok(v) };
    let axes_n: Vec<usize> = axes.iter().map(|&a| n.axis(a, fill.len(), "axes")).collect::<Result<_, _>>()?;
    if axes_n.len() != v.len() {
        return Err(n.err(format!("{} values for {} axes", v.len(), axes_n.len())));
    }
    let mut out = fill.to_vec();
    for (a, x) in axes_n.into_iter().zip(v) {
        out[a] = x;
    }
    Ok(out)
}

pub(super) fn resize(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let x = b.input(n, 0)?;
    let dims = b.dims(x).to_vec();
    if n.opset < 11 {
        // Opset 10: inputs (X, scales), asymmetric coordinates, nearest picks the floor (as Upsample did).
        b.arity(n, 2, 2)?;
        let scales = b.const_floats(n, 1, "scales")?.ok_or_else(|| n.err("input #1 (scales) is required"))?;
        let m = mode(n, NearestRounding::Floor)?;
        let form = Form { mode: m, coord: CoordMode::Asymmetric, antialias: false };
        return emit(b, n, form, Some(scales), None, None);
    }
    b.arity(n, 1, 4)?;
    let antialias = n.opset >= 18 && n.int_or("antialias", 0)? != 0;
    let axes = if n.opset >= 18 { n.ints("axes")? } else { None };
    let policy = if n.opset >= 18 { n.string_or("keep_aspect_ratio_policy", "stretch")? } else { "stretch" };
    if !matches!(policy, "stretch" | "not_larger" | "not_smaller") {
        return Err(n.err(format!("keep_aspect_ratio_policy `{policy}` is unsupported")));
    }
    let coord = match n.string_or("coordinate_transformation_mode", "half_pixel")? {
        "half_pixel" => CoordMode::HalfPixel,
        "pytorch_half_pixel" => CoordMode::PytorchHalfPixel,
        "align_corners" => CoordMode::AlignCorners,
        "asymmetric" => CoordMode::Asymmetric,
        "half_pixel_symmetric" => CoordMode::HalfPixelSymmetric,
        "tf_crop_and_resize" => crop(b, n, &dims, axes)?,
        other => return Err(n.err(format!("coordinate_transformation_mode `{other}` is unsupported"))),
    };
    let nearest = match n.string_or("nearest_mode", "round_prefer_floor")? {
        "round_prefer_floor" => NearestRounding::RoundPreferFloor,
        "round_prefer_ceil" => NearestRounding::RoundPreferCeil,
        "floor" => NearestRounding::Floor,
        "ceil" => NearestRounding::Ceil,
        other => return Err(n.err(format!("nearest_mode `{other}` is unsupported"))),
    };
    let m = mode(n, nearest)?;
    // `roi` (input 1) only matters for tf_crop_and_resize (read above). An empty tensor stands for an omitted
    // scales input.
    let scales = b.const_floats(n, 2, "scales")?.filter(|s| !s.is_empty());
    let sizes = b.const_ints(n, 3, "sizes")?.filter(|s| !s.is_empty());
    let ones = vec![1.0f32; dims.len()];
    let scales = scales.map(|s| spread(n, s, axes, &ones)).transpose()?;
    let full: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
    let mut sizes = sizes.map(|s| spread(n, s, axes, &full)).transpose()?;
    let mut aspect_scale = None;
    if let (Some(z), true) = (sizes.as_mut(), policy != "stretch") {
        // One scale for the resized axes, the least (not_larger) or greatest (not_smaller) of sizes / input,
        // and sizes recomputed from it, rounding half up (ONNX's reference).
        let resized: Vec<usize> = match axes {
            Some(a) => a.iter().map(|&x| n.axis(x, dims.len(), "axes")).collect::<Result<_, _>>()?,
            None => (0..dims.len()).collect(),
        };
        let ratios = resized.iter().map(|&a| z.get(a).map_or(1.0, |&v| v as f32) / dims[a].max(1) as f32);
        let scale =
            if policy == "not_larger" { ratios.fold(f32::INFINITY, f32::min) } else { ratios.fold(0.0, f32::max) };
        if !scale.is_finite() || scale <= 0.0 {
            return Err(n.err(format!("sizes {z:?} give no usable scale for {policy}")));
        }
        for &a in &resized {
            let v = (scale * dims[a] as f32 + 0.5).floor();
            if v > b.limits.tensor.max_elements as f32 {
                return Err(n.err(format!("sizes {z:?} with {policy} give a dim over the element limit")));
            }
            z[a] = v as i64;
        }
        aspect_scale = Some(scale);
    }
    emit(b, n, Form { mode: m, coord, antialias }, scales, sizes, aspect_scale)
}

/// tf_crop_and_resize's coordinates: the constant `roi` (starts then ends, for every axis or for `axes`) and
/// `extrapolation_value`. Only the spatial axes may be cropped (an axis of length 1 ignores its roi).
fn crop(b: &Builder<'_>, n: &OnnxNode<'_>, dims: &[usize], axes: Option<&[i64]>) -> Result<CoordMode, ImportError> {
    if dims.len() != 4 {
        return Err(n.err(format!("only NCHW (rank 4) input is supported, got rank {}", dims.len())));
    }
    let roi = b
        .const_floats(n, 1, "roi")?
        .filter(|r| !r.is_empty())
        .ok_or_else(|| n.err("tf_crop_and_resize needs a constant, non-empty roi (input #1)"))?;
    let k = axes.map_or(dims.len(), <[i64]>::len);
    if roi.len() != 2 * k {
        return Err(n.err(format!("roi has {} values, want {} (a start and an end per axis)", roi.len(), 2 * k)));
    }
    if roi.iter().any(|v| !v.is_finite()) {
        return Err(n.err(format!("roi {roi:?} must be finite")));
    }
    let starts = spread(n, roi[..k].to_vec(), axes, &vec![0.0; dims.len()])?;
    let ends = spread(n, roi[k..].to_vec(), axes, &vec![1.0; dims.len()])?;
    for a in 0..2 {
        if dims[a] > 1 && (starts[a] != 0.0 || ends[a] != 1.0) {
            return Err(n.err(format!("roi {roi:?} crops axis {a}: only the 2 spatial axes of NCHW can be resized")));
        }
    }
    let extrapolation = n.finite_float_or("extrapolation_value", 0.0)?;
    Ok(CoordMode::TfCropAndResize {
        start_bits: [starts[2].to_bits(), starts[3].to_bits()],
        end_bits: [ends[2].to_bits(), ends[3].to_bits()],
        extrapolation_bits: extrapolation.to_bits(),
    })
}

pub(super) fn upsample(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    if n.opset >= 10 {
        return Err(n.err("Upsample is deprecated from opset 10: use Resize"));
    }
    let scales = if n.opset >= 9 {
        b.arity(n, 2, 2)?;
        b.const_floats(n, 1, "scales")?.ok_or_else(|| n.err("input #1 (scales) is required"))?
    } else {
        b.arity(n, 1, 1)?;
        n.floats("scales")?.ok_or_else(|| n.err("attribute `scales` is required"))?.to_vec()
    };
    // Upsample uses asymmetric coordinates; nearest takes the floor of the source coordinate.
    let m = mode(n, NearestRounding::Floor)?;
    emit(b, n, Form { mode: m, coord: CoordMode::Asymmetric, antialias: false }, Some(scales), None, None)
}
