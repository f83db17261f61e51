//! A loaded model: decode and verify once, allocate the simulated memories once, then run many times with
//! checked inputs, re-verifying and re-allocating nothing. The constants reach DRAM on the first functional run
//! and are copied again only if the program can overwrite them (a store, a host kernel or an input reaching into
//! their range; decided once at load). Each run writes the inputs, executes and reads the outputs back.
//! `run_timing_only` skips all of that data work: it reports the same cycles from the commands alone.
//! Host kernels are verified with the program and compiled to native code once, at load (`HostKernels`).
use crate::error::RuntimeError;
use crate::host::{HostBackend, HostKernels};
use crate::report::RunReport;
use crate::sim::{self, ExecOptions, Machine, Trace};
use crate::verify::{verify, VerifiedProgram};
use accel_ops::blob::{decode, BlobLimits};
use accel_ops::command::{Command, Space};
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
    host: HostKernels,
    options: ExecOptions,
    last_trace: Option<Trace>,
    /// Whether DRAM holds the constants now.
    constants_loaded: bool,
    /// Whether a run can overwrite the constants in DRAM (then every functional run copies them again).
    constants_clobbered: bool,
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
        let bytes = std::fs::read(path).map_err(|error| RuntimeError::Read { path: path.to_path_buf(), error })?;
        Self::load(&bytes)
    }

    /// As `load_with_limits`, running host kernels with `backend` (the other loads take it from
    /// `HostBackend::from_env`: the JIT unless `ACCEL_HOST=interp`).
    pub fn load_with_backend(bytes: &[u8], limits: &BlobLimits, backend: HostBackend) -> Result<Session, RuntimeError> {
        Self::from_program_with_backend(decode(bytes, limits)?, backend)
    }

    /// Verifies an in-memory program (as the compiler's tests build them), compiles its host kernels and
    /// allocates the machine.
    pub fn from_program(program: Program) -> Result<Session, RuntimeError> {
        let backend = HostBackend::from_env().map_err(RuntimeError::HostBackend)?;
        Self::from_program_with_backend(program, backend)
    }

    /// As `from_program`, running host kernels with `backend`.
    pub fn from_program_with_backend(program: Program, backend: HostBackend) -> Result<Session, RuntimeError> {
        let program = verify(program)?;
        let host = HostKernels::new(program.host_kernels().to_vec(), backend)?;
        let machine = Machine::new(&program)?;
        let constants_clobbered = may_overwrite_constants(program.program());
        Ok(Session {
            program,
            machine,
            host,
            options: ExecOptions::default(),
            last_trace: None,
            constants_loaded: false,
            constants_clobbered,
        })
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

    /// Counts executed commands into `progress` during runs (for a progress bar on another thread).
    pub fn set_progress(&mut self, progress: Option<sim::Progress>) {
        self.options.progress = progress;
    }

    /// With several rayon threads, whether the tiles' command streams run in parallel batches (the default) or
    /// one command at a time with only the kernels parallel inside. The results are the same.
    pub fn set_parallel_tiles(&mut self, on: bool) {
        self.machine.work.serial_tiles = !on;
    }

    /// Switches how host kernels run (compiling them now for `HostBackend::Jit`); results are identical.
    pub fn set_host_backend(&mut self, backend: HostBackend) -> Result<(), RuntimeError> {
        if backend != self.host.backend() {
            self.host = HostKernels::new(self.program.host_kernels().to_vec(), backend)?;
        }
        Ok(())
    }

    /// The host kernels as prepared for this session (backend, how many were compiled).
    pub fn host_kernels(&self) -> &HostKernels {
        &self.host
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
        if !self.constants_loaded || self.constants_clobbered {
            // Marked first: a failure half way leaves DRAM unknown, and the next run copies again.
            self.constants_loaded = false;
            self.machine
                .load_constants(&p.constants)
                .map_err(|why| RuntimeError::Output { name: "(constants)".into(), why })?;
            self.constants_loaded = true;
        }
        // Loads of constants may be skipped when SRAM still holds them, or left pending (`sim::lazy`), only if
        // nothing can change them.
        self.machine.work.immutable_end = if self.constants_clobbered { 0 } else { p.constants.len() as u64 };
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
        let opts = ExecOptions { functional: true, ..self.options };
        let trace = sim::run(&self.program, &mut self.machine, &self.host, &opts)?;
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

    /// Runs the timing model only: the same cycles, DRAM traffic and energy as `run` (they never depend on the
    /// data), without inputs, constants, kernels or host calls; memories are left as they were.
    pub fn run_timing_only(&mut self) -> Result<RunReport, RuntimeError> {
        let opts = ExecOptions { functional: false, ..self.options };
        let trace = sim::run(&self.program, &mut self.machine, &self.host, &opts)?;
        let report = RunReport::build(self.program.program(), &trace);
        self.last_trace = Some(trace);
        Ok(report)
    }
}

/// Whether anything a run writes to DRAM can land in the constants' range `[0, constants.len())`.
fn may_overwrite_constants(p: &Program) -> bool {
    let end = p.constants.len() as u64;
    if end == 0 {
        return false;
    }
    let inputs = p.meta.inputs.iter().map(|io| (io.dram, io.ty.checked_bytes().map_or(u64::MAX, |b| b as u64)));
    let kernels = p.kernels.iter().map(|k| (k.output.dram, k.output.ty.checked_bytes().map_or(u64::MAX, |b| b as u64)));
    if inputs.chain(kernels).any(|(at, len)| len > 0 && at < end) {
        return true;
    }
    p.queues.iter().flat_map(|q| &q.commands).any(|c| {
        matches!(c, Command::Store { .. })
            && c.footprint()
                .map_or(true, |fp| fp.iter().any(|a| a.space == Space::Dram && a.write && a.len > 0 && a.start < end))
    })
}
