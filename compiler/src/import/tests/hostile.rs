//! Hostile inputs (BAD-INPUT.md): each asserts the specific error, never a panic.
use super::builder::{ai, ais, tf32, ti64, value_info, M};
use super::import;
use crate::import::{import_bytes, import_path, ImportError, ImportLimits, ImportOptions};
use crate::ir::Graph;
use accel_ops::{DType, Limits, Tensor};
use std::path::{Path, PathBuf};
use tract_onnx::pb::tensor_proto::{DataLocation, DataType};
use tract_onnx::pb::{StringStringEntryProto, TensorProto};

fn err(m: &M) -> ImportError {
    match import(&m.bytes()) {
        Ok(g) => panic!("expected an error, imported:\n{g}"),
        Err(e) => e,
    }
}

/// Asserts a Node error naming `node` whose reason contains `why`.
fn node_err(m: &M, node: &str, why: &str) {
    match err(m) {
        ImportError::Node { node: n, why: w, .. } => {
            assert_eq!(n, node);
            assert!(w.contains(why), "reason {w:?} lacks {why:?}");
        }
        e => panic!("expected a node error, got {e}"),
    }
}

fn relu_model() -> M {
    M::new(13).input("x", &[1, 4]).node("Relu", &["x"], &["y"], vec![]).output("y")
}

#[test]
fn truncated_protobuf() {
    let bytes = relu_model().bytes();
    for cut in [bytes.len() - 1, bytes.len() / 2, 3] {
        assert!(matches!(import(&bytes[..cut]), Err(ImportError::Decode(_))), "cut at {cut}");
    }
    assert!(matches!(import(&[0xff; 16]), Err(ImportError::Decode(_))));
}

#[test]
fn oversized_model_and_too_many_nodes() {
    let bytes = relu_model().bytes();
    let small =
        ImportOptions { limits: ImportLimits { max_model_bytes: 10, ..Default::default() }, ..Default::default() };
    assert!(matches!(import_bytes(&bytes, None, &small), Err(ImportError::Limit { .. })));
    let few = ImportOptions { limits: ImportLimits { max_nodes: 0, ..Default::default() }, ..Default::default() };
    assert!(matches!(import_bytes(&bytes, None, &few), Err(ImportError::Limit { .. })));
}

#[test]
fn graph_cycle_names_a_node_on_it() {
    // x -> A -> a -> B -> b -> A (cycle), and C reads b (downstream of the cycle, not on it).
    let m = M::new(13)
        .input("x", &[1, 4])
        .named("C", "Relu", &["b"], &["c"], vec![])
        .named("A", "Add", &["x", "b"], &["a"], vec![])
        .named("B", "Relu", &["a"], &["b"], vec![])
        .output("c");
    match err(&m) {
        ImportError::Cycle { node } => assert!(node == "A" || node == "B", "{node}"),
        e => panic!("{e}"),
    }
    // A node reading its own output.
    let m = M::new(13).input("x", &[1]).named("self", "Add", &["x", "s"], &["s"], vec![]).output("s");
    assert!(matches!(err(&m), ImportError::Cycle { node } if node == "self"));
}

#[test]
fn missing_input_names_node_and_value() {
    let m = M::new(13).input("x", &[1, 4]).named("/a/Add", "Add", &["x", "nowhere"], &["y"], vec![]).output("y");
    match err(&m) {
        ImportError::MissingInput { node, input } => assert_eq!((node.as_str(), input.as_str()), ("/a/Add", "nowhere")),
        e => panic!("{e}"),
    }
    let m = M::new(13).input("x", &[1, 4]).node("Relu", &["x"], &["y"], vec![]).output("missing");
    assert!(matches!(err(&m), ImportError::MissingInput { input, .. } if input == "missing"));
}

