//! Model zoo entry points: `ZooOptions`, the `Arch` list the CLI uses, `build()`, the
//! default-option shorthands, and the input validation shared by all architectures.

mod blocks;
mod mobilenet;
mod resnet;
mod transformer;
mod yolo;

pub use blocks::{c2f_block_with, conv_bn_relu_stack_with, inverted_residual_with, residual_block_with, tiny_cnn_with};
pub use mobilenet::mobilenetv2_with;
pub use resnet::resnet50_with;
pub use transformer::transformer_block_with;
pub use yolo::yolov3_with;

use crate::builder::{GraphBuilder, DEFAULT_OPSET};
use crate::shape::Dim;
use anyhow::{ensure, Result};
use std::fmt;
use std::str::FromStr;
use tract_onnx::pb::ModelProto;

/// Largest accepted spatial size / sequence length.
pub const MAX_SIDE: usize = 8192;

/// How a zoo model is exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZooOptions {
    /// ONNX opset, 11..=17 (default 13).
    pub opset: i64,
    /// Weights as `Constant` nodes instead of initializers (Paddle-style exports).
    pub weights_as_constants: bool,
    /// Fold BatchNormalization into the preceding Conv (same function, same seed draws).
    pub fold_bn: bool,
    /// Batch dim of the input and outputs is the symbol `batch`.
    pub dynamic_batch: bool,
    /// Batch size when `dynamic_batch` is false (default 1).
    pub batch: usize,
}

impl Default for ZooOptions {
    fn default() -> Self {
        ZooOptions { opset: DEFAULT_OPSET, weights_as_constants: false, fold_bn: false, dynamic_batch: false, batch: 1 }
    }
}

impl ZooOptions {
    /// A builder configured with these options.
    pub fn builder(&self, seed: u64) -> Result<GraphBuilder> {
        ensure!(self.batch >= 1, "batch must be >= 1");
        Ok(GraphBuilder::new(seed)
            .opset(self.opset)
            .weights_as_constants(self.weights_as_constants)
            .fold_bn(self.fold_bn))
    }

    /// The batch dim: the symbol `batch`, or the fixed batch size.
    pub fn batch_dim(&self) -> Dim {
        if self.dynamic_batch {
            Dim::Sym("batch".to_string())
        } else {
            Dim::Fixed(self.batch)
        }
    }
}

/// Checks image sides are in 1..=MAX_SIDE and multiples of `multiple`.
pub(crate) fn check_image(h: usize, w: usize, multiple: usize) -> Result<()> {
    for (what, v) in [("height", h), ("width", w)] {
        ensure!((1..=MAX_SIDE).contains(&v), "{what} {v} out of range 1..={MAX_SIDE}");
        ensure!(v.checked_rem(multiple) == Some(0), "{what} {v} must be a multiple of {multiple}");
    }
    Ok(())
}

/// Checks a channel-like count is in 1..=max.
pub(crate) fn check_count(what: &str, v: usize, max: usize) -> Result<()> {
    ensure!((1..=max).contains(&v), "{what} {v} out of range 1..={max}");
    Ok(())
}

