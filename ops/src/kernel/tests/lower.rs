//! Lowerings of elementwise, layout and reduction operators against the ops reference on random data, with
//! broadcasting and edge shapes (empty, one element, scalar, non-contiguous after a transpose).
use super::{assert_close, check, run_kernel, Rng, Tol, REASSOCIATED, TRANSCENDENTAL};
use crate::kernel::from_op;
use crate::op::*;
use crate::tensor::{Tensor, TensorType};
use crate::{DType, Shape};

const SHAPES: &[&[usize]] = &[&[], &[1], &[0], &[7], &[2, 3, 5], &[1, 4, 1, 3], &[3, 0, 2], &[2, 33]];

fn unary_ops() -> Vec<(UnaryOp, Tol, f32, f32)> {
    use UnaryOp::*;
    vec![
        (Relu, Tol::Exact, -3.0, 3.0),
        (Clip { min: -0.5, max: 6.0 }, Tol::Exact, -8.0, 8.0),
        (LeakyRelu { alpha: 0.1 }, Tol::Exact, -3.0, 3.0),
        (Sigmoid, TRANSCENDENTAL, -12.0, 12.0),
        (HardSwish, Tol::Exact, -5.0, 5.0),
        (HardSigmoid { alpha: 0.2, beta: 0.5 }, Tol::Exact, -5.0, 5.0),
        (Silu, TRANSCENDENTAL, -10.0, 10.0),
        (Gelu, TRANSCENDENTAL, -6.0, 6.0),
        (Tanh, TRANSCENDENTAL, -6.0, 6.0),
        (Exp, TRANSCENDENTAL, -80.0, 80.0),
        (Log, TRANSCENDENTAL, 1e-6, 1e6),
        (Sqrt, Tol::Exact, 0.0, 100.0),
        (Reciprocal, Tol::Exact, -4.0, 4.0),
        (Neg, Tol::Exact, -4.0, 4.0),
        (Abs, Tol::Exact, -4.0, 4.0),
        (Erf, TRANSCENDENTAL, -4.0, 4.0),
        (Floor, Tol::Exact, -40.0, 40.0),
        (Ceil, Tol::Exact, -40.0, 40.0),
        (Softplus, TRANSCENDENTAL, -15.0, 15.0),
        (Elu { alpha: 1.3 }, TRANSCENDENTAL, -6.0, 6.0),
    ]
}

#[test]
fn every_unary_op_matches_the_reference() {
    let mut rng = Rng::new(1);
    for (op, tol, lo, hi) in unary_ops() {
        for dims in SHAPES {
            let x = rng.tensor(dims, lo, hi);
            check(&Op::Unary(Unary { op }), &[x], tol);
        }
    }
}

#[test]
fn every_binary_op_broadcasts_like_numpy() {
    let mut rng = Rng::new(2);
    let pairs: &[(&[usize], &[usize])] = &[
        (&[6], &[6]),
        (&[1, 8, 4, 4], &[8, 1, 1]),
        (&[2, 3, 4], &[4]),
        (&[2, 1, 4], &[3, 1]),
        (&[], &[3, 2]),
        (&[5, 1], &[1, 6]),
        (&[0, 3], &[3]),
        (&[1], &[1]),
        (&[3, 1, 5], &[3, 4, 5]),
    ];
    for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Pow, BinaryOp::Max, BinaryOp::Min]
    {
        for (a, b) in pairs {
            let lo = if op == BinaryOp::Pow { 0.1 } else { -3.0 };
            let (x, y) = (rng.tensor(a, lo, 3.0), rng.tensor(b, -3.0, 3.0));
            check(&Op::Binary(Binary { op }), &[x.clone(), y.clone()], Tol::Exact);
            check(&Op::Binary(Binary { op }), &[y, x], Tol::Exact);
        }
    }
}

#[test]
fn elementwise_after_a_transpose_reads_permuted_data() {
    // The non-contiguous case: a transposed view materialized by the transpose kernel, then broadcast.
    let mut rng = Rng::new(3);
    let x = rng.tensor(&[4, 3, 5], -2.0, 2.0);
    let t = Op::Transpose(Transpose { perm: vec![2, 0, 1] });
    let tt = t.infer(&[x.ty()]).unwrap();
    let xt = run_kernel(from_op(&t, &[x.ty()], &tt).unwrap(), &[&x], &tt);
    assert_close("transpose", &xt, &t.eval(&[&x]).unwrap(), Tol::Exact);
    let bias = rng.tensor(&[4, 1], -1.0, 1.0);
    check(&Op::Binary(Binary { op: BinaryOp::Mul }), &[xt.clone(), bias], Tol::Exact);
    check(&Op::Unary(Unary { op: UnaryOp::Tanh }), &[xt], TRANSCENDENTAL);
}

