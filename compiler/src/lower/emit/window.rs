//! Work items of windowed operators (convolution, pooling): output-row stripes with input halos, times
//! output-channel chunks, sized to fit one SRAM buffer set.
use super::overlap::{overlapped_cycles, ItemCost, ResidentCost, Spread};
use super::{SramAlloc, WorkItem};
use crate::lower::error::LowerError;
use crate::lower::tiling::{chunks, RowWindow, Stripe};
use accel_ops::command::{Act, Command, Copy3, DramAddr, PoolFields, SramAddr};
use accel_ops::numerics::pool::PoolQuant;
use accel_ops::numerics::QuantParams;
use accel_ops::op::{Conv, Pool, UnaryOp};
use accel_ops::DType;

/// NCHW geometry of one windowed layer.
pub struct WindowShape {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub oh: usize,
    pub ow: usize,
}

/// Output-channel chunk sizes to try, largest first: whole groups (dividing the group count), then, for
/// groups too big for SRAM, pieces of one group (multiples of 8 where possible).
fn kc_candidates(k: usize, groups: usize) -> Vec<usize> {
    let kg = k / groups;
    let mut c: Vec<usize> = (1..=groups).rev().filter(|gc| groups % gc == 0).map(|gc| gc * kg).collect();
    c.extend((1..kg).rev().filter(|kc| kc % 8 == 0 || *kc < 8));
    c
}

/// One chunk of output channels: `[k0, k0+kn)` reading input channels `[c0, c0+nc)`, as a command with
/// `groups` groups.
struct ChannelChunk {
    k0: usize,
    kn: usize,
    c0: usize,
    nc: usize,
    groups: usize,
}

fn channel_chunks(s: &WindowShape, groups: usize, kc: usize) -> Vec<ChannelChunk> {
    let (kg, cg) = (s.k / groups, s.c / groups);
    if groups == 1 {
        return chunks(s.k, kc)
            .into_iter()
            .map(|(k0, kn)| ChannelChunk { k0, kn, c0: 0, nc: s.c, groups: 1 })
            .collect();
    }
    if kc >= kg {
        return chunks(s.k, kc)
            .into_iter()
            .map(|(k0, kn)| ChannelChunk { k0, kn, c0: k0 / kg * cg, nc: kn / kg * cg, groups: kn / kg })
            .collect();
    }
    (0..groups)
        .flat_map(|gi| {
            chunks(kg, kc).into_iter().map(move |(s0, sn)| ChannelChunk {
                k0: gi * kg + s0,
                kn: sn,
                c0: gi * cg,
                nc: cg,
                groups: 1,
            })
        })
        .collect()
}

/// Input channels a chunk of `kc` output channels reads.
fn in_channels(s: &WindowShape, groups: usize, kc: usize) -> usize {
    let (kg, cg) = (s.k / groups, s.c / groups);
    if groups == 1 {
        s.c
    } else if kc >= kg {
        kc / kg * cg
    } else {
        cg
    }
}

/// What a tiling choice has to work with: one SRAM buffer set, the tiles, and the rates that turn DRAM bytes
/// and MACs into cycles.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub cap: u64,
    pub tiles: usize,
    pub dram_bytes_per_cycle: f64,
    /// Per tile, of the unit that runs the operator.
    pub ops_per_cycle: f64,
    /// Cycles a DMA command holds its queue beyond its transfer (issue and DRAM latency).
    pub dma_latency: f64,
    /// Most bytes of a tile's SRAM that the resident operands of a fused chain of two or more layers may take
    /// (at least half of it; `lower::lower` tries more). Single layers keep to half (`chain::plan_chain`).
    pub chain_resident: u64,
}

/// Most row stripes per tile the planners try: more items hide more DMA behind compute, but each pays its DMA
/// latencies and re-reads its halo.
pub(super) const MAX_STRIPES_PER_TILE: usize = 8;

