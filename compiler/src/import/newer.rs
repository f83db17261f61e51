//! Opsets 19 to 28 changed the operators accel imports mostly by adding element types (bf16, float8, int4),
//! which the translators reject by type. The attributes they added with new semantics are checked here, before
//! translation, so that a model at a newer opset is refused instead of silently computed the old way. Attributes
//! a translator already validates (Pad `mode`, Resize `coordinate_transformation_mode`, pooling `dilations`) are
//! left to it.
use super::attrs::OnnxNode;
use super::error::ImportError;

/// Refuses attribute values from opsets after 18 that no translator implements.
pub(crate) fn check(n: &OnnxNode<'_>) -> Result<(), ImportError> {
    match n.op_type() {
        // Opset 21: blocked quantization and an explicit output type.
        "QuantizeLinear" | "DequantizeLinear" => {
            if n.int_or("block_size", 0)? != 0 {
                return Err(n.err("blocked quantization (`block_size`) is unsupported"));
            }
            if n.int_or("output_dtype", 0)? != 0 {
                return Err(n.err("attribute `output_dtype` is unsupported"));
            }
        }
        // Opset 28: `fmod` on Mod is not imported at all; Cast's `round_mode` only concerns float8 targets,
        // which Cast refuses by type.
        _ => {}
    }
    Ok(())
}
