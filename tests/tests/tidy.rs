//! The dependency walls of ARCHITECTURE.md, checked by grepping the sources: tract only in the compiler's
//! import module (and the model generator and these tests), egg only in the compiler's rewrite module,
//! cranelift only in the runtime's host module, and the runtime never depends on the compiler.
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Files under `crate_dir` that mention `needle`, outside the allowed sub-paths.
fn offenders(crate_dir: &str, needle: &str, allowed: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&root().join(crate_dir), &mut files);
    files
        .into_iter()
        .filter(|f| {
            let rel = f.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/");
            let code = std::fs::read_to_string(f).unwrap();
            // Comments may name a crate ("no tract here"); only code counts.
            let uses = code.lines().filter(|l| !l.trim_start().starts_with("//")).any(|l| l.contains(needle));
            !allowed.iter().any(|a| rel.starts_with(a)) && uses
        })
        .map(|f| f.strip_prefix(root()).unwrap().display().to_string())
        .collect()
}

#[test]
fn tract_only_in_the_import_module() {
    assert_eq!(offenders("compiler", "tract_onnx", &["compiler/src/import/"]), Vec::<String>::new());
    assert_eq!(offenders("runtime", "tract_", &[]), Vec::<String>::new());
    assert_eq!(offenders("ops", "tract_", &[]), Vec::<String>::new());
}

#[test]
fn egg_only_in_the_rewrite_module() {
    assert_eq!(offenders("compiler", "egg::", &["compiler/src/rewrite/"]), Vec::<String>::new());
    assert_eq!(offenders("runtime", "egg::", &[]), Vec::<String>::new());
    assert_eq!(offenders("ops", "egg::", &[]), Vec::<String>::new());
}

#[test]
fn cranelift_only_in_the_host_module() {
    assert_eq!(offenders("runtime", "cranelift_", &["runtime/src/host/"]), Vec::<String>::new());
    assert_eq!(offenders("compiler", "cranelift_", &[]), Vec::<String>::new());
    assert_eq!(offenders("ops", "cranelift_", &[]), Vec::<String>::new());
}

#[test]
fn runtime_never_depends_on_the_compiler() {
    let manifest = std::fs::read_to_string(root().join("runtime/Cargo.toml")).unwrap();
    for forbidden in ["accel-compiler", "tract", "egg"] {
        assert!(!manifest.contains(forbidden), "runtime/Cargo.toml mentions {forbidden}");
    }
    let ops = std::fs::read_to_string(root().join("ops/Cargo.toml")).unwrap();
    for forbidden in ["accel-compiler", "accel-runtime", "tract", "egg", "cranelift"] {
        assert!(!ops.contains(forbidden), "ops/Cargo.toml mentions {forbidden}");
    }
}

#[test]
fn bincode_only_in_the_codec_module() {
    assert_eq!(offenders("ops", "bincode", &["ops/src/blob/codec.rs"]), Vec::<String>::new());
    assert_eq!(offenders("runtime", "bincode", &[]), Vec::<String>::new());
    assert_eq!(offenders("compiler", "bincode", &[]), Vec::<String>::new());
}

#[test]
fn every_module_says_what_it_owns() {
    let mut files = Vec::new();
    for dir in ["ops/src", "compiler/src", "runtime/src", "modelgen/src"] {
        rust_files(&root().join(dir), &mut files);
    }
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !f.ends_with("tests.rs"))
        .filter(|f| !std::fs::read_to_string(f).unwrap().trim_start().starts_with("//!"))
        .map(|f| f.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    assert_eq!(missing, Vec::<String>::new(), "files without a //! line");
}
