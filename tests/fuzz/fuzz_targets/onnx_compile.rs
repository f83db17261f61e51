//! Fuzz target: arbitrary bytes as an ONNX model -> `driver::compile_bytes` with small limits. Properties:
//! nothing panics or overflows the stack; every blob the compiler emits passes the runtime's verifier and
//! runs clean under a step budget.
#![no_main]
use accel_compiler::driver::{compile_bytes, CompileOptions};
use accel_compiler::import::{ImportLimits, ImportOptions};
use accel_ops::Limits;
use accel_runtime::Session;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = CompileOptions {
        import: ImportOptions {
            input_shapes: vec![],
            limits: ImportLimits {
                max_model_bytes: 1 << 20,
                max_nodes: 256,
                max_depth: 256,
                tensor: Limits { max_rank: 6, max_elements: 1 << 18 },
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let compiled = match compile_bytes(data, None, &opts) {
        Ok(c) => c,
        Err(e) => {
            let kind = format!("{e:?}");
            accel_fuzz::run::tally(&format!(
                "refused: {}",
                kind.split([' ', '{', ')']).take(2).collect::<Vec<_>>().join(" ")
            ));
            return;
        }
    };
    let mut session = match Session::load(&compiled.blob) {
        Ok(s) => s,
        Err(e) => panic!("the compiler emitted a blob the runtime refuses: {e}"),
    };
    let outcome = accel_fuzz::run::run_checked(&mut session, 1);
    accel_fuzz::run::tally(&format!("compiled: {outcome:?}"));
});
