//! The verifier: what it rejects (out-of-bounds accesses, unchecked data-dependent indices, index arithmetic
//! that may wrap, ill-typed or out-of-scope operands, absurd trip counts) and the property that an accepted
//! kernel never makes the interpreter step outside a buffer (BAD-INPUT class 17).
use super::Rng;
use crate::kernel::{
    interpret, verify, BinaryFn, BoundsMode, BufKind, Buffer, Builder, Inst, Kernel, KernelError, ScalarType, ValueId,
};
use crate::DType;

fn accepts(k: Kernel) {
    if let Err(e) = verify(k.clone()) {
        panic!("rejected: {e}\n{k}");
    }
}

fn rejects(k: Kernel, why: &str) {
    match verify(k.clone()) {
        Ok(_) => panic!("accepted, expected a rejection for {why}\n{k}"),
        Err(e) => assert!(e.to_string().contains(why), "{e} does not mention {why:?}\n{k}"),
    }
}

/// `for i in 0..extent { out[i * stride + offset] = in[i] }` with buffers of `len`.
fn strided(extent: usize, stride: i64, offset: i64, len: usize) -> Kernel {
    let mut b = Builder::new("strided");
    let (x, y) = (b.input(DType::F32, extent), b.output(DType::F32, len));
    let i = b.loop_(extent);
    let v = b.load(x, i);
    let at = b.affine(&[(i, stride)], offset);
    b.store(y, at, v);
    b.end();
    b.finish()
}

#[test]
fn bounds_come_from_loop_extents_and_index_arithmetic() {
    accepts(strided(10, 1, 0, 10));
    rejects(strided(10, 1, 1, 10), "may leave");
    rejects(strided(10, 1, -1, 11), "may leave");
    accepts(strided(10, 3, 2, 30));
    rejects(strided(10, 3, 3, 30), "may leave");
    // An empty loop never runs its body, so nothing in it needs to be in bounds.
    accepts(strided(0, 5, 100, 0));
}

#[test]
fn index_arithmetic_that_may_wrap_is_unbounded() {
    // i * 2^62 * 4 wraps to 0 in 64 bits; the verifier must not believe the wrapped interval.
    let mut b = Builder::new("wrap");
    let y = b.output(DType::F32, 4);
    let i = b.loop_(4);
    let big = b.i64(1 << 62);
    let t = b.mul(i, big);
    let four = b.i64(4);
    let t = b.mul(t, four);
    let v = b.f32(1.0);
    b.store(y, t, v);
    b.end();
    rejects(b.finish(), "may leave");
}

fn gather(mode: Option<BoundsMode>, clamp: bool) -> Kernel {
    let mut b = Builder::new("gather");
    let (x, idx, y) = (b.input(DType::F32, 5), b.input(DType::I64, 3), b.output(DType::F32, 3));
    let i = b.loop_(3);
    let raw = b.load(idx, i);
    let j = match (mode, clamp) {
        (Some(m), _) => b.check_index(raw, 5, m),
        (None, true) => b.clamp_i64(raw, 0, 4),
        (None, false) => raw,
    };
    let v = b.load(x, j);
    b.store(y, i, v);
    b.end();
    b.finish()
}

#[test]
fn data_dependent_indices_need_a_bounds_check() {
    rejects(gather(None, false), "may leave");
    accepts(gather(Some(BoundsMode::Trap), false));
    accepts(gather(Some(BoundsMode::Clamp), false));
    accepts(gather(None, true));
    // A u8 index is within [0, 255] by its type: a 256-element table needs no check.
    let mut b = Builder::new("u8-index");
    let (x, idx, y) = (b.input(DType::F32, 256), b.input(DType::U8, 4), b.output(DType::F32, 4));
    let i = b.loop_(4);
    let raw = b.load(idx, i);
    let j = b.cast(ScalarType::I64, raw);
    let v = b.load(x, j);
    b.store(y, i, v);
    b.end();
    accepts(b.finish());
}

