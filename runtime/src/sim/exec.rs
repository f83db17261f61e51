//! The deterministic event-driven scheduler: each queue has a clock; among queues whose next command can run, the
//! one that can start earliest goes next (ties: lowest queue index), its data effect is applied and its end time
//! recorded. Each command costs `accel_ops::cost` (the compiler's cost function) plus its stalls: DMAs share the
//! DRAM channel and the interconnect links (`timing`), waits complete one cycle after the signal they need; host
//! calls take an estimated (not measured) number of cycles, so cycle counts never depend on the host machine.
use super::functional::Functional;
use super::host_call::host_call;
use super::memory::Machine;
use super::timing::{ResourceUse, Timing};
use crate::error::ExecError;
use crate::host::HostKernels;
use crate::verify::VerifiedProgram;
use accel_ops::command::{Command, QueueId};
use accel_ops::cost::{host_estimate_cycles, ProgramCosts};
use accel_ops::report::Stalls;
use std::sync::atomic::{AtomicU64, Ordering};

/// Knobs of one execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecOptions {
    /// Most commands to execute before giving up; `None`: the program's command count.
    pub step_budget: Option<u64>,
    /// Compute the data (the default). `false`: timing only — the same cycles, traffic and energy from the
    /// commands' metadata, with memories untouched and host kernels not run (their wall time reads 0).
    pub functional: bool,
    /// Counts executed commands while the run goes, for a progress bar on another thread.
    pub progress: Option<Progress>,
}

/// A counter of executed commands that another thread can read during a run (a `'static` atomic, so that
/// `ExecOptions` stays `Copy`).
#[derive(Debug, Clone, Copy)]
pub struct Progress(pub &'static AtomicU64);

impl PartialEq for Progress {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Progress {}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions { step_budget: None, functional: true, progress: None }
    }
}

/// What happened to one command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommandRecord {
    /// Index of the queue in the program, and of the command in the queue.
    pub queue: u32,
    pub index: u32,
    /// When the command reached the head of its queue (the queue's clock) and when it finished:
    /// `end - start` is its own cost (`accel_ops::cost`) plus `stalls.total()`.
    pub start: u64,
    pub end: u64,
    /// Cycles the command was blocked, by cause: a DMA on the DRAM channel and the links, a wait on its signal.
    pub stalls: Stalls,
    /// Simulated host cycles (host calls only; included in `end - start`).
    pub host_cycles: u64,
    /// Measured wall time of the host kernel in nanoseconds (host calls only; not in the cycle count).
    pub host_wall_ns: u64,
}

/// The timeline of one run: a record per command in execution order, and when each queue finished.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub records: Vec<CommandRecord>,
    pub queue_end: Vec<u64>,
    /// Every hold of the DRAM channel and of an interconnect link by a DMA.
    pub resources: Vec<ResourceUse>,
}

impl Trace {
    /// The cycle at which the last queue finished.
    pub fn latency_cycles(&self) -> u64 {
        self.queue_end.iter().copied().max().unwrap_or(0)
    }
}

/// Runs a verified program on `machine` (whose DRAM already holds constants and inputs), calling host kernels
/// prepared from the same program in `host`. Afterwards, also after a failure, the memories are those of a
/// model that copies every load (pending lazy loads are settled).
pub fn run(
    program: &VerifiedProgram,
    machine: &mut Machine,
    host: &HostKernels,
    opts: &ExecOptions,
) -> Result<Trace, ExecError> {
    if opts.functional {
        // The kernels' parallel loops use rayon's global pool. Called from a thread outside it, each loop would
        // hand its work to a pool thread and put this one to sleep: two context switches per command, a tenth
        // of a run of small commands on one thread. `rayon::scope` runs the whole run on a pool thread
        // instead (directly, when already on one), where the loops run inline or split as usual.
        rayon::scope(|_| run_here(program, machine, host, opts))
    } else {
        run_here(program, machine, host, opts)
    }
}

/// `run` on the calling thread.
fn run_here(
    program: &VerifiedProgram,
    machine: &mut Machine,
    host: &HostKernels,
    opts: &ExecOptions,
) -> Result<Trace, ExecError> {
    machine.work.begin_run();
    let result = schedule(program, machine, host, opts);
    let Machine { dram, sram, work } = machine;
    let settled = work.settle(dram, sram).map_err(|(tile, why)| ExecError::Settle { tile, why });
    let trace = result?;
    settled?;
    Ok(trace)
}

