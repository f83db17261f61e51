//! QDQ versions of f32 models, as onnxruntime's static quantizer writes them: every Conv and Gemm with
//! constant weights reads its activation through QuantizeLinear -> DequantizeLinear (int8 per tensor,
//! asymmetric; scale and zero point from the min/max the f32 model shows, run with tract on calibration
//! inputs) and its weights through a DequantizeLinear of int8 weights (symmetric per output channel,
//! `max|w| / 127`). Biases stay f32. The model's own ops are unchanged, so tract runs it as fake quantization.
use crate::proto::{attr_int, node};
use anyhow::{ensure, Context, Result};
use std::collections::{HashMap, HashSet};
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{ModelProto, NodeProto, TensorProto};
use tract_onnx::prelude::*;

fn tensor(name: &str, dims: &[usize], dt: DataType, raw: Vec<u8>) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: dt as i32,
        raw_data: raw,
        ..Default::default()
    }
}

fn f32s(t: &TensorProto) -> Option<Vec<f32>> {
    (t.data_type == DataType::Float as i32).then(|| {
        if t.raw_data.is_empty() {
            t.float_data.clone()
        } else {
            t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
        }
    })
}

/// Per-tensor asymmetric int8 parameters covering `[min, max]` (widened to contain 0).
fn activation_params(min: f32, max: f32) -> (f32, i8) {
    let (lo, hi) = (min.min(0.0), max.max(0.0));
    let scale = ((hi - lo) / 255.0).max(1e-8);
    let zero = (-128.0 - lo / scale).round().clamp(-128.0, 127.0) as i8;
    (scale, zero)
}

/// `[min, max]` of each named value of `model` over the calibration inputs (each one input tensor).
fn ranges(model: &ModelProto, names: &[String], inputs: &[(Vec<usize>, Vec<f32>)]) -> Result<Vec<(f32, f32)>> {
    let bytes = crate::to_bytes(model);
    let (dims, _) = inputs.first().context("no calibration inputs")?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let plan = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])?
        .with_input_fact(0, f32::fact(dims).into())?
        .with_outputs_by_name(refs)?
        .into_optimized()?
        .into_runnable()?;
    let mut r = vec![(f32::INFINITY, f32::NEG_INFINITY); names.len()];
    for (dims, data) in inputs {
        let x = tract_ndarray::ArrayD::from_shape_vec(dims.clone(), data.clone())?.into_tvalue();
        for (o, range) in plan.run(tvec![x])?.iter().zip(&mut r) {
            for &v in o.to_plain_array_view::<f32>()?.iter() {
                *range = (range.0.min(v), range.1.max(v));
            }
        }
    }
    Ok(r)
}

