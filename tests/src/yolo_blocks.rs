//! Darknet/YOLO building blocks for the small generated models of the cross-crate tests: a biased convolution
//! with its LeakyReLU(0.1), and YOLO's route (a deeper map upsampled 2x and concatenated before an earlier one).
use accel_modelgen::{Conv, GraphBuilder};

/// `conv` of `x` with a bias, in scope `name`, then LeakyReLU(0.1): every Darknet layer.
pub fn conv_leaky(b: &mut GraphBuilder, name: &str, x: &str, conv: Conv) -> String {
    let y = b.scoped(name, |b| b.conv_with(x, conv.bias(true)));
    b.leaky_relu(&y, 0.1)
}

/// YOLO's route: `deep` upsampled 2x (nearest) and concatenated on channels before `early`.
pub fn route(b: &mut GraphBuilder, deep: &str, early: &str) -> String {
    let up = b.resize_nearest_2x(deep);
    b.concat(&[up.as_str(), early], 1)
}

/// The finished model's ONNX bytes.
pub fn onnx_bytes(b: GraphBuilder) -> Vec<u8> {
    accel_modelgen::to_bytes(&b.finish().expect("the model builds"))
}