/// `run` without the settling.
fn schedule(
    program: &VerifiedProgram,
    machine: &mut Machine,
    host: &HostKernels,
    opts: &ExecOptions,
) -> Result<Trace, ExecError> {
    let p = program.program();
    let target = &p.meta.target;
    let costs = ProgramCosts::new(p);
    let queues = &p.queues;
    let total: u64 = queues.iter().map(|q| q.commands.len() as u64).sum();
    let budget = opts.step_budget.unwrap_or(total);
    let mut pc = vec![0usize; queues.len()];
    let mut clock = vec![0u64; queues.len()];
    let mut timing = Timing::new(p);
    // Grows as needed beyond this: a hostile command count must not reserve memory up front.
    let mut records = Vec::with_capacity(usize::try_from(total.min(budget).min(1 << 20)).unwrap_or(0));
    let mut steps = 0u64;
    let mut fx = Functional::new(machine, opts.functional);
    loop {
        // Pick the queue whose next command can start earliest.
        let mut best: Option<(u64, usize)> = None;
        for (q, queue) in queues.iter().enumerate() {
            let (Some(&at), Some(&now)) = (pc.get(q), clock.get(q)) else { continue };
            let Some(cmd) = queue.commands.get(at) else { continue };
            let Some(start) = timing.ready(cmd, now) else { continue };
            if best.is_none_or(|(s, _)| start < s) {
                best = Some((start, q));
            }
        }
        let Some((start, q)) = best else { break };
        if steps >= budget {
            return Err(ExecError::StepBudget { budget, cycle: start });
        }
        steps += 1;
        if let Some(Progress(counter)) = opts.progress {
            if steps % 1024 == 0 {
                counter.store(steps, Ordering::Relaxed);
            }
        }
        let (Some(queue), Some(at)) = (queues.get(q), pc.get(q).copied()) else { break };
        let Some(cmd) = queue.commands.get(at) else { break };
        let now = clock.get(q).copied().unwrap_or(0);
        let cost = costs.of(queue.id.tile, cmd);
        let charged = timing.charge(q, cmd, now, &cost, records.len() as u32);
        let mut rec = CommandRecord {
            queue: q as u32,
            index: at as u32,
            start: now,
            end: charged.end,
            stalls: charged.stalls,
            host_cycles: 0,
            host_wall_ns: 0,
        };
        let fail = |why: String| ExecError::Command { queue: queue.id, index: at, mnemonic: cmd.mnemonic(), why };
        match cmd {
            Command::Load { .. } | Command::Store { .. } => fx.submit(machine, queue.id, at, cmd)?,
            Command::Wait { .. } | Command::Signal { .. } => {}
            Command::HostCall { kernel } => {
                let k = p.kernels.get(*kernel as usize).ok_or_else(|| fail("no such kernel".into()))?;
                // Already in `rec.end` through the cost.
                rec.host_cycles = host_estimate_cycles(k, target);
                if opts.functional {
                    fx.drain(machine)?;
                    let wall = host_call(machine, p, host, *kernel).map_err(|why| ExecError::HostKernel {
                        queue: queue.id,
                        index: at,
                        kernel: *kernel,
                        op: k.what().to_string(),
                        why,
                    })?;
                    rec.host_wall_ns = u64::try_from(wall.as_nanos()).unwrap_or(u64::MAX);
                }
            }
            _ => fx.submit(machine, queue.id, at, cmd)?,
        }
        if let (Some(c), Some(pos)) = (clock.get_mut(q), pc.get_mut(q)) {
            *c = rec.end;
            *pos += 1;
        }
        records.push(rec);
    }
    fx.drain(machine)?;
    let blocked: Vec<(QueueId, usize)> = queues
        .iter()
        .zip(&pc)
        .filter(|(queue, &at)| at < queue.commands.len())
        .map(|(queue, &at)| (queue.id, at))
        .collect();
    if !blocked.is_empty() {
        return Err(ExecError::Deadlock { blocked });
    }
    if let Some(Progress(counter)) = opts.progress {
        counter.store(steps, Ordering::Relaxed);
    }
    Ok(Trace { records, queue_end: clock, resources: timing.into_uses() })
}
