//! What memory each command touches and whether its parameters are consistent: the facts the runtime's
//! verifier checks before anything runs. All arithmetic is checked; a footprint is a conservative byte range.
use super::field::{Copy3, SramAddr};
use super::{elem_bytes, Command};
use crate::dtype::DType;
use crate::numerics::convert::{self, ConvertParams};
use crate::numerics::QuantParams;
use crate::op::Conv as ConvOp;
use thiserror::Error;

/// Which memory an access is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Space {
    /// The SRAM of the tile whose queue holds the command (for `dma.multicast`, of every tile in its mask; all
    /// tiles have the same SRAM size).
    Sram,
    Dram,
}

/// A contiguous byte range read or written by a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub space: Space,
    pub start: u64,
    pub len: u64,
    pub write: bool,
}

impl Access {
    pub fn end(&self) -> u64 {
        // `footprint` builds accesses only through `range`, which checked this sum; the fields are public,
        // so a hand-built one saturates (an end of `u64::MAX` is outside every memory) instead of wrapping.
        self.start.saturating_add(self.len)
    }
}

/// A command whose parameters are inconsistent or whose sizes overflow.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{mnemonic}: {why}")]
pub struct CheckError {
    pub mnemonic: &'static str,
    pub why: String,
}

fn range(space: Space, start: u64, len: u64, write: bool) -> Option<Access> {
    start.checked_add(len)?;
    Some(Access { space, start, len, write })
}

/// The span covered by a strided copy on one side, from its base.
fn copy_span(c: &Copy3, stride1: u64, stride2: u64) -> Option<u64> {
    if c.len == 0 || c.n1 == 0 || c.n2 == 0 {
        return Some(0);
    }
    let last = (c.n1 as u64 - 1).checked_mul(stride1)?.checked_add((c.n2 as u64 - 1).checked_mul(stride2)?)?;
    last.checked_add(c.len as u64)
}

fn mul(parts: &[u64]) -> Option<u64> {
    parts.iter().try_fold(1u64, |a, &b| a.checked_mul(b))
}

/// Bytes of `planes` planes of `rows x width` elements of `e` bytes whose starts lie `apart` rows apart: up to
/// the end of the last plane.
fn plane_span(planes: u32, apart: u32, rows: u32, pitch: u32, width: u32, e: u64) -> Option<u64> {
    if planes == 0 || rows == 0 || width == 0 {
        return Some(0);
    }
    // Rows from the first's start to the last's, then the last row's width.
    let last_row = mul(&[planes as u64 - 1, apart as u64])?.checked_add(rows as u64 - 1)?;
    mul(&[last_row, pitch as u64])?.checked_add(width as u64).and_then(|n| mul(&[n, e]))
}

