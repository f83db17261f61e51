//! Calibration: runs the f32 graph with the reference interpreter (`ir::evaluate_observed`) on sample inputs
//! and records each value's range, by min/max, by a percentile (exact: the tails are kept, not a histogram), or
//! by the clipping that minimizes the int8 quantization error (MSE) on a fixed-stride subsample of the values.
//! Also finds and reads the sample `.npy` files given on the command line.
use crate::ir::{evaluate_observed, Graph, IrError, Node, NodeId, ValueId};
use accel_ops::op::{Op, Unary};
use accel_ops::Tensor;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// How a value's range is taken from its calibration samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CalibrationMethod {
    MinMax,
    /// `[P(100 - p), P(p)]` by nearest rank, e.g. `Percentile(99.99)`: outliers beyond are clipped.
    Percentile(f64),
    /// `[a min, a max]` with the factor `a` in `(0, 1]` that minimizes the mean squared error of quantizing
    /// the values to int8 (clipping plus rounding), on up to `MSE_SAMPLE` values per tensor.
    Mse,
}

/// Values per tensor the MSE search runs on (a fixed-stride subsample over all calibration samples).
const MSE_SAMPLE: usize = 1 << 16;

/// The clipping factors the MSE search tries.
const MSE_FACTORS: [f32; 16] = [1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25];

/// Sample inputs (each in graph input order) and the range method.
#[derive(Debug, Clone)]
pub struct Calibration {
    pub samples: Vec<Vec<Tensor>>,
    pub method: CalibrationMethod,
}

#[derive(Debug, Error)]
pub enum CalibrationError {
    #[error("calibration data `{0}`: no .npy files found")]
    NoFiles(String),
    #[error("calibration file {path}: {why}")]
    File { path: PathBuf, why: String },
    #[error("calibration: the model has {0} inputs; calibration files feed single-input models only")]
    MultiInput(usize),
    #[error("calibration: {0}")]
    Eval(#[from] IrError),
}

/// The `.npy` files named by `spec`: a directory (its `*.npy`, sorted), a pattern with `*` in its file name, or
/// one file.
pub fn find_files(spec: &str) -> Result<Vec<PathBuf>, CalibrationError> {
    let p = Path::new(spec);
    let mut files: Vec<PathBuf> = if p.is_dir() {
        list(p, |n| n.ends_with(".npy"))
    } else if let Some(pat) = p.file_name().and_then(|n| n.to_str()).filter(|n| n.contains('*')) {
        let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        list(dir, |n| wildcard(pat, n))
    } else if p.is_file() {
        vec![p.to_path_buf()]
    } else {
        vec![]
    };
    files.sort();
    if files.is_empty() {
        return Err(CalibrationError::NoFiles(spec.to_string()));
    }
    Ok(files)
}

fn list(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
                .collect()
        })
        .unwrap_or_default()
}

/// `*` matches any run of characters; everything else itself.
fn wildcard(pat: &str, name: &str) -> bool {
    match pat.split_once('*') {
        None => pat == name,
        Some((head, rest)) => {
            name.starts_with(head)
                && (head.len()..=name.len()).any(|i| name.is_char_boundary(i) && wildcard(rest, &name[i..]))
        }
    }
}

