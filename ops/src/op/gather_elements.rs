//! GatherElements: `out[..., i, ...] = data[..., index[..., i, ...], ...]` along one axis, the output shaped as
//! the (data-dependent) indices. Indices are checked when evaluated: negative ones count from the end, any
//! other out-of-range index is an error, never a wild read.
use super::util::arity;
use super::values::{coords, is_int, resolve_index, Values};
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatherElements {
    pub axis: usize,
}

impl GatherElements {
    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        arity(inputs.len(), 2, 2)?;
        let (d, i) = (&inputs[0], &inputs[1]);
        if !is_int(i.dtype) {
            return Err(OpError::DType { index: 1, expected: "int32 or int64".into(), got: i.dtype.to_string() });
        }
        if d.shape.rank() != i.shape.rank() || self.axis >= d.shape.rank() {
            return Err(OpError::shape(
                1,
                format!("indices {} do not fit data {} at axis {}", i.shape, d.shape, self.axis),
            ));
        }
        Ok(TensorType { dtype: d.dtype, shape: i.shape.clone() })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let dims = inputs[0].dims();
        let strides = inputs[0].shape().strides();
        let idx = inputs[1].to_i64_vec()?;
        let od = out.shape.dims();
        let mut index = Vec::with_capacity(idx.len());
        for (flat, &k) in idx.iter().enumerate() {
            let mut c = coords(od, flat);
            c[self.axis] = resolve_index(k, dims[self.axis], "index")?;
            if c.iter().zip(dims).any(|(&x, &d)| x >= d) {
                return Err(OpError::Other(format!("indices of shape {:?} reach outside data {:?}", od, dims)));
            }
            index.push(c.iter().zip(&strides).map(|(x, s)| x * s).sum());
        }
        Values::of(inputs[0]).pick(index.into_iter()).into_tensor(out.dtype, out.shape.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathers_along_axis_with_negative_indices() {
        let x = Tensor::from_f32(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let i = Tensor::from_i64(vec![2, 2], vec![0, 0, -1, 0]).unwrap();
        let g = GatherElements { axis: 1 };
        let out = g.infer(&[x.ty(), i.ty()]).unwrap();
        assert_eq!(g.eval(&[&x, &i], &out).unwrap().as_f32().unwrap(), &[1.0, 1.0, 4.0, 3.0]);
        let g0 = GatherElements { axis: 0 };
        let i0 = Tensor::from_i64(vec![1, 2], vec![1, 0]).unwrap();
        let out = g0.infer(&[x.ty(), i0.ty()]).unwrap();
        assert_eq!(g0.eval(&[&x, &i0], &out).unwrap().as_f32().unwrap(), &[3.0, 2.0]);
        let bad = Tensor::from_i64(vec![1, 2], vec![2, 0]).unwrap();
        assert!(g0.eval(&[&x, &bad], &out).is_err());
    }
}
