//! The data effect of one tile command on its tile's SRAM and on DRAM: DMA copies and the MAC and vector
//! kernels. f32 operands are viewed in place in SRAM (no copy when aligned), and the result is computed
//! straight into its SRAM range when that range overlaps no input; otherwise (in-place vector ops, odd
//! alignment, a big-endian host) operands go through per-thread scratch, with the same numbers. Timing is not
//! here (see `exec`), nor the order of commands (see `functional`). Sizes were verified; they are recomputed
//! with checked arithmetic anyway, and any mismatch is an error string, never a panic.
use super::conv::{conv_f32_lanes, ConvGeom, Lanes};
use super::dma::{Runs, Side};
use super::lazy::{dense_in_sram, Immutable, Lazy, Operands};
use super::matmul::{matmul_f32, MatMulGeom};
use super::memory::bytes;
use super::planes::PlaneWindow;
use super::pool_f32::{pool_f32, PoolGeom};
use super::scratch::MacScratch;
use super::vector::{affine_f32, binary_f32, unary_f32};
use accel_ops::command::{Command, Copy3, Space, SramAddr};
use accel_ops::DType;
use std::cell::RefCell;
use zerocopy::FromBytes;

/// Stores gathered while tiles run in parallel, applied to DRAM afterwards in submission order.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    data: Vec<u8>,
    entries: Vec<Parked>,
}

/// One gathered store: where its bytes go and which command it was (for errors).
#[derive(Debug, Clone, Copy)]
struct Parked {
    dram: u64,
    copy: Copy3,
    at: usize,
    tag: usize,
}

impl Outbox {
    pub(crate) fn bytes(&self) -> usize {
        self.data.len()
    }

    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.entries.clear();
    }

    /// Writes parked store `i` to DRAM; an error names its tag.
    fn write_entry(&self, i: usize, dram: &mut [u8]) -> Result<(), (usize, String)> {
        let Some(e) = self.entries.get(i) else { return Ok(()) };
        let to = Side::dram(&e.copy, e.dram);
        let runs = Runs::new(&e.copy, Side::packed(&e.copy, e.at as u64), self.data.len(), to, dram.len());
        runs.map(|r| r.copy(&self.data, dram)).map_err(|why| (e.tag, why))
    }
}

/// Writes every outbox's parked stores to DRAM and empties them; an error names the tag of a store that failed.
/// Stores whose DRAM hulls are disjoint are cut into disjoint slices and written in parallel. Otherwise (tiles
/// storing interleaved column or channel blocks of one tensor have overlapping hulls, and two stores may even
/// write the same bytes) they are written one at a time in submission order, so the last one submitted wins
/// as in sequential order; a store that would leave DRAM stops the writing there and is reported.
pub(crate) fn drain_outboxes(outboxes: &mut [Outbox], dram: &mut [u8]) -> Result<(), (usize, String)> {
    use rayon::prelude::*;
    // (first byte, end, outbox, entry) of every parked store's DRAM hull.
    let mut spans: Vec<(u64, u64, usize, usize)> = Vec::new();
    for (b, o) in outboxes.iter().enumerate() {
        for (i, e) in o.entries.iter().enumerate() {
            let c = e.copy;
            let last = (c.n2 as u64).saturating_sub(1).checked_mul(c.dram_stride2).and_then(|a| {
                a.checked_add((c.n1 as u64).saturating_sub(1).checked_mul(c.dram_stride1)?)?.checked_add(c.len as u64)
            });
            match last.and_then(|l| e.dram.checked_add(l)) {
                Some(end) if c.len > 0 && c.n1 > 0 && c.n2 > 0 => spans.push((e.dram, end, b, i)),
                Some(_) => {}
                None => spans.push((u64::MAX, u64::MAX, b, i)),
            }
        }
    }
    spans.sort_unstable();
    let disjoint = spans.windows(2).all(|w| w[0].1 <= w[1].0);
    let inside = spans.last().is_none_or(|s| s.1 <= dram.len() as u64);
    if !(disjoint && inside) || rayon::current_num_threads() == 1 {
        let mut order: Vec<(usize, usize, usize)> =
            spans.iter().map(|&(_, _, b, i)| (outboxes[b].entries[i].tag, b, i)).collect();
        order.sort_unstable();
        let written = order.iter().try_for_each(|&(_, b, i)| outboxes[b].write_entry(i, dram));
        outboxes.iter_mut().for_each(Outbox::clear);
        return written;
    }
    // Cut DRAM into one slice per span, in address order.
    let mut slices = Vec::with_capacity(spans.len());
    let mut rest: &mut [u8] = dram;
    let mut at = 0u64;
    for &(lo, hi, b, i) in &spans {
        let (_, tail) = std::mem::take(&mut rest).split_at_mut((lo - at) as usize);
        let (mine, tail) = tail.split_at_mut((hi - lo) as usize);
        slices.push((mine, lo, b, i));
        rest = tail;
        at = hi;
    }
    let boxes: &[Outbox] = outboxes;
    let failed = slices
        .into_par_iter()
        .filter_map(|(mine, lo, b, i)| {
            let o = &boxes[b];
            let e = o.entries[i];
            let to = Side::dram(&e.copy, e.dram - lo);
            match Runs::new(&e.copy, Side::packed(&e.copy, e.at as u64), o.data.len(), to, mine.len()) {
                Ok(runs) => {
                    runs.copy(&o.data, mine);
                    None
                }
                Err(why) => Some((e.tag, why)),
            }
        })
        .min_by_key(|(tag, _)| *tag);
    outboxes.iter_mut().for_each(Outbox::clear);
    failed.map_or(Ok(()), Err)
}

