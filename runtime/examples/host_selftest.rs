//! Temporary harness: compiles the host module standalone (via a path include) so its tests run before
//! `runtime/src/lib.rs` exports it. Delete once `pub mod host;` is in lib.rs.
#[path = "../src/host/mod.rs"]
#[allow(dead_code)]
mod host;

fn main() {}

