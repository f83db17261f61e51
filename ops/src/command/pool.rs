//! The fields `vec.pool` and `vec.pool.i8` share, read and written once so the footprint, the cost model, the
//! simulator and the compiler treat both alike.
use super::{Command, PoolCode, SramAddr};
use crate::numerics::pool::PoolQuant;
use crate::op::PoolKind;

/// A pool command's operands and geometry (in elements), and its int8 requantization (`None`: f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolFields {
    pub kind: PoolKind,
    pub src: SramAddr,
    pub dst: SramAddr,
    pub c: u32,
    pub in_h: u32,
    pub in_w: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub kernel: [u16; 2],
    pub stride: [u16; 2],
    /// Top, left, bottom, right.
    pub pads: [u16; 4],
    pub quant: Option<PoolQuant>,
}

impl PoolFields {
    /// Bytes of one element: 4 for f32, 1 for int8.
    pub fn elem_bytes(&self) -> u64 {
        if self.quant.is_some() {
            1
        } else {
            4
        }
    }

    /// The command: `vec.pool.i8` with a requantization, else `vec.pool`.
    pub fn command(&self) -> Command {
        let p = *self;
        let ([kernel_h, kernel_w], [stride_h, stride_w]) = (p.kernel, p.stride);
        let [pad_top, pad_left, pad_bottom, pad_right] = p.pads;
        let (kind, src, dst, c, in_h, in_w, out_h, out_w) =
            (PoolCode(p.kind), p.src, p.dst, p.c, p.in_h, p.in_w, p.out_h, p.out_w);
        match p.quant {
            None => Command::Pool {
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
            },
            Some(PoolQuant { x_zero, y_zero, mult, shift }) => Command::PoolI8 {
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
                x_zero,
                y_zero,
                mult,
                shift,
            },
        }
    }
}

impl Command {
    /// The fields of a `vec.pool` or `vec.pool.i8`; `None` for other commands.
    pub fn pool_fields(&self) -> Option<PoolFields> {
        let quant = match *self {
            Command::PoolI8 { x_zero, y_zero, mult, shift, .. } => Some(PoolQuant { x_zero, y_zero, mult, shift }),
            _ => None,
        };
        match *self {
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
            }
            | Command::PoolI8 {
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
                ..
            } => Some(PoolFields {
                kind: kind.0,
                src,
                dst,
                c,
                in_h,
                in_w,
                out_h,
                out_w,
                kernel: [kernel_h, kernel_w],
                stride: [stride_h, stride_w],
                pads: [pad_top, pad_left, pad_bottom, pad_right],
                quant,
            }),
            _ => None,
        }
    }
}
