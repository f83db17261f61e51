//! The precision rewrite on small graphs: formats, conversions at the boundaries, the int8 calibration
//! requirement, and the error of bf16 and int8 against f32.
use super::*;
use crate::ir::evaluate;
use accel_ops::op::{Conv, Op, Pool, PoolKind, UnaryOp};
use accel_ops::{DType, TensorType};

/// Seeded values uniform in [-scale, scale) (the equalization tests use it too).
pub(super) fn lcg(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0) * scale
        })
        .collect()
}

/// conv3x3+relu -> maxpool (vector unit, stays f32) -> conv1x1 with a residual from the pool -> output.
fn small_net() -> Graph {
    small_net_with(0.5)
}

/// `small_net` with conv2's weights in `[-w2, w2)`.
fn small_net_with(w2: f32) -> Graph {
    let mut g = Graph::default();
    let x = g.add_input("x", TensorType::f32(vec![1, 3, 12, 12]));
    let conv = |k: usize, pad: usize, act| {
        Op::Conv(Conv { kernel: [k; 2], strides: [1; 2], dilations: [1; 2], pads: [pad; 4], group: 1, act })
    };
    let w1 = g.add_const("w1", Tensor::from_f32(vec![8, 3, 3, 3], lcg(1, 216, 0.4)).unwrap());
    let b1 = g.add_const("b1", Tensor::from_f32(vec![8], lcg(2, 8, 0.1)).unwrap());
    let y1 = g.add_node("conv1", conv(3, 1, Some(UnaryOp::Relu)), vec![x, w1, b1], "y1").unwrap();
    let pool = Op::Pool(Pool { kind: PoolKind::Max, kernel: [2, 2], strides: [2, 2], pads: [0; 4] });
    let p = g.add_node("pool", pool, vec![y1], "p").unwrap();
    let w2 = g.add_const("w2", Tensor::from_f32(vec![8, 8, 1, 1], lcg(3, 64, w2)).unwrap());
    let b2 = g.add_const("b2", Tensor::from_f32(vec![8], lcg(4, 8, 0.1)).unwrap());
    let y2 = g.add_node("conv2", conv(1, 0, None), vec![p, w2, b2, p], "out").unwrap();
    g.outputs.push(y2);
    g
}

fn sample(seed: u64) -> Vec<Tensor> {
    vec![Tensor::from_f32(vec![1, 3, 12, 12], lcg(seed, 432, 1.0)).unwrap()]
}

fn opts(precision: Precision, samples: usize) -> PrecisionOptions {
    let calibration = (samples > 0).then(|| Calibration {
        samples: (0..samples as u64).map(|s| sample(100 + s)).collect(),
        method: CalibrationMethod::MinMax,
    });
    PrecisionOptions {
        precision,
        calibration,
        accuracy_budget_db: None,
        measure: true,
        bias_correction: true,
        equalize: false,
        share_residual_scales: false,
        output_check: false,
    }
}

fn dtype_of(g: &Graph, node: &str) -> DType {
    let n = g.nodes.iter().find(|n| n.name == node).unwrap();
    g.ty(n.output).dtype
}

#[test]
fn bf16_rewrites_mac_layers_and_keeps_the_interface() {
    let g = small_net();
    let a = apply(&g, &Target::x1(), &opts(Precision::Bf16, 0)).unwrap();
    let out = &a.graph;
    assert_eq!(dtype_of(out, "conv1"), DType::BF16);
    assert_eq!(dtype_of(out, "conv2"), DType::BF16);
    assert_eq!(dtype_of(out, "pool"), DType::F32, "vector-unit layers stay f32");
    assert_eq!(out.ty(out.inputs[0]), g.ty(g.inputs[0]));
    assert_eq!(out.value(out.outputs[0]).name, "out");
    assert_eq!(out.ty(out.outputs[0]).dtype, DType::F32);
    // Casts: x -> bf16, y1 -> f32 (pool), p -> bf16 (conv2, both operands share one), out -> f32.
    let casts = out.nodes.iter().filter(|n| matches!(n.op, Op::Cast(_))).count();
    assert_eq!(casts, 4, "{out}");
    let want = evaluate(&g, &sample(7)).unwrap();
    let got = evaluate(out, &sample(7)).unwrap();
    let err = accel_ops::numerics::sqnr_db(&got[0].to_f32_vec(), &want[0].to_f32_vec());
    assert!(err > 40.0, "bf16 SQNR {err}");
    assert!(
        a.report.layers.iter().all(|l| l.precision == "bf16" && l.sqnr_db.is_some_and(|d| d > 40.0)),
        "{}",
        a.report
    );
}

