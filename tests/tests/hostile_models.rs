//! Hand-made hostile ONNX models, one or more per class of BAD-INPUT.md that applies to the compiler, each
//! compiled through the whole pipeline (`driver::compile_bytes`) and asserting the specific typed error.
//! The importer's own tests (`compiler/src/import/tests/hostile.rs`) go deeper per class; class 11
//! (external-data traversal: `..`, absolute paths, symlinks, offsets past the end) is covered there by
//! `external_data_stays_in_the_model_folder` and is only touched here through `compile_bytes` without a folder.
use accel_compiler::driver::{compile_bytes, CompileError, CompileOptions, Compiled};
use accel_compiler::import::{import_path, ImportError, ImportLimits, ImportOptions};
use accel_compiler::lower::LowerError;
use accel_ops::target::Target;
use accel_ops::Limits;
use accel_runtime::Session;
use accel_tests::onnx_model::{f32_tensor, i64_tensor, int, ints, relu_chain, value_info, Model};
use tract_onnx::pb::tensor_proto::DataLocation;
use tract_onnx::pb::{AttributeProto, GraphProto, NodeProto, StringStringEntryProto, TensorProto};

fn compile_with(bytes: &[u8], limits: ImportLimits) -> Result<Compiled, CompileError> {
    let opts = CompileOptions { import: ImportOptions { limits, ..Default::default() }, ..Default::default() };
    compile_bytes(bytes, None, &opts)
}

/// The import error of compiling `m` with default limits.
fn import_err(bytes: &[u8]) -> ImportError {
    match compile_with(bytes, ImportLimits::default()) {
        Err(CompileError::Import(e)) => e,
        Err(e) => panic!("expected an import error, got {e}"),
        Ok(_) => panic!("a hostile model compiled"),
    }
}

/// Asserts a node error naming `node` whose reason contains `why`.
fn node_err(m: &Model, node: &str, why: &str) {
    match import_err(&m.bytes()) {
        ImportError::Node { node: n, why: w, .. } => assert!(n == node && w.contains(why), "{n}: {w:?} lacks {why:?}"),
        e => panic!("expected a node error, got {e}"),
    }
}

fn relu() -> Model {
    Model::default().input("x", &[1, 4]).node("r", "Relu", &["x"], &["y"], vec![]).output("y")
}

#[test]
fn a_small_model_compiles_and_its_blob_verifies() {
    let c = compile_with(&relu().bytes(), ImportLimits::default()).unwrap();
    Session::load(&c.blob).unwrap();
}

#[test]
fn class01_truncated_protobuf() {
    let b = relu().bytes();
    for cut in [1, b.len() / 2, b.len() - 1] {
        assert!(matches!(import_err(&b[..cut]), ImportError::Decode(_)), "cut at {cut}");
    }
}

#[test]
fn class02_protobuf_length_prefix_bomb() {
    // ModelProto field 7 (graph), length-delimited, claiming 2^60 bytes: refused without allocating.
    let mut b = vec![0x3a];
    let mut n: u64 = 1 << 60;
    while n >= 0x80 {
        b.push((n as u8) | 0x80);
        n >>= 7;
    }
    b.push(n as u8);
    b.extend_from_slice(&[0; 16]);
    assert!(matches!(import_err(&b), ImportError::Decode(_)));
}

#[test]
fn class03_shape_products_that_overflow() {
    let m = Model::default()
        .input("x", &[2, 3])
        .init(i64_tensor("s", &[3], &[1 << 62, 1 << 62, 4]))
        .node("/r/Reshape", "Reshape", &["x", "s"], &["y"], vec![])
        .output("y");
    node_err(&m, "/r/Reshape", "overflows");
    let big = TensorProto { name: "w".into(), dims: vec![1 << 40, 1 << 40], data_type: 1, ..Default::default() };
    let m = relu().init(big).node("a", "Add", &["y", "w"], &["z"], vec![]).output("z");
    assert!(matches!(import_err(&m.bytes()), ImportError::Tensor { tensor, .. } if tensor == "w"));
}

#[test]
fn class04_negative_and_symbolic_dims_must_be_pinned() {
    for dims in [[Some(1), Some(-3)], [None, Some(4)]] {
        let mut m = Model::default();
        m.graph.input.push(value_info("x", &dims));
        let m = m.node("r", "Relu", &["x"], &["y"], vec![]).output("y");
        match import_err(&m.bytes()) {
            ImportError::SymbolicDim { input, example, .. } => assert!(input == "x" && example.starts_with("x=")),
            e => panic!("{e}"),
        }
    }
}

#[test]
fn class05_initializer_payload_must_match_its_dims() {
    let m = relu().init(f32_tensor("w", &[2, 4], &[1.0; 7])).node("a", "Add", &["y", "w"], &["z"], vec![]).output("z");
    assert!(
        matches!(import_err(&m.bytes()), ImportError::Tensor { tensor, why } if tensor == "w" && why.contains("28 bytes"))
    );
}

