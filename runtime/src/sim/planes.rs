//! The input and residual operands of a `mac.conv`, whose planes lie `in_plane_rows` / `res_plane_rows` rows
//! apart: a window of a taller block when a fused chain reads part of a stripe that other layers read too (or
//! that carries their halo rows), else a dense block. The kernels read dense blocks, so a window is gathered
//! first; a dense operand is read where it is.
use super::lazy::Operands;
use std::borrow::Cow;

/// Where an operand lies: `planes` planes of `rows x width` elements of `elem` bytes, `apart` rows apart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlaneWindow {
    pub planes: usize,
    pub rows: usize,
    /// Rows from one plane's start to the next's.
    pub apart: usize,
    pub width: usize,
    pub elem: usize,
}

impl PlaneWindow {
    /// Whether the planes are back to back (no gathering needed).
    pub fn dense(&self) -> bool {
        self.apart == self.rows || self.planes <= 1
    }

    /// Bytes from the first element to the last one's end.
    fn span(&self) -> Option<usize> {
        let row = self.width.checked_mul(self.elem)?;
        let rows = self.planes.checked_sub(1)?.checked_mul(self.apart)?.checked_add(self.rows)?;
        rows.checked_mul(row)
    }

    /// The operand's bytes as one dense block, read through `ops` (SRAM or a pending load) from `at`.
    pub fn read<'a: 'b, 'b>(&self, ops: Operands<'a>, sram: &'b [u8], at: u64) -> Result<Cow<'b, [u8]>, String> {
        if self.planes == 0 {
            return Ok(Cow::Borrowed(&[]));
        }
        if self.apart < self.rows {
            return Err(format!("planes {} rows apart overlap ({} rows)", self.apart, self.rows));
        }
        let span = self.span().ok_or("size overflow")?;
        let src = ops.read(sram, at, span as u64)?;
        if self.dense() {
            return Ok(Cow::Borrowed(src));
        }
        let plane = self.rows * self.width * self.elem;
        let stride = self.apart * self.width * self.elem;
        let mut out = Vec::with_capacity(plane * self.planes);
        for p in 0..self.planes {
            let from = src.get(p * stride..p * stride + plane).ok_or("plane window out of range")?;
            out.extend_from_slice(from);
        }
        Ok(Cow::Owned(out))
    }
}