/// The QDQ form of `model` (calibrated on `inputs`: shape and data of the model's first input).
pub fn to_qdq(model: &ModelProto, inputs: &[(Vec<usize>, Vec<f32>)]) -> Result<ModelProto> {
    let graph = model.graph.as_ref().context("model has no graph")?;
    let init: HashMap<&str, &TensorProto> = graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
    let weighted = |n: &NodeProto| {
        matches!(n.op_type.as_str(), "Conv" | "Gemm")
            && n.input.get(1).and_then(|w| init.get(w.as_str())).is_some_and(|t| f32s(t).is_some())
    };
    let mut acts: Vec<String> = Vec::new();
    for n in graph.node.iter().filter(|n| weighted(n)) {
        if !acts.contains(&n.input[0]) {
            acts.push(n.input[0].clone());
        }
    }
    ensure!(!acts.is_empty(), "no Conv or Gemm with constant weights to quantize");
    let act_params: HashMap<String, (f32, i8)> = acts
        .iter()
        .cloned()
        .zip(ranges(model, &acts, inputs)?.into_iter().map(|(lo, hi)| activation_params(lo, hi)))
        .collect();
    let mut out = graph.clone();
    out.node.clear();
    let mut done: HashSet<String> = HashSet::new();
    let mut replaced: HashSet<String> = HashSet::new();
    for n in &graph.node {
        if !weighted(n) {
            out.node.push(n.clone());
            continue;
        }
        let mut n2 = n.clone();
        let x = &n.input[0];
        let (scale, zero) = act_params[x];
        let (xq, xd) = (format!("{x}_quantized"), format!("{x}_dequantized"));
        if done.insert(x.clone()) {
            let (s, z) = (format!("{x}_scale"), format!("{x}_zero_point"));
            out.initializer.push(tensor(&s, &[], DataType::Float, scale.to_le_bytes().to_vec()));
            out.initializer.push(tensor(&z, &[], DataType::Int8, vec![zero as u8]));
            out.node.push(node(
                &format!("{x}_QuantizeLinear"),
                "QuantizeLinear",
                vec![x.clone(), s.clone(), z.clone()],
                vec![xq.clone()],
                vec![],
            ));
            out.node.push(node(
                &format!("{x}_DequantizeLinear"),
                "DequantizeLinear",
                vec![xq, s, z],
                vec![xd.clone()],
                vec![],
            ));
        }
        n2.input[0] = xd;
        // Weights: int8 per output channel (axis 0 of OIHW and of a transB Gemm's [out, K], else axis 1).
        let w = &n.input[1];
        let t = init[w.as_str()];
        let data = f32s(t).unwrap_or_default();
        let dims: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
        let trans_b = n.attribute.iter().any(|a| a.name == "transB" && a.i == 1);
        let axis = if n.op_type == "Gemm" && !trans_b { 1 } else { 0 };
        let channels = dims[axis];
        let inner: usize = dims[axis + 1..].iter().product();
        let ch = |i: usize| (i / inner) % channels;
        let mut maxabs = vec![0f32; channels];
        for (i, v) in data.iter().enumerate() {
            maxabs[ch(i)] = maxabs[ch(i)].max(v.abs());
        }
        let scales: Vec<f32> = maxabs.iter().map(|&m| if m > 0.0 { m / 127.0 } else { 1.0 }).collect();
        let q: Vec<u8> = data
            .iter()
            .enumerate()
            .map(|(i, v)| (v / scales[ch(i)]).round_ties_even().clamp(-127.0, 127.0) as i8 as u8)
            .collect();
        let (wq, ws, wz, wd) =
            (format!("{w}_quantized"), format!("{w}_scale"), format!("{w}_zero_point"), format!("{w}_dequantized"));
        out.initializer.push(tensor(&wq, &dims, DataType::Int8, q));
        out.initializer.push(tensor(
            &ws,
            &[channels],
            DataType::Float,
            scales.iter().flat_map(|s| s.to_le_bytes()).collect(),
        ));
        out.initializer.push(tensor(&wz, &[channels], DataType::Int8, vec![0; channels]));
        out.node.push(node(
            &format!("{w}_DequantizeLinear"),
            "DequantizeLinear",
            vec![wq, ws, wz],
            vec![wd.clone()],
            vec![attr_int("axis", axis as i64)],
        ));
        replaced.insert(w.clone());
        n2.input[1] = wd;
        out.node.push(n2);
    }
    out.initializer.retain(|t| !replaced.contains(&t.name));
    Ok(ModelProto { graph: Some(out), ..model.clone() })
}