#[test]
fn int8_without_calibration_is_a_clear_error() {
    let e = apply(&small_net(), &Target::x1(), &opts(Precision::Int8, 0)).err().unwrap();
    assert!(e.to_string().contains("--calibrate"), "{e}");
    assert!(apply(&small_net(), &Target::x1(), &opts(Precision::Auto, 0)).is_err());
}

#[test]
fn int8_quantizes_mac_layers_within_budget() {
    let g = small_net();
    let a = apply(&g, &Target::x1(), &opts(Precision::Int8, 8)).unwrap();
    let out = &a.graph;
    assert_eq!(dtype_of(out, "conv1"), DType::I8);
    assert_eq!(dtype_of(out, "conv2"), DType::I8);
    assert!(out.nodes.iter().any(|n| matches!(n.op, Op::Quant(_))));
    let want = evaluate(&g, &sample(100)).unwrap();
    let got = evaluate(out, &sample(100)).unwrap();
    let sqnr = accel_ops::numerics::sqnr_db(&got[0].to_f32_vec(), &want[0].to_f32_vec());
    assert!(sqnr > 30.0, "int8 SQNR {sqnr}\n{}", a.report);
    let text = a.report.to_string();
    assert!(text.contains("conv1") && text.contains("int8"), "{text}");
}

#[test]
fn fp32_is_the_identity() {
    let g = small_net();
    let a = apply(&g, &Target::x1(), &opts(Precision::Fp32, 0)).unwrap();
    assert_eq!(a.graph, g);
}

/// Bias correction leaves each int8 layer's per-channel mean error (measured alone, as `bias.rs` does) smaller
/// than it found it: the corrections measured on the corrected graph are a fraction of the ones applied.
#[test]
fn bias_correction_shrinks_the_per_channel_mean_error() {
    let g = small_net();
    let o = opts(Precision::Int8, 8);
    let samples = &o.calibration.as_ref().unwrap().samples;
    let a = apply(&g, &Target::x1(), &o).unwrap();
    let after = bias::corrections(&g, &a.graph, &a.formats, samples).unwrap();
    // The first build (no corrections) is what `build` makes with an empty map.
    let choices: Vec<Choice> =
        g.nodes.iter().map(|n| if nodes::int8_capable(n) { Choice::Int8 } else { Choice::Fp32 }).collect();
    let cal = calibrate::ranges(&g, o.calibration.as_ref().unwrap()).unwrap();
    let values: Vec<Option<(f32, i32)>> =
        cal.iter().map(|r| r.map(|(lo, hi)| quantize::activation_params(lo, hi))).collect();
    let params = Scales { values, pre: vec![None; g.nodes.len()], tile_pools: vec![false; g.nodes.len()] };
    let mut report = PrecisionReport {
        mode: String::new(),
        layers: vec![],
        outputs: vec![],
        worst_outputs: vec![],
        worst_slices: vec![],
        measured_on: String::new(),
        warnings: vec![],
    };
    let mac: Vec<bool> = choices.iter().map(|&c| c == Choice::Int8).collect();
    let (g0, f0) = build(&g, &choices, &mac, &params, &BTreeMap::new(), &mut report).unwrap();
    let before = bias::corrections(&g, &g0, &f0, samples).unwrap();
    let size = |m: &BTreeMap<String, Vec<f32>>| m.values().flatten().map(|v| (*v as f64).powi(2)).sum::<f64>();
    assert_eq!(before.len(), 2, "both convolutions are int8");
    assert!(size(&before) > 0.0 && size(&after) < 0.25 * size(&before), "{before:?} -> {after:?}");
}

