//! Elementwise lowerings: unary activations, binary arithmetic with numpy broadcasting, inference batch norm
//! and casts. Each is one coalesced loop nest with a single store: the form `fuse_elementwise` composes.
use super::{broadcast_strides, close_nest, declare, open_nest, row_major};
use crate::kernel::build::Builder;
use crate::kernel::{BinaryFn, CmpFn, Kernel, KernelError, ScalarType, UnaryFn, ValueId};
use crate::op::{BatchNorm, Binary, BinaryOp, Cast, Unary, UnaryOp};
use crate::tensor::TensorType;
use crate::DType;

/// `op.apply(x)` in IR, in the reference's operation order.
pub(crate) fn unary_value(b: &mut Builder, op: &UnaryOp, x: ValueId) -> ValueId {
    match *op {
        UnaryOp::Relu => {
            let z = b.f32(0.0);
            b.max(x, z)
        }
        UnaryOp::Clip { min, max } => {
            let (lo, hi) = (b.f32(min), b.f32(max));
            let t = b.max(x, lo);
            b.min(t, hi)
        }
        UnaryOp::LeakyRelu { alpha } => {
            let (z, a) = (b.f32(0.0), b.f32(alpha));
            let neg = b.cmp(CmpFn::Lt, x, z);
            let ax = b.mul(a, x);
            b.select(neg, ax, x)
        }
        UnaryOp::Sigmoid => b.un(UnaryFn::Sigmoid, x),
        UnaryOp::HardSwish => {
            let three = b.f32(3.0);
            let t = b.add(x, three);
            let t = b.clamp_f32(t, 0.0, 6.0);
            let t = b.mul(x, t);
            let six = b.f32(6.0);
            b.div(t, six)
        }
        UnaryOp::HardSigmoid { alpha, beta } => {
            let (a, c) = (b.f32(alpha), b.f32(beta));
            let t = b.mul(a, x);
            let t = b.add(t, c);
            b.clamp_f32(t, 0.0, 1.0)
        }
        UnaryOp::Silu => {
            let n = b.un(UnaryFn::Neg, x);
            let e = b.un(UnaryFn::Exp, n);
            let one = b.f32(1.0);
            let d = b.add(one, e);
            b.div(x, d)
        }
        UnaryOp::Gelu => {
            let (half, one, r2) = (b.f32(0.5), b.f32(1.0), b.f32(std::f32::consts::SQRT_2));
            let hx = b.mul(half, x);
            let s = b.div(x, r2);
            let e = b.un(UnaryFn::Erf, s);
            let t = b.add(one, e);
            b.mul(hx, t)
        }
        UnaryOp::Tanh => b.un(UnaryFn::Tanh, x),
        UnaryOp::Exp => b.un(UnaryFn::Exp, x),
        UnaryOp::Log => b.un(UnaryFn::Log, x),
        UnaryOp::Sqrt => b.un(UnaryFn::Sqrt, x),
        UnaryOp::Reciprocal => {
            let one = b.f32(1.0);
            b.div(one, x)
        }
        UnaryOp::Neg => b.un(UnaryFn::Neg, x),
        UnaryOp::Abs => b.un(UnaryFn::Abs, x),
        UnaryOp::Erf => b.un(UnaryFn::Erf, x),
        UnaryOp::Floor => b.un(UnaryFn::Floor, x),
        UnaryOp::Ceil => b.un(UnaryFn::Ceil, x),
        UnaryOp::Softplus => {
            let e = b.un(UnaryFn::Exp, x);
            let one = b.f32(1.0);
            let t = b.add(one, e);
            b.un(UnaryFn::Log, t)
        }
        UnaryOp::Elu { alpha } => {
            let (z, a, one) = (b.f32(0.0), b.f32(alpha), b.f32(1.0));
            let neg = b.cmp(CmpFn::Lt, x, z);
            let e = b.un(UnaryFn::Exp, x);
            let em1 = b.sub(e, one);
            let ae = b.mul(a, em1);
            b.select(neg, ae, x)
        }
    }
}

/// `op.apply(x, y)` in IR.
pub(crate) fn binary_value(b: &mut Builder, op: BinaryOp, x: ValueId, y: ValueId) -> ValueId {
    let f = match op {
        BinaryOp::Add => BinaryFn::Add,
        BinaryOp::Sub => BinaryFn::Sub,
        BinaryOp::Mul => BinaryFn::Mul,
        BinaryOp::Div => BinaryFn::Div,
        BinaryOp::Pow => BinaryFn::Pow,
        BinaryOp::Max => BinaryFn::Max,
        BinaryOp::Min => BinaryFn::Min,
    };
    b.bin(f, x, y)
}