/// Reads calibration samples for a single-input graph: a file whose shape is the input's is one sample; one
/// with an extra leading dimension (or, for a batch-1 input, a larger batch) holds that many samples.
pub fn load_samples(g: &Graph, files: &[PathBuf]) -> Result<Vec<Vec<Tensor>>, CalibrationError> {
    let [input] = g.inputs[..] else { return Err(CalibrationError::MultiInput(g.inputs.len())) };
    let want = g.ty(input).clone();
    let mut out = Vec::new();
    for path in files {
        let bad = |why: String| CalibrationError::File { path: path.clone(), why };
        let t = accel_runtime::npy::read_npy_file(path).map_err(|e| bad(e.to_string()))?;
        let t = if t.dtype() == want.dtype {
            t
        } else {
            return Err(bad(format!("dtype {} (the input is {})", t.dtype(), want.dtype)));
        };
        let dims = t.dims().to_vec();
        if dims == want.shape.dims() {
            out.push(vec![t]);
        } else if (dims.len() == want.shape.rank() + 1 && dims[1..] == *want.shape.dims())
            || (want.shape.dims().first() == Some(&1)
                && dims.len() == want.shape.rank()
                && dims[1..] == want.shape.dims()[1..])
        {
            let per = want.shape.numel();
            let v = t.as_f32().map_err(|e| bad(e.to_string()))?;
            for chunk in v.chunks(per.max(1)).take(dims[0]) {
                out.push(vec![
                    Tensor::from_f32(want.shape.dims().to_vec(), chunk.to_vec()).map_err(|e| bad(e.to_string()))?
                ]);
            }
        } else {
            return Err(bad(format!("shape {:?} is neither the input's {} nor a stack of it", dims, want.shape)));
        }
    }
    Ok(out)
}

/// The running extremes or tails of one value (and the subsample of the MSE method).
#[derive(Default, Clone)]
struct Tail {
    lo: Vec<f32>,
    hi: Vec<f32>,
    sample: Vec<f32>,
}

/// The int8 quantization MSE of `values` over `[lo, hi]` (the grid of `activation_params`).
fn quant_mse(values: &[f32], lo: f32, hi: f32) -> f64 {
    let (scale, zero) = super::quantize::activation_params(lo, hi);
    values
        .iter()
        .map(|&v| {
            let q = accel_ops::numerics::requant::quantize(v, scale, zero);
            (accel_ops::numerics::requant::dequantize(q, scale, zero) as f64 - v as f64).powi(2)
        })
        .sum()
}

/// The range `[a lo, a hi]` of `MSE_FACTORS` with the least quantization error on `values` (the first
/// on ties: the widest).
fn mse_range(values: &[f32], lo: f32, hi: f32) -> (f32, f32) {
    let mut best = (f64::INFINITY, (lo, hi));
    for a in MSE_FACTORS {
        let e = quant_mse(values, a * lo, a * hi);
        if e < best.0 {
            best = (e, (a * lo, a * hi));
        }
    }
    best.1
}

/// Keeps the `k` smallest (`largest` false) or largest values of `acc` and `new`.
fn keep(acc: &mut Vec<f32>, new: impl Iterator<Item = f32>, k: usize, largest: bool) {
    acc.extend(new.filter(|v| !v.is_nan()));
    if acc.len() > k {
        let by = |a: &f32, b: &f32| if largest { b.total_cmp(a) } else { a.total_cmp(b) };
        acc.select_nth_unstable_by(k - 1, by);
        acc.truncate(k);
    }
}

/// `[min, max]` (or the percentile range) of every non-constant value of `g` over the samples.
pub fn ranges(g: &Graph, cal: &Calibration) -> Result<Vec<Option<(f32, f32)>>, CalibrationError> {
    let n = cal.samples.len().max(1);
    // Values kept per tail: everything beyond the percentile plus the percentile itself (nearest rank).
    let k = |numel: usize| match cal.method {
        CalibrationMethod::MinMax | CalibrationMethod::Mse => 1,
        CalibrationMethod::Percentile(p) => {
            let total = (numel * n) as f64;
            (total - (total * p / 100.0).ceil()).max(0.0) as usize + 1
        }
    };
    let mut tails: Vec<Option<Tail>> = vec![None; g.values.len()];
    let mut observe = |v: crate::ir::ValueId, t: &Tensor| {
        let vals = t.to_f32_vec();
        let kk = k(vals.len());
        let tail = tails[v.0 as usize].get_or_insert_with(Tail::default);
        keep(&mut tail.lo, vals.iter().copied(), kk, false);
        keep(&mut tail.hi, vals.iter().copied(), kk, true);
        if cal.method == CalibrationMethod::Mse {
            let step = (vals.len() * n).div_ceil(MSE_SAMPLE).max(1);
            tail.sample.extend(vals.iter().step_by(step).filter(|v| v.is_finite()));
        }
    };
    for s in &cal.samples {
        for (&i, t) in g.inputs.iter().zip(s) {
            observe(i, t);
        }
        evaluate_observed(g, s, &mut observe)?;
    }
    Ok(tails
        .into_iter()
        .map(|t| {
            let t = t?;
            let lo = t.lo.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let hi = t.hi.iter().copied().fold(f32::INFINITY, f32::min);
            let (lo, hi) = (lo.min(hi), hi.max(lo));
            if !(lo.is_finite() && hi.is_finite()) {
                return None;
            }
            Some(if cal.method == CalibrationMethod::Mse { mse_range(&t.sample, lo, hi) } else { (lo, hi) })
        })
        .collect())
}

