//! The operators of real vision, OCR, detection and speech models (PyTorch and Paddle exports). A case counts
//! as a real-model case when every operator in its graph is on this list; their pass rate is reported apart.

/// ONNX operator types, sorted.
pub const REAL_MODEL_OPS: &[&str] = &[
    "Add",
    "ArgMax",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "CumSum",
    "Div",
    "Equal",
    "Erf",
    "Exp",
    "Expand",
    "Flatten",
    "GRU",
    "Gather",
    "Gemm",
    "GlobalAveragePool",
    "Greater",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "LSTM",
    "LayerNormalization",
    "LeakyRelu",
    "Less",
    "Log",
    "MatMul",
    "MaxPool",
    "Mul",
    "Pad",
    "Pow",
    "Range",
    "ReduceMean",
    "Relu",
    "Reshape",
    "Resize",
    "Shape",
    "Sigmoid",
    "Slice",
    "Softmax",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Tanh",
    "TopK",
    "Transpose",
    "Unsqueeze",
    "Where",
];

/// Whether every operator of a case is a real-model operator.
pub fn is_real_model_case(ops: &[String]) -> bool {
    !ops.is_empty() && ops.iter().all(|o| REAL_MODEL_OPS.binary_search(&o.as_str()).is_ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_list_is_sorted_for_binary_search() {
        assert!(super::REAL_MODEL_OPS.windows(2).all(|w| w[0] < w[1]));
    }
}
