//! `mac.conv` / `mac.matmul` in BF16 and INT8, and `vec.convert`, on a tile's SRAM bytes. The arithmetic is
//! `accel_ops::numerics` (which these kernels are tested against):
//! - BF16: a kernel written for this file, bit-exact with `numerics::bf16` because it sums in the defined order
//!   (bias, then `(ic, ky, kx)` / `p` one after the other for each output; only the loop nest differs: im2col
//!   with zero padding, then rows of outputs updated one weight at a time, which vectorizes across outputs).
//! - INT8: the int32 accumulators from `int8::conv_i8` / `int8::gemm_i8` (exact, so bit-identical in any
//!   order), then `numerics::requant::output` per element, the one definition of requantization, then the
//!   fused activation's lookup table when the command has one (`QuantParams::activate`).
use super::conv::{im2col, ConvGeom};
use super::gemm::{dispatch, Simd};
use super::int8::{conv_i8_packed, gemm_i8_packed, GemmI8};
use super::lazy::Operands;
use super::memory::{bytes, bytes_mut, src_dst};
use super::planes::PlaneWindow;
use super::requant::requant_all;
use super::scratch::MacScratch;
use accel_ops::command::{Command, SramAddr};
use accel_ops::numerics::convert::{convert, ConvertParams};
use accel_ops::numerics::requant::{quantize, QuantParams};
use accel_ops::op::UnaryOp;
use accel_ops::DType;
use half::bf16;
use rayon::prelude::*;
use zerocopy::FromBytes;

/// Output positions per im2col chunk of the BF16 convolution.
const COLS: usize = 256;
/// Products per task of the BF16 convolution's parallel loop over groups (at least one group per task).
const GROUP_WORK: usize = 1 << 18;

fn n(parts: &[u32]) -> Result<usize, String> {
    parts.iter().try_fold(1usize, |a, &b| a.checked_mul(b as usize)).ok_or_else(|| "size overflow".into())
}

/// A MAC command's view of its operands: SRAM, or where a pending load keeps them (`lazy`).
#[derive(Clone, Copy)]
struct Mem<'s> {
    sram: &'s [u8],
    ops: Operands<'s>,
}

fn region<'s>(m: Mem<'s>, a: SramAddr, elems: usize, size: usize) -> Result<&'s [u8], String> {
    let len = (elems as u64).checked_mul(size as u64).ok_or("size overflow")?;
    m.ops.read(m.sram, a.0 as u64, len)
}

fn read_bf16(m: Mem<'_>, a: SramAddr, elems: usize) -> Result<Vec<bf16>, String> {
    Ok(bf16s(region(m, a, elems, 2)?))
}

fn bf16s(b: &[u8]) -> Vec<bf16> {
    b.chunks_exact(2).map(|c| bf16::from_bits(u16::from_le_bytes([c[0], c[1]]))).collect()
}

