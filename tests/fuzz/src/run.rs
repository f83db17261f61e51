//! Runs a loaded session under caps that keep one fuzz iteration short, and checks the run's outcome against
//! the oracle: a verified program may run out of its step budget or hit a data-dependent host-kernel error,
//! but the simulator must never find an out-of-bounds access or a deadlock the verifier let through.
use accel_ops::command::Command;
use accel_ops::cost::command_cost;
use accel_ops::program::Program;
use accel_ops::Tensor;
use accel_runtime::random::random_inputs;
use accel_runtime::{ExecError, RuntimeError, Session};

/// Most commands one run may execute (the session's step budget).
pub const MAX_STEPS: u64 = 20_000;
/// Most estimated elementary operations (MACs, vector ops, bytes moved, host work) a run may take; larger
/// programs are loaded and verified but not run, so that one iteration stays in the millisecond range.
pub const MAX_WORK: u64 = 50_000_000;

/// An upper estimate of the work a run of `p` takes (saturating: hostile sizes give `u64::MAX`).
pub fn work_estimate(p: &Program) -> u64 {
    let target = &p.meta.target;
    let mut work = 0u64;
    for q in &p.queues {
        for cmd in &q.commands {
            let w = match cmd {
                Command::HostCall { kernel } => p.kernels.get(*kernel as usize).map_or(0, |k| {
                    let numel = |t: &accel_ops::TensorType| t.shape.checked_numel().unwrap_or(usize::MAX) as u64;
                    let inputs = k.inputs.iter().fold(0u64, |a, t| a.saturating_add(numel(&t.ty)));
                    numel(&k.output.ty).saturating_mul(inputs.max(1))
                }),
                _ => {
                    let c = command_cost(cmd, target);
                    c.macs
                        .saturating_add(c.vector_ops)
                        .saturating_add(c.sram_bytes)
                        .saturating_add(c.dram_read)
                        .saturating_add(c.dram_written)
                }
            };
            work = work.saturating_add(w).saturating_add(1);
        }
    }
    work
}

/// With `ACCEL_FUZZ_TALLY=1` in the environment, prints one line per input saying how far it got (for
/// replaying a corpus with `-runs=0` and counting how many inputs load, verify and run).
pub fn tally(stage: &str) {
    if std::env::var_os("ACCEL_FUZZ_TALLY").is_some() {
        eprintln!("tally: {stage}");
    }
}

/// How a run ended, for the targets' statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Too much work for one fuzz iteration: not run.
    Skipped,
    Ran,
    StepBudget,
    HostKernelError,
}

/// Runs `session` once on inputs that are all zero (`seed` 0) or pseudo-random, and applies the oracle.
pub fn run_checked(session: &mut Session, seed: u64) -> Outcome {
    if work_estimate(session.program()) > MAX_WORK {
        return Outcome::Skipped;
    }
    let meta = session.meta();
    let inputs: Vec<(String, Tensor)> = if seed == 0 {
        let zeros = meta.inputs.iter().map(|io| Tensor::zeros(&io.ty).map(|t| (io.name.clone(), t)));
        match zeros.collect() {
            Ok(v) => v,
            Err(e) => panic!("verified input types must be constructible: {e}"),
        }
    } else {
        match random_inputs(&meta.inputs, seed) {
            Ok(v) => v,
            Err(e) => panic!("verified input types must be constructible: {e}"),
        }
    };
    session.set_step_budget(Some(MAX_STEPS));
    match session.run(&inputs) {
        Ok(_) => Outcome::Ran,
        Err(RuntimeError::Exec(ExecError::StepBudget { .. })) => Outcome::StepBudget,
        Err(RuntimeError::Exec(ExecError::HostKernel { .. })) => Outcome::HostKernelError,
        Err(e) => panic!("the verifier accepted a program whose run failed: {e}"),
    }
}

/// The bytes -> load -> run path of `blob_load_run`: any load error is fine, a loaded program must run clean.
pub fn load_and_run(blob: &[u8], seed: u64) -> Option<Outcome> {
    let limits = accel_ops::blob::BlobLimits { max_blob_bytes: 16 << 20 };
    let mut session = match Session::load_with_limits(blob, &limits) {
        Ok(s) => s,
        Err(e) => {
            tally(match e {
                RuntimeError::Blob(accel_ops::blob::BlobError::Checksum { .. }) => "refused: checksum",
                RuntimeError::Blob(accel_ops::blob::BlobError::Decode { .. }) => "refused: decode",
                RuntimeError::Blob(_) => "refused: container",
                RuntimeError::Verify(_) => "refused: verifier",
                _ => "refused: other",
            });
            return None;
        }
    };
    let outcome = run_checked(&mut session, seed);
    tally(&format!("loaded: {outcome:?}"));
    Some(outcome)
}