/// `g` with the activation of each node `split` marks (a `Conv` or `Gemm` with one) as a node of its own, so
/// that calibration sees the pre-activation (the layer's sum plus its residual), which an int8 lookup table is
/// indexed by. Every value of `g` keeps its id and its contents; the pre-activations are new values after
/// them, and the second result gives node `i`'s.
pub fn split_activations(g: &Graph, split: &[bool]) -> (Graph, Vec<Option<ValueId>>) {
    let mut out =
        Graph { values: g.values.clone(), nodes: vec![], inputs: g.inputs.clone(), outputs: g.outputs.clone() };
    let mut pre = vec![None; g.nodes.len()];
    for (i, n) in g.nodes.iter().enumerate() {
        let marked = split.get(i) == Some(&true);
        let parts = match &n.op {
            Op::Conv(c) if marked => c.act.map(|a| (Op::Conv(accel_ops::op::Conv { act: None, ..c.clone() }), a)),
            Op::Gemm(gm) if marked => gm.act.map(|a| (Op::Gemm(accel_ops::op::Gemm { act: None, ..gm.clone() }), a)),
            _ => None,
        };
        let Some((op, act)) = parts else {
            out.values[n.output.0 as usize].producer = Some(NodeId(out.nodes.len() as u32));
            out.nodes.push(n.clone());
            continue;
        };
        let v = ValueId(out.values.len() as u32);
        let mut value = g.value(n.output).clone();
        value.name = format!("{}:pre-activation", value.name);
        value.producer = Some(NodeId(out.nodes.len() as u32));
        out.values.push(value);
        out.nodes.push(Node { name: n.name.clone(), op, inputs: n.inputs.clone(), output: v, placement: n.placement });
        out.values[n.output.0 as usize].producer = Some(NodeId(out.nodes.len() as u32));
        let unary = Op::Unary(Unary { op: act });
        out.nodes.push(Node {
            name: format!("{}:act", n.name),
            op: unary,
            inputs: vec![v],
            output: n.output,
            placement: n.placement,
        });
        pre[i] = Some(v);
    }
    (out, pre)
}

#[cfg(test)]
mod tests {
    use super::*;
    use accel_ops::op::{Op, Unary, UnaryOp};
    use accel_ops::TensorType;

    fn relu_graph() -> Graph {
        let mut g = Graph::default();
        let x = g.add_input("x", TensorType::f32(vec![10000]));
        let y = g.add_node("relu", Op::Unary(Unary { op: UnaryOp::Relu }), vec![x], "y").unwrap();
        g.outputs.push(y);
        g
    }

