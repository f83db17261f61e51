//! Depth-first fused chains of convolutions: the chain runs stripe by stripe on one tile, every layer's
//! weights resident in SRAM, and the intermediate activations never leave SRAM. Each stripe recomputes the
//! halo rows its deeper layers need (no line buffers), so stripes are independent and spread over the tiles.
//! A chain is a small graph, not only a line: a member may add as its residual a block the chain already holds
//! (the chain input or an earlier member's output, a window of that taller stripe), so residual blocks fuse
//! whole and chains run across them; a member whose output is also read outside the chain stores its rows too.
//! A chain of one layer is a weight-stationary convolution. Members compute in f32, bf16 or int8 (each in its own
//! format, as the precision pass chose; an int8 member keeps its requantization parameters resident too).
use super::window::{conv_command, quant_loads, ConvBlock, ConvBuffers};
use super::{set_bytes, Budget, Resident, SramAlloc, WindowShape, WorkItem, RESIDENT};
use crate::lower::error::LowerError;
use crate::lower::tiling::{align64, chunks, RowWindow, Stripe};
use accel_ops::command::{Copy3, DramAddr, SramAddr};
use accel_ops::numerics::QuantParams;
use accel_ops::op::{Conv, UnaryOp};
use accel_ops::DType;

/// Where a member reads a block the chain holds in SRAM: the chain's input, or an earlier member's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    Input,
    Member(usize),
}

/// A member's residual: a DRAM tensor loaded with each stripe, or a block the chain already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Residual {
    Dram(u64),
    Chain(Src),
}

/// How a member connects inside its chain (`fuse::wire` decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wiring {
    pub input: Src,
    /// A residual the chain holds (else the layer's own: from DRAM, or none).
    pub residual: Option<Src>,
    /// The output is also read outside the chain (or is the chain's result): its rows go to DRAM.
    pub stored: bool,
}

/// One convolution of a chain, with the DRAM addresses of its operands.
pub struct ChainLayer<'a> {
    pub shape: WindowShape,
    pub conv: &'a Conv,
    pub act: Option<UnaryOp>,
    pub w: u64,
    pub b: u64,
    /// The block read as the convolution's input.
    pub input: Src,
    /// An output-shaped tensor added before the activation.
    pub residual: Option<Residual>,
    /// The output's DRAM address, written when `stored` (the last member always is).
    pub y: u64,
    pub stored: bool,
    /// The format of the input, weights, residual and output (biases are 4-byte f32 or i32).
    pub dtype: DType,
    /// int8: the requantization parameters (`numerics::QuantParams`).
    pub quant: Option<u64>,
    /// MACs per cycle of one tile in `dtype`.
    pub mac_rate: f64,
}

impl ChainLayer<'_> {
    /// The layer connected as `w` says.
    pub fn wired(mut self, w: &Wiring) -> Self {
        self.input = w.input;
        if let Some(r) = w.residual {
            self.residual = Some(Residual::Chain(r));
        }
        self.stored = w.stored;
        self
    }
}

/// A chosen stripe height (output rows of the last layer) and its estimate.
#[derive(Debug, Clone, Copy)]
pub struct ChainPlan {
    pub rows: usize,
    pub cycles: f64,
}

fn window(l: &ChainLayer) -> RowWindow {
    RowWindow {
        in_h: l.shape.h,
        kernel: l.conv.kernel[0],
        stride: l.conv.strides[0],
        dilation: l.conv.dilations[0],
        pad_top: l.conv.pads[0],
    }
}

/// Bytes of one element of the layer's activations and weights.
fn elem(l: &ChainLayer) -> usize {
    l.dtype.size()
}

fn weight_bytes(l: &ChainLayer) -> u64 {
    (l.shape.k * (l.shape.c / l.conv.group) * l.conv.kernel[0] * l.conv.kernel[1] * elem(l)) as u64
}

/// Whether the layer's requantization parameters carry its activation's lookup table (int8 with an `act`).
fn has_table(l: &ChainLayer) -> bool {
    l.quant.is_some() && l.act.is_some()
}

/// Bytes of the layer's requantization parameters, with its lookup table if any (0 without).
fn quant_bytes(l: &ChainLayer) -> Option<u64> {
    match l.quant {
        Some(_) => QuantParams::bytes(l.shape.k as u64, has_table(l)),
        None => Some(0),
    }
}

