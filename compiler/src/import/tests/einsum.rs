//! Einsum expanded at import (diagonals, sums, pairwise batched MatMuls, the output transpose): differential
//! checks against tract on the equations exporters write, and the refusals that must name the node.
use super::builder::{astr, M};
use super::{check, import, rand_f32, run_accel};

/// `Einsum(equation)` over inputs of the given shapes, named `a`, `b`, `c`...
fn einsum(equation: &str, shapes: &[&[i64]]) -> M {
    let names: Vec<String> = (0..shapes.len()).map(|i| ((b'a' + i as u8) as char).to_string()).collect();
    let mut m = M::new(12);
    for (n, s) in names.iter().zip(shapes) {
        m = m.input(n, s);
    }
    let inputs: Vec<&str> = names.iter().map(String::as_str).collect();
    m.node("Einsum", &inputs, &["y"], vec![astr("equation", equation)]).output("y")
}

#[test]
fn einsum_matches_tract() {
    let cases: [(&str, &[&[i64]]); 12] = [
        // Attention scores and context, as PyTorch exports them.
        ("bhqd,bhkd->bhqk", &[&[1, 2, 3, 4], &[1, 2, 5, 4]]),
        ("bhqk,bhkd->bhqd", &[&[1, 2, 3, 5], &[1, 2, 5, 4]]),
        // Implicit output (alphabetical), matmul, outer and inner products.
        ("ij,jk", &[&[3, 4], &[4, 5]]),
        ("i,j->ij", &[&[3], &[4]]),
        ("i,i", &[&[6], &[6]]),
        // Transpose, sums, a label only one operand has.
        ("ijk->kji", &[&[2, 3, 4]]),
        ("ij->i", &[&[3, 4]]),
        ("ij,jk->i", &[&[3, 4], &[4, 5]]),
        // Diagonal and trace, batched by an ellipsis.
        ("...ii->...i", &[&[2, 3, 3]]),
        ("ii", &[&[4, 4]]),
        // Ellipsis batches of different ranks broadcast, and three operands.
        ("...ij,...jk->...ik", &[&[2, 3, 4, 5], &[3, 5, 2]]),
        ("ij,jk,kl->il", &[&[2, 3], &[3, 4], &[4, 5]]),
    ];
    for (eq, shapes) in cases {
        check(&einsum(eq, shapes));
    }
}

/// `ij->` is the sum of every element, a scalar (tract 0.23.9 returns the operand unchanged for this
/// equation, so it is checked against the sum itself).
#[test]
fn einsum_with_an_empty_output_sums_everything() {
    let g = import(&einsum("ij->", &[&[3, 4]]).bytes()).unwrap();
    let x = rand_f32(7, 12, -1.0, 1.0);
    let got = run_accel(&g, &[(vec![3, 4], x.clone())]);
    let want: f32 = x.iter().sum();
    assert_eq!(got[0].0, Vec::<usize>::new());
    assert!((got[0].1[0] - want).abs() <= 1e-5, "{} vs {want}", got[0].1[0]);
}

#[test]
fn einsum_refusals_name_the_node() {
    let cases: [(&str, &[&[i64]], &str); 4] = [
        ("ij,jk->ik", &[&[3, 4], &[5, 6]], "different sizes"),
        ("ij->ik", &[&[3, 4]], "in no operand"),
        ("ij,jk", &[&[3, 4]], "operands"),
        ("i1->i", &[&[3, 4]], "not a letter"),
    ];
    for (eq, shapes, why) in cases {
        let m = einsum(eq, shapes);
        let e = import(&m.bytes()).unwrap_err().to_string();
        assert!(e.contains("Einsum") && e.contains(why), "{eq}: {e}");
    }
}