    #[test]
    fn minmax_and_percentile_ranges() {
        let g = relu_graph();
        // 0..9999 / 100, plus one outlier.
        let mut v: Vec<f32> = (0..10000).map(|i| i as f32 / 100.0 - 20.0).collect();
        v[5] = 1000.0;
        let s = vec![vec![Tensor::from_f32(vec![10000], v).unwrap()]];
        let mm = ranges(&g, &Calibration { samples: s.clone(), method: CalibrationMethod::MinMax }).unwrap();
        assert_eq!(mm[0], Some((-20.0, 1000.0)));
        assert_eq!(mm[1], Some((0.0, 1000.0)));
        let p = ranges(&g, &Calibration { samples: s, method: CalibrationMethod::Percentile(99.9) }).unwrap();
        // 11 values per tail (10 beyond the 99.9th percentile, nearest rank): the outlier is clipped. The low
        // tail is -20.00 ..= -19.89 without -19.95 (replaced by the outlier).
        let (lo, hi) = p[0].unwrap();
        assert!((lo - -19.89).abs() < 1e-3 && (hi - 79.9).abs() < 1e-3, "{lo} {hi}");
    }

    #[test]
    fn mse_clips_a_rare_outlier_but_not_a_uniform_range() {
        let range = |v: Vec<f32>| {
            let mut g = Graph::default();
            let x = g.add_input("x", TensorType::f32(vec![v.len()]));
            let y = g.add_node("relu", Op::Unary(Unary { op: UnaryOp::Relu }), vec![x], "y").unwrap();
            g.outputs.push(y);
            let s = vec![vec![Tensor::from_f32(vec![v.len()], v).unwrap()]];
            ranges(&g, &Calibration { samples: s, method: CalibrationMethod::Mse }).unwrap()[0].unwrap()
        };
        // Uniform values: the full range is best.
        let uniform: Vec<f32> = (0..100_000).map(|i| i as f32 / 100_000.0).collect();
        assert_eq!(range(uniform.clone()), (0.0, 0.99999));
        // One value 5% beyond the rest: clipping it at 0.95 x 1.05 costs less than coarser steps for all.
        let mut outlier = uniform;
        outlier.push(1.05);
        let (lo, hi) = range(outlier.clone());
        assert!(lo == 0.0 && (hi - 0.95 * 1.05).abs() < 1e-6, "{lo} {hi}");
        assert!(quant_mse(&outlier, lo, hi) < quant_mse(&outlier, 0.0, 1.05));
    }

    /// A conv + sigmoid split for calibration: the pre-activation gets its own range (the sum's, not the
    /// sigmoid's), every other value keeps its id and range.
    #[test]
    fn split_activations_expose_the_pre_activation() {
        let mut g = Graph::default();
        let x = g.add_input("x", TensorType::f32(vec![1, 1, 1, 4]));
        let w = g.add_const("w", Tensor::from_f32(vec![1, 1, 1, 1], vec![2.0]).unwrap());
        let conv = accel_ops::op::Conv {
            kernel: [1; 2],
            strides: [1; 2],
            dilations: [1; 2],
            pads: [0; 4],
            group: 1,
            act: Some(UnaryOp::Sigmoid),
        };
        let y = g.add_node("conv", Op::Conv(conv), vec![x, w], "y").unwrap();
        g.outputs.push(y);
        let (split, pre) = split_activations(&g, &[true]);
        let v = pre[0].expect("the conv is split");
        let s = vec![vec![Tensor::from_f32(vec![1, 1, 1, 4], vec![-1.0, -0.5, 0.25, 1.0]).unwrap()]];
        let cal = Calibration { samples: s, method: CalibrationMethod::MinMax };
        let whole = ranges(&g, &cal).unwrap();
        let parts = ranges(&split, &cal).unwrap();
        assert_eq!(parts[v.0 as usize], Some((-2.0, 2.0)));
        assert_eq!(&parts[..whole.len()], &whole[..]);
        let (lo, hi) = whole[y.0 as usize].unwrap();
        assert!(lo > 0.1 && hi < 0.9, "the output is the sigmoid's: {lo} {hi}");
        // Unmarked nodes stay whole.
        assert_eq!(split_activations(&g, &[false]).0, g);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*.npy", "a.npy"));
        assert!(wildcard("cal_*_x.npy", "cal_001_x.npy"));
        assert!(!wildcard("cal_*.npy", "x_cal_1.npy"));
    }
}
