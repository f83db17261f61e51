//! Every `from_op` lowering, JIT against interpreter, on random shapes (empty, one element, odd lengths that
//! leave vector remainders, broadcasting, permuted layouts), plus the vectorization the benchmark relies on.
use super::{check, differential_on, Rng};
use accel_ops::kernel::{from_op, verify};
use accel_ops::op::*;
use accel_ops::{DType, Shape, TensorType};

/// Lowers `op` for `inputs` and runs the differential check; returns (regions, vector regions).
fn run(op: &Op, inputs: &[TensorType], rng: &mut Rng) -> (usize, usize) {
    let out = op.infer(inputs).unwrap_or_else(|e| panic!("{}: {e}", op.kind()));
    let k = from_op(op, inputs, &out).unwrap_or_else(|e| panic!("{e}"));
    let s = check(k, rng).stats();
    (s.regions, s.vector_regions)
}

fn f32s(dims: &[usize]) -> TensorType {
    TensorType::f32(dims.to_vec())
}

fn random_dims(rng: &mut Rng, rank: usize) -> Vec<usize> {
    (0..rank).map(|_| [0, 1, 1, 2, 3, 4, 5, 7, 9, 16][rng.below(10)]).collect()
}

#[test]
fn unary_ops() {
    let mut rng = Rng::new(1);
    use UnaryOp::*;
    let ops = [
        Relu,
        Clip { min: -1.0, max: 2.0 },
        LeakyRelu { alpha: 0.1 },
        Sigmoid,
        HardSwish,
        HardSigmoid { alpha: 0.2, beta: 0.5 },
        Silu,
        Gelu,
        Tanh,
        Exp,
        Log,
        Sqrt,
        Reciprocal,
        Neg,
        Abs,
        Erf,
        Floor,
        Ceil,
        Softplus,
        Elu { alpha: 0.7 },
    ];
    for op in ops {
        for n in [0, 1, 3, 4, 5, 15, 16, 17, 63, 64, 65, 1000] {
            let (_, vec) = run(&Op::Unary(Unary { op }), &[f32s(&[n])], &mut rng);
            assert_eq!(vec, usize::from(n >= 4), "{op:?} on {n} elements is vectorized");
        }
        let dims = random_dims(&mut rng, 3);
        run(&Op::Unary(Unary { op }), &[f32s(&dims)], &mut rng);
    }
}

#[test]
fn binary_ops_with_broadcasting() {
    let mut rng = Rng::new(2);
    let ops = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Pow, BinaryOp::Max, BinaryOp::Min];
    for op in ops {
        for _ in 0..12 {
            let rank = rng.below(4);
            let a = random_dims(&mut rng, rank);
            // b: a suffix of a with some axes set to 1.
            let keep = rng.below(a.len() + 1);
            let b: Vec<usize> = a[a.len() - keep..].iter().map(|&d| if rng.below(3) == 0 { 1 } else { d }).collect();
            let (x, y) = (f32s(&a), f32s(&b));
            run(&Op::Binary(Binary { op }), &[x.clone(), y.clone()], &mut rng);
            run(&Op::Binary(Binary { op }), &[y, x], &mut rng);
        }
    }
}

#[test]
fn casts_and_batch_norm() {
    let mut rng = Rng::new(3);
    let all = [DType::F32, DType::BF16, DType::I8, DType::U8, DType::I32, DType::I64, DType::Bool];
    for from in all {
        for to in all {
            for n in [0, 3, 21] {
                run(&Op::Cast(Cast { to }), &[TensorType::new(from, vec![n])], &mut rng);
            }
        }
    }
    for dims in [vec![2, 3, 4, 5], vec![1, 7], vec![2, 4, 0]] {
        let c = f32s(&[dims[1]]);
        let inputs = vec![f32s(&dims), c.clone(), c.clone(), c.clone(), c];
        run(&Op::BatchNorm(BatchNorm { epsilon: 1e-3 }), &inputs, &mut rng);
    }
}