#[test]
fn ill_typed_and_out_of_scope_operands() {
    let mut b = Builder::new("types");
    let y = b.output(DType::F32, 1);
    let (f, i) = (b.f32(1.0), b.i64(0));
    b.add(f, i);
    b.store(y, i, f);
    rejects(b.finish(), "Add of F32 and I64");

    let mut b = Builder::new("store-type");
    let y = b.output(DType::I64, 1);
    let (f, i) = (b.f32(1.0), b.i64(0));
    b.store(y, i, f);
    rejects(b.finish(), "expected I64");

    let mut b = Builder::new("scope");
    let y = b.output(DType::F32, 4);
    let i = b.loop_(4);
    b.end();
    let v = b.f32(0.0);
    b.store(y, i, v);
    rejects(b.finish(), "outside its loop");

    let k = Kernel {
        name: "forward".into(),
        buffers: vec![],
        insts: vec![
            Inst::Binary { op: BinaryFn::Add, a: ValueId(1), b: ValueId(1) },
            Inst::Const(crate::kernel::Const::I64(1)),
        ],
    };
    rejects(k, "not defined before use");
    let k = Kernel { name: "open".into(), buffers: vec![], insts: vec![Inst::Loop { extent: 2 }] };
    rejects(k, "never closed");
    let k = Kernel { name: "stray".into(), buffers: vec![], insts: vec![Inst::End { value: None }] };
    rejects(k, "end without a loop");
}

#[test]
fn effects_where_they_may_not_be() {
    let mut b = Builder::new("store-input");
    let x = b.input(DType::F32, 1);
    let (i, v) = (b.i64(0), b.f32(0.0));
    b.store(x, i, v);
    rejects(b.finish(), "not an output");

    let mut b = Builder::new("copy-in-reduce");
    let x = b.input(DType::F32, 2);
    let y = b.output(DType::F32, 2);
    let j = b.reduce(crate::kernel::ReduceFn::Sum, 2);
    b.copy(y, j, x, j);
    let v = b.f32(0.0);
    b.end_reduce(v);
    rejects(b.finish(), "copy inside a reduction");

    // A reduction may store (softmax writes its exponentials while summing them), to outputs only.
    let mut b = Builder::new("store-in-reduce");
    let x = b.input(DType::F32, 2);
    let y = b.output(DType::F32, 2);
    let j = b.reduce(crate::kernel::ReduceFn::Sum, 2);
    let v = b.load(x, j);
    b.store(y, j, v);
    b.end_reduce(v);
    accepts(b.finish());
    let mut b = Builder::new("store-input-in-reduce");
    let x = b.input(DType::F32, 2);
    let j = b.reduce(crate::kernel::ReduceFn::Sum, 2);
    let v = b.load(x, j);
    b.store(x, j, v);
    b.end_reduce(v);
    rejects(b.finish(), "not an output");

    let mut b = Builder::new("loop-in-reduce");
    b.reduce(crate::kernel::ReduceFn::Sum, 2);
    b.loop_(2);
    rejects(b.finish(), "loop inside a reduction");
}

#[test]
fn absurd_trip_counts_and_sizes() {
    let k = Kernel {
        name: "long".into(),
        buffers: vec![],
        insts: vec![Inst::Loop { extent: 1 << 40 }, Inst::End { value: None }],
    };
    rejects(k, "trip count");
    let insts = vec![
        Inst::Loop { extent: 1 << 30 },
        Inst::Loop { extent: 1 << 30 },
        Inst::End { value: None },
        Inst::End { value: None },
    ];
    rejects(Kernel { name: "nest".into(), buffers: vec![], insts }, "iterations");
    // Many sibling loops, each within the limit, add up past it.
    let siblings = (0..8192).flat_map(|_| [Inst::Loop { extent: 1 << 32 }, Inst::End { value: None }]).collect();
    rejects(Kernel { name: "siblings".into(), buffers: vec![], insts: siblings }, "iterations");
    let deep = (0..40).map(|_| Inst::Loop { extent: 1 }).chain((0..40).map(|_| Inst::End { value: None })).collect();
    rejects(Kernel { name: "deep".into(), buffers: vec![], insts: deep }, "nesting deeper");
    let huge = Buffer { dtype: DType::I64, len: u64::MAX / 4, kind: BufKind::Input };
    assert!(matches!(
        verify(Kernel { name: "huge".into(), buffers: vec![huge], insts: vec![] }),
        Err(KernelError::Buffer { .. })
    ));
    let bad = Buffer { dtype: DType::I64, len: 2, kind: BufKind::Const(vec![0; 15]) };
    assert!(matches!(
        verify(Kernel { name: "const".into(), buffers: vec![bad], insts: vec![] }),
        Err(KernelError::Buffer { .. })
    ));
}