impl Command {
    /// The bytes this command reads and writes, after checking its parameters for consistency.
    pub fn footprint(&self) -> Result<Vec<Access>, CheckError> {
        let fail = |why: String| CheckError { mnemonic: self.mnemonic(), why };
        let overflow = || fail("sizes overflow".into());
        let sram = |addr: SramAddr, len: Option<u64>, write: bool| -> Result<Access, CheckError> {
            if addr.is_none() {
                return Err(fail("required operand is absent".into()));
            }
            range(Space::Sram, addr.0 as u64, len.ok_or_else(overflow)?, write).ok_or_else(overflow)
        };
        let mut out = Vec::new();
        match self {
            Command::Load { sram: s, dram, copy }
            | Command::Store { sram: s, dram, copy }
            | Command::Multicast { sram: s, dram, copy, .. } => {
                let is_load = !matches!(self, Command::Store { .. });
                if let Command::Multicast { tiles: 0, .. } = self {
                    return Err(fail("the tile mask is empty".into()));
                }
                let d_span = copy_span(copy, copy.dram_stride1, copy.dram_stride2).ok_or_else(overflow)?;
                let s_span =
                    copy_span(copy, copy.sram_stride1 as u64, copy.sram_stride2 as u64).ok_or_else(overflow)?;
                if copy.n1 > 1 && (copy.sram_stride1 as u64) < copy.len as u64 {
                    return Err(fail("sram runs overlap".into()));
                }
                out.push(sram(*s, Some(s_span), is_load)?);
                out.push(range(Space::Dram, dram.0, d_span, !is_load).ok_or_else(overflow)?);
            }
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
                quant,
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
                pad_bottom,
                pad_right,
                groups,
                act,
            } => {
                check_compute_dtype(*dtype).map_err(fail)?;
                let g = *groups as u64;
                if g == 0 || *in_c as u64 % g != 0 || *out_c as u64 % g != 0 {
                    return Err(fail(format!("groups {groups} must divide in_c {in_c} and out_c {out_c}")));
                }
                if [*kernel_h, *kernel_w, *stride_h, *stride_w, *dilation_h, *dilation_w].contains(&0) {
                    return Err(fail("kernel, stride and dilation must be >= 1".into()));
                }
                let oh = ConvOp::out_dim(
                    *in_h as usize,
                    *pad_top as usize,
                    *pad_bottom as usize,
                    *kernel_h as usize,
                    *stride_h as usize,
                    *dilation_h as usize,
                );
                let ow = ConvOp::out_dim(
                    *in_w as usize,
                    *pad_left as usize,
                    *pad_right as usize,
                    *kernel_w as usize,
                    *stride_w as usize,
                    *dilation_w as usize,
                );
                if oh.is_none_or(|oh| oh < *out_h as usize) || ow.is_none_or(|ow| ow < *out_w as usize) {
                    return Err(fail(format!(
                        "output {out_h}x{out_w} does not fit input {in_h}x{in_w} with this window"
                    )));
                }
                let e = elem_bytes(*dtype);
                let cg = *in_c as u64 / g;
                if *in_plane_rows < *in_h {
                    return Err(fail(format!("input planes {in_plane_rows} rows apart overlap ({in_h} rows)")));
                }
                if *in_row_pitch < *in_w {
                    return Err(fail(format!("input rows {in_row_pitch} elements apart overlap ({in_w} wide)")));
                }
                let span = plane_span(*in_c, *in_plane_rows, *in_h, *in_row_pitch, *in_w, e);
                out.push(sram(*input, span, false)?);
                out.push(sram(*weights, mul(&[*out_c as u64, cg, *kernel_h as u64, *kernel_w as u64, e]), false)?);
                if !bias.is_none() {
                    out.push(sram(*bias, mul(&[*out_c as u64, 4]), false)?);
                }
                if residual.is_none() {
                    if *res_plane_rows != 0 || *res_row_pitch != 0 {
                        return Err(fail(format!(
                            "res_plane_rows {res_plane_rows} and res_row_pitch {res_row_pitch} without a residual \
                             (must be 0)"
                        )));
                    }
                } else {
                    if *res_plane_rows < *out_h {
                        return Err(fail(format!(
                            "residual planes {res_plane_rows} rows apart overlap ({out_h} rows)"
                        )));
                    }
                    if *res_row_pitch < *out_w {
                        return Err(fail(format!(
                            "residual rows {res_row_pitch} elements apart overlap ({out_w} wide)"
                        )));
                    }
                    let span = plane_span(*out_c, *res_plane_rows, *out_h, *res_row_pitch, *out_w, e);
                    out.push(sram(*residual, span, false)?);
                }
                check_quant(*dtype, *quant).map_err(fail)?;
                if !quant.is_none() {
                    out.push(sram(*quant, QuantParams::bytes(*out_c as u64, act.0.is_some()), false)?);
                }
                out.push(sram(*output, mul(&[*out_c as u64, *out_h as u64, *out_w as u64, e]), true)?);
            }
            Command::MatMul { dtype, a, b, bias, quant, output, m, k, n, act } => {
                check_compute_dtype(*dtype).map_err(fail)?;
                let (m, k, n, e) = (*m as u64, *k as u64, *n as u64, elem_bytes(*dtype));
                out.push(sram(*a, mul(&[m, k, e]), false)?);
                out.push(sram(*b, mul(&[k, n, e]), false)?);
                if !bias.is_none() {
                    out.push(sram(*bias, mul(&[n, 4]), false)?);
                }
                check_quant(*dtype, *quant).map_err(fail)?;
                if !quant.is_none() {
                    out.push(sram(*quant, QuantParams::bytes(n, act.0.is_some()), false)?);
                }
                out.push(sram(*output, mul(&[m, n, e]), true)?);
            }
            Command::Unary { func, src, dst, len } => {
                if func.0.is_none() {
                    return Err(fail("no function".into()));
                }
                out.push(sram(*src, mul(&[*len as u64, 4]), false)?);
                out.push(sram(*dst, mul(&[*len as u64, 4]), true)?);
            }
            Command::Binary { op: _, a, b, dst, len, b_period, b_repeat } => {
                if *b_period == 0 || *b_repeat == 0 {
                    return Err(fail("b_period and b_repeat must be >= 1".into()));
                }
                out.push(sram(*a, mul(&[*len as u64, 4]), false)?);
                out.push(sram(*b, mul(&[*b_period as u64, 4]), false)?);
                out.push(sram(*dst, mul(&[*len as u64, 4]), true)?);
            }
            Command::Pool { .. } | Command::PoolI8 { .. } => {
                let p = self.pool_fields().ok_or_else(|| fail("not a pool".into()))?;
                let ([kh, kw], [sh, sw]) = (p.kernel, p.stride);
                if [kh, kw, sh, sw].contains(&0) {
                    return Err(fail("kernel and stride must be >= 1".into()));
                }
                let [pt, pl, pb, pr] = p.pads.map(|v| v as usize);
                let oh = ConvOp::out_dim(p.in_h as usize, pt, pb, kh as usize, sh as usize, 1);
                let ow = ConvOp::out_dim(p.in_w as usize, pl, pr, kw as usize, sw as usize, 1);
                if oh.is_none_or(|oh| oh < p.out_h as usize) || ow.is_none_or(|ow| ow < p.out_w as usize) {
                    let (out_h, out_w, in_h, in_w) = (p.out_h, p.out_w, p.in_h, p.in_w);
                    return Err(fail(format!(
                        "output {out_h}x{out_w} does not fit input {in_h}x{in_w} with this window"
                    )));
                }
                let e = p.elem_bytes();
                out.push(sram(p.src, mul(&[p.c as u64, p.in_h as u64, p.in_w as u64, e]), false)?);
                out.push(sram(p.dst, mul(&[p.c as u64, p.out_h as u64, p.out_w as u64, e]), true)?);
            }
            Command::Affine { src, dst, params, c, inner } => {
                out.push(sram(*src, mul(&[*c as u64, *inner as u64, 4]), false)?);
                out.push(sram(*params, mul(&[*c as u64, 8]), false)?);
                out.push(sram(*dst, mul(&[*c as u64, *inner as u64, 4]), true)?);
            }
            Command::Convert { from, to, src, dst, params, len } => {
                let needs =
                    convert::supported(*from, *to).ok_or_else(|| fail(format!("no conversion from {from} to {to}")))?;
                if needs == params.is_none() {
                    return Err(fail(format!(
                        "{from} -> {to} {} a scale and zero point",
                        if needs { "needs" } else { "takes no" }
                    )));
                }
                out.push(sram(*src, mul(&[*len as u64, elem_bytes(*from)]), false)?);
                if needs {
                    out.push(sram(*params, Some(ConvertParams::BYTES), false)?);
                }
                out.push(sram(*dst, mul(&[*len as u64, elem_bytes(*to)]), true)?);
            }
            Command::HostCall { .. } | Command::Signal { .. } | Command::Wait { .. } => {}
        }
        Ok(out)
    }
}

/// INT8 compute takes a `quant` operand (with an `act`, it ends the header with the activation's lookup table,
/// whose bytes the footprint counts); float takes none.
fn check_quant(d: DType, quant: SramAddr) -> Result<(), String> {
    match (d == DType::I8, quant.is_none()) {
        (true, true) => Err("i8 compute needs a quant operand".into()),
        (false, false) => Err(format!("{d} compute takes no quant operand")),
        _ => Ok(()),
    }
}

fn check_compute_dtype(d: DType) -> Result<(), String> {
    match d {
        DType::F32 | DType::BF16 | DType::I8 => Ok(()),
        other => Err(format!("the MAC array does not compute in {other}")),
    }
}