/// Two compute-bound convolutions: int8's and bf16's faster MACs pay for the conversions around them (on
/// `small_net` the cost model rightly keeps f32: its layers cost less than a conversion pass).
fn wide_net() -> Graph {
    let mut g = Graph::default();
    let x = g.add_input("x", TensorType::f32(vec![1, 32, 16, 16]));
    let conv = |k: usize, pad: usize| {
        Op::Conv(Conv {
            kernel: [k; 2],
            strides: [1; 2],
            dilations: [1; 2],
            pads: [pad; 4],
            group: 1,
            act: Some(UnaryOp::Relu),
        })
    };
    let w1 = g.add_const("w1", Tensor::from_f32(vec![64, 32, 3, 3], lcg(5, 18432, 0.08)).unwrap());
    let y1 = g.add_node("conv1", conv(3, 1), vec![x, w1], "y1").unwrap();
    let w2 = g.add_const("w2", Tensor::from_f32(vec![64, 64, 3, 3], lcg(6, 36864, 0.06)).unwrap());
    let y2 = g.add_node("conv2", conv(3, 1), vec![y1, w2], "out").unwrap();
    g.outputs.push(y2);
    g
}

/// `auto` on `wide_net` with budget `db` (4 calibration samples): the precision per layer and the worst
/// output SQNR.
fn auto(db: f64) -> (Vec<String>, f64) {
    let calibration = Calibration {
        samples: (0..4)
            .map(|s| vec![Tensor::from_f32(vec![1, 32, 16, 16], lcg(200 + s, 8192, 1.0)).unwrap()])
            .collect(),
        method: CalibrationMethod::MinMax,
    };
    let o = PrecisionOptions {
        precision: Precision::Auto,
        calibration: Some(calibration),
        accuracy_budget_db: Some(db),
        measure: false,
        bias_correction: false,
        equalize: false,
        share_residual_scales: false,
        output_check: false,
    };
    let a = apply(&wide_net(), &Target::x1(), &o).unwrap();
    let worst = a.report.worst_outputs.iter().map(|(_, d)| *d).fold(f64::INFINITY, f64::min);
    (a.report.layers.iter().map(|l| l.precision.clone()).collect(), worst)
}

#[test]
fn auto_takes_the_fastest_formats_that_meet_the_budget() {
    // No budget to speak of: every layer in int8.
    let (layers, _) = auto(0.0);
    assert_eq!(layers, ["int8", "int8"]);
    // The default budget holds on the worst calibration sample (with the margin), whatever was chosen.
    let (layers, worst) = auto(30.0);
    assert!(worst >= 30.0 + AUTO_MARGIN_DB, "{layers:?}: {worst} dB");
    // A budget only f32 meets: both layers exact.
    let (layers, worst) = auto(200.0);
    assert_eq!(layers, ["fp32", "fp32"]);
    assert!(worst.is_infinite(), "{worst}");
}

/// A budget just above int8's SQNR on this net: something leaves int8, nothing needs f32.
#[test]
fn auto_demotes_to_bf16_before_f32() {
    let (int8, int8_db) = auto(0.0);
    assert_eq!(int8, ["int8", "int8"]);
    let (layers, worst) = auto(int8_db + 1.0);
    assert!(layers.iter().any(|p| p == "bf16") && !layers.iter().any(|p| p == "fp32"), "{layers:?} ({worst} dB)");
}

/// The header of `node`'s int8 quant operand in a rewritten graph.
fn quant_header(g: &Graph, node: &str) -> accel_ops::numerics::QuantHeader {
    let n = g.nodes.iter().find(|n| n.name == node).unwrap();
    let words = g.constant(n.inputs[3]).unwrap().as_i32().unwrap().to_vec();
    accel_ops::numerics::QuantParams::from_words(&words, false).unwrap().header
}

/// With shared residual scales, where conv2 adds little to its residual (weights in +-0.05) the residual
/// requantizes by exactly 1 (`m = 2^30`, shift 1) onto the output's zero point, so that term is exact;
/// calibrated apart it is not. Where the sum's range is about twice the residual's (+-0.5) they stay apart.
#[test]
fn shared_residual_scales_make_the_residual_term_exact() {
    let o =
        |share| PrecisionOptions { share_residual_scales: share, bias_correction: false, ..opts(Precision::Int8, 8) };
    let header =
        |w2, share| quant_header(&apply(&small_net_with(w2), &Target::x1(), &o(share)).unwrap().graph, "conv2");
    let exact = |h: accel_ops::numerics::QuantHeader| (h.r_mult, h.r_shift, h.r_zero) == (1 << 30, 1, h.y_zero);
    let h = header(0.05, true);
    assert!(exact(h), "{h:?}");
    assert_eq!(accel_ops::numerics::requantize(-77, h.r_mult, h.r_shift), -77);
    assert!(!exact(header(0.05, false)));
    assert!(!exact(header(0.5, true)), "a range twice as wide is not shared");
}
