//! Each operator family translates, and `ir::evaluate` matches tract on the same model.
use super::builder::{af, afs, ai, ais, astr, M};
use super::{check, check_range, import, rand_f32, run_accel};
use accel_ops::op::Op;

fn conv_model(attrs: Vec<tract_onnx::pb::AttributeProto>, x: &[i64], w: &[i64], bias: bool) -> M {
    let m = M::new(13).input("x", x).weight("w", w, 1);
    let (m, inputs) = if bias { (m.weight("b", &[w[0]], 2), vec!["x", "w", "b"]) } else { (m, vec!["x", "w"]) };
    m.node("Conv", &inputs, &["y"], attrs).output("y")
}

#[test]
fn conv_explicit_pads_strides_dilations() {
    check(&conv_model(
        vec![
            ais("kernel_shape", &[3, 3]),
            ais("pads", &[1, 0, 2, 1]),
            ais("strides", &[2, 1]),
            ais("dilations", &[1, 2]),
        ],
        &[1, 3, 9, 8],
        &[4, 3, 3, 3],
        true,
    ));
}

#[test]
fn conv_kernel_shape_from_weights_and_groups() {
    check(&conv_model(vec![ai("group", 2)], &[2, 4, 6, 6], &[6, 2, 3, 2], false));
    // Depthwise.
    check(&conv_model(vec![ai("group", 4), ais("pads", &[1, 1, 1, 1])], &[1, 4, 5, 5], &[4, 1, 3, 3], true));
}

#[test]
fn conv_auto_pad_modes() {
    for mode in ["SAME_UPPER", "SAME_LOWER", "VALID"] {
        for stride in [1, 2] {
            check(&conv_model(
                vec![astr("auto_pad", mode), ais("strides", &[stride, stride])],
                &[1, 2, 7, 6],
                &[3, 2, 4, 3],
                true,
            ));
        }
    }
}

fn pool_model(op: &str, attrs: Vec<tract_onnx::pb::AttributeProto>, x: &[i64]) -> M {
    M::new(11).input("x", x).node(op, &["x"], &["y"], attrs).output("y")
}

#[test]
fn max_pool_variants() {
    check(&pool_model("MaxPool", vec![ais("kernel_shape", &[3, 3]), ais("strides", &[2, 2])], &[1, 2, 7, 7]));
    check(&pool_model(
        "MaxPool",
        vec![ais("kernel_shape", &[3, 2]), ais("strides", &[2, 2]), ais("pads", &[1, 1, 1, 0])],
        &[1, 2, 8, 7],
    ));
    check(&pool_model(
        "MaxPool",
        vec![ais("kernel_shape", &[3, 3]), ais("strides", &[2, 2]), ai("ceil_mode", 1)],
        &[1, 2, 8, 8],
    ));
    check(&pool_model("MaxPool", vec![ais("kernel_shape", &[2, 2]), astr("auto_pad", "SAME_UPPER")], &[1, 1, 5, 5]));
}

#[test]
fn average_pool_variants() {
    for include in [0, 1] {
        check(&pool_model(
            "AveragePool",
            vec![
                ais("kernel_shape", &[3, 3]),
                ais("strides", &[2, 2]),
                ais("pads", &[1, 1, 1, 1]),
                ai("count_include_pad", include),
            ],
            &[1, 2, 7, 8],
        ));
        // ceil_mode with count_include_pad: the overhang past the pads is not counted.
        check(&pool_model(
            "AveragePool",
            vec![
                ais("kernel_shape", &[3, 3]),
                ais("strides", &[2, 2]),
                ais("pads", &[1, 1, 1, 1]),
                ai("ceil_mode", 1),
                ai("count_include_pad", include),
            ],
            &[1, 2, 8, 8],
        ));
        check(&pool_model(
            "AveragePool",
            vec![
                ais("kernel_shape", &[2, 2]),
                ais("strides", &[2, 2]),
                ai("ceil_mode", 1),
                ai("count_include_pad", include),
            ],
            &[1, 1, 5, 5],
        ));
    }
}