#[test]
fn every_unknown_op_is_listed_in_one_error() {
    let m = M::new(13)
        .input("x", &[1, 4])
        .named("first", "FancyOp", &["x"], &["a"], vec![])
        .named("ok", "Relu", &["a"], &["b"], vec![])
        .named("", "OtherOp", &["b"], &["y"], vec![])
        .output("y");
    match err(&m) {
        ImportError::UnsupportedOps { nodes } => assert_eq!(nodes, ["first (FancyOp)", "<OtherOp #2> (OtherOp)"]),
        e => panic!("{e}"),
    }
    let mut m = relu_model();
    m.graph.node[0].domain = "com.microsoft".into();
    assert!(matches!(err(&m), ImportError::UnsupportedOps { nodes } if nodes[0].contains("com.microsoft.Relu")));
    let e = err(&M::new(6).input("x", &[1]).node("Relu", &["x"], &["y"], vec![]).output("y"));
    assert!(matches!(e, ImportError::Model(ref w) if w.contains("opset 6")), "{e}");
}

#[test]
fn degenerate_window_attributes() {
    let conv = |attrs| {
        M::new(13)
            .input("x", &[1, 1, 4, 4])
            .weight("w", &[1, 1, 3, 3], 1)
            .named("/c/Conv", "Conv", &["x", "w"], &["y"], attrs)
            .output("y")
    };
    node_err(&conv(vec![ais("strides", &[1, 0])]), "/c/Conv", "strides must be >= 1");
    node_err(&conv(vec![ais("dilations", &[0, 1])]), "/c/Conv", "dilations must be >= 1");
    node_err(&conv(vec![ai("group", 0)]), "/c/Conv", "group must be >= 1");
    node_err(&conv(vec![ais("kernel_shape", &[0, 3])]), "/c/Conv", "kernel_shape must be >= 1");
    node_err(&conv(vec![ais("pads", &[-1, 0, 0, 0])]), "/c/Conv", "pads must be >= 0");
    let pool = M::new(13).input("x", &[1, 1, 4, 4]).named(
        "p",
        "MaxPool",
        &["x"],
        &["y"],
        vec![ais("kernel_shape", &[2, 2]), ais("dilations", &[0, 2])],
    );
    node_err(&pool.output("y"), "p", "dilations must be >= 1");
}

#[test]
fn reshape_to_an_overflowing_product() {
    let m = M::new(13)
        .input("x", &[2, 3])
        .init_i64("s", &[3], &[1 << 62, 1 << 62, 4])
        .named("/r/Reshape", "Reshape", &["x", "s"], &["y"], vec![])
        .output("y");
    node_err(&m, "/r/Reshape", "overflows");
    let m =
        M::new(13).input("x", &[2, 3]).init_i64("s", &[2], &[-2, 3]).named("r", "Reshape", &["x", "s"], &["y"], vec![]);
    node_err(&m.output("y"), "r", "negative");
}

#[test]
fn out_of_range_indices_axes_and_perms() {
    let gather = |idx: i64| {
        M::new(13)
            .input("x", &[3, 2])
            .init_i64("i", &[1], &[idx])
            .named("g", "Gather", &["x", "i"], &["y"], vec![])
            .output("y")
    };
    node_err(&gather(3), "g", "index 3 is out of range");
    node_err(&gather(-4), "g", "index -4 is out of range");
    node_err(&gather(i64::MIN), "g", "out of range");
    let t = |perm: &[i64]| {
        M::new(13).input("x", &[2, 3]).named("t", "Transpose", &["x"], &["y"], vec![ais("perm", perm)]).output("y")
    };
    node_err(&t(&[0, 2]), "t", "out of range");
    node_err(&t(&[1, 1]), "t", "repeats");
    node_err(&t(&[0]), "t", "does not match rank");
    let c = M::new(13).input("x", &[2, 3]).named("c", "Concat", &["x", "x"], &["y"], vec![ai("axis", -100000)]);
    node_err(&c.output("y"), "c", "out of range");
    let s = M::new(11).input("x", &[2, 3]).named("s", "Softmax", &["x"], &["y"], vec![ai("axis", 2)]);
    node_err(&s.output("y"), "s", "out of range");
}

