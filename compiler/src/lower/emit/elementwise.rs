//! Work items of a fused elementwise chain: per chunk, `x` and each operand's piece are loaded once, the steps
//! run as `vec.unary`/`vec.binary` commands ping-ponging between two SRAM buffers, and only the result is
//! stored. The intermediates of the chain never reach DRAM.
use super::flat::{pieces, Piece};
use super::{SramAlloc, WorkItem};
use crate::lower::elementwise::chunk_pattern;
use crate::lower::error::LowerError;
use crate::lower::plan::Broadcast;
use accel_ops::command::{Act, BinCode, Command, Copy3, DramAddr, SramAddr};
use accel_ops::op::Step;

/// DRAM addresses of a chain: `x`, each operand (with its broadcast pattern) and the output `y`.
pub struct ElementwiseIo<'a> {
    pub x: u64,
    pub operands: &'a [u64],
    pub bcasts: &'a [Broadcast],
    pub y: u64,
}

/// How one operand's piece is loaded and read: first element, elements loaded, `vec.binary` period and repeat.
fn operand_piece(numel: usize, bc: Broadcast, pc: &Piece) -> (usize, usize, usize, usize) {
    if bc.period == 1 {
        (0, 1, 1, 1)
    } else if bc.period == numel {
        (pc.i0, pc.len, pc.len, 1)
    } else {
        (pc.b0, pc.period, pc.period, pc.repeat)
    }
}

pub fn emit_elementwise(
    layer: &str,
    steps: &[Step],
    io: &ElementwiseIo,
    numel: usize,
    cap: u64,
    tiles: usize,
) -> Result<Vec<WorkItem>, LowerError> {
    if io.operands.len() != io.bcasts.len() {
        return Err(LowerError::layer(layer, "internal: an operand without a broadcast pattern"));
    }
    let bc = chunk_pattern(numel, io.bcasts);
    if numel % (bc.period * bc.repeat).max(1) != 0 {
        return Err(LowerError::layer(layer, "broadcast pattern does not tile the output"));
    }
    let per_elem = 8 + 4 * io.operands.len() as u64;
    let fit = |pc: &Piece| {
        let bytes: Vec<u64> = std::iter::repeat_n(pc.len as u64 * 4, 2)
            .chain(io.bcasts.iter().map(|&b| operand_piece(numel, b, pc).1 as u64 * 4))
            .collect();
        SramAlloc::fits(cap, &bytes)
    };
    // Each buffer may lose up to 64 bytes to alignment.
    let room = cap.saturating_sub(64 * (io.operands.len() as u64 + 2));
    let pcs = pieces(numel, bc, per_elem, room, tiles);
    if let Some(pc) = pcs.iter().find(|pc| !fit(pc)) {
        return Err(LowerError::layer(layer, format!("a chunk of {} elements does not fit SRAM", pc.len)));
    }
    Ok(pcs.iter().map(|pc| item(steps, io, numel, cap, pc)).collect())
}

fn item(steps: &[Step], io: &ElementwiseIo, numel: usize, cap: u64, pc: &Piece) -> WorkItem {
    let mut al = SramAlloc::new(cap);
    let bytes = pc.len as u64 * 4;
    let mut bufs = [al.take(bytes).unwrap_or(0), al.take(bytes).unwrap_or(0)];
    let mut loads = vec![(bufs[0], DramAddr(io.x + pc.i0 as u64 * 4), Copy3::contiguous(bytes as u32))];
    let mut reads = Vec::with_capacity(io.operands.len());
    for (&addr, &b) in io.operands.iter().zip(io.bcasts) {
        let (first, n, period, repeat) = operand_piece(numel, b, pc);
        let at = al.take(n as u64 * 4).unwrap_or(0);
        loads.push((at, DramAddr(addr + first as u64 * 4), Copy3::contiguous(n as u32 * 4)));
        reads.push((at, period, repeat));
    }
    let len = pc.len as u32;
    let compute = steps
        .iter()
        .map(|s| {
            let (src, dst) = (SramAddr(bufs[0] as u32), SramAddr(bufs[1] as u32));
            bufs.swap(0, 1);
            match *s {
                Step::Unary(u) => Command::Unary { func: Act(Some(u)), src, dst, len },
                Step::Binary { op, operand } => {
                    let (b, period, repeat) = reads.get(operand).copied().unwrap_or((0, 1, 1));
                    Command::Binary {
                        op: BinCode(op),
                        a: src,
                        b: SramAddr(b as u32),
                        dst,
                        len,
                        b_period: period as u32,
                        b_repeat: repeat as u32,
                    }
                }
            }
        })
        .collect();
    WorkItem {
        loads,
        compute,
        stores: vec![(bufs[0], DramAddr(io.y + pc.i0 as u64 * 4), Copy3::contiguous(bytes as u32))],
    }
}
