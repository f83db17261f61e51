//! Lowerings of MatMul, Gemm, pooling, LRN, convolution and Resize against the ops reference on random data.
use super::{check, Rng, Tol, REASSOCIATED};
use crate::op::*;

#[test]
fn matmul_batched_and_promoted() {
    let mut rng = Rng::new(11);
    let cases: &[(&[usize], &[usize])] = &[
        (&[3, 4], &[4, 5]),
        (&[2, 3, 4], &[4, 5]),
        (&[2, 1, 3, 4], &[3, 4, 2]),
        (&[4], &[4, 3]),
        (&[2, 4], &[4]),
        (&[7], &[7]),
        (&[0, 3], &[3, 2]),
        (&[2, 0], &[0, 3]),
        (&[1, 1], &[1, 1]),
        (&[2, 5, 33], &[2, 33, 9]),
    ];
    for (a, b) in cases {
        let (x, y) = (rng.tensor(a, -1.0, 1.0), rng.tensor(b, -1.0, 1.0));
        check(&Op::MatMul(MatMul), &[x, y], REASSOCIATED);
    }
}

#[test]
fn gemm_with_transposes_bias_and_activation() {
    let mut rng = Rng::new(12);
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        for c in [None, Some(vec![5usize]), Some(vec![3, 1]), Some(vec![3, 5])] {
            let a = if ta { rng.tensor(&[6, 3], -1.0, 1.0) } else { rng.tensor(&[3, 6], -1.0, 1.0) };
            let b = if tb { rng.tensor(&[5, 6], -1.0, 1.0) } else { rng.tensor(&[6, 5], -1.0, 1.0) };
            let mut inputs = vec![a, b];
            inputs.extend(c.map(|d| rng.tensor(&d, -1.0, 1.0)));
            let g = Gemm { alpha: 0.7, beta: 1.3, trans_a: ta, trans_b: tb, act: Some(UnaryOp::Relu) };
            check(&Op::Gemm(g), &inputs, REASSOCIATED);
        }
    }
}

#[test]
fn pooling_with_padding_and_strides() {
    let mut rng = Rng::new(13);
    let kinds = [PoolKind::Max, PoolKind::Avg { count_include_pad: false }, PoolKind::Avg { count_include_pad: true }];
    for kind in kinds {
        for (kernel, strides, pads, dims) in [
            ([2, 2], [2, 2], [0, 0, 0, 0], [1, 2, 4, 4]),
            ([3, 3], [1, 1], [1, 1, 1, 1], [2, 3, 5, 6]),
            ([3, 2], [2, 1], [1, 0, 2, 1], [1, 1, 7, 5]),
            ([5, 5], [1, 1], [0, 0, 0, 0], [1, 2, 5, 5]),
            ([1, 1], [1, 1], [0, 0, 0, 0], [0, 2, 3, 3]),
        ] {
            let x = rng.tensor(&dims, -2.0, 2.0);
            let tol = if kind == PoolKind::Max { Tol::Exact } else { REASSOCIATED };
            check(&Op::Pool(Pool { kind, kernel, strides, pads }), &[x], tol);
        }
    }
}

#[test]
fn lrn_across_channels() {
    let mut rng = Rng::new(14);
    for (size, dims) in [(3, vec![1, 5, 2, 2]), (4, vec![2, 6, 3]), (5, vec![1, 2, 1, 1]), (1, vec![1, 3, 2])] {
        let x = rng.tensor(&dims, -2.0, 2.0);
        let l = Lrn { size, alpha: 1e-2, beta: 0.75, bias: 1.0 };
        check(&Op::Lrn(l), &[x], REASSOCIATED);
    }
}

#[test]
fn conv_groups_padding_dilation_bias_residual_activation() {
    let mut rng = Rng::new(15);
    for (c, k, group, kernel, stride, pad, dilation) in [
        (3, 4, 1, 3, 1, 1, 1),
        (4, 4, 4, 3, 2, 1, 1),
        (4, 6, 2, 1, 1, 0, 1),
        (2, 2, 1, 3, 1, 2, 2),
        (1, 1, 1, 2, 3, 0, 1),
    ] {
        let x = rng.tensor(&[2, c, 6, 7], -1.0, 1.0);
        let w = rng.tensor(&[k, c / group, kernel, kernel], -1.0, 1.0);
        let conv = Conv {
            kernel: [kernel; 2],
            strides: [stride; 2],
            dilations: [dilation; 2],
            pads: [pad; 4],
            group,
            act: None,
        };
        check(&Op::Conv(conv.clone()), &[x.clone(), w.clone()], REASSOCIATED);
        let out = Op::Conv(conv.clone()).infer(&[x.ty(), w.ty()]).unwrap();
        let bias = rng.tensor(&[k], -1.0, 1.0);
        let res = rng.tensor(out.shape.dims(), -1.0, 1.0);
        let fused = Conv { act: Some(UnaryOp::Clip { min: 0.0, max: 6.0 }), ..conv };
        check(&Op::Conv(fused), &[x, w, bias, res], REASSOCIATED);
    }
}

#[test]
fn resize_nearest_and_linear_in_every_coordinate_mode() {
    let mut rng = Rng::new(16);
    let modes = [
        ResizeMode::Linear,
        ResizeMode::Nearest(NearestRounding::RoundPreferFloor),
        ResizeMode::Nearest(NearestRounding::RoundPreferCeil),
        ResizeMode::Nearest(NearestRounding::Floor),
        ResizeMode::Nearest(NearestRounding::Ceil),
    ];
    let coords = [CoordMode::HalfPixel, CoordMode::PytorchHalfPixel, CoordMode::AlignCorners, CoordMode::Asymmetric];
    for mode in modes {
        for coord in coords {
            for (dims, out_hw) in
                [([1, 2, 3, 4], [6, 8]), ([2, 1, 5, 5], [3, 2]), ([1, 1, 4, 3], [1, 1]), ([1, 1, 1, 1], [3, 2])]
            {
                let x = rng.tensor(&dims, -2.0, 2.0);
                let scales = [out_hw[0] as f32 / dims[2] as f32, out_hw[1] as f32 / dims[3] as f32];
                check(&Op::Resize(Resize { mode, coord, out_hw, scales, antialias: false }), &[x], Tol::Exact);
            }
        }
    }
}

/// The lowering divides by ONNX's unrounded length (scales that round the output down) and crops with
/// tf_crop_and_resize, extrapolating outside the input, exactly as the reference does.
#[test]
fn resize_fractional_align_corners_and_tf_crop() {
    let mut rng = Rng::new(17);
    let crop = CoordMode::TfCropAndResize {
        start_bits: [0.4f32.to_bits(), (-0.2f32).to_bits()],
        end_bits: [1.2f32.to_bits(), 0.7f32.to_bits()],
        extrapolation_bits: 10.0f32.to_bits(),
    };
    for mode in [ResizeMode::Linear, ResizeMode::Nearest(NearestRounding::RoundPreferFloor)] {
        for coord in [CoordMode::AlignCorners, crop] {
            for (dims, out_hw, scales) in
                [([1, 2, 4, 5], [2, 3], [0.6, 0.7]), ([1, 1, 3, 4], [5, 1], [5.0 / 3.0, 0.25])]
            {
                let x = rng.tensor(&dims, -2.0, 2.0);
                check(&Op::Resize(Resize { mode, coord, out_hw, scales, antialias: false }), &[x], Tol::Exact);
            }
        }
    }
}
