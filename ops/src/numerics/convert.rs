//! Element conversions between the tiles' formats: what `vec.convert` computes and what the graph's `Cast`
//! (f32 <-> bf16) and `Quant` (f32/bf16 <-> i8) nodes mean. f32 -> bf16 rounds to nearest even; bf16 -> f32 is
//! exact; to i8 quantizes and from i8 dequantizes with a scale and zero point (`requant::quantize` /
//! `requant::dequantize`; i8 -> bf16 dequantizes in f32, then rounds).
use super::bf16::round;
use super::requant::{dequantize, quantize};
use crate::error::OpError;
use crate::tensor::Tensor;
use crate::DType;
use half::bf16;

/// The scale and zero point of an int8 side of a conversion. In SRAM: scale (f32), then zero point (i32).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvertParams {
    pub scale: f32,
    pub zero: i32,
}

impl ConvertParams {
    pub const BYTES: u64 = 8;

    pub fn to_le_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&self.scale.to_le_bytes());
        b[4..].copy_from_slice(&self.zero.to_le_bytes());
        b
    }

    pub fn from_le_bytes(b: &[u8]) -> Option<ConvertParams> {
        let s: [u8; 4] = b.get(..4)?.try_into().ok()?;
        let z: [u8; 4] = b.get(4..8)?.try_into().ok()?;
        Some(ConvertParams { scale: f32::from_le_bytes(s), zero: i32::from_le_bytes(z) })
    }
}

/// Whether `from -> to` is a conversion the vector unit performs, and whether it needs `ConvertParams`.
pub fn supported(from: DType, to: DType) -> Option<bool> {
    use DType::*;
    match (from, to) {
        (F32, BF16) | (BF16, F32) => Some(false),
        (F32, I8) | (BF16, I8) | (I8, F32) | (I8, BF16) => Some(true),
        _ => None,
    }
}

fn widen(src: &[u8], from: DType) -> Result<Vec<f32>, OpError> {
    Ok(match from {
        DType::F32 => src.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        DType::BF16 => {
            src.chunks_exact(2).map(|c| bf16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32()).collect()
        }
        other => return Err(OpError::Other(format!("cannot widen {other}"))),
    })
}

/// Converts the little-endian elements of `src` (in `from`) into `dst` (in `to`); the lengths must agree.
pub fn convert(
    from: DType,
    to: DType,
    params: Option<ConvertParams>,
    src: &[u8],
    dst: &mut [u8],
) -> Result<(), OpError> {
    let needs = supported(from, to).ok_or_else(|| OpError::Other(format!("no conversion from {from} to {to}")))?;
    let p = match (needs, params) {
        (true, Some(p)) => p,
        (false, None) => ConvertParams { scale: 1.0, zero: 0 },
        (true, None) => return Err(OpError::Other(format!("{from} -> {to} needs a scale and zero point"))),
        (false, Some(_)) => return Err(OpError::Other(format!("{from} -> {to} takes no scale"))),
    };
    let n = src.len() / from.size();
    if src.len() % from.size() != 0 || dst.len() != n * to.size() {
        return Err(OpError::Other(format!(
            "{} bytes of {from} do not convert into {} bytes of {to}",
            src.len(),
            dst.len()
        )));
    }
    match (from, to) {
        (DType::I8, _) => {
            let vals = src.iter().map(|&b| dequantize(b as i8, p.scale, p.zero));
            if to == DType::F32 {
                dst.chunks_exact_mut(4).zip(vals).for_each(|(d, v)| d.copy_from_slice(&v.to_le_bytes()));
            } else {
                dst.chunks_exact_mut(2)
                    .zip(vals)
                    .for_each(|(d, v)| d.copy_from_slice(&round(v).to_bits().to_le_bytes()));
            }
        }
        (_, DType::I8) => {
            for (d, v) in dst.iter_mut().zip(widen(src, from)?) {
                *d = quantize(v, p.scale, p.zero) as u8;
            }
        }
        (DType::F32, _) => {
            for (d, v) in dst.chunks_exact_mut(2).zip(widen(src, from)?) {
                d.copy_from_slice(&round(v).to_bits().to_le_bytes());
            }
        }
        _ => {
            for (d, v) in dst.chunks_exact_mut(4).zip(widen(src, from)?) {
                d.copy_from_slice(&v.to_le_bytes());
            }
        }
    }
    Ok(())
}

/// `convert` on a tensor (the reference of the graph's conversion nodes).
pub fn convert_tensor(t: &Tensor, to: DType, params: Option<ConvertParams>) -> Result<Tensor, OpError> {
    let from = t.dtype();
    let mut out = vec![0u8; t.len() * to.size()];
    convert(from, to, params, &t.to_le_bytes(), &mut out)?;
    let ty = crate::tensor::TensorType { dtype: to, shape: t.shape().clone() };
    Tensor::from_le_bytes(&ty, &out)
}
