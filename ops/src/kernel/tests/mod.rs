//! Tests of the kernel IR: every lowering against the ops reference on random data (`lower`), the verifier's
//! rejections (`verify`), the math functions against libm (`math`), the interpreter's fixed semantics
//! (`interp`) and fusion (`fuse`). One `check` helper per kind of test.
use crate::kernel::{from_op, interpret, verify};
use crate::op::Op;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use half::bf16;

mod fuse;
mod interp;
mod lower;
mod lower_nn;
mod lower_norm;
mod math;
mod verify_tests;

/// SplitMix64: deterministic test data without a dev-dependency.
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
    /// Uniform in `[lo, hi)`.
    pub fn f32(&mut self, lo: f32, hi: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + unit * (hi - lo)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn tensor(&mut self, dims: &[usize], lo: f32, hi: f32) -> Tensor {
        let n = dims.iter().product();
        let v = (0..n).map(|_| self.f32(lo, hi)).collect();
        Tensor::from_f32(dims.to_vec(), v).unwrap()
    }
    /// A random tensor of any dtype (values that fit the type).
    pub fn typed(&mut self, dtype: DType, dims: &[usize]) -> Tensor {
        let n: usize = dims.iter().product();
        let d = dims.to_vec();
        match dtype {
            DType::F32 => Ok(self.tensor(dims, -300.0, 300.0)),
            DType::BF16 => Tensor::from_bf16(d, (0..n).map(|_| bf16::from_f32(self.f32(-300.0, 300.0))).collect()),
            DType::I8 => Tensor::from_i8(d, (0..n).map(|_| self.next_u64() as i8).collect()),
            DType::U8 => Tensor::from_u8(d, (0..n).map(|_| self.next_u64() as u8).collect()),
            DType::I32 => Tensor::from_i32(d, (0..n).map(|_| self.next_u64() as i32 >> self.below(31)).collect()),
            DType::I64 => Tensor::from_i64(d, (0..n).map(|_| self.next_u64() as i64 >> self.below(63)).collect()),
            DType::Bool => Tensor::from_bool(d, (0..n).map(|_| self.next_u64() & 1 == 1).collect()),
            DType::F16 => Tensor::from_f16(d, (0..n).map(|_| half::f16::from_f32(self.f32(-300.0, 300.0))).collect()),
            DType::F64 => Tensor::from_f64(d, (0..n).map(|_| f64::from(self.f32(-300.0, 300.0))).collect()),
            DType::I16 => Tensor::from_i16(d, (0..n).map(|_| self.next_u64() as i16).collect()),
            DType::U16 => Tensor::from_u16(d, (0..n).map(|_| self.next_u64() as u16).collect()),
            DType::U32 => Tensor::from_u32(d, (0..n).map(|_| self.next_u64() as u32).collect()),
            DType::U64 => Tensor::from_u64(d, (0..n).map(|_| self.next_u64()).collect()),
        }
        .unwrap()
    }
}

/// How closely the kernel must match the reference.
#[derive(Debug, Clone, Copy)]
pub enum Tol {
    /// Bit for bit.
    Exact,
    /// `|a - b| <= rel * max(|a|, |b|) + abs`, NaN only where the reference has NaN.
    Close { rel: f32, abs: f32 },
}

/// Where transcendental functions differ from libm.
pub const TRANSCENDENTAL: Tol = Tol::Close { rel: 1e-5, abs: 1e-6 };
/// Where a 4-lane reduction reassociates a sum the reference adds in order.
pub const REASSOCIATED: Tol = Tol::Close { rel: 1e-5, abs: 1e-5 };

/// Runs a kernel through the interpreter on tensors; returns the output.
pub fn run_kernel(kernel: crate::kernel::Kernel, inputs: &[&Tensor], out: &TensorType) -> Tensor {
    let vk = verify(kernel).unwrap_or_else(|e| panic!("{e}"));
    let mut bufs: Vec<Vec<u8>> = inputs.iter().map(|t| t.to_le_bytes()).collect();
    bufs.push(vec![0xa5; out.checked_bytes().unwrap()]);
    let mut slices: Vec<&mut [u8]> = bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
    interpret(&vk, &mut slices).unwrap_or_else(|e| panic!("{e}"));
    Tensor::from_le_bytes(out, bufs.last().unwrap()).unwrap()
}

/// Compares two tensors under `tol`; panics with the first difference.
pub fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: Tol) {
    assert_eq!(got.ty(), want.ty(), "{what}: type");
    match tol {
        Tol::Exact => {
            if got.to_le_bytes() != want.to_le_bytes() {
                let (g, w) = (got.to_f32_vec(), want.to_f32_vec());
                let i = (0..g.len()).find(|&i| g[i].to_bits() != w[i].to_bits()).unwrap_or(0);
                panic!("{what}: element {i}: got {:?}, want {:?}", g.get(i), w.get(i));
            }
        }
        Tol::Close { rel, abs } => {
            for (i, (g, w)) in got.to_f32_vec().into_iter().zip(want.to_f32_vec()).enumerate() {
                let ok = if w.is_nan() || g.is_nan() {
                    w.is_nan() && g.is_nan()
                } else if w.is_infinite() || g.is_infinite() {
                    w == g
                } else {
                    (g - w).abs() <= rel * g.abs().max(w.abs()) + abs
                };
                assert!(ok, "{what}: element {i}: got {g:?}, want {w:?}");
            }
        }
    }
}

/// The one lowering check: `interpret(from_op(op))` against `op.eval` on `inputs`.
pub fn check(op: &Op, inputs: &[Tensor], tol: Tol) {
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let types: Vec<TensorType> = inputs.iter().map(|t| t.ty()).collect();
    let out = op.infer(&types).unwrap_or_else(|e| panic!("{}: {e}", op.kind()));
    let want = op.eval(&refs).unwrap();
    let kernel = from_op(op, &types, &out).unwrap_or_else(|e| panic!("{e}"));
    let got = run_kernel(kernel, &refs, &out);
    let shapes: Vec<String> = types.iter().map(|t| t.to_string()).collect();
    assert_close(&format!("{} on {}", op.kind(), shapes.join(", ")), &got, &want, tol);
}