/// How a tile command reaches DRAM: directly, or (tiles running in parallel) reading a shared DRAM and
/// parking stores in the tile's outbox. `tag` identifies the command in errors from a later drain.
pub(crate) enum Dram<'a> {
    Direct(&'a mut [u8]),
    Deferred { dram: &'a [u8], outbox: &'a mut Outbox, tag: usize },
}

impl Dram<'_> {
    fn read(&self) -> &[u8] {
        match self {
            Dram::Direct(d) => d,
            Dram::Deferred { dram, .. } => dram,
        }
    }
}

/// Copies a load's runs from DRAM into SRAM.
fn load(dram: &[u8], sram: &mut [u8], s: u64, d: u64, c: &Copy3) -> Result<(), String> {
    Runs::new(c, Side::dram(c, d), dram.len(), Side::sram(c, s), sram.len())?.copy(dram, sram);
    Ok(())
}

/// Copies a store's runs from SRAM into DRAM, or (tiles in parallel) parks them in the outbox, packed.
fn store(sram: &[u8], dram: &mut Dram<'_>, s: u64, d: u64, c: &Copy3) -> Result<(), String> {
    match dram {
        Dram::Direct(mem) => Runs::new(c, Side::sram(c, s), sram.len(), Side::dram(c, d), mem.len())?.copy(sram, mem),
        Dram::Deferred { dram, outbox, .. } => {
            let runs = Runs::new(c, Side::sram(c, s), sram.len(), Side::dram(c, d), dram.len())?;
            let len = runs.len;
            runs.for_each(|a, _| outbox.data.extend_from_slice(&sram[a..a + len]));
        }
    }
    Ok(())
}

/// What one tile's SRAM is known to hold: ranges filled by loads from immutable DRAM (the constants, when the
/// program never writes them) and untouched since, whether copied (`loads`) or still pending (`lazy`). A load
/// that would copy the same bytes to the same place again is skipped: the memories end exactly as if it ran.
#[derive(Debug, Default)]
pub(crate) struct Held {
    /// (SRAM start, SRAM end, DRAM address, copy) of each such copied load.
    loads: Vec<(u64, u64, u64, Copy3)>,
    pub(crate) lazy: Lazy,
    /// MAC scratch and packed weights, valid with `lazy`'s images.
    pub(crate) mac: MacScratch,
}

impl Held {
    fn forget(&mut self, start: u64, end: u64) {
        self.loads.retain(|&(s, e, _, _)| e <= start || s >= end);
    }
}