#[test]
fn layout_ops_on_every_dtype() {
    let mut rng = Rng::new(4);
    for dtype in [DType::F32, DType::BF16, DType::I8, DType::U8, DType::I32, DType::I64, DType::Bool] {
        for _ in 0..4 {
            let dims = random_dims(&mut rng, 3);
            let x = TensorType::new(dtype, dims.clone());
            let n: usize = dims.iter().product();
            run(&Op::Reshape(Reshape { shape: Shape::new(vec![n]) }), std::slice::from_ref(&x), &mut rng);
            for perm in [vec![2, 0, 1], vec![1, 0, 2], vec![0, 2, 1]] {
                run(&Op::Transpose(Transpose { perm }), std::slice::from_ref(&x), &mut rng);
            }
            let axis = rng.below(3);
            let mut d2 = dims.clone();
            d2[axis] = rng.below(4);
            run(&Op::Concat(Concat { axis }), &[x.clone(), TensorType::new(dtype, d2)], &mut rng);
            let starts: Vec<usize> = dims.iter().map(|&d| rng.below(d)).collect();
            let steps: Vec<usize> = (0..3).map(|_| 1 + rng.below(2)).collect();
            let lens = dims
                .iter()
                .zip(&starts)
                .zip(&steps)
                .map(|((&d, &s), &st)| (d.saturating_sub(s)).div_ceil(st))
                .collect();
            run(&Op::Slice(Slice { starts, lens, steps }), std::slice::from_ref(&x), &mut rng);
            if dims[axis] > 0 {
                let indices: Vec<usize> = (0..6).map(|_| rng.below(dims[axis])).collect();
                let g = Gather { axis, indices, index_shape: Shape::new(vec![2, 3]) };
                run(&Op::Gather(g), std::slice::from_ref(&x), &mut rng);
            }
        }
    }
    for _ in 0..8 {
        let dims = random_dims(&mut rng, 3);
        let begin = (0..3).map(|_| rng.below(3)).collect();
        let end = (0..3).map(|_| rng.below(3)).collect();
        run(&Op::Pad(Pad { begin, end, value: 0.25 }), &[f32s(&dims)], &mut rng);
    }
}

#[test]
fn softmax_and_reductions() {
    let mut rng = Rng::new(5);
    for dims in [vec![4, 1000], vec![3, 5, 7], vec![1, 1], vec![2, 0], vec![33]] {
        for axis in 0..dims.len() {
            for log in [false, true] {
                run(&Op::Softmax(Softmax { axis, log }), &[f32s(&dims)], &mut rng);
            }
        }
    }
    let kinds = [ReduceKind::Mean, ReduceKind::Sum, ReduceKind::Max, ReduceKind::Min, ReduceKind::Prod];
    for kind in kinds {
        for _ in 0..8 {
            let dims = random_dims(&mut rng, 3);
            let axes: Vec<usize> = (0..3).filter(|_| rng.below(2) == 0).collect();
            run(&Op::Reduce(Reduce { kind, axes, keepdims: rng.below(2) == 0 }), &[f32s(&dims)], &mut rng);
        }
    }
}

/// Max and min reductions over rows of signed zeros and NaNs (which element an accumulator keeps on a tie, and
/// that a NaN is ignored), with and without a scalar remainder (partials combined in the lanes or in scalars),
/// and softmax over rows with zeros of both signs: native code against the interpreter, bit for bit.
#[test]
fn reductions_keep_the_same_zero_and_skip_nans_in_both_backends() {
    let mut rng = Rng::new(15);
    let (nan, max, min) = (f32::NAN, ReduceKind::Max, ReduceKind::Min);
    let cases = [
        (Op::Reduce(Reduce { kind: max, axes: vec![1], keepdims: false }), [0.0, -0.0, nan, -1.0]),
        (Op::Reduce(Reduce { kind: min, axes: vec![1], keepdims: false }), [0.0, -0.0, nan, 1.0]),
        (Op::Softmax(Softmax { axis: 1, log: false }), [0.0, -0.0, -0.0, -1.0]),
    ];
    for cols in [1000usize, 24, 13] {
        let (rows, ty) = (3, f32s(&[3, cols]));
        for (op, values) in &cases {
            let x: Vec<u8> = (0..rows * cols).flat_map(|_| values[rng.below(4)].to_le_bytes()).collect();
            let out = op.infer(std::slice::from_ref(&ty)).expect("types");
            let vk = verify(from_op(op, std::slice::from_ref(&ty), &out).expect("lowering")).expect("verified");
            let y = vec![0xa5u8; 4 * out.shape.numel()];
            differential_on(&vk, &[x, y]);
        }
    }
}

