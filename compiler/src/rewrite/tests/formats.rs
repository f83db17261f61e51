//! The format e-graph (`rewrite::choose_formats`) on hand-made problems: the fastest choice at lambda 0, the
//! exact one when noise dominates, a noisy layer demoted alone, formats passing through reshapes, and the
//! trade-off moving one way as lambda grows.
use crate::rewrite::{choose_formats, FormatKind, FormatNode, FormatProblem, Numeric, Variant};
use accel_ops::target::Target;

const ELEMS: usize = 64 * 56 * 56;

fn mac(input: usize, output: usize, int8_noise: f64) -> FormatNode {
    let variants = vec![
        Variant { numeric: Numeric::F32, noise: 0.0 },
        Variant { numeric: Numeric::Bf16, noise: 1e-5 },
        Variant { numeric: Numeric::Int8, noise: int8_noise },
    ];
    let kind = FormatKind::Mac { macs: (ELEMS * 576) as f64, weights: 36_864.0, variants };
    FormatNode { inputs: vec![input], output, kind }
}

/// input 0 -> layer -> 1 -> layer -> 2 -> ... with the given int8 noise per layer.
fn chain(noise: &[f64]) -> FormatProblem {
    FormatProblem {
        numel: vec![ELEMS; noise.len() + 1],
        inputs: vec![0],
        nodes: noise.iter().enumerate().map(|(k, &e)| mac(k, k + 1, e)).collect(),
        outputs: vec![noise.len()],
    }
}

fn formats(p: &FormatProblem, lambda: f64) -> Vec<Option<Numeric>> {
    choose_formats(p, &Target::x1(), lambda).numerics
}

#[test]
fn lambda_zero_takes_the_fastest_format_and_a_huge_one_the_exact_format() {
    let p = chain(&[1e-4; 4]);
    assert_eq!(formats(&p, 0.0), vec![Some(Numeric::Int8); 4]);
    assert_eq!(formats(&p, 1e18), vec![Some(Numeric::F32); 4]);
}

#[test]
fn a_noisy_layer_is_demoted_alone_somewhere_on_the_way() {
    let p = chain(&[1e-4, 1e-2, 1e-4]);
    let wanted = vec![Some(Numeric::Int8), Some(Numeric::Bf16), Some(Numeric::Int8)];
    let found = (0..=72).map(|e| formats(&p, 10f64.powf(e as f64 / 4.0))).any(|f| f == wanted);
    assert!(found, "no lambda demotes only the noisy middle layer");
}

#[test]
fn noise_falls_and_cycles_rise_as_lambda_grows() {
    let p = chain(&[3e-4, 1e-2, 1e-4, 2e-3, 5e-5]);
    let mut last: Option<(f64, f64)> = None;
    for e in 0..=72 {
        let c = choose_formats(&p, &Target::x1(), 10f64.powf(e as f64 / 4.0));
        if let Some((cycles, noise)) = last {
            assert!(c.noise <= noise && c.cycles >= cycles, "at 10^{}: {c:?} after {last:?}", e as f64 / 4.0);
        }
        last = Some((c.cycles, c.noise));
    }
}

#[test]
fn a_reshape_passes_int8_through_without_a_round_trip() {
    let direct = chain(&[1e-4, 1e-4]);
    let mut reshaped = chain(&[1e-4, 1e-4]);
    // 0 -> layer -> 1 -> reshape -> 3 -> layer -> 2
    reshaped.numel.push(ELEMS);
    reshaped.nodes[1].inputs = vec![3];
    reshaped.nodes.insert(1, FormatNode { inputs: vec![1], output: 3, kind: FormatKind::Alias });
    let a = choose_formats(&direct, &Target::x1(), 0.0);
    let b = choose_formats(&reshaped, &Target::x1(), 0.0);
    assert_eq!(b.numerics, vec![Some(Numeric::Int8), None, Some(Numeric::Int8)]);
    assert_eq!(a.cycles, b.cycles, "the reshape adds no conversion");
}

#[test]
fn a_layer_two_consumers_read_is_paid_once() {
    // 0 -> A -> 1; 1 -> B -> 2; 1 -> C -> 3; outputs 2 and 3.
    let p = FormatProblem {
        numel: vec![ELEMS; 4],
        inputs: vec![0],
        nodes: vec![mac(0, 1, 1e-4), mac(1, 2, 1e-4), mac(1, 3, 1e-4)],
        outputs: vec![2, 3],
    };
    let two = choose_formats(&p, &Target::x1(), 0.0);
    assert_eq!(two.numerics, vec![Some(Numeric::Int8); 3]);
    // From the chains: one layer L, and one conversion c (f32 -> int8 and back move the same bytes).
    let cycles = |n: usize| choose_formats(&chain(&vec![1e-4; n]), &Target::x1(), 0.0).cycles;
    let layer = cycles(2) - cycles(1);
    let conversion = (cycles(1) - layer) / 2.0;
    // Three layers, the input converted once, two outputs converted: A is computed once.
    let want = 3.0 * layer + 3.0 * conversion;
    assert!((two.cycles - want).abs() < 1e-6 * want, "{} cycles, want {want}", two.cycles);
}
