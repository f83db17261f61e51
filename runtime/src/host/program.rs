//! The host kernels of one loaded program: with the JIT backend every kernel-IR kernel is compiled once, when
//! the session loads (through a `KernelCache`, so identical kernels share their code), and runs never compile
//! again; with `HostBackend::Interpret` nothing is compiled and calls go to the ops reference interpreter.
//! Operator-form kernels (`HostBody::OpFallback`) are not handled here: the simulator evaluates them.
use super::{interpret, HostBackend, HostError, JitKernel, KernelCache};
use accel_ops::kernel::VerifiedKernel;
use std::sync::Arc;

/// Per kernel of a program: its verified IR (`None` for an operator-form kernel) and native code.
#[derive(Debug)]
pub struct HostKernels {
    backend: HostBackend,
    verified: Vec<Option<VerifiedKernel>>,
    compiled: Vec<Option<Arc<JitKernel>>>,
    cache: KernelCache,
}

impl HostKernels {
    /// Prepares `verified` (a verified program's host kernels, in order) for `backend`: compiles each kernel
    /// with the JIT backend.
    pub fn new(verified: Vec<Option<VerifiedKernel>>, backend: HostBackend) -> Result<HostKernels, HostError> {
        let cache = KernelCache::new();
        let compiled = match backend {
            HostBackend::Jit => verified.iter().map(|vk| vk.as_ref().map(|vk| cache.get(vk)).transpose()).collect(),
            HostBackend::Interpret => Ok(verified.iter().map(|_| None).collect()),
        }?;
        Ok(HostKernels { backend, verified, compiled, cache })
    }

    pub fn backend(&self) -> HostBackend {
        self.backend
    }

    /// Kernels compiled to native code (distinct kernels: identical ones share code).
    pub fn compiled(&self) -> usize {
        self.cache.compiled()
    }

    /// Whether kernel `index` is in kernel-IR form (`false`: operator form, or no such kernel).
    pub fn is_kernel(&self, index: usize) -> bool {
        matches!(self.verified.get(index), Some(Some(_)))
    }

    /// Runs kernel-IR kernel `index` on its argument buffers (inputs, then the output).
    pub fn run(&self, index: usize, args: &mut [&mut [u8]]) -> Result<(), HostError> {
        let missing = || HostError::internal("no kernel-IR host kernel with this index");
        let vk = self.verified.get(index).and_then(Option::as_ref).ok_or_else(missing)?;
        match self.backend {
            HostBackend::Jit => self.compiled.get(index).and_then(Option::as_ref).ok_or_else(missing)?.run(args),
            HostBackend::Interpret => interpret(vk, args),
        }
    }
}