/// Whether `cmd` reads its SRAM operands through `Operands` and writes all of its SRAM output range.
fn reads_in_place(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Conv { .. }
            | Command::MatMul { .. }
            | Command::Unary { .. }
            | Command::Binary { .. }
            | Command::Pool { .. }
            | Command::Affine { .. }
    )
}

/// `apply`, skipping loads that `held` proves redundant and leaving loads from immutable DRAM pending (see
/// `lazy`); `fixed.end == 0`: nothing is known to be immutable, nothing is skipped or pending.
pub(crate) fn apply_tracked(
    dram: &mut Dram<'_>,
    sram: &mut [u8],
    cmd: &Command,
    held: &mut Held,
    fixed: Immutable,
) -> Result<(), String> {
    if let Command::Multicast { sram: s, dram: d, copy, .. } = cmd {
        // For each destination tile, exactly a load into its SRAM.
        return apply_tracked(dram, sram, &Command::Load { sram: *s, dram: *d, copy: *copy }, held, fixed);
    }
    if fixed.end == 0 {
        held.loads.clear();
        // Nothing pending: ranges are only recorded with immutable DRAM, and settled at the end of each run.
        return apply(dram, sram, cmd, &held.lazy, &mut held.mac);
    }
    let footprint = cmd.footprint().map_err(|e| e.why)?;
    if let Command::Load { sram: s, dram: d, copy } = cmd {
        let (Some(to), Some(from)) = (
            footprint.iter().find(|a| a.space == Space::Sram && a.write),
            footprint.iter().find(|a| a.space == Space::Dram),
        ) else {
            return Err("load without a footprint".into());
        };
        let stable = from.end() <= fixed.end;
        let same = |&(hs, _, hd, hc): &(u64, u64, u64, Copy3)| hs == addr(*s) && hd == d.0 && hc == *copy;
        if stable && (held.lazy.holds(to, d.0, copy) || held.loads.iter().any(same)) {
            return Ok(());
        }
        // Checked first: past this point the load cannot fail, so what `written` forgets is overwritten.
        bytes(dram.read(), from.start, from.len)?;
        bytes(sram, to.start, to.len)?;
        held.lazy.prepare(dram.read(), sram, &footprint, false, dense_in_sram(copy))?;
        held.lazy.written(&footprint)?;
        // Forgotten first: a load that fails half way leaves the range unknown.
        held.forget(to.start, to.end());
        if stable && held.lazy.record(dram.read(), to, d.0, copy, fixed.image_budget)? {
            return Ok(());
        }
        apply(dram, sram, cmd, &held.lazy, &mut held.mac)?;
        if stable {
            held.loads.push((to.start, to.end(), d.0, *copy));
        }
        return Ok(());
    }
    let in_place = reads_in_place(cmd);
    held.lazy.prepare(dram.read(), sram, &footprint, in_place, in_place)?;
    for w in footprint.iter().filter(|a| a.space == Space::Sram && a.write) {
        held.forget(w.start, w.end());
    }
    let result = apply(dram, sram, cmd, &held.lazy, &mut held.mac);
    held.lazy.written(&footprint)?;
    result
}

/// Applies `cmd` (held by a queue of the tile that owns `sram`), reading operands that `lazy` keeps pending
/// where their bytes are. Sync commands have no data effect; host calls are not tile commands.
pub(crate) fn apply(
    dram: &mut Dram<'_>,
    sram: &mut [u8],
    cmd: &Command,
    lazy: &Lazy,
    mac: &mut MacScratch,
) -> Result<(), String> {
    match cmd {
        Command::Load { sram: s, dram: d, copy } | Command::Multicast { sram: s, dram: d, copy, .. } => {
            load(dram.read(), sram, addr(*s), d.0, copy)
        }
        Command::Store { sram: s, dram: d, copy } => {
            if let Dram::Deferred { outbox, tag, .. } = dram {
                let (at, tag) = (outbox.data.len(), *tag);
                outbox.entries.push(Parked { dram: d.0, copy: *copy, at, tag });
            }
            store(sram, dram, addr(*s), d.0, copy)
        }
        Command::Conv { .. }
        | Command::MatMul { .. }
        | Command::Unary { .. }
        | Command::Binary { .. }
        | Command::Pool { .. }
        | Command::Affine { .. } => compute_cmd(sram, Operands { dram: dram.read(), lazy }, cmd, mac),
        Command::Convert { .. } => super::precision::convert_cmd(sram, cmd),
        Command::PoolI8 { .. } => super::pool_i8::pool_i8_cmd(sram, cmd),
        Command::HostCall { .. } => Err("host calls run through host_call".into()),
        Command::Signal { .. } | Command::Wait { .. } => Ok(()),
    }
}

