//! Property: every blob the compiler produces for a random small graph (conv / relu / add / pool chains,
//! optionally ending in flatten + gemm) passes the runtime's verifier, and every single-byte change of it is
//! refused by the loader with a container or verifier error: never a panic, never a load of other content.
use accel_modelgen::{Conv, Dim, GraphBuilder};
use accel_ops::target::Target;
use accel_runtime::random::SplitMix64;
use accel_runtime::{RuntimeError, Session};
use accel_tests::harness::compile;
use proptest::prelude::*;

/// One layer of a random chain.
#[derive(Debug, Clone, Copy)]
enum Layer {
    Conv {
        out_ch: usize,
        kernel: usize,
        stride: usize,
    },
    Relu,
    /// A residual add of the value two layers back (or the input), when shapes agree.
    Add,
    MaxPool,
    AvgPool,
}

fn layer() -> impl Strategy<Value = Layer> {
    prop_oneof![
        (1usize..=6, prop_oneof![Just(1usize), Just(3)], 1usize..=2).prop_map(|(out_ch, kernel, stride)| Layer::Conv {
            out_ch,
            kernel,
            stride
        }),
        Just(Layer::Relu),
        Just(Layer::Add),
        Just(Layer::MaxPool),
        Just(Layer::AvgPool),
    ]
}

/// The ONNX bytes of a chain on an `[1, c, h, w]` input.
fn model(c: usize, h: usize, w: usize, layers: &[Layer], gemm: bool, seed: u64) -> Vec<u8> {
    let mut b = GraphBuilder::new(seed);
    let input = b.input("input", &[Dim::Fixed(1), c.into(), h.into(), w.into()]);
    let mut prev = input.clone();
    let mut x = input;
    for (i, l) in layers.iter().enumerate() {
        let before = x.clone();
        let size = b.shape(&x).map(|s| s.iter().filter_map(Dim::fixed).collect::<Vec<_>>()).unwrap_or_default();
        let small = size.get(2).copied().unwrap_or(0) < 2 || size.get(3).copied().unwrap_or(0) < 2;
        x = match *l {
            Layer::Conv { out_ch, kernel, stride } => {
                b.scoped(&format!("conv{i}"), |b| b.conv_with(&x, Conv::new(out_ch, kernel).stride(stride).bias(true)))
            }
            Layer::Relu => b.relu(&x),
            Layer::Add if b.shape(&prev) == b.shape(&x) => b.add(&x, &prev),
            Layer::Add => b.relu(&x),
            Layer::MaxPool if !small => b.max_pool(&x, 2, 2, 0),
            Layer::AvgPool if !small => b.avg_pool(&x, 3, 1, 1),
            Layer::MaxPool | Layer::AvgPool => b.relu(&x),
        };
        prev = before;
    }
    if gemm {
        x = b.global_avg_pool(&x);
        x = b.flatten(&x, 1);
        x = b.scoped("fc", |b| b.gemm(&x, 5));
    }
    b.output(&x, "output");
    accel_modelgen::to_bytes(&b.finish().expect("the chain builds"))
}

/// Flips byte `i` of `blob` and asserts the loader refuses it with a typed error.
fn assert_flip_refused(blob: &[u8], i: usize, pattern: u8) {
    let mut b = blob.to_vec();
    b[i] ^= pattern;
    match Session::load(&b) {
        Err(RuntimeError::Blob(_) | RuntimeError::Verify(_)) => {}
        Err(e) => panic!("flip at byte {i}: unexpected error kind: {e}"),
        Ok(_) => panic!("flip at byte {i} of {} was loaded", blob.len()),
    }
}

fn compiled_blob(bytes: &[u8]) -> Vec<u8> {
    let blob = compile(bytes, &Target::x1(), &[]).blob;
    if let Err(e) = Session::load(&blob) {
        panic!("the verifier refuses a compiled blob: {e}");
    }
    blob
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn compiled_blobs_verify_and_every_byte_flip_is_refused(
        c in 1usize..=4,
        h in 3usize..=12,
        w in 3usize..=12,
        layers in prop::collection::vec(layer(), 1..=5),
        gemm in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let blob = compiled_blob(&model(c, h, w, &layers, gemm, seed));
        // Every byte, each with its own random non-zero change (a refusal costs a checksum: microseconds).
        let mut rng = SplitMix64::new(seed);
        for i in 0..blob.len() {
            let pattern = (rng.next_u64() % 255) as u8 + 1;
            assert_flip_refused(&blob, i, pattern);
        }
    }
}

#[test]
fn every_byte_flip_of_two_compiled_blobs_is_refused() {
    let chains = [
        vec![Layer::Conv { out_ch: 4, kernel: 3, stride: 1 }, Layer::Relu, Layer::MaxPool],
        vec![Layer::Conv { out_ch: 3, kernel: 1, stride: 2 }, Layer::Add, Layer::AvgPool],
    ];
    for (k, layers) in chains.iter().enumerate() {
        let blob = compiled_blob(&model(3, 8, 8, layers, k == 1, k as u64));
        for i in 0..blob.len() {
            for pattern in [0x01, 0x80, 0xff] {
                assert_flip_refused(&blob, i, pattern);
            }
        }
    }
}