/// Resident bytes: every layer's weights, bias and requantization parameters, each 64-byte aligned.
fn resident_bytes(layers: &[ChainLayer]) -> Option<u64> {
    layers.iter().try_fold(0u64, |sum, l| {
        let q = quant_bytes(l)?;
        sum.checked_add(align64(weight_bytes(l)) + align64(l.shape.k as u64 * 4) + align64(q))
    })
}

/// Rows `[start, end)` of a block.
type Rows = (usize, usize);

/// One work item's rows: each member's stripe (its output rows are the rows its block holds) and the rows of
/// the chain input's block.
struct ItemRows {
    st: Vec<Stripe>,
    input: Rows,
}

/// The rows each block holds for last-layer output rows `[o0, o0+n)`, walking back from the last member: the
/// hull of what its readers need (input windows and residual rows), each reader taking its window of it.
/// `None` when a member reads a block made after it.
fn item_rows(layers: &[ChainLayer], o0: usize, n: usize) -> Option<ItemRows> {
    let count = layers.len();
    // Per block (members, then the chain input last): the input window asked for, and residual rows.
    let mut as_input: Vec<Vec<Rows>> = vec![Vec::new(); count + 1];
    let mut as_residual: Vec<Vec<Rows>> = vec![Vec::new(); count + 1];
    let slot = |src: Src| match src {
        Src::Input => count,
        Src::Member(k) => k,
    };
    let mut st: Vec<Option<Stripe>> = vec![None; count];
    for m in (0..count).rev() {
        let l = &layers[m];
        let rows = if m + 1 == count { Some((o0, o0 + n)) } else { held(&as_input[m], &as_residual[m]) }?;
        let s = window(l).stripe(rows.0, rows.1.checked_sub(rows.0)?.max(1));
        let i = slot(l.input);
        if i < count && i >= m {
            return None;
        }
        as_input[i].push((s.in_row0, s.in_row0 + s.in_rows));
        if let Some(Residual::Chain(src)) = l.residual {
            let r = slot(src);
            if r < count && r >= m {
                return None;
            }
            as_residual[r].push(rows);
        }
        st[m] = Some(s);
    }
    let input = held(&as_input[count], &as_residual[count])?;
    Some(ItemRows { st: st.into_iter().collect::<Option<Vec<_>>>()?, input })
}

/// The rows a block holds: the hull of its readers' input windows and residual rows (`None`: no reader).
fn held(inputs: &[Rows], residuals: &[Rows]) -> Option<Rows> {
    let reads = || inputs.iter().chain(residuals);
    Some((reads().map(|r| r.0).min()?, reads().map(|r| r.1).max()?))
}

/// Per item (last-layer output rows `chunks(oh, rows)`), the rows it computes, and per member the rows of its
/// output that item stores (`None` if not stored). Stored rows partition the member's output: each item stores
/// what its stripe adds past the previous item's. `None` if some item's rows fail (`item_rows`) or a stored
/// output would have rows that no item computes.
fn all_items(layers: &[ChainLayer], rows: usize) -> Option<Vec<(ItemRows, Vec<Option<Rows>>)>> {
    let last = layers.last()?;
    let mut done = vec![0usize; layers.len()];
    let mut out = Vec::new();
    for (o0, n) in chunks(last.shape.oh, rows) {
        let r = item_rows(layers, o0, n)?;
        let mut stores = Vec::with_capacity(layers.len());
        for (m, l) in layers.iter().enumerate() {
            if !l.stored {
                stores.push(None);
                continue;
            }
            let s = r.st.get(m)?;
            let (lo, hi) = (s.out_row0, s.out_row0 + s.out_rows);
            if lo > done[m] {
                return None;
            }
            stores.push((hi > done[m]).then_some((done[m], hi)));
            done[m] = done[m].max(hi);
        }
        out.push((r, stores));
    }
    layers.iter().zip(&done).all(|(l, &d)| !l.stored || d == l.shape.oh).then_some(out)
}

/// SRAM buffers of one item: the chain input, then per layer its DRAM residual (if any) and its output.
fn item_buffers(layers: &[ChainLayer], r: &ItemRows) -> Vec<u64> {
    let first = &layers[0].shape;
    let mut v = vec![(first.c * (r.input.1 - r.input.0) * first.w * elem(&layers[0])) as u64];
    for (l, s) in layers.iter().zip(&r.st) {
        let block = (l.shape.k * s.out_rows * l.shape.ow * elem(l)) as u64;
        if matches!(l.residual, Some(Residual::Dram(_))) {
            v.push(block);
        }
        v.push(block);
    }
    v
}

