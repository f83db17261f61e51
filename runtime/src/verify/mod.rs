//! The semantic verifier: the one pass every program goes through before it may run (the interpreter only
//! accepts a `VerifiedProgram`, which only `verify` builds). It checks the target, the DRAM layout, every
//! command's unit, parameters and memory footprint, host kernels, semaphores, that every wait can be satisfied,
//! and the debug map. It never panics and never trusts a count or an offset without checked arithmetic.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod host;
mod target;
mod waits;

pub(crate) use waits::MAX_SEMAPHORES;

use accel_ops::command::{CheckError, Command, QueueId, Space, Unit};
use accel_ops::program::{IoDesc, Program};
use accel_ops::shape::Limits;
use std::collections::HashSet;
use thiserror::Error;

/// Why a program was refused. Command errors name the queue and the command's index in it.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum VerifyError {
    #[error("target field `{field}`: {why}")]
    Target { field: &'static str, why: String },
    #[error("meta: dram_bytes {dram_bytes} exceeds the target's DRAM capacity of {capacity} bytes")]
    DramCapacity { dram_bytes: u64, capacity: u64 },
    #[error("meta: {constants} bytes of constants do not fit in dram_bytes {dram_bytes}")]
    Constants { constants: u64, dram_bytes: u64 },
    #[error("{kind} `{name}`: {why}")]
    Io { kind: &'static str, name: String, why: String },
    #[error("queue {position} ({queue}): {why}")]
    Queue { position: usize, queue: QueueId, why: String },
    #[error("{queue} #{index}: {mnemonic} runs on a {needs} unit, not on this {unit} queue")]
    WrongUnit { queue: QueueId, index: usize, mnemonic: &'static str, needs: &'static str, unit: &'static str },
    // The check's error is part of the message, not a `source`: printed as a chain it would appear twice.
    #[error("{queue} #{index}: {error}")]
    BadCommand { queue: QueueId, index: usize, error: CheckError },
    #[error("{queue} #{index}: {mnemonic} touches SRAM bytes {start}..{end}, outside the tile's {size} bytes")]
    SramOutOfBounds { queue: QueueId, index: usize, mnemonic: &'static str, start: u64, end: u64, size: u64 },
    #[error("{queue} #{index}: {mnemonic} touches DRAM bytes {start}..{end}, outside the program's {size} bytes")]
    DramOutOfBounds { queue: QueueId, index: usize, mnemonic: &'static str, start: u64, end: u64, size: u64 },
    #[error("{queue} #{index}: host.call kernel {kernel} does not exist (the blob has {count} kernels)")]
    BadKernelIndex { queue: QueueId, index: usize, kernel: u32, count: usize },
    #[error("host kernel {kernel} ({op}): {why}")]
    Kernel { kernel: usize, op: String, why: String },
    #[error("{queue} #{index}: semaphore {sem} is out of range (the program declares {semaphores})")]
    SemaphoreOutOfRange { queue: QueueId, index: usize, sem: u16, semaphores: u32 },
    #[error(
        "{queue} #{index}: sync.wait sem {sem} value {value} can never be satisfied \
         (only {reachable} signals are reachable; {blocked} queues blocked)"
    )]
    UnsatisfiableWait { queue: QueueId, index: usize, sem: u16, value: u32, reachable: u64, blocked: usize },
    #[error("debug info: {0}")]
    Debug(String),
}

/// A program that passed `verify`. The field is private: holding one is the proof.
#[derive(Debug, Clone)]
pub struct VerifiedProgram {
    program: Program,
    /// Per host kernel: its verified kernel IR (`None`: operator form).
    host: Vec<host::VerifiedHost>,
}

impl VerifiedProgram {
    pub fn program(&self) -> &Program {
        &self.program
    }
    pub fn into_program(self) -> Program {
        self.program
    }
    /// The host kernels in kernel-IR form, verified (`None` for an operator-form kernel), in kernel order.
    pub fn host_kernels(&self) -> &[host::VerifiedHost] {
        &self.host
    }
}

/// Verifies a program; the only way to obtain a `VerifiedProgram`.
pub fn verify(program: Program) -> Result<VerifiedProgram, VerifyError> {
    let host = check_all(&program)?;
    Ok(VerifiedProgram { program, host })
}

/// Runs every check without taking the program (for `accelrt info` and tests).
pub fn check(p: &Program) -> Result<(), VerifyError> {
    check_all(p).map(|_| ())
}

/// Every check, in order; returns the verified host kernels.
fn check_all(p: &Program) -> Result<Vec<host::VerifiedHost>, VerifyError> {
    let meta = &p.meta;
    target::check_target(&meta.target)?;
    if meta.dram_bytes > meta.target.dram.capacity_bytes {
        return Err(VerifyError::DramCapacity {
            dram_bytes: meta.dram_bytes,
            capacity: meta.target.dram.capacity_bytes,
        });
    }
    let constants = p.constants.len() as u64;
    if constants > meta.dram_bytes {
        return Err(VerifyError::Constants { constants, dram_bytes: meta.dram_bytes });
    }
    check_io("input", &meta.inputs, meta.dram_bytes)?;
    check_io("output", &meta.outputs, meta.dram_bytes)?;
    let host = host::check_kernels(p)?;
    check_queues(p)?;
    waits::check_waits(&p.queues, meta.semaphores)?;
    check_debug(p)?;
    Ok(host)
}

/// `[dram, dram + bytes(ty))` inside DRAM, with the byte size from checked arithmetic; returns the size.
fn dram_tensor_bytes(dram: u64, ty: &accel_ops::TensorType, dram_bytes: u64) -> Result<u64, String> {
    ty.shape.check(&Limits::default()).map_err(|e| e.to_string())?;
    let bytes = ty.checked_bytes().map_err(|e| e.to_string())? as u64;
    match dram.checked_add(bytes) {
        Some(end) if end <= dram_bytes => Ok(bytes),
        _ => Err(format!("{ty} at d:{dram:#x} ({bytes} bytes) lies outside DRAM of {dram_bytes} bytes")),
    }
}

fn check_io(kind: &'static str, ios: &[IoDesc], dram_bytes: u64) -> Result<(), VerifyError> {
    let mut names = HashSet::new();
    for io in ios {
        let err = |why: String| VerifyError::Io { kind, name: io.name.clone(), why };
        if io.name.is_empty() {
            return Err(err("empty name".into()));
        }
        if !names.insert(io.name.as_str()) {
            return Err(err(format!("duplicate {kind} name")));
        }
        dram_tensor_bytes(io.dram, &io.ty, dram_bytes).map_err(err)?;
    }
    Ok(())
}

fn check_queues(p: &Program) -> Result<(), VerifyError> {
    let target = &p.meta.target;
    let mut seen = HashSet::new();
    for (position, q) in p.queues.iter().enumerate() {
        let bad = |why: String| VerifyError::Queue { position, queue: q.id, why };
        if q.id.unit == Unit::Host {
            if q.id.tile != 0 {
                return Err(bad(format!("the host queue must be on tile 0, not tile {}", q.id.tile)));
            }
        } else if q.id.tile as u32 >= target.tiles {
            return Err(bad(format!("tile {} does not exist (the target has {} tiles)", q.id.tile, target.tiles)));
        }
        if !seen.insert(q.id) {
            return Err(bad("a second queue for the same unit".into()));
        }
        for (index, cmd) in q.commands.iter().enumerate() {
            check_command(p, q.id, index, cmd)?;
        }
    }
    Ok(())
}

fn check_command(p: &Program, queue: QueueId, index: usize, cmd: &Command) -> Result<(), VerifyError> {
    let meta = &p.meta;
    let mnemonic = cmd.mnemonic();
    if let Some(needs) = cmd.unit() {
        if needs != queue.unit {
            return Err(VerifyError::WrongUnit {
                queue,
                index,
                mnemonic,
                needs: needs.name(),
                unit: queue.unit.name(),
            });
        }
    }
    let bad = |why: String| VerifyError::BadCommand { queue, index, error: CheckError { mnemonic, why } };
    let footprint = cmd.footprint().map_err(|error| VerifyError::BadCommand { queue, index, error })?;
    match cmd {
        // Policy: a DMA never moves more bytes than its destination holds, so one command's work is bounded.
        Command::Load { copy, .. } => {
            let bytes = copy.bytes().unwrap_or(u64::MAX);
            if bytes > meta.target.tile.sram_bytes {
                return Err(bad(format!("moves {bytes} bytes, more than the tile's SRAM holds")));
            }
        }
        Command::Multicast { copy, tiles, .. } => {
            let bytes = copy.bytes().unwrap_or(u64::MAX);
            if bytes > meta.target.tile.sram_bytes {
                return Err(bad(format!("moves {bytes} bytes, more than the tile's SRAM holds")));
            }
            let count = meta.target.tiles;
            if count < 32 && *tiles >> count != 0 {
                return Err(bad(format!("tile mask {tiles:#b} names a tile the target's {count} tiles lack")));
            }
        }
        Command::Store { copy, .. } => {
            let bytes = copy.bytes().unwrap_or(u64::MAX);
            if bytes > meta.dram_bytes {
                return Err(bad(format!("moves {bytes} bytes, more than the program's DRAM holds")));
            }
        }
        Command::HostCall { kernel } => {
            if *kernel as usize >= p.kernels.len() {
                return Err(VerifyError::BadKernelIndex { queue, index, kernel: *kernel, count: p.kernels.len() });
            }
        }
        Command::Signal { sem } | Command::Wait { sem, .. } => {
            if *sem as u32 >= meta.semaphores {
                return Err(VerifyError::SemaphoreOutOfRange { queue, index, sem: *sem, semaphores: meta.semaphores });
            }
        }
        // The footprint checked the compute dtype (f32, bf16 or i8, what the simulator computes) and its
        // pairing with a quant operand (exactly for i8).
        Command::Conv { .. }
        | Command::MatMul { .. }
        | Command::Unary { .. }
        | Command::Binary { .. }
        | Command::Pool { .. }
        | Command::PoolI8 { .. }
        | Command::Affine { .. }
        | Command::Convert { .. } => {}
    }
    for a in footprint {
        let (start, end) = (a.start, a.end());
        match a.space {
            Space::Sram => {
                let size = meta.target.tile.sram_bytes;
                if end > size {
                    return Err(VerifyError::SramOutOfBounds { queue, index, mnemonic, start, end, size });
                }
            }
            Space::Dram => {
                let size = meta.dram_bytes;
                if end > size {
                    return Err(VerifyError::DramOutOfBounds { queue, index, mnemonic, start, end, size });
                }
            }
        }
    }
    Ok(())
}

fn check_debug(p: &Program) -> Result<(), VerifyError> {
    let d = &p.debug;
    if !d.layer_macs.is_empty() && d.layer_macs.len() != d.layers.len() {
        return Err(VerifyError::Debug(format!(
            "layer_macs has {} entries for {} layers",
            d.layer_macs.len(),
            d.layers.len()
        )));
    }
    if d.command_layer.is_empty() {
        return Ok(());
    }
    if d.command_layer.len() != p.queues.len() {
        return Err(VerifyError::Debug(format!(
            "command_layer has {} queues, the program {}",
            d.command_layer.len(),
            p.queues.len()
        )));
    }
    for (q, (layers, queue)) in d.command_layer.iter().zip(&p.queues).enumerate() {
        if layers.len() != queue.commands.len() {
            return Err(VerifyError::Debug(format!(
                "queue {q} ({}): {} layer entries for {} commands",
                queue.id,
                layers.len(),
                queue.commands.len()
            )));
        }
        if let Some((i, l)) = layers.iter().enumerate().find(|(_, &l)| l as usize >= d.layers.len()) {
            return Err(VerifyError::Debug(format!(
                "queue {q} ({}) #{i}: layer {l} does not exist ({} layers)",
                queue.id,
                d.layers.len()
            )));
        }
    }
    Ok(())
}