/// The effect of a MAC or vector command (`reads_in_place`).
fn compute_cmd(sram: &mut [u8], ops: Operands<'_>, cmd: &Command, mac: &mut MacScratch) -> Result<(), String> {
    match cmd {
        Command::Conv {
            dtype,
            input,
            in_c,
            in_h,
            in_w,
            in_row_pitch,
            in_plane_rows,
            weights,
            bias,
            residual,
            res_row_pitch,
            res_plane_rows,
            quant: _,
            output,
            out_c,
            out_h,
            out_w,
            kernel_h,
            kernel_w,
            stride_h,
            stride_w,
            dilation_h,
            dilation_w,
            pad_top,
            pad_left,
            pad_bottom: _,
            pad_right: _,
            groups,
            act,
        } => {
            if *dtype != DType::F32 {
                return super::precision::mac(sram, ops, cmd, mac);
            }
            if *groups == 0 {
                return Err("groups must be >= 1".into());
            }
            let g = ConvGeom {
                in_c: *in_c as usize,
                in_h: *in_h as usize,
                in_w: *in_w as usize,
                out_c: *out_c as usize,
                out_h: *out_h as usize,
                out_w: *out_w as usize,
                kernel: [*kernel_h as usize, *kernel_w as usize],
                stride: [*stride_h as usize, *stride_w as usize],
                dilation: [*dilation_h as usize, *dilation_w as usize],
                pad: [*pad_top as usize, *pad_left as usize],
                groups: *groups as usize,
            };
            let out_len = n(&[*out_c, *out_h, *out_w])?;
            let f32s = |b: std::borrow::Cow<'_, [u8]>| -> Vec<f32> {
                b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
            };
            // A window of a taller block is gathered; a dense operand is read in place like the others.
            let x_window = PlaneWindow {
                planes: g.in_c,
                rows: g.in_h,
                apart: *in_plane_rows as usize,
                pitch: *in_row_pitch as usize,
                width: g.in_w,
                elem: 4,
            };
            let r_window = PlaneWindow {
                planes: g.out_c,
                rows: g.out_h,
                apart: *res_plane_rows as usize,
                pitch: *res_row_pitch as usize,
                width: g.out_w,
                elem: 4,
            };
            let x_gathered = match x_window.dense() {
                true => None,
                false => Some(f32s(x_window.read(ops, sram, addr(*input))?)),
            };
            let r_gathered = match residual.is_none() || r_window.dense() {
                true => None,
                false => Some(f32s(r_window.read(ops, sram, addr(*residual))?)),
            };
            let ins = [
                if x_gathered.is_some() { None } else { Some((addr(*input), n(&[*in_c, *in_h, *in_w])?)) },
                Some((addr(*weights), n(&[*out_c, *in_c / *groups, *kernel_h as u32, *kernel_w as u32])?)),
                optional(*bias, *out_c as usize),
                if r_gathered.is_some() { None } else { optional(*residual, out_len) },
            ];
            // Weights a lazy load holds are packed once per session for the channel-lane GEMM, if it would
            // take them.
            let w_len = n(&[*out_c, *in_c / *groups, *kernel_h as u32, *kernel_w as u32])?;
            let w_bytes = (w_len as u64).checked_mul(4).ok_or("size overflow")?;
            let origin = ops.origin(addr(*weights), w_bytes);
            let w_lazy = origin.and_then(|_| ops.pending(addr(*weights), w_bytes).ok().flatten());
            let lanes = w_lazy.and_then(|wb| mac.lane_weights(origin, &g, wb)).map_or(Lanes::None, Lanes::Auto);
            compute(sram, ops, ins, (addr(*output), out_len), |[x, w, b, r], y| {
                let x = x.or(x_gathered.as_deref()).unwrap_or(&[]);
                conv_f32_lanes(&g, x, w.unwrap_or(&[]), lanes, b, r.or(r_gathered.as_deref()), act.0, y)
            })
        }
        Command::MatMul { dtype, a, b, bias, quant: _, output, m: rows, k, n: cols, act } => {
            if *dtype != DType::F32 {
                return super::precision::mac(sram, ops, cmd, mac);
            }
            let g = MatMulGeom { m: *rows as usize, k: *k as usize, n: *cols as usize };
            let ins = [
                Some((addr(*a), n(&[*rows, *k])?)),
                Some((addr(*b), n(&[*k, *cols])?)),
                optional(*bias, *cols as usize),
            ];
            compute(sram, ops, ins, (addr(*output), n(&[*rows, *cols])?), |[a, b, bias], y| {
                matmul_f32(&g, a.unwrap_or(&[]), b.unwrap_or(&[]), bias, act.0, y)
            })
        }
        Command::Unary { func, src, dst, len } => {
            let f = func.0.ok_or("vec.unary without a function")?;
            let len = *len as usize;
            compute(sram, ops, [Some((addr(*src), len))], (addr(*dst), len), |[s], d| unary_f32(f, s.unwrap_or(&[]), d))
        }
        Command::Binary { op, a, b, dst, len, b_period, b_repeat } => {
            let (len, period) = (*len as usize, *b_period as usize);
            let ins = [Some((addr(*a), len)), Some((addr(*b), period))];
            compute(sram, ops, ins, (addr(*dst), len), |[a, b], d| {
                binary_f32(op.0, a.unwrap_or(&[]), b.unwrap_or(&[]), *b_repeat as usize, d)
            })
        }
        Command::Pool { .. } => {
            let p = cmd.pool_fields().ok_or("not a pool")?;
            let g = PoolGeom {
                c: p.c as usize,
                in_h: p.in_h as usize,
                in_w: p.in_w as usize,
                out_h: p.out_h as usize,
                out_w: p.out_w as usize,
                kernel: p.kernel.map(usize::from),
                stride: p.stride.map(usize::from),
                pads: p.pads.map(usize::from),
            };
            let ins = [Some((addr(p.src), n(&[p.c, p.in_h, p.in_w])?))];
            compute(sram, ops, ins, (addr(p.dst), n(&[p.c, p.out_h, p.out_w])?), |[s], d| {
                pool_f32(p.kind, &g, s.unwrap_or(&[]), d)
            })
        }
        Command::Affine { src, dst, params, c, inner } => {
            let len = n(&[*c, *inner])?;
            let ins = [Some((addr(*src), len)), Some((addr(*params), n(&[*c, 2])?))];
            compute(sram, ops, ins, (addr(*dst), len), |[s, p], d| {
                affine_f32(s.unwrap_or(&[]), p.unwrap_or(&[]), *c as usize, d)
            })
        }
        _ => Err(format!("{} is not a MAC or vector command", cmd.mnemonic())),
    }
}

