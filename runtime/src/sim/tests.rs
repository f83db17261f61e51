//! The simulator's fast kernels against the reference semantics of `accel_ops::op` on random data, including
//! awkward shapes (1x1, odd channels, stride 2, dilation 2, groups, depthwise, asymmetric padding, partial
//! blocks). Tolerance: 1e-4 absolute + 1e-4 relative.
use super::*;
use crate::random::SplitMix64;
use accel_ops::op::{BatchNorm, Binary, BinaryOp, Conv, Gemm, Op, Pool, PoolKind, Unary, UnaryOp};
use accel_ops::Tensor;

fn close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= 1e-4 + 1e-4 * w.abs() || (g.is_nan() && w.is_nan()) || g == w;
        assert!(ok, "{what}: element {i}: got {g}, want {w}");
    }
}

fn tensor(rng: &mut SplitMix64, dims: &[usize]) -> Tensor {
    Tensor::from_f32(dims.to_vec(), rng.f32_vec(dims.iter().product())).unwrap()
}

struct ConvCase {
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pads: [usize; 4],
    groups: usize,
    bias: bool,
    residual: bool,
    act: Option<UnaryOp>,
}

impl Default for ConvCase {
    fn default() -> Self {
        ConvCase {
            c: 3,
            h: 8,
            w: 8,
            k: 4,
            kernel: [3, 3],
            stride: [1, 1],
            dilation: [1, 1],
            pads: [1; 4],
            groups: 1,
            bias: true,
            residual: false,
            act: None,
        }
    }
}

fn check_conv(case: ConvCase) {
    let mut rng = SplitMix64::new(case.c as u64 * 31 + case.k as u64);
    let x = tensor(&mut rng, &[1, case.c, case.h, case.w]);
    let wt = tensor(&mut rng, &[case.k, case.c / case.groups, case.kernel[0], case.kernel[1]]);
    let b = if case.bias {
        tensor(&mut rng, &[case.k])
    } else {
        Tensor::from_f32(vec![case.k], vec![0.0; case.k]).unwrap()
    };
    let op = Op::Conv(Conv {
        kernel: case.kernel,
        strides: case.stride,
        dilations: case.dilation,
        pads: case.pads,
        group: case.groups,
        act: case.act,
    });
    let plain = op.eval(&[&x, &wt, &b]).unwrap();
    let [_, _, oh, ow] = plain.dims()[..] else { panic!() };
    let r = tensor(&mut rng, &[1, case.k, oh, ow]);
    let want = if case.residual { op.eval(&[&x, &wt, &b, &r]).unwrap() } else { plain };
    let g = ConvGeom {
        in_c: case.c,
        in_h: case.h,
        in_w: case.w,
        out_c: case.k,
        out_h: oh,
        out_w: ow,
        kernel: case.kernel,
        stride: case.stride,
        dilation: case.dilation,
        pad: [case.pads[0], case.pads[1]],
        groups: case.groups,
    };
    let mut y = vec![f32::NAN; case.k * oh * ow];
    let bias = case.bias.then(|| b.as_f32().unwrap());
    let res = case.residual.then(|| r.as_f32().unwrap());
    conv_f32(&g, x.as_f32().unwrap(), wt.as_f32().unwrap(), bias, res, case.act, &mut y).unwrap();
    close(&y, want.as_f32().unwrap(), &format!("conv {g:?}"));
    // A partial block (the first rows only) gives the first rows of the full result.
    if oh > 1 {
        let part = ConvGeom { out_h: oh - 1, ..g };
        let mut yp = vec![0.0; case.k * (oh - 1) * ow];
        conv_f32(&part, x.as_f32().unwrap(), wt.as_f32().unwrap(), bias, None, None, &mut yp).unwrap();
        if !case.residual && case.act.is_none() {
            for oc in 0..case.k {
                let got = &yp[oc * (oh - 1) * ow..][..(oh - 1) * ow];
                close(got, &want.as_f32().unwrap()[oc * oh * ow..][..(oh - 1) * ow], "partial conv block");
            }
        }
    }
}