#[test]
fn batch_norm_is_exact() {
    let mut rng = Rng::new(4);
    for dims in [&[2usize, 3, 4, 5][..], &[1, 3], &[2, 3, 0], &[1, 1, 1]] {
        let c = dims[1];
        let x = rng.tensor(dims, -2.0, 2.0);
        let p = |rng: &mut Rng, lo| rng.tensor(&[c], lo, 2.0);
        let inputs = vec![x, p(&mut rng, -1.0), p(&mut rng, -1.0), p(&mut rng, -1.0), p(&mut rng, 0.1)];
        check(&Op::BatchNorm(BatchNorm { epsilon: 1e-5 }), &inputs, Tol::Exact);
    }
}

#[test]
fn casts_between_every_pair_of_dtypes() {
    let mut rng = Rng::new(5);
    let all = [DType::F32, DType::BF16, DType::I8, DType::U8, DType::I32, DType::I64, DType::Bool];
    for from in all {
        for to in all {
            for dims in [&[3usize, 17][..], &[0], &[]] {
                let x = rng.typed(from, dims);
                check(&Op::Cast(Cast { to }), &[x], Tol::Exact);
            }
        }
    }
}

#[test]
fn layout_ops_move_bytes_exactly() {
    let mut rng = Rng::new(6);
    for dtype in [DType::F32, DType::BF16, DType::I8, DType::I64, DType::Bool] {
        let x = rng.typed(dtype, &[2, 3, 4]);
        check(&Op::Reshape(Reshape { shape: Shape::new(vec![4, 6]) }), std::slice::from_ref(&x), Tol::Exact);
        for perm in [vec![0, 1, 2], vec![2, 1, 0], vec![1, 0, 2], vec![0, 2, 1]] {
            check(&Op::Transpose(Transpose { perm }), std::slice::from_ref(&x), Tol::Exact);
        }
        for axis in 0..3 {
            let mut d = vec![2, 3, 4];
            d[axis] = 1;
            let y = rng.typed(dtype, &d);
            d[axis] = 0;
            let z = rng.typed(dtype, &d);
            check(&Op::Concat(Concat { axis }), &[x.clone(), y, z, x.clone()], Tol::Exact);
        }
        let s = Slice { starts: vec![1, 0, 1], lens: vec![1, 2, 2], steps: vec![1, 2, 2] };
        check(&Op::Slice(s), std::slice::from_ref(&x), Tol::Exact);
        let s = Slice { starts: vec![0, 0, 0], lens: vec![2, 3, 0], steps: vec![1, 1, 1] };
        check(&Op::Slice(s), std::slice::from_ref(&x), Tol::Exact);
        for axis in 0..3 {
            let len = x.dims()[axis];
            let indices: Vec<usize> = (0..5).map(|_| rng.below(len)).collect();
            let g = Gather { axis, indices, index_shape: Shape::new(vec![5]) };
            check(&Op::Gather(g), std::slice::from_ref(&x), Tol::Exact);
        }
        let g = Gather { axis: 1, indices: vec![2, 0, 1, 1], index_shape: Shape::new(vec![2, 2]) };
        check(&Op::Gather(g), std::slice::from_ref(&x), Tol::Exact);
        let g = Gather { axis: 0, indices: vec![1], index_shape: Shape::new(vec![]) };
        check(&Op::Gather(g), &[x], Tol::Exact);
    }
}

#[test]
fn pad_fills_the_border() {
    let mut rng = Rng::new(7);
    for (dims, begin, end) in [
        (vec![2, 3, 4], vec![0, 1, 2], vec![1, 0, 3]),
        (vec![5], vec![2], vec![0]),
        (vec![2, 0], vec![1, 1], vec![0, 2]),
        (vec![1, 1], vec![0, 0], vec![0, 0]),
    ] {
        let x = rng.tensor(&dims, -1.0, 1.0);
        check(&Op::Pad(Pad { begin, end, value: -7.5 }), &[x], Tol::Exact);
    }
}

#[test]
fn softmax_and_log_softmax_over_each_axis() {
    let mut rng = Rng::new(8);
    for dims in [&[4usize, 10][..], &[2, 3, 5], &[1, 1], &[3, 1, 0], &[7]] {
        for axis in 0..dims.len() {
            for log in [false, true] {
                let x = rng.tensor(dims, -20.0, 20.0);
                check(&Op::Softmax(Softmax { axis, log }), &[x], REASSOCIATED);
            }
        }
    }
}