fn n(parts: &[u32]) -> Result<usize, String> {
    parts.iter().try_fold(1usize, |a, &b| a.checked_mul(b as usize)).ok_or_else(|| "size overflow".into())
}

fn addr(a: SramAddr) -> u64 {
    a.0 as u64
}

fn optional(a: SramAddr, len: usize) -> Option<(u64, usize)> {
    (!a.is_none()).then_some((addr(a), len))
}

thread_local! {
    /// Operand copies for the slow path, reused on this thread (taken while in use).
    static SPARE: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// `bytes` as f32 in place: little-endian host and 4-byte aligned, else `None`.
fn view(bytes: &[u8]) -> Option<&[f32]> {
    if cfg!(target_endian = "little") {
        <[f32]>::ref_from_bytes(bytes).ok()
    } else {
        None
    }
}

fn view_mut(bytes: &mut [u8]) -> Option<&mut [f32]> {
    if cfg!(target_endian = "little") {
        <[f32]>::mut_from_bytes(bytes).ok()
    } else {
        None
    }
}

fn decode_into(src: &[u8], out: &mut Vec<f32>) {
    out.clear();
    out.extend(src.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])));
}

/// Byte range of `len` f32 at `a` inside a memory of `size` bytes.
fn span(a: u64, len: usize, size: usize) -> Result<std::ops::Range<usize>, String> {
    let bytes = (len as u64).checked_mul(4).ok_or("size overflow")?;
    match a.checked_add(bytes) {
        Some(end) if end <= size as u64 => Ok(a as usize..end as usize),
        _ => Err(format!("access of {bytes} bytes at s:{a:#x} is outside an SRAM of {size} bytes")),
    }
}

