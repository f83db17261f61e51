//! Attention (opsets 23 to 25) expanded at import into MatMul, Softmax and elementwise operators, as the ONNX
//! reference computes it: 3-D inputs split into heads, `past_key`/`past_value` concatenated into the present
//! cache, Q and K each scaled by `sqrt(scale)`, softcap, the additive bias (`attention_bias`), softmax with
//! fully-masked rows set to zero, then the product with V. Grouped-query attention does not copy K and V per
//! query head: the query heads that share a KV head are folded into its rows (a reshape, which is free).
use super::attention_bias::{self, Frame, Masking};
use super::composite::Expand;
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use crate::ir::ValueId;
use accel_ops::op::compare::{Compare, CompareOp};
use accel_ops::op::select::Select;
use accel_ops::op::{BinaryOp, Concat, HostOnly, MatMul, Op, Reduce, ReduceKind, Reshape, Softmax, Transpose, UnaryOp};
use accel_ops::{DType, Shape};

type Res = Result<(), ImportError>;

/// The attributes, validated.
struct Attrs {
    scale: Option<f32>,
    softcap: f32,
    mode: i64,
    masking: Masking,
}

impl Attrs {
    fn read(n: &OnnxNode<'_>) -> Result<Self, ImportError> {
        let scale = match n.float("scale")? {
            Some(s) if !(s.is_finite() && s > 0.0) => {
                return Err(n.err(format!("attribute `scale` must be finite and > 0, got {s}")))
            }
            s => s,
        };
        let softcap = n.finite_float_or("softcap", 0.0)?;
        let mode = n.int_or("qk_matmul_output_mode", 0)?;
        if !(0..=3).contains(&mode) {
            return Err(n.err(format!("attribute `qk_matmul_output_mode` must be 0 to 3, got {mode}")));
        }
        // Softmax runs in f32, which is the precision only when the attribute asks for FLOAT (1).
        if let Some(p) = n.int("softmax_precision")? {
            if p != 1 {
                return Err(n.err(format!("softmax_precision {p} is unsupported (softmax runs in float32)")));
            }
        }
        let side = |name: &str| -> Result<i64, ImportError> {
            let v = n.int_or(name, -1)?;
            if v < -1 {
                return Err(n.err(format!("attribute `{name}` must be -1 or >= 0, got {v}")));
            }
            Ok(v)
        };
        let masking = Masking {
            causal: n.flag("is_causal", false)?,
            left: side("left_window_size")?,
            right: side("right_window_size")?,
        };
        Ok(Attrs { scale, softcap, mode, masking })
    }
}

/// A head-count attribute, which must be >= 1 when given.
fn heads_attr(n: &OnnxNode<'_>, name: &str) -> Result<Option<usize>, ImportError> {
    n.int(name)?.map(|h| n.to_positive(h, name)).transpose()
}

/// `[batch, seq, heads * size]` as `[batch, heads, seq, size]`.
fn split_heads(
    b: &mut Builder<'_>,
    n: &OnnxNode<'_>,
    what: &str,
    x: ValueId,
    heads: usize,
) -> Result<ValueId, ImportError> {
    let d = b.dims(x).to_vec();
    if d[2] % heads != 0 {
        return Err(n.err(format!("{what} hidden size {} is not a multiple of its {heads} heads", d[2])));
    }
    let e = Expand { n };
    let r = e.reshape(b, &format!("{what}_split"), x, vec![d[0], d[1], heads, d[2] / heads])?;
    e.op(b, &format!("{what}_heads"), Op::Transpose(Transpose { perm: vec![0, 2, 1, 3] }), &[r])
}

fn dims4(b: &Builder<'_>, v: ValueId) -> [usize; 4] {
    let d = b.dims(v);
    [d[0], d[1], d[2], d[3]]
}