/// Picks the channel chunk and stripe height with the least estimated time (`overlap`: the busiest tile's
/// double-buffered items, at least the DRAM time; weights are reloaded once per stripe, inputs once per channel
/// chunk). `bytes` gives an item's SRAM buffers, all loaded but `bytes[output]`, which is stored.
fn choose(
    s: &WindowShape,
    groups: usize,
    b: &Budget,
    ops_total: f64,
    bytes: impl Fn(usize, usize) -> Vec<u64>,
    output: usize,
    traffic: impl Fn(usize, usize) -> f64,
) -> Option<(usize, usize, f64, f64)> {
    let candidates: Vec<usize> = if groups == 1 {
        (1..=s.k).rev().filter(|kc| *kc == s.k || kc % 8 == 0 || *kc < 8).collect()
    } else {
        kc_candidates(s.k, groups)
    };
    // (estimate, bytes moved, items, kc, rows) of every candidate.
    let mut all: Vec<(f64, f64, usize, usize, usize)> = Vec::new();
    for kc in candidates {
        if !SramAlloc::fits(b.cap, &bytes(kc, 1)) {
            continue;
        }
        // Fitting is monotone in the stripe height: binary search the tallest stripe.
        let (mut lo, mut hi) = (1, s.oh);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if SramAlloc::fits(b.cap, &bytes(kc, mid)) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let nchunks = channel_chunks(s, groups, kc).len();
        let mut heights: Vec<usize> =
            (1..=b.tiles * MAX_STRIPES_PER_TILE).map(|m| s.oh.div_ceil(m)).filter(|&r| r <= lo).collect();
        heights.push(lo);
        heights.sort_unstable();
        heights.dedup();
        for r in heights {
            let items = nchunks * s.oh.div_ceil(r) * s.n;
            let per_tile = items.div_ceil(b.tiles) as f64;
            // The busiest tile runs `per_tile` of the largest items: `kc` of the `k` output channels times `r`
            // of the `oh` rows of one image. Chunks and stripes may be uneven (952 + 8 channels), so an even
            // split of `ops_total` would hide a tile doing nearly all the work.
            let largest =
                ops_total / s.n as f64 * (kc.min(s.k) as f64 / s.k as f64) * (r.min(s.oh) as f64 / s.oh as f64);
            let bytes_moved = traffic(kc, r);
            let buffers = bytes(kc, r);
            let stored = buffers.get(output).copied().unwrap_or(0) as f64;
            let item = ItemCost {
                load_bytes: buffers.iter().sum::<u64>() as f64 - stored,
                loads: buffers.len().saturating_sub(1),
                store_bytes: stored,
                stores: 1,
                compute: largest / b.ops_per_cycle,
            };
            let spread = Spread { active: items.min(b.tiles), phases: 1, items: per_tile as usize };
            let t = overlapped_cycles(b, spread, ResidentCost { bytes: 0.0, loads: 0 }, item, bytes_moved);
            all.push((t, bytes_moved, items, kc, r));
        }
    }
    // Within 2% of the fastest, fewer items win (each pays per-command costs the estimate leaves out), then less
    // traffic, then the faster.
    let fastest = all.iter().map(|c| c.0).fold(f64::INFINITY, f64::min);
    all.into_iter()
        .filter(|c| c.0 <= fastest * 1.02)
        .min_by(|a, b| a.2.cmp(&b.2).then(a.1.total_cmp(&b.1)).then(a.0.total_cmp(&b.0)))
        .map(|(t, bytes, _, kc, r)| (kc, r, t, bytes))
}

/// DRAM addresses of a convolution's operands: input, weights, bias, the optional residual (output-shaped,
/// added before the activation) and the output; the element type of input, weights, residual and output (bias
/// elements are 4 bytes: f32, or i32 for i8), and for i8 the `quant` operand (`numerics::QuantParams`).
pub struct ConvIo {
    pub x: u64,
    pub w: u64,
    pub b: u64,
    pub residual: Option<u64>,
    pub y: u64,
    pub dtype: DType,
    pub quant: Option<u64>,
    /// int8 with an activation: `quant` carries its lookup table after the header (`numerics::table`).
    pub table: bool,
}

/// Loads of the `quant` operand for output channels `k0..k0+kn` into SRAM at `at`: the header and the
/// activation's lookup table when the layer has one (`table`), then the channels' (multiplier, shift) pairs
/// right after them.
pub fn quant_loads(quant: u64, at: u64, k0: usize, kn: usize, table: bool) -> Vec<(u64, DramAddr, Copy3)> {
    let prefix = QuantParams::prefix_bytes(table);
    vec![
        (at, DramAddr(quant), Copy3::contiguous(prefix as u32)),
        (at + prefix, DramAddr(quant + prefix + k0 as u64 * 8), Copy3::contiguous(kn as u32 * 8)),
    ]
}

