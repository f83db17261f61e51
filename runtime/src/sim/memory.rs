//! The simulated memories: one flat DRAM and one SRAM per tile, as byte arrays allocated once per session, and
//! bounds-checked byte accessors. A failed check here means
//! the verifier missed something: it is an error, never a panic.
use crate::error::ExecError;
use crate::verify::VerifiedProgram;
use accel_ops::command::{Command, Unit};

/// DRAM, per-tile SRAM and the functional model's reusable per-tile state.
#[derive(Debug)]
pub struct Machine {
    pub(crate) dram: Vec<u8>,
    /// Indexed by tile; tiles without queues get no SRAM.
    pub(crate) sram: Vec<Vec<u8>>,
    pub(crate) work: super::functional::Workspace,
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
        // The SRAM of every tile that holds a queue or receives a multicast.
        let mut used = std::collections::BTreeSet::new();
        for q in p.queues.iter().filter(|q| q.id.unit != Unit::Host) {
            used.insert(q.id.tile);
            for c in q.commands.iter().filter(|c| matches!(c, Command::Multicast { .. })) {
                used.extend(c.sram_destinations(q.id.tile));
            }
        }
        for tile in used {
            if let Some(s) = sram.get_mut(tile as usize) {
                *s = alloc("SRAM", p.meta.target.tile.sram_bytes)?;
            }
        }
        Ok(Machine { dram, sram, work: Default::default() })
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

/// The `n_src` bytes at `src` to read and the `n_dst` bytes at `dst` to write in one memory (both checked):
/// read where they are when the ranges are apart, else copied into `copied` first (the command's input may not
/// change while its output is written).
pub(crate) fn src_dst<'a>(
    mem: &'a mut [u8],
    (src, n_src): (u64, u64),
    (dst, n_dst): (u64, u64),
    copied: &'a mut Vec<u8>,
) -> Result<(&'a [u8], &'a mut [u8]), String> {
    let (s, d) = (range(mem.len(), src, n_src)?, range(mem.len(), dst, n_dst)?);
    Ok(if s.end <= d.start {
        let (lo, hi) = mem.split_at_mut(d.start);
        (&lo[s], &mut hi[..d.end - d.start])
    } else if d.end <= s.start {
        let (lo, hi) = mem.split_at_mut(s.start);
        (&hi[..s.end - s.start], &mut lo[d])
    } else {
        *copied = mem[s].to_vec();
        (copied.as_slice(), &mut mem[d])
    })
}
