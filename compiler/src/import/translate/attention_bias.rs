//! The additive bias of an Attention node (opsets 23 to 25): the attention mask (a float bias, or a boolean
//! keep-mask as 0 / -inf, padded with -inf up to the total key length), the offset-aware causal frontier, the
//! sliding window and the key padding of `nonpad_kv_seqlen`, summed. With no cache or an internal one
//! (`past_key`) the frontier and window are one constant; with `nonpad_kv_seqlen` they depend on the data and
//! are computed on the host from integer comparisons.
use super::composite::Expand;
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use crate::ir::ValueId;
use accel_ops::op::compare::{Compare, CompareOp};
use accel_ops::op::logic::{Logic, LogicOp};
use accel_ops::op::select::Select;
use accel_ops::op::{BinaryOp, Concat, HostOnly, Op};
use accel_ops::{DType, Tensor};

/// The score matrix the bias applies to: `(batch, q_heads, q_len, kv_len)`, `kv_len` including the `past`
/// keys of an internal cache.
pub(super) struct Frame {
    pub batch: usize,
    pub q_heads: usize,
    pub q_len: usize,
    pub kv_len: usize,
    pub past: usize,
}

/// The masking attributes: `is_causal` and the sliding window's sides (-1: unbounded).
pub(super) struct Masking {
    pub causal: bool,
    pub left: i64,
    pub right: i64,
}

impl Masking {
    fn any(&self) -> bool {
        self.causal || self.left >= 0 || self.right >= 0
    }
}

/// The sum of every bias term that applies, or `None` when nothing masks the scores.
pub(super) fn bias(
    b: &mut Builder<'_>,
    n: &OnnxNode<'_>,
    f: &Frame,
    mask: Option<ValueId>,
    nonpad: Option<ValueId>,
    m: &Masking,
) -> Result<Option<ValueId>, ImportError> {
    let e = Expand { n };
    let mut terms = Vec::new();
    if let Some(mask) = mask {
        terms.push(mask_bias(b, n, f, mask)?);
    }
    match nonpad {
        Some(len) => terms.push(padded_bias(b, n, f, len, m)?),
        None if m.any() => terms.push(frontier(b, n, f, m)?),
        None => {}
    }
    let mut sum: Option<ValueId> = None;
    for (i, t) in terms.into_iter().enumerate() {
        sum = Some(match sum {
            None => t,
            Some(s) => e.binary(b, &format!("bias_sum{i}"), BinaryOp::Add, s, t)?,
        });
    }
    Ok(sum)
}

/// `keep ? 0 : -inf` as f32.
fn keep_to_bias(b: &mut Builder<'_>, n: &OnnxNode<'_>, what: &str, keep: ValueId) -> Result<ValueId, ImportError> {
    let e = Expand { n };
    let zero = e.scalar(b, &format!("{what}_zero"), 0.0)?;
    let ninf = e.scalar(b, &format!("{what}_neg_inf"), f32::NEG_INFINITY)?;
    e.op(b, what, Op::HostOnly(HostOnly::Select(Select)), &[keep, zero, ninf])
}

/// The attention mask as an f32 bias broadcastable to the scores, its key axis padded with -inf.
fn mask_bias(b: &mut Builder<'_>, n: &OnnxNode<'_>, f: &Frame, mask: ValueId) -> Result<ValueId, ImportError> {
    let dims = b.dims(mask).to_vec();
    let target = [f.batch, f.q_heads, f.q_len, f.kv_len];
    let shape_err = || {
        n.err(format!(
            "attn_mask {} does not broadcast to the scores {target:?} (rank 1 to 4, key axis at most {})",
            b.ty(mask),
            f.kv_len
        ))
    };
    let Some((&last, lead)) = dims.split_last() else { return Err(shape_err()) };
    if dims.len() > 4 || last > f.kv_len {
        return Err(shape_err());
    }
    let aligned = &target[4 - dims.len()..3];
    if lead.iter().zip(aligned).any(|(&d, &t)| d != 1 && d != t) {
        return Err(shape_err());
    }
    let as_bias = match b.ty(mask).dtype {
        DType::Bool => keep_to_bias(b, n, "mask_bias", mask)?,
        DType::F32 => mask,
        other => return Err(n.err(format!("attn_mask must be bool or float32, got {other}"))),
    };
    if last == f.kv_len {
        return Ok(as_bias);
    }
    let mut pad_dims = dims.clone();
    pad_dims[dims.len() - 1] = f.kv_len - last;
    let count = pad_dims.iter().product();
    let pad = Tensor::from_f32(pad_dims, vec![f32::NEG_INFINITY; count]).map_err(|e| n.err(e.to_string()))?;
    let name = b.helper_name(n, "mask_pad")?;
    let pad = b.add_const(n, &name, pad)?;
    Expand { n }.op(b, "mask_padded", Op::Concat(Concat { axis: dims.len() - 1 }), &[as_bias, pad])
}