/// Estimated cycles of a convolution with streamed weights (the best tiling), for fusion decisions; `e` bytes
/// per element of activations and weights (biases are 4 bytes).
pub fn conv_estimate(s: &WindowShape, conv: &Conv, e: usize, budget: &Budget) -> Option<f64> {
    let g = conv.group;
    let cg = s.c / g;
    let [kh, kw] = conv.kernel;
    let win = RowWindow {
        in_h: s.h,
        kernel: kh,
        stride: conv.strides[0],
        dilation: conv.dilations[0],
        pad_top: conv.pads[0],
    };
    let bytes = |kc: usize, r: usize| {
        vec![
            (in_channels(s, g, kc) * win.rows_for(r) * s.w * e) as u64,
            (kc * cg * kh * kw * e) as u64,
            kc as u64 * 4,
            (kc * r * s.ow * e) as u64,
        ]
    };
    let macs = (s.n * s.k * s.oh * s.ow * cg * kh * kw) as f64;
    let w_total = (s.k * cg * kh * kw * e) as f64;
    let out_total = (s.n * s.k * s.oh * s.ow * e) as f64;
    let traffic = |kc: usize, r: usize| {
        let stripes = s.oh.div_ceil(r) as f64;
        let chunks = channel_chunks(s, g, kc).len() as f64;
        out_total
            + s.n as f64
                * (stripes * w_total + chunks * stripes * (in_channels(s, g, kc) * win.rows_for(r) * s.w * e) as f64)
    };
    choose(s, g, budget, macs, bytes, 3, traffic).map(|(_, _, t, _)| t)
}

/// SRAM buffer sizes of one streamed convolution item with `kc` output channels and `r` output rows: input
/// stripe, weights, bias, output, then the residual and int8 parameters when present.
fn conv_item_bytes(s: &WindowShape, conv: &Conv, io: &ConvIo, kc: usize, r: usize) -> Vec<u64> {
    let g = conv.group;
    let [kh, kw] = conv.kernel;
    let rows = conv_window(s, conv).rows_for(r);
    let e = io.dtype.size() as u64;
    let mut v = vec![
        (in_channels(s, g, kc) * rows * s.w) as u64 * e,
        (kc * (s.c / g) * kh * kw) as u64 * e,
        kc as u64 * 4,
        (kc * r * s.ow) as u64 * e,
    ];
    // The residual block has the output block's shape `[kc, rows, OW]`.
    if io.residual.is_some() {
        v.push((kc * r * s.ow) as u64 * e);
    }
    if io.quant.is_some() {
        v.push(QuantParams::bytes(kc as u64, io.table).unwrap_or(u64::MAX));
    }
    v
}

fn conv_window(s: &WindowShape, conv: &Conv) -> RowWindow {
    RowWindow {
        in_h: s.h,
        kernel: conv.kernel[0],
        stride: conv.strides[0],
        dilation: conv.dilations[0],
        pad_top: conv.pads[0],
    }
}

/// The streamed tiling `emit_conv` uses: output-channel chunk, stripe height, estimated cycles and DRAM bytes
/// (weights reloaded with every stripe, the input once per channel chunk).
pub fn conv_stream_plan(
    s: &WindowShape,
    conv: &Conv,
    io: &ConvIo,
    budget: &Budget,
) -> Option<(usize, usize, f64, f64)> {
    let g = conv.group;
    let [kh, kw] = conv.kernel;
    let win = conv_window(s, conv);
    let e = io.dtype.size() as f64;
    let macs = (s.n * s.k * s.oh * s.ow * (s.c / g) * kh * kw) as f64;
    let w_total = (s.k * (s.c / g) * kh * kw) as f64 * e;
    let traffic = |kc: usize, r: usize| {
        let stripes = s.oh.div_ceil(r) as f64;
        let chunks = channel_chunks(s, g, kc).len() as f64;
        s.n as f64 * (stripes * w_total + chunks * stripes * (in_channels(s, g, kc) * win.rows_for(r) * s.w) as f64 * e)
    };
    choose(s, g, budget, macs, |kc, r| conv_item_bytes(s, conv, io, kc, r), 3, traffic)
}