/// Runs `k` on f32 views of the inputs `ins` (absent ones are `None`) and of the output range `out`, all in
/// `sram` (inputs that a pending load holds are read where its bytes are): in place when the output overlaps
/// no SRAM input and everything is aligned, else through copies.
fn compute<const N: usize>(
    sram: &mut [u8],
    ops: Operands<'_>,
    ins: [Option<(u64, usize)>; N],
    out: (u64, usize),
    k: impl FnOnce([Option<&[f32]>; N], &mut [f32]) -> Result<(), String>,
) -> Result<(), String> {
    let size = sram.len();
    let o = span(out.0, out.1, size)?;
    // Each input is an SRAM range, or bytes elsewhere.
    let mut ranges = [const { None }; N];
    let mut elsewhere: [Option<&[u8]>; N] = [None; N];
    for ((r, e), i) in ranges.iter_mut().zip(elsewhere.iter_mut()).zip(&ins) {
        if let Some((a, len)) = *i {
            let bytes = (len as u64).checked_mul(4).ok_or("size overflow")?;
            match ops.pending(a, bytes)? {
                Some(b) => *e = Some(b),
                None => *r = Some(span(a, len, size)?),
            }
        }
    }
    let disjoint = ranges.iter().flatten().all(|r| r.end <= o.start || r.start >= o.end);
    if disjoint {
        let (lo, rest) = sram.split_at_mut(o.start);
        let (dst, hi) = rest.split_at_mut(o.end - o.start);
        let part = |r: &std::ops::Range<usize>| {
            if r.end <= lo.len() {
                &lo[r.clone()]
            } else {
                &hi[r.start - o.end..r.end - o.end]
            }
        };
        let views: [Option<Option<&[f32]>>; N] = std::array::from_fn(|i| match (&ranges[i], elsewhere[i]) {
            (Some(r), _) => Some(view(part(r))),
            (None, Some(b)) => Some(view(b)),
            (None, None) => None,
        });
        if let Some(y) = view_mut(dst) {
            if views.iter().all(|v| !matches!(v, Some(None))) {
                return k(views.map(|v| v.flatten()), y);
            }
        }
    }
    // The slow path: decode every operand, compute into scratch, encode the result.
    let mut spare = SPARE.with(|s| s.take());
    spare.resize_with(N + 1, Vec::new);
    let (outv, copies) = spare.split_last_mut().ok_or("no scratch")?;
    let mut present = [false; N];
    for (i, c) in copies.iter_mut().enumerate() {
        let from = match (&ranges[i], elsewhere[i]) {
            (Some(r), _) => &sram[r.clone()],
            (None, Some(b)) => b,
            (None, None) => continue,
        };
        decode_into(from, c);
        present[i] = true;
    }
    outv.clear();
    outv.resize(out.1, 0.0);
    let mut it = copies.iter();
    let views = present.map(|p| {
        let c = it.next();
        c.filter(|_| p).map(|c| c.as_slice())
    });
    let result = k(views, outv);
    if result.is_ok() {
        for (d, v) in sram[o].chunks_exact_mut(4).zip(outv.iter()) {
            d.copy_from_slice(&v.to_le_bytes());
        }
    }
    SPARE.with(|s| s.replace(spare));
    result
}

