//! Small graphs for unit tests: a tiny CNN, a conv-bn-relu stack, a ResNet BasicBlock, a
//! MobileNetV2 inverted residual and a YOLOv8 C2f block.

use super::mobilenet::inverted_residual;
use super::{check_count, check_image, ZooOptions};
use crate::builder::GraphBuilder;
use crate::layers::Conv;
use anyhow::Result;
use tract_onnx::pb::ModelProto;

/// Largest channel count the block builders accept.
const MAX_CHANNELS: usize = 4096;

fn image_input(b: &mut GraphBuilder, opts: &ZooOptions, c: usize, h: usize, w: usize) -> String {
    b.input("input", &[opts.batch_dim(), c.into(), h.into(), w.into()])
}

/// conv-bn-relu x2, maxpool 2x2, a residual BasicBlock, global average pool, Gemm to 10
/// classes and Softmax. Input `input` `[batch, 3, h, w]` (sides >= 2), output `output`
/// `[batch, 10]`.
pub fn tiny_cnn_with(h: usize, w: usize, seed: u64, opts: &ZooOptions) -> Result<ModelProto> {
    check_image(h, w, 1)?;
    anyhow::ensure!(h >= 2 && w >= 2, "tiny-cnn needs sides >= 2");
    let mut b = opts.builder(seed)?;
    let x = image_input(&mut b, opts, 3, h, w);
    let x = b.conv_bn(&x, "conv1", "bn1", Conv::new(8, 3));
    let x = b.scoped("relu", |b| b.relu(&x));
    let x = b.conv_bn(&x, "conv2", "bn2", Conv::new(16, 3));
    let x = b.scoped("relu", |b| b.relu(&x));
    let x = b.scoped("pool", |b| b.max_pool(&x, 2, 2, 0));
    let x = b.scoped("block", |b| basic_block(b, &x, 16));
    let x = b.scoped("avgpool", |b| b.global_avg_pool(&x));
    let x = b.flatten(&x, 1);
    let x = b.scoped("fc", |b| b.gemm(&x, 10));
    let x = b.softmax(&x, 1);
    b.output(&x, "output");
    b.finish()
}

/// `depth` x (3x3 conv, bn, relu) as an `nn.Sequential` named `layers`
/// (`layers.<i>.0` conv, `.1` bn, `.2` relu). Input `input` `[batch, 3, h, w]`, output
/// `output` `[batch, channels, h, w]`.
pub fn conv_bn_relu_stack_with(
    h: usize,
    w: usize,
    channels: usize,
    depth: usize,
    seed: u64,
    opts: &ZooOptions,
) -> Result<ModelProto> {
    check_image(h, w, 1)?;
    check_count("channels", channels, MAX_CHANNELS)?;
    check_count("depth", depth, 256)?;
    let mut b = opts.builder(seed)?;
    let mut x = image_input(&mut b, opts, 3, h, w);
    b.push_scope("layers");
    for i in 0..depth {
        x = b.scoped(&i.to_string(), |b| {
            let y = b.conv_bn(&x, "0", "1", Conv::new(channels, 3));
            b.scoped("2", |b| b.relu(&y))
        });
    }
    b.pop_scope();
    b.output(&x, "output");
    b.finish()
}

/// One torchvision `BasicBlock` (conv-bn-relu, conv-bn, + identity, relu) on
/// `[batch, channels, h, w]`; input `input`, output `output` of the same shape.
pub fn residual_block_with(h: usize, w: usize, channels: usize, seed: u64, opts: &ZooOptions) -> Result<ModelProto> {
    check_image(h, w, 1)?;
    check_count("channels", channels, MAX_CHANNELS)?;
    let mut b = opts.builder(seed)?;
    let x = image_input(&mut b, opts, channels, h, w);
    let y = basic_block(&mut b, &x, channels);
    b.output(&y, "output");
    b.finish()
}

/// One MobileNetV2 `InvertedResidual` (stride 1, expansion `expand`, ReLU6 as Clip,
/// depthwise 3x3, residual add) on `[batch, channels, h, w]`; output `output`.
pub fn inverted_residual_with(
    h: usize,
    w: usize,
    channels: usize,
    expand: usize,
    seed: u64,
    opts: &ZooOptions,
) -> Result<ModelProto> {
    check_image(h, w, 1)?;
    check_count("channels", channels, MAX_CHANNELS)?;
    check_count("expand", expand, 16)?;
    let mut b = opts.builder(seed)?;
    let x = image_input(&mut b, opts, channels, h, w);
    let y = inverted_residual(&mut b, &x, channels, channels, 1, expand);
    b.output(&y, "output");
    b.finish()
}

/// One YOLOv8 `C2f` (c1 = c2 = `channels`, e = 0.5, `n` bottlenecks with shortcut, SiLU
/// as Sigmoid + Mul): `cv1`, `Split` into two halves, bottlenecks on the last half,
/// `Concat` of all, `cv2`. `channels` must be even. Input `input`, output `output`.
pub fn c2f_block_with(
    h: usize,
    w: usize,
    channels: usize,
    n: usize,
    seed: u64,
    opts: &ZooOptions,
) -> Result<ModelProto> {
    check_image(h, w, 1)?;
    check_count("channels", channels, MAX_CHANNELS)?;
    check_count("n", n, 16)?;
    anyhow::ensure!(channels.checked_rem(2) == Some(0), "c2f: channels {channels} must be even");
    let c = channels / 2;
    let mut b = opts.builder(seed)?;
    let x = image_input(&mut b, opts, channels, h, w);
    let y = b.scoped("cv1", |b| yolo_conv(b, &x, Conv::new(2 * c, 1)));
    let mut parts = b.split(&y, 1, &[c, c]);
    b.push_scope("m");
    for i in 0..n {
        let last = parts[parts.len() - 1].clone();
        let z = b.scoped(&i.to_string(), |b| {
            let t = b.scoped("cv1", |b| yolo_conv(b, &last, Conv::new(c, 3)));
            let t = b.scoped("cv2", |b| yolo_conv(b, &t, Conv::new(c, 3)));
            b.add(&last, &t)
        });
        parts.push(z);
    }
    b.pop_scope();
    let cat = b.concat(&parts, 1);
    let out = b.scoped("cv2", |b| yolo_conv(b, &cat, Conv::new(channels, 1)));
    b.output(&out, "output");
    b.finish()
}

/// torchvision `BasicBlock` with identity shortcut in the current scope.
fn basic_block(b: &mut GraphBuilder, x: &str, channels: usize) -> String {
    let y = b.conv_bn(x, "conv1", "bn1", Conv::new(channels, 3));
    let y = b.scoped("relu", |b| b.relu(&y));
    let y = b.conv_bn(&y, "conv2", "bn2", Conv::new(channels, 3));
    let y = b.add(&y, x);
    b.scoped("relu", |b| b.relu(&y))
}

/// Ultralytics `Conv` in the current scope: `conv` (no bias), `bn`, `act` (SiLU).
fn yolo_conv(b: &mut GraphBuilder, x: &str, spec: Conv) -> String {
    let y = b.conv_bn(x, "conv", "bn", spec);
    b.scoped("act", |b| b.silu(&y))
}