fn read_f32(m: Mem<'_>, a: SramAddr, elems: usize) -> Result<Vec<f32>, String> {
    Ok(region(m, a, elems, 4)?.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

fn read_i32(m: Mem<'_>, a: SramAddr, elems: usize) -> Result<Vec<i32>, String> {
    Ok(region(m, a, elems, 4)?.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// int8 operands are borrowed, not copied (any alignment will do).
fn read_i8<'s>(m: Mem<'s>, a: SramAddr, elems: usize) -> Result<&'s [i8], String> {
    <[i8]>::ref_from_bytes(region(m, a, elems, 1)?).map_err(|_| "int8 operand view".into())
}

fn optional<T>(a: SramAddr, read: impl FnOnce(SramAddr) -> Result<T, String>) -> Result<Option<T>, String> {
    if a.is_none() {
        Ok(None)
    } else {
        read(a).map(Some)
    }
}

/// The `quant` operand for `channels` output channels, with the lookup table of `act` if there is one.
fn quant(m: Mem<'_>, a: SramAddr, channels: usize, act: Option<UnaryOp>) -> Result<QuantParams, String> {
    let table = act.is_some();
    let len = QuantParams::bytes(channels as u64, table).ok_or("size overflow")?;
    let q = QuantParams::from_le_bytes(m.ops.read(m.sram, a.0 as u64, len)?, table).map_err(|e| e.to_string())?;
    Ok(q)
}

fn write_bf16(sram: &mut [u8], a: SramAddr, vals: &[bf16]) -> Result<(), String> {
    let dst = bytes_mut(sram, a.0 as u64, (vals.len() as u64).checked_mul(2).ok_or("size overflow")?)?;
    dst.chunks_exact_mut(2).zip(vals).for_each(|(d, v)| d.copy_from_slice(&v.to_bits().to_le_bytes()));
    Ok(())
}

fn write_i8(sram: &mut [u8], a: SramAddr, vals: &[i8]) -> Result<(), String> {
    let dst = bytes_mut(sram, a.0 as u64, vals.len() as u64)?;
    dst.iter_mut().zip(vals).for_each(|(d, &v)| *d = v as u8);
    Ok(())
}

/// The BF16 / INT8 effect of a `mac.conv` or `mac.matmul` (verified: `dtype` is bf16 or i8).
pub(crate) fn mac(sram: &mut [u8], ops: Operands<'_>, cmd: &Command, scratch: &mut MacScratch) -> Result<(), String> {
    let mem = Mem { sram: &*sram, ops };
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
            quant: q,
            output: out,
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
            groups,
            act,
            ..
        } => {
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
            let w_len = n(&[*out_c, *in_c / *groups, *kernel_h as u32, *kernel_w as u32])?;
            let x_window = |elem| PlaneWindow {
                planes: g.in_c,
                rows: g.in_h,
                apart: *in_plane_rows as usize,
                pitch: *in_row_pitch as usize,
                width: g.in_w,
                elem,
            };
            let r_window = |elem| PlaneWindow {
                planes: g.out_c,
                rows: g.out_h,
                apart: *res_plane_rows as usize,
                pitch: *res_row_pitch as usize,
                width: g.out_w,
                elem,
            };
            match dtype {
                DType::BF16 => {
                    let x = bf16s(&x_window(2).read(mem.ops, mem.sram, input.0 as u64)?);
                    let w = read_bf16(mem, *weights, w_len)?;
                    let b = optional(*bias, |a| read_f32(mem, a, g.out_c))?;
                    let r = optional(*residual, |a| Ok(bf16s(&r_window(2).read(mem.ops, mem.sram, a.0 as u64)?)))?;
                    let y = conv_bf16(&g, &x, &w, b.as_deref(), r.as_deref(), act.0)?;
                    write_bf16(sram, *out, &y)
                }
                DType::I8 => {
                    let x_bytes = x_window(1).read(mem.ops, mem.sram, input.0 as u64)?;
                    let x = <[i8]>::ref_from_bytes(&x_bytes).map_err(|_| "int8 input view")?;
                    let w = read_i8(mem, *weights, w_len)?;
                    let b = optional(*bias, |a| read_i32(mem, a, g.out_c))?;
                    let r_bytes = optional(*residual, |a| r_window(1).read(mem.ops, mem.sram, a.0 as u64))?;
                    let r = match &r_bytes {
                        Some(b) => Some(<[i8]>::ref_from_bytes(b).map_err(|_| "int8 residual view")?),
                        None => None,
                    };
                    let qp = quant(mem, *q, g.out_c, act.0)?;
                    // Taken out while the packed weights borrow the scratch; every accumulator is written by
                    // the kernel, so none is zeroed.
                    let (mut acc, mut ys) = (std::mem::take(&mut scratch.acc), std::mem::take(&mut scratch.out));
                    grow(&mut acc, out_len);
                    let origin = ops.origin(weights.0 as u64, w_len as u64);
                    let done = match i8::try_from(qp.header.x_zero) {
                        Ok(xz) => scratch.conv_weights(origin, &g, w).and_then(|(packed, s)| {
                            conv_i8_packed(&g, x, xz, w, packed, b.as_deref(), &mut acc[..out_len], s)
                        }),
                        // A zero point outside int8 (never compiled, but the bytes are data): the reference.
                        Err(_) => {
                            reference_acc_i8(&g, x, w, b.as_deref(), qp.header.x_zero, &mut acc[..out_len]);
                            Ok(())
                        }
                    };
                    let plane = g.out_h * g.out_w;
                    grow(&mut ys, out_len);
                    if done.is_ok() {
                        requant_all(&acc[..out_len], plane, &qp, r, &mut ys[..out_len]);
                    }
                    let done = done.and_then(|()| write_i8(sram, *out, &ys[..out_len]));
                    (scratch.acc, scratch.out) = (acc, ys);
                    done
                }
                other => Err(format!("mac.conv in {other} is not a reduced-precision command")),
            }
        }
        Command::MatMul { dtype, a, b, bias, quant: q, output: out, m, k, n: cols, act } => {
            let (m, k, nn) = (*m as usize, *k as usize, *cols as usize);
            let (a_len, b_len, out_len) = (n(&[m as u32, k as u32])?, n(&[k as u32, *cols])?, n(&[m as u32, *cols])?);
            match dtype {
                DType::BF16 => {
                    let (av, bv) = (read_bf16(mem, *a, a_len)?, read_bf16(mem, *b, b_len)?);
                    let bias = optional(*bias, |x| read_f32(mem, x, nn))?;
                    let y = matmul_bf16((m, k, nn), &av, &bv, bias.as_deref(), act.0);
                    write_bf16(sram, *out, &y)
                }
                DType::I8 => {
                    let (av, bv) = (read_i8(mem, *a, a_len)?, read_i8(mem, *b, b_len)?);
                    let bias = optional(*bias, |x| read_i32(mem, x, nn))?;
                    let qp = quant(mem, *q, nn, act.0)?;
                    let (mut acc, mut ys) = (std::mem::take(&mut scratch.acc), std::mem::take(&mut scratch.out));
                    grow(&mut acc, out_len);
                    let done = if m <= FEW_ROWS {
                        let init = bias.as_deref();
                        if init.is_none() {
                            // `FewRowsI8` adds to the accumulators as they are.
                            acc[..out_len].fill(0);
                        }
                        let acc = &mut acc[..out_len];
                        dispatch(FewRowsI8 { a: av, b: bv, z: qp.header.x_zero, k, n: nn, init, acc });
                        Ok(())
                    } else {
                        // sum (a - z) b = sum a b - z sum b: the zero point into the bias (exact, wrapping).
                        let origin = ops.origin(b.0 as u64, b_len as u64);
                        scratch.matmul_b(origin, bv, k, nn).and_then(|(pb, s)| {
                            let g = GemmI8 { m, k, n: nn };
                            gemm_i8_packed(g, av, pb, bias.as_deref(), qp.header.x_zero, &mut acc[..out_len], s)
                        })
                    };
                    grow(&mut ys, out_len);
                    if done.is_ok() {
                        requant_all(&acc[..out_len], 1, &qp, None, &mut ys[..out_len]);
                    }
                    let done = done.and_then(|()| write_i8(sram, *out, &ys[..out_len]));
                    (scratch.acc, scratch.out) = (acc, ys);
                    done
                }
                other => Err(format!("mac.matmul in {other} is not a reduced-precision command")),
            }
        }
        _ => Err(format!("{} is not a MAC command", cmd.mnemonic())),
    }
}

