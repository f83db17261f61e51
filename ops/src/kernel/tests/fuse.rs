//! Elementwise fusion: a fused chain computes exactly what the kernels compute one after another, across nests
//! that coalesced axes differently, and fusion refuses what it cannot compose.
use super::{assert_close, run_kernel, Rng, Tol};
use crate::kernel::{from_op, fuse_elementwise, verify, BufId};
use crate::op::*;
use crate::tensor::{Tensor, TensorType};

fn kernel(op: &Op, inputs: &[&TensorType]) -> (crate::kernel::Kernel, TensorType) {
    let types: Vec<TensorType> = inputs.iter().map(|t| (*t).clone()).collect();
    let out = op.infer(&types).unwrap();
    (from_op(op, &types, &out).unwrap(), out)
}

#[test]
fn mul_add_sigmoid_fuses_into_one_nest() {
    let mut rng = Rng::new(31);
    let (x, w, b) =
        (rng.tensor(&[2, 8, 5, 5], -2.0, 2.0), rng.tensor(&[8, 1, 1], -1.0, 1.0), rng.tensor(&[5], -1.0, 1.0));
    let mul = Op::Binary(Binary { op: BinaryOp::Mul });
    let add = Op::Binary(Binary { op: BinaryOp::Add });
    let sig = Op::Unary(Unary { op: UnaryOp::Sigmoid });
    let (km, tm) = kernel(&mul, &[&x.ty(), &w.ty()]);
    let (ka, ta) = kernel(&add, &[&tm, &b.ty()]);
    let (ks, ts) = kernel(&sig, &[&ta]);
    // Reference: the three kernels one after another.
    let m = run_kernel(km.clone(), &[&x, &w], &tm);
    let a = run_kernel(ka.clone(), &[&m, &b], &ta);
    let want = run_kernel(ks.clone(), &[&a], &ts);
    // mul's nest is (n, c, h*w), add's is (n*c*h, w), sigmoid's is flat: all differ.
    let f1 = fuse_elementwise(&km, &ka, BufId(0)).unwrap();
    assert_eq!(f1.a_buffers, vec![Some(BufId(0)), Some(BufId(1)), None]);
    assert_eq!(f1.b_buffers, vec![None, Some(BufId(2)), Some(BufId(3))]);
    let f2 = fuse_elementwise(&f1.kernel, &ks, BufId(0)).unwrap();
    let loops = f2.kernel.insts.iter().filter(|i| matches!(i, crate::kernel::Inst::Loop { .. })).count();
    assert!(loops <= 4, "{}", f2.kernel);
    let stores = f2.kernel.insts.iter().filter(|i| matches!(i, crate::kernel::Inst::Store { .. })).count();
    assert_eq!(stores, 1);
    verify(f2.kernel.clone()).unwrap();
    let got = run_kernel(f2.kernel, &[&x, &w, &b], &ts);
    assert_close("fused chain", &got, &want, Tol::Exact);
}

#[test]
fn bf16_intermediates_keep_their_rounding() {
    let mut rng = Rng::new(32);
    let x = rng.tensor(&[3, 7], -2.0, 2.0);
    let to_bf16 = Op::Cast(Cast { to: crate::DType::BF16 });
    let to_f32 = Op::Cast(Cast { to: crate::DType::F32 });
    let (k1, t1) = kernel(&to_bf16, &[&x.ty()]);
    let (k2, t2) = kernel(&to_f32, &[&t1]);
    let want = run_kernel(k2.clone(), &[&run_kernel(k1.clone(), &[&x], &t1)], &t2);
    let fused = fuse_elementwise(&k1, &k2, BufId(0)).unwrap();
    assert_close("bf16 round trip", &run_kernel(fused.kernel, &[&x], &t2), &want, Tol::Exact);
}

#[test]
fn fusion_refuses_what_it_cannot_compose() {
    let relu = Op::Unary(Unary { op: UnaryOp::Relu });
    let add = Op::Binary(Binary { op: BinaryOp::Add });
    let (kr, tr) = kernel(&relu, &[&TensorType::f32(vec![4])]);
    // The consumer broadcasts the intermediate: it reads each element several times at other indices.
    let (ka, _) = kernel(&add, &[&tr, &TensorType::f32(vec![3, 4])]);
    assert!(fuse_elementwise(&kr, &ka, BufId(0)).is_err());
    // Not elementwise.
    let sm = Op::Softmax(Softmax { axis: 0, log: false });
    let (ks, _) = kernel(&sm, &[&tr]);
    assert!(fuse_elementwise(&kr, &ks, BufId(0)).is_err());
    assert!(fuse_elementwise(&ks, &kr, BufId(0)).is_err());
    // Wrong buffer, wrong size.
    let (kr2, _) = kernel(&relu, &[&TensorType::f32(vec![5])]);
    assert!(fuse_elementwise(&kr, &kr2, BufId(0)).is_err());
    assert!(fuse_elementwise(&kr, &kr, BufId(1)).is_err());
    // Narrowing intermediates.
    let (kc, tc) = kernel(&Op::Cast(Cast { to: crate::DType::I8 }), &[&TensorType::f32(vec![4])]);
    let (kb, _) = kernel(&Op::Cast(Cast { to: crate::DType::F32 }), &[&tc]);
    assert!(fuse_elementwise(&kc, &kb, BufId(0)).is_err());
    let _ = Tensor::from_f32(vec![1], vec![0.0]);
}
