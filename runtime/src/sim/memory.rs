//! The simulated memories: one flat DRAM and one SRAM per tile, as byte arrays allocated once per session, and
//! bounds-checked byte and f32 accessors (little-endian, never assuming alignment). A failed check here means
//! the verifier missed something: it is an error, never a panic.
use crate::error::ExecError;
use crate::verify::VerifiedProgram;
use accel_ops::command::{Copy3, Unit};

/// DRAM, per-tile SRAM and reusable f32 scratch for the kernels.
#[derive(Debug)]
pub struct Machine {
    pub(crate) dram: Vec<u8>,
    /// Indexed by tile; tiles without queues get no SRAM.
    pub(crate) sram: Vec<Vec<u8>>,
    pub(crate) scratch: [Vec<f32>; 5],
}

fn alloc(what: &'static str, bytes: u64) -> Result<Vec<u8>, ExecError> {
    let n = usize::try_from(bytes).map_err(|_| ExecError::Alloc { what, bytes })?;
    // Probe with a fallible reservation first (an impossible size is an error, not an abort), then take
    // zeroed memory from `vec!`, which the allocator can hand out lazily instead of writing every byte.
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(n).map_err(|_| ExecError::Alloc { what, bytes })?;
    drop(probe);
    Ok(vec![0u8; n])
}

impl Machine {
    /// Allocates the memories a program needs (zeroed); a too-large request is an error, not an abort.
    pub fn new(program: &VerifiedProgram) -> Result<Machine, ExecError> {
        let p = program.program();
        let dram = alloc("DRAM", p.meta.dram_bytes)?;
        let mut sram = vec![Vec::new(); p.meta.target.tiles as usize];
        for q in p.queues.iter().filter(|q| q.id.unit != Unit::Host) {
            if let Some(s) = sram.get_mut(q.id.tile as usize) {
                if s.is_empty() {
                    *s = alloc("SRAM", p.meta.target.tile.sram_bytes)?;
                }
            }
        }
        Ok(Machine { dram, sram, scratch: Default::default() })
    }

    /// Copies the constants to DRAM address 0 (each run: a program may overwrite them).
    pub(crate) fn load_constants(&mut self, constants: &[u8]) -> Result<(), String> {
        bytes_mut(&mut self.dram, 0, constants.len() as u64)?.copy_from_slice(constants);
        Ok(())
    }

    pub fn dram(&self) -> &[u8] {
        &self.dram
    }

    pub(crate) fn dram_mut(&mut self) -> &mut [u8] {
        &mut self.dram
    }

    /// The SRAM of `tile` (empty for tiles without queues).
    pub fn sram(&self, tile: usize) -> &[u8] {
        self.sram.get(tile).map_or(&[], |s| s.as_slice())
    }
}

fn range(len: usize, addr: u64, n: u64) -> Result<std::ops::Range<usize>, String> {
    let end = addr.checked_add(n).filter(|&e| e <= len as u64);
    match end {
        Some(end) => Ok(addr as usize..end as usize),
        None => Err(format!("access of {n} bytes at {addr:#x} is outside a memory of {len} bytes")),
    }
}

pub(crate) fn bytes(mem: &[u8], addr: u64, n: u64) -> Result<&[u8], String> {
    let r = range(mem.len(), addr, n)?;
    mem.get(r).ok_or_else(|| "out of bounds".into())
}

pub(crate) fn bytes_mut(mem: &mut [u8], addr: u64, n: u64) -> Result<&mut [u8], String> {
    let r = range(mem.len(), addr, n)?;
    mem.get_mut(r).ok_or_else(|| "out of bounds".into())
}

/// Reads `n` little-endian f32 values at byte `addr` into `out` (cleared first, capacity reused).
pub(crate) fn read_f32(mem: &[u8], addr: u64, n: usize, out: &mut Vec<f32>) -> Result<(), String> {
    let len = (n as u64).checked_mul(4).ok_or("size overflow")?;
    let src = bytes(mem, addr, len)?;
    out.clear();
    out.extend(src.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])));
    Ok(())
}

/// Writes f32 values little-endian at byte `addr`.
pub(crate) fn write_f32(mem: &mut [u8], addr: u64, vals: &[f32]) -> Result<(), String> {
    let len = (vals.len() as u64).checked_mul(4).ok_or("size overflow")?;
    let dst = bytes_mut(mem, addr, len)?;
    for (d, v) in dst.chunks_exact_mut(4).zip(vals) {
        d.copy_from_slice(&v.to_le_bytes());
    }
    Ok(())
}

/// Which way a strided copy goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    DramToSram,
    SramToDram,
}

/// Executes a `Copy3` between DRAM and one SRAM: `n2` blocks of `n1` runs of `len` bytes, in order.
pub(crate) fn strided_copy(
    dram: &mut [u8],
    sram: &mut [u8],
    dram_base: u64,
    sram_base: u64,
    c: &Copy3,
    dir: Direction,
) -> Result<(), String> {
    if c.len == 0 {
        return Ok(());
    }
    let len = c.len as u64;
    for i2 in 0..c.n2 as u64 {
        for i1 in 0..c.n1 as u64 {
            let d = offset(dram_base, i2, c.dram_stride2, i1, c.dram_stride1)?;
            let s = offset(sram_base, i2, c.sram_stride2 as u64, i1, c.sram_stride1 as u64)?;
            match dir {
                Direction::DramToSram => bytes_mut(sram, s, len)?.copy_from_slice(bytes(dram, d, len)?),
                Direction::SramToDram => bytes_mut(dram, d, len)?.copy_from_slice(bytes(sram, s, len)?),
            }
        }
    }
    Ok(())
}

fn offset(base: u64, i2: u64, s2: u64, i1: u64, s1: u64) -> Result<u64, String> {
    i2.checked_mul(s2)
        .and_then(|a| a.checked_add(i1.checked_mul(s1)?))
        .and_then(|a| a.checked_add(base))
        .ok_or_else(|| "strided address overflows".into())
}
