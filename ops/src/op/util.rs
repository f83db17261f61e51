//! Small helpers shared by the reference implementations.
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use crate::DType;

/// Checks the number of inputs against an inclusive range.
pub fn arity(inputs: usize, min: usize, max: usize) -> Result<(), OpError> {
    if inputs < min || inputs > max {
        let expected = if min == max { format!("{min}") } else { format!("{min} to {max}") };
        return Err(OpError::Arity { expected, got: inputs });
    }
    Ok(())
}

/// Checks that input `index` has dtype `want`.
pub fn want_dtype(inputs: &[TensorType], index: usize, want: DType) -> Result<(), OpError> {
    match inputs.get(index) {
        Some(t) if t.dtype == want => Ok(()),
        Some(t) => Err(OpError::DType { index, expected: want.to_string(), got: t.dtype.to_string() }),
        None => Err(OpError::Arity { expected: format!("at least {}", index + 1), got: inputs.len() }),
    }
}

/// The f32 elements of input `index`.
pub fn f32_input<'a>(inputs: &[&'a Tensor], index: usize) -> Result<&'a [f32], OpError> {
    inputs.get(index).ok_or(OpError::Arity { expected: format!("at least {}", index + 1), got: inputs.len() })?.as_f32()
}

/// Wraps computed f32 values as the output tensor.
pub fn f32_output(out: &TensorType, data: Vec<f32>) -> Result<Tensor, OpError> {
    Tensor::from_f32(out.shape.dims().to_vec(), data)
}

/// Maps an output index to the broadcast source index of an input of shape `src` (numpy rules).
pub fn broadcast_index(out_dims: &[usize], src_dims: &[usize], mut flat: usize) -> usize {
    let offset = out_dims.len() - src_dims.len();
    let mut src = 0;
    let mut stride = 1;
    for axis in (0..out_dims.len()).rev() {
        let coord = flat % out_dims[axis];
        flat /= out_dims[axis];
        if axis >= offset {
            let d = src_dims[axis - offset];
            if d != 1 {
                src += coord * stride;
            }
            stride *= d;
        }
    }
    src
}
