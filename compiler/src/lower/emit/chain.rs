//! Depth-first fused chains of convolutions: the chain runs stripe by stripe on one tile, every layer's
//! weights resident in SRAM, and the intermediate activations never leave SRAM. Each stripe recomputes the
//! halo rows its deeper layers need (no line buffers), so stripes are independent and spread over the tiles.
//! A chain is a small graph, not only a line: a member may add as its residual a block the chain already holds
//! (the chain input or an earlier member's output, a window of that taller stripe), so residual blocks fuse
//! whole and chains run across them; a member whose output is also read outside the chain stores its rows too.
//! A chain of one layer is a weight-stationary convolution. Members compute in f32, bf16 or int8 (each in its own
//! format, as the precision pass chose; an int8 member keeps its requantization parameters resident too).
use super::multicast::MIN_SHARED_BYTES;
use super::overlap::{layer_resident_loads, overlapped_cycles, ItemCost, ResidentCost, Spread};
use super::window::{conv_command, quant_loads, ConvBlock, ConvBuffers, MAX_STRIPES_PER_TILE};
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

/// A chosen tile (output rows and columns of the last layer) and its estimate.
#[derive(Debug, Clone, Copy)]
pub struct ChainPlan {
    pub rows: usize,
    pub cols: usize,
    pub cycles: f64,
}

/// The two spatial axes a chain tiles. They are independent: the rows a block holds depend only on the output
/// rows asked for, its columns only on the columns, so a tile is a row span times a column span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Axis {
    Rows,
    Cols,
}

/// The layer's window along `axis` (`RowWindow` serves columns too: its "rows" are then columns).
fn window(l: &ChainLayer, axis: Axis) -> RowWindow {
    let i = match axis {
        Axis::Rows => 0,
        Axis::Cols => 1,
    };
    let in_len = match axis {
        Axis::Rows => l.shape.h,
        Axis::Cols => l.shape.w,
    };
    RowWindow {
        in_h: in_len,
        kernel: l.conv.kernel[i],
        stride: l.conv.strides[i],
        dilation: l.conv.dilations[i],
        pad_top: l.conv.pads[i],
    }
}