#[test]
fn matmul_gemm_pool_lrn_conv_resize() {
    let mut rng = Rng::new(6);
    for (a, b) in
        [(vec![3, 37], vec![37, 5]), (vec![2, 4, 9], vec![9, 6]), (vec![8], vec![8]), (vec![0, 3], vec![3, 2])]
    {
        run(&Op::MatMul(MatMul), &[f32s(&a), f32s(&b)], &mut rng);
    }
    let g = Gemm { alpha: 0.5, beta: 2.0, trans_a: true, trans_b: false, act: Some(UnaryOp::Sigmoid) };
    run(&Op::Gemm(g), &[f32s(&[7, 3]), f32s(&[7, 9]), f32s(&[9])], &mut rng);
    for kind in [PoolKind::Max, PoolKind::Avg { count_include_pad: false }, PoolKind::Avg { count_include_pad: true }] {
        let p = Pool { kind, kernel: [3, 3], strides: [2, 1], pads: [1, 1, 1, 0] };
        run(&Op::Pool(p), &[f32s(&[2, 3, 9, 8])], &mut rng);
    }
    run(&Op::Lrn(Lrn { size: 5, alpha: 1e-3, beta: 0.75, bias: 2.0 }), &[f32s(&[1, 7, 3, 3])], &mut rng);
    let conv = Conv {
        kernel: [3, 3],
        strides: [1, 2],
        dilations: [2, 1],
        pads: [2, 1, 2, 1],
        group: 2,
        act: Some(UnaryOp::Relu),
    };
    run(&Op::Conv(conv), &[f32s(&[1, 4, 9, 9]), f32s(&[6, 2, 3, 3]), f32s(&[6])], &mut rng);
    for mode in [ResizeMode::Linear, ResizeMode::Nearest(NearestRounding::RoundPreferFloor)] {
        for coord in [CoordMode::HalfPixel, CoordMode::AlignCorners, CoordMode::Asymmetric] {
            let r = Resize { mode, coord, out_hw: [7, 10], scales: [7.0 / 3.0, 2.0], antialias: false };
            run(&Op::Resize(r), &[f32s(&[1, 2, 3, 5])], &mut rng);
        }
    }
}

/// The math functions on the edges of their ranges (overflow, flush to zero, the clamps, infinities, NaN,
/// zeros, subnormals), in the unrolled vector loop, the remaining vectors and the scalar tail alike.
#[test]
fn math_functions_at_the_edges_of_their_range() {
    const EDGES: [f32; 30] = [
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        88.37,
        88.376,
        88.3763,
        88.38,
        88.72,
        88.73,
        89.0,
        89.5,
        1e4,
        -87.3,
        -87.33,
        -87.34,
        -87.5,
        -87.68,
        -87.69,
        -88.0,
        -88.1,
        -1e4,
        1e-40,
        -1e-40,
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        0.346_573_6,
        -0.346_573_6,
    ];
    // 61 elements: two unrolled trips of 6 vectors, 3 remaining vectors, one scalar element.
    let xs: Vec<u8> = EDGES.iter().cycle().take(61).flat_map(|x| x.to_le_bytes()).collect();
    use UnaryOp::*;
    for op in [Exp, Sigmoid, Tanh, Erf, Log, Softplus, Silu, Gelu, Elu { alpha: 0.7 }] {
        let t = f32s(&[61]);
        let k = from_op(&Op::Unary(Unary { op }), std::slice::from_ref(&t), &t).unwrap_or_else(|e| panic!("{e}"));
        let vk = verify(k).unwrap_or_else(|e| panic!("{e}"));
        let jit = differential_on(&vk, &[xs.clone(), vec![0; 4 * 61]]);
        assert_eq!(jit.stats().vector_regions, 1, "{op:?}");
    }
}