#[test]
fn unsupported_forms_are_node_errors() {
    let m = M::new(13)
        .input("x", &[4])
        .init_i64("st", &[1], &[3])
        .init_i64("en", &[1], &[0])
        .init_i64("ax", &[1], &[0])
        .init_i64("sp", &[1], &[0])
        .named("sl", "Slice", &["x", "st", "en", "ax", "sp"], &["y"], vec![]);
    node_err(&m.output("y"), "sl", "step 0");
    let pad = |mode: &str, dims: &[i64]| {
        let m = if dims.contains(&0) { M::new(13).init_f32("x", dims, &[]) } else { M::new(13).input("x", dims) };
        m.init_i64("p", &[4], &[0, 1, 0, 1]).named(
            "pad",
            "Pad",
            &["x", "p"],
            &["y"],
            vec![super::builder::astr("mode", mode)],
        )
    };
    node_err(&pad("symmetric", &[1, 4]).output("y"), "pad", "unsupported");
    // Nothing to repeat on an empty axis; pads past the element limit.
    node_err(&pad("wrap", &[1, 0]).output("y"), "pad", "nothing to repeat");
    let m = M::new(13).input("x", &[1, 4]).init_i64("p", &[4], &[0, 0, 0, 1 << 40]).named(
        "pad",
        "Pad",
        &["x", "p"],
        &["y"],
        vec![super::builder::astr("mode", "edge")],
    );
    node_err(&m.output("y"), "pad", "outside the limits");
    // A MaxPool's Indices output is an int64 host node (the N-D host pool).
    let m = M::new(13)
        .input("x", &[1, 1, 4, 4])
        .named("mp", "MaxPool", &["x"], &["y", "idx"], vec![ais("kernel_shape", &[2, 2])])
        .output("idx");
    let g = import(&m.bytes()).expect("MaxPool indices import");
    assert!(g.to_string().contains("max-pool-nd-indices"), "{g}");
    let m = M::new(13).input("x", &[1, 4]).input("w", &[4, 2]).named("mm", "Gather", &["x", "w"], &["y"], vec![]);
    node_err(&m.output("y"), "mm", "int32 or int64");
}

#[test]
fn initializer_payload_must_match_its_dims() {
    let mut m = relu_model().named("add", "Add", &["y", "w"], &["z"], vec![]).output("z");
    m = m.init(tf32("w", &[2, 4], &[1.0; 7]));
    match err(&m) {
        ImportError::Tensor { tensor, why } => {
            assert_eq!(tensor, "w");
            assert!(why.contains("raw_data has 28 bytes"), "{why}");
        }
        e => panic!("{e}"),
    }
    let mut m = relu_model().named("add", "Add", &["y", "w"], &["z"], vec![]).output("z");
    m = m.init(TensorProto {
        name: "w".into(),
        dims: vec![4],
        data_type: DataType::Float as i32,
        float_data: vec![1.0; 3],
        ..Default::default()
    });
    assert!(matches!(err(&m), ImportError::Tensor { why, .. } if why.contains("3 elements")));
    let mut m = relu_model().named("add", "Add", &["y", "w"], &["z"], vec![]).output("z");
    m = m.init(TensorProto {
        name: "w".into(),
        dims: vec![-4],
        data_type: DataType::Float as i32,
        ..Default::default()
    });
    assert!(matches!(err(&m), ImportError::Tensor { why, .. } if why.contains("negative")));
    let mut m = relu_model().named("add", "Add", &["y", "w"], &["z"], vec![]).output("z");
    m = m.init(TensorProto {
        name: "w".into(),
        dims: vec![1 << 40, 1 << 40],
        data_type: DataType::Float as i32,
        ..Default::default()
    });
    assert!(matches!(err(&m), ImportError::Tensor { tensor, .. } if tensor == "w"));
    // float16 initializers are converted to f32.
    let half = TensorProto {
        name: "w".into(),
        dims: vec![4],
        data_type: DataType::Float16 as i32,
        raw_data: [0x3c00u16, 0xc000, 0, 0x3800].iter().flat_map(|h| h.to_le_bytes()).collect(),
        ..Default::default()
    };
    let g =
        import(&relu_model().named("add", "Add", &["y", "w"], &["z"], vec![]).output("z").init(half).bytes()).unwrap();
    let w = g.values.iter().find(|v| v.name == "w").and_then(|v| v.constant.as_ref()).unwrap();
    assert_eq!(w.as_f32().unwrap(), &[1.0, -2.0, 0.0, 0.5]);
}

