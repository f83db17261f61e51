//! The data effect of one command on the machine's memories: DMA copies, the MAC and vector kernels, host
//! calls. Timing is not here (see `exec`). Sizes were verified; they are recomputed with checked arithmetic
//! anyway, and any mismatch is an error string that `exec` wraps with the queue and command index.
use super::conv::{conv_f32, ConvGeom};
use super::matmul::{matmul_f32, MatMulGeom};
use super::memory::{bytes, bytes_mut, read_f32, strided_copy, write_f32, Direction, Machine};
use super::vector::{affine_f32, binary_f32, pool_f32, unary_f32, PoolGeom};
use accel_ops::command::{Command, SramAddr};
use accel_ops::program::{HostKernel, Program};
use accel_ops::{DType, Tensor};
use std::time::{Duration, Instant};

fn n(parts: &[u32]) -> Result<usize, String> {
    parts.iter().try_fold(1usize, |a, &b| a.checked_mul(b as usize)).ok_or_else(|| "size overflow".into())
}

fn addr(a: SramAddr) -> u64 {
    a.0 as u64
}

/// Applies `cmd` (held by a queue of `tile`) to the memories. Sync commands have no data effect; host calls
/// go through `host_call`.
pub(crate) fn execute(m: &mut Machine, tile: usize, cmd: &Command) -> Result<(), String> {
    let Machine { dram, sram, scratch } = m;
    let sram = sram.get_mut(tile).map(|s| s.as_mut_slice()).unwrap_or(&mut []);
    let [s0, s1, s2, s3, s4] = scratch;
    match cmd {
        Command::Load { sram: s, dram: d, copy } => {
            strided_copy(dram, sram, d.0, addr(*s), copy, Direction::DramToSram)?;
        }
        Command::Store { sram: s, dram: d, copy } => {
            strided_copy(dram, sram, d.0, addr(*s), copy, Direction::SramToDram)?;
        }
        Command::Conv {
            dtype,
            input,
            in_c,
            in_h,
            in_w,
            weights,
            bias,
            residual,
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
            f32_only(*dtype)?;
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
            if *groups == 0 {
                return Err("groups must be >= 1".into());
            }
            read_f32(sram, addr(*input), n(&[*in_c, *in_h, *in_w])?, s0)?;
            let w_len = n(&[*out_c, *in_c / *groups, *kernel_h as u32, *kernel_w as u32])?;
            read_f32(sram, addr(*weights), w_len, s1)?;
            let out_len = n(&[*out_c, *out_h, *out_w])?;
            let b = optional(sram, *bias, *out_c as usize, s2)?;
            let r = optional(sram, *residual, out_len, s4)?;
            s3.clear();
            s3.resize(out_len, 0.0);
            conv_f32(&g, s0, s1, b.then_some(s2.as_slice()), r.then_some(s4.as_slice()), act.0, s3)?;
            write_f32(sram, addr(*output), s3)?;
        }
        Command::MatMul { dtype, a, b, bias, quant: _, output, m: rows, k, n: cols, act } => {
            f32_only(*dtype)?;
            let g = MatMulGeom { m: *rows as usize, k: *k as usize, n: *cols as usize };
            read_f32(sram, addr(*a), n(&[*rows, *k])?, s0)?;
            read_f32(sram, addr(*b), n(&[*k, *cols])?, s1)?;
            let has_bias = optional(sram, *bias, *cols as usize, s2)?;
            s3.clear();
            s3.resize(n(&[*rows, *cols])?, 0.0);
            matmul_f32(&g, s0, s1, has_bias.then_some(s2.as_slice()), act.0, s3)?;
            write_f32(sram, addr(*output), s3)?;
        }
        Command::Unary { func, src, dst, len } => {
            let f = func.0.ok_or("vec.unary without a function")?;
            read_f32(sram, addr(*src), *len as usize, s0)?;
            s1.clear();
            s1.resize(*len as usize, 0.0);
            unary_f32(f, s0, s1)?;
            write_f32(sram, addr(*dst), s1)?;
        }
        Command::Binary { op, a, b, dst, len, b_period, b_repeat } => {
            read_f32(sram, addr(*a), *len as usize, s0)?;
            read_f32(sram, addr(*b), *b_period as usize, s1)?;
            s2.clear();
            s2.resize(*len as usize, 0.0);
            binary_f32(op.0, s0, s1, *b_repeat as usize, s2)?;
            write_f32(sram, addr(*dst), s2)?;
        }
        Command::Pool {
            kind,
            src,
            dst,
            c,
            in_h,
            in_w,
            out_h,
            out_w,
            kernel_h,
            kernel_w,
            stride_h,
            stride_w,
            pad_top,
            pad_left,
            pad_bottom,
            pad_right,
        } => {
            let g = PoolGeom {
                c: *c as usize,
                in_h: *in_h as usize,
                in_w: *in_w as usize,
                out_h: *out_h as usize,
                out_w: *out_w as usize,
                kernel: [*kernel_h as usize, *kernel_w as usize],
                stride: [*stride_h as usize, *stride_w as usize],
                pads: [*pad_top as usize, *pad_left as usize, *pad_bottom as usize, *pad_right as usize],
            };
            read_f32(sram, addr(*src), n(&[*c, *in_h, *in_w])?, s0)?;
            s1.clear();
            s1.resize(n(&[*c, *out_h, *out_w])?, 0.0);
            pool_f32(kind.0, &g, s0, s1)?;
            write_f32(sram, addr(*dst), s1)?;
        }
        Command::Affine { src, dst, params, c, inner } => {
            read_f32(sram, addr(*src), n(&[*c, *inner])?, s0)?;
            read_f32(sram, addr(*params), n(&[*c, 2])?, s1)?;
            s2.clear();
            s2.resize(s0.len(), 0.0);
            affine_f32(s0, s1, *c as usize, s2)?;
            write_f32(sram, addr(*dst), s2)?;
        }
        Command::HostCall { .. } => return Err("host calls run through host_call".into()),
        Command::Signal { .. } | Command::Wait { .. } => {}
    }
    Ok(())
}

