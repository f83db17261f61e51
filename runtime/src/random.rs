//! Deterministic pseudo-random inputs (SplitMix64) for demos, benchmarks and tests: the same seed gives the same
//! bytes on every machine. Never used to stand in for data a user forgot to give.
use accel_ops::program::IoDesc;
use accel_ops::shape::Limits;
use accel_ops::{DType, OpError, Tensor, TensorType};

/// SplitMix64: tiny, fast, and good enough for test data.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[-1, 1]`.
    pub fn uniform(&mut self) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        unit * 2.0 - 1.0
    }

    /// Uniform f32 values in `[-1, 1]`.
    pub fn f32_vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.uniform()).collect()
    }
}

/// A tensor of `ty` with values in `[-1, 1]` (integers in {-1, 0, 1}, unsigned and bool in {0, 1}).
pub fn random_tensor(ty: &TensorType, rng: &mut SplitMix64) -> Result<Tensor, OpError> {
    ty.shape.check(&Limits::default())?;
    let n = ty.shape.checked_numel()?;
    let mut bytes = Vec::with_capacity(ty.checked_bytes()?);
    for _ in 0..n {
        let v = rng.uniform();
        match ty.dtype {
            DType::F32 => bytes.extend_from_slice(&v.to_le_bytes()),
            DType::BF16 => bytes.extend_from_slice(&((v.to_bits() >> 16) as u16).to_le_bytes()),
            DType::I8 => bytes.push(v.round() as i8 as u8),
            DType::U8 | DType::Bool => bytes.push((v > 0.0) as u8),
            DType::I32 => bytes.extend_from_slice(&(v.round() as i32).to_le_bytes()),
            DType::I64 => bytes.extend_from_slice(&(v.round() as i64).to_le_bytes()),
            DType::F16 => bytes.extend_from_slice(&half::f16::from_f32(v).to_le_bytes()),
            DType::F64 => bytes.extend_from_slice(&f64::from(v).to_le_bytes()),
            DType::I16 => bytes.extend_from_slice(&(v.round() as i16).to_le_bytes()),
            DType::U16 => bytes.extend_from_slice(&u16::from(v > 0.0).to_le_bytes()),
            DType::U32 => bytes.extend_from_slice(&u32::from(v > 0.0).to_le_bytes()),
            DType::U64 => bytes.extend_from_slice(&u64::from(v > 0.0).to_le_bytes()),
        }
    }
    Tensor::from_le_bytes(ty, &bytes)
}

/// One random tensor per model input, in order, from one seed.
pub fn random_inputs(inputs: &[IoDesc], seed: u64) -> Result<Vec<(String, Tensor)>, OpError> {
    let mut rng = SplitMix64::new(seed);
    inputs.iter().map(|io| Ok((io.name.clone(), random_tensor(&io.ty, &mut rng)?))).collect()
}
