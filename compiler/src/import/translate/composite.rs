//! ONNX operators that are functions of operators accel has, expanded at import the way the ONNX function
//! bodies define them: LayerNormalization (opset 17; one `LayerNorm` unless its optional Mean and InvStdDev
//! outputs are used),
//! RMSNormalization (23), Gelu (20, exact and tanh forms), Swish (24) and CastLike (15). The e-graph sees the plain
//! operators, so its LayerNorm and GELU recognition applies to them as to exported subgraphs.
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use crate::ir::ValueId;
use accel_ops::op::{Binary, BinaryOp, Cast, LayerNorm, Op, Reduce, ReduceKind, Reshape, Unary, UnaryOp};
use accel_ops::{DType, Shape, Tensor};

type Res = Result<(), ImportError>;

/// Helpers that name every intermediate after the node's first output (`out#what`).
pub(super) struct Expand<'n, 'o> {
    pub n: &'n OnnxNode<'o>,
}

impl Expand<'_, '_> {
    pub(super) fn scalar(&self, b: &mut Builder<'_>, what: &str, v: f32) -> Result<ValueId, ImportError> {
        let t = Tensor::from_f32(vec![], vec![v]).map_err(|e| self.n.err(e.to_string()))?;
        let name = b.helper_name(self.n, what)?;
        b.add_const(self.n, &name, t)
    }

    pub(super) fn unary(
        &self,
        b: &mut Builder<'_>,
        what: &str,
        op: UnaryOp,
        x: ValueId,
    ) -> Result<ValueId, ImportError> {
        let name = b.helper_name(self.n, what)?;
        b.emit(self.n, Op::Unary(Unary { op }), &[x], &name)
    }

    pub(super) fn binary(
        &self,
        b: &mut Builder<'_>,
        what: &str,
        op: BinaryOp,
        x: ValueId,
        y: ValueId,
    ) -> Result<ValueId, ImportError> {
        let name = b.helper_name(self.n, what)?;
        b.emit(self.n, Op::Binary(Binary { op }), &[x, y], &name)
    }

    /// Any operator on `inputs`, named `out#what`.
    pub(super) fn op(
        &self,
        b: &mut Builder<'_>,
        what: &str,
        op: Op,
        inputs: &[ValueId],
    ) -> Result<ValueId, ImportError> {
        let name = b.helper_name(self.n, what)?;
        b.emit(self.n, op, inputs, &name)
    }

    /// `x` reshaped to `dims` (an alias: no data moves).
    pub(super) fn reshape(
        &self,
        b: &mut Builder<'_>,
        what: &str,
        x: ValueId,
        dims: Vec<usize>,
    ) -> Result<ValueId, ImportError> {
        self.op(b, what, Op::Reshape(Reshape { shape: Shape(dims) }), &[x])
    }

    pub(super) fn mean(
        &self,
        b: &mut Builder<'_>,
        what: &str,
        x: ValueId,
        axes: &[usize],
    ) -> Result<ValueId, ImportError> {
        let name = b.helper_name(self.n, what)?;
        let op = Reduce { kind: ReduceKind::Mean, axes: axes.to_vec(), keepdims: true };
        b.emit(self.n, Op::Reduce(op), &[x], &name)
    }

    /// `1 / sqrt(v + epsilon)`.
    pub(super) fn inv_sqrt(&self, b: &mut Builder<'_>, v: ValueId, eps: f32) -> Result<ValueId, ImportError> {
        let e = self.scalar(b, "epsilon", eps)?;
        let s = self.binary(b, "var_eps", BinaryOp::Add, v, e)?;
        let r = self.unary(b, "std", UnaryOp::Sqrt, s)?;
        self.unary(b, "inv_std", UnaryOp::Reciprocal, r)
    }

    /// `(mean, 1 / sqrt(var + eps), (x - mean) / sqrt(var + eps))` over `axes` (kept dims): the body of
    /// every normalization (LayerNorm, InstanceNorm, GroupNorm, MVN).
    pub(super) fn standardize(
        &self,
        b: &mut Builder<'_>,
        x: ValueId,
        axes: &[usize],
        eps: f32,
    ) -> Result<(ValueId, ValueId, ValueId), ImportError> {
        let mean = self.mean(b, "mean", x, axes)?;
        let d = self.binary(b, "centered", BinaryOp::Sub, x, mean)?;
        let sq = self.binary(b, "square", BinaryOp::Mul, d, d)?;
        let var = self.mean(b, "var", sq, axes)?;
        let inv = self.inv_sqrt(b, var, eps)?;
        let normed = self.binary(b, "normalized", BinaryOp::Mul, d, inv)?;
        Ok((mean, inv, normed))
    }

    /// Defines output slot `i` as `v` under its ONNX name (an alias when `v` is a helper).
    pub(super) fn define(&self, b: &mut Builder<'_>, i: usize, v: ValueId) -> Res {
        match b.output_name(self.n, i) {
            Ok(name) if !name.is_empty() => b.define(self.n, i, v),
            _ => Ok(()),
        }
    }
}

/// The normalized axes `axis..rank` of an f32 input `x`.
fn norm_axes(b: &Builder<'_>, n: &OnnxNode<'_>, x: ValueId) -> Result<Vec<usize>, ImportError> {
    if b.ty(x).dtype != DType::F32 {
        return Err(n.err(format!("{} on {} is unsupported (f32 only)", n.op_type(), b.ty(x))));
    }
    let rank = b.dims(x).len();
    let axis = n.axis(n.int_or("axis", -1)?, rank, "axis")?;
    Ok((axis..rank).collect())
}

