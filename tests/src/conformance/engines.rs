//! The two engines on one case: accel's real pipeline (the `accelc` driver for `x1` at fp32, blob encode, load,
//! verify and simulate with `accel_runtime::Session`) and tract (typed, optimized), each behind `catch_unwind`
//! so that a panic is recorded as the case's outcome instead of ending the run.
use super::case::Case;
use super::compare::compare;
use super::Outcome;
use accel_compiler::driver::{compile_bytes, CompileError, CompileOptions};
use accel_compiler::import::{ImportError, ImportOptions};
use accel_ops::target::Target;
use accel_ops::tensor::Data;
use accel_ops::{DType, Tensor};
use accel_runtime::Session;
use std::panic::{catch_unwind, AssertUnwindSafe};
use tract_onnx::prelude::*;

/// Longest detail kept per outcome (error chains can be long).
const MAX_DETAIL: usize = 300;

/// Runs `f`, turning a panic into `Outcome::Panic` with its message.
fn guarded(f: impl FnOnce() -> Outcome) -> Outcome {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(o) => o,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".into());
            Outcome::Panic(short(&msg))
        }
    }
}

/// One line, at most `MAX_DETAIL` characters.
pub fn short(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match one.char_indices().nth(MAX_DETAIL) {
        Some((i, _)) => format!("{}...", &one[..i]),
        None => one,
    }
}

/// Runs the case through accel and compares every output.
pub fn run_accel(case: &Case) -> Outcome {
    if let Some(why) = case.non_tensor_io() {
        return Outcome::Unsupported(why);
    }
    guarded(|| accel_case(case))
}

fn accel_case(case: &Case) -> Outcome {
    let mut inputs = Vec::with_capacity(case.inputs.len());
    for (name, t) in &case.inputs {
        let Some(t) = t else { return Outcome::Unsupported(format!("non-tensor input `{name}`")) };
        let Some(a) = to_accel(t) else {
            return Outcome::Unsupported(format!("input `{name}` of element type {:?}", t.datum_type()));
        };
        inputs.push((name.clone(), a));
    }
    let needs_constant = |why: &str| why.contains("not a constant") || why.contains("must be a constant");
    match accel_compile_run(case, &inputs, &[]) {
        // An operand the schedule needs as a constant came from an input: freeze the integer inputs to the
        // case's values, as a user would with `accelc --freeze`, and say so.
        Outcome::Unsupported(why) | Outcome::Error(why) if needs_constant(&why) => {
            // Integer tensors (shapes, axes, k), scalars of any type (Range bounds, quantization scales and
            // zero points, a training flag), and every input an error names as one to freeze (Resize scales).
            let mut frozen: Vec<&str> = inputs
                .iter()
                .filter(|(n, t)| matches!(t.dtype(), DType::I64 | DType::I32) || t.len() <= 1 || named(&why, n))
                .map(|(n, _)| n.as_str())
                .collect();
            if frozen.is_empty() {
                return Outcome::Unsupported(why);
            }
            // Each retry may name one more input (a later node's operand); at most one retry per input.
            for _ in 0..inputs.len() {
                match accel_compile_run(case, &inputs, &frozen) {
                    Outcome::Pass => return Outcome::PassFrozen(format!("frozen: {}", frozen.join(", "))),
                    Outcome::Unsupported(why) | Outcome::Error(why)
                        if needs_constant(&why)
                            && inputs.iter().any(|(n, _)| named(&why, n) && !frozen.contains(&n.as_str())) =>
                    {
                        let more: Vec<&str> = inputs
                            .iter()
                            .map(|(n, _)| n.as_str())
                            .filter(|n| named(&why, n) && !frozen.contains(n))
                            .collect();
                        frozen.extend(more);
                    }
                    other => return other,
                }
            }
            Outcome::Unsupported("freezing the inputs the errors named did not converge".into())
        }
        other => other,
    }
}

/// Whether the compiler's "must be a constant" error names graph input `name` as the one to freeze.
fn named(why: &str, name: &str) -> bool {
    why.contains(&format!("graph input `{name}`"))
}

/// Compiles the case with the `frozen` inputs fixed to their values (and every other input's shape pinned),
/// runs it and compares every output.
fn accel_compile_run(case: &Case, inputs: &[(String, Tensor)], frozen: &[&str]) -> Outcome {
    let is_frozen = |name: &str| frozen.contains(&name);
    let opts = CompileOptions {
        target: Target::x1(),
        import: ImportOptions {
            input_shapes: inputs
                .iter()
                .filter(|(n, _)| !is_frozen(n))
                .map(|(n, t)| (n.clone(), t.dims().to_vec()))
                .collect(),
            frozen_inputs: inputs.iter().filter(|(n, _)| is_frozen(n)).cloned().collect(),
            ..Default::default()
        },
        ..Default::default()
    };
    let compiled = match compile_bytes(&case.model, None, &opts) {
        Ok(c) => c,
        Err(e) => return classify(&e),
    };
    let mut session = match Session::load(&compiled.blob) {
        Ok(s) => s,
        Err(e) => return Outcome::Error(short(&format!("load: {e}"))),
    };
    let fed: Vec<(String, Tensor)> = inputs.iter().filter(|(n, _)| !is_frozen(n)).cloned().collect();
    let out = match session.run(&fed) {
        Ok(o) => o.outputs,
        Err(e) => return Outcome::Error(short(&format!("run: {e}"))),
    };
    for (name, want) in &case.outputs {
        let Some(want) = want else { return Outcome::Unsupported(format!("non-tensor output `{name}`")) };
        let Some((_, got)) = out.iter().find(|(n, _)| n == name) else {
            return Outcome::Fail(format!("output `{name}` is missing"));
        };
        if let Err(e) = to_tract(got).and_then(|got| compare(&got, want)) {
            return Outcome::Fail(short(&format!("output `{name}`: {e}")));
        }
    }
    Outcome::Pass
}

