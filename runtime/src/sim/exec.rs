//! The deterministic event-driven scheduler: each queue has a clock; among queues whose next command can run, the
//! one that can start earliest goes next (ties: lowest queue index), its data effect is applied and its end time
//! recorded. DMA commands share one DRAM channel; waits complete one cycle after the signal they need; host
//! calls take an estimated (not measured) number of cycles, so cycle counts never depend on the host machine.
use super::functional::{execute, host_call, host_estimate_cycles};
use super::memory::Machine;
use crate::error::ExecError;
use crate::verify::{VerifiedProgram, MAX_SEMAPHORES};
use accel_ops::command::{Command, QueueId};
use accel_ops::cost::command_cost;

/// Knobs of one execution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// Most commands to execute before giving up; `None`: the program's command count.
    pub step_budget: Option<u64>,
}

/// What happened to one command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommandRecord {
    /// Index of the queue in the program, and of the command in the queue.
    pub queue: u32,
    pub index: u32,
    pub start: u64,
    pub end: u64,
    /// Cycles the command waited for the DRAM channel (DMA only).
    pub channel_stall: u64,
    /// Cycles the queue sat blocked before this command could start (waits only).
    pub sync_wait: u64,
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
}

impl Trace {
    /// The cycle at which the last queue finished.
    pub fn latency_cycles(&self) -> u64 {
        self.queue_end.iter().copied().max().unwrap_or(0)
    }
}

/// Runs a verified program on `machine` (whose DRAM already holds constants and inputs).
pub fn run(program: &VerifiedProgram, machine: &mut Machine, opts: &ExecOptions) -> Result<Trace, ExecError> {
    let p = program.program();
    let target = &p.meta.target;
    let queues = &p.queues;
    let total: u64 = queues.iter().map(|q| q.commands.len() as u64).sum();
    let budget = opts.step_budget.unwrap_or(total);
    let mut pc = vec![0usize; queues.len()];
    let mut clock = vec![0u64; queues.len()];
    // The completion time of every signal, per semaphore, in order: the value-th signal is at [value - 1].
    // Commands are processed in non-decreasing start time, so these lists are sorted.
    let mut signals: Vec<Vec<u64>> = vec![Vec::new(); (p.meta.semaphores as usize).min(MAX_SEMAPHORES)];
    let mut channel_free = 0u64;
    // Grows as needed beyond this: a hostile command count must not reserve memory up front.
    let mut records = Vec::with_capacity(usize::try_from(total.min(budget).min(1 << 20)).unwrap_or(0));
    let mut steps = 0u64;
    loop {
        // Pick the queue whose next command can start earliest.
        let mut best: Option<(u64, usize)> = None;
        for (q, queue) in queues.iter().enumerate() {
            let (Some(&at), Some(&now)) = (pc.get(q), clock.get(q)) else { continue };
            let Some(cmd) = queue.commands.get(at) else { continue };
            let start = match cmd {
                Command::Wait { sem, value } => {
                    if *value == 0 {
                        now
                    } else {
                        let list = signals.get(*sem as usize).map_or(&[][..], |v| v.as_slice());
                        match list.get(*value as usize - 1) {
                            Some(&t) => now.max(t),
                            None => continue,
                        }
                    }
                }
                Command::Load { .. } | Command::Store { .. } => now.max(channel_free),
                _ => now,
            };
            if best.is_none_or(|(s, _)| start < s) {
                best = Some((start, q));
            }
        }
        let Some((start, q)) = best else { break };
        if steps >= budget {
            return Err(ExecError::StepBudget { budget, cycle: start });
        }
        steps += 1;
        let (Some(queue), Some(at)) = (queues.get(q), pc.get(q).copied()) else { break };
        let Some(cmd) = queue.commands.get(at) else { break };
        let now = clock.get(q).copied().unwrap_or(0);
        let cost = command_cost(cmd, target);
        let mut rec = CommandRecord {
            queue: q as u32,
            index: at as u32,
            start,
            end: start.saturating_add(cost.cycles),
            channel_stall: 0,
            sync_wait: 0,
            host_cycles: 0,
            host_wall_ns: 0,
        };
        let fail = |why: String| ExecError::Command { queue: queue.id, index: at, mnemonic: cmd.mnemonic(), why };
        match cmd {
            Command::Load { .. } | Command::Store { .. } => {
                rec.channel_stall = start - now;
                channel_free = rec.end;
                execute(machine, queue.id.tile as usize, cmd).map_err(fail)?;
            }
            Command::Wait { .. } => rec.sync_wait = start - now,
            Command::Signal { sem } => {
                if let Some(list) = signals.get_mut(*sem as usize) {
                    list.push(rec.end);
                }
            }
            Command::HostCall { kernel } => {
                let k = p.kernels.get(*kernel as usize).ok_or_else(|| fail("no such kernel".into()))?;
                rec.host_cycles = host_estimate_cycles(k, target);
                rec.end = rec.end.saturating_add(rec.host_cycles);
                let wall = host_call(machine, p, *kernel).map_err(|why| ExecError::HostKernel {
                    queue: queue.id,
                    index: at,
                    kernel: *kernel,
                    op: k.op.kind(),
                    why,
                })?;
                rec.host_wall_ns = u64::try_from(wall.as_nanos()).unwrap_or(u64::MAX);
            }
            _ => execute(machine, queue.id.tile as usize, cmd).map_err(fail)?,
        }
        if let (Some(c), Some(pos)) = (clock.get_mut(q), pc.get_mut(q)) {
            *c = rec.end;
            *pos += 1;
        }
        records.push(rec);
    }
    let blocked: Vec<(QueueId, usize)> = queues
        .iter()
        .zip(&pc)
        .filter(|(queue, &at)| at < queue.commands.len())
        .map(|(queue, &at)| (queue.id, at))
        .collect();
    if !blocked.is_empty() {
        return Err(ExecError::Deadlock { blocked });
    }
    Ok(Trace { records, queue_end: clock })
}
