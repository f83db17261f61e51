//! Property tests of the fast kernels against the reference semantics on random geometries, the awkward ones
//! included (1x1, odd channel counts, strides, dilation, groups, depthwise, padding on one side only, stripes
//! whose block is taller than the rows they produce, residual, fused activations): f32 convolution against
//! `accel_ops::op::Conv` within tolerance (the depthwise kernel bit for bit), INT8 bit for bit against its
//! reference, BF16 within tolerance of its reference.
use super::bf16::{conv_bf16, conv_bf16_reference, gemm_bf16, gemm_bf16_reference, Bf16, GemmBf16};
use super::int8::{conv_i8, conv_i8_reference, gemm_i8, gemm_i8_reference, GemmI8};
use super::*;
use crate::random::SplitMix64;
use accel_ops::op::{Conv, Op, UnaryOp};
use accel_ops::Tensor;
use proptest::prelude::*;

/// A random convolution block, as the compiler emits them: an output stripe of `out_h` rows (at most the full
/// height of the block with its pads) whose input block carries `pt` rows of top padding and `pb` of bottom.
#[derive(Debug, Clone)]
struct Case {
    g: ConvGeom,
    pads: [usize; 4],
    bias: bool,
    residual: bool,
    act: Option<UnaryOp>,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    let shape = (1usize..4, 1usize..4, 1usize..4, 1usize..3, 1usize..4, 1usize..4, 0usize..3, 0usize..3);
    let more = (0usize..3, 0usize..3, 1usize..13, 1usize..13, 0usize..4, any::<u64>(), 0usize..4, 0usize..3);
    (shape, more).prop_filter_map("kernel must fit", |(s, m)| {
        let (groups, cg, kg, kh, kw, stride, pt, pl) = s;
        let (pb, pr, h, w, dil, seed, flags, shorter) = m;
        let dilation = [1 + dil % 2, 1 + dil / 2];
        let full_h = Conv::out_dim(h, pt, pb, kh, stride, dilation[0])?;
        let out_w = Conv::out_dim(w, pl, pr, kw, 1 + stride % 2, dilation[1])?;
        let acts = [None, Some(UnaryOp::Relu), Some(UnaryOp::Clip { min: 0.0, max: 0.5 }), Some(UnaryOp::Sigmoid)];
        let g = ConvGeom {
            in_c: groups * cg,
            in_h: h,
            in_w: w,
            out_c: groups * kg,
            out_h: full_h.saturating_sub(shorter).max(1),
            out_w,
            kernel: [kh, kw],
            stride: [stride, 1 + stride % 2],
            dilation,
            pad: [pt, pl],
            groups,
        };
        Some(Case {
            g,
            pads: [pt, pl, pb, pr],
            bias: flags & 1 == 1,
            residual: flags & 2 == 2,
            act: acts[seed as usize % 4],
            seed,
        })
    })
}

fn close(got: &[f32], want: &[f32], what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len(), "{}: lengths", what);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= 1e-4 + 1e-4 * w.abs() || (g.is_nan() && w.is_nan());
        prop_assert!(ok, "{}: element {}: got {}, want {}", what, i, g, w);
    }
    Ok(())
}

/// The reference output of a case: `accel_ops::op::Conv` on the block, cut to the stripe's first `out_h` rows.
fn reference(c: &Case, x: &Tensor, w: &Tensor, b: &Tensor, r: Option<&[f32]>) -> Vec<f32> {
    let g = &c.g;
    let op =
        Conv { kernel: g.kernel, strides: g.stride, dilations: g.dilation, pads: c.pads, group: g.groups, act: None };
    let full = Op::Conv(op).eval(&[x, w, b]).expect("reference conv");
    let [_, _, fh, fw] = full.dims()[..] else { panic!("rank") };
    assert_eq!(fw, g.out_w);
    let data = full.as_f32().expect("f32");
    let mut out = Vec::with_capacity(g.out_c * g.out_h * g.out_w);
    for oc in 0..g.out_c {
        out.extend_from_slice(&data[oc * fh * fw..][..g.out_h * fw]);
    }
    // Residual, then the activation, as `Conv::eval` applies them after the sum.
    for (i, v) in out.iter_mut().enumerate() {
        *v += r.map_or(0.0, |r| r[i]);
        *v = c.act.map_or(*v, |a| a.apply(*v));
    }
    out
}

fn tensor(rng: &mut SplitMix64, dims: &[usize]) -> Tensor {
    Tensor::from_f32(dims.to_vec(), rng.f32_vec(dims.iter().product())).expect("tensor")
}