#[test]
fn huge_constant_of_shape_hits_the_limit() {
    let m = M::new(13)
        .input("x", &[1])
        .init_i64("s", &[2], &[1 << 20, 1 << 20])
        .named("big", "ConstantOfShape", &["s"], &["c"], vec![])
        .named("add", "Add", &["x", "c"], &["y"], vec![])
        .output("y");
    match err(&m) {
        ImportError::Node { node, why, .. } => assert!(node == "big" && why.contains("limit"), "{why}"),
        e => panic!("{e}"),
    }
}

fn symbolic_model() -> M {
    let mut m = M::new(13);
    m.graph.input.push(value_info("data", DataType::Float, Some(&[None, Some(3), Some(8), Some(8)])));
    m.node("Relu", &["data"], &["y"], vec![]).output("y")
}

fn pinned(pins: &[(&str, &[usize])]) -> ImportOptions {
    ImportOptions {
        input_shapes: pins.iter().map(|(n, d)| (n.to_string(), d.to_vec())).collect(),
        ..Default::default()
    }
}

#[test]
fn symbolic_dims_need_a_pin() {
    let bytes = symbolic_model().bytes();
    let e = import(&bytes).unwrap_err();
    assert!(
        matches!(&e, ImportError::SymbolicDim { input, dim, .. } if input == "data" && dim.contains("`N` (axis 0)"))
    );
    assert!(e.to_string().contains("--input-shape data=1,3,8,8"), "{e}");
    let g = import_bytes(&bytes, None, &pinned(&[("data", &[2, 3, 8, 8])])).unwrap();
    assert_eq!(g.ty(g.inputs[0]).shape.dims(), [2, 3, 8, 8]);
    let bad = |pins: &[(&str, &[usize])]| import_bytes(&bytes, None, &pinned(pins)).unwrap_err();
    assert!(matches!(bad(&[("data", &[2, 3, 8])]), ImportError::BadInputShape { why, .. } if why.contains("rank")));
    assert!(
        matches!(bad(&[("data", &[2, 4, 8, 8])]), ImportError::BadInputShape { why, .. } if why.contains("axis 1"))
    );
    assert!(matches!(bad(&[("nope", &[1])]), ImportError::BadInputShape { input, .. } if input == "nope"));
    // An empty input is a constant (its one possible value): the Relu on it folds to an empty output.
    let g = import_bytes(&bytes, None, &pinned(&[("data", &[0, 3, 8, 8])])).unwrap();
    assert!(g.nodes.is_empty() && g.ty(g.outputs[0]).shape.dims() == [0, 3, 8, 8]);
    let small = ImportOptions {
        input_shapes: vec![("data".into(), vec![1 << 20, 3, 8, 8])],
        limits: ImportLimits { tensor: Limits { max_rank: 8, max_elements: 1 << 20 }, ..Default::default() },
        ..Default::default()
    };
    assert!(matches!(import_bytes(&bytes, None, &small), Err(ImportError::Limit { .. })));
    let mut m = M::new(13);
    m.graph.input.push(value_info("ids", DataType::String, Some(&[Some(3)])));
    let m = m.node("Relu", &["ids"], &["y"], vec![]).output("y");
    assert!(matches!(err(&m), ImportError::UnsupportedInput { input, .. } if input == "ids"));
    // Integer, bool, float16 and double graph inputs keep their type at the interface: the runtime carries
    // their bytes unchanged (the graph computes f16/f64 in f32 and u32 in i64 behind a cast).
    for (elem, dtype) in [
        (DataType::Int64, DType::I64),
        (DataType::Uint8, DType::U8),
        (DataType::Bool, DType::Bool),
        (DataType::Float16, DType::F16),
        (DataType::Double, DType::F64),
        (DataType::Uint32, DType::U32),
    ] {
        let mut m = M::new(13);
        m.graph.input.push(value_info("ids", elem, Some(&[Some(3)])));
        let m = m.node("Identity", &["ids"], &["y"], vec![]).output("y");
        let g = import_bytes(&m.bytes(), None, &ImportOptions::default()).unwrap();
        assert_eq!(g.ty(g.inputs[0]).dtype, dtype);
    }
}