pub(super) fn attention(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 3, 7)?;
    if n.proto.output.len() > 4 {
        return Err(n.err(format!("expected at most 4 outputs, got {}", n.proto.output.len())));
    }
    let (q, k, v) = (b.input(n, 0)?, b.input(n, 1)?, b.input(n, 2)?);
    for (i, x) in [q, k, v].into_iter().enumerate() {
        if b.ty(x).dtype != DType::F32 {
            return Err(n.err(format!("input #{i} is {}: Attention is imported on float32 only", b.ty(x))));
        }
    }
    let attrs = Attrs::read(n)?;
    let rank = b.dims(q).len();
    if b.dims(k).len() != rank || b.dims(v).len() != rank {
        return Err(n.err(format!("Q, K and V must have one rank, got {}, {} and {}", b.ty(q), b.ty(k), b.ty(v))));
    }
    let (q_heads, kv_heads) = (heads_attr(n, "q_num_heads")?, heads_attr(n, "kv_num_heads")?);
    let (q, k, v) = match (rank, q_heads, kv_heads) {
        (3, Some(hq), Some(hkv)) => {
            (split_heads(b, n, "q", q, hq)?, split_heads(b, n, "k", k, hkv)?, split_heads(b, n, "v", v, hkv)?)
        }
        (3, _, _) => return Err(n.err("3-D inputs need the attributes `q_num_heads` and `kv_num_heads`")),
        (4, _, _) => {
            let heads_match = q_heads.is_none_or(|h| h == b.dims(q)[1]) && kv_heads.is_none_or(|h| h == b.dims(k)[1]);
            if !heads_match {
                return Err(n.err("`q_num_heads` / `kv_num_heads` disagree with the 4-D input shapes"));
            }
            (q, k, v)
        }
        _ => return Err(n.err(format!("Q, K and V must be 3-D or 4-D, got {}", b.ty(q)))),
    };
    let [batch, hq, q_len, head] = dims4(b, q);
    let [kb, hkv, kv_len, kd] = dims4(b, k);
    let [vb, hv, v_len, v_head] = dims4(b, v);
    let consistent = kb == batch && vb == batch && hv == hkv && v_len == kv_len && kd == head;
    if !consistent || hkv == 0 || head == 0 || hq % hkv != 0 {
        return Err(n.err(format!(
            "inconsistent shapes: Q [{batch}, {hq}, {q_len}, {head}], K [{kb}, {hkv}, {kv_len}, {kd}], \
             V [{vb}, {hv}, {v_len}, {v_head}] (batch, heads, sequence, head size; q heads a multiple of kv heads)"
        )));
    }
    let nonpad = b.opt_input(n, 6)?;
    if nonpad.is_some() && b.opt_input(n, 4)?.is_some() {
        return Err(n.err("nonpad_kv_seqlen cannot be combined with past_key / past_value"));
    }
    let (k, v, past) = cache(b, n, k, v)?;
    let e = Expand { n };
    e.define(b, 1, k)?;
    e.define(b, 2, v)?;
    let total = kv_len + past;
    let reps = hq / hkv;

    // Scores: (Q sqrt(scale)) (K sqrt(scale))^T, the query heads of one KV head stacked along its rows.
    let scale = attrs.scale.map_or(1.0 / (head as f64).sqrt(), f64::from);
    let root = e.scalar(b, "sqrt_scale", scale.sqrt() as f32)?;
    let qs = e.binary(b, "q_scaled", BinaryOp::Mul, q, root)?;
    let kt = e.op(b, "k_t", Op::Transpose(Transpose { perm: vec![0, 1, 3, 2] }), &[k])?;
    let ks = e.binary(b, "k_scaled", BinaryOp::Mul, kt, root)?;
    let qg = grouped(b, n, "q_grouped", qs, [batch, hkv, reps * q_len, head], reps)?;
    let qk = e.op(b, "qk", Op::MatMul(MatMul), &[qg, ks])?;
    let qk = grouped(b, n, "qk_heads", qk, [batch, hq, q_len, total], reps)?;
    let capped = if attrs.softcap > 0.0 {
        let c = e.scalar(b, "softcap", attrs.softcap)?;
        let d = e.binary(b, "qk_over_cap", BinaryOp::Div, qk, c)?;
        let t = e.unary(b, "qk_tanh", UnaryOp::Tanh, d)?;
        e.binary(b, "qk_capped", BinaryOp::Mul, t, c)?
    } else {
        qk
    };
    let frame = Frame { batch, q_heads: hq, q_len, kv_len: total, past };
    let mask = b.opt_input(n, 3)?;
    let bias = attention_bias::bias(b, n, &frame, mask, nonpad, &attrs.masking)?;
    let scores = match bias {
        Some(bias) => e.binary(b, "scores", BinaryOp::Add, capped, bias)?,
        None => capped,
    };
    let probs = e.op(b, "probs", Op::Softmax(Softmax { axis: 3, log: false }), &[scores])?;
    let probs = match bias {
        Some(bias) => zero_masked_rows(b, n, bias, probs)?,
        None => probs,
    };
    let qk_used = b.output_name(n, 3).is_ok_and(|s| !s.is_empty());
    if qk_used {
        let out = match attrs.mode {
            // Mode 0 is the raw product in the operator's text, the softcapped one in the reference: refused.
            0 if attrs.softcap > 0.0 => {
                return Err(n.err("qk_matmul_output_mode 0 with softcap is unsupported (the spec is ambiguous)"))
            }
            0 => qk,
            1 => capped,
            2 => scores,
            _ => probs,
        };
        e.define(b, 3, out)?;
    }

    // Y = P V, back to the input layout.
    let out = b.output_name(n, 0)?.to_string();
    let pg = grouped(b, n, "probs_grouped", probs, [batch, hkv, reps * q_len, total], reps)?;
    let y4_name = if rank == 4 && reps == 1 { out.clone() } else { b.helper_name(n, "y_grouped")? };
    let y = b.emit(n, Op::MatMul(MatMul), &[pg, v], &y4_name)?;
    let y = if reps == 1 {
        y
    } else {
        let name = if rank == 4 { out.clone() } else { b.helper_name(n, "y_heads")? };
        b.emit(n, Op::Reshape(Reshape { shape: Shape(vec![batch, hq, q_len, v_head]) }), &[y], &name)?
    };
    let y = if rank == 3 {
        let t = e.op(b, "y_t", Op::Transpose(Transpose { perm: vec![0, 2, 1, 3] }), &[y])?;
        let shape = Shape(vec![batch, q_len, hq * v_head]);
        b.emit(n, Op::Reshape(Reshape { shape }), &[t], &out)?
    } else {
        y
    };
    b.define(n, 0, y)
}