/// A QLinearConv model: input f32 `[1, 3, 10, 10]` -> QuantizeLinear -> QLinearConv (3x3, 4 channels, pad 1,
/// int8 weights per channel, int32 bias) -> DequantizeLinear -> output `[1, 4, 10, 10]`.
pub fn qlinear_conv_model(seed: u64) -> Result<ModelProto> {
    use crate::proto::{attr_ints, value_info_f32};
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let w: Vec<u8> = (0..4 * 3 * 9).map(|_| rng.gen_range(-127i32..=127) as i8 as u8).collect();
    let ws: Vec<f32> = (0..4).map(|_| rng.gen_range(0.002f32..0.01)).collect();
    let bias: Vec<i32> = (0..4).map(|_| rng.gen_range(-2000..2000)).collect();
    let f = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let init = vec![
        tensor("x_scale", &[], DataType::Float, f(&[0.01])),
        tensor("x_zero", &[], DataType::Int8, vec![3]),
        tensor("w", &[4, 3, 3, 3], DataType::Int8, w),
        tensor("w_scale", &[4], DataType::Float, f(&ws)),
        tensor("w_zero", &[4], DataType::Int8, vec![0; 4]),
        tensor("y_scale", &[], DataType::Float, f(&[0.02])),
        tensor("y_zero", &[], DataType::Int8, vec![(-5i8) as u8]),
        tensor("bias", &[4], DataType::Int32, bias.iter().flat_map(|b| b.to_le_bytes()).collect()),
    ];
    let nodes = vec![
        node(
            "quantize",
            "QuantizeLinear",
            vec!["input".into(), "x_scale".into(), "x_zero".into()],
            vec!["xq".into()],
            vec![],
        ),
        node(
            "qconv",
            "QLinearConv",
            ["xq", "x_scale", "x_zero", "w", "w_scale", "w_zero", "y_scale", "y_zero", "bias"]
                .map(String::from)
                .to_vec(),
            vec!["yq".into()],
            vec![attr_ints("pads", &[1, 1, 1, 1]), attr_ints("kernel_shape", &[3, 3])],
        ),
        node(
            "dequantize",
            "DequantizeLinear",
            vec!["yq".into(), "y_scale".into(), "y_zero".into()],
            vec!["output".into()],
            vec![],
        ),
    ];
    let graph = tract_onnx::pb::GraphProto {
        node: nodes,
        name: "qlinear_conv".into(),
        initializer: init,
        input: vec![value_info_f32("input", &[1.into(), 3.into(), 10.into(), 10.into()])],
        output: vec![value_info_f32("output", &[1.into(), 4.into(), 10.into(), 10.into()])],
        ..Default::default()
    };
    Ok(ModelProto {
        ir_version: crate::proto::ir_version_for(13),
        opset_import: vec![tract_onnx::pb::OperatorSetIdProto { domain: String::new(), version: 13 }],
        producer_name: "accel-modelgen".into(),
        graph: Some(graph),
        ..Default::default()
    })
}

/// Which integer operator `integer_model` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegerOp {
    /// ConvInteger 3x3, pad 1, on `[1, 3, 12, 12]` -> `[1, 4, 12, 12]`: uint8 activations (zero point 128)
    /// and uint8 weights (zero point 120).
    Conv,
    /// MatMulInteger on `[2, 16]` x `[16, 8]`: int8 activations (zero point -3) and int8 weights (zero point 0).
    MatMul,
}