fn check_f32(c: &Case) -> Result<(), TestCaseError> {
    check_f32_on(c, false)
}

/// `check_f32`, with `lanes`: on the channel-lane GEMM wherever B is in memory (its weights packed here).
fn check_f32_on(c: &Case, lanes: bool) -> Result<(), TestCaseError> {
    let g = &c.g;
    let mut rng = SplitMix64::new(c.seed);
    let x = tensor(&mut rng, &[1, g.in_c, g.in_h, g.in_w]);
    let w = tensor(&mut rng, &[g.out_c, g.in_c / g.groups, g.kernel[0], g.kernel[1]]);
    let b = if c.bias {
        tensor(&mut rng, &[g.out_c])
    } else {
        Tensor::from_f32(vec![g.out_c], vec![0.0; g.out_c]).expect("b")
    };
    let n = g.out_c * g.out_h * g.out_w;
    let r = rng.f32_vec(n);
    let r = c.residual.then_some(r.as_slice());
    let want = reference(c, &x, &w, &b, r);
    let mut y = vec![f32::NAN; n];
    let bias = c.bias.then(|| b.as_f32().expect("f32"));
    let (xs, ws) = (x.as_f32().expect("x"), w.as_f32().expect("w"));
    if lanes {
        let (cg, kg) = (g.in_c / g.groups, g.out_c / g.groups);
        let packed = super::lanes::LanePacked::pack(g.groups, kg, cg * g.kernel[0] * g.kernel[1], ws)
            .map_err(TestCaseError::fail)?;
        let on = super::conv::Lanes::Auto(&packed);
        super::conv::conv_f32_lanes(g, xs, ws, on, bias, r, c.act, &mut y).map_err(TestCaseError::fail)?;
        if super::lanes::available() {
            // The same fused multiply-adds in the same k blocks as the position-lane GEMM: bit for bit its result.
            let mut y_pos = vec![f32::NAN; n];
            conv_f32(g, xs, ws, bias, r, c.act, &mut y_pos).map_err(TestCaseError::fail)?;
            let same = y.iter().zip(&y_pos).all(|(a, b)| a.to_bits() == b.to_bits());
            prop_assert!(same, "{:?}: the channel-lane and position-lane GEMMs differ", g);
        }
    } else {
        conv_f32(g, xs, ws, bias, r, c.act, &mut y).map_err(TestCaseError::fail)?;
    }
    close(&y, &want, &format!("{g:?}"))?;
    if g.in_c == g.groups && c.act.is_none() {
        // The depthwise kernel sums in the reference's order: bit for bit.
        for (i, (a, b)) in y.iter().zip(&want).enumerate() {
            prop_assert!(a.to_bits() == b.to_bits() || (a == b), "depthwise element {} differs: {} vs {}", i, a, b);
        }
    }
    Ok(())
}

