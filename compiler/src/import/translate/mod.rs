//! Translation of ONNX nodes onto `accel_ops::op::Op`, one file per operator family, and the `Builder` they
//! share: it names values exactly as ONNX does, folds nodes whose inputs are all constant, and checks every
//! new value against the tensor limits. Translators must validate attributes here, at import, so later
//! stages never see an out-of-range axis, index or size.
use super::attrs::OnnxNode;
use super::error::ImportError;
use super::ImportLimits;
use crate::ir::{Graph, IrError, ValueId};
use accel_ops::op::Op;
use accel_ops::{DType, Tensor, TensorType};
use std::collections::HashMap;
use std::path::Path;

mod attention;
mod attention_bias;
mod composite;
mod constant;
mod conv;
mod conv1d;
mod depth_space;
mod dynamic_quant;
mod einsum;
mod grid_sample;
mod host_only;
pub(crate) mod index_map;
mod integer;
mod layout;
mod math;
mod normalize;
mod one_hot;
mod pool_nd;
mod quant;
mod recurrent;
mod reduce;
mod reduce_composite;
mod resize;
mod rotary;

/// Translates one node: reads its inputs from the builder and defines its outputs.
pub(crate) type Translator = fn(&mut Builder<'_>, &OnnxNode<'_>) -> Result<(), ImportError>;

/// The translator for a default-domain ONNX operator, or `None` if accel does not support it. This table is
/// the single list of supported operators.
pub(crate) fn translator(op_type: &str) -> Option<Translator> {
    Some(match op_type {
        "Conv" => conv1d::conv,
        "MaxPool" => conv1d::max_pool,
        "LpPool" => pool_nd::lp_pool,
        "AveragePool" => conv1d::average_pool,
        "GlobalAveragePool" => conv::global_average_pool,
        "GlobalMaxPool" => conv::global_max_pool,
        "BatchNormalization" => conv::batch_norm,
        "LRN" => conv::lrn,
        "Gemm" => math::gemm,
        "MatMul" => math::matmul,
        "Einsum" => einsum::einsum,
        "DynamicQuantizeLinear" => dynamic_quant::dynamic_quantize_linear,
        "Relu" | "Sigmoid" | "Tanh" | "Exp" | "Log" | "Sqrt" | "Reciprocal" | "Neg" | "Abs" | "Erf" | "Floor"
        | "Ceil" | "Softplus" | "LeakyRelu" | "HardSigmoid" | "HardSwish" | "Elu" => math::unary,
        "Clip" => math::clip,
        "PRelu" => math::prelu,
        "Add" | "Sub" | "Mul" | "Div" | "Pow" => math::binary,
        "Sum" | "Max" | "Min" | "Mean" => math::variadic,
        "Softmax" | "LogSoftmax" => reduce::softmax,
        "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" => reduce::reduce,
        "ReduceL1" | "ReduceL2" | "ReduceSumSquare" | "ReduceLogSum" | "ReduceLogSumExp" => {
            reduce_composite::reduce_composite
        }
        "Reshape" => layout::reshape,
        "Flatten" => layout::flatten,
        "Squeeze" => layout::squeeze,
        "Unsqueeze" => layout::unsqueeze,
        "Transpose" => layout::transpose,
        "Concat" => layout::concat,
        "Slice" => layout::slice,
        "Split" => layout::split,
        "Pad" => layout::pad,
        "Gather" => layout::gather,
        "Resize" => resize::resize,
        "Upsample" => resize::upsample,
        "Cast" => constant::cast,
        "CastLike" => composite::cast_like,
        "LayerNormalization" => composite::layer_norm,
        "InstanceNormalization" => normalize::instance_norm,
        "GroupNormalization" => normalize::group_norm,
        "LpNormalization" => normalize::lp_norm,
        "MeanVarianceNormalization" => normalize::mvn,
        "EyeLike" => constant::eye_like,
        "DepthToSpace" => depth_space::depth_to_space,
        "SpaceToDepth" => depth_space::space_to_depth,
        "RMSNormalization" => composite::rms_norm,
        "Gelu" => composite::gelu,
        "Swish" => composite::swish,
        "Attention" => attention::attention,
        "RotaryEmbedding" => rotary::rotary_embedding,
        "QuantizeLinear" => quant::quantize_linear,
        "DequantizeLinear" => quant::dequantize_linear,
        "QLinearConv" => quant::qlinear_conv,
        "QLinearMatMul" => quant::qlinear_matmul,
        "ConvInteger" => integer::conv_integer,
        "MatMulInteger" => integer::matmul_integer,
        "Constant" => constant::constant,
        "ConstantOfShape" => constant::constant_of_shape,
        "Shape" => constant::shape,
        "Size" => constant::size,
        "Identity" => constant::identity,
        "Dropout" => constant::dropout,
        "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "And" | "Or" | "Xor" | "Not" | "Where"
        | "Expand" => host_only::computed,
        "Range" => constant::constant_only,
        "OneHot" => one_hot::one_hot,
        "Mod" => host_only::modulo,
        "BitShift" | "BitwiseAnd" | "BitwiseOr" | "BitwiseXor" => host_only::bitwise,
        "BitwiseNot" => host_only::bitwise_not,
        "ArgMax" | "ArgMin" => host_only::arg_reduce,
        "TopK" => host_only::top_k,
        "CumSum" | "CumProd" => host_only::cumulative,
        "Hardmax" => host_only::hardmax,
        "ScatterElements" | "Scatter" | "ScatterND" => host_only::scatter,
        "GatherND" => host_only::gather_nd,
        "ConvTranspose" => host_only::conv_transpose,
        "GridSample" => grid_sample::grid_sample,
        "RNN" | "GRU" | "LSTM" => recurrent::recurrent,
        "GatherElements" => host_only::gather_elements,
        "Trilu" => host_only::trilu,
        "Cos" | "Sin" | "Tan" | "Acos" | "Asin" | "Atan" | "Cosh" | "Sinh" | "Acosh" | "Asinh" | "Atanh"
        | "Softsign" | "Mish" | "Sign" | "Round" | "IsNaN" | "IsInf" | "Selu" | "ThresholdedRelu" | "Celu"
        | "Shrink" => host_only::math_fn,
        _ => return None,
    })
}

