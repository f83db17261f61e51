//! torchvision ResNet-50 (v1.5: stride on the 3x3 conv of the bottleneck), named as
//! `torch.onnx.export` names it (`/layer1/layer1.0/conv1/Conv`, `layer1.0.conv1.weight`).

use super::{check_image, ZooOptions};
use crate::builder::GraphBuilder;
use crate::layers::Conv;
use anyhow::Result;
use tract_onnx::pb::ModelProto;

/// ResNet-50 on a `[batch, 3, h, w]` input named `input`; output `output` `[batch, 1000]`
/// (logits of `fc`, a Gemm).
pub fn resnet50_with(h: usize, w: usize, seed: u64, opts: &ZooOptions) -> Result<ModelProto> {
    check_image(h, w, 1)?;
    let mut b = opts.builder(seed)?;
    let x = b.input("input", &[opts.batch_dim(), 3.into(), h.into(), w.into()]);
    let x = b.conv_bn(&x, "conv1", "bn1", Conv::new(64, 7).stride(2).pad(3));
    let x = b.scoped("relu", |b| b.relu(&x));
    let mut x = b.scoped("maxpool", |b| b.max_pool(&x, 3, 2, 1));
    let mut inplanes = 64;
    for (i, (planes, blocks, stride)) in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)].into_iter().enumerate() {
        b.push_scope(&format!("layer{}", i + 1));
        for j in 0..blocks {
            let s = if j == 0 { stride } else { 1 };
            x = b.scoped(&j.to_string(), |b| bottleneck(b, &x, inplanes, planes, s));
            inplanes = planes * 4;
        }
        b.pop_scope();
    }
    let x = b.scoped("avgpool", |b| b.global_avg_pool(&x));
    let x = b.flatten(&x, 1);
    let x = b.scoped("fc", |b| b.gemm(&x, 1000));
    b.output(&x, "output");
    b.finish()
}

/// torchvision `Bottleneck` (expansion 4) in the current scope.
fn bottleneck(b: &mut GraphBuilder, x: &str, inplanes: usize, planes: usize, stride: usize) -> String {
    let out = b.conv_bn(x, "conv1", "bn1", Conv::new(planes, 1));
    let out = b.scoped("relu", |b| b.relu(&out));
    let out = b.conv_bn(&out, "conv2", "bn2", Conv::new(planes, 3).stride(stride));
    let out = b.scoped("relu", |b| b.relu(&out));
    let out = b.conv_bn(&out, "conv3", "bn3", Conv::new(planes * 4, 1));
    let identity = if stride != 1 || inplanes != planes * 4 {
        b.scoped("downsample", |b| b.conv_bn(x, "0", "1", Conv::new(planes * 4, 1).stride(stride)))
    } else {
        x.to_string()
    };
    let out = b.add(&out, &identity);
    b.scoped("relu", |b| b.relu(&out))
}
