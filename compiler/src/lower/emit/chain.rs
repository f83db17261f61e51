//! Depth-first fused chains of convolutions: the chain runs stripe by stripe on one tile, every layer's
//! weights resident in SRAM, and the intermediate activations never leave SRAM. Each stripe recomputes the
//! halo rows its deeper layers need (no line buffers), so stripes are independent and spread over the tiles.
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

/// One convolution of a chain, with the DRAM addresses of its operands.
pub struct ChainLayer<'a> {
    pub shape: WindowShape,
    pub conv: &'a Conv,
    pub act: Option<UnaryOp>,
    pub w: u64,
    pub b: u64,
    /// An output-shaped tensor added before the activation.
    pub residual: Option<u64>,
    /// The format of the input, weights, residual and output (biases are 4-byte f32 or i32).
    pub dtype: DType,
    /// int8: the requantization parameters (`numerics::QuantParams`).
    pub quant: Option<u64>,
    /// MACs per cycle of one tile in `dtype`.
    pub mac_rate: f64,
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

/// Bytes of the layer's requantization parameters (0 without).
fn quant_bytes(l: &ChainLayer) -> Option<u64> {
    match l.quant {
        Some(_) => QuantParams::bytes(l.shape.k as u64),
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

/// Per layer, the stripe that produces the rows the next layer reads, for last-layer output rows `[o0, o0+n)`.
fn stripes(layers: &[ChainLayer], o0: usize, n: usize) -> Vec<Stripe> {
    let (mut r0, mut rn) = (o0, n);
    let mut out = Vec::with_capacity(layers.len());
    for l in layers.iter().rev() {
        let st = window(l).stripe(r0, rn);
        (r0, rn) = (st.in_row0, st.in_rows);
        out.push(st);
    }
    out.reverse();
    out
}

/// SRAM buffers of one item: the chain input, then per layer its residual (if any) and its output.
fn item_buffers(layers: &[ChainLayer], st: &[Stripe]) -> Vec<u64> {
    let first = &layers[0].shape;
    let mut v = vec![(first.c * st[0].in_rows * first.w * elem(&layers[0])) as u64];
    for (l, s) in layers.iter().zip(st) {
        let block = (l.shape.k * s.out_rows * l.shape.ow * elem(l)) as u64;
        if l.residual.is_some() {
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
        SramAlloc::fits(cap, &item_buffers(layers, &stripes(layers, o0, n)))
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
    let items = oh.div_ceil(rows);
    let st = stripes(layers, (oh - rows) / 2, rows);
    // Cycles of one item: each member's MACs at its format's rate.
    let cycles_item: f64 = layers
        .iter()
        .zip(&st)
        .map(|(l, s)| {
            (l.shape.k * s.out_rows * l.shape.ow * (l.shape.c / l.conv.group) * l.conv.kernel[0] * l.conv.kernel[1])
                as f64
                / l.mac_rate.max(1.0)
        })
        .sum();
    let first = &layers[0].shape;
    let per_item_in = (first.c * st[0].in_rows * first.w * elem(&layers[0])) as f64
        + layers
            .iter()
            .zip(&st)
            .filter(|(l, _)| l.residual.is_some())
            .map(|(l, s)| (l.shape.k * s.out_rows * l.shape.ow * elem(l)) as f64)
            .sum::<f64>();
    let out = (last.shape.k * last.shape.oh * last.shape.ow * elem(last)) as f64;
    // Each busy tile loads the weights once (their bytes, not their aligned SRAM footprint).
    let mut weights = 0u64;
    for l in layers {
        weights += weight_bytes(l) + l.shape.k as u64 * 4 + quant_bytes(l)?;
    }
    let dram_bytes = items.min(b.tiles) as f64 * weights as f64 + items as f64 * per_item_in + out;
    let compute = items.div_ceil(b.tiles) as f64 * cycles_item;
    Some(ChainPlan { rows, cycles: compute.max(dram_bytes / b.dram_bytes_per_cycle) })
}

fn copy_rows(rows: usize, row_bytes: usize, planes: usize, plane_stride: usize) -> Copy3 {
    let run = (rows * row_bytes) as u32;
    Copy3 {
        len: run,
        n1: planes as u32,
        dram_stride1: plane_stride as u64,
        sram_stride1: run,
        n2: 1,
        dram_stride2: 0,
        sram_stride2: 0,
    }
}

/// The resident loads and the work items of a chain with stripes of `rows` output rows of the last layer.
pub fn emit_chain(
    name: &str,
    layers: &[ChainLayer],
    x: u64,
    y: u64,
    rows: usize,
    sram: u64,
) -> Result<(Resident, Vec<WorkItem>), LowerError> {
    let last = layers.last().ok_or_else(|| LowerError::layer(name, "empty chain"))?;
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
                resident.loads.extend(quant_loads(q, at, 0, l.shape.k));
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
    let first = &layers[0].shape;
    let mut items = Vec::new();
    for (o0, n) in chunks(last.shape.oh, rows) {
        let st = stripes(layers, o0, n);
        let mut alloc = SramAlloc::new(cap);
        let mut take =
            |bytes: u64| alloc.take(bytes).ok_or_else(|| LowerError::layer(name, "fused stripe does not fit SRAM"));
        let e0 = elem(&layers[0]);
        let input = take((first.c * st[0].in_rows * first.w * e0) as u64)?;
        let mut loads = vec![(
            input,
            DramAddr(x + (st[0].in_row0 * first.w * e0) as u64),
            copy_rows(st[0].in_rows, first.w * e0, first.c, first.h * first.w * e0),
        )];
        let mut compute = Vec::new();
        let mut src = input;
        for (j, (l, s)) in layers.iter().zip(&st).enumerate() {
            let (sh, e) = (&l.shape, elem(l));
            let block = (sh.k * s.out_rows * sh.ow * e) as u64;
            let residual = match l.residual {
                Some(r) => {
                    let at = take(block)?;
                    loads.push((
                        at,
                        DramAddr(r + (s.out_row0 * sh.ow * e) as u64),
                        copy_rows(s.out_rows, sh.ow * e, sh.k, sh.oh * sh.ow * e),
                    ));
                    SramAddr(at as u32)
                }
                None => SramAddr::NONE,
            };
            let out = take(block)?;
            let (w_off, b_off, q_off) = offsets[j];
            let bufs = ConvBuffers {
                input: SramAddr(src as u32),
                weights: SramAddr(RESIDENT + w_off as u32),
                bias: SramAddr(RESIDENT + b_off as u32),
                residual,
                quant: q_off.map_or(SramAddr::NONE, |q| SramAddr(RESIDENT + q as u32)),
                output: SramAddr(out as u32),
            };
            let block = ConvBlock { in_c: sh.c, in_w: sh.w, out_c: sh.k, out_w: sh.ow, groups: l.conv.group };
            compute.push(conv_command(l.conv, l.dtype, l.act, s, &block, bufs));
            src = out;
        }
        let (ls, e) = (&last.shape, elem(last));
        let stores =
            vec![(src, DramAddr(y + (o0 * ls.ow * e) as u64), copy_rows(n, ls.ow * e, ls.k, ls.oh * ls.ow * e))];
        items.push(WorkItem { loads, compute, stores });
    }
    Ok((resident, items))
}
