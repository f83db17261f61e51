//! Property: a depth-first fused chain of random convolutions (strides 1 and 2, kernels 1 and 3, "same" or
//! no padding, depthwise or dense, odd heights) computes what the same layers compute one at a time, and both
//! match tract. The target makes DRAM slow and SRAM small, so the scheduler fuses most chains and cuts them
//! into many stripes: the halo rows of every member, strided or not, are exercised at the top, in the middle
//! and at the bottom of the image.
use accel_compiler::driver::{compile_bytes, CompileOptions};
use accel_modelgen::{Conv, Dim, GraphBuilder};
use accel_ops::target::Target;
use accel_tests::harness::{assert_close, random_tensor, run_blob, tract_run, ATOL, RTOL};
use proptest::prelude::*;

/// One convolution of a random chain.
#[derive(Debug, Clone, Copy)]
struct Layer {
    out_ch: usize,
    kernel: usize,
    stride: usize,
    same_pad: bool,
    depthwise: bool,
    relu: bool,
}

fn layer() -> impl Strategy<Value = Layer> {
    (1usize..=6, prop_oneof![Just(1usize), Just(3)], 1usize..=2, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(out_ch, kernel, stride, same_pad, depthwise, relu)| Layer {
            out_ch,
            kernel,
            stride,
            same_pad,
            depthwise,
            relu,
        },
    )
}

/// The ONNX bytes of the chain on an `[1, c, h, w]` input, and how many convolutions it kept (a layer that
/// would leave no output row or column is dropped).
fn model(c: usize, h: usize, w: usize, layers: &[Layer], seed: u64) -> (Vec<u8>, usize) {
    let mut b = GraphBuilder::new(seed);
    let mut x = b.input("input", &[Dim::Fixed(1), c.into(), h.into(), w.into()]);
    let (mut ch, mut hh, mut ww, mut kept) = (c, h, w, 0);
    for (i, l) in layers.iter().enumerate() {
        let pad = if l.same_pad { l.kernel / 2 } else { 0 };
        let out = |n: usize| (n + 2 * pad).checked_sub(l.kernel).map(|v| v / l.stride + 1);
        let (Some(oh), Some(ow)) = (out(hh), out(ww)) else { continue };
        let (k, group) = if l.depthwise { (ch, ch) } else { (l.out_ch, 1) };
        let spec = Conv::new(k, l.kernel).stride(l.stride).pad(pad).group(group).bias(true);
        x = b.scoped(&format!("conv{i}"), |b| b.conv_with(&x, spec));
        if l.relu {
            x = b.relu(&x);
        }
        (ch, hh, ww, kept) = (k, oh, ow, kept + 1);
    }
    b.output(&x, "output");
    (accel_modelgen::to_bytes(&b.finish().expect("the chain builds")), kept)
}

/// `x1` with slow DRAM and host (fusion's saved traffic dominates every estimate, and no layer is cheaper on
/// the host) and `sram` bytes per tile (small: many stripes per chain).
fn target(sram: u64) -> Target {
    let mut t = Target::x1();
    t.tile.sram_bytes = sram;
    t.dram.bandwidth_gb_per_s = 1.0;
    t.host.gflops = 0.05;
    t.host.link_gb_per_s = 0.05;
    t
}

/// Compiles and runs; returns the layer names of the schedule and the output.
fn run(onnx: &[u8], target: &Target, no_fusion: bool, x: &accel_ops::Tensor) -> (Vec<String>, Vec<f32>) {
    let opts = CompileOptions { target: target.clone(), no_fusion, ..Default::default() };
    let c = compile_bytes(onnx, None, &opts).unwrap_or_else(|e| panic!("compile (no_fusion {no_fusion}): {e}"));
    let layers = c.program().debug.layers.clone();
    let out = run_blob(&c.blob, &[("input".to_string(), x.clone())]);
    (layers, out[0].1.to_f32_vec())
}

/// Whether some chain of the schedule has a stride-2 layer after its first member.
fn strided_member_fused(layer_names: &[String], layers: &[Layer]) -> bool {
    layer_names.iter().any(|name| {
        name.split(" > ").skip(1).any(|member| {
            layers.iter().enumerate().any(|(i, l)| l.stride == 2 && member.contains(&format!("/conv{i}/")))
        })
    })
}

/// Random chains through the property; at least a quarter of the cases must fuse a strided layer inside a
/// chain, so the property keeps covering what it is about.
#[test]
fn fused_strided_chains_match_unfused_layers_and_tract() {
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    let cases = 48;
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let strided = std::cell::Cell::new(0u32);
    let strategy = (
        1usize..=8,
        5usize..=41,
        3usize..=24,
        prop::collection::vec(layer(), 2..=4),
        prop_oneof![Just(64u64 << 10), Just(128u64 << 10), Just(2u64 << 20)],
        any::<u64>(),
    );
    let result = runner.run(&strategy, |(c, h, w, layers, sram, seed)| {
        let (onnx, kept) = model(c, h, w, &layers, seed);
        if kept < 2 {
            return Err(TestCaseError::reject("fewer than two convolutions fit the image"));
        }
        let t = target(sram);
        let x = random_tensor(&[1, c, h, w], seed ^ 0x5eed);
        let (fused_layers, fused) = run(&onnx, &t, false, &x);
        let (plain_layers, plain) = run(&onnx, &t, true, &x);
        prop_assert_eq!(plain_layers.len(), kept);
        if strided_member_fused(&fused_layers, &layers) {
            strided.set(strided.get() + 1);
        }
        assert_close("fused vs unfused", &fused, &plain, ATOL, RTOL);
        let want = tract_run(&onnx, &[x]);
        assert_close("fused vs tract", &fused, &want[0], ATOL, RTOL);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(strided.get() >= cases / 4, "only {} of {cases} cases fused a strided layer inside a chain", strided.get());
}
