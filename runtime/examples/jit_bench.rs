//! Benchmark of JIT-compiled host kernels against a plain Rust loop and against memcpy bandwidth, in one run:
//! add of two 16M-element f32 buffers, a fused mul-add-sigmoid chain over 16M elements, softmax over the last
//! axis of [4096, 1000]. Single thread; each timing is the best of several runs after a warm-up (page faults).
//! Bandwidth counts bytes read plus bytes written; memcpy (`copy_from_slice`) moves the same per-element bytes.
//!
//! Run: `cargo run --release -p accel-runtime --example jit_bench [-- --quick]`. With `ACCEL_JIT_LISTING` set,
//! prints each kernel's machine code (`JitKernel::listing`) to stderr.
#[path = "../src/host/mod.rs"]
#[allow(dead_code, unused_imports)]
mod host;

use accel_ops::kernel::{from_op, fuse_elementwise, verify, BufId, Kernel};
use accel_ops::op::{Binary, BinaryOp, Op, Softmax, Unary, UnaryOp};
use accel_ops::TensorType;
use host::JitKernel;
use std::hint::black_box;
use std::time::Instant;

/// Best wall time of `runs` calls, in seconds.
fn best(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn floats(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn data(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1u32 << 24) as f32 * 4.0 - 2.0
        })
        .collect()
}

fn kernel(op: &Op, inputs: &[TensorType]) -> Kernel {
    let out = op.infer(inputs).expect("types");
    from_op(op, inputs, &out).expect("lowering")
}

fn compile(k: Kernel) -> JitKernel {
    let vk = verify(k).expect("verified");
    if std::env::var_os("ACCEL_JIT_LISTING").is_some() {
        eprintln!("{}", JitKernel::listing(&vk).expect("listing"));
    }
    let jit = JitKernel::compile(&vk).expect("compiled");
    assert!(jit.stats().vector_regions == jit.stats().regions, "every loop vectorized");
    jit
}

struct Row {
    name: &'static str,
    bytes: f64,
    jit: f64,
    rust: f64,
    max_diff: f32,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (n, rows, runs) = if quick { (1 << 20, 256, 3) } else { (1 << 24, 4096, 5) };
    let cols = 1000;
    let gb = |bytes: f64, secs: f64| bytes / secs / 1e9;

    // memcpy: one read and one write per element.
    let src = bytes(&data(n, 1));
    let mut dst = vec![0u8; src.len()];
    let t_copy = best(runs, || dst.copy_from_slice(black_box(&src)));
    let memcpy_bw = gb(2.0 * src.len() as f64, t_copy);
    let mut table = Vec::new();

    // Add: out = a + b.
    let (a, b) = (data(n, 2), data(n, 3));
    let v = TensorType::f32(vec![n]);
    let add = compile(kernel(&Op::Binary(Binary { op: BinaryOp::Add }), &[v.clone(), v.clone()]));
    let (mut ab, mut bb, mut yb) = (bytes(&a), bytes(&b), vec![0u8; 4 * n]);
    let t_jit = best(runs, || add.run(&mut [&mut ab[..], &mut bb[..], &mut yb[..]]).expect("run"));
    let mut y = vec![0f32; n];
    let t_rust = best(runs, || {
        for ((y, a), b) in y.iter_mut().zip(black_box(&a)).zip(black_box(&b)) {
            *y = a + b;
        }
    });
    let diff = floats(&yb).iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max);
    table.push(Row { name: "add 16M", bytes: 12.0 * n as f64, jit: t_jit, rust: t_rust, max_diff: diff });

    // Fused chain: out = sigmoid(x * w + c), three kernels fused into one loop.
    let mul = kernel(&Op::Binary(Binary { op: BinaryOp::Mul }), &[v.clone(), v.clone()]);
    let addk = kernel(&Op::Binary(Binary { op: BinaryOp::Add }), &[v.clone(), v.clone()]);
    let sig = kernel(&Op::Unary(Unary { op: UnaryOp::Sigmoid }), std::slice::from_ref(&v));
    let f1 = fuse_elementwise(&mul, &addk, BufId(0)).expect("fuse mul+add");
    let f2 = fuse_elementwise(&f1.kernel, &sig, BufId(0)).expect("fuse +sigmoid");
    let chain = compile(f2.kernel);
    let c = data(n, 4);
    let (mut xb, mut wb, mut cb) = (bytes(&a), bytes(&b), bytes(&c));
    let t_jit = best(runs, || chain.run(&mut [&mut xb[..], &mut wb[..], &mut cb[..], &mut yb[..]]).expect("run"));
    let t_rust = best(runs, || {
        for (((y, x), w), c) in y.iter_mut().zip(black_box(&a)).zip(black_box(&b)).zip(black_box(&c)) {
            *y = 1.0 / (1.0 + (-(x * w + c)).exp());
        }
    });
    let diff = floats(&yb).iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max);
    table.push(Row { name: "mul-add-sigmoid 16M", bytes: 16.0 * n as f64, jit: t_jit, rust: t_rust, max_diff: diff });

    // Softmax over the last axis of [rows, 1000].
    let m = TensorType::f32(vec![rows, cols]);
    let sm = compile(kernel(&Op::Softmax(Softmax { axis: 1, log: false }), &[m]));
    let x = data(rows * cols, 5);
    let (mut xb, mut yb) = (bytes(&x), vec![0u8; 4 * rows * cols]);
    let t_jit = best(runs, || sm.run(&mut [&mut xb[..], &mut yb[..]]).expect("run"));
    let mut y = vec![0f32; rows * cols];
    let t_rust = best(runs, || {
        for (xr, yr) in black_box(&x).chunks(cols).zip(y.chunks_mut(cols)) {
            let max = xr.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = xr.iter().map(|v| (v - max).exp()).sum();
            for (y, v) in yr.iter_mut().zip(xr) {
                *y = (v - max).exp() / sum;
            }
        }
    });
    let diff = floats(&yb).iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max);
    let name = if quick { "softmax [256,1000]" } else { "softmax [4096,1000]" };
    table.push(Row { name, bytes: 8.0 * (rows * cols) as f64, jit: t_jit, rust: t_rust, max_diff: diff });

    println!("memcpy (copy_from_slice, {} MiB): {:.2} ms, {:.2} GB/s", src.len() >> 20, t_copy * 1e3, memcpy_bw);
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10}",
        "kernel", "jit ms", "rust ms", "jit GB/s", "vs memcpy", "vs rust", "max |diff|"
    );
    for r in &table {
        println!(
            "{:<22} {:>9.2} {:>9.2} {:>9.2} {:>9.0}% {:>9.2}x {:>10.1e}",
            r.name,
            r.jit * 1e3,
            r.rust * 1e3,
            gb(r.bytes, r.jit),
            100.0 * gb(r.bytes, r.jit) / memcpy_bw,
            r.rust / r.jit,
            r.max_diff
        );
    }
}