#[test]
fn reductions_over_axis_sets() {
    let mut rng = Rng::new(9);
    let kinds = [ReduceKind::Mean, ReduceKind::Sum, ReduceKind::Max, ReduceKind::Min, ReduceKind::Prod];
    let cases: &[(&[usize], &[usize])] = &[
        (&[2, 3, 4], &[1]),
        (&[2, 3, 4], &[0, 2]),
        (&[2, 3, 4], &[1, 2]),
        (&[2, 3, 4], &[0, 1, 2]),
        (&[2, 3, 4], &[]),
        (&[5, 1, 6], &[1]),
        (&[3, 0], &[1]),
        (&[17], &[0]),
    ];
    for kind in kinds {
        for (dims, axes) in cases {
            for keepdims in [false, true] {
                let (lo, hi) = if kind == ReduceKind::Prod { (0.5, 1.5) } else { (-2.0, 2.0) };
                let x = rng.tensor(dims, lo, hi);
                let tol = if matches!(kind, ReduceKind::Max | ReduceKind::Min) { Tol::Exact } else { REASSOCIATED };
                check(&Op::Reduce(Reduce { kind, axes: axes.to_vec(), keepdims }), &[x], tol);
            }
        }
    }
}

#[test]
fn from_op_rejects_a_wrong_output_type() {
    let op = Op::Unary(Unary { op: UnaryOp::Relu });
    let x = TensorType::f32(vec![3]);
    assert!(from_op(&op, std::slice::from_ref(&x), &TensorType::f32(vec![4])).is_err());
    assert!(from_op(&op, &[TensorType::new(DType::I8, vec![3])], &x).is_err());
    let _ = Tensor::from_f32(vec![1], vec![0.0]);
}

/// The elementwise host-only operators (comparisons, logic, Where, Expand, integer arithmetic) lowered to the
/// IR give the reference's result exactly, on every dtype they take, with broadcasting and empty shapes.
#[test]
fn elementwise_host_only_ops_match_the_reference() {
    use crate::op::arith::{Arith, ArithOp};
    use crate::op::compare::{Compare, CompareOp};
    use crate::op::expand::Expand;
    use crate::op::logic::{Logic, LogicOp};
    use crate::op::select::Select;
    let mut rng = Rng::new(41);
    let pairs: &[(&[usize], &[usize])] = &[(&[6], &[6]), (&[2, 3, 4], &[4]), (&[2, 1, 4], &[3, 1]), (&[0, 3], &[3])];
    let host = |h: HostOnly| Op::HostOnly(h);
    for &(a, c) in pairs {
        for dtype in [DType::F32, DType::I8, DType::U8, DType::I32, DType::I64] {
            let (x, y) = (rng.typed(dtype, a), rng.typed(dtype, c));
            // Equal needs ties to be tested: compare x with itself too.
            for op in [CompareOp::Equal, CompareOp::Less, CompareOp::Greater, CompareOp::LessOrEqual] {
                check(&host(HostOnly::Compare(Compare { op })), &[x.clone(), y.clone()], Tol::Exact);
                check(&host(HostOnly::Compare(Compare { op })), &[x.clone(), x.clone()], Tol::Exact);
            }
            if dtype != DType::F32 {
                for op in [ArithOp::Add, ArithOp::Sub, ArithOp::Mul, ArithOp::Max, ArithOp::Min] {
                    check(&host(HostOnly::Arith(Arith { op })), &[x.clone(), y.clone()], Tol::Exact);
                }
            }
            let cond = rng.typed(DType::Bool, c);
            check(&host(HostOnly::Select(Select)), &[cond, x.clone(), y.clone()], Tol::Exact);
            let mut to = vec![2];
            to.extend_from_slice(a);
            check(&host(HostOnly::Expand(Expand { shape: to })), &[x], Tol::Exact);
        }
        let (p, q) = (rng.typed(DType::Bool, a), rng.typed(DType::Bool, c));
        for op in [LogicOp::And, LogicOp::Or, LogicOp::Xor] {
            check(&host(HostOnly::Logic(Logic { op })), &[p.clone(), q.clone()], Tol::Exact);
        }
        check(&host(HostOnly::Logic(Logic { op: LogicOp::Not })), &[p], Tol::Exact);
    }
    // What has no IR form stays in operator form.
    let x = rng.typed(DType::I32, &[4]);
    let div = host(HostOnly::Arith(Arith { op: ArithOp::Div }));
    assert!(from_op(&div, &[x.ty(), x.ty()], &x.ty()).is_err());
}
