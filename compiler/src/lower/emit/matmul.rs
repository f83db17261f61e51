//! Work items of matrix multiplies with a constant right-hand side: row blocks of `a` times column blocks of
//! `b`, both sized to fit one SRAM buffer set.
use super::{SramAlloc, WorkItem};
use crate::lower::error::LowerError;
use crate::lower::tiling::chunks;
use accel_ops::command::{Act, Command, Copy3, DramAddr, SramAddr};
use accel_ops::numerics::QuantParams;
use accel_ops::op::UnaryOp;
use accel_ops::DType;

#[allow(clippy::too_many_arguments)]
pub fn emit_matmul(
    layer: &str,
    (m, k, n): (usize, usize, usize),
    act: Option<UnaryOp>,
    a: u64,
    b: u64,
    bias: u64,
    y: u64,
    cap: u64,
    tiles: usize,
    dtype: DType,
    quant: Option<u64>,
) -> Result<Vec<WorkItem>, LowerError> {
    // `a`, `b` and the output are `dtype`; the bias is 4 bytes per column (f32, or i32 for i8); i8 also loads
    // its `quant` operand (`numerics::QuantParams`, with the lookup table of an `act`) for the block's columns.
    let e = dtype.size();
    let bytes = |mc: usize, nc: usize| {
        let mut v = vec![(mc * k * e) as u64, (k * nc * e) as u64, nc as u64 * 4, (mc * nc * e) as u64];
        if quant.is_some() {
            v.push(QuantParams::bytes(nc as u64, act.is_some()).unwrap_or(u64::MAX));
        }
        v
    };
    // Widest column block that fits with one row, then as many rows as fit.
    let mut nc = n;
    while nc > 1 && !SramAlloc::fits(cap, &bytes(1, nc)) {
        nc = nc.div_ceil(2);
    }
    if !SramAlloc::fits(cap, &bytes(1, nc)) {
        return Err(LowerError::layer(layer, format!("a row of K={k} does not fit {cap} bytes of SRAM")));
    }
    let mut mc = 1;
    while mc < m && SramAlloc::fits(cap, &bytes(mc + 1, nc)) {
        mc += 1;
    }
    // Spread over the tiles: split rows first, then columns.
    let items_now = m.div_ceil(mc) * n.div_ceil(nc);
    if items_now < tiles {
        if m >= tiles {
            mc = m.div_ceil(tiles);
        } else {
            nc = nc.min(n.div_ceil(tiles.div_ceil(m.div_ceil(mc)))).max(1);
        }
    }
    let mut items = Vec::new();
    for (m0, mn) in chunks(m, mc) {
        for (n0, nn) in chunks(n, nc) {
            let sizes = bytes(mn, nn);
            let mut al = SramAlloc::new(cap);
            let mut addr = Vec::new();
            for s in sizes {
                addr.push(al.take(s).ok_or_else(|| LowerError::layer(layer, "sram plan overflow"))?);
            }
            let run = (nn * e) as u32;
            let mut loads = vec![
                (addr[0], DramAddr(a + (m0 * k * e) as u64), Copy3::contiguous((mn * k * e) as u32)),
                (
                    addr[1],
                    DramAddr(b + (n0 * e) as u64),
                    Copy3 {
                        len: run,
                        n1: k as u32,
                        dram_stride1: (n * e) as u64,
                        sram_stride1: run,
                        n2: 1,
                        dram_stride2: 0,
                        sram_stride2: 0,
                    },
                ),
                (addr[2], DramAddr(bias + (n0 * 4) as u64), Copy3::contiguous(nn as u32 * 4)),
            ];
            if let Some(q) = quant {
                loads.extend(super::window::quant_loads(q, addr[4], n0, nn, act.is_some()));
            }
            let compute = Command::MatMul {
                dtype,
                a: SramAddr(addr[0] as u32),
                b: SramAddr(addr[1] as u32),
                bias: SramAddr(addr[2] as u32),
                quant: if quant.is_some() { SramAddr(addr[4] as u32) } else { SramAddr::NONE },
                output: SramAddr(addr[3] as u32),
                m: mn as u32,
                k: k as u32,
                n: nn as u32,
                act: Act(act),
            };
            let stores = vec![(
                addr[3],
                DramAddr(y + ((m0 * n + n0) * e) as u64),
                Copy3 {
                    len: run,
                    n1: mn as u32,
                    dram_stride1: (n * e) as u64,
                    sram_stride1: run,
                    n2: 1,
                    dram_stride2: 0,
                    sram_stride2: 0,
                },
            )];
            items.push(WorkItem { loads, compute: vec![compute], stores });
        }
    }
    Ok(items)
}