/// Where one `mac.conv` block's operands sit in SRAM.
pub(super) struct ConvBuffers {
    pub input: SramAddr,
    /// Elements between the input's rows: its width when the input is a block of its own.
    pub in_row_pitch: usize,
    /// Rows between the input's planes: the stripe's input rows when the input is a block of its own.
    pub in_plane_rows: usize,
    pub weights: SramAddr,
    pub bias: SramAddr,
    pub residual: SramAddr,
    /// Elements between the residual's rows: the output's width when the residual is a block of its own.
    pub res_row_pitch: usize,
    /// Rows between the residual's planes: the output stripe's rows when the residual is a block of its own.
    pub res_plane_rows: usize,
    pub quant: SramAddr,
    pub output: SramAddr,
}

/// The channel and column extents of one `mac.conv` block (its rows come from the row stripe).
pub(super) struct ConvBlock {
    pub in_c: usize,
    pub out_c: usize,
    pub groups: usize,
    /// The block's columns: a `Stripe` along the width (input columns, output columns, left/right padding).
    pub cols: Stripe,
}

/// All of a layer's columns: input width `in_w`, output width `out_w`, the convolution's own left/right padding.
pub(super) fn full_cols(conv: &Conv, in_w: usize, out_w: usize) -> Stripe {
    Stripe { out_row0: 0, out_rows: out_w, in_row0: 0, in_rows: in_w, pad_top: conv.pads[1], pad_bottom: conv.pads[3] }
}

/// The `mac.conv` computing output stripe `st` of `conv` (streamed and weight-stationary schedules alike).
pub(super) fn conv_command(
    conv: &Conv,
    dtype: DType,
    act: Option<UnaryOp>,
    st: &Stripe,
    b: &ConvBlock,
    bufs: ConvBuffers,
) -> Command {
    Command::Conv {
        dtype,
        input: bufs.input,
        in_c: b.in_c as u32,
        in_h: st.in_rows as u32,
        in_w: b.cols.in_rows as u32,
        in_row_pitch: bufs.in_row_pitch as u32,
        in_plane_rows: bufs.in_plane_rows as u32,
        weights: bufs.weights,
        bias: bufs.bias,
        residual: bufs.residual,
        res_row_pitch: if bufs.residual.is_none() { 0 } else { bufs.res_row_pitch as u32 },
        res_plane_rows: if bufs.residual.is_none() { 0 } else { bufs.res_plane_rows as u32 },
        quant: bufs.quant,
        output: bufs.output,
        out_c: b.out_c as u32,
        out_h: st.out_rows as u32,
        out_w: b.cols.out_rows as u32,
        kernel_h: conv.kernel[0] as u16,
        kernel_w: conv.kernel[1] as u16,
        stride_h: conv.strides[0] as u16,
        stride_w: conv.strides[1] as u16,
        dilation_h: conv.dilations[0] as u16,
        dilation_w: conv.dilations[1] as u16,
        pad_top: st.pad_top as u16,
        pad_left: b.cols.pad_top as u16,
        pad_bottom: st.pad_bottom as u16,
        pad_right: b.cols.pad_bottom as u16,
        groups: b.groups as u32,
        act: Act(act),
    }
}

