//! Build script: tells `sim/gemm.rs` whether this compiler has the AVX-512 intrinsics and target features
//! (stable since Rust 1.89, `cfg(accel_avx512)`); older compilers, down to the workspace's MSRV, build the
//! AVX2 and portable kernel paths only. Nothing else.
fn main() {
    println!("cargo:rustc-check-cfg=cfg(accel_avx512)");
    let ac = autocfg::new();
    if ac.probe_rustc_version(1, 89) {
        println!("cargo:rustc-cfg=accel_avx512");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
