//! The blob container: header (magic, format version, feature bits, target fingerprint), a section table with
//! a CRC-32 per section, and the sections (metadata, commands, constants raw and 64-byte aligned, host kernels,
//! debug map). Parsing checks, in order: header, section bounds, checksums, structural decode with limits.
//! Semantic verification (addresses, references, waits) is the runtime's verifier, after this.
//!
//! Decode is total (ARCHITECTURE.md): no indexing or slicing that can panic, every offset read with `get`.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod codec;
mod error;

pub use codec::MAX_SECTION_BYTES;
pub use error::BlobError;

use crate::command::{decode_queues, encode_queues};
use crate::program::{DebugInfo, DebugInfoV51, HostKernel, Meta, Program};

pub const MAGIC: [u8; 8] = *b"ACCELBLB";
/// 2: host kernels carry kernel IR (`HostBody`), no longer only an operator.
/// 3: `mac.conv` carries its input's and its residual's plane strides (`in_plane_rows`, `res_plane_rows`), so a
/// fused chain can read a window of a block that several of its layers read (or that carries their halo rows).
/// The command's encoding changed: 2.x blobs are refused (recompile them). It also holds what 2.1-2.2 added:
/// the metadata ends with the pipeline stages (`Meta::stages`), and word 7 of an int8 `quant` header is a fused
/// LeakyReLU's slope (`QuantHeader::neg_mult`).
/// 4: `mac.conv` also carries its input's and its residual's row pitches (`in_row_pitch`, `res_row_pitch`), so a
/// fused chain can be cut into columns too (a window of a wider block). 3.x blobs are refused.
/// 5: an int8 `mac.conv` with a residual rounds its sum and its residual term to the output grid once, together
/// (`numerics::requant::requantize_sum`), not once each: the same bytes, another result, so 4.x blobs are
/// refused (recompile them). 5.0 also has `vec.pool.i8` (opcode 0x0A), int8 pooling.
pub const FORMAT_MAJOR: u16 = 5;
/// 0: as described for `FORMAT_MAJOR`, and (since 3.0) an i8 `mac.conv`/`mac.matmul` with an `act` has a 256-byte lookup
/// table after its quant header (`numerics::table`).
/// 1: `dma.multicast` (opcode 0x0B): one DRAM read into the SRAM of several tiles. 5.0 readers refuse 5.1 blobs
/// by their version, before meeting the opcode.
/// 2: the debug map ends with each layer's model MACs (`DebugInfo::layer_macs`); 5.0 and 5.1 blobs still load,
/// with none.
pub const FORMAT_MINOR: u16 = 2;
/// The first minor version whose debug map carries `layer_macs`.
const MINOR_LAYER_MACS: u16 = 2;
/// The program calls host kernels (kernel IR, or operator form for operators without a lowering).
pub const FEATURE_HOST_OPS: u64 = 1 << 0;
/// Feature bits this build understands; a blob requiring others is refused before its body is parsed.
pub const SUPPORTED_FEATURES: u64 = FEATURE_HOST_OPS;

const HEADER_LEN: usize = 48;
const ENTRY_LEN: usize = 32;
const ALIGN: usize = 64;

/// Section kinds, in the order they are written. Each appears exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    Meta = 1,
    Commands = 2,
    Constants = 3,
    Kernels = 4,
    Debug = 5,
}

impl SectionKind {
    const ALL: [SectionKind; 5] =
        [SectionKind::Meta, SectionKind::Commands, SectionKind::Constants, SectionKind::Kernels, SectionKind::Debug];
    pub fn name(self) -> &'static str {
        match self {
            SectionKind::Meta => "meta",
            SectionKind::Commands => "commands",
            SectionKind::Constants => "constants",
            SectionKind::Kernels => "kernels",
            SectionKind::Debug => "debug",
        }
    }
}

/// Caps applied while parsing untrusted bytes.
#[derive(Debug, Clone, Copy)]
pub struct BlobLimits {
    pub max_blob_bytes: u64,
}

impl Default for BlobLimits {
    fn default() -> Self {
        BlobLimits { max_blob_bytes: 4 << 30 }
    }
}

/// Serializes a program. Deterministic: the same program gives the same bytes.
pub fn encode(program: &Program) -> Result<Vec<u8>, BlobError> {
    let meta = codec::encode(&program.meta).map_err(|why| BlobError::Encode { section: "meta", why })?;
    let debug = codec::encode(&program.debug).map_err(|why| BlobError::Encode { section: "debug", why })?;
    encode_with_meta(program, meta, debug, FORMAT_MINOR)
}