/// A model as onnxruntime's integer-operator exports look: input f32 -> QuantizeLinear -> ConvInteger or
/// MatMulInteger (int32) -> Cast to float -> Mul by `x_scale * w_scale` (per output channel for the conv) ->
/// Add of an f32 bias; then, when `requantize`, QuantizeLinear -> DequantizeLinear (the pattern that maps onto
/// the INT8 tile commands), else straight to the f32 output.
pub fn integer_model(op: IntegerOp, requantize: bool, seed: u64) -> Result<ModelProto> {
    use crate::proto::{attr_ints, value_info_f32};
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let f = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let x_scale = 0.01f32;
    let (in_dims, out_dims, w_dims, channels) = match op {
        IntegerOp::Conv => (vec![1, 3, 12, 12], vec![1, 4, 12, 12], vec![4, 3, 3, 3], 4),
        IntegerOp::MatMul => (vec![2, 16], vec![2, 8], vec![16, 8], 8),
    };
    let (uint8, x_zero, w_zero) = match op {
        IntegerOp::Conv => (true, 128u8, 120u8),
        IntegerOp::MatMul => (false, (-3i8) as u8, 0u8),
    };
    let dt = if uint8 { DataType::Uint8 } else { DataType::Int8 };
    let w: Vec<u8> = (0..w_dims.iter().product::<usize>())
        .map(|_| {
            let v = rng.gen_range(-100i32..=100);
            if uint8 {
                (w_zero as i32 + v) as u8
            } else {
                v as i8 as u8
            }
        })
        .collect();
    let w_scales: Vec<f32> = (0..channels).map(|_| rng.gen_range(0.003f32..0.006)).collect();
    let bias: Vec<f32> = (0..channels).map(|_| rng.gen_range(-0.5f32..0.5)).collect();
    let (scale_dims, scales) = match op {
        IntegerOp::Conv => (vec![1, channels, 1, 1], w_scales.iter().map(|s| s * x_scale).collect::<Vec<_>>()),
        IntegerOp::MatMul => (vec![1, channels], w_scales.iter().map(|s| s * x_scale).collect()),
    };
    let mut init = vec![
        tensor("x_scale", &[], DataType::Float, f(&[x_scale])),
        tensor("x_zero", &[], dt, vec![x_zero]),
        tensor("w", &w_dims, dt, w),
        tensor("w_zero", &[], dt, vec![w_zero]),
        tensor("scales", &scale_dims, DataType::Float, f(&scales)),
        tensor("bias", &scale_dims, DataType::Float, f(&bias)),
    ];
    let (kind, attrs) = match op {
        IntegerOp::Conv => ("ConvInteger", vec![attr_ints("pads", &[1, 1, 1, 1]), attr_ints("kernel_shape", &[3, 3])]),
        IntegerOp::MatMul => ("MatMulInteger", vec![]),
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    let mut nodes = vec![
        node("quantize", "QuantizeLinear", s(&["input", "x_scale", "x_zero"]), s(&["xq"]), vec![]),
        node("integer", kind, s(&["xq", "w", "x_zero", "w_zero"]), s(&["acc"]), attrs),
        node("cast", "Cast", s(&["acc"]), s(&["accf"]), vec![crate::proto::attr_int("to", DataType::Float as i64)]),
        node("scale", "Mul", s(&["accf", "scales"]), s(&["scaled"]), vec![]),
    ];
    if requantize {
        init.push(tensor("y_scale", &[], DataType::Float, f(&[0.03])));
        init.push(tensor("y_zero", &[], DataType::Int8, vec![(-4i8) as u8]));
        nodes.push(node("bias", "Add", s(&["scaled", "bias"]), s(&["y"]), vec![]));
        nodes.push(node("requantize", "QuantizeLinear", s(&["y", "y_scale", "y_zero"]), s(&["yq"]), vec![]));
        nodes.push(node("dequantize", "DequantizeLinear", s(&["yq", "y_scale", "y_zero"]), s(&["output"]), vec![]));
    } else {
        nodes.push(node("bias", "Add", s(&["scaled", "bias"]), s(&["output"]), vec![]));
    }
    let dims = |d: &[usize]| d.iter().map(|&x| crate::shape::Dim::Fixed(x)).collect::<Vec<_>>();
    let graph = tract_onnx::pb::GraphProto {
        node: nodes,
        name: format!("{}_integer", kind.to_lowercase()),
        initializer: init,
        input: vec![value_info_f32("input", &dims(&in_dims))],
        output: vec![value_info_f32("output", &dims(&out_dims))],
        ..Default::default()
    };
    Ok(ModelProto {
        ir_version: crate::proto::ir_version_for(13),
        opset_import: vec![tract_onnx::pb::OperatorSetIdProto { domain: String::new(), version: 13 }],
        producer_name: "accel-modelgen".into(),
        graph: Some(graph),
        ..Default::default()
    })
}