/// Makes a reused scratch buffer at least `len` long. Never shrinks it: commands of different sizes alternate,
/// and shrinking then growing again would zero the regrown part on every command. Users take `[..len]` and
/// write every element of it before reading.
fn grow<T: Copy + Default>(v: &mut Vec<T>, len: usize) {
    if v.len() < len {
        v.resize(len, T::default());
    }
}

/// Most rows of an INT8 matmul computed by `FewRowsI8` (the fully connected layers' work items).
const FEW_ROWS: usize = 4;

/// `acc = init + (a - z) * b` for a few rows of `a` (`m x k`) and `b` (`k x n`; `acc` is `m x n`), row by
/// row streaming `b` once per row, without packing `b` per command as the GEMM does. The int32 sums wrap, so
/// they are exact in any order: the same numbers as `gemm_i8` with the zero point in the bias.
struct FewRowsI8<'a> {
    a: &'a [i8],
    b: &'a [i8],
    z: i32,
    k: usize,
    n: usize,
    init: Option<&'a [i32]>,
    acc: &'a mut [i32],
}

impl Simd for FewRowsI8<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let (k, n) = (self.k, self.n);
        if n == 0 {
            return;
        }
        for (i, yr) in self.acc.chunks_exact_mut(n).enumerate() {
            if let Some(init) = self.init {
                yr.copy_from_slice(init);
            }
            let ar = self.a.get(i * k..(i + 1) * k).unwrap_or(&[]);
            for (&av, br) in ar.iter().zip(self.b.chunks_exact(n)) {
                let d = (av as i32).wrapping_sub(self.z);
                for (y, &bv) in yr.iter_mut().zip(br) {
                    *y = y.wrapping_add(d.wrapping_mul(bv as i32));
                }
            }
        }
    }
}

