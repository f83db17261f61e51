//! Editing blob bytes the way an attacker would: poke a header or section-table field, rewrite a section's
//! bytes, then re-seal the checksums so that the edit reaches the structural decoder or the verifier instead
//! of stopping at a CRC. Used by the hostile-blob tests and the fuzz targets (`tests/fuzz`). Tolerates any
//! bytes: fields that point outside the buffer are left as they are.

/// Header bytes before the section table.
pub const HEADER_LEN: usize = 48;
/// Bytes per section-table entry: kind u32, reserved u32, offset u64, length u64, crc u32, reserved u32.
pub const ENTRY_LEN: usize = 32;
/// Header field offsets.
pub const MAJOR: usize = 8;
pub const MINOR: usize = 10;
pub const HEADER_LEN_FIELD: usize = 12;
pub const FEATURES: usize = 16;
pub const FINGERPRINT: usize = 24;
pub const TOTAL: usize = 32;
pub const COUNT: usize = 40;
/// Section indices in the table (the format's order).
pub const META: usize = 0;
pub const COMMANDS: usize = 1;
pub const CONSTANTS: usize = 2;
pub const KERNELS: usize = 3;
pub const DEBUG: usize = 4;
/// Sections sealed at most (the format has five).
const MAX_ENTRIES: usize = 5;

pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

pub fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

/// Overwrites `bytes.len()` bytes at `at`, if they are inside the buffer.
pub fn put(b: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = at.checked_add(bytes.len()).and_then(|end| b.get_mut(at..end)) {
        dst.copy_from_slice(bytes);
    }
}

pub fn put_u64(b: &mut [u8], at: usize, v: u64) {
    put(b, at, &v.to_le_bytes());
}

pub fn put_u32(b: &mut [u8], at: usize, v: u32) {
    put(b, at, &v.to_le_bytes());
}

/// Byte offset of section-table entry `i`.
pub fn entry(i: usize) -> usize {
    HEADER_LEN + i * ENTRY_LEN
}

/// The byte range of section `i` as its table entry says (unchecked against the buffer).
pub fn section(b: &[u8], i: usize) -> Option<(u64, u64)> {
    Some((u64_at(b, entry(i) + 8)?, u64_at(b, entry(i) + 16)?))
}

/// Replaces the body of section `i`, moves the sections after it, updates the table and the total length,
/// and re-seals. Leaves the blob as it is if section `i` does not lie inside it.
pub fn replace_section(b: &mut Vec<u8>, i: usize, body: &[u8]) {
    let Some((offset, len)) = section(b, i) else { return };
    let (Ok(o), Ok(l)) = (usize::try_from(offset), usize::try_from(len)) else { return };
    if o.checked_add(l).is_none_or(|end| end > b.len()) {
        return;
    }
    b.splice(o..o + l, body.iter().copied());
    put_u64(b, entry(i) + 16, body.len() as u64);
    let count = u32_at(b, COUNT).map_or(0, |c| c as usize);
    for j in i + 1..count.min(MAX_ENTRIES) {
        if let Some((later, _)) = section(b, j) {
            put_u64(b, entry(j) + 8, (later + body.len() as u64).wrapping_sub(len));
        }
    }
    seal(b, true);
}

/// Seals `blob` in place: section CRCs, the header CRC and, with `fix_total`, the total-length field.
pub fn seal(blob: &mut [u8], fix_total: bool) {
    if blob.len() < HEADER_LEN {
        return;
    }
    if fix_total {
        let len = blob.len() as u64;
        put_u64(blob, TOTAL, len);
    }
    let count = u32_at(blob, COUNT).map_or(0, |c| c as usize);
    for i in 0..count.min(MAX_ENTRIES) {
        let Some((offset, len)) = section(blob, i) else { break };
        let range = usize::try_from(offset).ok().zip(usize::try_from(len).ok());
        let body = range.and_then(|(o, l)| blob.get(o..o.checked_add(l)?));
        if let Some(body) = body {
            let crc = crc32fast::hash(body);
            put_u32(blob, entry(i) + 24, crc);
        }
    }
    let table_end = count.checked_mul(ENTRY_LEN).and_then(|t| t.checked_add(HEADER_LEN));
    if let (Some(head), Some(table)) = (blob.get(0..44), table_end.and_then(|end| blob.get(HEADER_LEN..end))) {
        let mut h = crc32fast::Hasher::new();
        h.update(head);
        h.update(table);
        let crc = h.finalize();
        put_u32(blob, 44, crc);
    }
}
