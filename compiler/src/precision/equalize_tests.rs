//! Cross-layer equalization: the scales balance the ranges, the f32 function is unchanged (including a ReLU6
//! whose clip binds on some channels), and the pairs it takes and leaves.
use super::*;
use crate::ir::evaluate;
use crate::precision::tests::lcg;
use accel_ops::op::Conv;
use accel_ops::TensorType;

fn conv(k: usize, group: usize, act: Option<UnaryOp>) -> Op {
    let pad = k / 2;
    Op::Conv(Conv { kernel: [k; 2], strides: [1; 2], dilations: [1; 2], pads: [pad; 4], group, act })
}

/// Weights `[o, per]` whose output channel `c` is scaled by `gain(c)` (unbalanced channels, as batch-norm
/// folding leaves them).
fn weights(seed: u64, o: usize, per: usize, gain: impl Fn(usize) -> f32) -> Vec<f32> {
    let gain = &gain;
    lcg(seed, o * per, 0.5).chunks(per).enumerate().flat_map(|(c, r)| r.iter().map(move |v| v * gain(c))).collect()
}

/// conv1x1 (3 -> 8, `act1`) -> depthwise 3x3 (8, `act2`) -> conv1x1 (8 -> 4) -> output; `dw_gain` scales the
/// depthwise channels.
fn chain(act1: Option<UnaryOp>, act2: Option<UnaryOp>, dw_gain: impl Fn(usize) -> f32) -> Graph {
    let mut g = Graph::default();
    let x = g.add_input("x", TensorType::f32(vec![1, 3, 6, 6]));
    let w1 = g.add_const("w1", Tensor::from_f32(vec![8, 3, 1, 1], weights(1, 8, 3, |c| 0.05 + c as f32)).unwrap());
    let b1 = g.add_const("b1", Tensor::from_f32(vec![8], lcg(2, 8, 0.3)).unwrap());
    let y1 = g.add_node("a", conv(1, 1, act1), vec![x, w1, b1], "y1").unwrap();
    let w2 = g.add_const("w2", Tensor::from_f32(vec![8, 1, 3, 3], weights(3, 8, 9, dw_gain)).unwrap());
    let b2 = g.add_const("b2", Tensor::from_f32(vec![8], lcg(4, 8, 0.1)).unwrap());
    let y2 = g.add_node("dw", conv(3, 8, act2), vec![y1, w2, b2], "y2").unwrap();
    let w3 = g.add_const("w3", Tensor::from_f32(vec![4, 8, 1, 1], weights(5, 4, 8, |_| 1.0)).unwrap());
    let y3 = g.add_node("b", conv(1, 1, None), vec![y2, w3], "out").unwrap();
    g.outputs.push(y3);
    g
}

fn weights_of(g: &Graph, node: &str) -> Vec<f32> {
    let n = g.nodes.iter().find(|n| n.name == node).unwrap();
    g.constant(n.inputs[1]).unwrap().as_f32().unwrap().to_vec()
}

/// The largest difference between the f32 outputs of `a` and `b` on `seed`'s input (of scale `amp`),
/// relative to the largest output.
fn f32_change(a: &Graph, b: &Graph, seed: u64, amp: f32) -> f32 {
    let x = vec![Tensor::from_f32(vec![1, 3, 6, 6], lcg(seed, 108, amp)).unwrap()];
    let (ya, yb) = (evaluate(a, &x).unwrap()[0].to_f32_vec(), evaluate(b, &x).unwrap()[0].to_f32_vec());
    let peak = ya.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(peak > 0.0);
    ya.iter().zip(&yb).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max) / peak
}