/// LayerNormalization as one `LayerNorm` operator; expanded instead when the node's Mean or InvStdDev output
/// is used (the operator has one output) or its scale or bias has more dims than the normalized shape.
pub(super) fn layer_norm(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 3)?;
    let (x, scale, bias) = (b.input(n, 0)?, b.input(n, 1)?, b.opt_input(n, 2)?);
    let axes = norm_axes(b, n, x)?;
    let eps = n.finite_float_or("epsilon", 1e-5)?;
    let stats_used = n.proto.output.iter().skip(1).any(|o| !o.is_empty());
    let ln = Op::LayerNorm(LayerNorm { axis: axes.first().copied().unwrap_or(0), epsilon: eps });
    let mut operands = vec![x, scale];
    operands.extend(bias);
    let types: Vec<_> = operands.iter().map(|&v| b.ty(v).clone()).collect();
    if !stats_used && !axes.is_empty() && ln.infer(&types).is_ok() {
        b.emit_out(n, ln, &operands)?;
        return Ok(());
    }
    let e = Expand { n };
    let (mean, inv, normed) = e.standardize(b, x, &axes, eps)?;
    let out = b.output_name(n, 0)?.to_string();
    let y = match bias {
        None => b.emit(n, Op::Binary(Binary { op: BinaryOp::Mul }), &[normed, scale], &out)?,
        Some(bias) => {
            let scaled = e.binary(b, "scaled", BinaryOp::Mul, normed, scale)?;
            b.emit(n, Op::Binary(Binary { op: BinaryOp::Add }), &[scaled, bias], &out)?
        }
    };
    e.define(b, 0, y)?;
    e.define(b, 1, mean)?;
    e.define(b, 2, inv)
}

pub(super) fn rms_norm(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 2)?;
    let (x, scale) = (b.input(n, 0)?, b.input(n, 1)?);
    let axes = norm_axes(b, n, x)?;
    let eps = n.finite_float_or("epsilon", 1e-5)?;
    let e = Expand { n };
    let sq = e.binary(b, "square", BinaryOp::Mul, x, x)?;
    let ms = e.mean(b, "mean_square", sq, &axes)?;
    let inv = e.inv_sqrt(b, ms, eps)?;
    let normed = e.binary(b, "normalized", BinaryOp::Mul, x, inv)?;
    b.emit_out(n, Op::Binary(Binary { op: BinaryOp::Mul }), &[normed, scale])?;
    Ok(())
}

pub(super) fn gelu(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    let e = Expand { n };
    // inner = erf(x / sqrt 2), or tanh(sqrt(2 / pi) (x + 0.044715 x^3)).
    let inner = match n.string_or("approximate", "none")? {
        "none" => {
            let k = e.scalar(b, "inv_sqrt2", std::f32::consts::FRAC_1_SQRT_2)?;
            let s = e.binary(b, "scaled", BinaryOp::Mul, x, k)?;
            e.unary(b, "erf", UnaryOp::Erf, s)?
        }
        "tanh" => {
            let c = e.scalar(b, "c", 0.044_715)?;
            let x2 = e.binary(b, "x2", BinaryOp::Mul, x, x)?;
            let x3 = e.binary(b, "x3", BinaryOp::Mul, x2, x)?;
            let cx3 = e.binary(b, "cx3", BinaryOp::Mul, x3, c)?;
            let sum = e.binary(b, "sum", BinaryOp::Add, x, cx3)?;
            let k = e.scalar(b, "k", (2.0 / std::f32::consts::PI).sqrt())?;
            let arg = e.binary(b, "arg", BinaryOp::Mul, sum, k)?;
            e.unary(b, "tanh", UnaryOp::Tanh, arg)?
        }
        other => return Err(n.err(format!("approximate `{other}` is unsupported (`none` or `tanh`)"))),
    };
    let one = e.scalar(b, "one", 1.0)?;
    let half = e.scalar(b, "half", 0.5)?;
    let p = e.binary(b, "one_plus", BinaryOp::Add, inner, one)?;
    let hx = e.binary(b, "half_x", BinaryOp::Mul, x, half)?;
    b.emit_out(n, Op::Binary(Binary { op: BinaryOp::Mul }), &[hx, p])?;
    Ok(())
}

/// Swish (opset 24): `x * sigmoid(alpha x)`. With `alpha = 1` it is written as SiLU is exported, so the
/// e-graph's SiLU recognition applies.
pub(super) fn swish(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 1, 1)?;
    let x = b.input(n, 0)?;
    if b.ty(x).dtype != DType::F32 {
        return Err(n.err(format!("Swish on {} is unsupported (f32 only)", b.ty(x))));
    }
    let alpha = n.finite_float_or("alpha", 1.0)?;
    let e = Expand { n };
    let arg = if alpha == 1.0 {
        x
    } else {
        let a = e.scalar(b, "alpha", alpha)?;
        e.binary(b, "scaled", BinaryOp::Mul, x, a)?
    };
    let s = e.unary(b, "sigmoid", UnaryOp::Sigmoid, arg)?;
    b.emit_out(n, Op::Binary(Binary { op: BinaryOp::Mul }), &[x, s])?;
    Ok(())
}

pub(super) fn cast_like(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    b.arity(n, 2, 2)?;
    let (x, like) = (b.input(n, 0)?, b.input(n, 1)?);
    let to = b.ty(like).dtype;
    if b.ty(x).dtype == to {
        return b.alias_out(n, x);
    }
    b.emit_out(n, Op::Cast(Cast { to }), &[x])?;
    Ok(())
}