/// Convolution items for one layer.
pub fn emit_conv(
    layer: &str,
    s: &WindowShape,
    conv: &Conv,
    act: Option<UnaryOp>,
    io: &ConvIo,
    budget: &Budget,
) -> Result<Vec<WorkItem>, LowerError> {
    let cap = budget.cap;
    let (x, wts, bias, y) = (io.x, io.w, io.b, io.y);
    let g = conv.group;
    let cg = s.c / g;
    let [kh, kw] = conv.kernel;
    let win = conv_window(s, conv);
    let e = io.dtype.size() as u64;
    let bytes = |kc: usize, r: usize| conv_item_bytes(s, conv, io, kc, r);
    let (kc, r, _, _) = conv_stream_plan(s, conv, io, budget).ok_or_else(|| {
        LowerError::layer(layer, format!("even one output row of one channel group does not fit {cap} bytes of SRAM"))
    })?;
    let mut items = Vec::new();
    for b in 0..s.n {
        for (o0, rows) in chunks(s.oh, r) {
            let st = win.stripe(o0, rows);
            for ch in channel_chunks(s, g, kc) {
                let ChannelChunk { k0, kn, c0, nc, groups } = ch;
                let mut a = SramAlloc::new(cap);
                let sizes = bytes(kn, rows);
                let take =
                    |a: &mut SramAlloc, n: u64| a.take(n).ok_or_else(|| LowerError::layer(layer, "sram plan overflow"));
                let (si, sw, sb, so) = (
                    take(&mut a, sizes[0])?,
                    take(&mut a, sizes[1])?,
                    take(&mut a, sizes[2])?,
                    take(&mut a, sizes[3])?,
                );
                let sr = match io.residual {
                    Some(_) => Some(take(&mut a, sizes[4])?),
                    None => None,
                };
                let sq = match io.quant {
                    Some(_) => Some(take(&mut a, sizes[sizes.len() - 1])?),
                    None => None,
                };
                let plane = (s.h * s.w) as u64 * e;
                let in_addr = x + ((b * s.c + c0) * s.h * s.w + st.in_row0 * s.w) as u64 * e;
                let in_run = (st.in_rows * s.w) as u32 * e as u32;
                let wsz = (cg * kh * kw) as u64 * e;
                let mut loads = vec![
                    (
                        si,
                        DramAddr(in_addr),
                        Copy3 {
                            len: in_run,
                            n1: nc as u32,
                            dram_stride1: plane,
                            sram_stride1: in_run,
                            n2: 1,
                            dram_stride2: 0,
                            sram_stride2: 0,
                        },
                    ),
                    (sw, DramAddr(wts + k0 as u64 * wsz), Copy3::contiguous((kn as u64 * wsz) as u32)),
                    (sb, DramAddr(bias + k0 as u64 * 4), Copy3::contiguous(kn as u32 * 4)),
                ];
                let out_run = (rows * s.ow) as u32 * e as u32;
                let out_offset = ((b * s.k + k0) * s.oh * s.ow + o0 * s.ow) as u64 * e;
                let out_copy = Copy3 {
                    len: out_run,
                    n1: kn as u32,
                    dram_stride1: (s.oh * s.ow) as u64 * e,
                    sram_stride1: out_run,
                    n2: 1,
                    dram_stride2: 0,
                    sram_stride2: 0,
                };
                // The residual block is read exactly where the output block will be written, from its own tensor.
                if let (Some(sr), Some(r)) = (sr, io.residual) {
                    loads.push((sr, DramAddr(r + out_offset), out_copy));
                }
                if let (Some(sq), Some(q)) = (sq, io.quant) {
                    loads.extend(quant_loads(q, sq, k0, kn, io.table));
                }
                let bufs = ConvBuffers {
                    input: SramAddr(si as u32),
                    in_row_pitch: s.w,
                    in_plane_rows: st.in_rows,
                    weights: SramAddr(sw as u32),
                    bias: SramAddr(sb as u32),
                    residual: sr.map_or(SramAddr::NONE, |r| SramAddr(r as u32)),
                    res_row_pitch: s.ow,
                    res_plane_rows: st.out_rows,
                    quant: sq.map_or(SramAddr::NONE, |q| SramAddr(q as u32)),
                    output: SramAddr(so as u32),
                };
                let block = ConvBlock { in_c: nc, out_c: kn, groups, cols: full_cols(conv, s.w, s.ow) };
                let compute = conv_command(conv, io.dtype, act, &st, &block, bufs);
                let stores = vec![(so, DramAddr(y + out_offset), out_copy)];
                items.push(WorkItem { loads, compute: vec![compute], stores });
            }
        }
    }
    Ok(items)
}

/// A pool's DRAM operands and, for int8, its requantization.
pub struct PoolIo {
    pub x: u64,
    pub y: u64,
    pub quant: Option<PoolQuant>,
}

