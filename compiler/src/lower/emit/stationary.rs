//! Convolutions that keep a chunk of output channels' weights resident per tile and stream every input
//! stripe through it, then take the next chunk. Streaming (`window.rs`) reloads the weights with every stripe;
//! for layers whose weights outweigh their activations (the deep layers of ResNet and YOLO, more so at high
//! resolution) this moves the weights through DRAM once and the input once per chunk instead.
use super::overlap::{double_buffered_cycles, layer_resident_loads, overlapped_cycles, ItemCost, ResidentCost, Spread};
use super::window::{conv_command, full_cols, quant_loads, ConvBlock, ConvBuffers, MAX_STRIPES_PER_TILE};
use super::{set_bytes, Budget, ConvIo, Resident, SramAlloc, WindowShape, WorkItem, RESIDENT};
use crate::lower::error::LowerError;
use crate::lower::tiling::{align64, chunks, RowWindow};
use accel_ops::command::{Copy3, DramAddr, SramAddr};
use accel_ops::numerics::QuantParams;
use accel_ops::op::{Conv, UnaryOp};

/// The chosen chunk of output channels, stripe height and their estimate.
#[derive(Debug, Clone, Copy)]
pub struct StationaryPlan {
    pub kc: usize,
    pub rows: usize,
    /// Bytes of one chunk's resident operands.
    pub resident: u64,
    /// A tile runs several chunks, alternating between two resident slots, so the next chunk's weights load
    /// while the current one computes (`Emitter::tile_layer_phased` waits only for the chunk before that).
    pub double: bool,
    pub cycles: f64,
    pub dram_bytes: f64,
}

/// One tile's share of a phased layer: per chunk, its resident weights and the items that use them.
pub type TilePhases = Vec<(Resident, Vec<WorkItem>)>;

fn window(s: &WindowShape, conv: &Conv) -> RowWindow {
    RowWindow {
        in_h: s.h,
        kernel: conv.kernel[0],
        stride: conv.strides[0],
        dilation: conv.dilations[0],
        pad_top: conv.pads[0],
    }
}

/// Where a chunk of `kc` output channels keeps its resident operands: weights at 0, then the bias, then (int8)
/// the requantization parameters, each 64-byte aligned.
struct ResidentLayout {
    bias_at: u64,
    quant_at: u64,
    bytes: u64,
}

fn resident_layout(s: &WindowShape, conv: &Conv, e: u64, kc: usize, io: &ConvIo) -> Option<ResidentLayout> {
    let w = (kc * s.c * conv.kernel[0] * conv.kernel[1]) as u64 * e;
    let bias_at = align64(w);
    let quant_at = bias_at + align64(kc as u64 * 4);
    let q = if io.quant.is_some() { align64(QuantParams::bytes(kc as u64, io.table)?) } else { 0 };
    Some(ResidentLayout { bias_at, quant_at, bytes: quant_at + q })
}

/// SRAM of one item: the input stripe, the output block and the residual block (if any).
fn item_bytes(s: &WindowShape, win: &RowWindow, e: u64, kc: usize, rows: usize, residual: bool) -> Vec<u64> {
    let block = (kc * rows * s.ow) as u64 * e;
    let mut v = vec![(s.c * win.rows_for(rows) * s.w) as u64 * e, block];
    if residual {
        v.push(block);
    }
    v
}