fn i8_vec(rng: &mut SplitMix64, n: usize) -> Vec<i8> {
    (0..n).map(|_| (rng.next_u64() >> 56) as u8 as i8).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn conv_f32_matches_the_reference(c in case()) {
        check_f32(&c)?;
    }

    #[test]
    fn conv_i8_is_bit_identical_to_its_reference(c in case()) {
        let g = &c.g;
        let mut rng = SplitMix64::new(c.seed);
        let x = i8_vec(&mut rng, g.in_c * g.in_h * g.in_w);
        let w = i8_vec(&mut rng, g.out_c * g.in_c / g.groups * g.kernel[0] * g.kernel[1]);
        let bias: Vec<i32> = (0..g.out_c).map(|_| rng.next_u64() as i32 >> 8).collect();
        let bias = c.bias.then_some(bias.as_slice());
        let zero = (rng.next_u64() >> 56) as u8 as i8;
        let n = g.out_c * g.out_h * g.out_w;
        let (mut got, mut want) = (vec![7i32; n], vec![9i32; n]);
        conv_i8(g, &x, zero, &w, bias, &mut got).map_err(TestCaseError::fail)?;
        conv_i8_reference(g, &x, zero, &w, bias, &mut want).map_err(TestCaseError::fail)?;
        prop_assert_eq!(got, want);
    }

    #[test]
    fn conv_bf16_matches_its_reference(c in case()) {
        let g = &c.g;
        let mut rng = SplitMix64::new(c.seed);
        let bf = |v: Vec<f32>| v.into_iter().map(Bf16::from_f32).collect::<Vec<_>>();
        let x = bf(rng.f32_vec(g.in_c * g.in_h * g.in_w));
        let w = bf(rng.f32_vec(g.out_c * g.in_c / g.groups * g.kernel[0] * g.kernel[1]));
        let bias = rng.f32_vec(g.out_c);
        let bias = c.bias.then_some(bias.as_slice());
        let n = g.out_c * g.out_h * g.out_w;
        let (mut got, mut want) = (vec![f32::NAN; n], vec![f32::NAN; n]);
        conv_bf16(g, &x, &w, bias, &mut got).map_err(TestCaseError::fail)?;
        conv_bf16_reference(g, &x, &w, bias, &mut want).map_err(TestCaseError::fail)?;
        close(&got, &want, "conv_bf16")?;
    }

    #[test]
    fn gemm_i8_and_bf16_match_their_references(m in 1usize..40, k in 0usize..70, n in 1usize..80, seed in any::<u64>()) {
        let mut rng = SplitMix64::new(seed);
        let (a, b) = (i8_vec(&mut rng, m * k), i8_vec(&mut rng, k * n));
        let bias: Vec<i32> = (0..n).map(|_| rng.next_u64() as i32).collect();
        let (mut got, mut want) = (vec![0i32; m * n], vec![1i32; m * n]);
        gemm_i8(GemmI8 { m, k, n }, &a, &b, Some(&bias), &mut got).map_err(TestCaseError::fail)?;
        gemm_i8_reference(GemmI8 { m, k, n }, &a, &b, Some(&bias), &mut want).map_err(TestCaseError::fail)?;
        prop_assert_eq!(got, want);
        let bf = |v: Vec<f32>| v.into_iter().map(Bf16::from_f32).collect::<Vec<_>>();
        let (a, b) = (bf(rng.f32_vec(m * k)), bf(rng.f32_vec(k * n)));
        let (mut got, mut want) = (vec![0f32; m * n], vec![1f32; m * n]);
        gemm_bf16(GemmBf16 { m, k, n }, &a, &b, None, &mut got).map_err(TestCaseError::fail)?;
        gemm_bf16_reference(GemmBf16 { m, k, n }, &a, &b, None, &mut want).map_err(TestCaseError::fail)?;
        close(&got, &want, "gemm_bf16")?;
    }
}