fn f32_only(d: DType) -> Result<(), String> {
    if d == DType::F32 {
        Ok(())
    } else {
        Err(format!("unsupported dtype {d}"))
    }
}

/// Reads an optional operand; returns whether it was present.
fn optional(sram: &[u8], a: SramAddr, len: usize, out: &mut Vec<f32>) -> Result<bool, String> {
    if a.is_none() {
        return Ok(false);
    }
    read_f32(sram, addr(a), len, out)?;
    Ok(true)
}

/// Runs host kernel `index` with the reference semantics: inputs read from DRAM, output written to DRAM.
/// Returns the measured wall time (reported, never used for cycle counts).
pub(crate) fn host_call(m: &mut Machine, p: &Program, index: u32) -> Result<Duration, String> {
    let kernel = p.kernels.get(index as usize).ok_or_else(|| format!("kernel {index} does not exist"))?;
    let t0 = Instant::now();
    let mut inputs = Vec::with_capacity(kernel.inputs.len());
    for (i, t) in kernel.inputs.iter().enumerate() {
        let size = t.ty.checked_bytes().map_err(|e| format!("input {i}: {e}"))? as u64;
        let tensor =
            Tensor::from_le_bytes(&t.ty, bytes(m.dram(), t.dram, size)?).map_err(|e| format!("input {i}: {e}"))?;
        inputs.push(tensor);
    }
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let out = kernel.op.eval(&refs).map_err(|e| e.to_string())?;
    if out.ty() != kernel.output.ty {
        return Err(format!("computed {}, declared {}", out.ty(), kernel.output.ty));
    }
    let data = out.to_le_bytes();
    bytes_mut(m.dram_mut(), kernel.output.dram, data.len() as u64)?.copy_from_slice(&data);
    Ok(t0.elapsed())
}

/// The deterministic simulated duration of a host call: bytes moved in and out over the host link, plus one
/// operation per output element at the host's rate, in device cycles.
pub fn host_estimate_cycles(kernel: &HostKernel, target: &accel_ops::target::Target) -> u64 {
    let size = |t: &accel_ops::TensorType| t.checked_bytes().unwrap_or(0) as f64;
    let moved: f64 = kernel.inputs.iter().map(|t| size(&t.ty)).sum::<f64>() + size(&kernel.output.ty);
    let elements = kernel.output.ty.shape.checked_numel().unwrap_or(0) as f64;
    // bytes / (GB/s) is nanoseconds; nanoseconds * GHz is cycles.
    let ns = moved / target.host.link_gb_per_s + elements / target.host.gflops;
    let cycles = (ns * target.clock_ghz).ceil();
    if cycles.is_finite() && cycles >= 0.0 {
        cycles.min(u64::MAX as f64 / 4.0) as u64
    } else {
        u64::MAX / 4
    }
}