#[test]
fn global_pools() {
    check(&pool_model("GlobalAveragePool", vec![], &[2, 3, 5, 4]));
    check(&pool_model("GlobalMaxPool", vec![], &[2, 3, 5, 4]));
}

#[test]
fn batch_norm_and_lrn() {
    let m = M::new(9)
        .input("x", &[2, 3, 4, 4])
        .weight("s", &[3], 1)
        .weight("b", &[3], 2)
        .weight("mean", &[3], 3)
        .init_f32("var", &[3], &[0.5, 1.0, 2.0])
        .node("BatchNormalization", &["x", "s", "b", "mean", "var"], &["y"], vec![af("epsilon", 1e-3)])
        .output("y");
    check(&m);
    let m = M::new(9)
        .input("x", &[1, 7, 3, 3])
        .node("LRN", &["x"], &["y"], vec![ai("size", 5), af("alpha", 1e-2), af("beta", 0.75), af("bias", 2.0)])
        .output("y");
    check(&m);
}

#[test]
fn gemm_and_matmul() {
    for (ta, tb) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        let a = if ta == 1 { [5, 3] } else { [3, 5] };
        let b = if tb == 1 { [4, 5] } else { [5, 4] };
        let m = M::new(13)
            .input("a", &a)
            .weight("b", &b, 1)
            .weight("c", &[4], 2)
            .node(
                "Gemm",
                &["a", "b", "c"],
                &["y"],
                vec![ai("transA", ta), ai("transB", tb), af("alpha", 0.5), af("beta", 2.0)],
            )
            .output("y");
        check(&m);
    }
    let m = M::new(13).input("a", &[3, 5]).weight("b", &[5, 4], 1).weight("c", &[3, 4], 2);
    check(&m.node("Gemm", &["a", "b", "c"], &["y"], vec![]).output("y"));
    let m = M::new(13).input("a", &[3, 5]).weight("b", &[5, 4], 1);
    check(&m.node("Gemm", &["a", "b"], &["y"], vec![]).output("y"));
    let m = M::new(13).input("a", &[2, 3, 5]).weight("b", &[5, 4], 1).node("MatMul", &["a", "b"], &["y"], vec![]);
    check(&m.output("y"));
}

#[test]
fn unary_activations() {
    let ops: Vec<(&str, Vec<tract_onnx::pb::AttributeProto>)> = vec![
        ("Relu", vec![]),
        ("Sigmoid", vec![]),
        ("Tanh", vec![]),
        ("Exp", vec![]),
        ("Neg", vec![]),
        ("Abs", vec![]),
        ("Erf", vec![]),
        ("Floor", vec![]),
        ("Ceil", vec![]),
        ("Softplus", vec![]),
        ("HardSwish", vec![]),
        ("LeakyRelu", vec![af("alpha", 0.2)]),
        ("HardSigmoid", vec![af("alpha", 0.3), af("beta", 0.4)]),
        ("Elu", vec![af("alpha", 0.7)]),
    ];
    let mut m = M::new(14).input("x", &[2, 3, 4]);
    for (i, (op, attrs)) in ops.into_iter().enumerate() {
        let out = format!("y{i}");
        m = m.node(op, &["x"], &[&out], attrs).output(&out);
    }
    check_range(&m, 3, -4.0, 4.0);
    let mut m = M::new(13).input("x", &[2, 3, 4]);
    for (i, op) in ["Log", "Sqrt", "Reciprocal"].into_iter().enumerate() {
        let out = format!("y{i}");
        m = m.node(op, &["x"], &[&out], vec![]).output(&out);
    }
    check_range(&m, 4, 0.1, 3.0);
}

