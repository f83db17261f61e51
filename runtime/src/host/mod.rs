//! The host side of `host.call`: runs verified kernel-IR kernels (`accel_ops::kernel`) on the CPU, compiled to
//! native code with Cranelift at load time (`JitKernel`, cached per kernel in `KernelCache`) or, as a debug
//! switch, through the ops reference interpreter (`HostBackend::Interpret`). The only module of the workspace
//! that names Cranelift, and the only one with `unsafe` besides the sgemm wrapper: confined to `jit.rs`.
//! It never decides what is valid: it accepts only `VerifiedKernel`s.
use accel_ops::kernel::{self, KernelError, VerifiedKernel};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use thiserror::Error;

mod codegen;
mod jit;
mod program;

#[cfg(test)]
mod tests;

pub use codegen::CodegenStats;
pub use jit::JitKernel;
pub use program::HostKernels;

/// Why a host kernel could not be compiled or run.
#[derive(Debug, Error)]
pub enum HostError {
    #[error("host ISA: {0}")]
    Isa(String),
    #[error("code generation: {0}")]
    Codegen(String),
    #[error("host kernel {kernel}: {why}")]
    Args { kernel: String, why: String },
    #[error("host kernel {kernel}: index out of range at the bounds check of instruction {at}")]
    IndexOutOfRange { kernel: String, at: usize },
    #[error(transparent)]
    Kernel(#[from] KernelError),
}

impl HostError {
    pub(crate) fn internal(why: &str) -> HostError {
        HostError::Codegen(format!("internal: {why}"))
    }
    pub(crate) fn module(e: cranelift_module::ModuleError) -> HostError {
        HostError::Codegen(format!("{e:?}"))
    }
}

/// How host kernels run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostBackend {
    /// Native code from the JIT (the default).
    #[default]
    Jit,
    /// The ops reference interpreter: slow, for debugging and differential testing.
    Interpret,
}

impl HostBackend {
    /// The backend the environment asks for: `ACCEL_HOST=interp` (or `interpret`) selects the interpreter,
    /// `jit` or no variable the JIT; anything else is an error naming the variable.
    pub fn from_env() -> Result<HostBackend, String> {
        match std::env::var("ACCEL_HOST") {
            Err(std::env::VarError::NotPresent) => Ok(HostBackend::Jit),
            Ok(v) if v == "jit" => Ok(HostBackend::Jit),
            Ok(v) if v == "interp" || v == "interpret" => Ok(HostBackend::Interpret),
            Ok(v) => Err(format!("ACCEL_HOST={v:?}: expected `jit` or `interp`")),
            Err(e) => Err(format!("ACCEL_HOST: {e}")),
        }
    }
}

/// Runs `vk` through the ops reference interpreter, with the JIT's error for a trapped bounds check.
pub(crate) fn interpret(vk: &VerifiedKernel, buffers: &mut [&mut [u8]]) -> Result<(), HostError> {
    kernel::interpret(vk, buffers).map_err(|e| match e {
        KernelError::IndexOutOfRange { kernel, at, .. } => HostError::IndexOutOfRange { kernel, at },
        e => HostError::Kernel(e),
    })
}

/// Compiled kernels keyed by their serialized form, so a kernel used by several nodes compiles once.
#[derive(Debug, Default)]
pub struct KernelCache {
    map: Mutex<HashMap<Vec<u8>, Arc<JitKernel>>>,
    compiled: Mutex<usize>,
}

impl KernelCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The compiled form of `vk`, compiling it on first use.
    pub fn get(&self, vk: &VerifiedKernel) -> Result<Arc<JitKernel>, HostError> {
        let key = serde_json::to_vec(vk.kernel()).map_err(|e| HostError::Codegen(format!("kernel key: {e}")))?;
        if let Some(k) = self.lock_map().get(&key) {
            return Ok(Arc::clone(k));
        }
        let jit = Arc::new(JitKernel::compile(vk)?);
        *self.compiled.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        Ok(Arc::clone(self.lock_map().entry(key).or_insert(jit)))
    }

    /// How many kernels were compiled (cache misses).
    pub fn compiled(&self) -> usize {
        *self.compiled.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock_map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock_map(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Arc<JitKernel>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs host kernels with one backend, caching compiled code.
#[derive(Debug, Default)]
pub struct HostExecutor {
    backend: HostBackend,
    cache: KernelCache,
}

impl HostExecutor {
    pub fn new(backend: HostBackend) -> Self {
        HostExecutor { backend, cache: KernelCache::new() }
    }

    pub fn backend(&self) -> HostBackend {
        self.backend
    }

    pub fn cache(&self) -> &KernelCache {
        &self.cache
    }

    /// Runs `vk` on its argument buffers (inputs and outputs in declaration order).
    pub fn run(&self, vk: &VerifiedKernel, buffers: &mut [&mut [u8]]) -> Result<(), HostError> {
        match self.backend {
            HostBackend::Jit => self.cache.get(vk)?.run(buffers),
            HostBackend::Interpret => interpret(vk, buffers),
        }
    }
}
