//! The interpreter's fixed semantics: the 12-partial order of reductions, bounds checks that clamp or trap,
//! argument checks, bool normalization and the text form.
use crate::kernel::{interpret, verify, BoundsMode, Builder, KernelError, ReduceFn};
use crate::DType;

fn run(k: crate::kernel::Kernel, args: &mut [Vec<u8>]) -> Result<(), KernelError> {
    let vk = verify(k).unwrap_or_else(|e| panic!("{e}"));
    let mut slices: Vec<&mut [u8]> = args.iter_mut().map(|b| b.as_mut_slice()).collect();
    interpret(&vk, &mut slices)
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn sum_kernel(n: usize) -> crate::kernel::Kernel {
    let mut b = Builder::new("sum");
    let (x, y) = (b.input(DType::F32, n), b.output(DType::F32, 1));
    let j = b.reduce(ReduceFn::Sum, n);
    let v = b.load(x, j);
    let s = b.end_reduce(v);
    let z = b.i64(0);
    b.store(y, z, s);
    b.finish()
}

#[test]
fn reductions_accumulate_in_twelve_interleaved_partials() {
    let sum = |xs: &[f32]| {
        let mut args = vec![f32s(xs), vec![0; 4]];
        run(sum_kernel(xs.len()), &mut args).unwrap();
        f32::from_le_bytes(args[1][..4].try_into().unwrap())
    };
    // Element j goes to partial j % 12; lane l of the result is (p_l + p_{4+l}) + p_{8+l}, then
    // (q0 + q1) + (q2 + q3). In order, each 3 would vanish next to 1e8 (its ulp is 8); in partials the threes
    // meet each other first.
    let xs = [1e8f32, 3.0, 3.0, 3.0];
    assert_eq!(sum(&xs), (1e8f32 + 3.0) + (3.0 + 3.0));
    assert_eq!(sum(&xs), 100_000_008.0);
    assert_ne!(sum(&xs), xs.iter().sum::<f32>());
    // Element 12 joins partial 0 before element 4 (partial 4) does: the 3 vanishes next to 1e8, then 1e8
    // cancels. With four partials (1e8 - 1e8 first) the result would be 3.
    let mut xs = [0f32; 13];
    (xs[0], xs[4], xs[12]) = (1e8, -1e8, 3.0);
    assert_eq!(sum(&xs), 0.0);
    // An empty reduction is the identity.
    assert_eq!(sum(&[]).to_bits(), 0f32.to_bits());
}

fn check_kernel(mode: BoundsMode) -> crate::kernel::Kernel {
    let mut b = Builder::new("check");
    let (idx, y) = (b.input(DType::I64, 3), b.output(DType::I64, 3));
    let i = b.loop_(3);
    let raw = b.load(idx, i);
    let c = b.check_index(raw, 4, mode);
    b.store(y, i, c);
    b.end();
    b.finish()
}

#[test]
fn bounds_checks_clamp_or_trap() {
    let idx: Vec<u8> = [2i64, -5, 9].iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut args = vec![idx.clone(), vec![0; 24]];
    run(check_kernel(BoundsMode::Clamp), &mut args).unwrap();
    let out: Vec<i64> = args[1].chunks(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(out, [2, 0, 3]);
    let mut args = vec![idx, vec![0; 24]];
    let err = run(check_kernel(BoundsMode::Trap), &mut args).unwrap_err();
    assert!(matches!(err, KernelError::IndexOutOfRange { index: -5, len: 4, .. }), "{err}");
}

#[test]
fn arguments_are_checked_against_the_declaration() {
    let vk = verify(sum_kernel(3)).unwrap();
    let (mut a, mut b) = (vec![0u8; 12], vec![0u8; 4]);
    assert!(interpret(&vk, &mut [&mut a[..]]).is_err());
    assert!(interpret(&vk, &mut [&mut a[..8], &mut b[..]]).is_err());
    assert!(interpret(&vk, &mut [&mut a[..], &mut b[..]]).is_ok());
}

#[test]
fn bools_load_as_nonzero_and_store_as_one() {
    let mut b = Builder::new("bool");
    let (x, y) = (b.input(DType::Bool, 3), b.output(DType::Bool, 3));
    let i = b.loop_(3);
    let v = b.load(x, i);
    b.store(y, i, v);
    b.end();
    let mut args = vec![vec![0, 2, 255], vec![9; 3]];
    run(b.finish(), &mut args).unwrap();
    assert_eq!(args[1], [0, 1, 1]);
}

#[test]
fn the_text_form_names_buffers_and_values() {
    let text = sum_kernel(8).to_string();
    assert_eq!(
        text,
        "kernel sum\n  buf0: in f32[8]\n  buf1: out f32[1]\n  %0 = reduce.Sum 8 {\n    %1 = load buf0[%0]\n  } %2 = reduced %1\n  %3 = i64 0\n  store buf1[%3] = %2\n"
    );
}