#[test]
fn conv_matches_reference_on_awkward_shapes() {
    let cases = [
        ConvCase::default(),
        ConvCase { kernel: [1, 1], pads: [0; 4], c: 5, k: 7, ..Default::default() },
        ConvCase { kernel: [1, 1], pads: [1, 0, 0, 1], ..Default::default() },
        ConvCase { kernel: [1, 1], stride: [2, 2], pads: [0; 4], h: 9, w: 7, ..Default::default() },
        ConvCase { h: 1, w: 1, kernel: [1, 1], pads: [0; 4], c: 1, k: 1, ..Default::default() },
        ConvCase { stride: [2, 2], h: 9, w: 11, c: 5, k: 3, ..Default::default() },
        ConvCase { dilation: [2, 2], pads: [2; 4], h: 10, w: 9, ..Default::default() },
        ConvCase { dilation: [2, 1], stride: [1, 2], pads: [0, 1, 2, 0], ..Default::default() },
        ConvCase { groups: 2, c: 4, k: 6, bias: false, ..Default::default() },
        ConvCase { groups: 5, c: 5, k: 5, ..Default::default() },
        ConvCase { groups: 3, c: 3, k: 6, stride: [2, 2], ..Default::default() },
        ConvCase {
            groups: 8,
            c: 8,
            k: 8,
            kernel: [5, 5],
            pads: [2; 4],
            stride: [2, 2],
            h: 13,
            w: 13,
            ..Default::default()
        },
        ConvCase {
            kernel: [7, 7],
            stride: [2, 2],
            pads: [3; 4],
            h: 17,
            w: 15,
            act: Some(UnaryOp::Relu),
            ..Default::default()
        },
        ConvCase {
            kernel: [1, 3],
            pads: [0, 1, 0, 1],
            residual: true,
            act: Some(UnaryOp::Clip { min: 0.0, max: 0.5 }),
            ..Default::default()
        },
        ConvCase { kernel: [3, 3], pads: [0; 4], h: 3, w: 3, c: 2, k: 2, residual: true, ..Default::default() },
        // Large enough for the parallel paths (several column chunks and channel blocks).
        ConvCase { c: 32, k: 64, h: 28, w: 28, act: Some(UnaryOp::Relu), ..Default::default() },
        ConvCase { c: 64, k: 128, h: 7, w: 7, ..Default::default() },
        ConvCase { c: 48, k: 96, h: 20, w: 20, kernel: [1, 1], pads: [0; 4], ..Default::default() },
        ConvCase { groups: 32, c: 32, k: 32, h: 40, w: 40, ..Default::default() },
    ];
    for case in cases {
        check_conv(case);
    }
}

#[test]
fn conv_rejects_inconsistent_slices_without_panicking() {
    let g = ConvGeom {
        in_c: 2,
        in_h: 4,
        in_w: 4,
        out_c: 2,
        out_h: 4,
        out_w: 4,
        kernel: [3, 3],
        stride: [1, 1],
        dilation: [1, 1],
        pad: [1, 1],
        groups: 1,
    };
    let mut y = vec![0.0; 32];
    assert!(conv_f32(&g, &[0.0; 31], &[0.0; 36], None, None, None, &mut y).is_err());
    assert!(conv_f32(&g, &[0.0; 32], &[0.0; 36], Some(&[0.0; 3]), None, None, &mut y).is_err());
    assert!(conv_f32(&ConvGeom { groups: 0, ..g }, &[0.0; 32], &[0.0; 36], None, None, None, &mut y).is_err());
    assert!(conv_f32(&ConvGeom { stride: [0, 1], ..g }, &[0.0; 32], &[0.0; 36], None, None, None, &mut y).is_err());
}

#[test]
fn matmul_matches_gemm_reference() {
    let mut rng = SplitMix64::new(7);
    for (m, k, n, act) in [
        (1, 1, 1, None),
        (3, 5, 7, Some(UnaryOp::Relu)),
        (1, 512, 1000, None),
        (300, 70, 33, Some(UnaryOp::Sigmoid)),
        (2, 129, 65, None),
        (17, 1, 9, None),
    ] {
        let a = tensor(&mut rng, &[m, k]);
        let b = tensor(&mut rng, &[k, n]);
        let bias = tensor(&mut rng, &[n]);
        let gemm = Op::Gemm(Gemm { alpha: 1.0, beta: 1.0, trans_a: false, trans_b: false, act });
        let want = gemm.eval(&[&a, &b, &bias]).unwrap();
        let mut y = vec![f32::NAN; m * n];
        let g = MatMulGeom { m, k, n };
        matmul_f32(&g, a.as_f32().unwrap(), b.as_f32().unwrap(), Some(bias.as_f32().unwrap()), act, &mut y).unwrap();
        close(&y, want.as_f32().unwrap(), &format!("matmul {m}x{k}x{n}"));
        let want = Op::Gemm(Gemm { alpha: 1.0, beta: 0.0, trans_a: false, trans_b: false, act: None })
            .eval(&[&a, &b])
            .unwrap();
        matmul_f32(&g, a.as_f32().unwrap(), b.as_f32().unwrap(), None, None, &mut y).unwrap();
        close(&y, want.as_f32().unwrap(), &format!("matmul {m}x{k}x{n} without bias"));
    }
    assert!(matmul_f32(&MatMulGeom { m: 2, k: 2, n: 2 }, &[0.0; 3], &[0.0; 4], None, None, &mut [0.0; 4]).is_err());
}

