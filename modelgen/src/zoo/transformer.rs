//! A pre-norm transformer encoder block as PyTorch exports it below opset 17: decomposed
//! LayerNorm, MatMul + Add projections, multi-head Softmax attention via Reshape and
//! Transpose, and an MLP with GELU decomposed through Erf.

use super::{check_count, ZooOptions, MAX_SIDE};
use crate::builder::GraphBuilder;
use anyhow::{ensure, Result};
use tract_onnx::pb::ModelProto;

/// `x + attn(norm1(x))`, then `x + mlp(norm2(x))` with a 4x MLP, on an input `input`
/// `[batch, seq, dim]`; output `output` of the same shape. `dim` must be a multiple of
/// `heads`.
pub fn transformer_block_with(
    seq: usize,
    dim: usize,
    heads: usize,
    seed: u64,
    opts: &ZooOptions,
) -> Result<ModelProto> {
    check_count("sequence length", seq, MAX_SIDE)?;
    check_count("dim", dim, 8192)?;
    check_count("heads", heads, dim)?;
    ensure!(dim.checked_rem(heads) == Some(0), "dim {dim} must be a multiple of heads {heads}");
    let mut b = opts.builder(seed)?;
    let x = b.input("input", &[opts.batch_dim(), seq.into(), dim.into()]);
    let h = b.scoped("norm1", |b| b.layer_norm(&x, 1e-5));
    let a = b.scoped("attn", |b| attention(b, &h, dim, heads));
    let x = b.add(&x, &a);
    let h = b.scoped("norm2", |b| b.layer_norm(&x, 1e-5));
    let m = b.scoped("mlp", |b| {
        let m = b.scoped("fc1", |b| b.linear(&h, 4 * dim, true));
        let m = b.scoped("act", |b| b.gelu(&m));
        b.scoped("fc2", |b| b.linear(&m, dim, true))
    });
    let y = b.add(&x, &m);
    b.output(&y, "output");
    b.finish()
}

/// Multi-head self-attention in the current scope (`q_proj`, `k_proj`, `v_proj`,
/// `out_proj`).
fn attention(b: &mut GraphBuilder, x: &str, dim: usize, heads: usize) -> String {
    let hd = dim / heads;
    let split_heads = [0, 0, heads as i64, hd as i64];
    let q = b.scoped("q_proj", |b| b.linear(x, dim, true));
    let k = b.scoped("k_proj", |b| b.linear(x, dim, true));
    let v = b.scoped("v_proj", |b| b.linear(x, dim, true));
    let q = b.reshape(&q, &split_heads);
    let q = b.transpose(&q, &[0, 2, 1, 3]);
    let k = b.reshape(&k, &split_heads);
    let k = b.transpose(&k, &[0, 2, 3, 1]);
    let v = b.reshape(&v, &split_heads);
    let v = b.transpose(&v, &[0, 2, 1, 3]);
    let s = b.matmul(&q, &k);
    let s = b.div_scalar(&s, (hd as f32).sqrt());
    let p = b.softmax(&s, -1);
    let o = b.matmul(&p, &v);
    let o = b.transpose(&o, &[0, 2, 1, 3]);
    let o = b.reshape(&o, &[0, 0, dim as i64]);
    b.scoped("out_proj", |b| b.linear(&o, dim, true))
}