/// One elementwise nest: `out[i] = f(inputs broadcast to i)`.
pub(super) fn elementwise_kernel(
    name: &str,
    inputs: &[TensorType],
    output: &TensorType,
    f: impl FnOnce(&mut Builder, &[ValueId]) -> ValueId,
) -> Kernel {
    let mut b = Builder::new(name);
    let (ins, out) = declare(&mut b, inputs, output);
    let od = output.shape.dims();
    let mut strides = vec![row_major(od)];
    strides.extend(inputs.iter().map(|t| broadcast_strides(od, t.shape.dims())));
    let offsets = vec![0; strides.len()];
    if let Some(nest) = open_nest(&mut b, od, &strides, &offsets) {
        let xs: Vec<ValueId> = ins.iter().zip(&nest.index[1..]).map(|(&buf, &i)| b.load(buf, i)).collect();
        let y = f(&mut b, &xs);
        b.store(out, nest.index[0], y);
        close_nest(&mut b, nest);
    }
    b.finish()
}

pub(super) fn unary(u: &Unary, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    Ok(elementwise_kernel(u.op.name(), inputs, output, |b, xs| unary_value(b, &u.op, xs[0])))
}

pub(super) fn binary(op: &Binary, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    Ok(elementwise_kernel(op.op.name(), inputs, output, |b, xs| binary_value(b, op.op, xs[0], xs[1])))
}

pub(super) fn batch_norm(bn: &BatchNorm, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    // Parameters `[C]` broadcast along axis 1 of x: view them as `[C, 1, ...]`.
    let rank = output.shape.rank();
    let c = output.shape.dims()[1];
    let mut param_dims = vec![c];
    param_dims.extend(std::iter::repeat_n(1, rank - 2));
    let mut views = vec![inputs[0].clone()];
    views.extend(inputs[1..].iter().map(|t| TensorType::new(t.dtype, param_dims.clone())));
    let eps = bn.epsilon;
    Ok(elementwise_kernel("batch-norm", &views, output, |b, xs| {
        let (x, s, bias, mean, var) = (xs[0], xs[1], xs[2], xs[3], xs[4]);
        let e = b.f32(eps);
        let centered = b.sub(x, mean);
        let ve = b.add(var, e);
        let sd = b.un(UnaryFn::Sqrt, ve);
        let t = b.div(centered, sd);
        let t = b.mul(t, s);
        b.add(t, bias)
    }))
}

pub(super) fn cast(c: &Cast, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let from = inputs[0].dtype;
    let name = format!("cast-{}-{}", from, c.to);
    Ok(elementwise_kernel(&name, inputs, output, |b, xs| cast_value(b, from, c.to, xs[0])))
}

/// `Cast` as the reference defines it: through f32 (`Tensor::to_f32_vec`) except to i64, which converts
/// integers exactly (`to_i64_vec`); f32 to integers saturates.
fn cast_value(b: &mut Builder, from: DType, to: DType, x: ValueId) -> ValueId {
    let to_f32 = |b: &mut Builder| if from.value_type() == ScalarType::F32 { x } else { b.cast(ScalarType::F32, x) };
    match to {
        DType::F32 | DType::BF16 => to_f32(b),
        DType::I8 | DType::U8 | DType::I32 => {
            let f = to_f32(b);
            let i = b.cast(ScalarType::I32, f);
            let (lo, hi) = match to {
                DType::I8 => (i8::MIN as i32, i8::MAX as i32),
                DType::U8 => (0, u8::MAX as i32),
                _ => return i,
            };
            let (l, h) = (b.i32(lo), b.i32(hi));
            let t = b.max(i, l);
            b.min(t, h)
        }
        DType::I64 => match from.value_type() {
            ScalarType::I64 => x,
            _ => b.cast(ScalarType::I64, x),
        },
        DType::Bool => match from {
            DType::Bool => x,
            _ => b.cast(ScalarType::Bool, x),
        },
        // Unreachable: `from_op` refuses host-only dtypes before lowering.
        DType::F16 | DType::F64 | DType::I16 | DType::U16 | DType::U32 | DType::U64 => x,
    }
}