#[test]
fn the_benchmark_kernels_are_vectorized() {
    let mut rng = Rng::new(7);
    let add = Op::Binary(Binary { op: BinaryOp::Add });
    assert_eq!(run(&add, &[f32s(&[1003]), f32s(&[1003])], &mut rng), (1, 1));
    // Softmax over the last axis: max, exponentials stored and summed, normalize: three vector regions.
    let sm = Op::Softmax(Softmax { axis: 1, log: false });
    assert_eq!(run(&sm, &[f32s(&[3, 1000])], &mut rng), (3, 3));
    // A per-channel bias broadcast along rows stays vectorized (the bias is uniform in the inner loop).
    assert_eq!(run(&add, &[f32s(&[2, 8, 5, 5]), f32s(&[8, 1, 1])], &mut rng), (1, 1));
    // A transpose copies with a strided source: that stays scalar.
    let t = Op::Transpose(Transpose { perm: vec![1, 0] });
    assert_eq!(run(&t, &[f32s(&[9, 13])], &mut rng).1, 0);
    let mm = Op::MatMul(MatMul);
    assert_eq!(run(&mm, &[f32s(&[4, 64]), f32s(&[64, 4])], &mut rng), (1, 1));
}

/// The elementwise host-only operators lowered to the IR (comparisons, logic, Where, Expand, integer
/// arithmetic): native code against the interpreter on every dtype they take, broadcasting included.
#[test]
fn elementwise_host_only_ops() {
    use accel_ops::op::arith::{Arith, ArithOp};
    use accel_ops::op::compare::{Compare, CompareOp};
    use accel_ops::op::expand::Expand;
    use accel_ops::op::logic::{Logic, LogicOp};
    use accel_ops::op::select::Select;
    let mut rng = Rng::new(17);
    let host = |h: HostOnly| Op::HostOnly(h);
    for _ in 0..6 {
        let (a, c) = (random_dims(&mut rng, 3), random_dims(&mut rng, 1));
        let mut c = c;
        c[0] = if rng.below(2) == 0 { 1 } else { a[2] };
        for dtype in [DType::F32, DType::I8, DType::U8, DType::I32, DType::I64] {
            let (x, y) = (TensorType::new(dtype, a.clone()), TensorType::new(dtype, c.clone()));
            for op in [CompareOp::Equal, CompareOp::Less, CompareOp::Greater, CompareOp::GreaterOrEqual] {
                run(&host(HostOnly::Compare(Compare { op })), &[x.clone(), y.clone()], &mut rng);
            }
            if dtype != DType::F32 {
                for op in [ArithOp::Add, ArithOp::Sub, ArithOp::Mul, ArithOp::Max, ArithOp::Min] {
                    run(&host(HostOnly::Arith(Arith { op })), &[x.clone(), y.clone()], &mut rng);
                }
            }
            let cond = TensorType::new(DType::Bool, c.clone());
            run(&host(HostOnly::Select(Select)), &[cond, x.clone(), y], &mut rng);
            let mut to = vec![3];
            to.extend_from_slice(&a);
            run(&host(HostOnly::Expand(Expand { shape: to })), &[x], &mut rng);
        }
        let (p, q) = (TensorType::new(DType::Bool, a.clone()), TensorType::new(DType::Bool, c.clone()));
        for op in [LogicOp::And, LogicOp::Or, LogicOp::Xor] {
            run(&host(HostOnly::Logic(Logic { op })), &[p.clone(), q.clone()], &mut rng);
        }
        run(&host(HostOnly::Logic(Logic { op: LogicOp::Not })), &[p], &mut rng);
    }
}