/// A scratch folder for external-data tests.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("accel-import-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A model adding an external [2] f32 weight to its input, written into `dir`.
fn external_model(dir: &Path, location: &str, offset: Option<u64>) -> PathBuf {
    let mut entries = vec![StringStringEntryProto { key: "location".into(), value: location.into() }];
    if let Some(o) = offset {
        entries.push(StringStringEntryProto { key: "offset".into(), value: o.to_string() });
        entries.push(StringStringEntryProto { key: "length".into(), value: "8".into() });
    }
    let w = TensorProto {
        name: "w".into(),
        dims: vec![2],
        data_type: DataType::Float as i32,
        data_location: Some(DataLocation::External as i32),
        external_data: entries,
        ..Default::default()
    };
    let m = M::new(13).input("x", &[2]).init(w).named("add", "Add", &["x", "w"], &["y"], vec![]).output("y");
    let path = dir.join("model.onnx");
    std::fs::write(&path, m.bytes()).unwrap();
    path
}

fn external_err(path: &Path) -> String {
    match import_path(path, &ImportOptions::default()) {
        Err(ImportError::ExternalData { tensor, why }) => {
            assert_eq!(tensor, "w");
            why
        }
        Err(e) => panic!("expected an external-data error, got {e}"),
        Ok(_) => panic!("expected an external-data error"),
    }
}

#[test]
fn external_data_stays_in_the_model_folder() {
    let tmp = TempDir::new("ext");
    let dir = tmp.0.join("model");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let data: Vec<u8> = [0.0f32, 1.5, -2.0, 4.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(dir.join("sub/w.bin"), &data).unwrap();
    std::fs::write(tmp.0.join("x.bin"), &data).unwrap();

    // A valid reference, with an offset.
    let path = external_model(&dir, "sub/w.bin", Some(8));
    let g = import_path(&path, &ImportOptions::default()).unwrap();
    let w = g.values.iter().find(|v| v.name == "w").and_then(|v| v.constant.as_ref()).unwrap();
    assert_eq!(w.as_f32().unwrap(), &[-2.0, 4.0]);
    // Without a folder (import_bytes) external data is refused.
    let bytes = std::fs::read(&path).unwrap();
    assert!(matches!(import_bytes(&bytes, None, &ImportOptions::default()), Err(ImportError::ExternalData { .. })));

    assert!(external_err(&external_model(&dir, "../x.bin", None)).contains("`..`"));
    assert!(external_err(&external_model(&dir, "sub/../../x.bin", None)).contains("`..`"));
    let abs = tmp.0.join("x.bin");
    assert!(external_err(&external_model(&dir, abs.to_str().unwrap(), None)).contains("absolute"));
    assert!(external_err(&external_model(&dir, "sub/w.bin", Some(12))).contains("past the end"));
    assert!(external_err(&external_model(&dir, "sub/w.bin", Some(u64::MAX))).contains("overflows"));
    assert!(external_err(&external_model(&dir, "sub/none.bin", None)).contains("cannot stat"));
    assert!(external_err(&external_model(&dir, "sub", None)).contains("not a regular file"));
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(tmp.0.join("x.bin"), dir.join("link.bin")).unwrap();
        assert!(external_err(&external_model(&dir, "link.bin", None)).contains("symlink"));
        std::os::unix::fs::symlink(&tmp.0, dir.join("up")).unwrap();
        assert!(external_err(&external_model(&dir, "up/x.bin", None)).contains("symlink"));
    }
}

