//! Depth-first fused chains of convolutions: the chain runs stripe by stripe on one tile, every layer's
//! weights resident in SRAM, and the intermediate activations never leave SRAM. Each stripe recomputes the
//! halo rows its deeper layers need (no line buffers), so stripes are independent and spread over the tiles.
//! A chain of one layer is a weight-stationary convolution.
use super::{set_bytes, Budget, Resident, SramAlloc, WindowShape, WorkItem, RESIDENT};
use crate::lower::error::LowerError;
use crate::lower::tiling::{align64, chunks, RowWindow, Stripe};
use accel_ops::command::{Act, Command, Copy3, DramAddr, SramAddr};
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

fn weight_bytes(l: &ChainLayer) -> u64 {
    (l.shape.k * (l.shape.c / l.conv.group) * l.conv.kernel[0] * l.conv.kernel[1] * 4) as u64
}

/// Resident bytes: every layer's weights and bias, 64-byte aligned.
fn resident_bytes(layers: &[ChainLayer]) -> u64 {
    layers.iter().map(|l| align64(weight_bytes(l)) + align64(l.shape.k as u64 * 4)).sum()
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
    let mut v = vec![(first.c * st[0].in_rows * first.w * 4) as u64];
    for (l, s) in layers.iter().zip(st) {
        let block = (l.shape.k * s.out_rows * l.shape.ow * 4) as u64;
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
    let resident = resident_bytes(layers);
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
    let macs_item: f64 = layers
        .iter()
        .zip(&st)
        .map(|(l, s)| {
            (l.shape.k * s.out_rows * l.shape.ow * (l.shape.c / l.conv.group) * l.conv.kernel[0] * l.conv.kernel[1])
                as f64
        })
        .sum();
    let first = &layers[0].shape;
    let per_item_in = (first.c * st[0].in_rows * first.w * 4) as f64
        + layers
            .iter()
            .zip(&st)
            .filter(|(l, _)| l.residual.is_some())
            .map(|(l, s)| (l.shape.k * s.out_rows * l.shape.ow * 4) as f64)
            .sum::<f64>();
    let out = (last.shape.k * last.shape.oh * last.shape.ow * 4) as f64;
    // Each busy tile loads the weights once (their bytes, not their aligned SRAM footprint).
    let weights: u64 = layers.iter().map(|l| weight_bytes(l) + l.shape.k as u64 * 4).sum();
    let dram_bytes = items.min(b.tiles) as f64 * weights as f64 + items as f64 * per_item_in + out;
    let compute = items.div_ceil(b.tiles) as f64 * macs_item / b.ops_per_cycle;
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
        resident.loads.push((at, DramAddr(l.w), Copy3::contiguous(wb as u32)));
        let bias_at = at + align64(wb);
        resident.loads.push((bias_at, DramAddr(l.b), Copy3::contiguous(bb as u32)));
        offsets.push((at, bias_at));
        at = bias_at + align64(bb);
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
        let input = take((first.c * st[0].in_rows * first.w * 4) as u64)?;
        let mut loads = vec![(
            input,
            DramAddr(x + (st[0].in_row0 * first.w * 4) as u64),
            copy_rows(st[0].in_rows, first.w * 4, first.c, first.h * first.w * 4),
        )];
        let mut compute = Vec::new();
        let mut src = input;
        for (j, (l, s)) in layers.iter().zip(&st).enumerate() {
            let sh = &l.shape;
            let block = (sh.k * s.out_rows * sh.ow * 4) as u64;
            let residual = match l.residual {
                Some(r) => {
                    let at = take(block)?;
                    loads.push((
                        at,
                        DramAddr(r + (s.out_row0 * sh.ow * 4) as u64),
                        copy_rows(s.out_rows, sh.ow * 4, sh.k, sh.oh * sh.ow * 4),
                    ));
                    SramAddr(at as u32)
                }
                None => SramAddr::NONE,
            };
            let out = take(block)?;
            let (w_off, b_off) = offsets[j];
            compute.push(Command::Conv {
                dtype: DType::F32,
                input: SramAddr(src as u32),
                in_c: sh.c as u32,
                in_h: s.in_rows as u32,
                in_w: sh.w as u32,
                weights: SramAddr(RESIDENT + w_off as u32),
                bias: SramAddr(RESIDENT + b_off as u32),
                residual,
                quant: SramAddr::NONE,
                output: SramAddr(out as u32),
                out_c: sh.k as u32,
                out_h: s.out_rows as u32,
                out_w: sh.ow as u32,
                kernel_h: l.conv.kernel[0] as u16,
                kernel_w: l.conv.kernel[1] as u16,
                stride_h: l.conv.strides[0] as u16,
                stride_w: l.conv.strides[1] as u16,
                dilation_h: l.conv.dilations[0] as u16,
                dilation_w: l.conv.dilations[1] as u16,
                pad_top: s.pad_top as u16,
                pad_left: l.conv.pads[1] as u16,
                pad_bottom: s.pad_bottom as u16,
                pad_right: l.conv.pads[3] as u16,
                groups: l.conv.group as u32,
                act: Act(l.act),
            });
            src = out;
        }
        let ls = &last.shape;
        let stores =
            vec![(src, DramAddr(y + (o0 * ls.ow * 4) as u64), copy_rows(n, ls.ow * 4, ls.k, ls.oh * ls.ow * 4))];
        items.push(WorkItem { loads, compute, stores });
    }
    Ok((resident, items))
}