/// Unsupported operators, input types and opsets are `Unsupported`; every other compile error is an `Error`.
fn classify(e: &CompileError) -> Outcome {
    let msg = short(&e.to_string());
    match e {
        CompileError::Import(ImportError::UnsupportedOps { .. } | ImportError::UnsupportedInput { .. }) => {
            Outcome::Unsupported(msg)
        }
        _ if msg.contains("unsupported") => Outcome::Unsupported(msg),
        _ => Outcome::Error(msg),
    }
}

/// A test value as an accel tensor, for the element types accel has.
pub fn to_accel(t: &tract_onnx::prelude::Tensor) -> Option<Tensor> {
    let dims = t.shape().to_vec();
    let r = match t.datum_type() {
        DatumType::F32 => Tensor::from_f32(dims, plain::<f32>(t)?),
        DatumType::I64 => Tensor::from_i64(dims, plain::<i64>(t)?),
        DatumType::I32 => Tensor::from_i32(dims, plain::<i32>(t)?),
        DatumType::I8 => Tensor::from_i8(dims, plain::<i8>(t)?),
        DatumType::U8 => Tensor::from_u8(dims, plain::<u8>(t)?),
        DatumType::Bool => Tensor::from_bool(dims, plain::<bool>(t)?),
        DatumType::F16 => {
            Tensor::from_f16(dims, plain::<f16>(t)?.into_iter().map(|x| half::f16::from_bits(x.to_bits())).collect())
        }
        DatumType::F64 => Tensor::from_f64(dims, plain::<f64>(t)?),
        DatumType::I16 => Tensor::from_i16(dims, plain::<i16>(t)?),
        DatumType::U16 => Tensor::from_u16(dims, plain::<u16>(t)?),
        DatumType::U32 => Tensor::from_u32(dims, plain::<u32>(t)?),
        DatumType::U64 => Tensor::from_u64(dims, plain::<u64>(t)?),
        _ => return None,
    };
    r.ok()
}

/// The elements of a tract tensor in row-major order.
fn plain<T: Datum + Copy>(t: &tract_onnx::prelude::Tensor) -> Option<Vec<T>> {
    Some(t.to_plain_array_view::<T>().ok()?.iter().copied().collect())
}

/// An accel tensor as a tract tensor, to compare with the expected value (bf16 widens to f32).
pub fn to_tract(t: &Tensor) -> Result<tract_onnx::prelude::Tensor, String> {
    let dims = t.dims();
    fn arr<T: Datum>(dims: &[usize], v: Vec<T>) -> Result<tract_onnx::prelude::Tensor, String> {
        tract_ndarray::ArrayD::from_shape_vec(dims.to_vec(), v).map(|a| a.into_tensor()).map_err(|e| e.to_string())
    }
    match t.data() {
        Data::F32(v) => arr(dims, v.clone()),
        Data::BF16(v) => arr(dims, v.iter().map(|x| x.to_f32()).collect::<Vec<f32>>()),
        Data::I8(v) => arr(dims, v.clone()),
        Data::U8(v) => arr(dims, v.clone()),
        Data::I32(v) => arr(dims, v.clone()),
        Data::I64(v) => arr(dims, v.clone()),
        Data::Bool(v) => arr(dims, v.clone()),
        Data::F16(v) => arr(dims, v.iter().map(|x| f16::from_bits(x.to_bits())).collect::<Vec<f16>>()),
        Data::F64(v) => arr(dims, v.clone()),
        Data::I16(v) => arr(dims, v.clone()),
        Data::U16(v) => arr(dims, v.clone()),
        Data::U32(v) => arr(dims, v.clone()),
        Data::U64(v) => arr(dims, v.clone()),
    }
}

/// Runs the case through tract (typed, optimized) and compares every output.
pub fn run_tract(case: &Case) -> Outcome {
    if let Some(why) = case.non_tensor_io() {
        return Outcome::Unsupported(why);
    }
    guarded(|| match tract_case(case) {
        Ok(o) => o,
        Err(e) => Outcome::Error(short(&format!("{e:#}"))),
    })
}

fn tract_case(case: &Case) -> TractResult<Outcome> {
    let mut model = tract_onnx::onnx().model_for_read(&mut &case.model[..])?;
    let mut values = TVec::new();
    for (i, (name, t)) in case.inputs.iter().enumerate() {
        let Some(t) = t else { return Ok(Outcome::Unsupported(format!("non-tensor input `{name}`"))) };
        model = model.with_input_fact(i, InferenceFact::dt_shape(t.datum_type(), t.shape()))?;
        values.push(t.clone().into_tvalue());
    }
    let plan = model.into_optimized()?.into_runnable()?;
    let out = plan.run(values)?;
    if out.len() != case.outputs.len() {
        return Ok(Outcome::Fail(format!("{} outputs, expected {}", out.len(), case.outputs.len())));
    }
    for (got, (name, want)) in out.iter().zip(&case.outputs) {
        let Some(want) = want else { return Ok(Outcome::Unsupported(format!("non-tensor output `{name}`"))) };
        if let Err(e) = compare(got, want) {
            return Ok(Outcome::Fail(short(&format!("output `{name}`: {e}"))));
        }
    }
    Ok(Outcome::Pass)
}
