//! Shape subgraphs fold away at import: the PyTorch Flatten pattern, integer arithmetic the f32-only
//! `Binary` op cannot do, and the constant-only operators.
use super::builder::{ai, ais, at, ti64, M};
use super::{check, import};
use accel_ops::op::Op;

#[test]
fn pytorch_flatten_pattern_folds_to_one_reshape() {
    // Shape -> Gather(0) -> Unsqueeze -> Concat(-1) -> Reshape, as torch.flatten(x, 1) exports.
    let m = M::new(13)
        .input("x", &[2, 3, 4, 5])
        .node("Shape", &["x"], &["/Shape_output_0"], vec![])
        .init_i64("zero", &[], &[0])
        .node("Gather", &["/Shape_output_0", "zero"], &["/Gather_output_0"], vec![ai("axis", 0)])
        .init_i64("ax0", &[1], &[0])
        .node("Unsqueeze", &["/Gather_output_0", "ax0"], &["/Unsqueeze_output_0"], vec![])
        .init_i64("minus1", &[1], &[-1])
        .node("Concat", &["/Unsqueeze_output_0", "minus1"], &["/Concat_output_0"], vec![ai("axis", 0)])
        .node("Reshape", &["x", "/Concat_output_0"], &["y"], vec![])
        .output("y");
    let g = check(&m);
    assert_eq!(g.nodes.len(), 1, "{g}");
    assert!(matches!(&g.nodes[0].op, Op::Reshape(r) if r.shape.dims() == [2, 60]));
}

#[test]
fn integer_shape_arithmetic_folds() {
    // h*w computed from the shape with i64 Mul/Div/Add/Sub, then a Reshape.
    let m = M::new(13)
        .input("x", &[2, 3, 4, 6])
        .node("Shape", &["x"], &["s"], vec![])
        .init_i64("i2", &[1], &[2])
        .init_i64("i3", &[1], &[3])
        .node("Gather", &["s", "i2"], &["h"], vec![])
        .node("Gather", &["s", "i3"], &["w"], vec![])
        .node("Mul", &["h", "w"], &["hw"], vec![])
        .init_i64("two", &[1], &[2])
        .node("Div", &["hw", "two"], &["half"], vec![])
        .node("Add", &["half", "two"], &["plus"], vec![])
        .node("Sub", &["plus", "two"], &["back"], vec![])
        .init_i64("lead", &[2], &[0, -1])
        .node("Concat", &["lead", "back"], &["shape"], vec![ai("axis", 0)])
        .node("Reshape", &["x", "shape"], &["y"], vec![])
        .output("y");
    let g = check(&m);
    assert_eq!(g.nodes.len(), 1, "{g}");
    assert!(matches!(&g.nodes[0].op, Op::Reshape(r) if r.shape.dims() == [2, 6, 12]));
}

#[test]
fn constant_only_operators_fold() {
    // Range, Equal, Where, Expand, Cast, ConstantOfShape and Size feeding a Reshape and an Add.
    let m = M::new(13)
        .input("x", &[2, 3, 4])
        .init_i64("r0", &[], &[0])
        .init_i64("r1", &[], &[3])
        .init_i64("r2", &[], &[1])
        .node("Range", &["r0", "r1", "r2"], &["range"], vec![])
        .init_i64("one", &[], &[1])
        .node("Equal", &["range", "one"], &["is1"], vec![])
        .node("Shape", &["x"], &["s"], vec![])
        .init_i64("m1", &[3], &[-1, -1, -1])
        .node("Where", &["is1", "m1", "s"], &["spec"], vec![])
        .node("Reshape", &["x", "spec"], &["r"], vec![])
        .node("Size", &["x"], &["size"], vec![])
        .node("Cast", &["size"], &["sizef"], vec![ai("to", 1)])
        .init_i64("eshape", &[2], &[3, 1])
        .node("Expand", &["sizef", "eshape"], &["e"], vec![])
        .node("Add", &["r", "e"], &["y"], vec![])
        .node("ConstantOfShape", &["eshape"], &["z"], vec![at("value", ti64("", &[1], &[7]))])
        .node("Cast", &["z"], &["zf"], vec![ai("to", 1)])
        .node("Mul", &["y", "zf"], &["out"], vec![])
        .output("out");
    let g = check(&m);
    assert_eq!(g.nodes.len(), 3, "{g}");
}

#[test]
fn shape_start_end_and_squeeze_of_constants() {
    let m = M::new(15)
        .input("x", &[2, 3, 4])
        .node("Shape", &["x"], &["tail"], vec![ai("start", -2)])
        .init_i64("lead", &[1], &[-1])
        .node("Concat", &["lead", "tail"], &["spec"], vec![ai("axis", 0)])
        .node("Reshape", &["x", "spec"], &["y"], vec![])
        .node("ReduceProd", &["tail"], &["prod"], vec![ais("axes", &[0]), ai("keepdims", 1)])
        .node("Concat", &["lead", "prod"], &["spec2"], vec![ai("axis", 0)])
        .node("Reshape", &["x", "spec2"], &["z"], vec![])
        .output("y")
        .output("z");
    let g = check(&m);
    assert_eq!(g.nodes.len(), 2, "{g}");
}

#[test]
fn reshape_allowzero() {
    let m = M::new(14)
        .input("x", &[2, 3])
        .init_i64("s", &[2], &[3, 2])
        .node("Reshape", &["x", "s"], &["y"], vec![ai("allowzero", 1)])
        .output("y");
    check(&m);
    let m = M::new(14)
        .input("x", &[2, 3])
        .init_i64("s", &[3], &[0, -1, 1])
        .node("Reshape", &["x", "s"], &["y"], vec![ai("allowzero", 1)])
        .output("y");
    let e = import(&m.bytes()).unwrap_err().to_string();
    assert!(e.contains("both -1 and 0"), "{e}");
}
