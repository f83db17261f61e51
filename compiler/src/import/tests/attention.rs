//! The transformer operators expanded at import (Attention, RotaryEmbedding, Swish): differential checks
//! against tract, and the refusals that must name the node.
use super::builder::{af, ai, M};
use super::{assert_close, check, import, run_accel};

/// A 4-D Attention `/Attention_<i>/Attention` on inputs `q`, `k`, `v` (and `mask` when listed).
fn attention_4d(q: &[i64], kv: &[i64], inputs: &[&str], attrs: Vec<tract_onnx::pb::AttributeProto>) -> M {
    let mut m = M::new(23).input("q", q).input("k", kv).input("v", kv);
    if inputs.contains(&"mask") {
        m = m.input("mask", &[q[2], kv[2]]);
    }
    m.node("Attention", inputs, &["y"], attrs).output("y")
}

#[test]
fn attention_matches_tract() {
    check(&attention_4d(&[1, 2, 3, 4], &[1, 2, 5, 4], &["q", "k", "v"], vec![]));
    check(&attention_4d(&[1, 2, 3, 4], &[1, 2, 5, 4], &["q", "k", "v", "mask"], vec![]));
    // (softcap: tract has none; the conformance cases cover it.)
    // Grouped-query attention (4 query heads on 2 KV heads), causal, with an explicit scale.
    check(&attention_4d(&[2, 4, 3, 4], &[2, 2, 3, 4], &["q", "k", "v"], vec![ai("is_causal", 1), af("scale", 0.3)]));
    // 3-D inputs split into heads.
    let m = M::new(23)
        .input("q", &[1, 3, 8])
        .input("k", &[1, 5, 4])
        .input("v", &[1, 5, 6])
        .node("Attention", &["q", "k", "v"], &["y"], vec![ai("q_num_heads", 2), ai("kv_num_heads", 1)])
        .output("y");
    check(&m);
}

#[test]
fn attention_refusals_name_the_node() {
    // A rank-5 mask cannot broadcast to the 4-D scores.
    let m = M::new(23)
        .input("q", &[1, 2, 3, 4])
        .input("k", &[1, 2, 5, 4])
        .input("v", &[1, 2, 5, 4])
        .input("mask", &[1, 1, 1, 3, 5])
        .named("attn0", "Attention", &["q", "k", "v", "mask"], &["y"], vec![])
        .output("y");
    let e = import(&m.bytes()).unwrap_err().to_string();
    assert!(e.contains("attn0") && e.contains("attn_mask"), "{e}");
    // A mask longer than the keys.
    let m = M::new(23)
        .input("q", &[1, 2, 3, 4])
        .input("k", &[1, 2, 2, 4])
        .input("v", &[1, 2, 2, 4])
        .input("mask", &[3, 4])
        .node("Attention", &["q", "k", "v", "mask"], &["y"], vec![])
        .output("y");
    let e = import(&m.bytes()).unwrap_err().to_string();
    assert!(e.contains("/Attention_0/Attention") && e.contains("attn_mask"), "{e}");
    // 3-D inputs without head counts, and query heads that are not a multiple of the KV heads.
    let m = M::new(23)
        .input("q", &[1, 3, 8])
        .input("k", &[1, 5, 8])
        .input("v", &[1, 5, 8])
        .node("Attention", &["q", "k", "v"], &["y"], vec![])
        .output("y");
    let e = import(&m.bytes()).unwrap_err().to_string();
    assert!(e.contains("q_num_heads"), "{e}");
    let e = import(&attention_4d(&[1, 3, 3, 4], &[1, 2, 5, 4], &["q", "k", "v"], vec![]).bytes()).unwrap_err();
    assert!(e.to_string().contains("inconsistent shapes"), "{e}");
    // Only one of past_key / past_value.
    let m = M::new(23)
        .input("q", &[1, 2, 3, 4])
        .input("k", &[1, 2, 5, 4])
        .input("v", &[1, 2, 5, 4])
        .input("pk", &[1, 2, 2, 4])
        .node("Attention", &["q", "k", "v", "", "pk"], &["y"], vec![])
        .output("y");
    let e = import(&m.bytes()).unwrap_err().to_string();
    assert!(e.contains("together"), "{e}");
}

#[test]
fn rotary_embedding_matches_tract() {
    for interleaved in [0, 1] {
        for rot in [0, 4] {
            let m = M::new(23)
                .input("x", &[2, 3, 4, 8])
                .weight("cos", &[10, if rot == 0 { 4 } else { 2 }], 1)
                .weight("sin", &[10, if rot == 0 { 4 } else { 2 }], 2)
                .init_i64("pos", &[2, 4], &[0, 1, 2, 3, 9, 4, 2, 0])
                .node(
                    "RotaryEmbedding",
                    &["x", "cos", "sin", "pos"],
                    &["y"],
                    vec![ai("interleaved", interleaved), ai("rotary_embedding_dim", rot)],
                )
                .output("y");
            check(&m);
        }
    }
    let m = M::new(23)
        .input("x", &[2, 4, 12])
        .weight("cos", &[2, 4, 3], 1)
        .weight("sin", &[2, 4, 3], 2)
        .node("RotaryEmbedding", &["x", "cos", "sin"], &["y"], vec![ai("num_heads", 2)])
        .output("y");
    check(&m);
}

#[test]
fn rotary_embedding_refuses_odd_dim_and_bad_position() {
    let base = |rot: i64, pos: i64| {
        M::new(23)
            .input("x", &[1, 1, 2, 8])
            .weight("cos", &[4, 4], 1)
            .weight("sin", &[4, 4], 2)
            .init_i64("pos", &[1, 2], &[0, pos])
            .named(
                "rope",
                "RotaryEmbedding",
                &["x", "cos", "sin", "pos"],
                &["y"],
                vec![ai("rotary_embedding_dim", rot)],
            )
            .output("y")
    };
    let e = import(&base(3, 1).bytes()).unwrap_err().to_string();
    assert!(e.contains("rope") && e.contains("even"), "{e}");
    let e = import(&base(0, 4).bytes()).unwrap_err().to_string();
    assert!(e.contains("rope") && e.contains("out of range"), "{e}");
}

/// Swish against its definition (tract has no Swish).
#[test]
fn swish_is_x_sigmoid_alpha_x() {
    let x = vec![-3.0f32, -0.5, 0.0, 0.7, 4.0];
    for alpha in [1.0f32, 0.5] {
        let m = M::new(24).input("x", &[5]).node("Swish", &["x"], &["y"], vec![af("alpha", alpha)]).output("y");
        let g = import(&m.bytes()).unwrap_or_else(|e| panic!("import failed: {e}"));
        let got = run_accel(&g, &[(vec![5], x.clone())]);
        let want: Vec<f32> = x.iter().map(|&v| v / (1.0 + (-alpha * v).exp())).collect();
        assert_close("swish", &got, &[(vec![5], want)]);
    }
}