#[test]
fn class06_out_of_range_indices_and_axes() {
    let m = Model::default()
        .input("x", &[3, 2])
        .init(i64_tensor("i", &[1], &[i64::MIN]))
        .node("g", "Gather", &["x", "i"], &["y"], vec![])
        .output("y");
    node_err(&m, "g", "out of range");
    let m = Model::default().input("x", &[2, 3]).node("c", "Concat", &["x", "x"], &["y"], vec![int("axis", -100000)]);
    node_err(&m.output("y"), "c", "out of range");
    let m = Model::default().input("x", &[2, 3]).node("t", "Transpose", &["x"], &["y"], vec![ints("perm", &[0, 7])]);
    node_err(&m.output("y"), "t", "out of range");
}

#[test]
fn class07_missing_operands_and_wrong_arity() {
    let m = Model::default().input("x", &[1, 4]).node("/a/Add", "Add", &["x", "nowhere"], &["y"], vec![]).output("y");
    assert!(
        matches!(import_err(&m.bytes()), ImportError::MissingInput { node, input } if node == "/a/Add" && input == "nowhere")
    );
    let m = Model::default().input("x", &[1, 4]).node("a", "Add", &["x"], &["y"], vec![]).output("y");
    node_err(&m, "a", "expected 2 inputs");
}

#[test]
fn class08_absent_required_fields() {
    let mut p = relu().proto();
    p.graph = None;
    assert!(matches!(import_err(&accel_modelgen::to_bytes(&p)), ImportError::Model(w) if w.contains("no graph")));
    let mut p = relu().proto();
    p.opset_import.clear();
    assert!(matches!(import_err(&accel_modelgen::to_bytes(&p)), ImportError::Model(w) if w.contains("opset")));
    let m = relu().init(f32_tensor("", &[1], &[1.0]));
    assert!(matches!(import_err(&m.bytes()), ImportError::Model(w) if w.contains("no name")));
}

#[test]
fn class09_degenerate_attributes() {
    let conv = |attrs| {
        Model::default()
            .input("x", &[1, 1, 4, 4])
            .init(f32_tensor("w", &[1, 1, 3, 3], &[0.5; 9]))
            .node("/c/Conv", "Conv", &["x", "w"], &["y"], attrs)
            .output("y")
    };
    node_err(&conv(vec![ints("strides", &[1, 0])]), "/c/Conv", "strides must be >= 1");
    node_err(&conv(vec![int("group", 0)]), "/c/Conv", "group must be >= 1");
    node_err(&conv(vec![ints("dilations", &[0, 1])]), "/c/Conv", "dilations must be >= 1");
    // A group count that does not divide the channels, and a scale of 0 (an empty output, a division by zero
    // in the coordinate transform).
    node_err(&conv(vec![int("group", 3)]), "/c/Conv", "in 3 groups");
    let resize = |scales: &[f32]| {
        Model::default()
            .input("x", &[1, 1, 4, 4])
            .init(f32_tensor("scales", &[4], scales))
            .node("/up/Resize", "Resize", &["x", "", "scales"], &["y"], vec![])
            .output("y")
    };
    node_err(&resize(&[1.0, 1.0, 0.0, 2.0]), "/up/Resize", "must be finite and > 0");
    node_err(&resize(&[1.0, 1.0, f32::NAN, 2.0]), "/up/Resize", "must be finite and > 0");
    node_err(&resize(&[1.0, 1.0, 1e30, 1e30]), "/up/Resize", "element limit");
}