/// Above this many multiply-accumulates a node on constants is left to run rather than folded at compile
/// time (BAD-INPUT #18: compile-time blow-ups).
const FOLD_MAX_MACS: u64 = 1 << 30;

/// The graph under construction and the ONNX name of every value defined so far.
pub(crate) struct Builder<'o> {
    pub graph: Graph,
    names: HashMap<String, ValueId>,
    pub limits: &'o ImportLimits,
    pub model_dir: Option<&'o Path>,
    /// For ONNX names that alias another value (Identity, Dropout, ...): the node that made the alias.
    pub alias_by: HashMap<String, String>,
}

impl<'o> Builder<'o> {
    pub fn new(limits: &'o ImportLimits, model_dir: Option<&'o Path>) -> Self {
        Builder { graph: Graph::default(), names: HashMap::new(), limits, model_dir, alias_by: HashMap::new() }
    }

    /// The value an ONNX name refers to.
    pub fn lookup(&self, name: &str) -> Option<ValueId> {
        self.names.get(name).copied()
    }

    /// Binds an ONNX name to a value (graph inputs and initializers).
    pub fn bind(&mut self, name: &str, v: ValueId) {
        self.names.insert(name.to_string(), v);
    }

    pub fn ty(&self, v: ValueId) -> &TensorType {
        self.graph.ty(v)
    }

    pub fn dims(&self, v: ValueId) -> &[usize] {
        self.graph.ty(v).shape.dims()
    }

    pub fn constant(&self, v: ValueId) -> Option<&Tensor> {
        self.graph.constant(v)
    }