#[test]
fn structural_errors() {
    // Two nodes defining one value.
    let m = M::new(13)
        .input("x", &[1])
        .node("Relu", &["x"], &["y"], vec![])
        .node("Neg", &["x"], &["y"], vec![])
        .output("y");
    assert!(matches!(err(&m), ImportError::Model(w) if w.contains("produced by both")));
    // Typed attribute getters reject a wrong type.
    let m = M::new(13).input("x", &[2, 3]).named("t", "Transpose", &["x"], &["y"], vec![ai("perm", 1)]).output("y");
    node_err(&m, "t", "must be INTS");
    // Wrong arity.
    let m = M::new(13).input("x", &[2, 3]).named("a", "Add", &["x"], &["y"], vec![]).output("y");
    node_err(&m, "a", "expected 2 inputs");
    // Integer arithmetic on non-constants.
    let m = M::new(13)
        .input("x", &[2, 3])
        .node("Shape", &["x"], &["s"], vec![])
        .init(ti64("k", &[1], &[0]))
        .named("div", "Div", &["s", "k"], &["y"], vec![])
        .output("y");
    node_err(&m, "div", "divides by zero");
}

/// A Cast to double (or an output declared float16) cannot come out as declared: refused, naming the output,
/// not silently delivered as float32.
#[test]
fn outputs_of_types_without_an_exact_form_are_refused() {
    for elem in [DataType::String, DataType::Complex64, DataType::Float8e4m3fn] {
        let mut m = M::new(13).input("x", &[1, 4]).node("Relu", &["x"], &["y"], vec![]);
        m.graph.output.push(value_info("y", elem, None));
        match err(&m) {
            ImportError::Model(why) => assert!(why.contains("`y`") && why.contains(elem.as_str_name()), "{why}"),
            e => panic!("expected a model error, got {e}"),
        }
    }
    // Declared double or float16, computed in f32: delivered in the declared type by one final cast.
    for (to, elem, dtype) in [(11, DataType::Double, DType::F64), (10, DataType::Float16, DType::F16)] {
        let mut m = M::new(13).input("x", &[1, 4]).node("Cast", &["x"], &["y"], vec![ai("to", to)]);
        m.graph.output.push(value_info("y", elem, None));
        let g = import(&m.bytes()).unwrap();
        assert_eq!(g.ty(g.outputs[0]).dtype, dtype);
        assert_eq!(g.value(g.outputs[0]).name, "y");
    }
    // Declared float: fine.
    let m = relu_model();
    assert!(import(&m.bytes()).is_ok());
}

/// ConvTranspose attributes that cannot describe an output are node errors, never a panic or a huge tensor.
#[test]
fn conv_transpose_attributes_are_checked() {
    let base = || M::new(13).input("x", &[1, 2, 3, 3]).init(tf32("w", &[2, 1, 3, 3], &[0.5; 18]));
    let m = base().named("up", "ConvTranspose", &["x", "w"], &["y"], vec![ais("pads", &[1, 1, 1])]);
    node_err(&m.output("y"), "up", "`pads` has 3 values");
    let m = base().named("up", "ConvTranspose", &["x", "w"], &["y"], vec![ais("pads", &[3, 3, 3, 3])]);
    node_err(&m.output("y"), "up", "leave no output");
    let m = base().named("up", "ConvTranspose", &["x", "w"], &["y"], vec![ais("output_shape", &[40, 40])]);
    node_err(&m.output("y"), "up", "negative begin pad");
    let m = base().named("up", "ConvTranspose", &["x", "w"], &["y"], vec![ais("strides", &[1 << 40, 1])]);
    match err(&m.output("y")) {
        ImportError::Node { .. } | ImportError::Limit { .. } => {}
        e => panic!("expected a node or limit error, got {e}"),
    }
    let m = base().named("up", "ConvTranspose", &["x", "w"], &["y"], vec![ais("dilations", &[i64::MAX, 1])]);
    node_err(&m.output("y"), "up", "overflow");
}

