//! torchvision MobileNetV2 (width 1.0): inverted residuals with ReLU6 exported as
//! `Clip(0, 6)`, depthwise convs (group = channels), residual adds, and the classifier.

use super::{check_image, ZooOptions};
use crate::builder::GraphBuilder;
use crate::layers::Conv;
use anyhow::Result;
use tract_onnx::pb::ModelProto;

/// (expansion t, output channels c, repeats n, first stride s), as in torchvision.
const SETTINGS: [(usize, usize, usize, usize); 7] =
    [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

/// MobileNetV2 on a `[batch, 3, h, w]` input named `input`; output `output`
/// `[batch, 1000]` (logits of `classifier.1`, a Gemm; the eval-mode Dropout is absent).
pub fn mobilenetv2_with(h: usize, w: usize, seed: u64, opts: &ZooOptions) -> Result<ModelProto> {
    check_image(h, w, 1)?;
    let mut b = opts.builder(seed)?;
    let x = b.input("input", &[opts.batch_dim(), 3.into(), h.into(), w.into()]);
    b.push_scope("features");
    let mut x = b.scoped("0", |b| conv_bn_relu6(b, &x, Conv::new(32, 3).stride(2)));
    let mut inp = 32;
    let mut index = 1;
    for (t, c, n, s) in SETTINGS {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            x = b.scoped(&index.to_string(), |b| inverted_residual(b, &x, inp, c, stride, t));
            inp = c;
            index += 1;
        }
    }
    let x = b.scoped(&index.to_string(), |b| conv_bn_relu6(b, &x, Conv::new(1280, 1)));
    b.pop_scope();
    let x = b.global_avg_pool(&x);
    let x = b.flatten(&x, 1);
    let x = b.scoped("classifier", |b| b.scoped("1", |b| b.gemm(&x, 1000)));
    b.output(&x, "output");
    b.finish()
}

/// torchvision `Conv2dNormActivation` with ReLU6 in the current scope: `.0` conv,
/// `.1` batch norm, `.2` Clip.
pub(crate) fn conv_bn_relu6(b: &mut GraphBuilder, x: &str, spec: Conv) -> String {
    let y = b.conv_bn(x, "0", "1", spec);
    b.scoped("2", |b| b.relu6(&y))
}

/// torchvision `InvertedResidual` in the current scope (`conv.0`, `conv.1`, ...), with a
/// residual add when `stride == 1` and `inp == oup`.
pub(crate) fn inverted_residual(
    b: &mut GraphBuilder,
    x: &str,
    inp: usize,
    oup: usize,
    stride: usize,
    expand: usize,
) -> String {
    let hidden = inp * expand;
    b.push_scope("conv");
    let mut y = x.to_string();
    let mut idx = 0;
    if expand != 1 {
        y = b.scoped("0", |b| conv_bn_relu6(b, &y, Conv::new(hidden, 1)));
        idx += 1;
    }
    let dw = Conv::new(hidden, 3).stride(stride).group(hidden);
    y = b.scoped(&idx.to_string(), |b| conv_bn_relu6(b, &y, dw));
    let (conv, bn) = ((idx + 1).to_string(), (idx + 2).to_string());
    y = b.conv_bn(&y, &conv, &bn, Conv::new(oup, 1));
    b.pop_scope();
    if stride == 1 && inp == oup {
        b.add(x, &y)
    } else {
        y
    }
}
