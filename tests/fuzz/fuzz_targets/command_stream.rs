//! Fuzz target: structured command sequences (`accel_fuzz::gen`) -> `blob::encode` -> `Session::load`
//! (decode + verify) -> run. Properties: the blob round-trips exactly; the verifier's verdict through the
//! file equals its verdict on the program; a verified program never goes out of bounds or deadlocks in the
//! simulator (BAD-INPUT class 17); nothing panics.
#![no_main]
use accel_ops::blob::{decode, encode, BlobLimits};
use accel_runtime::{verify, RuntimeError, Session};
use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(program) = accel_fuzz::gen::program(&mut u) else { return };
    let Ok(bytes) = encode(&program) else { return };
    let decoded = decode(&bytes, &BlobLimits::default());
    match &decoded {
        Ok(p) => assert_eq!(p, &program, "the blob does not round-trip"),
        // Only a field the decoder refuses by value (an activation parameter, a dtype) may fail.
        Err(e) => assert!(matches!(e, accel_ops::blob::BlobError::Decode { .. }), "encode -> decode: {e}"),
    }
    let verdict = verify(program).map(|_| ());
    match Session::load(&bytes) {
        Ok(mut session) => {
            assert!(verdict.is_ok(), "loaded through the file but refused in memory");
            let outcome = accel_fuzz::run::run_checked(&mut session, data.len() as u64);
            accel_fuzz::run::tally(&format!("loaded: {outcome:?}"));
        }
        Err(RuntimeError::Verify(e)) => {
            accel_fuzz::run::tally(&format!(
                "refused: {}",
                format!("{e:?}").split([' ', '{', '(']).next().unwrap_or("")
            ));
            assert_eq!(verdict, Err(e), "verdicts differ");
        }
        Err(RuntimeError::Blob(_)) => assert!(decoded.is_err()),
        Err(e) => assert!(matches!(e, RuntimeError::Exec(_)), "unexpected load error: {e}"),
    }
});