/// The layer shapes the compiler emits for the generated models (stripes with halos, pads on one side only),
/// large enough for the blocked paths, the wide depthwise blocks and the parallel splits.
#[test]
fn conv_f32_matches_the_reference_on_compiler_stripes() {
    type Stripe = (usize, usize, usize, usize, usize, usize, usize, [usize; 4], usize, usize);
    let stripes: [Stripe; 12] = [
        // (in_c, in_h, in_w, out_c, kernel, stride, groups, pads t/l/b/r, out_h, seed)
        (96, 9, 112, 96, 3, 2, 96, [0, 1, 0, 1], 4, 1),
        (32, 11, 112, 32, 3, 1, 32, [0, 1, 0, 1], 9, 2),
        (3, 23, 224, 32, 3, 2, 1, [0, 1, 0, 1], 11, 3),
        (144, 9, 56, 144, 3, 1, 144, [0, 1, 0, 1], 7, 4),
        (384, 5, 14, 384, 3, 1, 384, [1, 1, 0, 1], 4, 5),
        (384, 3, 14, 384, 3, 1, 384, [0, 1, 1, 1], 2, 6),
        (576, 5, 14, 576, 3, 2, 576, [0, 1, 0, 1], 2, 7),
        (960, 7, 7, 960, 3, 1, 960, [1, 1, 1, 1], 7, 8),
        (64, 15, 56, 64, 3, 1, 1, [1, 1, 0, 1], 14, 9),
        (128, 9, 28, 120, 3, 1, 1, [0, 1, 0, 1], 7, 10),
        (144, 7, 56, 24, 1, 1, 1, [0, 0, 0, 0], 7, 11),
        (3, 58, 224, 64, 7, 2, 1, [3, 3, 0, 3], 26, 12),
    ];
    for (in_c, in_h, in_w, out_c, k, s, groups, pads, out_h, seed) in stripes {
        let out_w = Conv::out_dim(in_w, pads[1], pads[3], k, s, 1).expect("fits");
        let g = ConvGeom {
            in_c,
            in_h,
            in_w,
            out_c,
            out_h,
            out_w,
            kernel: [k, k],
            stride: [s, s],
            dilation: [1, 1],
            pad: [pads[0], pads[1]],
            groups,
        };
        let c = Case {
            g,
            pads,
            bias: true,
            residual: seed % 2 == 0,
            act: Some(UnaryOp::Clip { min: 0.0, max: 6.0 }),
            seed: seed as u64,
        };
        check_f32(&c).unwrap_or_else(|e| panic!("{e}"));
        check_f32(&Case { act: None, ..c }).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The activations spelled out for inlining equal `UnaryOp::apply` bit for bit, special values included.
#[test]
fn inlined_activations_equal_apply_bitwise() {
    let specials =
        [0.0, -0.0, 1.0, -1.0, 0.25, -3.5, 6.5, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::MIN_POSITIVE];
    let ops = [
        UnaryOp::Relu,
        UnaryOp::Clip { min: 0.0, max: 6.0 },
        UnaryOp::Clip { min: -0.5, max: f32::INFINITY },
        UnaryOp::LeakyRelu { alpha: 0.1 },
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::HardSwish,
    ];
    for op in ops {
        let mut got = vec![0f32; specials.len()];
        unary_f32(op, &specials, &mut got).expect("unary");
        for (x, g) in specials.iter().zip(&got) {
            let want = op.apply(*x);
            assert!(g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()), "{op:?}({x}) = {g}, want {want}");
        }
    }
}

/// The direct depthwise INT8 loop on rows long enough for its vector path (and their remainders), with
/// stride 1 and 2, dilation and asymmetric padding: bit for bit the reference.
#[test]
fn depthwise_i8_on_wide_rows_is_bit_identical() {
    let mut rng = SplitMix64::new(5);
    for (stride, dil, pad, k) in [(1, 1, 1, 3), (1, 2, 2, 3), (2, 1, 1, 3), (1, 1, 0, 5), (2, 2, 3, 5)] {
        let (c, h, w) = (5, 9, 37);
        let out = |n: usize| (n + 2 * pad).checked_sub(dil * (k - 1) + 1).map(|v| v / stride + 1).unwrap_or(0);
        let g = ConvGeom {
            in_c: c,
            in_h: h,
            in_w: w,
            out_c: c,
            out_h: out(h),
            out_w: out(w),
            kernel: [k, k],
            stride: [stride, stride],
            dilation: [dil, dil],
            pad: [pad, pad],
            groups: c,
        };
        let x = i8_vec(&mut rng, c * h * w);
        let wt = i8_vec(&mut rng, c * k * k);
        let bias: Vec<i32> = (0..c).map(|_| rng.next_u64() as i32 >> 8).collect();
        let n = c * g.out_h * g.out_w;
        let (mut got, mut want) = (vec![7i32; n], vec![9i32; n]);
        conv_i8(&g, &x, -3, &wt, Some(&bias), &mut got).unwrap();
        conv_i8_reference(&g, &x, -3, &wt, Some(&bias), &mut want).unwrap();
        assert_eq!(got, want, "stride {stride} dilation {dil} pad {pad} kernel {k}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The INT8 depthwise kernel (phase planes, one flat multiply-add per tap) on random depthwise geometries:
    /// strides up to 4 (more than the kernel, so phases go unused), dilations, padding on any side beyond the
    /// kernel, planes from 1x1 to wider than a block, and stripes shorter than the block: bit for bit the
    /// reference.
    #[test]
    fn depthwise_i8_is_bit_identical_on_random_geometries(
        (c, h, w) in (1usize..6, 1usize..24, 1usize..70),
        (kh, kw, sh, sw) in (1usize..6, 1usize..6, 1usize..5, 1usize..5),
        (dh, dw, pads) in (1usize..4, 1usize..4, [0usize..5, 0usize..5, 0usize..5, 0usize..5]),
        (shorter, seed) in (0usize..3, any::<u64>()),
    ) {
        let [pt, pl, pb, pr] = pads;
        let (Some(full_h), Some(out_w)) =
            (Conv::out_dim(h, pt, pb, kh, sh, dh), Conv::out_dim(w, pl, pr, kw, sw, dw)) else {
            return Ok(());
        };
        let g = ConvGeom {
            in_c: c,
            in_h: h,
            in_w: w,
            out_c: c,
            out_h: full_h.saturating_sub(shorter).max(1),
            out_w,
            kernel: [kh, kw],
            stride: [sh, sw],
            dilation: [dh, dw],
            pad: [pt, pl],
            groups: c,
        };
        let mut rng = SplitMix64::new(seed);
        let x = i8_vec(&mut rng, c * h * w);
        let wt = i8_vec(&mut rng, c * kh * kw);
        let bias: Vec<i32> = (0..c).map(|_| rng.next_u64() as i32).collect();
        let bias = (seed % 3 != 0).then_some(bias.as_slice());
        let zero = (rng.next_u64() >> 56) as u8 as i8;
        let n = c * g.out_h * g.out_w;
        let (mut got, mut want) = (vec![7i32; n], vec![9i32; n]);
        conv_i8(&g, &x, zero, &wt, bias, &mut got).map_err(TestCaseError::fail)?;
        conv_i8_reference(&g, &x, zero, &wt, bias, &mut want).map_err(TestCaseError::fail)?;
        prop_assert_eq!(got, want);
    }
}

/// A depthwise geometry whose phase planes would dwarf its planes (a dilation far beyond the input, reaching
/// only padding) takes the plain loop: still the reference's result.
#[test]
fn depthwise_i8_with_a_huge_dilation_is_bit_identical() {
    let mut rng = SplitMix64::new(3);
    let (c, h, w, d) = (3, 4, 5, 400_000);
    let g = ConvGeom {
        in_c: c,
        in_h: h,
        in_w: w,
        out_c: c,
        out_h: 2,
        out_w: 3,
        kernel: [2, 2],
        stride: [1, 1],
        dilation: [d, d],
        pad: [0, 0],
        groups: c,
    };
    let x = i8_vec(&mut rng, c * h * w);
    let wt = i8_vec(&mut rng, c * 4);
    let n = c * g.out_h * g.out_w;
    let (mut got, mut want) = (vec![7i32; n], vec![9i32; n]);
    conv_i8(&g, &x, 5, &wt, None, &mut got).unwrap();
    conv_i8_reference(&g, &x, 5, &wt, None, &mut want).unwrap();
    assert_eq!(got, want);
}

/// The INT8 GEMM with k spanning several cache blocks (each block resumes from the sums of the last), and
/// ragged row and column tiles: bit for bit the reference; the f32 convolution on output widths whose last
/// panel is narrow (the half-width tile) within f32 rounding of the reference.
#[test]
fn int8_gemm_over_k_blocks_and_narrow_f32_panels() {
    let mut rng = SplitMix64::new(11);
    for (m, k, n) in [(19, 1100, 45), (8, 513, 32), (3, 2049, 17)] {
        let (a, b) = (i8_vec(&mut rng, m * k), i8_vec(&mut rng, k * n));
        let bias: Vec<i32> = (0..n).map(|_| rng.next_u64() as i32 >> 4).collect();
        let (mut got, mut want) = (vec![5i32; m * n], vec![6i32; m * n]);
        gemm_i8(GemmI8 { m, k, n }, &a, &b, Some(&bias), &mut got).unwrap();
        gemm_i8_reference(GemmI8 { m, k, n }, &a, &b, Some(&bias), &mut want).unwrap();
        assert_eq!(got, want, "{m}x{k}x{n}");
    }
    for (c, oc, hw) in [(70, 13, 7), (33, 9, 4), (300, 16, 3)] {
        let g = ConvGeom {
            in_c: c,
            in_h: hw,
            in_w: hw,
            out_c: oc,
            out_h: hw,
            out_w: hw,
            kernel: [1, 1],
            stride: [1, 1],
            dilation: [1, 1],
            pad: [0, 0],
            groups: 1,
        };
        let x: Vec<f32> = (0..c * hw * hw).map(|_| rng.uniform() - 0.5).collect();
        let w: Vec<f32> = (0..oc * c).map(|_| rng.uniform() - 0.5).collect();
        let mut got = vec![f32::NAN; oc * hw * hw];
        conv_f32(&g, &x, &w, None, None, None, &mut got).unwrap();
        for (o, &v) in got.iter().enumerate() {
            let (ch, p) = (o / (hw * hw), o % (hw * hw));
            let want: f64 = (0..c).map(|i| w[ch * c + i] as f64 * x[i * hw * hw + p] as f64).sum();
            assert!((v as f64 - want).abs() <= 1e-4 * (1.0 + want.abs()), "{c}>{oc} {hw}x{hw} [{o}]: {v} vs {want}");
        }
    }
}

/// A case a phase or lane strategy draws: `s` is (groups, input and output channels per group, kernel height
/// and width, strides), `m` (pads top, left, bottom, right, height, width, dilation code, seed); kept when the
/// kernel fits and `takes(geometry, input channels per group, output channels per group, a plain 1x1)`.
type Shape = (usize, usize, usize, usize, usize, usize, usize);
type More = (usize, usize, usize, usize, usize, usize, usize, u64);
fn drawn_case(s: Shape, m: More, takes: impl Fn(&ConvGeom, usize, usize, bool) -> bool) -> Option<Case> {
    let (groups, cg, kg, kh, kw, sh, sw) = s;
    let (pt, pl, pb, pr, h, w, dil, seed) = m;
    let dilation = [1 + dil % 2, 1 + dil / 2];
    let out_h = Conv::out_dim(h, pt, pb, kh, sh, dilation[0])?;
    let out_w = Conv::out_dim(w, pl, pr, kw, sw, dilation[1])?;
    let g = ConvGeom {
        in_c: groups * cg,
        in_h: h,
        in_w: w,
        out_c: groups * kg,
        out_h,
        out_w,
        kernel: [kh, kw],
        stride: [sh, sw],
        dilation,
        pad: [pt, pl],
        groups,
    };
    let stride1x1 = [kh, kw] == [1, 1] && [sh, sw] == [1, 1] && [pt, pl] == [0, 0] && out_w == w;
    takes(&g, cg, kg, stride1x1).then_some(Case {
        g,
        pads: [pt, pl, pb, pr],
        bias: seed & 1 == 1,
        residual: seed & 2 == 2,
        act: [None, Some(UnaryOp::Relu)][(seed >> 2) as usize % 2],
        seed,
    })
}

/// Strided, dilated, grouped and 1x1 convolutions with enough output channels that the GEMM reads B in place
/// from phase planes (`implicit`, asserted), not through im2col: within f32 rounding of the reference.
fn phase_case() -> impl Strategy<Value = Case> {
    let shape = (1usize..3, 1usize..20, 16usize..41, 1usize..6, 1usize..6, 1usize..4, 1usize..4);
    let more = (0usize..4, 0usize..4, 0usize..3, 0usize..3, 1usize..20, 1usize..20, 0usize..4, any::<u64>());
    (shape, more).prop_filter_map("kernel must fit", |(s, m)| {
        let takes = |g: &ConvGeom, cg: usize, kg: usize, stride1x1: bool| {
            !stride1x1 && cg > 1 && super::implicit::PhaseLayout::new(g).is_some_and(|l| l.suits(g, kg))
        };
        drawn_case(s, m, takes).map(|c| Case { act: None, ..c })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn conv_f32_on_phase_planes_matches_the_reference(c in phase_case()) {
        check_f32(&c)?;
    }
}

/// Depthwise convolutions whose dilation and padding reach far beyond the block: where the phase planes would
/// be much larger than the planes they serve (the first and last cases) the plain row loops run them; bit for
/// bit the reference either way.
#[test]
fn depthwise_f32_with_huge_dilations_and_pads_is_bit_identical() {
    for (dil, pad, stride, seed) in [(200, 200, 1, 1), (150, 160, 2, 2), (1, 300, 3, 3)] {
        let (h, w) = (5, 6);
        let pads = [pad, pad, pad, pad];
        let out_h = Conv::out_dim(h, pad, pad, 3, stride, dil).expect("fits");
        let out_w = Conv::out_dim(w, pad, pad, 3, stride, dil).expect("fits");
        let g = ConvGeom {
            in_c: 3,
            in_h: h,
            in_w: w,
            out_c: 6,
            out_h,
            out_w,
            kernel: [3, 3],
            stride: [stride, stride],
            dilation: [dil, dil],
            pad: [pad, pad],
            groups: 3,
        };
        check_f32(&Case { g, pads, bias: true, residual: false, act: None, seed }).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Convolutions for the channel-lane GEMM: B in memory (1x1 stride 1 on the input planes, or phase planes at
/// any stride, dilation and group count), odd channel counts on both sides of the 32-lane panels, and small
/// planes (1 to ~100 positions, 7x7 included) so every tile width from 1 to 8 positions occurs.
fn lane_case() -> impl Strategy<Value = Case> {
    let shape = (1usize..3, 2usize..24, 1usize..70, 1usize..4, 1usize..4, 1usize..3, 1usize..3);
    let more = (0usize..3, 0usize..3, 0usize..2, 0usize..2, 1usize..12, 1usize..12, 0usize..4, any::<u64>());
    (shape, more).prop_filter_map("kernel must fit, B in memory", |(s, m)| {
        let takes = |g: &ConvGeom, _: usize, kg: usize, stride1x1: bool| {
            stride1x1 || super::implicit::PhaseLayout::new(g).is_some_and(|l| l.suits(g, kg))
        };
        drawn_case(s, m, takes)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn conv_f32_on_the_channel_lane_gemm_matches_the_reference(c in lane_case()) {
        check_f32_on(&c, true)?;
    }
}

/// On AVX-512 CPUs the channel-lane GEMM takes every convolution whose B is in memory, those whose positions
/// fill whole 16-lane halves included (its tile is the faster one even there): a 1x1 over 4 rows of 28, the 7x7
/// stride-2 stem; not a depthwise one (the direct kernel's).
#[test]
fn channel_lanes_take_every_convolution_with_b_in_memory() {
    let geom = ConvGeom::square;
    let on = super::lanes::available();
    assert_eq!(super::conv::wants_lanes(&geom((64, 4, 28), (256, 4, 28), 1, 1, 0, 1)), on);
    assert_eq!(super::conv::wants_lanes(&geom((3, 33, 61), (64, 14, 28), 7, 2, 3, 1)), on);
    assert!(!super::conv::wants_lanes(&geom((64, 6, 28), (64, 4, 28), 3, 1, 1, 64)));
}

/// Every tile shape of the channel-lane GEMM (`lanes::position_tiles`): rows of 1 to 7 positions two at a time
/// (and an odd row left alone), rows of 8 to 14 whole, longer rows cut into runs (28, 29, 30, 57), one position;
/// last panels of 1, 2, 16 (the half tile) and 17, 31, 32 channels (the full one); more than one k block; 1x1
/// on the input planes and 3x3 (stride 1 and 2) on phase planes: within f32 rounding of the reference and bit
/// for bit the position-lane GEMM (`check_f32_on`).
#[test]
fn channel_lane_tiles_of_every_shape_match_the_position_lane_gemm() {
    let mut seed = 0u64;
    let widths = (1..=16).chain([20, 28, 29, 30, 57]);
    for (i, w) in widths.enumerate() {
        for (k, s, cin, cout, h) in [(1, 1, 300, 33, 3), (3, 1, 31, 48, 2), (3, 2, 30, 63, 5), (1, 1, 270, 1, 1)] {
            let pad = k / 2;
            let out_h = Conv::out_dim(h, pad, pad, k, s, 1).expect("fits");
            let out_w = Conv::out_dim(w, pad, pad, k, s, 1).expect("fits");
            let g = ConvGeom {
                in_c: cin,
                in_h: h,
                in_w: w,
                out_c: cout + i % 2,
                out_h,
                out_w,
                kernel: [k, k],
                stride: [s, s],
                dilation: [1, 1],
                pad: [pad, pad],
                groups: 1,
            };
            seed += 1;
            let c = Case { g, pads: [pad; 4], bias: true, residual: seed % 2 == 0, act: None, seed };
            check_f32_on(&c, true).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// ResNet-50's 7x7 stage shapes (1x1 and 3x3 on 7x7 planes, the 3x3/2 into them) with more than one k block:
/// the channel-lane GEMM takes them on its own (`Lanes::Auto`), within f32 rounding of the reference and bit
/// for bit the position-lane GEMM's result.
#[test]
fn conv_f32_channel_lanes_on_7x7_planes() {
    let cases = [(160, 40, 7, 1, 1), (48, 64, 9, 3, 1), (24, 33, 15, 3, 2), (300, 8, 7, 1, 1)];
    for (seed, (cin, cout, hw, k, s)) in cases.into_iter().enumerate() {
        let pad = k / 2;
        let out = (hw + 2 * pad - k) / s + 1;
        let g = ConvGeom {
            in_c: cin,
            in_h: hw,
            in_w: hw,
            out_c: cout,
            out_h: out,
            out_w: out,
            kernel: [k, k],
            stride: [s, s],
            dilation: [1, 1],
            pad: [pad, pad],
            groups: 1,
        };
        assert_eq!(super::conv::wants_lanes(&g), super::lanes::available(), "{g:?}");
        let c = Case { g, pads: [pad; 4], bias: true, residual: seed % 2 == 0, act: None, seed: seed as u64 };
        let mut rng = SplitMix64::new(c.seed);
        let x = tensor(&mut rng, &[1, cin, hw, hw]);
        let w = tensor(&mut rng, &[cout, cin, k, k]);
        let b = tensor(&mut rng, &[cout]);
        let r = rng.f32_vec(cout * out * out);
        let want = reference(&c, &x, &w, &b, Some(&r));
        let ws = w.as_f32().expect("w");
        let packed = super::lanes::LanePacked::pack(1, cout, cin * k * k, ws).expect("pack");
        let mut y = vec![f32::NAN; cout * out * out];
        let (xs, bs) = (x.as_f32().expect("x"), b.as_f32().expect("b"));
        let on = super::conv::Lanes::Auto(&packed);
        super::conv::conv_f32_lanes(&g, xs, ws, on, Some(bs), Some(&r), None, &mut y).expect("conv");
        for (i, (a, e)) in y.iter().zip(&want).enumerate() {
            assert!((a - e).abs() <= 1e-4 + 1e-4 * e.abs(), "{g:?} [{i}]: {a} vs {e}");
        }
        // Both GEMMs sum each output's k steps in order in the same k blocks: bit for bit the same, so a result
        // does not depend on whether the weights were cached.
        let mut y_pos = vec![f32::NAN; y.len()];
        conv_f32(&g, xs, ws, Some(bs), Some(&r), None, &mut y_pos).expect("conv");
        if super::lanes::available() {
            assert!(y.iter().zip(&y_pos).all(|(a, b)| a.to_bits() == b.to_bits()), "{g:?}: the GEMMs differ");
        }
    }
}

/// Strided, dilated, grouped and padded INT8 convolutions (not depthwise, not the plain 1x1) that read B in
/// place from phase planes (`phase_i8`, asserted), with enough positions for several 32-column panels and
/// more than one k block, and stripes shorter than their block: bit for bit the reference.
fn i8_phase_case() -> impl Strategy<Value = Case> {
    let shape = (1usize..3, 1usize..40, 1usize..20, 1usize..6, 1usize..6, 1usize..4, 1usize..4);
    let more = (0usize..4, 0usize..4, 0usize..3, 0usize..3, 1usize..30, 1usize..30, 0usize..4, any::<u64>());
    (shape, more, 0usize..3).prop_filter_map("phase planes must take it", |(s, m, shorter)| {
        let takes = |g: &ConvGeom, cg: usize, kg: usize, stride1x1: bool| {
            let depthwise = cg == 1 && kg == 1;
            !stride1x1 && !depthwise && super::phase_i8::PhaseI8::new(g).is_some()
        };
        drawn_case(s, m, takes)
            .map(|c| Case { g: ConvGeom { out_h: c.g.out_h.saturating_sub(shorter).max(1), ..c.g }, ..c })
    })
}

fn check_i8(g: &ConvGeom, seed: u64, bias: bool) -> Result<(), TestCaseError> {
    let mut rng = SplitMix64::new(seed);
    let x = i8_vec(&mut rng, g.in_c * g.in_h * g.in_w);
    let w = i8_vec(&mut rng, g.out_c * g.in_c / g.groups * g.kernel[0] * g.kernel[1]);
    let b: Vec<i32> = (0..g.out_c).map(|_| rng.next_u64() as i32 >> 8).collect();
    let zero = (rng.next_u64() >> 56) as u8 as i8;
    let n = g.out_c * g.out_h * g.out_w;
    let (mut got, mut want) = (vec![7i32; n], vec![9i32; n]);
    conv_i8(g, &x, zero, &w, bias.then_some(b.as_slice()), &mut got).map_err(TestCaseError::fail)?;
    conv_i8_reference(g, &x, zero, &w, bias.then_some(b.as_slice()), &mut want).map_err(TestCaseError::fail)?;
    prop_assert_eq!(got, want, "{:?}", g);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn conv_i8_on_phase_planes_is_bit_identical(c in i8_phase_case()) {
        check_i8(&c.g, c.seed, c.bias)?;
    }
}

/// Geometries whose wide phase-plane outputs would waste too much (a 1-wide output under a 7-wide kernel) or
/// whose planes would be huge (a dilation far beyond the block) take im2col (asserted), next to ones that take
/// the phase planes: bit for bit the reference either way.
#[test]
fn conv_i8_im2col_fallback_and_phase_planes_agree_with_the_reference() {
    let geom =
        |c: usize, (h, w): (usize, usize), k: usize, (oh, ow): (usize, usize), dil: usize, pad: usize| ConvGeom {
            in_c: c,
            in_h: h,
            in_w: w,
            out_c: 9,
            out_h: oh,
            out_w: ow,
            kernel: [k, k],
            stride: [1, 1],
            dilation: [dil, dil],
            pad: [pad, pad],
            groups: 1,
        };
    let cases = [
        (geom(5, (40, 7), 7, (34, 1), 1, 0), false),
        (geom(3, (4, 5), 3, (2, 3), 200, 200), false),
        (geom(5, (7, 7), 3, (7, 7), 1, 1), true),
        (geom(70, (9, 9), 3, (4, 4), 2, 0), true),
    ];
    for (i, (g, phases)) in cases.into_iter().enumerate() {
        assert_eq!(super::phase_i8::PhaseI8::new(&g).is_some(), phases, "case {i}");
        check_i8(&g, i as u64, i % 2 == 0).unwrap();
    }
}