/// `--freeze`: an input fixed at compile time becomes a constant (so a Reshape may take its shape from it) and
/// leaves the interface; a wrong name, type or double use is refused naming the input.
#[test]
fn frozen_inputs_become_constants() {
    let mut m = M::new(13).input("x", &[2, 6]);
    m.graph.input.push(value_info("shape", DataType::Int64, Some(&[Some(2)])));
    let bytes = m.node("Reshape", &["x", "shape"], &["y"], vec![]).output("y").bytes();
    // Without the value, the Reshape cannot be sized.
    assert!(import_bytes(&bytes, None, &pinned(&[])).is_err());
    let freeze = |name: &str, t: Tensor, pins: &[(&str, &[usize])]| {
        let mut o = pinned(pins);
        o.frozen_inputs = vec![(name.to_string(), t)];
        import_bytes(&bytes, None, &o)
    };
    let shape = Tensor::from_i64(vec![2], vec![3, 4]).unwrap();
    let g = freeze("shape", shape.clone(), &[]).unwrap();
    assert_eq!(g.inputs.len(), 1, "the frozen input left the interface");
    assert_eq!(g.ty(g.outputs[0]).shape.dims(), [3, 4]);
    let refused = |r: Result<Graph, ImportError>, needle: &str| match r {
        Err(e @ ImportError::BadInputShape { .. }) => assert!(e.to_string().contains(needle), "{e}"),
        other => panic!("expected a refusal with {needle:?}, got {other:?}"),
    };
    refused(freeze("nope", shape.clone(), &[]), "no such input");
    refused(freeze("shape", shape.clone(), &[("shape", &[2])]), "both frozen and pinned");
    refused(freeze("shape", Tensor::from_i32(vec![2], vec![3, 4]).unwrap(), &[]), "the frozen value is i32");
    refused(freeze("shape", Tensor::from_i64(vec![3], vec![3, 4, 1]).unwrap(), &[]), "fixes it at 2");
}

/// Host pooling (3-D, dilated) and GridSample attributes that cannot describe an output are node errors.
#[test]
fn host_pool_and_grid_sample_attributes_are_checked() {
    let pool = |attrs| M::new(22).input("x", &[1, 1, 4, 4, 4]).named("p", "MaxPool", &["x"], &["y"], attrs).output("y");
    node_err(&pool(vec![ais("kernel_shape", &[2, 2])]), "p", "`kernel_shape` has 2 values");
    node_err(&pool(vec![ais("kernel_shape", &[4, 2, 2]), ais("dilations", &[i64::MAX, 1, 1])]), "p", "overflow");
    node_err(&pool(vec![ais("kernel_shape", &[9, 2, 2])]), "p", "larger than the padded axis");
    node_err(&pool(vec![ais("kernel_shape", &[2, 2, 2]), ais("strides", &[0, 1, 1])]), "p", "strides must be >= 1");
    let pads = vec![ais("kernel_shape", &[2, 2, 2]), ais("pads", &[i64::MAX, 0, 0, i64::MAX, 0, 0])];
    node_err(&pool(pads), "p", "overflow");
    let grid = |opset, x: &[i64], g: &[i64], mode: &str| {
        M::new(opset)
            .input("x", x)
            .input("g", g)
            .named("gs", "GridSample", &["x", "g"], &["y"], vec![super::builder::astr("mode", mode)])
            .output("y")
    };
    node_err(&grid(16, &[1, 1, 4, 4], &[1, 2, 2, 2], "linear"), "gs", "not a GridSample mode");
    node_err(&grid(16, &[1, 1, 2, 4, 4], &[1, 2, 2, 2, 3], "bilinear"), "gs", "4-D input");
    node_err(&grid(20, &[1, 1, 4, 4], &[1, 2, 2, 3], "linear"), "gs", "does not fit");
    assert!(import(&grid(20, &[1, 1, 4, 4], &[1, 2, 2, 2], "cubic").bytes()).is_ok());
}