/// Plain int32 accumulation (the reference order), for zero points outside int8.
fn reference_acc_i8(g: &ConvGeom, x: &[i8], w: &[i8], bias: Option<&[i32]>, xz: i32, acc: &mut [i32]) {
    let (cg, kg) = (g.in_c / g.groups, g.out_c / g.groups);
    let [kh, kw] = g.kernel;
    let pos = g.out_h * g.out_w;
    for (at, a) in acc.iter_mut().enumerate() {
        let (oc, p) = (at / pos.max(1), at % pos.max(1));
        let (oy, ox) = (p / g.out_w.max(1), p % g.out_w.max(1));
        let grp = oc / kg.max(1);
        let mut s = bias.map_or(0, |b| b[oc]);
        for ic in 0..cg {
            for ky in 0..kh {
                for kx in 0..kw {
                    let iy = (oy * g.stride[0] + ky * g.dilation[0]).checked_sub(g.pad[0]);
                    let ix = (ox * g.stride[1] + kx * g.dilation[1]).checked_sub(g.pad[1]);
                    if let (Some(iy), Some(ix)) = (iy, ix) {
                        if iy < g.in_h && ix < g.in_w {
                            let xv = x[((grp * cg + ic) * g.in_h + iy) * g.in_w + ix] as i32;
                            let wv = w[((oc * cg + ic) * kh + ky) * kw + kx] as i32;
                            s = s.wrapping_add(xv.wrapping_sub(xz).wrapping_mul(wv));
                        }
                    }
                }
            }
        }
        *a = s;
    }
}

/// The residual, activation and rounding of one BF16 output.
#[inline]
fn finish(acc: f32, r: Option<bf16>, act: Option<UnaryOp>) -> bf16 {
    let mut v = acc;
    if let Some(r) = r {
        v += r.to_f32();
    }
    if let Some(a) = act {
        v = a.apply(v);
    }
    bf16::from_f32(v)
}

/// The f32 sums of one group's output channels over a column block of im2col: `acc[o][j] = bias[o] +
/// sum over p in order of col[p][j] * w[o][p]`, a multiply then an add (never fused), the order
/// `numerics::bf16::conv` defines. Compiled per instruction set by `dispatch`: the loop over `j` vectorizes.
struct Bf16Block<'a> {
    col: &'a [f32],
    w: &'a [f32],
    bias: Option<&'a [f32]>,
    k: usize,
    cols: usize,
    acc: &'a mut [f32],
}

impl Simd for Bf16Block<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        // k in blocks of `KB` rows of im2col (KB x COLS f32 = 64 KiB, cache-resident while every output channel
        // takes its turn): each block is read from memory once, not once per channel. Per output the sum still
        // runs over p = 0, 1, ... in order.
        const KB: usize = 64;
        let (k, cols) = (self.k, self.cols);
        for (o, acc) in self.acc.chunks_exact_mut(cols).enumerate() {
            acc.fill(self.bias.map_or(0.0, |b| b[o]));
        }
        for p0 in (0..k).step_by(KB) {
            let pn = KB.min(k - p0);
            for (o, acc) in self.acc.chunks_exact_mut(cols).enumerate() {
                for (p, &wv) in self.w[o * k + p0..][..pn].iter().enumerate() {
                    for (a, &xv) in acc.iter_mut().zip(&self.col[(p0 + p) * cols..][..cols]) {
                        *a += xv * wv;
                    }
                }
            }
        }
    }
}