/// A random kernel over small buffers: loops, i64 arithmetic, loads, bounds checks and stores.
fn random_kernel(rng: &mut Rng) -> Kernel {
    let mut b = Builder::new("random");
    let lens = [rng.below(6), rng.below(6) + 1, rng.below(6)];
    let (x, idx, y) = (b.input(DType::F32, lens[0]), b.input(DType::I64, lens[1]), b.output(DType::F32, lens[2]));
    // Values in scope, per depth: (value, is_f32).
    let mut scopes: Vec<Vec<(ValueId, bool)>> = vec![vec![]];
    let pick = |rng: &mut Rng, scopes: &[Vec<(ValueId, bool)>], f: bool| {
        let all: Vec<ValueId> = scopes.iter().flatten().filter(|(_, t)| *t == f).map(|(v, _)| *v).collect();
        (!all.is_empty()).then(|| all[rng.below(all.len())])
    };
    for _ in 0..rng.below(30) {
        let choice = rng.below(10);
        let new = match choice {
            0 if scopes.len() < 4 => {
                let v = b.loop_(rng.below(5));
                scopes.push(vec![(v, false)]);
                None
            }
            1 if scopes.len() > 1 => {
                b.end();
                scopes.pop();
                None
            }
            2 => Some((b.i64(rng.below(12) as i64 - 3), false)),
            3 | 4 => match (pick(rng, &scopes, false), pick(rng, &scopes, false)) {
                (Some(p), Some(q)) => {
                    let op = [BinaryFn::Add, BinaryFn::Sub, BinaryFn::Mul, BinaryFn::Min, BinaryFn::Max][rng.below(5)];
                    Some((b.bin(op, p, q), false))
                }
                _ => None,
            },
            5 => pick(rng, &scopes, false).map(|i| (b.load(idx, i), false)),
            6 => pick(rng, &scopes, false).map(|i| {
                let mode = if rng.below(2) == 0 { BoundsMode::Clamp } else { BoundsMode::Trap };
                (b.check_index(i, rng.below(6) + 1, mode), false)
            }),
            7 => pick(rng, &scopes, false).map(|i| (b.load(x, i), true)),
            8 => {
                if let (Some(i), Some(v)) = (pick(rng, &scopes, false), pick(rng, &scopes, true)) {
                    b.store(y, i, v);
                }
                None
            }
            _ => Some((b.f32(rng.f32(-1.0, 1.0)), true)),
        };
        if let Some(n) = new {
            scopes.last_mut().unwrap().push(n);
        }
    }
    for _ in 1..scopes.len() {
        b.end();
    }
    b.finish()
}

#[test]
fn accepted_kernels_never_step_outside_a_buffer() {
    let mut rng = Rng::new(99);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let k = random_kernel(&mut rng);
        let Ok(vk) = verify(k.clone()) else { continue };
        accepted += 1;
        let mut bufs: Vec<Vec<u8>> =
            vk.arg_bytes().iter().map(|&n| (0..n).map(|_| rng.next_u64() as u8).collect()).collect();
        let mut args: Vec<&mut [u8]> = bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
        match interpret(&vk, &mut args) {
            Ok(()) | Err(KernelError::IndexOutOfRange { .. }) => {}
            Err(e) => panic!("{e}\n{k}"),
        }
    }
    assert!(accepted > 2_000, "only {accepted} random kernels were accepted");
}
