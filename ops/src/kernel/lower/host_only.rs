//! Kernel-IR lowerings of the elementwise host-only operators: comparisons, boolean logic, Where, Expand and
//! the wrapping integer arithmetic. Each is one broadcasting loop nest (`elementwise_kernel`), so the JIT runs
//! it natively and `fuse_elementwise` may chain it with its neighbours. The rest of `HostOnly` (TopK, Scatter,
//! recurrences, ...) stays in operator form.
use super::elementwise::elementwise_kernel;
use super::unsupported;
use crate::kernel::{BinaryFn, CmpFn, Kernel, KernelError, ScalarType};
use crate::op::arith::ArithOp;
use crate::op::compare::CompareOp;
use crate::op::logic::LogicOp;
use crate::op::{HostOnly, Op};
use crate::tensor::TensorType;
use crate::DType;

pub(super) fn host_only(h: &HostOnly, inputs: &[TensorType], output: &TensorType) -> Result<Kernel, KernelError> {
    let refuse = |why: &str| Err(unsupported(&Op::HostOnly(h.clone()), why));
    match h {
        HostOnly::Compare(c) => {
            // The IR compares numbers; Equal on booleans stays in operator form.
            if inputs[0].dtype == DType::Bool {
                return refuse("comparison of booleans");
            }
            let op = match c.op {
                CompareOp::Equal => CmpFn::Eq,
                CompareOp::Less => CmpFn::Lt,
                CompareOp::Greater => CmpFn::Gt,
                CompareOp::LessOrEqual => CmpFn::Le,
                CompareOp::GreaterOrEqual => CmpFn::Ge,
            };
            Ok(elementwise_kernel(c.op.name(), inputs, output, |b, xs| b.cmp(op, xs[0], xs[1])))
        }
        HostOnly::Logic(l) => Ok(elementwise_kernel(l.op.name(), inputs, output, |b, xs| match l.op {
            LogicOp::And => b.bin(BinaryFn::And, xs[0], xs[1]),
            LogicOp::Or => b.bin(BinaryFn::Or, xs[0], xs[1]),
            LogicOp::Xor => b.bin(BinaryFn::Xor, xs[0], xs[1]),
            LogicOp::Not => {
                let t = b.bool(true);
                b.bin(BinaryFn::Xor, xs[0], t)
            }
        })),
        HostOnly::Select(_) => Ok(elementwise_kernel("where", inputs, output, |b, xs| b.select(xs[0], xs[1], xs[2]))),
        HostOnly::Expand(_) => Ok(elementwise_kernel("expand", &inputs[..1], output, |_, xs| xs[0])),
        HostOnly::Arith(a) => {
            // Wrapping arithmetic on the loaded i32/i64 values, narrowed by the store: the reference's result
            // for every integer dtype the IR loads. Division, Mod, shifts and bit logic stay in operator form.
            let op = match a.op {
                ArithOp::Add => BinaryFn::Add,
                ArithOp::Sub => BinaryFn::Sub,
                ArithOp::Mul => BinaryFn::Mul,
                ArithOp::Max => BinaryFn::Max,
                ArithOp::Min => BinaryFn::Min,
                _ => return refuse("no kernel-IR form of this integer operation"),
            };
            if !matches!(inputs[0].dtype.value_type(), ScalarType::I32 | ScalarType::I64) {
                return refuse("integer arithmetic on a non-integer type");
            }
            Ok(elementwise_kernel(a.op.name(), inputs, output, |b, xs| b.bin(op, xs[0], xs[1])))
        }
        _ => refuse("no kernel-IR lowering: runs in operator form"),
    }
}
