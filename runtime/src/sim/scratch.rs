//! Per-tile scratch of the MAC commands (mostly the reduced-precision ones), kept in the session's workspace across commands
//! and runs: the accumulator and output buffers and the INT8 kernels' buffers (reused, so no command
//! allocates, page-faults or zeroes them), and the INT8 weights (and the f32 weights of the convolutions that
//! take the channel-lane GEMM, `lanes`) packed once per session. A weight operand is
//! cached only when a pending lazy load holds it (`Operands::origin`): its key is where its bytes stay
//! unchanged (an immutable DRAM address or a lazy image) plus the packing shape, valid exactly as long as the
//! lazy images (`clear` when the immutable range changes). This module must never change a result: whatever
//! is not cached is packed afresh.
use super::conv::{wants_lanes, ConvGeom};
use super::int8::{conv_packs_weights, Int8Scratch, PackedB, PackedConv};
use super::lanes::LanePacked;
use super::lazy::Origin;
use std::collections::HashMap;

/// Most bytes of packed weights cached per tile (beyond, weights are packed per command as before).
const MAX_PACKED_BYTES: usize = 512 << 20;

/// What a packed operand was packed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Shape {
    /// Convolution weights: groups, output channels per group, k per output channel.
    Conv(usize, usize, usize),
    /// Matmul B: k, n.
    MatB(usize, usize),
    /// f32 convolution weights for the channel-lane GEMM: groups, output channels per group, k.
    Lanes(usize, usize, usize),
}

#[derive(Debug)]
enum Packed {
    Conv(PackedConv),
    B(PackedB),
    Lanes(LanePacked),
}

/// One tile's MAC scratch and packed-weight cache.
#[derive(Debug, Default)]
pub(crate) struct MacScratch {
    /// The int32 accumulators of one command (every kernel writes all of them).
    pub(crate) acc: Vec<i32>,
    /// The requantized int8 outputs of one command.
    pub(crate) out: Vec<i8>,
    /// Packed weights of the current command when not cached.
    fresh_conv: PackedConv,
    fresh_b: PackedB,
    cache: HashMap<(Origin, Shape), Packed>,
    cached_bytes: usize,
    pub(crate) int8: Int8Scratch,
}

impl MacScratch {
    /// Forgets the packed weights (the immutable DRAM changed).
    pub(crate) fn clear(&mut self) {
        self.cache.clear();
        self.cached_bytes = 0;
    }

    /// Whether a packed operand of `bytes` may still be cached.
    fn room(&self, bytes: usize) -> bool {
        self.cached_bytes.saturating_add(bytes) <= MAX_PACKED_BYTES
    }

    /// The weights `w` of convolution `g` packed (from the cache when `origin` is known), and the kernels'
    /// buffers.
    pub(crate) fn conv_weights(
        &mut self,
        origin: Option<Origin>,
        g: &ConvGeom,
        w: &[i8],
    ) -> Result<(&PackedConv, &mut Int8Scratch), String> {
        if !conv_packs_weights(g) {
            return Ok((&self.fresh_conv, &mut self.int8));
        }
        let (groups, cg, kg) = (g.groups.max(1), g.in_c / g.groups.max(1), g.out_c / g.groups.max(1));
        let key = origin.map(|o| (o, Shape::Conv(groups, kg, cg * g.kernel[0] * g.kernel[1])));
        if let Some(key) = key {
            if !self.cache.contains_key(&key) && self.room(w.len()) {
                let mut p = PackedConv::default();
                p.pack(g, w)?;
                self.cached_bytes = self.cached_bytes.saturating_add(p.bytes());
                self.cache.insert(key, Packed::Conv(p));
            }
            if let Some(Packed::Conv(p)) = self.cache.get(&key) {
                return Ok((p, &mut self.int8));
            }
        }
        self.fresh_conv.pack(g, w)?;
        Ok((&self.fresh_conv, &mut self.int8))
    }

    /// `b` (`k x n`) packed (from the cache when `origin` is known), and the kernels' buffers.
    pub(crate) fn matmul_b(
        &mut self,
        origin: Option<Origin>,
        b: &[i8],
        k: usize,
        n: usize,
    ) -> Result<(&PackedB, &mut Int8Scratch), String> {
        if let Some(key) = origin.map(|o| (o, Shape::MatB(k, n))) {
            if !self.cache.contains_key(&key) && self.room(b.len()) {
                let mut p = PackedB::default();
                p.pack(b, k, n)?;
                self.cached_bytes = self.cached_bytes.saturating_add(p.bytes());
                self.cache.insert(key, Packed::B(p));
            }
            if let Some(Packed::B(p)) = self.cache.get(&key) {
                return Ok((p, &mut self.int8));
            }
        }
        self.fresh_b.pack(b, k, n)?;
        Ok((&self.fresh_b, &mut self.int8))
    }

    /// The f32 weights of convolution `g` packed for the channel-lane GEMM, when it would take them and
    /// `origin` is known (packed on first use from `w`, the weights' little-endian bytes). `None`: the
    /// convolution runs on the position-lane GEMM, as without a cache (packing per command would cost more
    /// than the padding it saves).
    pub(crate) fn lane_weights(&mut self, origin: Option<Origin>, g: &ConvGeom, w: &[u8]) -> Option<&LanePacked> {
        let origin = origin.filter(|_| wants_lanes(g))?;
        let (groups, cg, kg) = (g.groups.max(1), g.in_c / g.groups.max(1), g.out_c / g.groups.max(1));
        let k = cg * g.kernel[0] * g.kernel[1];
        let key = (origin, Shape::Lanes(groups, kg, k));
        if !self.cache.contains_key(&key) && self.room(w.len()) {
            let wf: Vec<f32> = w.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            let p = LanePacked::pack(groups, kg, k, &wf).ok()?;
            self.cached_bytes = self.cached_bytes.saturating_add(p.bytes());
            self.cache.insert(key, Packed::Lanes(p));
        }
        match self.cache.get(&key) {
            Some(Packed::Lanes(p)) => Some(p),
            _ => None,
        }
    }

    /// Packed operands cached (for tests).
    #[cfg(test)]
    pub(crate) fn cached(&self) -> usize {
        self.cache.len()
    }
}