/// Whether query `i` may attend key `j` when `offset` valid keys precede the query block.
fn allowed(m: &Masking, i: i64, j: i64, offset: i64) -> bool {
    let diff = i + offset - j;
    (!m.causal || diff >= 0) && (m.left < 0 || diff <= m.left) && (m.right < 0 || -diff <= m.right)
}

/// The causal frontier and window with a constant offset (`past`, 0 without a cache): one `[q, kv]` constant.
fn frontier(b: &mut Builder<'_>, n: &OnnxNode<'_>, f: &Frame, m: &Masking) -> Result<ValueId, ImportError> {
    let offset = i64::try_from(f.past).map_err(|_| n.err("past length too large"))?;
    let mut v = Vec::with_capacity(f.q_len * f.kv_len);
    for i in 0..f.q_len as i64 {
        for j in 0..f.kv_len as i64 {
            v.push(if allowed(m, i, j, offset) { 0.0 } else { f32::NEG_INFINITY });
        }
    }
    let t = Tensor::from_f32(vec![f.q_len, f.kv_len], v).map_err(|e| n.err(e.to_string()))?;
    let name = b.helper_name(n, "frontier")?;
    b.add_const(n, &name, t)
}

/// The key padding of `nonpad_kv_seqlen` (key `j` is valid iff `j < len[b]`), with the causal frontier and
/// window at the per-batch offset `len[b] - q_len`: `[batch, 1, q, kv]`, computed on the host.
fn padded_bias(
    b: &mut Builder<'_>,
    n: &OnnxNode<'_>,
    f: &Frame,
    len: ValueId,
    m: &Masking,
) -> Result<ValueId, ImportError> {
    if b.ty(len).dtype != DType::I64 || b.dims(len) != [f.batch] {
        return Err(n.err(format!("nonpad_kv_seqlen must be int64 of shape [{}], got {}", f.batch, b.ty(len))));
    }
    let e = Expand { n };
    let len = e.reshape(b, "nonpad_b", len, vec![f.batch, 1, 1, 1])?;
    let (q, kv) = (f.q_len as i64, f.kv_len as i64);
    // Each condition is `c[i, j] <= len[b]` or `len[b] <= c[i, j]` with `c` a constant of the positions.
    let table = |b: &mut Builder<'_>, what: &str, c: &dyn Fn(i64, i64) -> i64| -> Result<ValueId, ImportError> {
        let v: Vec<i64> = (0..q).flat_map(|i| (0..kv).map(move |j| (i, j))).map(|(i, j)| c(i, j)).collect();
        let t = Tensor::from_i64(vec![1, 1, f.q_len, f.kv_len], v).map_err(|e| n.err(e.to_string()))?;
        let name = b.helper_name(n, what)?;
        b.add_const(n, &name, t)
    };
    let cmp = |op| Op::HostOnly(HostOnly::Compare(Compare { op }));
    // Key j is not padding: j + 1 <= len.
    let pos = table(b, "key_pos", &|_, j| j + 1)?;
    let mut keep = e.op(b, "key_valid", cmp(CompareOp::LessOrEqual), &[pos, len])?;
    let mut conds = Vec::new();
    if m.causal {
        // j <= i + len - q  <=>  j - i + q <= len.
        let c = table(b, "causal_pos", &|i, j| j - i + q)?;
        conds.push(e.op(b, "causal_keep", cmp(CompareOp::LessOrEqual), &[c, len])?);
    }
    if m.left >= 0 {
        // i + len - q - j <= left  <=>  len <= left + q + j - i.
        let c = table(b, "left_pos", &|i, j| m.left.saturating_add(q + j - i))?;
        conds.push(e.op(b, "left_keep", cmp(CompareOp::LessOrEqual), &[len, c])?);
    }
    if m.right >= 0 {
        // j - (i + len - q) <= right  <=>  j - i + q - right <= len.
        let c = table(b, "right_pos", &|i, j| (j - i + q).saturating_sub(m.right))?;
        conds.push(e.op(b, "right_keep", cmp(CompareOp::LessOrEqual), &[c, len])?);
    }
    for (k, c) in conds.into_iter().enumerate() {
        keep = e.op(b, &format!("keep{k}"), Op::HostOnly(HostOnly::Logic(Logic { op: LogicOp::And })), &[keep, c])?;
    }
    keep_to_bias(b, n, "padding_bias", keep)
}