/// BF16 convolution, bit-exact with `numerics::bf16::conv`.
pub fn conv_bf16(
    g: &ConvGeom,
    x: &[bf16],
    w: &[bf16],
    bias: Option<&[f32]>,
    residual: Option<&[bf16]>,
    act: Option<UnaryOp>,
) -> Result<Vec<bf16>, String> {
    g.check(x.len(), w.len(), bias.map(|b| b.len()), g.out_c * g.out_h * g.out_w)?;
    let (cg, kg) = (g.in_c / g.groups, g.out_c / g.groups);
    let k = cg * g.kernel[0] * g.kernel[1];
    let (plane, npos) = (g.in_h * g.in_w, g.out_h * g.out_w);
    let wide: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
    let wf: Vec<f32> = w.iter().map(|v| v.to_f32()).collect();
    let mut y = vec![bf16::ZERO; g.out_c * npos];
    if residual.is_some_and(|r| r.len() != y.len()) {
        return Err("residual must have the output's shape".into());
    }
    // Tasks of whole groups, enough of them per task that a depthwise group (one channel, a few hundred
    // products) does not pay a task's buffers and hand-off; each task's im2col and accumulators are reused
    // by its groups and column chunks, and its outputs written in place.
    let group_len = kg * npos;
    if group_len == 0 {
        return Ok(y);
    }
    let group_work = (kg * k).max(1) * npos;
    let per_task = (GROUP_WORK / group_work).clamp(1, g.groups.max(1));
    y.par_chunks_mut(group_len * per_task).enumerate().for_each(|(t, yt)| {
        let chunk = COLS.min(npos);
        let (mut col, mut acc) = (vec![0f32; k * chunk], vec![0f32; kg * chunk]);
        for (gi, yg) in yt.chunks_mut(group_len).enumerate() {
            let grp = t * per_task + gi;
            let (w, b) = (&wf[grp * kg * k..][..kg * k], bias.map(|b| &b[grp * kg..][..kg]));
            for n0 in (0..npos).step_by(COLS) {
                let cols = COLS.min(npos - n0);
                let (col, acc) = (&mut col[..k * cols], &mut acc[..kg * cols]);
                im2col(g, &wide[grp * cg * plane..][..cg * plane], n0, n0 + cols, 0.0, col);
                dispatch(Bf16Block { col, w, bias: b, k, cols, acc: &mut *acc });
                for (i, row) in acc.chunks_exact(cols).enumerate() {
                    let oc = grp * kg + i;
                    let out = &mut yg[i * npos + n0..][..cols];
                    for (j, (o, &a)) in out.iter_mut().zip(row).enumerate() {
                        *o = finish(a, residual.map(|r| r[oc * npos + n0 + j]), act);
                    }
                }
            }
        }
    });
    Ok(y)
}

/// BF16 matmul, bit-exact with `numerics::bf16::matmul`.
pub fn matmul_bf16(
    (m, k, n): (usize, usize, usize),
    a: &[bf16],
    b: &[bf16],
    bias: Option<&[f32]>,
    act: Option<UnaryOp>,
) -> Vec<bf16> {
    let bf: Vec<f32> = b.iter().map(|v| v.to_f32()).collect();
    let mut y = vec![bf16::ZERO; m * n];
    y.par_chunks_mut(n.max(1)).enumerate().for_each(|(i, row)| {
        let mut acc: Vec<f32> = bias.map_or_else(|| vec![0.0; n], |b| b.to_vec());
        for p in 0..k {
            let av = a[i * k + p].to_f32();
            for (c, &bv) in acc.iter_mut().zip(&bf[p * n..][..n]) {
                *c += av * bv;
            }
        }
        for (o, &c) in row.iter_mut().zip(&acc) {
            *o = finish(c, None, act);
        }
    });
    y
}

/// `vec.convert`: elements of `from` at `src` into `to` at `dst` (`numerics::convert`).
pub(crate) fn convert_cmd(sram: &mut [u8], cmd: &Command) -> Result<(), String> {
    let Command::Convert { from, to, src, dst, params, len } = cmd else {
        return Err(format!("{} is not vec.convert", cmd.mnemonic()));
    };
    let len = *len as u64;
    let p = if params.is_none() {
        None
    } else {
        Some(ConvertParams::from_le_bytes(bytes(sram, params.0 as u64, ConvertParams::BYTES)?).ok_or("short params")?)
    };
    let src_len = len.checked_mul(from.size() as u64).ok_or("size overflow")?;
    let dst_len = len.checked_mul(to.size() as u64).ok_or("size overflow")?;
    let mut copied = Vec::new();
    let (s, d) = src_dst(sram, (src.0 as u64, src_len), (dst.0 as u64, dst_len), &mut copied)?;
    match (*from, *to, p) {
        // `convert`'s f32 -> i8 (`numerics::requant::quantize` per element; `s` is 4 bytes per byte of `d`),
        // compiled per instruction set so that its rounding is an instruction, not a libm call.
        (DType::F32, DType::I8, Some(p)) => dispatch(QuantizeF32 { src: s, dst: d, p }),
        // i8 -> f32 / bf16: each of the 256 inputs converted once by the definition, then looked up.
        (DType::I8, DType::F32, Some(p)) if p.zero.unsigned_abs() <= 1 << 20 => {
            dispatch(DequantizeI8 { src: s, dst: d, p })
        }
        (DType::I8, DType::F32, Some(p)) => dispatch(Lookup::<4> { table: &table::<4>(*to, p)?, src: s, dst: d }),
        (DType::I8, DType::BF16, Some(p)) => dispatch(Lookup::<2> { table: &table::<2>(*to, p)?, src: s, dst: d }),
        _ => convert(*from, *to, p, s, d).map_err(|e| e.to_string())?,
    }
    Ok(())
}

