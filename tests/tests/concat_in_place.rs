//! In-place channel concatenations: when each operand of a concatenation is one contiguous byte range of its
//! output, the producers write straight into the output's storage and the concatenation emits no command
//! (`NodePlan::ConcatInPlace`). Every model here runs on the simulator against tract (f32) or bit for bit
//! against the reference interpreter (int8), and the concatenations that cannot be written in place (a graph
//! input, a constant or one value twice as operands, batch 2) keep the host copy and still compute right.
use accel_compiler::driver::Compiled;
use accel_compiler::lower::NodePlan;
use accel_modelgen::{Conv, Dim, GraphBuilder};
use accel_ops::command::Command;
use accel_ops::op::Op;
use accel_ops::target::Target;
use accel_tests::harness::{assert_close, check_exact_and_close, compile, compile_int8, random_tensor, run_blob};
use accel_tests::harness::{tract_run, ATOL, RTOL};
use accel_tests::onnx_model::{f32_tensor, int, Model};
use accel_tests::yolo_blocks::{conv_leaky, onnx_bytes, route};

/// How a concatenation was lowered.
#[derive(Debug, PartialEq)]
enum Form {
    InPlace,
    Host,
}

/// The form of every concatenation of the compiled graph, in node order; an in-place one must have no layer
/// (and so no command) of its own, and `--emit graph` must place it `@alias`.
fn concat_forms(c: &Compiled) -> Vec<Form> {
    let g = &c.optimized;
    let layers = &c.program().debug.layers;
    let text = c.graph_text();
    let placed = |name: &str, at: &str| {
        text.lines().any(|l| l.contains(" = concat(") && l.ends_with(&format!("{at}  # {name}")))
    };
    g.nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(n.op, Op::Concat(_)))
        .map(|(i, n)| match &c.lowered.plans[i] {
            NodePlan::ConcatInPlace { .. } => {
                assert!(!layers.iter().any(|l| l.split('+').any(|p| p == n.name)), "{} has a layer", n.name);
                assert!(placed(&n.name, "@alias"), "{} not printed as an alias:\n{text}", n.name);
                Form::InPlace
            }
            NodePlan::Host { .. } => {
                assert!(placed(&n.name, "@host"), "{} not printed on the host:\n{text}", n.name);
                Form::Host
            }
            p => panic!("{}: unexpected plan {p:?}", n.name),
        })
        .collect()
}

fn host_calls(c: &Compiled) -> usize {
    let queues = &c.program().queues;
    queues.iter().flat_map(|q| &q.commands).filter(|cmd| matches!(cmd, Command::HostCall { .. })).count()
}

/// Compiles in f32 and checks every output against tract on one random input; returns the compiled model.
fn check_f32(onnx: &[u8], input: &str, dims: &[usize]) -> Compiled {
    let c = compile(onnx, &Target::x1(), &[]);
    let x = random_tensor(dims, 11);
    let got = run_blob(&c.blob, &[(input.to_string(), x.clone())]);
    let want = tract_run(onnx, &[x]);
    assert_eq!(got.len(), want.len(), "output count");
    for ((name, g), w) in got.iter().zip(&want) {
        assert_close(name, &g.to_f32_vec(), w, ATOL, RTOL);
    }
    c
}

/// Two convolutions of one input concatenated on channels, then a convolution of the concatenation.
fn two_convs_concatenated() -> Vec<u8> {
    let mut b = GraphBuilder::new(51);
    let x = b.input("input", &[Dim::Fixed(1), 6.into(), 18.into(), 14.into()]);
    let l = b.scoped("left", |b| b.conv_with(&x, Conv::new(10, 3).pad(1).bias(true)));
    let l = b.relu(&l);
    let r = b.scoped("right", |b| b.conv_with(&x, Conv::new(6, 1).bias(true)));
    let r = b.relu(&r);
    let c = b.concat(&[l, r], 1);
    let y = b.scoped("head", |b| b.conv_with(&c, Conv::new(8, 3).pad(1).bias(true)));
    b.output(&y, "output");
    onnx_bytes(b)
}

