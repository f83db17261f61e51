//! Why a blob was refused, with the byte offset where that is known.
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum BlobError {
    #[error("blob is truncated at byte {offset} ({needed} more bytes expected)")]
    Truncated { offset: usize, needed: usize },
    #[error("not an accel blob (bad magic at byte 0)")]
    BadMagic,
    #[error(
        "blob format {major}.{minor} is not supported by this runtime (reads {}.0 to {}.{})",
        super::FORMAT_MAJOR,
        super::FORMAT_MAJOR,
        super::FORMAT_MINOR
    )]
    Version { major: u16, minor: u16 },
    #[error("blob requires features {unknown:#x} that this runtime does not have")]
    Features { unknown: u64 },
    #[error("blob of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: u64, max: u64 },
    #[error("checksum mismatch in {what} (section at byte {offset})")]
    Checksum { what: &'static str, offset: usize },
    #[error("section {section} (offset {offset}, length {len}) lies outside the blob")]
    SectionBounds { section: &'static str, offset: u64, len: u64 },
    #[error("malformed blob at byte {offset}: {why}")]
    Malformed { offset: usize, why: String },
    #[error("cannot decode section {section} at byte {offset}: {why}")]
    Decode { section: &'static str, offset: usize, why: String },
    #[error("cannot encode section {section}: {why}")]
    Encode { section: &'static str, why: String },
}
