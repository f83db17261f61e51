//! Differential tests of the JIT against the kernel interpreter: every `from_op` lowering on random shapes
//! (`ops`), random kernels (`fuzz`), and the API (`api`). The promise is bit-for-bit equality: the IR fixes the
//! order of every rounding (reductions in 12 partials, math as one operation sequence), so there is no tolerance
//! (only NaN payloads may differ).
use super::{HostBackend, HostExecutor, JitKernel};
use accel_ops::kernel::{verify, Kernel, VerifiedKernel};
use accel_ops::DType;

mod api;
mod fuzz;
mod ops;

/// SplitMix64.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn f32(&mut self, lo: f32, hi: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + unit * (hi - lo)
    }
    /// An f32 in `[-4, 4]`, now and then a special value (zeros, infinities, NaN, huge, tiny).
    pub fn value(&mut self) -> f32 {
        const SPECIAL: [f32; 9] = [0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 1e30, -1e30, 1e-40, 0.5];
        if self.below(32) == 0 {
            SPECIAL[self.below(SPECIAL.len())]
        } else {
            self.f32(-4.0, 4.0)
        }
    }
    /// Random contents for `n` elements of `dtype`.
    pub fn bytes(&mut self, dtype: DType, n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|_| match dtype {
                DType::F32 => self.value().to_le_bytes().to_vec(),
                DType::BF16 => ((self.value().to_bits() >> 16) as u16).to_le_bytes().to_vec(),
                DType::I64 => ((self.next_u64() as i64) >> self.below(64)).to_le_bytes().to_vec(),
                _ => (self.next_u64() as u32 >> self.below(32)).to_le_bytes()[..dtype.size()].to_vec(),
            })
            .collect()
    }
}

/// Runs `vk` through the interpreter and the JIT on the same random arguments and demands identical bytes
/// (outputs start from the same garbage). Returns the JIT kernel for further checks.
pub fn differential(vk: &VerifiedKernel, rng: &mut Rng) -> JitKernel {
    let args: Vec<Vec<u8>> = vk
        .kernel()
        .args()
        .map(|(_, b)| {
            let n = usize::try_from(b.len).unwrap();
            rng.bytes(b.dtype, n)
        })
        .collect();
    differential_on(vk, &args)
}

/// Runs `vk` through the interpreter and the JIT on the given arguments and demands identical bytes.
pub fn differential_on(vk: &VerifiedKernel, args: &[Vec<u8>]) -> JitKernel {
    let k = vk.kernel();
    let run = |backend: HostBackend| {
        let mut bufs = args.to_vec();
        let mut slices: Vec<&mut [u8]> = bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
        let r = HostExecutor::new(backend).run(vk, &mut slices).map_err(|e| e.to_string());
        (r, bufs)
    };
    let (want_status, want) = run(HostBackend::Interpret);
    let jit = JitKernel::compile(vk).unwrap_or_else(|e| panic!("{e}\n{k}"));
    let mut got = args.to_vec();
    let mut slices: Vec<&mut [u8]> = got.iter_mut().map(|b| b.as_mut_slice()).collect();
    let got_status = jit.run(&mut slices).map_err(|e| e.to_string());
    assert_eq!(got_status, want_status, "status\n{k}");
    if want_status.is_ok() {
        for (i, ((g, w), (_, b))) in got.iter().zip(&want).zip(k.args()).enumerate() {
            let size = b.dtype.size();
            for (e, (ge, we)) in g.chunks(size).zip(w.chunks(size)).enumerate() {
                if ge != we && !(is_nan(b.dtype, ge) && is_nan(b.dtype, we)) {
                    panic!("buffer {i} element {e}: jit {ge:?}, interpreter {we:?}\n{k}");
                }
            }
        }
    }
    jit
}

/// Whether the element bytes are a NaN: NaN payloads and signs are not part of the promise (IEEE leaves the
/// choice between two NaN operands open, and compilers order commutative operands freely).
fn is_nan(dtype: DType, e: &[u8]) -> bool {
    match (dtype, e) {
        (DType::F32, &[a, b, c, d]) => f32::from_le_bytes([a, b, c, d]).is_nan(),
        (DType::BF16, &[a, b]) => f32::from_bits(u32::from(u16::from_le_bytes([a, b])) << 16).is_nan(),
        _ => false,
    }
}

/// Verifies and runs the differential check.
pub fn check(kernel: Kernel, rng: &mut Rng) -> JitKernel {
    let vk = verify(kernel.clone()).unwrap_or_else(|e| panic!("{e}\n{kernel}"));
    differential(&vk, rng)
}
