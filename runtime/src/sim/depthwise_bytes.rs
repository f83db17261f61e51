//! The INT8 depthwise convolution on byte phase planes, for CPUs with AVX-512 VBMI and VNNI: taps grouped in
//! quads of consecutive phase-plane offsets, each quad one `vpdpbusd` per 16 outputs (`gemm::depthwise_quads`)
//! instead of one 32-bit multiply-add per tap, with the accumulators in a register across the taps. Exact
//! wrapping int32 sums, the same numbers as the parent's 32-bit loop and `conv_i8_reference`; it decides
//! nothing about validity (the caller checked the buffers against the geometry).
//!
//! The planes hold `x ^ 0x80 = x + 128` as u8, with `x_zero + 128` where the input is padding, so a tap
//! contributes `(x + 128) w` for `(x - x_zero) w`: the difference, `(128 + x_zero) sum w` over all taps, is taken
//! from the initial value once per channel.
use super::{Channels, Plan};
use crate::sim::gemm::{dispatch, Simd};
use crate::sim::gemm_i8::{depthwise_quads, flip_row, QUAD_READ};
use rayon::prelude::*;

/// Up to four taps whose phase-plane offsets are `off .. off + 4`: the weight index of each slot, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Quad {
    pub(super) off: usize,
    pub(super) slots: [Option<usize>; 4],
}

/// The taps in quads: sorted by offset, each joining the last quad when its slot there is free, else starting
/// one. Depends only on the geometry.
pub(super) fn quads(plan: &Plan) -> Vec<Quad> {
    let mut taps = plan.taps.clone();
    taps.sort_unstable();
    let mut out: Vec<Quad> = Vec::new();
    for (off, wi) in taps {
        match out.last_mut() {
            Some(q) if off - q.off < 4 && q.slots[off - q.off].is_none() => q.slots[off - q.off] = Some(wi),
            _ => out.push(Quad { off, slots: [Some(wi), None, None, None] }),
        }
    }
    out
}

/// One thread's buffers: the byte phase planes (their padding written once: every channel's runs rewrite the
/// same positions), `QUAD_READ` bytes of slack for the last step's loads, and the quads' weights of the current
/// channel.
struct Buffers {
    planes: Vec<u8>,
    weights: Vec<(usize, i32)>,
}

impl Buffers {
    fn new(k: &Channels<'_>) -> Buffers {
        let plan = k.plan;
        let pad = (k.xz as u8) ^ 0x80;
        let len = plan.phases.len() * plan.hq * plan.wq + QUAD_READ;
        Buffers { planes: vec![pad; len], weights: Vec::new() }
    }
}

/// `y[c] = bias[c] + sum over taps of (x[c] - x_zero) * w[c]` for every channel, on the calling thread when
/// `serial`.
pub(super) fn depthwise(k: &Channels<'_>, serial: bool, y: &mut [i32]) {
    let n = k.g.out_h * k.g.out_w;
    let quads = quads(k.plan);
    if serial || rayon::current_num_threads() == 1 {
        dispatch(Block { k, quads: &quads, c0: 0, bufs: &mut Buffers::new(k), y });
    } else {
        y.par_chunks_mut(n).enumerate().for_each_init(
            || Buffers::new(k),
            |bufs, (c, yc)| dispatch(Block { k, quads: &quads, c0: c, bufs, y: yc }),
        );
    }
}

/// Consecutive output channels `y` from `c0` on, compiled per instruction set (the plane fill and the row
/// copies; the taps are `depthwise_quads`).
struct Block<'a> {
    k: &'a Channels<'a>,
    quads: &'a [Quad],
    c0: usize,
    bufs: &'a mut Buffers,
    y: &'a mut [i32],
}

impl Simd for Block<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let Block { k, quads, c0, bufs, y } = self;
        let Channels { g, plan, runs, x, xz, w, bias } = *k;
        let (sw, wq, taps) = (g.stride[1], plan.wq, plan.taps.len());
        let (plane, n) = (g.in_h * g.in_w, g.out_h * g.out_w);
        for (ci, yc) in y.chunks_exact_mut(n).enumerate() {
            let c = c0 + ci;
            let (xc, wc) = (&x[c * plane..][..plane], &w[c * taps..][..taps]);
            for r in runs {
                let (dst, src) = (&mut bufs.planes[r.dst..][..r.len], &xc[r.src..]);
                if flip_row(dst, src, sw) {
                    continue;
                }
                match sw {
                    1 => flip::<1>(dst, src),
                    2 => flip::<2>(dst, src),
                    _ => dst.iter_mut().zip(src.iter().step_by(sw)).for_each(|(d, &v)| *d = v as u8 ^ 0x80),
                }
            }
            let wsum = wc.iter().fold(0i32, |s, &v| s.wrapping_add(v as i32));
            let init = bias.map_or(0, |b| b[c]).wrapping_sub(wsum.wrapping_mul(128 + xz));
            bufs.weights.clear();
            bufs.weights.extend(quads.iter().map(|q| {
                let b = q.slots.map(|s| s.map_or(0, |i| wc[i] as u8));
                (q.off, i32::from_le_bytes(b))
            }));
            // The first `out_w` of every `wq`-wide row of the phase planes' outputs, straight into `yc`.
            if !depthwise_quads(&bufs.planes, &bufs.weights, init, yc, (g.out_w, wq)) {
                taps_portable(&bufs.planes, &bufs.weights, init, yc, (g.out_w, wq));
            }
        }
    }
}

/// `depthwise_quads`' sums one output and one quad slot at a time (where it cannot run: never on a CPU this
/// path is chosen for, kept so that the result never depends on it).
pub(super) fn taps_portable(
    planes: &[u8],
    quads: &[(usize, i32)],
    init: i32,
    out: &mut [i32],
    (width, pitch): (usize, usize),
) {
    for (r, row) in out.chunks_mut(width.max(1)).enumerate() {
        for (c, o) in row.iter_mut().enumerate() {
            let mut s = init;
            for &(off, w) in quads {
                for (t, wb) in w.to_le_bytes().into_iter().enumerate() {
                    let v = planes.get(off + r * pitch + c + t).map_or(0, |&b| b as i32);
                    s = s.wrapping_add(v * wb as i8 as i32);
                }
            }
            *o = s;
        }
    }
}

/// `dst[j] = src[j * S] ^ 0x80` (`dst` has at most `ceil(src.len() / S)` elements), in whole groups of `S`
/// so that the loop vectorizes.
#[inline(always)]
fn flip<const S: usize>(dst: &mut [u8], src: &[i8]) {
    let full = (src.len() / S).min(dst.len());
    let (head, tail) = dst.split_at_mut(full);
    for (d, c) in head.iter_mut().zip(src.chunks_exact(S)) {
        *d = c[0] as u8 ^ 0x80;
    }
    for (d, &v) in tail.iter_mut().zip(src[full * S..].iter().step_by(S)) {
        *d = v as u8 ^ 0x80;
    }
}
