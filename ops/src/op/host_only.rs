//! Operators with no tile form, run on the host in operator form with their reference semantics: integer,
//! boolean and index-valued computations (comparisons, logic, Where, integer arithmetic and Mod, ArgMax,
//! data-dependent gathers, Expand, Trilu), the rarer f32 math functions and the window operators the tiles do
//! not cover (ConvTranspose, GridSample, N-D pooling). Grouped under one `Op` variant so
//! that the passes, which never rewrite them, treat them alike; each operator is still its own file.
use super::recurrent;
use super::{
    arg_reduce::ArgReduce, arith::Arith, compare::Compare, expand::Expand, gather_elements::GatherElements,
    logic::Logic, math_fn::MathFn, recurrent::Recurrent, select::Select, take::Take, top_k::TopK, trilu::Trilu,
};
use super::{conv_transpose::ConvTranspose, cumsum::CumSum, gather_nd::GatherNd, hardmax::Hardmax, scatter::Scatter};
use super::{grid_sample::GridSample, pool_nd::PoolNd, pool_nd::PoolNdKind};
use crate::error::OpError;
use crate::tensor::{Tensor, TensorType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum HostOnly {
    Compare(Compare),
    Logic(Logic),
    Select(Select),
    Arith(Arith),
    ArgReduce(ArgReduce),
    Expand(Expand),
    GatherElements(GatherElements),
    Take(Take),
    Trilu(Trilu),
    MathFn(MathFn),
    TopK(TopK),
    Recurrent(Recurrent),
    CumSum(CumSum),
    Hardmax(Hardmax),
    Scatter(Scatter),
    GatherNd(GatherNd),
    ConvTranspose(ConvTranspose),
    GridSample(GridSample),
    PoolNd(PoolNd),
}

impl HostOnly {
    pub fn name(&self) -> &'static str {
        match self {
            HostOnly::Compare(o) => o.op.name(),
            HostOnly::Logic(o) => o.op.name(),
            HostOnly::Select(_) => "where",
            HostOnly::Arith(o) => o.op.name(),
            HostOnly::ArgReduce(o) => o.name(),
            HostOnly::Expand(_) => "expand",
            HostOnly::GatherElements(_) => "gather-elements",
            HostOnly::Take(_) => "take",
            HostOnly::Trilu(_) => "trilu",
            HostOnly::MathFn(o) => o.op.name(),
            HostOnly::CumSum(o) => {
                if o.product {
                    "cumprod"
                } else {
                    "cumsum"
                }
            }
            HostOnly::Hardmax(_) => "hardmax",
            HostOnly::Scatter(o) => {
                if o.axis.is_some() {
                    "scatter-elements"
                } else {
                    "scatter-nd"
                }
            }
            HostOnly::GatherNd(_) => "gather-nd",
            HostOnly::ConvTranspose(_) => "conv-transpose",
            HostOnly::GridSample(_) => "grid-sample",
            HostOnly::PoolNd(o) => o.name(),
            HostOnly::Recurrent(o) => match o.cell {
                recurrent::Cell::Rnn => "rnn",
                recurrent::Cell::Gru => "gru",
                recurrent::Cell::Lstm => "lstm",
            },
            HostOnly::TopK(o) => {
                if o.indices {
                    "top-k-indices"
                } else {
                    "top-k"
                }
            }
        }
    }

    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        match self {
            HostOnly::Compare(o) => o.infer(inputs),
            HostOnly::Logic(o) => o.infer(inputs),
            HostOnly::Select(o) => o.infer(inputs),
            HostOnly::Arith(o) => o.infer(inputs),
            HostOnly::ArgReduce(o) => o.infer(inputs),
            HostOnly::Expand(o) => o.infer(inputs),
            HostOnly::GatherElements(o) => o.infer(inputs),
            HostOnly::Take(o) => o.infer(inputs),
            HostOnly::Trilu(o) => o.infer(inputs),
            HostOnly::MathFn(o) => o.infer(inputs),
            HostOnly::TopK(o) => o.infer(inputs),
            HostOnly::Recurrent(o) => o.infer(inputs),
            HostOnly::CumSum(o) => o.infer(inputs),
            HostOnly::Hardmax(o) => o.infer(inputs),
            HostOnly::Scatter(o) => o.infer(inputs),
            HostOnly::GatherNd(o) => o.infer(inputs),
            HostOnly::ConvTranspose(o) => o.infer(inputs),
            HostOnly::GridSample(o) => o.infer(inputs),
            HostOnly::PoolNd(o) => o.infer(inputs),
        }
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        match self {
            HostOnly::Compare(o) => o.eval(inputs, out),
            HostOnly::Logic(o) => o.eval(inputs, out),
            HostOnly::Select(o) => o.eval(inputs, out),
            HostOnly::Arith(o) => o.eval(inputs, out),
            HostOnly::ArgReduce(o) => o.eval(inputs, out),
            HostOnly::Expand(o) => o.eval(inputs, out),
            HostOnly::GatherElements(o) => o.eval(inputs, out),
            HostOnly::Take(o) => o.eval(inputs, out),
            HostOnly::Trilu(o) => o.eval(inputs, out),
            HostOnly::MathFn(o) => o.eval(inputs, out),
            HostOnly::TopK(o) => o.eval(inputs, out),
            HostOnly::Recurrent(o) => o.eval(inputs, out),
            HostOnly::CumSum(o) => o.eval(inputs, out),
            HostOnly::Hardmax(o) => o.eval(inputs, out),
            HostOnly::Scatter(o) => o.eval(inputs, out),
            HostOnly::GatherNd(o) => o.eval(inputs, out),
            HostOnly::ConvTranspose(o) => o.eval(inputs, out),
            HostOnly::GridSample(o) => o.eval(inputs, out),
            HostOnly::PoolNd(o) => o.eval(inputs, out),
        }
    }

    /// Every attribute as 64-bit words (floats as bits), so that the e-graph can hash and compare the operator.
    pub fn key(&self) -> Vec<u64> {
        match self {
            HostOnly::Compare(o) => vec![0, o.op as u64],
            HostOnly::Logic(o) => vec![1, o.op as u64],
            HostOnly::Select(_) => vec![2],
            HostOnly::Arith(o) => vec![3, o.op.code()],
            HostOnly::ArgReduce(o) => {
                vec![4, u64::from(o.max), o.axis as u64, u64::from(o.keepdims), u64::from(o.select_last_index)]
            }
            HostOnly::Expand(o) => {
                [5, o.shape.len() as u64].into_iter().chain(o.shape.iter().map(|&d| d as u64)).collect()
            }
            HostOnly::GatherElements(o) => vec![6, o.axis as u64],
            HostOnly::Take(o) => vec![7, o.axis as u64],
            HostOnly::Trilu(o) => vec![8, u64::from(o.upper), o.k as u64],
            HostOnly::MathFn(o) => [9].into_iter().chain(o.op.key()).collect(),
            HostOnly::TopK(o) => vec![10, o.axis as u64, o.k as u64, u64::from(o.largest), u64::from(o.indices)],
            HostOnly::CumSum(o) => {
                vec![12, o.axis as u64, u64::from(o.exclusive), u64::from(o.reverse), u64::from(o.product)]
            }
            HostOnly::Hardmax(o) => vec![13, o.axis as u64],
            HostOnly::Scatter(o) => vec![14, o.axis.map_or(u64::MAX, |a| a as u64), o.reduction as u64],
            HostOnly::GatherNd(o) => vec![15, o.batch_dims as u64],
            HostOnly::ConvTranspose(o) => {
                let lists = [&o.strides, &o.dilations, &o.pads_begin, &o.out_spatial];
                let mut k = vec![16, o.group as u64, o.strides.len() as u64];
                k.extend(lists.iter().flat_map(|l| l.iter().map(|&v| v as u64)));
                k
            }
            HostOnly::GridSample(o) => vec![17, o.mode as u64, o.padding as u64, u64::from(o.align_corners)],
            HostOnly::PoolNd(o) => {
                let kind = match o.kind {
                    PoolNdKind::Max => 0,
                    PoolNdKind::ArgMax { column_major } => 1 + u64::from(column_major),
                    PoolNdKind::Avg { count_include_pad } => 3 + u64::from(count_include_pad),
                    PoolNdKind::Lp { p } => 5 + u64::from(p),
                };
                let lists = [&o.kernel, &o.strides, &o.dilations, &o.pads_begin, &o.pads_end];
                let mut k = vec![18, kind, u64::from(o.ceil_mode), o.kernel.len() as u64];
                k.extend(lists.iter().flat_map(|l| l.iter().map(|&v| v as u64)));
                k
            }
            HostOnly::Recurrent(o) => {
                let present = o.present.iter().enumerate().map(|(i, &p)| u64::from(p) << i).sum::<u64>();
                vec![
                    11,
                    o.cell as u64,
                    o.direction as u64,
                    o.hidden as u64,
                    u64::from(o.batch_major),
                    u64::from(o.linear_before_reset),
                    o.clip.map_or(u64::MAX, |c| u64::from(c.to_bits())),
                    present,
                    o.output as u64,
                ]
            }
        }
    }
}
