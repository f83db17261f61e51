//! The one place that names bincode: structured blob sections go through here, so a successor format
//! replaces one file. Decoding always has a byte limit (bincode without one aborts on a corrupted length).
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The largest structured section accepted: metadata, kernels and debug info are far smaller.
pub const MAX_SECTION_BYTES: usize = 64 << 20;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_little_endian().with_fixed_int_encoding().with_limit::<MAX_SECTION_BYTES>()
}

/// Encodes a section; one over the decoder's limit is an error here (bincode checks its limit only when
/// decoding), so the compiler never writes a blob that no runtime would load.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    let bytes = bincode::serde::encode_to_vec(value, config()).map_err(|e| e.to_string())?;
    if bytes.len() > MAX_SECTION_BYTES {
        return Err(format!("{} bytes exceed the {MAX_SECTION_BYTES}-byte section limit", bytes.len()));
    }
    Ok(bytes)
}

/// Decodes exactly `bytes` (trailing bytes are an error).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    if bytes.len() > MAX_SECTION_BYTES {
        return Err(format!("section of {} bytes exceeds the {MAX_SECTION_BYTES}-byte limit", bytes.len()));
    }
    let (value, used) = bincode::serde::decode_from_slice(bytes, config()).map_err(|e| e.to_string())?;
    if used != bytes.len() {
        return Err(format!("{} trailing bytes after offset {used}", bytes.len() - used));
    }
    Ok(value)
}
