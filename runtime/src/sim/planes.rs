//! The input and residual operands of a `mac.conv`, whose rows lie `in_row_pitch` / `res_row_pitch` elements
//! apart and planes `in_plane_rows` / `res_plane_rows` rows apart: a window of a larger block when a fused chain
//! reads part of a tile that other layers read too (or that carries their halo rows and columns), else a dense
//! block. The kernels read dense blocks, so a window is gathered
//! first; a dense operand is read where it is.
use super::lazy::Operands;
use std::borrow::Cow;

/// Where an operand lies: `planes` planes of `rows x width` elements of `elem` bytes, rows `pitch` elements
/// apart and planes `apart` rows apart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlaneWindow {
    pub planes: usize,
    pub rows: usize,
    /// Rows from one plane's start to the next's.
    pub apart: usize,
    /// Elements from one row's start to the next's.
    pub pitch: usize,
    pub width: usize,
    pub elem: usize,
}

impl PlaneWindow {
    /// Whether the planes are back to back (no gathering needed).
    pub fn dense(&self) -> bool {
        self.pitch == self.width && (self.apart == self.rows || self.planes <= 1)
    }

    /// Bytes from the first element to the last one's end.
    fn span(&self) -> Option<usize> {
        if self.rows == 0 || self.width == 0 {
            return Some(0);
        }
        let last_row = self.planes.checked_sub(1)?.checked_mul(self.apart)?.checked_add(self.rows - 1)?;
        last_row.checked_mul(self.pitch)?.checked_add(self.width)?.checked_mul(self.elem)
    }

    /// The operand's bytes as one dense block, read through `ops` (SRAM or a pending load) from `at`.
    pub fn read<'a: 'b, 'b>(&self, ops: Operands<'a>, sram: &'b [u8], at: u64) -> Result<Cow<'b, [u8]>, String> {
        if self.planes == 0 {
            return Ok(Cow::Borrowed(&[]));
        }
        if self.apart < self.rows {
            return Err(format!("planes {} rows apart overlap ({} rows)", self.apart, self.rows));
        }
        if self.pitch < self.width {
            return Err(format!("rows {} elements apart overlap ({} wide)", self.pitch, self.width));
        }
        let span = self.span().ok_or("size overflow")?;
        let src = ops.read(sram, at, span as u64)?;
        if self.dense() {
            return Ok(Cow::Borrowed(src));
        }
        let row = self.width * self.elem;
        let row_stride = self.pitch * self.elem;
        let plane_stride = self.apart * row_stride;
        let mut out = Vec::with_capacity(row * self.rows * self.planes);
        for p in 0..self.planes {
            if self.pitch == self.width {
                let at = p * plane_stride;
                out.extend_from_slice(src.get(at..at + row * self.rows).ok_or("plane window out of range")?);
                continue;
            }
            for r in 0..self.rows {
                let at = p * plane_stride + r * row_stride;
                out.extend_from_slice(src.get(at..at + row).ok_or("plane window out of range")?);
            }
        }
        Ok(Cow::Owned(out))
    }
}