/// Whether the chain can run and at which stripe height, with the estimated cycles and DRAM bytes.
pub fn plan_chain(layers: &[ChainLayer], sram: u64, b: &Budget) -> Option<ChainPlan> {
    let last = layers.last()?;
    if layers.iter().any(|l| l.shape.n != 1) {
        return None;
    }
    let resident = resident_bytes(layers)?;
    if resident > sram / 2 {
        return None;
    }
    let cap = set_bytes(sram, resident);
    let oh = last.shape.oh;
    // Interior stripes are the largest (no padding): size with a stripe in the middle.
    let fits = |n: usize| {
        let o0 = (oh - n) / 2;
        item_rows(layers, o0, n).is_some_and(|r| SramAlloc::fits(cap, &item_buffers(layers, &r)))
    };
    if !fits(1) {
        return None;
    }
    let (mut lo, mut hi) = (1, oh);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let rows = lo.min(oh.div_ceil(b.tiles)).max(1);
    let items = all_items(layers, rows)?;
    let count = items.len();
    let mut cycles_max = 0f64;
    let mut bytes_in = 0f64;
    for (r, _) in &items {
        // Cycles of one item: each member's MACs at its format's rate.
        let cycles: f64 = layers
            .iter()
            .zip(&r.st)
            .map(|(l, s)| {
                let (sh, c) = (&l.shape, l.conv);
                (sh.k * s.out_rows * sh.ow * (sh.c / c.group) * c.kernel[0] * c.kernel[1]) as f64 / l.mac_rate.max(1.0)
            })
            .sum();
        cycles_max = cycles_max.max(cycles);
        let first = &layers[0].shape;
        bytes_in += (first.c * (r.input.1 - r.input.0) * first.w * elem(&layers[0])) as f64;
        for (l, s) in layers.iter().zip(&r.st) {
            if matches!(l.residual, Some(Residual::Dram(_))) {
                bytes_in += (l.shape.k * s.out_rows * l.shape.ow * elem(l)) as f64;
            }
        }
    }
    let stored: f64 =
        layers.iter().filter(|l| l.stored).map(|l| (l.shape.k * l.shape.oh * l.shape.ow * elem(l)) as f64).sum();
    // Each busy tile loads the weights once (their bytes, not their aligned SRAM footprint).
    let mut weights = 0u64;
    for l in layers {
        weights += weight_bytes(l) + l.shape.k as u64 * 4 + quant_bytes(l)?;
    }
    let dram_bytes = count.min(b.tiles) as f64 * weights as f64 + bytes_in + stored;
    let compute = count.div_ceil(b.tiles) as f64 * cycles_max;
    Some(ChainPlan { rows, cycles: compute.max(dram_bytes / b.dram_bytes_per_cycle) })
}

/// A copy of `rows` rows of `row_bytes` from each of `planes` planes: `plane_stride` apart in DRAM,
/// `sram_plane` apart in SRAM.
fn copy_rows(rows: usize, row_bytes: usize, planes: usize, plane_stride: usize, sram_plane: usize) -> Copy3 {
    Copy3 {
        len: (rows * row_bytes) as u32,
        n1: planes as u32,
        dram_stride1: plane_stride as u64,
        sram_stride1: sram_plane as u32,
        n2: 1,
        dram_stride2: 0,
        sram_stride2: 0,
    }
}

