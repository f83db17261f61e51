//! The accelerator's command set, defined once in `commands!` below: the table drives the enum, the encoder,
//! the decoder and the disassembler. Opcode numbers are the file format: explicit and append-only.
//! Memory footprints and parameter checks (the verifier's input) live in `footprint`; cycle and energy
//! costs in `crate::cost`.
//!
//! Decoding and footprints see untrusted bytes: no indexing or slicing that can panic (checked below).
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod examples;
mod field;
mod footprint;
mod pool;
mod queue;

pub use examples::examples;
pub use field::{Act, BinCode, Copy3, DecodeError, DramAddr, Field, PoolCode, Reader, SramAddr};
pub use footprint::{Access, CheckError, Space};
pub use pool::PoolFields;
pub use queue::{decode_queues, encode_queues, Queue, QueueId, Unit};

use crate::dtype::DType;

macro_rules! commands {
    ($(
        $(#[$doc:meta])*
        $code:literal $mnemonic:literal $name:ident on $unit:ident { $( $field:ident : $ty:ty ),* $(,)? }
    )*) => {
        /// One accelerator command. Each variant is one row of the table.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Command {
            $( $(#[$doc])* $name { $( $field: $ty ),* }, )*
        }

        /// Every opcode with its mnemonic, in table order.
        pub const OPCODES: &[(u8, &str)] = &[ $( ($code, $mnemonic), )* ];

        impl Command {
            pub fn opcode(&self) -> u8 {
                match self { $( Command::$name { .. } => $code, )* }
            }
            pub fn mnemonic(&self) -> &'static str {
                match self { $( Command::$name { .. } => $mnemonic, )* }
            }
            /// The unit class that executes this command (`None`: any queue may hold it).
            pub fn unit(&self) -> Option<Unit> {
                match self { $( Command::$name { .. } => unit_of!($unit), )* }
            }
            /// Appends the encoding: opcode byte, then each field little-endian in table order.
            pub fn encode(&self, out: &mut Vec<u8>) {
                match self {
                    $( Command::$name { $( $field ),* } => {
                        out.push($code);
                        $( Field::put($field, out); )*
                    } )*
                }
            }
            /// Decodes one command; never panics on any bytes.
            pub fn decode(r: &mut Reader<'_>) -> Result<Command, DecodeError> {
                let offset = r.offset();
                let opcode = u8::get(r)?;
                match opcode {
                    $( $code => Ok(Command::$name { $( $field: <$ty as Field>::get(r)? ),* }), )*
                    _ => Err(DecodeError::UnknownOpcode { offset, opcode }),
                }
            }
            /// `name=value` pairs for the disassembler, in table order.
            pub fn fields(&self) -> Vec<(&'static str, String)> {
                match self {
                    $( Command::$name { $( $field ),* } => vec![ $( (stringify!($field), Field::show($field)) ),* ], )*
                }
            }
        }
    };
}

macro_rules! unit_of {
    (any) => {
        None
    };
    ($u:ident) => {
        Some(Unit::$u)
    };
}

commands! {
    /// DRAM -> this tile's SRAM.
    0x01 "dma.load" Load on DmaIn { sram: SramAddr, dram: DramAddr, copy: Copy3 }
    /// DRAM -> the SRAM of every tile in the bit mask `tiles` (bit `t`: tile `t`), at the same address. DRAM is
    /// read once and each interconnect link of the routes' union carries the bytes once: layers whose tiles all
    /// read the same input (output channels split over the tiles) load it once instead of once per tile. The
    /// queue's own tile need not be in the mask.
    0x0B "dma.multicast" Multicast on DmaIn { sram: SramAddr, dram: DramAddr, copy: Copy3, tiles: u32 }
    /// This tile's SRAM -> DRAM.
    0x02 "dma.store" Store on DmaOut { sram: SramAddr, dram: DramAddr, copy: Copy3 }
    /// 2-D convolution of an SRAM block `[in_c, in_h, in_w]` with weights `[out_c, in_c/groups, kh, kw]` into a
    /// dense `[out_c, out_h, out_w]`. The input's rows lie `in_row_pitch >= in_w` elements apart and its planes
    /// `in_plane_rows >= in_h` rows apart: it may be a window (rows and columns) of a larger block that other
    /// layers of a fused chain read too. Bias `[out_c]` f32 (i32 for INT8). An optional `residual` of the output's
    /// shape is added before the activation, a window laid out the same way (`res_row_pitch >= out_w`,
    /// `res_plane_rows >= out_h`; both 0 without a residual). `quant` holds requantization parameters for INT8
    /// (absent for float). Padding applies to this block only: interior stripes carry halo rows and columns
    /// instead.
    /// `dtype` is the element type of input, weights, residual and output (f32, bf16 or i8); the arithmetic of
    /// each is defined in `crate::numerics`. For i8, `quant` is `numerics::QuantParams` (a 32-byte header of
    /// zero points, output clamp, residual requantization and LeakyReLU slope; with an `act`, that function's
    /// 256-byte int8 lookup table, `numerics::table`; then an i32 multiplier and shift per output channel). An
    /// i8 `act` is always a table: Relu, Clip and LeakyReLU live in the header, with `act` absent.
    0x03 "mac.conv" Conv on Mac {
        dtype: DType, input: SramAddr, in_c: u32, in_h: u32, in_w: u32, in_row_pitch: u32, in_plane_rows: u32,
        weights: SramAddr, bias: SramAddr, residual: SramAddr, res_row_pitch: u32, res_plane_rows: u32,
        quant: SramAddr, output: SramAddr,
        out_c: u32, out_h: u32, out_w: u32,
        kernel_h: u16, kernel_w: u16, stride_h: u16, stride_w: u16, dilation_h: u16, dilation_w: u16,
        pad_top: u16, pad_left: u16, pad_bottom: u16, pad_right: u16, groups: u32, act: Act,
    }
    /// `out[m,n] = act(a[m,k] * b[k,n] + bias[n])`, all row-major in SRAM; `dtype`, bias and `quant` as for
    /// `mac.conv`.
    0x04 "mac.matmul" MatMul on Mac {
        dtype: DType, a: SramAddr, b: SramAddr, bias: SramAddr, quant: SramAddr, output: SramAddr,
        m: u32, k: u32, n: u32, act: Act,
    }
    /// `dst[i] = f(src[i])` for `len` f32 elements.
    0x05 "vec.unary" Unary on Vector { func: Act, src: SramAddr, dst: SramAddr, len: u32 }
    /// `dst[i] = a[i] op b[(i / b_repeat) % b_period]`: full, scalar and per-channel broadcasts of `b`.
    0x06 "vec.binary" Binary on Vector {
        op: BinCode, a: SramAddr, b: SramAddr, dst: SramAddr, len: u32, b_period: u32, b_repeat: u32,
    }
    /// 2-D pooling of `[c, in_h, in_w]` into `[c, out_h, out_w]`; padding as for `mac.conv`.
    0x07 "vec.pool" Pool on Vector {
        kind: PoolCode, src: SramAddr, dst: SramAddr, c: u32, in_h: u32, in_w: u32, out_h: u32, out_w: u32,
        kernel_h: u16, kernel_w: u16, stride_h: u16, stride_w: u16,
        pad_top: u16, pad_left: u16, pad_bottom: u16, pad_right: u16,
    }
    /// `vec.pool` on int8 (`crate::numerics::pool`): each window's max, or sum, of `src - x_zero` is requantized
    /// by `mult` and `shift` (a factor `mult * 2^(shift - 31)`, divided by the window's count for an average) to
    /// `y_zero`. A max pool with the identity parameters is exact.
    0x0A "vec.pool.i8" PoolI8 on Vector {
        kind: PoolCode, src: SramAddr, dst: SramAddr, c: u32, in_h: u32, in_w: u32, out_h: u32, out_w: u32,
        kernel_h: u16, kernel_w: u16, stride_h: u16, stride_w: u16,
        pad_top: u16, pad_left: u16, pad_bottom: u16, pad_right: u16,
        x_zero: i32, y_zero: i32, mult: i32, shift: i32,
    }
    /// Per-channel `dst = src * scale[c] + shift[c]` over `[c, inner]`; `params` holds scale then shift.
    0x08 "vec.affine" Affine on Vector { src: SramAddr, dst: SramAddr, params: SramAddr, c: u32, inner: u32 }
    /// `dst[i] = convert(src[i])` for `len` elements from `from` to `to` (`crate::numerics::convert`): f32 <->
    /// bf16, and f32/bf16 <-> i8 with `params` = scale (f32) then zero point (i32); `params` is absent otherwise.
    0x09 "vec.convert" Convert on Vector { from: DType, to: DType, src: SramAddr, dst: SramAddr, params: SramAddr, len: u32 }
    /// Runs host kernel `kernel` (an index into the blob's kernel table) on DRAM buffers.
    0x10 "host.call" HostCall on Host { kernel: u32 }
    /// Increments semaphore `sem` once this queue's earlier commands are done.
    0x20 "sync.signal" Signal on any { sem: u16 }
    /// Blocks this queue until semaphore `sem` has been signalled at least `value` times.
    0x21 "sync.wait" Wait on any { sem: u16, value: u32 }
}

impl Command {
    /// The tiles whose SRAM a DMA into SRAM writes: `tile` for `dma.load`, the mask's tiles for
    /// `dma.multicast` (in tile order), none for any other command.
    pub fn sram_destinations(&self, tile: u16) -> Vec<u16> {
        match self {
            Command::Load { .. } => vec![tile],
            Command::Multicast { tiles, .. } => mask_tiles(*tiles).collect(),
            _ => Vec::new(),
        }
    }
}

/// The tiles of a multicast mask, in increasing order.
pub fn mask_tiles(mask: u32) -> impl Iterator<Item = u16> {
    (0..32u16).filter(move |t| mask & (1u32 << t) != 0)
}

/// Element size of a compute dtype in SRAM.
pub fn elem_bytes(dtype: DType) -> u64 {
    dtype.size() as u64
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