/// `encode` with the metadata and debug sections' bytes and the minor version given.
fn encode_with_meta(program: &Program, meta: Vec<u8>, debug: Vec<u8>, minor: u16) -> Result<Vec<u8>, BlobError> {
    let enc = |kind: SectionKind, r: Result<Vec<u8>, String>| {
        r.map_err(|why| BlobError::Encode { section: kind.name(), why })
    };
    let sections: Vec<(SectionKind, Vec<u8>)> = vec![
        (SectionKind::Meta, meta),
        (SectionKind::Commands, encode_queues(&program.queues)),
        (SectionKind::Constants, program.constants.clone()),
        (SectionKind::Kernels, enc(SectionKind::Kernels, codec::encode(&program.kernels))?),
        (SectionKind::Debug, debug),
    ];
    let features = if program.kernels.is_empty() { 0 } else { FEATURE_HOST_OPS };
    let mut out = vec![0u8; HEADER_LEN + ENTRY_LEN * sections.len()];
    let mut table = Vec::new();
    for (kind, bytes) in &sections {
        out.resize(out.len().next_multiple_of(ALIGN), 0);
        table.push((*kind, out.len() as u64, bytes.len() as u64, crc32fast::hash(bytes)));
        out.extend_from_slice(bytes);
    }
    let total = out.len() as u64;
    put(&mut out, 0, &MAGIC);
    put(&mut out, 8, &FORMAT_MAJOR.to_le_bytes());
    put(&mut out, 10, &minor.to_le_bytes());
    put(&mut out, 12, &(HEADER_LEN as u32).to_le_bytes());
    put(&mut out, 16, &features.to_le_bytes());
    put(&mut out, 24, &program.meta.target.fingerprint().to_le_bytes());
    put(&mut out, 32, &total.to_le_bytes());
    put(&mut out, 40, &(sections.len() as u32).to_le_bytes());
    for (i, (kind, offset, len, crc)) in table.into_iter().enumerate() {
        let e = HEADER_LEN + i * ENTRY_LEN;
        put(&mut out, e, &(kind as u32).to_le_bytes());
        put(&mut out, e + 8, &offset.to_le_bytes());
        put(&mut out, e + 16, &len.to_le_bytes());
        put(&mut out, e + 24, &crc.to_le_bytes());
    }
    let crc = header_crc(&out, HEADER_LEN + ENTRY_LEN * sections.len());
    put(&mut out, 44, &crc.to_le_bytes());
    Ok(out)
}

/// Writes `bytes` at `at` of the header being encoded (always inside it: `encode` sized it first).
fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = out.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// CRC-32 over the header (without its CRC field) and the section table. Callers checked that both exist;
/// a missing part hashes as empty, which then fails the comparison.
fn header_crc(bytes: &[u8], table_end: usize) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(bytes.get(0..44).unwrap_or_default());
    h.update(bytes.get(HEADER_LEN..table_end).unwrap_or_default());
    h.finalize()
}

/// `N` bytes at `at`, or a truncation error.
fn field<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], BlobError> {
    at.checked_add(N)
        .and_then(|end| b.get(at..end))
        .and_then(|s| s.try_into().ok())
        .ok_or(BlobError::Truncated { offset: b.len(), needed: at.saturating_add(N).saturating_sub(b.len()) })
}
fn u16_at(b: &[u8], at: usize) -> Result<u16, BlobError> {
    field(b, at).map(u16::from_le_bytes)
}
fn u32_at(b: &[u8], at: usize) -> Result<u32, BlobError> {
    field(b, at).map(u32::from_le_bytes)
}
fn u64_at(b: &[u8], at: usize) -> Result<u64, BlobError> {
    field(b, at).map(u64::from_le_bytes)
}

/// What the header says, readable without decoding the body (for `accelrt info` and mismatch errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub major: u16,
    pub minor: u16,
    pub features: u64,
    pub target_fingerprint: u64,
}

/// Parses and checks the header and the section table; returns the header and each section's byte range.
/// Each section's kind and byte range.
type SectionRanges = Vec<(SectionKind, usize, usize)>;