#[cfg(test)]
mod tests {
    use super::{drain_outboxes, Outbox, Parked};
    use accel_ops::command::Copy3;

    /// An outbox holding `stores` (DRAM address, copy), each with its own recognizable bytes.
    /// An outbox holding `stores` (DRAM address, copy, tag), their bytes derived from `seed`.
    fn outbox(stores: &[(u64, Copy3, usize)], seed: u8) -> Outbox {
        let mut o = Outbox::default();
        for (k, &(dram, copy, tag)) in stores.iter().enumerate() {
            let at = o.data.len();
            let n = copy.bytes().unwrap_or(0) as usize;
            o.data.extend((0..n).map(|i| seed.wrapping_add((i * 13 + k * 101) as u8)));
            o.entries.push(Parked { dram, copy, at, tag });
        }
        o
    }

    /// The sequential model: every store of every outbox written alone, in tag (submission) order.
    fn in_tag_order(boxes: &[Outbox], dram: &mut [u8]) {
        let mut order: Vec<(usize, usize, usize)> = boxes
            .iter()
            .enumerate()
            .flat_map(|(b, o)| o.entries.iter().enumerate().map(move |(i, e)| (e.tag, b, i)))
            .collect();
        order.sort_unstable();
        for (_, b, i) in order {
            boxes[b].write_entry(i, dram).expect("in DRAM");
        }
    }

    fn strided(len: u32, n1: u32, s1: u64) -> Copy3 {
        Copy3 { len, n1, dram_stride1: s1, sram_stride1: len, n2: 1, dram_stride2: 0, sram_stride2: 0 }
    }

    /// Drains write exactly what the stores written one by one in submission order write: disjoint strided and
    /// contiguous stores of two tiles interleaved in DRAM (written in parallel); stores whose hulls overlap
    /// but whose bytes do not (tiles storing interleaved column blocks); and stores of two tiles writing the
    /// same bytes, submitted alternately, where the last one submitted must win.
    #[test]
    fn outbox_drains_equal_the_submission_order() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
        type Stores = Vec<(u64, Copy3, usize)>;
        let cases: [(Stores, Stores); 4] = [
            (
                vec![(0, strided(4, 3, 16), 0), (200, Copy3::contiguous(37), 1)],
                vec![(64, Copy3::contiguous(20), 10), (90, strided(5, 4, 9), 11), (300, Copy3::contiguous(1), 12)],
            ),
            (vec![(10, Copy3::contiguous(40), 0)], vec![(30, Copy3::contiguous(40), 10)]),
            (vec![(0, strided(8, 10, 32), 0), (8, strided(8, 10, 32), 2)], vec![(16, strided(8, 10, 32), 1)]),
            (
                vec![(10, Copy3::contiguous(40), 0), (20, Copy3::contiguous(40), 2)],
                vec![(0, Copy3::contiguous(40), 1), (50, strided(4, 5, 7), 3)],
            ),
        ];
        for (a, b) in cases {
            let mut want = vec![0u8; 400];
            in_tag_order(&[outbox(&a, 1), outbox(&b, 77)], &mut want);
            for threads in [1, 2] {
                let pool1 = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
                let pool = if threads == 1 { &pool1 } else { &pool };
                let mut got = vec![0u8; 400];
                let mut boxes = [outbox(&a, 1), outbox(&b, 77)];
                pool.install(|| drain_outboxes(&mut boxes, &mut got)).expect("drain");
                assert_eq!(got, want, "{threads} threads: {a:?} / {b:?}");
                assert!(boxes.iter().all(|o| o.bytes() == 0));
            }
        }
    }

    /// A store past the end of DRAM is an error naming its command, never a panic.
    #[test]
    fn an_outbox_store_outside_dram_is_an_error() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
        let mut boxes = [outbox(&[(0, Copy3::contiguous(8), 0)], 1), outbox(&[(390, Copy3::contiguous(20), 5)], 2)];
        let mut dram = vec![0u8; 400];
        let r = pool.install(|| drain_outboxes(&mut boxes, &mut dram));
        assert_eq!(r.map_err(|(tag, _)| tag), Err(5));
    }
}