#[test]
fn clip_as_attributes_and_inputs() {
    let m =
        M::new(9).input("x", &[2, 8]).node("Clip", &["x"], &["y"], vec![af("min", 0.0), af("max", 6.0)]).output("y");
    check_range(&m, 1, -8.0, 8.0);
    let m = M::new(9).input("x", &[2, 8]).node("Clip", &["x"], &["y"], vec![af("max", 0.5)]).output("y");
    check(&m);
    let m = M::new(13)
        .input("x", &[2, 8])
        .init_f32("lo", &[], &[-0.5])
        .init_f32("hi", &[], &[1.0])
        .node("Clip", &["x", "lo", "hi"], &["y"], vec![])
        .node("Clip", &["x", "", "hi"], &["z"], vec![])
        .output("y")
        .output("z");
    check(&m);
}

#[test]
fn binary_broadcasting_and_variadic() {
    let mut m = M::new(13).input("a", &[2, 3, 4]).input("b", &[3, 1]).weight("c", &[4], 5);
    for (i, op) in ["Add", "Sub", "Mul", "Div", "Max", "Min"].into_iter().enumerate() {
        let out = format!("y{i}");
        m = m.node(op, &["a", "b"], &[&out], vec![]).output(&out);
    }
    m = m.node("Sum", &["a", "b", "c"], &["s"], vec![]).output("s");
    m = m.node("Mean", &["a", "b", "c"], &["mean"], vec![]).output("mean");
    m = m.node("Max", &["a", "b", "c"], &["mx"], vec![]).output("mx");
    m = m.node("Sum", &["a"], &["s1"], vec![]).output("s1");
    check_range(&m, 2, 0.5, 2.0);
    let m =
        M::new(13).input("a", &[2, 3]).init_f32("e", &[], &[2.0]).node("Pow", &["a", "e"], &["y"], vec![]).output("y");
    check(&m);
    // An integer exponent with a float base (opset 12+).
    let m = M::new(13).input("a", &[2, 3]).init_i64("e", &[1], &[3]).node("Pow", &["a", "e"], &["y"], vec![]);
    check(&m.output("y"));
    let m = M::new(13).input("a", &[3, 4]).input("b", &[4]).node("PRelu", &["a", "b"], &["y"], vec![]).output("y");
    check(
        &M::new(9)
            .input("x", &[1, 3, 2, 2])
            .weight("s", &[3, 1, 1], 1)
            .node("PRelu", &["x", "s"], &["y"], vec![])
            .output("y"),
    );
    check(&m);
}

#[test]
fn softmax_across_opsets() {
    for opset in [9, 13] {
        for axis in [1, -1, 2] {
            for op in ["Softmax", "LogSoftmax"] {
                let m = M::new(opset)
                    .input("x", &[2, 3, 4, 5])
                    .node(op, &["x"], &["y"], vec![ai("axis", axis)])
                    .output("y");
                check_range(&m, 9, -5.0, 5.0);
            }
        }
        // Default axis: 1 before opset 13 (coerced to 2-D), -1 from 13.
        let m = M::new(opset).input("x", &[2, 3, 4]).node("Softmax", &["x"], &["y"], vec![]).output("y");
        check(&m);
    }
}

#[test]
fn reductions_across_opsets() {
    for op in ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"] {
        for keep in [0, 1] {
            let m = M::new(11).input("x", &[2, 3, 4]).node(
                op,
                &["x"],
                &["y"],
                vec![ais("axes", &[-1, 0]), ai("keepdims", keep)],
            );
            check_range(&m.output("y"), 3, 0.5, 1.5);
        }
        let m = M::new(11).input("x", &[2, 3, 4]).node(op, &["x"], &["y"], vec![]).output("y");
        check_range(&m, 3, 0.5, 1.5);
    }
    let m = M::new(13).input("x", &[2, 3, 4]).init_i64("axes", &[1], &[1]).node(
        "ReduceSum",
        &["x", "axes"],
        &["y"],
        vec![],
    );
    check(&m.output("y"));
    let m = M::new(18).input("x", &[2, 3, 4]).init_i64("axes", &[2], &[0, 2]).node(
        "ReduceMean",
        &["x", "axes"],
        &["y"],
        vec![ai("keepdims", 0)],
    );
    check(&m.output("y"));
}