fn parse_layout(bytes: &[u8], limits: &BlobLimits) -> Result<(Header, SectionRanges), BlobError> {
    if bytes.len() as u64 > limits.max_blob_bytes {
        return Err(BlobError::TooLarge { len: bytes.len() as u64, max: limits.max_blob_bytes });
    }
    if bytes.len() < HEADER_LEN {
        return Err(BlobError::Truncated { offset: bytes.len(), needed: HEADER_LEN });
    }
    if bytes.get(0..8) != Some(&MAGIC[..]) {
        return Err(BlobError::BadMagic);
    }
    let header = Header {
        major: u16_at(bytes, 8)?,
        minor: u16_at(bytes, 10)?,
        features: u64_at(bytes, 16)?,
        target_fingerprint: u64_at(bytes, 24)?,
    };
    if header.major != FORMAT_MAJOR || header.minor > FORMAT_MINOR {
        return Err(BlobError::Version { major: header.major, minor: header.minor });
    }
    if u32_at(bytes, 12)? as usize != HEADER_LEN {
        return Err(BlobError::Malformed { offset: 12, why: "unexpected header length".into() });
    }
    let unknown = header.features & !SUPPORTED_FEATURES;
    if unknown != 0 {
        return Err(BlobError::Features { unknown });
    }
    let total = u64_at(bytes, 32)?;
    if total != bytes.len() as u64 {
        return Err(BlobError::Truncated {
            offset: bytes.len(),
            needed: total.saturating_sub(bytes.len() as u64) as usize,
        });
    }
    let count = u32_at(bytes, 40)? as usize;
    if count != SectionKind::ALL.len() {
        return Err(BlobError::Malformed {
            offset: 40,
            why: format!("{count} sections, expected {}", SectionKind::ALL.len()),
        });
    }
    let table_end = HEADER_LEN + count * ENTRY_LEN;
    if bytes.len() < table_end {
        return Err(BlobError::Truncated { offset: bytes.len(), needed: table_end - bytes.len() });
    }
    if header_crc(bytes, table_end) != u32_at(bytes, 44)? {
        return Err(BlobError::Checksum { what: "header", offset: 0 });
    }
    let mut sections = Vec::with_capacity(count);
    // Every byte is covered by a checksum or must be zero, so no single flipped byte goes unnoticed.
    let mut covered_to = table_end;
    for (i, want) in SectionKind::ALL.iter().enumerate() {
        let e = HEADER_LEN + i * ENTRY_LEN;
        if u32_at(bytes, e)? != *want as u32 {
            return Err(BlobError::Malformed { offset: e, why: format!("section {i} should be {}", want.name()) });
        }
        if u32_at(bytes, e + 4)? != 0 || u32_at(bytes, e + 28)? != 0 {
            return Err(BlobError::Malformed {
                offset: e + 4,
                why: "reserved section-table bytes are not zero".into(),
            });
        }
        let (offset, len) = (u64_at(bytes, e + 8)?, u64_at(bytes, e + 16)?);
        let end = offset.checked_add(len).filter(|&end| offset >= table_end as u64 && end <= bytes.len() as u64);
        let Some(end) = end else {
            return Err(BlobError::SectionBounds { section: want.name(), offset, len });
        };
        let (start, end) = (offset as usize, end as usize);
        let (Some(padding), Some(body)) = (bytes.get(covered_to..start), bytes.get(start..end)) else {
            return Err(BlobError::SectionBounds { section: want.name(), offset, len });
        };
        if let Some(p) = padding.iter().position(|&b| b != 0) {
            return Err(BlobError::Malformed {
                offset: covered_to + p,
                why: "padding between sections is not zero".into(),
            });
        }
        covered_to = end;
        if crc32fast::hash(body) != u32_at(bytes, e + 24)? {
            return Err(BlobError::Checksum { what: want.name(), offset: start });
        }
        sections.push((*want, start, end));
    }
    if covered_to != bytes.len() {
        return Err(BlobError::Malformed { offset: covered_to, why: "bytes after the last section".into() });
    }
    Ok((header, sections))
}

/// Reads only the header, checking magic, version, header checksum and features.
pub fn read_header(bytes: &[u8]) -> Result<Header, BlobError> {
    parse_layout(bytes, &BlobLimits::default()).map(|(h, _)| h)
}

/// Parses a blob into a program: header, bounds, checksums, structural decode. Never panics.
pub fn decode(bytes: &[u8], limits: &BlobLimits) -> Result<Program, BlobError> {
    let (header, sections) = parse_layout(bytes, limits)?;
    // `parse_layout` returned one in-bounds range per kind, in kind order: the lookups cannot miss.
    let range = |k: SectionKind| sections.get(k as usize - 1).map_or((0, 0), |&(_, s, e)| (s, e));
    let body = |k: SectionKind| -> &[u8] {
        let (s, e) = range(k);
        bytes.get(s..e).unwrap_or_default()
    };
    let start = |k: SectionKind| range(k).0;
    let dec = |k: SectionKind, why: String| BlobError::Decode { section: k.name(), offset: start(k), why };
    let meta: Meta = codec::decode(body(SectionKind::Meta)).map_err(|w| dec(SectionKind::Meta, w))?;
    if meta.target.fingerprint() != header.target_fingerprint {
        return Err(BlobError::Malformed {
            offset: 24,
            why: "target fingerprint does not match the embedded target".into(),
        });
    }
    let queues = decode_queues(body(SectionKind::Commands)).map_err(|e| dec(SectionKind::Commands, e.to_string()))?;
    let kernels: Vec<HostKernel> =
        codec::decode(body(SectionKind::Kernels)).map_err(|w| dec(SectionKind::Kernels, w))?;
    let debug: DebugInfo = if header.minor >= MINOR_LAYER_MACS {
        codec::decode(body(SectionKind::Debug)).map_err(|w| dec(SectionKind::Debug, w))?
    } else {
        codec::decode::<DebugInfoV51>(body(SectionKind::Debug)).map_err(|w| dec(SectionKind::Debug, w))?.into()
    };
    let constants = body(SectionKind::Constants).to_vec();
    Ok(Program { meta, queues, constants, kernels, debug })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
