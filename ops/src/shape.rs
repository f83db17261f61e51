//! Static shapes and the one place where element and byte counts are computed, with overflow checks.
use crate::error::OpError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A static tensor shape. Symbolic dims are pinned before anything becomes a `Shape`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub struct Shape(pub Vec<usize>);

/// Policy caps on what a model may ask for, so that hostile shapes fail early instead of allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_rank: usize,
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // 2^31 elements is 8 GiB of f32: larger than any edge activation (a 1440x1440x256 map is 5.3e8).
        Limits { max_rank: 8, max_elements: 1 << 31 }
    }
}

impl Shape {
    pub fn new(dims: impl Into<Vec<usize>>) -> Self {
        Shape(dims.into())
    }
    pub fn rank(&self) -> usize {
        self.0.len()
    }
    pub fn dims(&self) -> &[usize] {
        &self.0
    }
    /// Number of elements, or an overflow error.
    pub fn checked_numel(&self) -> Result<usize, OpError> {
        checked_numel(&self.0)
    }
    /// Number of elements for a shape already validated by `check` (never overflows then).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }
    /// Bytes for `elem_size`-byte elements, or an overflow error.
    pub fn checked_bytes(&self, elem_size: usize) -> Result<usize, OpError> {
        self.checked_numel()?
            .checked_mul(elem_size)
            .ok_or_else(|| OpError::Overflow(format!("{self} x {elem_size} bytes")))
    }
    /// Checks a shape against the policy caps.
    pub fn check(&self, limits: &Limits) -> Result<(), OpError> {
        if self.rank() > limits.max_rank {
            return Err(OpError::Overflow(format!("rank {} exceeds the limit {}", self.rank(), limits.max_rank)));
        }
        let n = self.checked_numel()?;
        if n > limits.max_elements {
            return Err(OpError::Overflow(format!(
                "{self} has {n} elements, over the limit of {}",
                limits.max_elements
            )));
        }
        Ok(())
    }
    /// Row-major strides in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut strides = vec![1; self.rank()];
        for i in (0..self.rank().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * self.0[i + 1];
        }
        strides
    }
}

/// Product of dims with overflow detection.
pub fn checked_numel(dims: &[usize]) -> Result<usize, OpError> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| OpError::Overflow(format!("element count of {dims:?}")))
}

/// Normalizes a possibly negative ONNX axis against `rank`.
pub fn normalize_axis(axis: i64, rank: usize) -> Result<usize, OpError> {
    let r = rank.max(1) as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if !(0..r).contains(&a) {
        return Err(OpError::attr("axis", format!("{axis} is out of range for rank {rank}")));
    }
    Ok(a as usize)
}

/// Numpy-style broadcast of two shapes.
pub fn broadcast(a: &Shape, b: &Shape) -> Result<Shape, OpError> {
    let rank = a.rank().max(b.rank());
    let mut out = vec![0; rank];
    for (i, o) in out.iter_mut().enumerate() {
        let da = dim_from_right(a, rank - 1 - i);
        let db = dim_from_right(b, rank - 1 - i);
        *o = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            (x, y) => return Err(OpError::shape(1, format!("cannot broadcast {a} with {b} (dims {x} and {y})"))),
        };
    }
    Ok(Shape(out))
}

fn dim_from_right(s: &Shape, from_right: usize) -> usize {
    if from_right < s.rank() {
        s.0[s.rank() - 1 - from_right]
    } else {
        1
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("x")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numel_overflow_is_an_error() {
        assert!(Shape::new(vec![usize::MAX, 2]).checked_numel().is_err());
        assert_eq!(Shape::new(vec![2, 3, 4]).checked_numel(), Ok(24));
    }

    #[test]
    fn limits_reject_huge_shapes() {
        let l = Limits::default();
        assert!(Shape::new(vec![1 << 20, 1 << 20]).check(&l).is_err());
        assert!(Shape::new(vec![1; 9]).check(&l).is_err());
    }

    #[test]
    fn broadcast_follows_numpy() {
        let s = broadcast(&Shape::new(vec![1, 8, 4, 4]), &Shape::new(vec![8, 1, 1])).unwrap();
        assert_eq!(s, Shape::new(vec![1, 8, 4, 4]));
        assert!(broadcast(&Shape::new(vec![3]), &Shape::new(vec![4])).is_err());
    }

    #[test]
    fn axes_normalize() {
        assert_eq!(normalize_axis(-1, 4), Ok(3));
        assert!(normalize_axis(4, 4).is_err());
        assert!(normalize_axis(-100000, 4).is_err());
    }
}
