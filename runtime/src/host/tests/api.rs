//! The host API: argument checks, trapping bounds checks, the kernel cache, the backend switch, and that
//! compiled kernels can be shared across threads.
use super::{check, Rng};
use crate::host::{HostBackend, HostError, HostExecutor, JitKernel, KernelCache};
use accel_ops::kernel::{verify, BoundsMode, Builder, Kernel};
use accel_ops::DType;

fn gather(mode: BoundsMode) -> Kernel {
    let mut b = Builder::new("gather");
    let (x, idx, y) = (b.input(DType::F32, 8), b.input(DType::I64, 5), b.output(DType::F32, 5));
    let i = b.loop_(5);
    let raw = b.load(idx, i);
    let j = b.check_index(raw, 8, mode);
    let v = b.load(x, j);
    b.store(y, i, v);
    b.end();
    b.finish()
}

fn i64s(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn buffers_are_checked_before_the_call() {
    let vk = verify(gather(BoundsMode::Clamp)).unwrap();
    let jit = JitKernel::compile(&vk).unwrap();
    assert_eq!(jit.arg_bytes(), &[32, 40, 20]);
    let (mut x, mut idx, mut y) = (vec![0u8; 32], vec![0u8; 40], vec![0u8; 20]);
    assert!(matches!(jit.run(&mut [&mut x[..], &mut idx[..]]), Err(HostError::Args { .. })));
    assert!(matches!(jit.run(&mut [&mut x[..], &mut idx[..39], &mut y[..]]), Err(HostError::Args { .. })));
    let mut long = [0u8; 21];
    assert!(matches!(jit.run(&mut [&mut x[..], &mut idx[..], &mut long[..]]), Err(HostError::Args { .. })));
    assert!(jit.run(&mut [&mut x[..], &mut idx[..], &mut y[..]]).is_ok());
}

#[test]
fn out_of_range_indices_clamp_or_trap_in_native_code() {
    let x: Vec<u8> = (0..8).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let idx = i64s(&[3, -1, 100, 7, i64::MIN]);
    let vk = verify(gather(BoundsMode::Clamp)).unwrap();
    let jit = JitKernel::compile(&vk).unwrap();
    let (mut xb, mut ib, mut y) = (x.clone(), idx.clone(), vec![0u8; 20]);
    jit.run(&mut [&mut xb[..], &mut ib[..], &mut y[..]]).unwrap();
    let got: Vec<f32> = y.chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(got, [3.0, 0.0, 7.0, 7.0, 0.0]);
    let vk = verify(gather(BoundsMode::Trap)).unwrap();
    let jit = JitKernel::compile(&vk).unwrap();
    let (mut xb, mut ib, mut y) = (x, idx, vec![0u8; 20]);
    let err = jit.run(&mut [&mut xb[..], &mut ib[..], &mut y[..]]).unwrap_err();
    assert!(matches!(err, HostError::IndexOutOfRange { at: 2, .. }), "{err}");
    // The interpreter reports the same instruction.
    check(gather(BoundsMode::Trap), &mut Rng::new(1));
}

#[test]
fn the_cache_compiles_each_kernel_once() {
    let cache = KernelCache::new();
    let a = verify(gather(BoundsMode::Clamp)).unwrap();
    let b = verify(gather(BoundsMode::Trap)).unwrap();
    let k1 = cache.get(&a).unwrap();
    let k2 = cache.get(&a).unwrap();
    assert!(std::sync::Arc::ptr_eq(&k1, &k2));
    cache.get(&b).unwrap();
    assert_eq!((cache.compiled(), cache.len()), (2, 2));
}

#[test]
fn both_backends_agree_and_kernels_are_shareable() {
    fn shareable<T: Send + Sync>() {}
    shareable::<JitKernel>();
    shareable::<HostExecutor>();
    let vk = verify(gather(BoundsMode::Clamp)).unwrap();
    let mut outs = Vec::new();
    for backend in [HostBackend::Jit, HostBackend::Interpret] {
        let exec = HostExecutor::new(backend);
        let mut x: Vec<u8> = (0..8).flat_map(|i| (i as f32 * 1.5).to_le_bytes()).collect();
        let mut idx = i64s(&[0, 1, 2, 9, -3]);
        let mut y = vec![0u8; 20];
        exec.run(&vk, &mut [&mut x[..], &mut idx[..], &mut y[..]]).unwrap();
        outs.push(y);
    }
    assert_eq!(outs[0], outs[1]);
    let jit = std::sync::Arc::new(JitKernel::compile(&vk).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let jit = std::sync::Arc::clone(&jit);
            std::thread::spawn(move || {
                let mut x: Vec<u8> = (0..8).flat_map(|i| ((i + t) as f32).to_le_bytes()).collect();
                let mut idx = i64s(&[7, 6, 5, 4, 3]);
                let mut y = [0u8; 20];
                jit.run(&mut [&mut x[..], &mut idx[..], &mut y[..]]).unwrap();
                f32::from_le_bytes(y[..4].try_into().unwrap())
            })
        })
        .collect();
    let firsts: Vec<f32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(firsts, [7.0, 8.0, 9.0, 10.0]);
}
