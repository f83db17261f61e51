//! Integration tests of the runtime through its public API, on hand-built programs for the `x1` target: the
//! verifier's rejections, the simulator's results against the reference semantics, hand-computed timings,
//! sessions and the blob round trip. One test binary (modules below) to keep link time down.
mod cli;
mod common;
mod host_ir;
mod multicast;
mod session;
mod timing;
mod trace;
mod verify;
