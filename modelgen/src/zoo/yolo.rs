//! YOLOv3 as in darknet's `yolov3.cfg` (107 layers): Darknet-53 backbone (conv + bn +
//! LeakyReLU(0.1), residual blocks 1, 2, 8, 8, 4) and three heads joined by nearest 2x
//! upsampling and concat. Names follow the PyTorch port that wraps each cfg layer in
//! `module_list.<i>` (`/module_list.0/conv_0/Conv`, `module_list.0.batch_norm_0.weight`).

use super::{check_image, ZooOptions};
use crate::builder::GraphBuilder;
use crate::layers::Conv;
use anyhow::{ensure, Context, Result};
use tract_onnx::pb::ModelProto;

/// Channels of each head's raw prediction: 3 anchors x (80 classes + 5).
pub const YOLO_HEAD_CHANNELS: usize = 255;

/// One layer of the darknet cfg.
enum Layer {
    /// Conv with batch norm and leaky ReLU (`linear` = false), or a plain biased conv.
    Conv {
        filters: usize,
        size: usize,
        stride: usize,
        linear: bool,
    },
    /// `x + layers[i + from]`.
    Shortcut(i64),
    /// Concat of the listed layers (relative if negative).
    Route(Vec<i64>),
    Upsample,
    /// Detection layer: its input is a model output.
    Yolo,
}

fn conv(filters: usize, size: usize, stride: usize) -> Layer {
    Layer::Conv { filters, size, stride, linear: false }
}

/// The layers of `yolov3.cfg`.
fn cfg() -> Vec<Layer> {
    let mut v = vec![conv(32, 3, 1)];
    for (f, n) in [(64, 1), (128, 2), (256, 8), (512, 8), (1024, 4)] {
        v.push(conv(f, 3, 2));
        for _ in 0..n {
            v.push(conv(f / 2, 1, 1));
            v.push(conv(f, 3, 1));
            v.push(Layer::Shortcut(-3));
        }
    }
    for (f, skip) in [(512, None), (256, Some(61)), (128, Some(36))] {
        if let Some(skip) = skip {
            v.push(Layer::Route(vec![-4]));
            v.push(conv(f, 1, 1));
            v.push(Layer::Upsample);
            v.push(Layer::Route(vec![-1, skip]));
        }
        for _ in 0..3 {
            v.push(conv(f, 1, 1));
            v.push(conv(2 * f, 3, 1));
        }
        v.push(Layer::Conv { filters: YOLO_HEAD_CHANNELS, size: 1, stride: 1, linear: true });
        v.push(Layer::Yolo);
    }
    v
}

/// YOLOv3 on a `[batch, 3, h, w]` input named `images` (sides multiples of 32).
/// Outputs are the raw head convs: `output0` `[batch, 255, h/32, w/32]`, `output1`
/// (stride 16) and `output2` (stride 8).
pub fn yolov3_with(h: usize, w: usize, seed: u64, opts: &ZooOptions) -> Result<ModelProto> {
    check_image(h, w, 32)?;
    let mut b = opts.builder(seed)?;
    let x = b.input("images", &[opts.batch_dim(), 3.into(), h.into(), w.into()]);
    let mut outs: Vec<String> = vec![];
    let mut heads = vec![];
    for (i, layer) in cfg().into_iter().enumerate() {
        let prev = outs.last().cloned().unwrap_or_else(|| x.clone());
        let y = match layer {
            Layer::Conv { filters, size, stride, linear } => {
                let spec = Conv::new(filters, size).stride(stride).bias(linear);
                b.scoped(&format!("module_list.{i}"), |b| conv_layer(b, &prev, i, spec, linear))
            }
            Layer::Shortcut(from) => b.add(&prev, &outs[resolve(i, from)?]),
            Layer::Route(from) => {
                let srcs: Vec<String> =
                    from.iter().map(|&f| resolve(i, f).map(|j| outs[j].clone())).collect::<Result<_>>()?;
                if srcs.len() == 1 {
                    srcs[0].clone()
                } else {
                    b.concat(&srcs, 1)
                }
            }
            Layer::Upsample => b.scoped(&format!("module_list.{i}"), |b| {
                b.scoped(&format!("upsample_{i}"), |b| b.resize_nearest_2x(&prev))
            }),
            Layer::Yolo => {
                heads.push(prev.clone());
                prev
            }
        };
        outs.push(y);
    }
    for (k, head) in heads.iter().enumerate() {
        b.output(head, &format!("output{k}"));
    }
    b.finish()
}

/// A cfg conv layer: `conv_<i>` (+ `batch_norm_<i>`, `leaky_<i>` unless linear).
fn conv_layer(b: &mut GraphBuilder, x: &str, i: usize, spec: Conv, linear: bool) -> String {
    let conv = format!("conv_{i}");
    if linear {
        return b.scoped(&conv, |b| b.conv_with(x, spec));
    }
    let y = b.conv_bn(x, &conv, &format!("batch_norm_{i}"), spec);
    b.scoped(&format!("leaky_{i}"), |b| b.leaky_relu(&y, 0.1))
}

/// Resolves a darknet layer reference (negative = relative to layer `i`).
fn resolve(i: usize, from: i64) -> Result<usize> {
    let j = if from < 0 { i as i64 + from } else { from };
    ensure!(j >= 0 && (j as usize) < i, "layer {i}: bad reference {from}");
    usize::try_from(j).context("layer reference")
}