/// YOLO's route: a deeper feature map upsampled and concatenated with an earlier one that a later layer reads
/// too, and the earlier one is also a graph output; then a second route concatenates the first with another
/// convolution of it (a concatenation inside a concatenation).
fn yolo_route() -> Vec<u8> {
    let mut b = GraphBuilder::new(52);
    let x = b.input("input", &[Dim::Fixed(1), 8.into(), 16.into(), 16.into()]);
    let early = conv_leaky(&mut b, "conv0", &x, Conv::new(12, 3).pad(1));
    let deep = conv_leaky(&mut b, "conv1", &early, Conv::new(16, 3).stride(2).pad(1));
    let deep = conv_leaky(&mut b, "conv2", &deep, Conv::new(6, 1));
    let route = route(&mut b, &deep, &early);
    let side = b.scoped("conv3", |b| b.conv_with(&route, Conv::new(4, 1).bias(true)));
    let route2 = b.concat(&[route, side], 1);
    let y = b.scoped("conv4", |b| b.conv_with(&route2, Conv::new(8, 3).pad(1).bias(true)));
    let y = b.leaky_relu(&y, 0.1);
    let z = b.scoped("conv5", |b| b.conv_with(&early, Conv::new(4, 1).bias(true)));
    b.output(&y, "output");
    b.output(&early, "early");
    b.output(&z, "early_head");
    onnx_bytes(b)
}

#[test]
fn a_concatenation_of_two_convolutions_is_written_in_place() {
    let c = check_f32(&two_convs_concatenated(), "input", &[1, 6, 18, 14]);
    assert_eq!(concat_forms(&c), [Form::InPlace]);
    assert_eq!(host_calls(&c), 0, "no host call: {:?}", c.program().debug.layers);
}

#[test]
fn yolo_routes_are_written_in_place() {
    let onnx = yolo_route();
    let c = check_f32(&onnx, "input", &[1, 8, 16, 16]);
    assert_eq!(concat_forms(&c), [Form::InPlace, Form::InPlace]);
    let layers = &c.program().debug.layers;
    assert!(!layers.iter().any(|l| l.contains("Concat")), "{layers:?}");
    // The same without fusion (every operand's producer a layer of its own).
    let opts = accel_compiler::driver::CompileOptions { no_fusion: true, ..Default::default() };
    let unfused = accel_compiler::driver::compile_bytes(&onnx, None, &opts).unwrap();
    assert_eq!(concat_forms(&unfused), [Form::InPlace, Form::InPlace]);
    let x = vec![("input".to_string(), random_tensor(&[1, 8, 16, 16], 11))];
    assert_eq!(run_blob(&unfused.blob, &x), run_blob(&c.blob, &x));
}

/// The int8 routes (operands share the concatenation's scale): every output bit for bit the reference
/// interpreter's, and a single route close to tract.
#[test]
fn int8_yolo_routes_are_written_in_place_exactly() {
    let dims = [1, 8, 16, 16];
    let mut b = GraphBuilder::new(53);
    let x = b.input("input", &[Dim::Fixed(1), 8.into(), 16.into(), 16.into()]);
    let early = conv_leaky(&mut b, "conv0", &x, Conv::new(12, 3).pad(1));
    let deep = conv_leaky(&mut b, "conv1", &early, Conv::new(6, 3).stride(2).pad(1));
    let route = route(&mut b, &deep, &early);
    let y = conv_leaky(&mut b, "conv2", &route, Conv::new(8, 3).pad(1));
    b.output(&y, "output");
    let single = onnx_bytes(b);
    let c = compile_int8(&single, &dims, 6, 900);
    assert_eq!(concat_forms(&c), [Form::InPlace], "{}", c.optimized);
    check_exact_and_close(&c, &single, &dims, &[1, 2], 30.0);

    let c = compile_int8(&yolo_route(), &dims, 6, 900);
    assert_eq!(concat_forms(&c), [Form::InPlace, Form::InPlace], "{}", c.optimized);
    let x = random_tensor(&dims, 3);
    let got = run_blob(&c.blob, &[("input".to_string(), x.clone())]);
    let want = accel_compiler::ir::evaluate(&c.optimized, &[x]).unwrap();
    assert_eq!(got.len(), want.len());
    for ((name, g), w) in got.iter().zip(&want) {
        let same = g.to_f32_vec().iter().zip(w.to_f32_vec()).all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{name}: simulator != reference");
    }
}