/// Pooling items: like a depthwise convolution without weights. f32 blocks run `vec.pool`, int8 blocks
/// `vec.pool.i8` (a quarter of the bytes).
pub fn emit_pool(
    layer: &str,
    s: &WindowShape,
    pool: &Pool,
    io: &PoolIo,
    budget: &Budget,
) -> Result<Vec<WorkItem>, LowerError> {
    let cap = budget.cap;
    let e: usize = if io.quant.is_some() { 1 } else { 4 };
    let [kh, kw] = pool.kernel;
    let win = RowWindow { in_h: s.h, kernel: kh, stride: pool.strides[0], dilation: 1, pad_top: pool.pads[0] };
    let bytes = |cc: usize, r: usize| vec![(cc * win.rows_for(r) * s.w * e) as u64, (cc * r * s.ow * e) as u64];
    let ops = (s.n * s.c * s.oh * s.ow * kh * kw) as f64;
    let traffic =
        |cc: usize, r: usize| (s.n * s.c.div_ceil(cc) * s.oh.div_ceil(r) * cc * win.rows_for(r) * s.w * e) as f64;
    let (cc, r, _, _) = choose(s, s.c, budget, ops, bytes, 1, traffic)
        .ok_or_else(|| LowerError::layer(layer, format!("one pooled row does not fit {cap} bytes of SRAM")))?;
    let mut items = Vec::new();
    for b in 0..s.n {
        for (o0, rows) in chunks(s.oh, r) {
            let st = win.stripe(o0, rows);
            for (c0, nc) in chunks(s.c, cc) {
                let sizes = bytes(nc, rows);
                let mut a = SramAlloc::new(cap);
                let (si, so) = match (a.take(sizes[0]), a.take(sizes[1])) {
                    (Some(i), Some(o)) => (i, o),
                    _ => return Err(LowerError::layer(layer, "sram plan overflow")),
                };
                let in_run = (st.in_rows * s.w * e) as u32;
                let in_addr = io.x + ((b * s.c + c0) * s.h * s.w + st.in_row0 * s.w) as u64 * e as u64;
                let loads = vec![(
                    si,
                    DramAddr(in_addr),
                    Copy3 {
                        len: in_run,
                        n1: nc as u32,
                        dram_stride1: (s.h * s.w * e) as u64,
                        sram_stride1: in_run,
                        n2: 1,
                        dram_stride2: 0,
                        sram_stride2: 0,
                    },
                )];
                let compute = PoolFields {
                    kind: pool.kind,
                    src: SramAddr(si as u32),
                    dst: SramAddr(so as u32),
                    c: nc as u32,
                    in_h: st.in_rows as u32,
                    in_w: s.w as u32,
                    out_h: rows as u32,
                    out_w: s.ow as u32,
                    kernel: [kh as u16, kw as u16],
                    stride: [pool.strides[0] as u16, pool.strides[1] as u16],
                    pads: [st.pad_top as u16, pool.pads[1] as u16, st.pad_bottom as u16, pool.pads[3] as u16],
                    quant: io.quant,
                }
                .command();
                let out_run = (rows * s.ow * e) as u32;
                let out_addr = io.y + ((b * s.c + c0) * s.oh * s.ow + o0 * s.ow) as u64 * e as u64;
                let stores = vec![(
                    so,
                    DramAddr(out_addr),
                    Copy3 {
                        len: out_run,
                        n1: nc as u32,
                        dram_stride1: (s.oh * s.ow * e) as u64,
                        sram_stride1: out_run,
                        n2: 1,
                        dram_stride2: 0,
                        sram_stride2: 0,
                    },
                )];
                items.push(WorkItem { loads, compute: vec![compute], stores });
            }
        }
    }
    Ok(items)
}

/// Builds a `WindowShape` from NCHW input and output types.
pub trait WindowShapeExt {
    fn of(input: &accel_ops::TensorType, output: &accel_ops::TensorType) -> WindowShape;
}

impl WindowShapeExt for WindowShape {
    fn of(input: &accel_ops::TensorType, output: &accel_ops::TensorType) -> WindowShape {
        let i = input.shape.dims();
        let o = output.shape.dims();
        WindowShape { n: i[0], c: i[1], h: i[2], w: i[3], k: o[1], oh: o[2], ow: o[3] }
    }
}