#[test]
fn scales_make_both_ranges_their_geometric_mean() {
    let (r1, r2) = ([4.0, 1.0, 0.0, 3.0], [1.0, 4.0, 2.0, 3.0]);
    let s = balance_scales(&r1, &r2);
    assert_eq!(s, vec![2.0, 0.5, 1.0, 1.0]);
    for i in [0, 1, 3] {
        assert!((r1[i] / s[i] - r2[i] * s[i]).abs() < 1e-6 && (r1[i] / s[i] - (r1[i] * r2[i]).sqrt()).abs() < 1e-6);
    }
    assert_eq!(balance_scales(&[1e9], &[1e-9]), vec![LIMIT], "scales are limited");
}

#[test]
fn relu_chain_is_balanced_and_keeps_its_f32_function() {
    let g = chain(Some(UnaryOp::Relu), Some(UnaryOp::Relu), |c| if c % 2 == 0 { 8.0 } else { 0.1 });
    assert_eq!(pairs(&g).len(), 2, "a -> dw and dw -> b");
    let (e, n) = equalize(&g);
    assert_eq!(n, 2);
    for seed in 0..4 {
        let d = f32_change(&g, &e, 10 + seed, 2.0);
        assert!(d < 1e-5, "f32 output changed by {d} of its peak");
    }
    // Per channel, the three layers' ranges meet at their geometric mean: the ratio of the largest to the
    // smallest channel range of `a` falls from ~160 to the spread that mean leaves.
    let spread = |w: &[f32]| {
        let r = out_ranges(w, 8);
        r.iter().fold(0f32, |m, v| m.max(*v)) / r.iter().fold(f32::INFINITY, |m, v| m.min(*v))
    };
    let (before, after) = (spread(&weights_of(&g, "a")), spread(&weights_of(&e, "a")));
    assert!(before > 50.0 && after < before / 2.0, "channel range spread {before} -> {after}");
    let w = [weights_of(&e, "a"), weights_of(&e, "dw")];
    let r_dw = out_ranges(&w[1], 8);
    let r_b = in_ranges(&weights_of(&e, "b"), &[4, 8, 1, 1], 1, 8);
    for (i, ra) in out_ranges(&w[0], 8).iter().enumerate() {
        let mean = (ra * r_dw[i] * r_b[i]).cbrt();
        for r in [*ra, r_dw[i], r_b[i]] {
            assert!((r / mean - 1.0).abs() < 0.02, "channel {i}: {ra} {} {} not balanced", r_dw[i], r_b[i]);
        }
    }
}

/// A ReLU6 depthwise whose clip binds on its large channels: only the channels whose pre-activation provably
/// stays below 6 move, so the f32 function is kept on inputs that saturate the others.
#[test]
fn relu6_is_equalized_only_where_its_clip_cannot_bind() {
    let relu6 = Some(UnaryOp::Clip { min: 0.0, max: 6.0 });
    let g = chain(relu6, relu6, |c| if c < 4 { 4.0 } else { 0.01 });
    // `a`'s input (the graph input) has no known range, so `a -> dw` is not a pair; `dw -> b` is.
    let ps = pairs(&g);
    assert_eq!(ps.len(), 1);
    assert_eq!(g.node(ps[0].a).name, "dw");
    let (e, _) = equalize(&g);
    for seed in 0..4 {
        let d = f32_change(&g, &e, 20 + seed, 8.0);
        assert!(d < 1e-5, "f32 output changed by {d} of its peak");
    }
    let (w, we) = (weights_of(&g, "dw"), weights_of(&e, "dw"));
    let moved: Vec<bool> = (0..8).map(|c| w[c * 9..c * 9 + 9] != we[c * 9..c * 9 + 9]).collect();
    assert_eq!(moved, [false, false, false, false, true, true, true, true], "only the small channels move");
    // The small channels were scaled up as far as the clip allows or the balance asks.
    let y_max = upper_bounds(&we, None, 8, (0.0, 6.0));
    assert!(y_max[4..].iter().all(|&u| u <= 6.0 * 1.0001), "{y_max:?}");
}

