//! Graph passes before lowering, in one pipeline table of named passes (`--dump-after NAME` prints the graph).
//! Each pass is a function `&Graph -> Result<Graph>`; the graph verifier runs after each one.
mod fold_batchnorm;
mod fuse_activation;
mod rebuild;

use crate::ir::{Graph, IrError};

/// A named graph pass.
pub struct Pass {
    pub name: &'static str,
    pub run: fn(&Graph) -> Result<Graph, IrError>,
}

/// The pipeline, in order.
pub const PIPELINE: &[Pass] = &[
    Pass { name: "fold-batchnorm", run: fold_batchnorm::run },
    Pass { name: "fuse-activation", run: fuse_activation::run },
];

/// Runs every pass, verifying after each; `after` is called with each pass's name and result.
pub fn run_pipeline(g: &Graph, mut after: impl FnMut(&str, &Graph)) -> Result<Graph, IrError> {
    let mut g = g.clone();
    for p in PIPELINE {
        g = (p.run)(&g)?;
        g.verify()?;
        after(p.name, &g);
    }
    Ok(g)
}