#[test]
fn reshape_flatten_squeeze_unsqueeze() {
    let m = M::new(13)
        .input("x", &[2, 3, 4])
        .init_i64("shape", &[3], &[0, -1, 2])
        .node("Reshape", &["x", "shape"], &["r"], vec![])
        .node("Flatten", &["x"], &["f"], vec![ai("axis", 2)])
        .node("Flatten", &["x"], &["f0"], vec![ai("axis", 0)])
        .init_i64("ax", &[2], &[0, -1])
        .node("Unsqueeze", &["x", "ax"], &["u"], vec![])
        .init_i64("sq", &[1], &[-1])
        .node("Squeeze", &["u", "sq"], &["s"], vec![])
        .node("Squeeze", &["u"], &["s_all"], vec![])
        .output("r")
        .output("f")
        .output("f0")
        .output("u")
        .output("s")
        .output("s_all");
    check(&m);
    let m = M::new(11)
        .input("x", &[2, 1, 4])
        .node("Unsqueeze", &["x"], &["u"], vec![ais("axes", &[1, 4])])
        .node("Squeeze", &["x"], &["s"], vec![ais("axes", &[1])])
        .output("u")
        .output("s");
    check(&m);
}

#[test]
fn transpose_concat_gather() {
    let m = M::new(13)
        .input("x", &[2, 3, 4])
        .weight("w", &[2, 2, 4], 4)
        .node("Transpose", &["x"], &["t"], vec![ais("perm", &[1, 2, 0])])
        .node("Transpose", &["x"], &["td"], vec![])
        .node("Concat", &["x", "w", "x"], &["c"], vec![ai("axis", -2)])
        .init_i64("idx", &[2, 2], &[0, -1, 2, 1])
        .node("Gather", &["x", "idx"], &["g"], vec![ai("axis", 1)])
        .init_i64("one", &[], &[-2])
        .node("Gather", &["x", "one"], &["g0"], vec![ai("axis", 0)])
        .output("t")
        .output("td")
        .output("c")
        .output("g")
        .output("g0");
    check(&m);
}

#[test]
fn slice_across_opsets() {
    let m = M::new(9)
        .input("x", &[4, 6, 5])
        .node("Slice", &["x"], &["y"], vec![ais("starts", &[1, -4]), ais("ends", &[100, -1]), ais("axes", &[1, 2])])
        .node("Slice", &["x"], &["z"], vec![ais("starts", &[0, 2, 1]), ais("ends", &[2, 3, 9])])
        .output("y")
        .output("z");
    check(&m);
    let m = M::new(13)
        .input("x", &[4, 6, 5])
        .init_i64("starts", &[3], &[-100, 1, 0])
        .init_i64("ends", &[3], &[i64::MAX, 6, -1])
        .init_i64("axes", &[3], &[0, 1, -1])
        .init_i64("steps", &[3], &[2, 3, 1])
        .node("Slice", &["x", "starts", "ends", "axes", "steps"], &["y"], vec![])
        .node("Slice", &["x", "starts", "ends"], &["z"], vec![])
        .output("y")
        .output("z");
    check(&m);
}

#[test]
fn split_across_opsets() {
    let m = M::new(11)
        .input("x", &[2, 6, 3])
        .node("Split", &["x"], &["a", "b", "c"], vec![ai("axis", 1)])
        .node("Split", &["x"], &["d", "e"], vec![ai("axis", 1), ais("split", &[4, 2])])
        .output("a")
        .output("b")
        .output("c")
        .output("d")
        .output("e");
    check(&m);
    let m = M::new(13)
        .input("x", &[2, 6, 3])
        .init_i64("sp", &[2], &[1, 2])
        .node("Split", &["x", "sp"], &["a", "b"], vec![ai("axis", -1)])
        .output("a")
        .output("b");
    check(&m);
    let m = M::new(18)
        .input("x", &[2, 7])
        .node("Split", &["x"], &["a", "b", "c"], vec![ai("axis", 1), ai("num_outputs", 3)])
        .output("a")
        .output("b")
        .output("c");
    check(&m);
}