#[test]
fn other_activations_fused_residuals_and_shared_outputs_are_left_alone() {
    let g = chain(Some(UnaryOp::Sigmoid), Some(UnaryOp::Clip { min: 0.0, max: 6.0 }), |_| 1.0);
    // Sigmoid is not homogeneous, and `dw`'s input (a sigmoid) has no clip range.
    assert!(pairs(&g).is_empty());
    let mut g = chain(Some(UnaryOp::Relu), None, |_| 1.0);
    let y1 = g.nodes[0].output;
    g.outputs.push(y1);
    assert_eq!(pairs(&g).len(), 1, "`a`'s output is also a graph output: only dw -> b");
}

/// conv3x3 (3 -> 16, ReLU) whose channels' gains span 0.02..4 -> conv3x3 (16 -> 16, ReLU) -> conv1x1 (16 -> 8).
fn unbalanced_net() -> Graph {
    let mut g = Graph::default();
    let x = g.add_input("x", TensorType::f32(vec![1, 3, 12, 12]));
    let relu = Some(UnaryOp::Relu);
    let gain = |c: usize| 0.02 * 200f32.powf(((c * 7) % 16) as f32 / 15.0);
    let w1 = g.add_const("w1", Tensor::from_f32(vec![16, 3, 3, 3], weights(31, 16, 27, gain)).unwrap());
    let b1 = g.add_const("b1", Tensor::from_f32(vec![16], lcg(32, 16, 0.05)).unwrap());
    let y1 = g.add_node("c1", conv(3, 1, relu), vec![x, w1, b1], "y1").unwrap();
    let w2 = g.add_const("w2", Tensor::from_f32(vec![16, 16, 3, 3], weights(33, 16, 144, |_| 0.3)).unwrap());
    let y2 = g.add_node("c2", conv(3, 1, relu), vec![y1, w2], "y2").unwrap();
    let w3 = g.add_const("w3", Tensor::from_f32(vec![8, 16, 1, 1], weights(34, 8, 16, |_| 1.0)).unwrap());
    let y3 = g.add_node("c3", conv(1, 1, None), vec![y2, w3], "out").unwrap();
    g.outputs.push(y3);
    g
}

/// The int8 output SQNR of `unbalanced_net` against f32 on 4 unseen inputs, with or without equalization.
fn int8_sqnr(equalize: bool) -> f64 {
    use crate::precision::{apply, Calibration, CalibrationMethod, Precision, PrecisionOptions};
    let input = |s: u64| vec![Tensor::from_f32(vec![1, 3, 12, 12], lcg(s, 432, 1.0)).unwrap()];
    let calibration =
        Calibration { samples: (0..8).map(|s| input(300 + s)).collect(), method: CalibrationMethod::MinMax };
    let o = PrecisionOptions {
        precision: Precision::Int8,
        calibration: Some(calibration),
        accuracy_budget_db: None,
        measure: false,
        bias_correction: false,
        equalize,
        share_residual_scales: false,
        output_check: false,
    };
    let g = unbalanced_net();
    let a = apply(&g, &accel_ops::target::Target::x1(), &o).unwrap();
    let (mut got, mut want) = (vec![], vec![]);
    for s in 0..4 {
        want.extend(evaluate(&g, &input(400 + s)).unwrap()[0].to_f32_vec());
        got.extend(evaluate(&a.graph, &input(400 + s)).unwrap()[0].to_f32_vec());
    }
    accel_ops::numerics::sqnr_db(&got, &want)
}

/// End to end through `apply`: equalization is what makes the int8 model accurate (`apply` must run it).
#[test]
fn equalization_raises_int8_sqnr_of_unbalanced_channels() {
    let (off, on) = (int8_sqnr(false), int8_sqnr(true));
    eprintln!("int8 SQNR without / with equalization: {off:.2} / {on:.2} dB");
    assert!(on > off + 1.0, "equalization did not help: {off:.2} -> {on:.2} dB");
}
