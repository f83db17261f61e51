//! A loaded model: decode and verify once, allocate the simulated memories once, then run many times with
//! checked inputs. Each run re-copies the constants, writes the inputs, executes and reads the outputs back.
use crate::error::RuntimeError;
use crate::report::RunReport;
use crate::sim::{self, ExecOptions, Machine, Trace};
use crate::verify::{verify, VerifiedProgram};
use accel_ops::blob::{decode, BlobLimits};
use accel_ops::program::{Meta, Program};
use accel_ops::Tensor;
use std::path::Path;

/// What a run produces: the outputs in the model's order, and the report.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub outputs: Vec<(String, Tensor)>,
    pub report: RunReport,
}

/// A verified program with its machine, ready to run.
#[derive(Debug)]
pub struct Session {
    program: VerifiedProgram,
    machine: Machine,
    options: ExecOptions,
    last_trace: Option<Trace>,
}

impl Session {
    /// Decodes (header, bounds, checksums, structure) and verifies a blob, then allocates the machine.
    pub fn load(bytes: &[u8]) -> Result<Session, RuntimeError> {
        Self::load_with_limits(bytes, &BlobLimits::default())
    }

    /// As `load`, with explicit decode limits.
    pub fn load_with_limits(bytes: &[u8], limits: &BlobLimits) -> Result<Session, RuntimeError> {
        Self::from_program(decode(bytes, limits)?)
    }

    /// Reads a blob file and loads it.
    pub fn load_path(path: impl AsRef<Path>) -> Result<Session, RuntimeError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::Read { path: path.to_path_buf(), source })?;
        Self::load(&bytes)
    }

    /// Verifies an in-memory program (as the compiler's tests build them) and allocates the machine.
    pub fn from_program(program: Program) -> Result<Session, RuntimeError> {
        let program = verify(program)?;
        let machine = Machine::new(&program)?;
        Ok(Session { program, machine, options: ExecOptions::default(), last_trace: None })
    }

    pub fn program(&self) -> &Program {
        self.program.program()
    }

    pub fn verified(&self) -> &VerifiedProgram {
        &self.program
    }

    pub fn meta(&self) -> &Meta {
        &self.program.program().meta
    }

    /// Sets the most commands one run may execute (`None`: the program's command count).
    pub fn set_step_budget(&mut self, budget: Option<u64>) {
        self.options.step_budget = budget;
    }

    /// The per-command timeline of the last successful run.
    pub fn last_trace(&self) -> Option<&Trace> {
        self.last_trace.as_ref()
    }

    /// The simulated memories after the last run (for debugging and tests).
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// Runs the model on named inputs; every model input must be given exactly once with its exact type.
    pub fn run(&mut self, inputs: &[(String, Tensor)]) -> Result<RunOutput, RuntimeError> {
        let p = self.program.program();
        let expected = || {
            let names: Vec<String> = p.meta.inputs.iter().map(|i| format!("`{}` {}", i.name, i.ty)).collect();
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        };
        for (i, (name, _)) in inputs.iter().enumerate() {
            if inputs.iter().take(i).any(|(n, _)| n == name) {
                return Err(RuntimeError::DuplicateInput { name: name.clone() });
            }
            if !p.meta.inputs.iter().any(|io| &io.name == name) {
                return Err(RuntimeError::UnknownInput { name: name.clone(), expected: expected() });
            }
        }
        self.machine
            .load_constants(&p.constants)
            .map_err(|why| RuntimeError::Output { name: "(constants)".into(), why })?;
        for io in &p.meta.inputs {
            let Some((_, tensor)) = inputs.iter().find(|(n, _)| n == &io.name) else {
                return Err(RuntimeError::MissingInput { name: io.name.clone(), expected: expected() });
            };
            if tensor.ty() != io.ty {
                return Err(RuntimeError::InputType {
                    name: io.name.clone(),
                    expected: io.ty.clone(),
                    got: tensor.ty(),
                });
            }
            let bytes = tensor.to_le_bytes();
            let dram = self.machine.dram_mut();
            let dst = (io.dram as usize)
                .checked_add(bytes.len())
                .and_then(|end| dram.get_mut(io.dram as usize..end))
                .ok_or_else(|| RuntimeError::InputType {
                name: io.name.clone(),
                expected: io.ty.clone(),
                got: tensor.ty(),
            })?;
            dst.copy_from_slice(&bytes);
        }
        let trace = sim::run(&self.program, &mut self.machine, &self.options)?;
        let mut outputs = Vec::with_capacity(p.meta.outputs.len());
        for io in &p.meta.outputs {
            let fail = |why: String| RuntimeError::Output { name: io.name.clone(), why };
            let size = io.ty.checked_bytes().map_err(|e| fail(e.to_string()))?;
            let dram = self.machine.dram();
            let bytes = (io.dram as usize)
                .checked_add(size)
                .and_then(|end| dram.get(io.dram as usize..end))
                .ok_or_else(|| fail("outside DRAM".into()))?;
            let t = Tensor::from_le_bytes(&io.ty, bytes).map_err(|e| fail(e.to_string()))?;
            outputs.push((io.name.clone(), t));
        }
        let report = RunReport::build(p, &trace);
        self.last_trace = Some(trace);
        Ok(RunOutput { outputs, report })
    }
}