#[test]
fn pad_across_opsets() {
    let m = M::new(9)
        .input("x", &[1, 2, 3, 3])
        .node("Pad", &["x"], &["y"], vec![ais("pads", &[0, 0, 1, 2, 0, 1, 0, 1]), af("value", 1.5)])
        .output("y");
    check(&m);
    let m = M::new(13)
        .input("x", &[2, 3])
        .init_i64("p", &[4], &[1, 0, 2, 3])
        .init_f32("v", &[], &[-1.0])
        .node("Pad", &["x", "p", "v"], &["y"], vec![])
        .node("Pad", &["x", "p"], &["z"], vec![astr("mode", "constant")])
        .output("y")
        .output("z");
    check(&m);
}

#[test]
fn resize_modes() {
    let cases: Vec<Vec<tract_onnx::pb::AttributeProto>> = vec![
        vec![astr("mode", "nearest")],
        vec![
            astr("mode", "nearest"),
            astr("coordinate_transformation_mode", "asymmetric"),
            astr("nearest_mode", "floor"),
        ],
        vec![
            astr("mode", "nearest"),
            astr("coordinate_transformation_mode", "align_corners"),
            astr("nearest_mode", "round_prefer_ceil"),
        ],
        vec![astr("mode", "nearest"), astr("nearest_mode", "ceil")],
        vec![astr("mode", "linear")],
        vec![astr("mode", "linear"), astr("coordinate_transformation_mode", "align_corners")],
        vec![astr("mode", "linear"), astr("coordinate_transformation_mode", "pytorch_half_pixel")],
        vec![astr("mode", "linear"), astr("coordinate_transformation_mode", "asymmetric")],
    ];
    for attrs in cases {
        let align_corners = attrs.iter().any(|a| a.s == b"align_corners");
        for scales in [[1.0, 1.0, 2.0, 3.0], [1.0, 1.0, 0.5, 1.5]] {
            let m = M::new(13)
                .input("x", &[1, 2, 4, 5])
                .init_f32("scales", &[4], &scales)
                .node("Resize", &["x", "", "scales"], &["y"], attrs.clone())
                .output("y");
            if align_corners && scales[3] == 1.5 {
                // 5 x 1.5 = 7.5: ONNX aligns corners to the fractional length, tract to the output length
                // (`tests/resize.rs` checks the ONNX values).
                import(&m.bytes()).unwrap();
            } else {
                check(&m);
            }
        }
        let m = M::new(13)
            .input("x", &[1, 2, 4, 5])
            .init_i64("sizes", &[4], &[1, 2, 7, 3])
            .node("Resize", &["x", "", "", "sizes"], &["y"], attrs.clone())
            .output("y");
        check(&m);
    }
    // Opset 11: roi and scales are positional; an empty scales tensor means "use sizes".
    let m = M::new(11)
        .input("x", &[1, 2, 3, 3])
        .init_f32("roi", &[0], &[])
        .init_f32("scales", &[0], &[])
        .init_i64("sizes", &[4], &[1, 2, 6, 5])
        .node("Resize", &["x", "roi", "scales", "sizes"], &["y"], vec![astr("mode", "linear")])
        .output("y");
    check(&m);
    let m = M::new(10)
        .input("x", &[1, 2, 3, 3])
        .init_f32("scales", &[4], &[1.0, 1.0, 2.0, 2.0])
        .node("Resize", &["x", "scales"], &["y"], vec![])
        .output("y");
    check(&m);
}

