//! Dynamic quantization as onnxruntime's `quantize_dynamic` writes it: DynamicQuantizeLinear on the
//! activations, MatMulInteger against uint8 weights with the computed zero point, the int32 sum scaled back.
//! Checked against tract.
use super::builder::{ai, tf32, tu8, M};
use super::check;
use tract_onnx::pb::tensor_proto::DataType;

#[test]
fn dynamic_quantized_matmul_matches_tract() {
    let w: Vec<u8> = (0..4 * 6).map(|i| (i * 37 % 251) as u8).collect();
    let m = M::new(13)
        .input("x", &[3, 4])
        .init(tu8("w", &[4, 6], &w))
        .init(tu8("w_zero", &[], &[128]))
        .init(tf32("w_scale", &[], &[0.02]))
        .node("DynamicQuantizeLinear", &["x"], &["xq", "x_scale", "x_zero"], vec![])
        .node("MatMulInteger", &["xq", "w", "x_zero", "w_zero"], &["acc"], vec![])
        .node("Cast", &["acc"], &["acc_f"], vec![ai("to", DataType::Float as i64)])
        .node("Mul", &["x_scale", "w_scale"], &["scale"], vec![])
        .node("Mul", &["acc_f", "scale"], &["y"], vec![])
        .output("y");
    check(&m);
}

#[test]
fn dynamic_quantize_linear_outputs_match_tract() {
    let m = M::new(11)
        .input("x", &[2, 5])
        .node("DynamicQuantizeLinear", &["x"], &["y", "scale", "zero"], vec![])
        .node("Cast", &["y"], &["yf"], vec![ai("to", DataType::Float as i64)])
        .node("Cast", &["zero"], &["zf"], vec![ai("to", DataType::Float as i64)])
        .output("yf")
        .output("scale")
        .output("zf");
    check(&m);
}
