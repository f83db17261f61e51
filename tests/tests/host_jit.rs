//! Host kernels end to end (issue 9): models with host operators compile to kernel-IR host kernels, and the
//! runtime's two backends, native code from the Cranelift JIT (the default) and the ops reference interpreter
//! (the debug switch), leave DRAM identical bit for bit after a run; both match tract within the e2e tolerance.
use accel_ops::blob::BlobLimits;
use accel_ops::target::Target;
use accel_ops::Tensor;
use accel_runtime::host::HostBackend;
use accel_runtime::Session;
use accel_tests::harness::{assert_close, compile, random_tensor, tract_run, ATOL, RTOL};
use accel_tests::onnx_model::{i64_tensor, int, ints, Model};
use std::path::Path;

/// What one differential check saw, for the per-model assertions.
struct Seen {
    /// `what()` of every host kernel, in kernel order.
    kernels: Vec<String>,
    fallbacks: Vec<String>,
    /// Layer names of the host calls (ONNX node names, fused ones joined with `+`).
    layers: Vec<String>,
    compiled: usize,
}

/// Compiles `onnx`, runs it with each host backend on the same seeded inputs, and checks: DRAM after the run
/// is identical bit for bit, and the outputs are within the e2e tolerance of tract's.
fn check(what: &str, onnx: &[u8]) -> Seen {
    let compiled = compile(onnx, &Target::x1(), &[]);
    let p = compiled.program();
    let inputs: Vec<(String, Tensor)> = p
        .meta
        .inputs
        .iter()
        .enumerate()
        .map(|(i, io)| (io.name.clone(), random_tensor(io.ty.shape.dims(), 11 + i as u64)))
        .collect();
    let run = |backend: HostBackend| {
        let mut s = Session::load_with_backend(&compiled.blob, &BlobLimits::default(), backend)
            .unwrap_or_else(|e| panic!("{what}: load failed: {e}"));
        let out = s.run(&inputs).unwrap_or_else(|e| panic!("{what}: run with {backend:?} failed: {e}"));
        (out.outputs, s.machine().dram().to_vec(), s.host_kernels().compiled())
    };
    let (jit, jit_dram, compiled_kernels) = run(HostBackend::Jit);
    let (interp, interp_dram, interp_compiled) = run(HostBackend::Interpret);
    assert_eq!(interp_compiled, 0, "{what}: the interpreter backend compiled kernels");
    if let Some(at) = jit_dram.iter().zip(&interp_dram).position(|(a, b)| a != b) {
        panic!("{what}: JIT and interpreter differ at DRAM byte {at:#x}");
    }
    let want = tract_run(onnx, &inputs.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>());
    assert_eq!(jit.len(), want.len(), "{what}: output count");
    for (((name, j), (_, i)), w) in jit.iter().zip(&interp).zip(&want) {
        assert_eq!(j.to_le_bytes(), i.to_le_bytes(), "{what}/{name}: outputs differ");
        assert_close(&format!("{what}/{name}"), &j.to_f32_vec(), w, ATOL, RTOL);
    }
    let host_layers = p
        .queues
        .iter()
        .enumerate()
        .flat_map(|(q, queue)| queue.commands.iter().enumerate().map(move |(c, cmd)| (q, c, cmd)))
        .filter(|(_, _, cmd)| matches!(cmd, accel_ops::command::Command::HostCall { .. }))
        .filter_map(|(q, c, _)| p.debug.command_layer.get(q)?.get(c).and_then(|&l| p.debug.layers.get(l as usize)))
        .cloned()
        .collect();
    Seen {
        kernels: p.kernels.iter().map(|k| k.what().to_string()).collect(),
        fallbacks: p.kernels.iter().filter(|k| k.is_fallback()).map(|k| k.what().to_string()).collect(),
        layers: host_layers,
        compiled: compiled_kernels,
    }
}

fn light(file: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/light").join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn alexnet_lrn_and_softmax_run_as_jit_kernels() {
    let seen = check("light_bvlc_alexnet", &light("light_bvlc_alexnet.onnx"));
    assert!(seen.kernels.iter().any(|k| k == "lrn"), "{:?}", seen.kernels);
    assert!(seen.fallbacks.is_empty(), "operator-form fallbacks: {:?}", seen.fallbacks);
    assert!(seen.compiled >= 1 && seen.compiled <= seen.kernels.len(), "{} compiled", seen.compiled);
}

#[test]
fn shufflenet_channel_shuffles_run_as_jit_kernels() {
    let seen = check("light_shufflenet", &light("light_shufflenet.onnx"));
    assert!(seen.kernels.iter().any(|k| k == "transpose"), "{:?}", seen.kernels);
    assert!(seen.fallbacks.is_empty(), "operator-form fallbacks: {:?}", seen.fallbacks);
    // The shuffles of equal shape are the same kernel: compiled once (the cache is per kernel).
    assert!(seen.compiled < seen.kernels.len(), "{} compiled for {} kernels", seen.compiled, seen.kernels.len());
}

#[test]
fn squeezenet_runs_with_both_backends() {
    let seen = check("light_squeezenet", &light("light_squeezenet.onnx"));
    assert!(seen.fallbacks.is_empty(), "operator-form fallbacks: {:?}", seen.fallbacks);
}

/// A chain of host-only elementwise operators, then layout and reduction operators and a gather.
fn host_ops_model() -> Vec<u8> {
    Model::default()
        .input("x", &[1, 6, 8, 8])
        .init(i64_tensor("idx", &[3], &[5, 0, 2]))
        .node("/exp/Exp", "Exp", &["x"], &["e"], vec![])
        .node("/log/Log", "Log", &["e"], &["l"], vec![])
        .node("/abs/Abs", "Abs", &["l"], &["a"], vec![])
        .node("/sqrt/Sqrt", "Sqrt", &["a"], &["s"], vec![])
        .node("/neg/Neg", "Neg", &["s"], &["q"], vec![])
        .node("/softmax/Softmax", "Softmax", &["q"], &["sm"], vec![int("axis", 3)])
        .node("/transpose/Transpose", "Transpose", &["sm"], &["t"], vec![ints("perm", &[0, 2, 3, 1])])
        .node("/gather/Gather", "Gather", &["t", "idx"], &["g"], vec![int("axis", 3)])
        .node("/reduce/ReduceMax", "ReduceMax", &["x"], &["r"], vec![ints("axes", &[1]), int("keepdims", 1)])
        .node("/concat/Concat", "Concat", &["r", "x"], &["c"], vec![int("axis", 1)])
        .output("g")
        .output("c")
        .bytes()
}

#[test]
fn elementwise_host_chains_fuse_into_one_kernel() {
    let seen = check("host_ops", &host_ops_model());
    assert!(seen.fallbacks.is_empty(), "operator-form fallbacks: {:?}", seen.fallbacks);
    // One host call computes the adjacent elementwise nodes in one pass; its layer names them all.
    let fused =
        seen.layers.iter().find(|l| l.contains("/exp/Exp+/log/Log")).unwrap_or_else(|| panic!("{:?}", seen.layers));
    assert!(fused.contains("/sqrt/Sqrt"), "{fused}");
    for op in ["softmax", "transpose", "gather", "concat"] {
        assert!(seen.kernels.iter().any(|k| k == op), "no {op} kernel in {:?}", seen.kernels);
    }
}
