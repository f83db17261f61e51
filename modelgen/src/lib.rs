//! accel-modelgen: writes ONNX models (`tract_onnx::pb::ModelProto`) the way PyTorch
//! exports them, with seeded deterministic random weights, for tests and benchmarks.
//!
//! * [`GraphBuilder`] writes arbitrary graphs with PyTorch-style names.
//! * [`zoo`] has ResNet-50, MobileNetV2, YOLOv3 and small test blocks.
//! * [`to_bytes`] / [`write`] serialise a model.
//!
//! ```no_run
//! use accel_modelgen::{zoo, Conv, Dim, GraphBuilder, ZooOptions};
//!
//! // A zoo model with non-default export options.
//! let opts = ZooOptions { opset: 11, fold_bn: true, dynamic_batch: true, ..Default::default() };
//! let model = zoo::resnet50_with(224, 224, 42, &opts)?;
//! accel_modelgen::write("resnet50.onnx", &model)?;
//!
//! // A custom graph: nodes `/stem/Conv`, `/bn/BatchNormalization`, weights `stem.weight`, ...
//! let mut b = GraphBuilder::new(7).opset(13);
//! let x = b.input("input", &[Dim::Sym("batch".into()), 3.into(), 32.into(), 32.into()]);
//! let y = b.conv_bn(&x, "stem", "bn", Conv::new(16, 3).stride(2));
//! let y = b.silu(&y);
//! b.output(&y, "output");
//! let bytes = accel_modelgen::to_bytes(&b.finish()?);
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod builder;
mod init;
mod layers;
mod ops;
mod proto;
pub mod qdq;
pub mod shape;
mod shape_ops;
mod stats;
pub mod zoo;

pub use builder::{GraphBuilder, DEFAULT_OPSET, OPSET_RANGE, POISONED};
pub use layers::Conv;
pub use shape::{Dim, Shape};
pub use stats::Stats;
pub use tract_onnx::pb::ModelProto;
pub use zoo::{Arch, ZooOptions};

use anyhow::Context;
use prost::Message;
use std::path::Path;

/// The protobuf encoding of `model` (the bytes of an `.onnx` file).
pub fn to_bytes(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// Writes `model` to `path` as an `.onnx` file.
pub fn write(path: impl AsRef<Path>, model: &ModelProto) -> anyhow::Result<()> {
    let path = path.as_ref();
    std::fs::write(path, to_bytes(model)).with_context(|| format!("writing {}", path.display()))
}
