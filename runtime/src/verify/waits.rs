//! Proves that every `sync.wait` can be satisfied: executes only the sync commands of all queues, abstractly
//! (a queue moves past a wait only once enough signals have happened), until every queue finishes or none can
//! move. The simulator's scheduler follows the same rules, so a program that passes never deadlocks there.
use super::VerifyError;
use accel_ops::command::{Command, Queue};

/// Semaphore ids are `u16`: no program can use more counters than this, whatever its metadata says.
pub(crate) const MAX_SEMAPHORES: usize = 1 << 16;

/// Runs the abstract sync machine; the error names the first blocked queue (lowest index) and its wait.
pub(super) fn check_waits(queues: &[Queue], semaphores: u32) -> Result<(), VerifyError> {
    let n_sem = (semaphores as usize).min(MAX_SEMAPHORES);
    let mut counts = vec![0u64; n_sem];
    let mut waiters: Vec<Vec<usize>> = vec![Vec::new(); n_sem];
    let mut pc = vec![0usize; queues.len()];
    // A worklist of queues that may move; a blocked queue sits in exactly one waiter list until woken.
    let mut ready: Vec<usize> = (0..queues.len()).rev().collect();
    while let Some(q) = ready.pop() {
        let (Some(queue), Some(pos)) = (queues.get(q), pc.get_mut(q)) else { continue };
        while let Some(cmd) = queue.commands.get(*pos) {
            match cmd {
                Command::Signal { sem } => {
                    if let Some(c) = counts.get_mut(*sem as usize) {
                        *c += 1;
                    }
                    if let Some(w) = waiters.get_mut(*sem as usize) {
                        ready.append(w);
                    }
                }
                Command::Wait { sem, value } => {
                    let have = counts.get(*sem as usize).copied().unwrap_or(0);
                    if have < *value as u64 {
                        if let Some(w) = waiters.get_mut(*sem as usize) {
                            w.push(q);
                        }
                        break;
                    }
                }
                _ => {}
            }
            *pos += 1;
        }
    }
    let blocked: Vec<usize> =
        (0..queues.len()).filter(|&q| pc.get(q).copied().unwrap_or(0) < queue_len(queues, q)).collect();
    let Some(&first) = blocked.first() else { return Ok(()) };
    let index = pc.get(first).copied().unwrap_or(0);
    let (queue, cmd) = match queues.get(first) {
        Some(q) => (q.id, q.commands.get(index)),
        None => return Ok(()),
    };
    let (sem, value) = match cmd {
        Some(Command::Wait { sem, value }) => (*sem, *value),
        _ => (0, 0),
    };
    Err(VerifyError::UnsatisfiableWait {
        queue,
        index,
        sem,
        value,
        reachable: counts.get(sem as usize).copied().unwrap_or(0),
        blocked: blocked.len(),
    })
}

fn queue_len(queues: &[Queue], q: usize) -> usize {
    queues.get(q).map_or(0, |q| q.commands.len())
}
