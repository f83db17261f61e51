//! The streamed convolution's tiling choice.
use super::window::{conv_stream_plan, Budget, ConvIo, WindowShape};
use accel_ops::op::Conv;
use accel_ops::DType;

/// MobileNetV2's 7x7 expansion (160 -> 960 channels, 1x1): its weights fit one tile's buffer set but for 8
/// channels. The estimate once split the work evenly over the items, so 952 + 8 channels looked as fast as
/// 4 x 240 and one tile did almost all of it. The busiest tile's share must now stay under three quarters
/// (the DRAM-bound estimate picks 688 + 272 today: fewer input reloads).
#[test]
fn uneven_channel_chunks_do_not_hide_an_idle_machine() {
    let s = WindowShape { n: 1, c: 160, h: 7, w: 7, k: 960, oh: 7, ow: 7 };
    let conv = Conv { kernel: [1, 1], strides: [1, 1], dilations: [1, 1], pads: [0; 4], group: 1, act: None };
    let io = ConvIo { x: 0, w: 0, b: 0, residual: None, y: 0, dtype: DType::F32, quant: None, table: false };
    // One buffer set: room for 952 channels' weights, input and output, not for all 960.
    let cap = (952 * 160 + 160 * 49 + 952 * 49) * 4 + 952 * 4 + 4096;
    let budget = Budget { cap, tiles: 4, dram_bytes_per_cycle: 16.0, ops_per_cycle: 128.0 };
    let (kc, _, _, _) = conv_stream_plan(&s, &conv, &io, &budget).expect("a plan");
    assert!(kc * 4 <= s.k * 3, "{kc} of {} channels on one tile", s.k);
}