/// The layer's output length along `axis`.
fn out_len(l: &ChainLayer, axis: Axis) -> usize {
    match axis {
        Axis::Rows => l.shape.oh,
        Axis::Cols => l.shape.ow,
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

/// Rows (or columns) `[start, end)` of a block.
type Rows = (usize, usize);

/// One work item's span along one axis: each member's stripe (its output rows are the rows its block holds)
/// and the rows of the chain input's block.
#[derive(Debug, Clone)]
struct ItemRows {
    st: Vec<Stripe>,
    input: Rows,
}

/// The rows (along `axis`) each block holds for last-layer output rows `[o0, o0+n)`, walking back from the
/// last member: the hull of what its readers need (input windows and residual rows), each reader taking its
/// window of it. `None` when a member reads a block made after it.
fn item_rows(layers: &[ChainLayer], axis: Axis, o0: usize, n: usize) -> Option<ItemRows> {
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
        let s = window(l, axis).stripe(rows.0, rows.1.checked_sub(rows.0)?.max(1));
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

/// Per span along `axis` (last-layer output rows `chunks(len, rows)`), the rows it computes, and per member the
/// rows of its output that span stores (`None` if not stored). Stored rows partition the member's output: each
/// span stores what its stripe adds past the previous span's. `None` if some span fails (`item_rows`) or a
/// stored output would have rows that no span computes. A work item is a row span times a column span; it
/// stores the product of the two spans' stored rows, so the stores of all items partition each output too.
fn all_items(layers: &[ChainLayer], axis: Axis, rows: usize) -> Option<Vec<(ItemRows, Vec<Option<Rows>>)>> {
    let last = layers.last()?;
    let mut done = vec![0usize; layers.len()];
    let mut out = Vec::new();
    for (o0, n) in chunks(out_len(last, axis), rows) {
        let r = item_rows(layers, axis, o0, n)?;
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
    layers.iter().zip(&done).all(|(l, &d)| !l.stored || d == out_len(l, axis)).then_some(out)
}

/// SRAM buffers of one item (rows `r` times columns `c`): the chain input, then per layer its DRAM residual
/// (if any) and its output.
fn item_buffers(layers: &[ChainLayer], r: &ItemRows, c: &ItemRows) -> Vec<u64> {
    let first = &layers[0].shape;
    let span = |x: Rows| x.1 - x.0;
    let mut v = vec![(first.c * span(r.input) * span(c.input) * elem(&layers[0])) as u64];
    for ((l, s), t) in layers.iter().zip(&r.st).zip(&c.st) {
        let block = (l.shape.k * s.out_rows * t.out_rows * elem(l)) as u64;
        if matches!(l.residual, Some(Residual::Dram(_))) {
            v.push(block);
        }
        v.push(block);
    }
    v
}

/// Narrowest column span a chain is cut into, in bytes of the last layer's output row: below one DRAM burst,
/// row-by-row DMAs waste the channel (the timing model does not charge short runs, so the planner must not
/// choose them).
const MIN_COL_BYTES: usize = 64;

/// Column spans to try: the full width, then halves, quarters, ... while a span keeps `MIN_COL_BYTES`.
fn col_candidates(last: &ChainLayer) -> Vec<usize> {
    let ow = last.shape.ow;
    let mut v = vec![ow];
    let mut parts = 2;
    while parts <= ow {
        let cols = ow.div_ceil(parts);
        if cols * elem(last) < MIN_COL_BYTES {
            break;
        }
        if v.last() != Some(&cols) {
            v.push(cols);
        }
        parts *= 2;
    }
    v
}

/// Whether the chain can run and with which tile (rows and columns of its last layer's output), with the
/// estimated cycles. Tries the full width first and narrower column spans after (halo columns are
/// recomputed like halo rows); keeps the fastest estimate, the widest among equals.
pub fn plan_chain(layers: &[ChainLayer], sram: u64, b: &Budget) -> Option<ChainPlan> {
    let last = layers.last()?;
    if layers.iter().any(|l| l.shape.n != 1) {
        return None;
    }
    let resident = resident_bytes(layers)?;
    // One layer keeps to half of SRAM so that the next layer's weights can prefetch beside it (`prefetch`).
    let limit = if layers.len() > 1 { b.chain_resident.max(sram / 2) } else { sram / 2 };
    if resident > limit {
        return None;
    }
    let cap = set_bytes(sram, resident);
    let mut best: Option<ChainPlan> = None;
    for cols in col_candidates(last) {
        let Some(p) = plan_with_cols(layers, cap, cols, b) else { continue };
        if best.is_none_or(|q| p.cycles < q.cycles) {
            best = Some(p);
        }
    }
    best
}

/// The largest of `spans` member by member (each member's widest stripe, the widest input): an upper bound of
/// every span's buffers, since each buffer grows with its member's stripe alone.
fn bound<'a>(mut spans: impl Iterator<Item = &'a ItemRows>) -> Option<ItemRows> {
    let mut b = spans.next()?.clone();
    for r in spans {
        for (m, s) in b.st.iter_mut().zip(&r.st) {
            m.out_rows = m.out_rows.max(s.out_rows);
        }
        if r.input.1 - r.input.0 > b.input.1 - b.input.0 {
            b.input = r.input;
        }
    }
    Some(b)
}

/// The tallest stripe that fits `cap` with column spans of `cols`, and its estimate.
fn plan_with_cols(layers: &[ChainLayer], cap: u64, cols: usize, b: &Budget) -> Option<ChainPlan> {
    let last = layers.last()?;
    let oh = last.shape.oh;
    let col_items = all_items(layers, Axis::Cols, cols)?;
    let cols_bound = bound(col_items.iter().map(|(c, _)| c))?;
    let fits_rows = |r: &ItemRows| SramAlloc::fits(cap, &item_buffers(layers, r, &cols_bound));
    // Sizing looks at the top, middle and bottom stripes (padding and stride phase make them differ); the chosen
    // height is then checked against every stripe.
    let fits = |n: usize| {
        [0, (oh - n) / 2, oh - n]
            .iter()
            .try_fold(true, |ok, &o0| Some(ok && fits_rows(&item_rows(layers, Axis::Rows, o0, n)?)))
            == Some(true)
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
    // Enough items for every tile: the column spans count towards it.
    let col_spans = col_items.len();
    let mut rows = lo.min(oh.div_ceil(b.tiles.div_ceil(col_spans).max(1))).max(1);
    let row_items = loop {
        let items = all_items(layers, Axis::Rows, rows)?;
        if fits_rows(&bound(items.iter().map(|(r, _)| r))?) {
            break items;
        }
        rows = rows.checked_sub(1).filter(|&r| r > 0)?;
    };
    let mut best = estimate(layers, &row_items, &col_items, b).map(|cycles| ChainPlan { rows, cols, cycles })?;
    // Shorter stripes: more items per tile, whose DMAs hide behind the previous item's compute (`overlap`), at
    // the price of more halo rows recomputed.
    let per_tile = (row_items.len() * col_spans).div_ceil(b.tiles).max(1);
    for more in 2..=MAX_STRIPES_PER_TILE.div_ceil(per_tile) {
        let r = rows.div_ceil(more);
        if r >= best.rows {
            continue;
        }
        let Some(items) = all_items(layers, Axis::Rows, r) else { continue };
        if !bound(items.iter().map(|(r, _)| r)).is_some_and(|bd| fits_rows(&bd)) {
            continue;
        }
        if let Some(cycles) = estimate(layers, &items, &col_items, b) {
            if cycles < best.cycles * 0.99 {
                best = ChainPlan { rows: r, cols, cycles };
            }
        }
    }
    Some(best)
}

/// Estimated cycles of a chain cut into `row_items` x `col_items` tiles (`overlap`).
fn estimate(
    layers: &[ChainLayer],
    row_items: &[(ItemRows, Vec<Option<Rows>>)],
    col_items: &[(ItemRows, Vec<Option<Rows>>)],
    b: &Budget,
) -> Option<f64> {
    let count = row_items.len() * col_items.len();
    let span = |x: Rows| x.1 - x.0;
    let widest = |items: &[(ItemRows, Vec<Option<Rows>>)], m: usize| {
        items.iter().filter_map(|(r, _)| r.st.get(m)).map(|s| s.out_rows).max().unwrap_or(0)
    };
    let total = |items: &[(ItemRows, Vec<Option<Rows>>)], m: usize| {
        items.iter().filter_map(|(r, _)| r.st.get(m)).map(|s| s.out_rows).sum::<usize>()
    };
    // Cycles of the largest item: each member's MACs at its format's rate.
    let cycles_max: f64 = layers
        .iter()
        .enumerate()
        .map(|(m, l)| {
            let (sh, c) = (&l.shape, l.conv);
            let px = widest(row_items, m) * widest(col_items, m);
            (sh.k * px * (sh.c / c.group) * c.kernel[0] * c.kernel[1]) as f64 / l.mac_rate.max(1.0)
        })
        .sum();
    // Loaded bytes over all items: a sum over rows times a sum over columns.
    let first = &layers[0].shape;
    let in_rows: usize = row_items.iter().map(|(r, _)| span(r.input)).sum();
    let in_cols: usize = col_items.iter().map(|(c, _)| span(c.input)).sum();
    let widest_input = |items: &[(ItemRows, Vec<Option<Rows>>)]| items.iter().map(|(r, _)| span(r.input)).max();
    let mut bytes_in = (first.c * in_rows * in_cols * elem(&layers[0])) as f64;
    let mut item_in = (first.c * widest_input(row_items)? * widest_input(col_items)? * elem(&layers[0])) as f64;
    let (mut item_loads, mut item_out, mut item_stores) = (1, 0.0, 0);
    for (m, l) in layers.iter().enumerate() {
        let block = (l.shape.k * widest(row_items, m) * widest(col_items, m) * elem(l)) as f64;
        if matches!(l.residual, Some(Residual::Dram(_))) {
            bytes_in += (l.shape.k * total(row_items, m) * total(col_items, m) * elem(l)) as f64;
            item_in += block;
            item_loads += 1;
        }
        if l.stored {
            item_out += block;
            item_stores += 1;
        }
    }
    let stored: f64 =
        layers.iter().filter(|l| l.stored).map(|l| (l.shape.k * l.shape.oh * l.shape.ow * elem(l)) as f64).sum();
    // The weights' bytes, not their aligned SRAM footprint.
    let mut weights = 0u64;
    let mut weight_loads = 0;
    for l in layers {
        weights += weight_bytes(l) + l.shape.k as u64 * 4 + quant_bytes(l)?;
        weight_loads += layer_resident_loads(l.quant.is_some());
    }
    let active = count.min(b.tiles);
    // With two or more busy tiles the first multicasts the weights (`multicast`): one read for all.
    let readers = if active >= 2 && weights >= MIN_SHARED_BYTES { 1 } else { active };
    let dram_bytes = readers as f64 * weights as f64 + bytes_in + stored;
    let item = ItemCost {
        load_bytes: item_in,
        loads: item_loads,
        store_bytes: item_out,
        stores: item_stores,
        compute: cycles_max,
    };
    let spread = Spread { active, phases: 1, items: count.div_ceil(b.tiles) };
    // The channel share a tile pays (`overlapped_cycles` charges bytes times the busy tiles).
    let resident = ResidentCost { bytes: weights as f64 * readers as f64 / active.max(1) as f64, loads: weight_loads };
    Some(overlapped_cycles(b, spread, resident, item, dram_bytes))
}

/// Where a window lies: planes of `plane_rows` rows, rows `pitch` elements apart.
#[derive(Debug, Clone, Copy)]
struct Layout {
    plane_rows: usize,
    pitch: usize,
}

/// A copy of a `planes x rows x cols` window of `e`-byte elements between DRAM (laid out as `dram`, from the
/// window's first element) and SRAM (laid out as `sram`). When both hold whole rows, each plane's rows move as
/// one run.
fn copy_window(planes: usize, rows: usize, cols: usize, dram: Layout, sram: Layout, e: usize) -> Copy3 {
    let plane = |l: Layout| l.plane_rows * l.pitch * e;
    if cols == dram.pitch && cols == sram.pitch {
        return Copy3 {
            len: (rows * cols * e) as u32,
            n1: planes as u32,
            dram_stride1: plane(dram) as u64,
            sram_stride1: plane(sram) as u32,
            n2: 1,
            dram_stride2: 0,
            sram_stride2: 0,
        };
    }
    Copy3 {
        len: (cols * e) as u32,
        n1: rows as u32,
        dram_stride1: (dram.pitch * e) as u64,
        sram_stride1: (sram.pitch * e) as u32,
        n2: planes as u32,
        dram_stride2: plane(dram) as u64,
        sram_stride2: plane(sram) as u32,
    }
}

/// A block the chain holds in SRAM: its address, and the rows and columns (of its tensor) it holds.
#[derive(Debug, Clone, Copy)]
struct Block {
    at: u64,
    rows: Rows,
    cols: Rows,
}

impl Block {
    /// Elements per row of the block (its row pitch).
    fn width(&self) -> usize {
        self.cols.1 - self.cols.0
    }

    fn layout(&self) -> Layout {
        Layout { plane_rows: self.rows.1 - self.rows.0, pitch: self.width() }
    }

    /// Byte offset of element (`row`, `col`) of plane 0, or `None` outside the block.
    fn offset(&self, row: usize, col: usize, e: usize) -> Option<u64> {
        let (r, c) = (row.checked_sub(self.rows.0)?, col.checked_sub(self.cols.0)?);
        Some(((r * self.width() + c) * e) as u64)
    }
}

/// The resident loads and the work items of a chain reading its input at DRAM `x`, with tiles of `rows` x `cols`
/// output elements of the last layer.
pub fn emit_chain(
    name: &str,
    layers: &[ChainLayer],
    x: u64,
    plan: (usize, usize),
    sram: u64,
) -> Result<(Resident, Vec<WorkItem>), LowerError> {
    let (rows, cols) = plan;
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
    let uncovered = || LowerError::layer(name, "internal: the chain's tiles do not cover its outputs");
    let row_items = all_items(layers, Axis::Rows, rows).ok_or_else(uncovered)?;
    let col_items = all_items(layers, Axis::Cols, cols).ok_or_else(uncovered)?;
    let mut out = Vec::with_capacity(row_items.len() * col_items.len());
    for (r, stored_rows) in &row_items {
        for (c, stored_cols) in &col_items {
            out.push(emit_item(name, layers, &offsets, cap, (x, fs, e0), (r, stored_rows), (c, stored_cols))?);
        }
    }
    Ok((resident, out))
}

/// One item's span along an axis, and per member the rows of its output the item stores.
type AxisSpan<'s> = (&'s ItemRows, &'s Vec<Option<Rows>>);

/// The loads, convolutions and stores of one tile: rows `r` times columns `c`.
fn emit_item(
    name: &str,
    layers: &[ChainLayer],
    offsets: &[(u64, u64, Option<u64>)],
    cap: u64,
    (x, fs, e0): (u64, &WindowShape, usize),
    (r, stored_rows): AxisSpan,
    (c, stored_cols): AxisSpan,
) -> Result<WorkItem, LowerError> {
    let span = |x: Rows| x.1 - x.0;
    let mut alloc = SramAlloc::new(cap);
    let mut take =
        |bytes: u64| alloc.take(bytes).ok_or_else(|| LowerError::layer(name, "fused stripe does not fit SRAM"));
    let input = Block { at: take((fs.c * span(r.input) * span(c.input) * e0) as u64)?, rows: r.input, cols: c.input };
    let mut loads = vec![(
        input.at,
        DramAddr(x + ((r.input.0 * fs.w + c.input.0) * e0) as u64),
        copy_window(fs.c, span(r.input), span(c.input), Layout { plane_rows: fs.h, pitch: fs.w }, input.layout(), e0),
    )];
    // Each block the chain holds: the chain input, then the members' outputs as they are made.
    let mut blocks: Vec<Block> = Vec::with_capacity(layers.len());
    let block_of = |blocks: &[Block], src: Src| match src {
        Src::Input => Some(input),
        Src::Member(k) => blocks.get(k).copied(),
    };
    let missing = || LowerError::layer(name, "internal: a chain member reads a block made after it");
    let outside = || LowerError::layer(name, "internal: a window outside the block that holds it");
    let mut compute = Vec::new();
    let mut stores = Vec::new();
    for (j, ((l, s), t)) in layers.iter().zip(&r.st).zip(&c.st).enumerate() {
        let (sh, e) = (&l.shape, elem(l));
        let out_block = (sh.k * s.out_rows * t.out_rows * e) as u64;
        let src = block_of(&blocks, l.input).ok_or_else(missing)?;
        let in_skip = src.offset(s.in_row0, t.in_row0, e).ok_or_else(outside)?;
        let (residual, res_row_pitch, res_plane_rows) = match l.residual {
            Some(Residual::Dram(addr)) => {
                let at = take(out_block)?;
                let dense = Layout { plane_rows: s.out_rows, pitch: t.out_rows };
                let copy =
                    copy_window(sh.k, s.out_rows, t.out_rows, Layout { plane_rows: sh.oh, pitch: sh.ow }, dense, e);
                loads.push((at, DramAddr(addr + ((s.out_row0 * sh.ow + t.out_row0) * e) as u64), copy));
                (SramAddr(at as u32), t.out_rows, s.out_rows)
            }
            Some(Residual::Chain(from)) => {
                let held = block_of(&blocks, from).ok_or_else(missing)?;
                let skip = held.offset(s.out_row0, t.out_row0, e).ok_or_else(outside)?;
                (SramAddr((held.at + skip) as u32), held.width(), span(held.rows))
            }
            None => (SramAddr::NONE, 0, 0),
        };
        let y = take(out_block)?;
        let (w_off, b_off, q_off) = offsets[j];
        let bufs = ConvBuffers {
            input: SramAddr((src.at + in_skip) as u32),
            in_row_pitch: src.width(),
            in_plane_rows: span(src.rows),
            weights: SramAddr(RESIDENT + w_off as u32),
            bias: SramAddr(RESIDENT + b_off as u32),
            residual,
            res_row_pitch,
            res_plane_rows,
            quant: q_off.map_or(SramAddr::NONE, |q| SramAddr(RESIDENT + q as u32)),
            output: SramAddr(y as u32),
        };
        let cb = ConvBlock { in_c: sh.c, out_c: sh.k, groups: l.conv.group, cols: *t };
        compute.push(conv_command(l.conv, l.dtype, l.act, s, &cb, bufs));
        let made =
            Block { at: y, rows: (s.out_row0, s.out_row0 + s.out_rows), cols: (t.out_row0, t.out_row0 + t.out_rows) };
        if let (Some(Some(rs)), Some(Some(cs))) = (stored_rows.get(j), stored_cols.get(j)) {
            let before = || LowerError::layer(name, "internal: stored rows before the stripe");
            let skip = made.offset(rs.0, cs.0, e).ok_or_else(before)?;
            let dram = Layout { plane_rows: sh.oh, pitch: sh.ow };
            let copy = copy_window(sh.k, span(*rs), span(*cs), dram, made.layout(), e);
            stores.push((y + skip, DramAddr(l.y + ((rs.0 * sh.ow + cs.0) * e) as u64), copy));
        }
        blocks.push(made);
    }
    Ok(WorkItem { loads, compute, stores })
}