#[test]
fn class10_cycles_are_errors_and_deep_chains_use_no_recursion() {
    let m = Model::default()
        .input("x", &[1, 4])
        .node("A", "Add", &["x", "b"], &["a"], vec![])
        .node("B", "Relu", &["a"], &["b"], vec![])
        .output("b");
    assert!(matches!(import_err(&m.bytes()), ImportError::Cycle { node } if node == "A" || node == "B"));
    // A 5000-deep chain compiles on a thread with a 256 KiB stack: no pass recurses over the graph.
    let bytes = relu_chain(5000).bytes();
    let t = std::thread::Builder::new().stack_size(256 << 10).spawn(move || {
        let c = compile_with(&bytes, ImportLimits::default()).map_err(|e| e.to_string())?;
        Session::load(&c.blob).map(|_| ()).map_err(|e| e.to_string())
    });
    t.unwrap().join().expect("no stack overflow").unwrap();
    // Subgraphs nested 200 deep (Node -> attribute -> Graph -> Node ...): the protobuf decoder stops at its
    // recursion limit with an error instead of recursing as deep as the file says.
    let mut g = GraphProto::default();
    for _ in 0..200 {
        let body = AttributeProto { name: "then_branch".into(), r#type: 5, g: Some(g), ..Default::default() };
        let node = NodeProto { op_type: "If".into(), attribute: vec![body], ..Default::default() };
        g = GraphProto { node: vec![node], ..Default::default() };
    }
    let mut p = relu().proto();
    p.graph = Some(g);
    assert!(matches!(import_err(&accel_modelgen::to_bytes(&p)), ImportError::Decode(w) if w.contains("recursion")));
    // Depth is a configurable limit: the longest path (5000 here) counts, not the node count.
    let limits = ImportLimits { max_depth: 4999, ..Default::default() };
    match compile_with(&relu_chain(5000).bytes(), limits) {
        Err(CompileError::Import(ImportError::Limit { why, .. })) => assert!(why.contains("5000 nodes deep"), "{why}"),
        other => panic!("expected the depth limit, got {:?}", other.err()),
    }
}

#[test]
fn class11_external_data_without_a_model_folder() {
    // The full traversal matrix (`..`, absolute paths, symlinks, offset+length) is the importer's
    // `external_data_stays_in_the_model_folder`; from bytes, any external reference is refused.
    let w = TensorProto {
        name: "w".into(),
        dims: vec![4],
        data_type: 1,
        data_location: Some(DataLocation::External as i32),
        external_data: vec![StringStringEntryProto { key: "location".into(), value: "../../etc/passwd".into() }],
        ..Default::default()
    };
    let m = relu().init(w).node("a", "Add", &["y", "w"], &["z"], vec![]).output("z");
    assert!(matches!(import_err(&m.bytes()), ImportError::ExternalData { tensor, .. } if tensor == "w"));
    // A model path that does not exist is an I/O error naming it.
    let e = import_path(std::path::Path::new("/nonexistent/model.onnx"), &ImportOptions::default()).err();
    assert!(matches!(&e, Some(ImportError::Io { path, .. }) if path == "/nonexistent/model.onnx"), "{e:?}");
}

#[test]
fn class15_model_size_limits() {
    let limits = ImportLimits { max_model_bytes: 16, ..Default::default() };
    assert!(matches!(compile_with(&relu().bytes(), limits), Err(CompileError::Import(ImportError::Limit { .. }))));
    let limits = ImportLimits { tensor: Limits { max_rank: 8, max_elements: 2 }, ..Default::default() };
    assert!(matches!(compile_with(&relu().bytes(), limits), Err(CompileError::Import(ImportError::Limit { .. }))));
    // 2 MiB of weights for a target with 1 MiB of DRAM: the lowering says so instead of emitting a blob that
    // the verifier would refuse.
    let mut target = Target::x1();
    target.dram.capacity_bytes = 1 << 20;
    let m = Model::default()
        .input("x", &[1, 1024])
        .init(f32_tensor("w", &[1024, 512], &vec![0.5; 1024 * 512]))
        .node("mm", "MatMul", &["x", "w"], &["y"], vec![])
        .output("y");
    match compile_bytes(&m.bytes(), None, &CompileOptions { target, ..Default::default() }) {
        Err(CompileError::Lower(LowerError::DramCapacity { need, have })) => assert!(need > have && have == 1 << 20),
        other => panic!("expected the DRAM capacity error, got {:?}", other.err()),
    }
}

#[test]
fn class16_unknown_opsets_and_operators() {
    let mut m = relu();
    m.opset = 6;
    assert!(matches!(import_err(&m.bytes()), ImportError::Model(w) if w.contains("opset 6")));
    let m = relu().node("f", "FancyOp", &["y"], &["z"], vec![]).output("z");
    assert!(matches!(import_err(&m.bytes()), ImportError::UnsupportedOps { nodes } if nodes == ["f (FancyOp)"]));
}

#[test]
fn class18_compile_time_blow_ups_stay_within_limits() {
    // 100k nodes: refused by the node limit before anything is built.
    let bytes = relu_chain(100_000).bytes();
    let limits = ImportLimits { max_nodes: 50_000, ..Default::default() };
    match compile_with(&bytes, limits) {
        Err(CompileError::Import(ImportError::Limit { why, .. })) => {
            assert!(why.contains("100000 nodes, over the limit of 50000"), "{why}")
        }
        other => panic!("expected the node limit, got {:?}", other.err()),
    }
    // 20k deep (the e-graph extraction and the static report are quadratic in the chain length: 65 s and 3.3 GB
    // at 20k nodes) is over the default depth limit, so it is refused up front instead.
    let limits = ImportLimits { max_nodes: 50_000, ..Default::default() };
    assert!(matches!(
        compile_with(&relu_chain(20_000).bytes(), limits),
        Err(CompileError::Import(ImportError::Limit { why, .. })) if why.contains("20000 nodes deep")
    ));
    let c = compile_with(&relu_chain(2000).bytes(), ImportLimits::default()).unwrap();
    Session::load(&c.blob).unwrap();
    // A constant that would be 2^40 elements is refused by the element limit, not materialized.
    let m = Model::default()
        .input("x", &[1])
        .init(i64_tensor("s", &[2], &[1 << 20, 1 << 20]))
        .node("big", "ConstantOfShape", &["s"], &["c"], vec![])
        .node("add", "Add", &["x", "c"], &["y"], vec![])
        .output("y");
    node_err(&m, "big", "limit");
}