/// The i8 -> `to` conversion of each of the 256 int8 values (at index `v as u8`), by `numerics::convert`
/// itself: a lookup is then bit for bit the definition.
fn table<const N: usize>(to: DType, p: ConvertParams) -> Result<[[u8; N]; 256], String> {
    let all: Vec<u8> = (0..=255u8).collect();
    let mut out = [[0u8; N]; 256];
    convert(DType::I8, to, Some(p), &all, out.as_flattened_mut()).map_err(|e| e.to_string())?;
    Ok(out)
}

/// `dst` = the `N`-byte table entry of each byte of `src`.
struct Lookup<'a, const N: usize> {
    table: &'a [[u8; N]; 256],
    src: &'a [u8],
    dst: &'a mut [u8],
}

impl<const N: usize> Simd for Lookup<'_, N> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        for (o, &v) in self.dst.chunks_exact_mut(N).zip(self.src) {
            o.copy_from_slice(&self.table[v as usize]);
        }
    }
}

/// i8 -> f32 of `vec.convert` (`numerics::requant::dequantize`: `(q - zero) as f32 * scale`) for zero points
/// within 2^20, where `q - zero` is exact in i32 and in f32, so the product is the definition's: in lanes.
struct DequantizeI8<'a> {
    src: &'a [u8],
    dst: &'a mut [u8],
    p: ConvertParams,
}

impl Simd for DequantizeI8<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let (scale, zero) = (self.p.scale, self.p.zero);
        for (o, &v) in self.dst.chunks_exact_mut(4).zip(self.src) {
            o.copy_from_slice(&(((v as i8 as i32) - zero) as f32 * scale).to_le_bytes());
        }
    }
}

/// f32 (little-endian bytes) -> i8 quantization of `vec.convert`, element by element as `numerics::convert`.
struct QuantizeF32<'a> {
    src: &'a [u8],
    dst: &'a mut [u8],
    p: ConvertParams,
}

impl Simd for QuantizeF32<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        // `quantize` in f32 with its NaN branch as a select, which vectorizes where its f64 sum and saturating
        // f64 -> i8 cast do not. Exact for zero points within 2^20: the rounded quotient clamped to +-2^21 (an
        // integer there, or infinite, or NaN) plus the zero point stays below 2^24, so the f32 sum is the f64
        // one, and beyond 2^21 - 2^20 both clamp alike. Other zero points take `quantize` itself.
        let (scale, zero) = (self.p.scale, self.p.zero);
        if zero.unsigned_abs() > 1 << 20 {
            for (d, c) in self.dst.iter_mut().zip(self.src.chunks_exact(4)) {
                *d = quantize(f32::from_le_bytes([c[0], c[1], c[2], c[3]]), scale, zero) as u8;
            }
            return;
        }
        // The clamped value (an integer in [-128, 127], or NaN where `quantize` gives 0) is converted by adding
        // 1.5 * 2^23 and reading the low bits of the sum, since a saturating f32 -> int cast stays scalar too.
        const LIMIT: f32 = (1 << 21) as f32;
        const MAGIC: f32 = 12_582_912.0;
        let (nan, zf) = (zero.clamp(-128, 127), zero as f32);
        for (d, c) in self.dst.iter_mut().zip(self.src.chunks_exact(4)) {
            let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            let v = ((x / scale).round_ties_even().clamp(-LIMIT, LIMIT) + zf).clamp(-128.0, 127.0);
            let r = ((v + MAGIC).to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
            *d = if x.is_nan() {
                nan
            } else if v.is_nan() {
                0
            } else {
                r
            } as u8;
        }
    }
}

#[cfg(test)]
#[path = "precision_tests.rs"]
mod tests;
