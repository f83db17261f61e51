//! Host kernels in kernel-IR form through the public API: the verifier matches each kernel's argument buffers
//! against the DRAM tensors of its call and runs the kernel verifier before any code is generated; a session
//! compiles each kernel once at load and gives the same bytes with the JIT and the interpreter, also when a
//! call's tensors overlap (the same input twice).
use crate::common::*;
use accel_ops::command::{Command, Unit};
use accel_ops::kernel::{from_op, BufId, Inst, Kernel};
use accel_ops::op::{Binary, BinaryOp, Op, Unary, UnaryOp};
use accel_ops::program::{DramTensor, HostBody, HostKernel, Program};
use accel_ops::{Tensor, TensorType};
use accel_runtime::host::HostBackend;
use accel_runtime::{verify, Session, VerifyError};

const X: u64 = 0;
const Y: u64 = 64;

fn ty() -> TensorType {
    TensorType::f32(vec![2, 8])
}

/// `y = op(x, ...)` as one host call; `inputs` are DRAM addresses of `ty()` tensors.
fn host_program(kernel: Kernel, inputs: &[u64]) -> Program {
    let mut p = program(
        vec![queue(0, Unit::Host, vec![Command::HostCall { kernel: 0 }])],
        vec![],
        vec![io("x", ty(), X)],
        vec![io("y", ty(), Y)],
        128,
        0,
    );
    let ins = inputs.iter().map(|&dram| DramTensor { dram, ty: ty() }).collect();
    p.kernels.push(HostKernel {
        body: HostBody::Kernel(kernel),
        inputs: ins,
        output: DramTensor { dram: Y, ty: ty() },
    });
    p
}

fn kernel(op: Op, arity: usize) -> Kernel {
    from_op(&op, &vec![ty(); arity], &ty()).unwrap()
}

fn rejected(p: Program) -> String {
    match verify(p) {
        Ok(_) => panic!("the verifier accepted a bad host kernel"),
        Err(VerifyError::Kernel { kernel: 0, why, .. }) => why,
        Err(e) => panic!("expected a host-kernel error, got {e}"),
    }
}

#[test]
fn kernel_arguments_must_be_the_calls_tensors() {
    let sigmoid = kernel(Op::Unary(Unary { op: UnaryOp::Sigmoid }), 1);
    verify(host_program(sigmoid.clone(), &[X])).unwrap();
    assert!(rejected(host_program(sigmoid.clone(), &[X, X])).contains("argument buffers"));
    let mut wrong_len = sigmoid.clone();
    wrong_len.buffers[0].len = 8;
    assert!(rejected(host_program(wrong_len, &[X])).contains("input 0"));
    let mut wrong_dtype = sigmoid.clone();
    wrong_dtype.buffers[1].dtype = accel_ops::DType::I32;
    assert!(rejected(host_program(wrong_dtype, &[X])).contains("output"));
}

#[test]
fn kernels_are_verified_before_any_code_is_generated() {
    // A store one element past the output: the kernel verifier refuses it, so the JIT never sees it.
    let mut k = kernel(Op::Unary(Unary { op: UnaryOp::Sigmoid }), 1);
    let end = k.insts.len();
    k.insts.push(Inst::Const(accel_ops::kernel::Const::I64(16)));
    k.insts.push(Inst::Const(accel_ops::kernel::Const::f32(1.0)));
    k.insts.push(Inst::Store {
        buf: BufId(1),
        index: accel_ops::kernel::ValueId(end as u32),
        value: accel_ops::kernel::ValueId(end as u32 + 1),
    });
    let why = rejected(host_program(k.clone(), &[X]));
    assert!(why.contains("sigmoid"), "{why}");
    assert!(Session::from_program_with_backend(host_program(k, &[X]), HostBackend::Jit).is_err());
}

fn run(p: Program, backend: HostBackend) -> (Tensor, usize) {
    let mut s = Session::from_program_with_backend(p, backend).unwrap();
    let x: Vec<f32> = (0..16).map(|i| i as f32 / 4.0 - 2.0).collect();
    let x = Tensor::from_f32(vec![2, 8], x).unwrap();
    let first = s.run(&[("x".into(), x.clone())]).unwrap().outputs;
    let again = s.run(&[("x".into(), x)]).unwrap().outputs;
    assert_eq!(first[0].1, again[0].1);
    (first[0].1.clone(), s.host_kernels().compiled())
}

#[test]
fn jit_and_interpreter_agree_and_compile_once() {
    let sigmoid = host_program(kernel(Op::Unary(Unary { op: UnaryOp::Sigmoid }), 1), &[X]);
    let (jit, compiled) = run(sigmoid.clone(), HostBackend::Jit);
    let (interp, none) = run(sigmoid, HostBackend::Interpret);
    assert_eq!((compiled, none), (1, 0));
    assert_eq!(jit.to_le_bytes(), interp.to_le_bytes());
    let want: Vec<f32> = (0..16).map(|i| 1.0 / (1.0 + (2.0 - i as f32 / 4.0).exp())).collect();
    for (g, w) in jit.to_f32_vec().iter().zip(&want) {
        assert!((g - w).abs() <= 1e-6, "{g} vs {w}");
    }
}

#[test]
fn an_input_passed_twice_runs_from_copies() {
    let square = host_program(kernel(Op::Binary(Binary { op: BinaryOp::Mul }), 2), &[X, X]);
    let (jit, _) = run(square.clone(), HostBackend::Jit);
    let (interp, _) = run(square, HostBackend::Interpret);
    assert_eq!(jit.to_le_bytes(), interp.to_le_bytes());
    let want: Vec<f32> = (0..16).map(|i| (i as f32 / 4.0 - 2.0).powi(2)).collect();
    assert_eq!(jit.to_f32_vec(), want);
}

#[test]
fn switching_backends_keeps_results() {
    let p = host_program(kernel(Op::Unary(Unary { op: UnaryOp::Gelu }), 1), &[X]);
    let mut s = Session::from_program_with_backend(p, HostBackend::Interpret).unwrap();
    let x = Tensor::from_f32(vec![2, 8], (0..16).map(|i| i as f32 - 8.0).collect()).unwrap();
    let a = s.run(&[("x".into(), x.clone())]).unwrap().outputs;
    s.set_host_backend(HostBackend::Jit).unwrap();
    assert_eq!(s.host_kernels().compiled(), 1);
    let b = s.run(&[("x".into(), x)]).unwrap().outputs;
    assert_eq!(a[0].1.to_le_bytes(), b[0].1.to_le_bytes());
}
