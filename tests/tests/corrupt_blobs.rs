//! Corrupted blobs are refused by the runtime's loader with typed errors, never a panic.
use accel_ops::blob::BlobError;
use accel_ops::target::Target;
use accel_runtime::{RuntimeError, Session};
use accel_tests::harness::compile;

fn blob() -> Vec<u8> {
    let m = accel_modelgen::zoo::tiny_cnn(16, 16, 1).unwrap();
    compile(&accel_modelgen::to_bytes(&m), &Target::x1(), &[]).blob
}

fn blob_error(bytes: &[u8]) -> BlobError {
    match Session::load(bytes) {
        Err(RuntimeError::Blob(e)) => e,
        Err(other) => panic!("expected a blob error, got {other}"),
        Ok(_) => panic!("a corrupted blob was accepted"),
    }
}

#[test]
fn wrong_magic() {
    let mut b = blob();
    b[0..8].copy_from_slice(b"NOTABLOB");
    assert_eq!(blob_error(&b), BlobError::BadMagic);
}

#[test]
fn wrong_version() {
    let mut b = blob();
    let next = accel_ops::blob::FORMAT_MAJOR + 1;
    b[8..10].copy_from_slice(&next.to_le_bytes());
    assert!(matches!(blob_error(&b), BlobError::Version { major, .. } if major == next));
}

#[test]
fn truncated() {
    let b = blob();
    for cut in [0, 7, 47, 100, b.len() / 2, b.len() - 1] {
        assert!(matches!(blob_error(&b[..cut]), BlobError::Truncated { .. }), "cut at {cut}");
    }
}

#[test]
fn flipped_bytes_in_every_section() {
    let b = blob();
    let step = (b.len() / 257).max(1);
    for i in (0..b.len()).step_by(step) {
        let mut c = b.clone();
        c[i] ^= 0x01;
        assert!(Session::load(&c).is_err(), "flip at byte {i} was accepted");
    }
    let mut c = b.clone();
    let last = c.len() - 1;
    c[last] ^= 0x80;
    assert!(matches!(blob_error(&c), BlobError::Checksum { .. }));
}