/// The resident loads and the work items of a chain reading its input at DRAM `x`, with stripes of `rows`
/// output rows of the last layer.
pub fn emit_chain(
    name: &str,
    layers: &[ChainLayer],
    x: u64,
    rows: usize,
    sram: u64,
) -> Result<(Resident, Vec<WorkItem>), LowerError> {
    let mut resident = Resident::default();
    let mut offsets = Vec::new();
    let mut at = 0u64;
    for l in layers {
        let (wb, bb) = (weight_bytes(l), l.shape.k as u64 * 4);
        let weights_at = at;
        resident.loads.push((at, DramAddr(l.w), Copy3::contiguous(wb as u32)));
        let bias_at = at + align64(wb);
        resident.loads.push((bias_at, DramAddr(l.b), Copy3::contiguous(bb as u32)));
        at = bias_at + align64(bb);
        let quant_at = match l.quant {
            Some(q) => {
                let qb = quant_bytes(l).ok_or_else(|| LowerError::layer(name, "int8 parameters overflow"))?;
                resident.loads.extend(quant_loads(q, at, 0, l.shape.k, has_table(l)));
                let q_at = at;
                at += align64(qb);
                Some(q_at)
            }
            None => None,
        };
        offsets.push((weights_at, bias_at, quant_at));
    }
    resident.bytes = at;
    let cap = set_bytes(sram, resident.bytes);
    let first = layers.first().ok_or_else(|| LowerError::layer(name, "empty chain"))?;
    let (fs, e0) = (&first.shape, elem(first));
    let items = all_items(layers, rows)
        .ok_or_else(|| LowerError::layer(name, "internal: the chain's stripes do not cover its outputs"))?;
    let mut out = Vec::with_capacity(items.len());
    for (r, stored) in items {
        let mut alloc = SramAlloc::new(cap);
        let mut take =
            |bytes: u64| alloc.take(bytes).ok_or_else(|| LowerError::layer(name, "fused stripe does not fit SRAM"));
        let in_rows = r.input.1 - r.input.0;
        let input = take((fs.c * in_rows * fs.w * e0) as u64)?;
        let mut loads = vec![(
            input,
            DramAddr(x + (r.input.0 * fs.w * e0) as u64),
            copy_rows(in_rows, fs.w * e0, fs.c, fs.h * fs.w * e0, in_rows * fs.w * e0),
        )];
        // Each block's SRAM address and rows: the chain input, then the members' outputs as they are made.
        let mut blocks: Vec<(u64, Rows)> = Vec::with_capacity(layers.len());
        let block_of = |blocks: &[(u64, Rows)], src: Src| match src {
            Src::Input => Some((input, r.input)),
            Src::Member(k) => blocks.get(k).copied(),
        };
        let mut compute = Vec::new();
        let mut stores = Vec::new();
        for (j, (l, s)) in layers.iter().zip(&r.st).enumerate() {
            let (sh, e) = (&l.shape, elem(l));
            let row_bytes = sh.ow * e;
            let block = (sh.k * s.out_rows * row_bytes) as u64;
            let missing = || LowerError::layer(name, "internal: a chain member reads a block made after it");
            let (src, src_rows) = block_of(&blocks, l.input).ok_or_else(missing)?;
            let outside = || LowerError::layer(name, "internal: a window outside the block that holds it");
            let in_skip = (s.in_row0.checked_sub(src_rows.0).ok_or_else(outside)? * sh.w * e) as u64;
            let (residual, res_plane_rows) = match l.residual {
                Some(Residual::Dram(addr)) => {
                    let at = take(block)?;
                    let copy = copy_rows(s.out_rows, row_bytes, sh.k, sh.oh * row_bytes, s.out_rows * row_bytes);
                    loads.push((at, DramAddr(addr + (s.out_row0 * row_bytes) as u64), copy));
                    (SramAddr(at as u32), s.out_rows)
                }
                Some(Residual::Chain(from)) => {
                    let (at, held) = block_of(&blocks, from).ok_or_else(missing)?;
                    let skip = s.out_row0.checked_sub(held.0).ok_or_else(outside)? * row_bytes;
                    (SramAddr((at + skip as u64) as u32), held.1 - held.0)
                }
                None => (SramAddr::NONE, 0),
            };
            let y = take(block)?;
            let (w_off, b_off, q_off) = offsets[j];
            let bufs = ConvBuffers {
                input: SramAddr((src + in_skip) as u32),
                in_plane_rows: src_rows.1 - src_rows.0,
                weights: SramAddr(RESIDENT + w_off as u32),
                bias: SramAddr(RESIDENT + b_off as u32),
                residual,
                res_plane_rows,
                quant: q_off.map_or(SramAddr::NONE, |q| SramAddr(RESIDENT + q as u32)),
                output: SramAddr(y as u32),
            };
            let cb = ConvBlock { in_c: sh.c, in_w: sh.w, out_c: sh.k, out_w: sh.ow, groups: l.conv.group };
            compute.push(conv_command(l.conv, l.dtype, l.act, s, &cb, bufs));
            if let Some(Some((lo, hi))) = stored.get(j) {
                let before = || LowerError::layer(name, "internal: stored rows before the stripe");
                let skip = (lo.checked_sub(s.out_row0).ok_or_else(before)? * row_bytes) as u64;
                let copy = copy_rows(hi - lo, row_bytes, sh.k, sh.oh * row_bytes, s.out_rows * row_bytes);
                stores.push((y + skip, DramAddr(l.y + (lo * row_bytes) as u64), copy));
            }
            blocks.push((y, (s.out_row0, s.out_row0 + s.out_rows)));
        }
        out.push(WorkItem { loads, compute, stores });
    }
    Ok((resident, out))
}
