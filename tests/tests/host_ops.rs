//! Host-only operators in a model the way detection post-processing uses them: TopK with a constant `k`
//! (both outputs), against tract on the same ONNX bytes. The values go through the simulator's host calls;
//! the indices come out as int64.
use accel_ops::target::Target;
use accel_tests::harness::{compile, random_tensor, run_blob, tract_run};
use accel_tests::onnx_model::{i64_tensor, int, Model};

#[test]
fn top_k_values_and_indices_match_tract() {
    for (axis, largest) in [(1, 1), (-1, 0), (0, 1)] {
        let m = Model::default()
            .input("x", &[3, 10])
            .init(i64_tensor("k", &[1], &[3]))
            .node("topk", "TopK", &["x", "k"], &["values", "indices"], vec![int("axis", axis), int("largest", largest)])
            .output("values")
            .output("indices");
        let onnx = m.bytes();
        let compiled = compile(&onnx, &Target::x1(), &[]);
        let x = random_tensor(&[3, 10], 17 + axis as u64);
        let got = run_blob(&compiled.blob, &[("x".to_string(), x.clone())]);
        let want = tract_run(&onnx, &[x]);
        assert_eq!(got[0].1.to_f32_vec(), want[0], "values, axis {axis}, largest {largest}");
        let indices: Vec<f32> = got[1].1.as_i64().expect("int64 indices").iter().map(|&i| i as f32).collect();
        assert_eq!(indices, want[1], "indices, axis {axis}, largest {largest}");
    }
}