    /// Input `i` if it is given (absent or `""` means an omitted optional input).
    pub fn opt_input(&self, n: &OnnxNode<'_>, i: usize) -> Result<Option<ValueId>, ImportError> {
        match n.proto.input.get(i).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(name) => self
                .lookup(name)
                .map(Some)
                .ok_or_else(|| ImportError::MissingInput { node: n.label.clone(), input: name.clone() }),
        }
    }

    /// Required input `i`.
    pub fn input(&self, n: &OnnxNode<'_>, i: usize) -> Result<ValueId, ImportError> {
        self.opt_input(n, i)?.ok_or_else(|| n.err(format!("required input #{i} is missing")))
    }

    /// Checks the number of (possibly empty) input slots.
    pub fn arity(&self, n: &OnnxNode<'_>, min: usize, max: usize) -> Result<(), ImportError> {
        let got = n.proto.input.len();
        if got < min || got > max {
            let want = if min == max { format!("{min}") } else { format!("{min} to {max}") };
            return Err(n.err(format!("expected {want} inputs, got {got}")));
        }
        Ok(())
    }

    /// Optional input `i`, which must be a constant when given.
    pub fn const_input(&self, n: &OnnxNode<'_>, i: usize, what: &str) -> Result<Option<&Tensor>, ImportError> {
        match self.opt_input(n, i)? {
            None => Ok(None),
            Some(v) => self.constant(v).map(Some).ok_or_else(|| {
                // A graph input the user can fix at compile time: say how.
                let hint = match self.graph.inputs.contains(&v) {
                    true => {
                        let name = &self.graph.value(v).name;
                        format!(" (it is graph input `{name}`: give its value with `--freeze {name}=FILE.npy`)")
                    }
                    false => String::new(),
                };
                n.err(format!("input #{i} ({what}) must be a constant: data-dependent {what} are unsupported{hint}"))
            }),
        }
    }

    /// Optional constant integer input `i` (a scalar or a 1-D list), as i64.
    pub fn const_ints(&self, n: &OnnxNode<'_>, i: usize, what: &str) -> Result<Option<Vec<i64>>, ImportError> {
        let Some(t) = self.const_input(n, i, what)? else { return Ok(None) };
        if !matches!(t.dtype(), DType::I64 | DType::I32) || t.shape().rank() > 1 {
            return Err(n.err(format!("{what} must be a 1-D int64 list, got {}", t.ty())));
        }
        t.to_i64_vec().map(Some).map_err(|e| n.err(e.to_string()))
    }

    /// Required constant integer input `i` holding exactly one value (TopK's `k`, CumSum's axis).
    pub fn const_int(&self, n: &OnnxNode<'_>, i: usize, what: &str) -> Result<i64, ImportError> {
        let v = self.const_ints(n, i, what)?.ok_or_else(|| n.err(format!("input #{i} ({what}) must be a constant")))?;
        match v.as_slice() {
            &[x] => Ok(x),
            _ => Err(n.err(format!("{what} must hold one value, got {}", v.len()))),
        }
    }

    /// Optional constant float input `i` (f32 scalar or list).
    pub fn const_floats(&self, n: &OnnxNode<'_>, i: usize, what: &str) -> Result<Option<Vec<f32>>, ImportError> {
        let Some(t) = self.const_input(n, i, what)? else { return Ok(None) };
        match t.as_f32() {
            Ok(v) if t.shape().rank() <= 1 => Ok(Some(v.to_vec())),
            _ => Err(n.err(format!("{what} must be a 1-D float list, got {}", t.ty()))),
        }
    }

    /// Output slot `i`'s ONNX name (may be empty for an omitted optional output).
    pub fn output_name<'n>(&self, n: &'n OnnxNode<'_>, i: usize) -> Result<&'n str, ImportError> {
        n.proto.output.get(i).map(String::as_str).ok_or_else(|| n.err(format!("output #{i} is missing")))
    }

    /// A name for a helper value of a node that expands to several ops.
    pub fn helper_name(&self, n: &OnnxNode<'_>, what: &str) -> Result<String, ImportError> {
        Ok(format!("{}#{what}", self.output_name(n, 0)?))
    }

    fn check_limits(&self, n: &OnnxNode<'_>, name: &str, ty: &TensorType) -> Result<(), ImportError> {
        ty.shape.check(&self.limits.tensor).map_err(|e| ImportError::Limit {
            what: format!("value `{name}` of node `{}`", n.label),
            why: e.to_string(),
        })
    }

    /// Adds `op` on `inputs` producing the value `name`. If every input is a constant, the op is evaluated
    /// now and the result becomes a constant: no tile or host work is emitted for it.
    pub fn emit(&mut self, n: &OnnxNode<'_>, op: Op, inputs: &[ValueId], name: &str) -> Result<ValueId, ImportError> {
        let types: Vec<TensorType> = inputs.iter().map(|&v| self.ty(v).clone()).collect();
        let ty = op.infer(&types).map_err(|e| n.err(e.to_string()))?;
        self.check_limits(n, name, &ty)?;
        let consts: Option<Vec<&Tensor>> = inputs.iter().map(|&v| self.constant(v)).collect();
        if let Some(consts) = consts {
            if op.macs(&types, &ty) <= FOLD_MAX_MACS {
                let t = op.eval(&consts).map_err(|e| n.err(e.to_string()))?;
                return Ok(self.graph.add_const(name, t));
            }
        }
        self.graph.add_node(n.label.clone(), op, inputs.to_vec(), name).map_err(|e| match e {
            IrError::Op { error, .. } => n.err(error.to_string()),
            IrError::Invalid { why, .. } => n.err(why),
        })
    }

    /// Emits `op` as the node's output #0 and defines it.
    pub fn emit_out(&mut self, n: &OnnxNode<'_>, op: Op, inputs: &[ValueId]) -> Result<ValueId, ImportError> {
        let name = self.output_name(n, 0)?.to_string();
        let v = self.emit(n, op, inputs, &name)?;
        self.define(n, 0, v)?;
        Ok(v)
    }

    /// Adds a constant produced by node `n` (checked against the limits).
    pub fn add_const(&mut self, n: &OnnxNode<'_>, name: &str, t: Tensor) -> Result<ValueId, ImportError> {
        self.check_limits(n, name, &t.ty())?;
        Ok(self.graph.add_const(name, t))
    }

    /// Defines output #0 as the constant `t`.
    pub fn const_out(&mut self, n: &OnnxNode<'_>, t: Tensor) -> Result<(), ImportError> {
        let name = self.output_name(n, 0)?.to_string();
        let v = self.add_const(n, &name, t)?;
        self.define(n, 0, v)
    }

    /// Binds output slot `i` of `n` to `v`. An empty output name (omitted output) binds nothing.
    pub fn define(&mut self, n: &OnnxNode<'_>, i: usize, v: ValueId) -> Result<(), ImportError> {
        let name = self.output_name(n, i)?;
        if name.is_empty() {
            return Ok(());
        }
        if self.names.contains_key(name) {
            return Err(n.err(format!("output `{name}` is already defined")));
        }
        if self.graph.value(v).name != name {
            self.alias_by.insert(name.to_string(), n.label.clone());
        }
        self.names.insert(name.to_string(), v);
        Ok(())
    }

    /// Makes output #0 another name for input #0 (Identity, Dropout, no-op Cast): no node is emitted.
    pub fn alias_out(&mut self, n: &OnnxNode<'_>, v: ValueId) -> Result<(), ImportError> {
        self.define(n, 0, v)
    }
}