/// The best chunk and stripe height (least estimated time, then least traffic), or `None` when the layer is
/// not a dense single-image convolution or no chunk fits.
pub fn plan_stationary(s: &WindowShape, conv: &Conv, io: &ConvIo, sram: u64, b: &Budget) -> Option<StationaryPlan> {
    if s.n != 1 || conv.group != 1 || s.oh == 0 || s.k == 0 {
        return None;
    }
    let e = io.dtype.size() as u64;
    let win = window(s, conv);
    let [kh, kw] = conv.kernel;
    // Weights once; outputs and residuals are the same for every schedule and left out, as streaming does.
    let fixed = (s.k * s.c * kh * kw) as f64 * e as f64;
    let mut candidates = Vec::new();
    let mut last_kc = 0;
    for passes in 1..=s.k.div_ceil(b.tiles) {
        let kc = s.k.div_ceil(b.tiles * passes);
        if kc == last_kc {
            continue;
        }
        last_kc = kc;
        let Some(ResidentLayout { bytes: resident, .. }) = resident_layout(s, conv, e, kc, io) else {
            continue;
        };
        let phases = s.k.div_ceil(kc).div_ceil(b.tiles);
        let double = phases > 1;
        let region = if double { 2 * align64(resident) } else { resident };
        if region > sram / 2 {
            continue;
        }
        let cap = set_bytes(sram, region);
        let fits = |r: usize| SramAlloc::fits(cap, &item_bytes(s, &win, e, kc, r, io.residual.is_some()));
        if !fits(1) {
            continue;
        }
        let (mut lo, mut hi) = (1, s.oh);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if fits(mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let nchunks = s.k.div_ceil(kc);
        let outputs = (s.k * s.oh * s.ow) as f64 * e as f64 * if io.residual.is_some() { 2.0 } else { 1.0 };
        // The tallest stripe, and shorter ones that let DMA overlap compute (`overlap`).
        let mut heights: Vec<usize> =
            (1..=MAX_STRIPES_PER_TILE).map(|m| s.oh.div_ceil(m)).filter(|&r| r <= lo).collect();
        heights.push(lo);
        heights.sort_unstable();
        heights.dedup();
        for rows in heights {
            let stripes = chunks(s.oh, rows);
            let input: usize = stripes.iter().map(|&(o0, n)| win.stripe(o0, n).in_rows).sum();
            let dram = fixed + (nchunks * input * s.c * s.w) as f64 * e as f64;
            let tallest = stripes.iter().map(|&(o0, n)| win.stripe(o0, n).in_rows).max().unwrap_or(0);
            let block = (kc * rows * s.ow) as f64 * e as f64;
            let residual = if io.residual.is_some() { block } else { 0.0 };
            let item = ItemCost {
                load_bytes: (s.c * tallest * s.w) as f64 * e as f64 + residual,
                loads: 1 + usize::from(io.residual.is_some()),
                store_bytes: block,
                stores: 1,
                compute: (kc * rows * s.ow * s.c * kh * kw) as f64 / b.ops_per_cycle,
            };
            let spread = Spread { active: nchunks.min(b.tiles), phases, items: stripes.len() };
            let weights = ResidentCost { bytes: resident as f64, loads: layer_resident_loads(io.quant.is_some()) };
            let cycles = if double {
                double_buffered_cycles(b, spread, weights, item, dram + outputs)
            } else {
                overlapped_cycles(b, spread, weights, item, dram + outputs)
            };
            candidates.push(StationaryPlan { kc, rows, resident, double, cycles, dram_bytes: dram });
        }
    }
    // Within 2% of the fastest, less traffic wins (DRAM energy, and headroom the estimate does not see).
    let fastest = candidates.iter().map(|p| p.cycles).fold(f64::INFINITY, f64::min);
    candidates
        .into_iter()
        .filter(|p| p.cycles <= fastest * 1.02)
        .min_by(|a, b| a.dram_bytes.total_cmp(&b.dram_bytes).then(a.cycles.total_cmp(&b.cycles)))
}

/// Per tile, the phases of the layer: chunk `i` goes to tile `i % tiles`.
#[allow(clippy::too_many_arguments)]
pub fn emit_stationary(
    name: &str,
    s: &WindowShape,
    conv: &Conv,
    act: Option<UnaryOp>,
    io: &ConvIo,
    p: &StationaryPlan,
    sram: u64,
    tiles: usize,
) -> Result<Vec<TilePhases>, LowerError> {
    let e = io.dtype.size() as u64;
    let win = window(s, conv);
    let [kh, kw] = conv.kernel;
    let per_k = (s.c * kh * kw) as u64 * e;
    let layout =
        resident_layout(s, conv, e, p.kc, io).ok_or_else(|| LowerError::layer(name, "int8 parameters overflow"))?;
    let bias_at = layout.bias_at;
    let slot = align64(p.resident);
    let region = if p.double { 2 * slot } else { p.resident };
    let cap = set_bytes(sram, region);
    let plane_in = (s.h * s.w) as u64 * e;
    let plane_out = (s.oh * s.ow) as u64 * e;
    let mut out: Vec<TilePhases> = (0..tiles).map(|_| Vec::new()).collect();
    for (ci, (k0, kn)) in chunks(s.k, p.kc).into_iter().enumerate() {
        // Chunk `ci` is its tile's phase `ci / tiles`: with double buffering, odd phases use the second slot.
        let at = if p.double && (ci / tiles.max(1)) % 2 == 1 { slot } else { 0 };
        let mut resident = Resident {
            loads: vec![
                (at, DramAddr(io.w + k0 as u64 * per_k), Copy3::contiguous((kn as u64 * per_k) as u32)),
                (at + bias_at, DramAddr(io.b + k0 as u64 * 4), Copy3::contiguous(kn as u32 * 4)),
            ],
            bytes: region,
        };
        if let Some(q) = io.quant {
            resident.loads.extend(quant_loads(q, at + layout.quant_at, k0, kn, io.table));
        }
        let at = at as u32;
        let mut items = Vec::new();
        for (o0, rows) in chunks(s.oh, p.rows) {
            let st = win.stripe(o0, rows);
            let mut a = SramAlloc::new(cap);
            let sizes = item_bytes(s, &win, e, kn, rows, io.residual.is_some());
            let mut take =
                |n: u64| a.take(n).ok_or_else(|| LowerError::layer(name, "stationary stripe overflows SRAM"));
            let (si, so) = (take(sizes[0])?, take(sizes[1])?);
            let in_run = (st.in_rows * s.w) as u32 * e as u32;
            let mut loads = vec![(
                si,
                DramAddr(io.x + st.in_row0 as u64 * s.w as u64 * e),
                Copy3 {
                    len: in_run,
                    n1: s.c as u32,
                    dram_stride1: plane_in,
                    sram_stride1: in_run,
                    n2: 1,
                    dram_stride2: 0,
                    sram_stride2: 0,
                },
            )];
            let out_run = (rows * s.ow) as u32 * e as u32;
            let out_offset = k0 as u64 * plane_out + (o0 * s.ow) as u64 * e;
            let out_copy = Copy3 {
                len: out_run,
                n1: kn as u32,
                dram_stride1: plane_out,
                sram_stride1: out_run,
                n2: 1,
                dram_stride2: 0,
                sram_stride2: 0,
            };
            let residual = match io.residual {
                Some(r) => {
                    let at = take(sizes[2])?;
                    loads.push((at, DramAddr(r + out_offset), out_copy));
                    SramAddr(at as u32)
                }
                None => SramAddr::NONE,
            };
            let bufs = ConvBuffers {
                input: SramAddr(si as u32),
                in_row_pitch: s.w,
                in_plane_rows: st.in_rows,
                weights: SramAddr(RESIDENT + at),
                bias: SramAddr(RESIDENT + at + bias_at as u32),
                residual,
                res_row_pitch: s.ow,
                res_plane_rows: st.out_rows,
                quant: io.quant.map_or(SramAddr::NONE, |_| SramAddr(RESIDENT + at + layout.quant_at as u32)),
                output: SramAddr(so as u32),
            };
            let block = ConvBlock { in_c: s.c, out_c: kn, groups: 1, cols: full_cols(conv, s.w, s.ow) };
            let compute = conv_command(conv, io.dtype, act, &st, &block, bufs);
            let stores = vec![(so, DramAddr(io.y + out_offset), out_copy)];
            items.push(WorkItem { loads, compute: vec![compute], stores });
        }
        if let Some(t) = out.get_mut(ci % tiles.max(1)) {
            t.push((resident, items));
        }
    }
    Ok(out)
}
