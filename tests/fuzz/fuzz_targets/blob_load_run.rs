//! Fuzz target: arbitrary bytes -> `Session::load` -> if it loads, one run under a step budget.
//! The first input byte is a mode: bit 0 re-seals the checksums of the rest (so that mutations reach the
//! structural decoder and the verifier), bit 1 also fixes the total-length field, bit 2 picks random
//! instead of zero inputs. The rest is the blob.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut blob = rest.to_vec();
    if mode & 1 != 0 {
        accel_tests::blob_edit::seal(&mut blob, mode & 2 != 0);
    }
    let seed = if mode & 4 != 0 { u64::from(mode) + 1 } else { 0 };
    let _ = accel_fuzz::run::load_and_run(&blob, seed);
});
