//! Work items of elementwise operators over flat f32 buffers: unary functions, binary ops with a repeating
//! `b` operand, and per-channel affine transforms.
use super::{SramAlloc, WorkItem};
use crate::lower::error::LowerError;
use crate::lower::plan::Broadcast;
use crate::lower::tiling::chunks;
use accel_ops::command::{Act, BinCode, Command, Copy3, DramAddr, SramAddr};
use accel_ops::op::{BinaryOp, UnaryOp};

/// Largest chunk of elements such that `per_elem` bytes each (plus `fixed`) fit, and every tile gets work.
fn chunk_len(total: usize, per_elem: u64, cap: u64, tiles: usize) -> usize {
    let fit = (cap.saturating_sub(256) / per_elem).max(1) as usize;
    fit.min(total.div_ceil(tiles)).max(1)
}

fn contiguous(bytes: usize) -> Copy3 {
    Copy3::contiguous(bytes as u32)
}

pub fn emit_unary(op: UnaryOp, len: usize, x: u64, y: u64, cap: u64, tiles: usize) -> Vec<WorkItem> {
    chunks(len, chunk_len(len, 8, cap, tiles))
        .into_iter()
        .map(|(i0, n)| {
            let mut a = SramAlloc::new(cap);
            let (s, d) = (a.take(n as u64 * 4).unwrap_or(0), a.take(n as u64 * 4).unwrap_or(0));
            WorkItem {
                loads: vec![(s, DramAddr(x + i0 as u64 * 4), contiguous(n * 4))],
                compute: vec![Command::Unary {
                    func: Act(Some(op)),
                    src: SramAddr(s as u32),
                    dst: SramAddr(d as u32),
                    len: n as u32,
                }],
                stores: vec![(d, DramAddr(y + i0 as u64 * 4), contiguous(n * 4))],
            }
        })
        .collect()
}

/// A piece of a repeating pattern: elements `[i0, i0+len)` use `b[b0 .. b0+period]` with `repeat`.
pub(super) struct Piece {
    pub i0: usize,
    pub len: usize,
    pub b0: usize,
    pub period: usize,
    pub repeat: usize,
}

/// Splits `total` elements with pattern (period P, repeat R) into pieces that fit: whole runs of R when at
/// least one fits (b is then a contiguous range of the pattern), else pieces inside one run (b is one scalar).
pub(super) fn pieces(total: usize, bc: Broadcast, per_elem: u64, cap: u64, tiles: usize) -> Vec<Piece> {
    let (p, r) = (bc.period.max(1), bc.repeat.max(1));
    let block = p * r;
    let mut out = Vec::new();
    let fit = chunk_len(total, per_elem, cap, tiles);
    if r <= fit {
        let runs = (fit / r).max(1);
        for o in 0..total / block {
            for (p0, pn) in chunks(p, runs) {
                out.push(Piece { i0: o * block + p0 * r, len: pn * r, b0: p0, period: pn, repeat: r });
            }
        }
    } else {
        for o in 0..total / block {
            for pi in 0..p {
                for (j0, jn) in chunks(r, fit) {
                    out.push(Piece { i0: o * block + pi * r + j0, len: jn, b0: pi, period: 1, repeat: jn });
                }
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
pub fn emit_binary(
    layer: &str,
    op: BinaryOp,
    bc: Broadcast,
    len: usize,
    a: u64,
    b: u64,
    y: u64,
    cap: u64,
    tiles: usize,
) -> Result<Vec<WorkItem>, LowerError> {
    if len % (bc.period * bc.repeat).max(1) != 0 {
        return Err(LowerError::layer(layer, "broadcast pattern does not tile the output"));
    }
    Ok(pieces(len, bc, 12, cap, tiles)
        .into_iter()
        .map(|pc| {
            let mut al = SramAlloc::new(cap);
            let sa = al.take(pc.len as u64 * 4).unwrap_or(0);
            let sb = al.take(pc.period as u64 * 4).unwrap_or(0);
            let sd = al.take(pc.len as u64 * 4).unwrap_or(0);
            WorkItem {
                loads: vec![
                    (sa, DramAddr(a + pc.i0 as u64 * 4), contiguous(pc.len * 4)),
                    (sb, DramAddr(b + pc.b0 as u64 * 4), contiguous(pc.period * 4)),
                ],
                compute: vec![Command::Binary {
                    op: BinCode(op),
                    a: SramAddr(sa as u32),
                    b: SramAddr(sb as u32),
                    dst: SramAddr(sd as u32),
                    len: pc.len as u32,
                    b_period: pc.period as u32,
                    b_repeat: pc.repeat as u32,
                }],
                stores: vec![(sd, DramAddr(y + pc.i0 as u64 * 4), contiguous(pc.len * 4))],
            }
        })
        .collect())
}

/// Per-channel affine over `[outer, c, inner]`; `params` is `[2, c]` (scales, then shifts).
#[allow(clippy::too_many_arguments)]
pub fn emit_affine(
    len: usize,
    c: usize,
    inner: usize,
    x: u64,
    params: u64,
    y: u64,
    cap: u64,
    tiles: usize,
) -> Vec<WorkItem> {
    let bc = Broadcast { period: c, repeat: inner };
    pieces(len, bc, 8, cap, tiles)
        .into_iter()
        .map(|pc| {
            let mut al = SramAlloc::new(cap);
            let sx = al.take(pc.len as u64 * 4).unwrap_or(0);
            let sp = al.take(pc.period as u64 * 8).unwrap_or(0);
            let sd = al.take(pc.len as u64 * 4).unwrap_or(0);
            let run = (pc.period * 4) as u32;
            WorkItem {
                loads: vec![
                    (sx, DramAddr(x + pc.i0 as u64 * 4), contiguous(pc.len * 4)),
                    (
                        sp,
                        DramAddr(params + pc.b0 as u64 * 4),
                        Copy3 {
                            len: run,
                            n1: 2,
                            dram_stride1: c as u64 * 4,
                            sram_stride1: run,
                            n2: 1,
                            dram_stride2: 0,
                            sram_stride2: 0,
                        },
                    ),
                ],
                compute: vec![Command::Affine {
                    src: SramAddr(sx as u32),
                    dst: SramAddr(sd as u32),
                    params: SramAddr(sp as u32),
                    c: pc.period as u32,
                    inner: pc.repeat as u32,
                }],
                stores: vec![(sd, DramAddr(y + pc.i0 as u64 * 4), contiguous(pc.len * 4))],
            }
        })
        .collect()
}