/// A C2f block: the split's slices (host kernels) and two residual sums written into the concatenation.
#[test]
fn c2f_split_and_sums_are_written_in_place() {
    let m = accel_modelgen::zoo::c2f_block(20, 24, 16, 2, 6).unwrap();
    let c = check_f32(&accel_modelgen::to_bytes(&m), "input", &[1, 16, 20, 24]);
    assert_eq!(concat_forms(&c), [Form::InPlace]);
}

/// `x: f32[n, 4, 6, 5]`, `r = relu(x)`, `y = relu(concat(a, b))` on channels, with `a` and `b` named.
fn small_concat(n: i64, a: &str, b: &str) -> Model {
    Model::default()
        .input("x", &[n, 4, 6, 5])
        .init(f32_tensor("k", &[n, 2, 6, 5], &(0..n * 60).map(|i| i as f32 * 0.25 - 3.0).collect::<Vec<_>>()))
        .node("/r/Relu", "Relu", &["x"], &["r"], vec![])
        .node("/s/Sigmoid", "Sigmoid", &["x"], &["s"], vec![])
        .node("/cat/Concat", "Concat", &[a, b], &["c"], vec![int("axis", 1)])
        .node("/y/Relu", "Relu", &["c"], &["y"], vec![])
        .output("y")
        .output("r")
}

#[test]
fn concatenations_that_cannot_be_written_in_place_stay_on_the_host() {
    for (what, n, a, b, want) in [
        ("a graph input operand", 1, "x", "r", Form::Host),
        ("a constant operand", 1, "r", "k", Form::Host),
        ("one value twice", 1, "r", "r", Form::Host),
        ("batch 2", 2, "r", "s", Form::Host),
        ("two activations", 1, "s", "r", Form::InPlace),
    ] {
        let m = small_concat(n, a, b);
        let onnx = m.bytes();
        let c = compile(&onnx, &Target::x1(), &[]);
        assert_eq!(concat_forms(&c), [want], "{what}");
        let x = random_tensor(&[n as usize, 4, 6, 5], 5);
        let got = run_blob(&c.blob, &[("x".to_string(), x.clone())]);
        for ((name, g), w) in got.iter().zip(tract_run(&onnx, &[x])) {
            assert_close(&format!("{what}: {name}"), &g.to_f32_vec(), &w, ATOL, RTOL);
        }
    }
}

/// An in-place concatenation's operands have no storage of their own: they live inside its output's, which
/// the DRAM map names. Two compiles give the same bytes.
#[test]
fn in_place_operands_live_inside_the_concatenation() {
    let onnx = yolo_route();
    let c = compile(&onnx, &Target::x1(), &[]);
    assert!(c.blob == compile(&onnx, &Target::x1(), &[]).blob, "two compiles gave different blobs");
    let g = &c.optimized;
    let regions = &c.program().debug.dram_buffers;
    let has_region = |v: accel_compiler::ir::ValueId| regions.iter().any(|r| r.name == g.value(v).name);
    let addr = |v: accel_compiler::ir::ValueId| {
        let k = g.outputs.iter().position(|&o| o == v)?;
        c.program().meta.outputs.get(k).map(|o| o.dram)
    };
    let concats: Vec<_> = g.nodes.iter().filter(|n| matches!(n.op, Op::Concat(_))).collect();
    let outer = concats.last().expect("two concatenations");
    assert!(has_region(outer.output), "{regions:?}");
    for n in &concats {
        for &v in &n.inputs {
            assert!(!has_region(v), "{} has storage of its own: {regions:?}", g.value(v).name);
        }
    }
    // The graph output `early` is the first route's second operand, after the upsampled map.
    let route = concats[0];
    let start = regions.iter().find(|r| r.name == g.value(outer.output).name).unwrap().start;
    let up_bytes = g.ty(route.inputs[0]).shape.numel() as u64 * 4;
    assert_eq!(addr(route.inputs[1]), Some(start + up_bytes));
}