macro_rules! default_options {
    ($( $(#[$m:meta])* $name:ident => $with:ident ( $($arg:ident : $ty:ty),* ); )*) => {
        $(
            $(#[$m])*
            pub fn $name($($arg: $ty,)* seed: u64) -> Result<ModelProto> {
                $with($($arg,)* seed, &ZooOptions::default())
            }
        )*
    };
}

default_options! {
    /// torchvision ResNet-50 (v1.5) with default options.
    resnet50 => resnet50_with(h: usize, w: usize);
    /// torchvision MobileNetV2 1.0 with default options.
    mobilenetv2 => mobilenetv2_with(h: usize, w: usize);
    /// YOLOv3 (Darknet-53 + three heads) with default options; sides multiple of 32.
    yolov3 => yolov3_with(h: usize, w: usize);
    /// Tiny CNN for unit tests with default options.
    tiny_cnn => tiny_cnn_with(h: usize, w: usize);
    /// `depth` conv-bn-relu layers with default options.
    conv_bn_relu_stack => conv_bn_relu_stack_with(h: usize, w: usize, channels: usize, depth: usize);
    /// One ResNet BasicBlock with default options.
    residual_block => residual_block_with(h: usize, w: usize, channels: usize);
    /// One MobileNetV2 inverted residual (stride 1, residual add) with default options.
    inverted_residual => inverted_residual_with(h: usize, w: usize, channels: usize, expand: usize);
    /// One YOLOv8 C2f block with default options.
    c2f_block => c2f_block_with(h: usize, w: usize, channels: usize, n: usize);
    /// One pre-norm transformer encoder block with default options.
    transformer_block => transformer_block_with(seq: usize, dim: usize, heads: usize);
}

/// The architectures `build` (and the CLI) know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    Resnet50,
    Mobilenetv2,
    Yolov3,
    TinyCnn,
    ConvBnReluStack,
    ResidualBlock,
    InvertedResidual,
    C2fBlock,
    TransformerBlock,
}

impl Arch {
    /// Every architecture.
    pub const ALL: [Arch; 9] = [
        Arch::Resnet50,
        Arch::Mobilenetv2,
        Arch::Yolov3,
        Arch::TinyCnn,
        Arch::ConvBnReluStack,
        Arch::ResidualBlock,
        Arch::InvertedResidual,
        Arch::C2fBlock,
        Arch::TransformerBlock,
    ];

    /// The CLI name (`resnet50`, `tiny-cnn`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Arch::Resnet50 => "resnet50",
            Arch::Mobilenetv2 => "mobilenetv2",
            Arch::Yolov3 => "yolov3",
            Arch::TinyCnn => "tiny-cnn",
            Arch::ConvBnReluStack => "conv-bn-relu-stack",
            Arch::ResidualBlock => "residual-block",
            Arch::InvertedResidual => "inverted-residual",
            Arch::C2fBlock => "c2f-block",
            Arch::TransformerBlock => "transformer-block",
        }
    }

    /// A typical (height, width); for `transformer-block`, (sequence length, model dim).
    pub fn default_size(self) -> (usize, usize) {
        match self {
            Arch::Resnet50 | Arch::Mobilenetv2 => (224, 224),
            Arch::Yolov3 => (416, 416),
            Arch::TransformerBlock => (16, 64),
            _ => (32, 32),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Arch, String> {
        let norm = s.to_ascii_lowercase().replace('_', "-");
        Arch::ALL.into_iter().find(|a| a.name() == norm).ok_or_else(|| {
            let names: Vec<&str> = Arch::ALL.iter().map(|a| a.name()).collect();
            format!("unknown model {s:?}; expected one of {}", names.join(", "))
        })
    }
}

/// Builds `arch` at `h x w` with the blocks' default widths: conv-bn-relu-stack 16
/// channels x 4, residual-block 16 channels, inverted-residual 16 channels x6 expansion,
/// c2f-block 32 channels n=2, transformer-block sequence `h`, dim `w`, 4 heads.
pub fn build(arch: Arch, h: usize, w: usize, seed: u64, opts: &ZooOptions) -> Result<ModelProto> {
    match arch {
        Arch::Resnet50 => resnet50_with(h, w, seed, opts),
        Arch::Mobilenetv2 => mobilenetv2_with(h, w, seed, opts),
        Arch::Yolov3 => yolov3_with(h, w, seed, opts),
        Arch::TinyCnn => tiny_cnn_with(h, w, seed, opts),
        Arch::ConvBnReluStack => conv_bn_relu_stack_with(h, w, 16, 4, seed, opts),
        Arch::ResidualBlock => residual_block_with(h, w, 16, seed, opts),
        Arch::InvertedResidual => inverted_residual_with(h, w, 16, 6, seed, opts),
        Arch::C2fBlock => c2f_block_with(h, w, 32, 2, seed, opts),
        Arch::TransformerBlock => transformer_block_with(h, w, 4, seed, opts),
    }
}