/// `x` reshaped to `dims` when query heads are grouped (`reps > 1`), else `x` itself.
fn grouped(
    b: &mut Builder<'_>,
    n: &OnnxNode<'_>,
    what: &str,
    x: ValueId,
    dims: [usize; 4],
    reps: usize,
) -> Result<ValueId, ImportError> {
    if reps == 1 {
        return Ok(x);
    }
    Expand { n }.reshape(b, what, x, dims.to_vec())
}

/// K and V with the internal cache prepended along the sequence axis, and the cache's length.
fn cache(
    b: &mut Builder<'_>,
    n: &OnnxNode<'_>,
    k: ValueId,
    v: ValueId,
) -> Result<(ValueId, ValueId, usize), ImportError> {
    let (pk, pv) = match (b.opt_input(n, 4)?, b.opt_input(n, 5)?) {
        (None, None) => return Ok((k, v, 0)),
        (Some(pk), Some(pv)) => (pk, pv),
        _ => return Err(n.err("past_key and past_value must be given together")),
    };
    let [batch, heads, _, head] = dims4(b, k);
    let v_head = b.dims(v)[3];
    let past = b.dims(pk).get(2).copied().unwrap_or(0);
    let want_k = [batch, heads, past, head];
    let want_v = [batch, heads, past, v_head];
    if b.ty(pk).dtype != DType::F32 || b.ty(pv).dtype != DType::F32 || b.dims(pk) != want_k || b.dims(pv) != want_v {
        return Err(n.err(format!(
            "past_key {} and past_value {} must be float32 {want_k:?} and {want_v:?}",
            b.ty(pk),
            b.ty(pv)
        )));
    }
    let e = Expand { n };
    let k = e.op(b, "present_key", Op::Concat(Concat { axis: 2 }), &[pk, k])?;
    let v = e.op(b, "present_value", Op::Concat(Concat { axis: 2 }), &[pv, v])?;
    Ok((k, v, past))
}

/// Softmax probabilities with every row whose bias is all -inf (no key may be attended) set to zero, as the
/// spec requires instead of the NaN that softmax gives. A constant bias decides this at import.
fn zero_masked_rows(
    b: &mut Builder<'_>,
    n: &OnnxNode<'_>,
    bias: ValueId,
    probs: ValueId,
) -> Result<ValueId, ImportError> {
    let e = Expand { n };
    let last = b.dims(bias).len().saturating_sub(1);
    let row_max = e.op(
        b,
        "bias_row_max",
        Op::Reduce(Reduce { kind: ReduceKind::Max, axes: vec![last], keepdims: true }),
        &[bias],
    )?;
    let ninf = e.scalar(b, "row_neg_inf", f32::NEG_INFINITY)?;
    let cmp = Op::HostOnly(HostOnly::Compare(Compare { op: CompareOp::Equal }));
    let masked = e.op(b, "masked_rows", cmp, &[row_max, ninf])?;
    if b.constant(masked).and_then(|t| t.as_bool().ok()).is_some_and(|m| !m.contains(&true)) {
        return Ok(probs);
    }
    let zero = e.scalar(b, "row_zero", 0.0)?;
    e.op(b, "probs_guarded", Op::HostOnly(HostOnly::Select(Select)), &[masked, zero, probs])
}
