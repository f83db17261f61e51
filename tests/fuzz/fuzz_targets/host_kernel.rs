//! Fuzz target (BAD-INPUT class 19): host kernel IR (`accel_fuzz::kernel_gen`) -> `kernel::verify_with`
//! (small limits) -> the Cranelift JIT and the reference interpreter on the same argument bytes. Properties:
//! nothing panics; the JIT compiles every verified kernel; both give the same status (ok, or a trapped bounds
//! check at the same instruction) and, when ok, the same bytes (NaN payloads aside); ASan sees no access
//! outside the buffers. The JIT is the runtime's own (`accel_runtime::host`), the one `host.call` uses.
#![no_main]
use accel_ops::kernel::{interpret, verify_with, KernelError, VerifyLimits};
use accel_ops::DType;
use accel_runtime::host::{HostError, JitKernel};
use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fn is_nan(dtype: DType, e: &[u8]) -> bool {
    match (dtype, e) {
        (DType::F32, &[a, b, c, d]) => f32::from_le_bytes([a, b, c, d]).is_nan(),
        (DType::BF16, &[a, b]) => f32::from_bits(u32::from(u16::from_le_bytes([a, b])) << 16).is_nan(),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(kernel) = accel_fuzz::kernel_gen::kernel(&mut u, 96) else { return };
    let limits = VerifyLimits {
        max_insts: 256,
        max_buffers: 8,
        max_depth: 6,
        max_extent: 1 << 12,
        max_iterations: 1 << 16,
        max_buffer_bytes: 1 << 16,
    };
    let vk = match verify_with(kernel, &limits) {
        Ok(vk) => vk,
        Err(_) => return accel_fuzz::run::tally("refused"),
    };
    let k = vk.kernel();
    // Argument contents from the rest of the input (zeros when it runs out).
    let args: Vec<Vec<u8>> =
        vk.arg_bytes().iter().map(|&n| u.bytes(n).map(<[u8]>::to_vec).unwrap_or_else(|_| vec![0; n])).collect();
    let args: Vec<Vec<u8>> = args
        .into_iter()
        .zip(vk.arg_bytes())
        .map(|(mut a, &n)| {
            a.resize(n, 0);
            a
        })
        .collect();
    let mut want = args.clone();
    let mut slices: Vec<&mut [u8]> = want.iter_mut().map(|b| b.as_mut_slice()).collect();
    let want_status = match interpret(&vk, &mut slices) {
        Ok(()) => Ok(()),
        Err(KernelError::IndexOutOfRange { at, .. }) => Err(at),
        Err(e) => panic!("the interpreter failed on a verified kernel: {e}\n{k}"),
    };
    let jit = match JitKernel::compile(&vk) {
        Ok(j) => j,
        Err(e) => panic!("the JIT refused a verified kernel: {e}\n{k}"),
    };
    let mut got = args.clone();
    let mut slices: Vec<&mut [u8]> = got.iter_mut().map(|b| b.as_mut_slice()).collect();
    let got_status = match jit.run(&mut slices) {
        Ok(()) => Ok(()),
        Err(HostError::IndexOutOfRange { at, .. }) => Err(at),
        Err(e) => panic!("the JIT failed on a verified kernel: {e}\n{k}"),
    };
    assert_eq!(got_status, want_status, "jit vs interpreter status\n{k}");
    accel_fuzz::run::tally(&format!(
        "verified ({} insts): {}",
        k.insts.len(),
        if want_status.is_ok() { "ran" } else { "trapped" }
    ));
    if want_status.is_ok() {
        for (i, ((g, w), (_, b))) in got.iter().zip(&want).zip(k.args()).enumerate() {
            let size = b.dtype.size();
            for (e, (ge, we)) in g.chunks(size).zip(w.chunks(size)).enumerate() {
                assert!(
                    ge == we || (is_nan(b.dtype, ge) && is_nan(b.dtype, we)),
                    "buffer {i} element {e}: jit {ge:?}, interpreter {we:?}\n{k}"
                );
            }
        }
    }
});