#[test]
fn unary_matches_reference_for_every_function() {
    let mut rng = SplitMix64::new(11);
    let ops = [
        UnaryOp::Relu,
        UnaryOp::Clip { min: -0.5, max: 0.25 },
        UnaryOp::LeakyRelu { alpha: 0.1 },
        UnaryOp::Sigmoid,
        UnaryOp::HardSwish,
        UnaryOp::HardSigmoid { alpha: 0.2, beta: 0.5 },
        UnaryOp::Silu,
        UnaryOp::Gelu,
        UnaryOp::Tanh,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Reciprocal,
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Erf,
        UnaryOp::Floor,
        UnaryOp::Ceil,
        UnaryOp::Softplus,
        UnaryOp::Elu { alpha: 0.7 },
    ];
    for (len, op) in ops.into_iter().enumerate().map(|(i, op)| ([1, 3, 100, 40_000][i % 4], op)) {
        let positive = matches!(op, UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Reciprocal);
        let data: Vec<f32> = rng.f32_vec(len).iter().map(|v| if positive { v.abs() + 0.1 } else { v * 3.0 }).collect();
        let x = Tensor::from_f32(vec![len], data).unwrap();
        let want = Op::Unary(Unary { op }).eval(&[&x]).unwrap();
        let mut y = vec![0.0; len];
        unary_f32(op, x.as_f32().unwrap(), &mut y).unwrap();
        close(&y, want.as_f32().unwrap(), op.name());
    }
}

#[test]
fn binary_matches_reference_for_each_broadcast() {
    let mut rng = SplitMix64::new(13);
    let ops = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Pow, BinaryOp::Max, BinaryOp::Min];
    for op in ops {
        for (c, h, w) in [(1, 1, 1), (3, 5, 7), (16, 40, 60)] {
            let len = c * h * w;
            let a_data: Vec<f32> =
                rng.f32_vec(len).iter().map(|v| if op == BinaryOp::Pow { v.abs() + 0.1 } else { *v }).collect();
            let a = Tensor::from_f32(vec![1, c, h, w], a_data).unwrap();
            // (b's shape, period, repeat): full, scalar and per-channel.
            for (b_dims, period, repeat) in [(vec![1, c, h, w], len, 1), (vec![1], 1, len), (vec![c, 1, 1], c, h * w)] {
                let b_data: Vec<f32> = rng.f32_vec(period).iter().map(|v| v.signum() * (v.abs() + 0.5)).collect();
                let b = Tensor::from_f32(b_dims, b_data).unwrap();
                let want = Op::Binary(Binary { op }).eval(&[&a, &b]).unwrap();
                let mut y = vec![0.0; len];
                binary_f32(op, a.as_f32().unwrap(), b.as_f32().unwrap(), repeat, &mut y).unwrap();
                close(&y, want.as_f32().unwrap(), &format!("{} period {period} repeat {repeat}", op.name()));
            }
        }
    }
}

#[test]
fn pool_matches_reference() {
    let mut rng = SplitMix64::new(17);
    let kinds = [PoolKind::Max, PoolKind::Avg { count_include_pad: false }, PoolKind::Avg { count_include_pad: true }];
    type Case = (usize, usize, usize, [usize; 2], [usize; 2], [usize; 4]);
    let cases: [Case; 7] = [
        (2, 8, 8, [2, 2], [2, 2], [0; 4]),
        (3, 7, 5, [3, 3], [2, 2], [1; 4]),
        (1, 9, 9, [3, 3], [1, 1], [1; 4]),
        (5, 6, 7, [2, 3], [1, 2], [0, 1, 1, 0]),
        (4, 7, 7, [7, 7], [1, 1], [0; 4]),
        (2, 5, 5, [3, 3], [3, 3], [2, 2, 2, 2]),
        (64, 56, 56, [3, 3], [2, 2], [1; 4]),
    ];
    for kind in kinds {
        for (c, h, w, kernel, stride, pads) in cases {
            let x = tensor(&mut rng, &[1, c, h, w]);
            let want = Op::Pool(Pool { kind, kernel, strides: stride, pads }).eval(&[&x]).unwrap();
            let [_, _, oh, ow] = want.dims()[..] else { panic!() };
            let g = PoolGeom { c, in_h: h, in_w: w, out_h: oh, out_w: ow, kernel, stride, pads };
            let mut y = vec![0.0; c * oh * ow];
            pool_f32(kind, &g, x.as_f32().unwrap(), &mut y).unwrap();
            close(&y, want.as_f32().unwrap(), &format!("{} {g:?}", kind.name()));
        }
    }
}

