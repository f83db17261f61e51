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
    let budget = Budget {
        cap,
        tiles: 4,
        dram_bytes_per_cycle: 16.0,
        ops_per_cycle: 128.0,
        dma_latency: 104.0,
        chain_resident: 0,
    };
    let (kc, _, _, _) = conv_stream_plan(&s, &conv, &io, &budget).expect("a plan");
    assert!(kc * 4 <= s.k * 3, "{kc} of {} channels on one tile", s.k);
}

/// YOLOv3's 38x38 3x3 layer (256 -> 512, int8) with a chunk of output channels resident per tile: its whole
/// input fits one buffer set, and one stripe per chunk ran load, compute and store one after another (627k
/// simulated cycles where ~490k were possible). The plan must cut the chunk into several stripes.
#[test]
fn stationary_chunks_run_several_stripes_to_overlap_dma() {
    use super::stationary::plan_stationary;
    let s = WindowShape { n: 1, c: 256, h: 38, w: 38, k: 512, oh: 38, ow: 38 };
    let conv = Conv { kernel: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [1; 4], group: 1, act: None };
    let io = ConvIo { x: 0, w: 0, b: 0, residual: None, y: 0, dtype: DType::I8, quant: Some(0), table: false };
    let sram = 2 << 20;
    let budget = Budget {
        cap: sram / 2,
        tiles: 4,
        dram_bytes_per_cycle: 16.0,
        ops_per_cycle: 1024.0,
        dma_latency: 104.0,
        chain_resident: 0,
    };
    let p = plan_stationary(&s, &conv, &io, sram, &budget).expect("a plan");
    assert!(p.rows * 2 <= s.oh, "{} of {} rows per stripe", p.rows, s.oh);
}