#[test]
fn upsample_matches_hand_values() {
    // tract has no Upsample: check nearest (asymmetric, floor) by hand.
    let m = M::new(9)
        .input("x", &[1, 1, 2, 2])
        .init_f32("scales", &[4], &[1.0, 1.0, 2.0, 1.5])
        .node("Upsample", &["x", "scales"], &["y"], vec![])
        .output("y");
    let g = import(&m.bytes()).unwrap();
    let out = run_accel(&g, &[(vec![1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0])]);
    assert_eq!(out[0].0, vec![1, 1, 4, 3]);
    assert_eq!(out[0].1, vec![1.0, 1.0, 2.0, 1.0, 1.0, 2.0, 3.0, 3.0, 4.0, 3.0, 3.0, 4.0]);
    let m = M::new(7).input("x", &[1, 1, 2, 2]).node(
        "Upsample",
        &["x"],
        &["y"],
        vec![afs("scales", &[1.0, 1.0, 2.0, 2.0]), astr("mode", "linear")],
    );
    let g = import(&m.output("y").bytes()).unwrap();
    let out = run_accel(&g, &[(vec![1, 1, 2, 2], vec![0.0, 2.0, 4.0, 6.0])]);
    assert_eq!(out[0].1[..4], [0.0, 1.0, 2.0, 2.0]);
}

#[test]
fn constants_weights_and_aliases() {
    // Weights as Constant nodes, ConstantOfShape, an initializer that is also a graph input, Identity and
    // Dropout aliases (including one that is a graph output).
    let mut m = M::new(13).input("x", &[1, 3]);
    m.graph.input.push(super::builder::value_info(
        "bias",
        tract_onnx::pb::tensor_proto::DataType::Float,
        Some(&[Some(3)]),
    ));
    let m = m
        .init_f32("bias", &[3], &[0.5, -0.5, 1.0])
        .node(
            "Constant",
            &[],
            &["w"],
            vec![super::builder::at("value", super::builder::tf32("", &[3, 2], &rand_f32(1, 6, -1.0, 1.0)))],
        )
        .init_i64("cshape", &[1], &[2])
        .node(
            "ConstantOfShape",
            &["cshape"],
            &["c"],
            vec![super::builder::at("value", super::builder::tf32("", &[1], &[0.25]))],
        )
        .node("Add", &["x", "bias"], &["xb"], vec![])
        .init(super::builder::ti64("train", &[], &[0]))
        .node("Dropout", &["xb", "", "train"], &["xd"], vec![])
        .node("MatMul", &["xd", "w"], &["mm"], vec![])
        .node("Add", &["mm", "c"], &["y"], vec![])
        .node("Identity", &["y"], &["out"], vec![])
        .output("out")
        .output("y");
    let g = check(&m);
    assert_eq!(g.inputs.len(), 1, "the initializer-backed input is a constant");
    let names: Vec<&str> = g.outputs.iter().map(|&o| g.value(o).name.as_str()).collect();
    assert_eq!(names, ["out", "y"]);
    assert_ne!(g.outputs[0], g.outputs[1]);
    let alias = g.nodes.iter().find(|n| g.value(n.output).name == "out").unwrap();
    assert_eq!(alias.name, "/Identity_6/Identity");
    // MatMul + Add + Add + alias Reshape: the ConstantOfShape and Constant nodes emit no node.
    assert_eq!(g.nodes.len(), 4, "{g}");
}

#[test]
fn node_order_in_the_file_does_not_matter() {
    let mut m = M::new(13)
        .input("x", &[1, 2, 5, 5])
        .weight("w", &[3, 2, 3, 3], 1)
        .node("Conv", &["x", "w"], &["c"], vec![ais("pads", &[1, 1, 1, 1])])
        .node("Relu", &["c"], &["r"], vec![])
        .node("GlobalAveragePool", &["r"], &["p"], vec![])
        .node("Flatten", &["p"], &["y"], vec![])
        .output("y");
    m.graph.node.reverse();
    let g = check(&m);
    assert_eq!(g.nodes.iter().map(|n| n.op.kind()).collect::<Vec<_>>(), ["conv", "relu", "avg-pool", "reshape"]);
    assert!(matches!(g.nodes[0].op, Op::Conv(_)));
    // IR nodes keep the ONNX node names, values the ONNX value names.
    assert_eq!(g.nodes[0].name, "/Conv_0/Conv");
    assert_eq!(g.value(g.nodes[0].output).name, "c");
}