#[test]
fn int8_pool_command_matches_reference() {
    use accel_ops::command::{Command, PoolCode, SramAddr};
    use accel_ops::numerics::pool::PoolQuant;
    let mut rng = SplitMix64::new(23);
    let kinds = [PoolKind::Max, PoolKind::Avg { count_include_pad: false }, PoolKind::Avg { count_include_pad: true }];
    type Case = (usize, usize, usize, [usize; 2], [usize; 2], [usize; 4]);
    let cases: [Case; 5] = [
        (3, 7, 5, [3, 3], [2, 2], [1; 4]),
        (5, 6, 7, [2, 3], [1, 2], [0, 1, 1, 0]),
        (4, 7, 7, [7, 7], [1, 1], [0; 4]),
        (2, 5, 5, [3, 3], [3, 3], [2, 2, 2, 2]),
        (64, 56, 56, [3, 3], [2, 2], [1; 4]),
    ];
    for kind in kinds {
        for (c, h, w, kernel, strides, pads) in cases {
            let x: Vec<i8> = (0..c * h * w).map(|_| rng.next_u64() as i8).collect();
            let q = PoolQuant {
                x_zero: (rng.next_u64() % 256) as i32 - 128,
                y_zero: (rng.next_u64() % 256) as i32 - 128,
                mult: (1 << 30) + (rng.next_u64() % (1 << 30)) as i32,
                shift: (rng.next_u64() % 3) as i32 - 1,
            };
            let pool = Pool { kind, kernel, strides, pads };
            let xt = Tensor::from_i8(vec![1, c, h, w], x.clone()).unwrap();
            let qt = Tensor::from_i32(vec![4], q.to_words().to_vec()).unwrap();
            let want = Op::Pool(pool.clone()).eval(&[&xt, &qt]).unwrap();
            let [_, _, oh, ow] = want.dims()[..] else { panic!() };
            // The block at 16, the output after it at an odd offset: addresses are bytes.
            let dst = 16 + x.len() + 3;
            let mut sram = vec![0x5a_u8; dst + c * oh * ow + 8];
            for (b, v) in sram[16..].iter_mut().zip(&x) {
                *b = *v as u8;
            }
            let cmd = Command::PoolI8 {
                kind: PoolCode(kind),
                src: SramAddr(16),
                dst: SramAddr(dst as u32),
                c: c as u32,
                in_h: h as u32,
                in_w: w as u32,
                out_h: oh as u32,
                out_w: ow as u32,
                kernel_h: kernel[0] as u16,
                kernel_w: kernel[1] as u16,
                stride_h: strides[0] as u16,
                stride_w: strides[1] as u16,
                pad_top: pads[0] as u16,
                pad_left: pads[1] as u16,
                pad_bottom: pads[2] as u16,
                pad_right: pads[3] as u16,
                x_zero: q.x_zero,
                y_zero: q.y_zero,
                mult: q.mult,
                shift: q.shift,
            };
            cmd.footprint().unwrap();
            super::pool_i8::pool_i8_cmd(&mut sram, &cmd).unwrap();
            let got: Vec<i8> = sram[dst..dst + c * oh * ow].iter().map(|&b| b as i8).collect();
            assert_eq!(got, want.as_i8().unwrap(), "{} {c}x{h}x{w} {kernel:?} {strides:?} {pads:?}", kind.name());
            assert!(sram[dst + c * oh * ow..].iter().all(|&b| b == 0x5a), "wrote past the output");
        }
    }
}

#[test]
fn affine_matches_batch_norm() {
    let mut rng = SplitMix64::new(19);
    for (c, inner) in [(1, 1), (3, 10), (7, 33), (64, 1000)] {
        let x = tensor(&mut rng, &[1, c, inner]);
        let scale = tensor(&mut rng, &[c]);
        let shift = tensor(&mut rng, &[c]);
        let mean = tensor(&mut rng, &[c]);
        let var = Tensor::from_f32(vec![c], rng.f32_vec(c).iter().map(|v| v.abs() + 0.5).collect()).unwrap();
        let bn = BatchNorm { epsilon: 1e-5 };
        let inputs = [&x, &scale, &shift, &mean, &var];
        let want = Op::BatchNorm(bn.clone()).eval(&inputs).unwrap();
        let (mul, add) = bn.affine(&inputs).unwrap();
        let params: Vec<f32> = mul.into_iter().chain(add).collect();
        let mut y = vec![0.0; c * inner];
        affine_f32(x.as_f32().unwrap(), &params, c, &mut y).unwrap();
        close(&y, want.as_f32().unwrap(), &format!("affine {c}x{inner}"));
    }
    assert!(affine_f32(&[0.0; 6], &[0.0; 3], 2, &mut [0.0; 6]).is_err());
}
