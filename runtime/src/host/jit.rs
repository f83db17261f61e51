//! `JitKernel`: a verified kernel compiled to native code, owning its code memory, and the only file of the
//! host module with `unsafe` (turning the finalized code pointer into a function, calling it, freeing it).
//! Memory safety rests on the verifier's proof that every access is in bounds and on `run` checking every
//! buffer's length against the kernel's declaration before the call (BAD-INPUT class 19).
#![allow(unsafe_code)]

use super::codegen;
use super::HostError;
use accel_ops::kernel::{BufKind, VerifiedKernel};
use cranelift_codegen::ir::UserFuncName;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::FunctionBuilderContext;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};
use std::sync::{Mutex, OnceLock};

/// The native entry point: a table of buffer pointers in, status out.
type Entry = unsafe extern "C" fn(*const *mut u8) -> u32;

/// The host ISA with the flags the JIT needs, built once per optimization level. `source_order` turns
/// Cranelift's mid-end optimizer off: its e-graph elaboration places every pure instruction right before its
/// first use, which undoes the interleaving of independent `exp` chains the code generator emits (see
/// `codegen::keeps_order`), and that interleaving is worth more than the optimizer for those kernels.
fn isa(source_order: bool) -> Result<OwnedTargetIsa, HostError> {
    static ISA: [OnceLock<Result<OwnedTargetIsa, String>>; 2] = [OnceLock::new(), OnceLock::new()];
    ISA[usize::from(source_order)]
        .get_or_init(|| {
            let opt = if source_order { "none" } else { "speed" };
            let mut flags = settings::builder();
            for (k, v) in [("use_colocated_libcalls", "false"), ("is_pic", "false"), ("opt_level", opt)] {
                flags.set(k, v).map_err(|e| e.to_string())?;
            }
            let builder = cranelift_native::builder().map_err(|e| e.to_string())?;
            builder.finish(settings::Flags::new(flags)).map_err(|e| e.to_string())
        })
        .clone()
        .map_err(HostError::Isa)
}

/// A kernel compiled to native code.
pub struct JitKernel {
    name: String,
    entry: Entry,
    /// Owns the code `entry` points into; freed on drop. A mutex only to make the kernel `Sync`.
    module: Mutex<Option<JITModule>>,
    arg_bytes: Vec<usize>,
    /// Per buffer: the bytes of a constant buffer, `None` for an argument.
    consts: Vec<Option<Box<[u8]>>>,
    stats: codegen::CodegenStats,
}

impl std::fmt::Debug for JitKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitKernel").field("name", &self.name).field("arg_bytes", &self.arg_bytes).finish()
    }
}

impl JitKernel {
    /// Compiles a verified kernel (the type admits no other).
    pub fn compile(vk: &VerifiedKernel) -> Result<JitKernel, HostError> {
        let isa = isa(codegen::keeps_order(vk))?;
        let ptr = isa.pointer_type();
        let call_conv = isa.default_call_conv();
        let config = isa.frontend_config();
        let mut module = JITModule::new(JITBuilder::with_isa(isa, default_libcall_names()));
        let sig = codegen::kernel_signature(ptr, call_conv);
        let id = module.declare_function("kernel", Linkage::Local, &sig).map_err(HostError::module)?;
        let mut ctx = module.make_context();
        ctx.func.signature = sig;
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        let mut fctx = FunctionBuilderContext::new();
        let stats = codegen::translate(vk, &mut ctx.func, &mut fctx, ptr, call_conv, config)?;
        module.define_function(id, &mut ctx).map_err(HostError::module)?;
        module.clear_context(&mut ctx);
        module.finalize_definitions().map_err(HostError::module)?;
        let code = module.get_finalized_function(id);
        // SAFETY: `code` is the finalized, executable function just defined with `kernel_signature`: one
        // pointer-sized argument and an i32 result in the ISA's default calling convention, which is the C
        // convention of this host. It stays valid while `module` lives, and `module` lives inside the
        // returned `JitKernel` until it is dropped.
        let entry = unsafe { std::mem::transmute::<*const u8, Entry>(code) };
        let consts = vk
            .kernel()
            .buffers
            .iter()
            .map(|b| match &b.kind {
                BufKind::Const(data) => Some(data.clone().into_boxed_slice()),
                _ => None,
            })
            .collect();
        Ok(JitKernel {
            name: vk.kernel().name.clone(),
            entry,
            module: Mutex::new(Some(module)),
            arg_bytes: vk.arg_bytes().to_vec(),
            consts,
            stats,
        })
    }

    /// The machine code of a kernel as text (Cranelift's lowered form, after register allocation), for
    /// inspecting what the code generator emits.
    pub fn listing(vk: &VerifiedKernel) -> Result<String, HostError> {
        let isa = isa(codegen::keeps_order(vk))?;
        let mut ctx = cranelift_codegen::Context::new();
        ctx.func.signature = codegen::kernel_signature(isa.pointer_type(), isa.default_call_conv());
        let mut fctx = FunctionBuilderContext::new();
        codegen::translate(
            vk,
            &mut ctx.func,
            &mut fctx,
            isa.pointer_type(),
            isa.default_call_conv(),
            isa.frontend_config(),
        )?;
        ctx.set_disasm(true);
        let mut ctrl = cranelift_codegen::control::ControlPlane::default();
        let code = ctx.compile(&*isa, &mut ctrl).map_err(|e| HostError::Codegen(format!("{:?}", e.inner)))?;
        Ok(code.vcode.clone().unwrap_or_default())
    }

    /// What the code generator did (how many innermost loops got a vector loop).
    pub fn stats(&self) -> codegen::CodegenStats {
        self.stats
    }

    /// Byte sizes of the argument buffers, in order.
    pub fn arg_bytes(&self) -> &[usize] {
        &self.arg_bytes
    }

    /// Runs the kernel on its argument buffers (inputs and outputs in declaration order).
    pub fn run(&self, buffers: &mut [&mut [u8]]) -> Result<(), HostError> {
        if buffers.len() != self.arg_bytes.len() {
            return Err(HostError::Args {
                kernel: self.name.clone(),
                why: format!("{} buffers, expected {}", buffers.len(), self.arg_bytes.len()),
            });
        }
        for (i, (b, &want)) in buffers.iter().zip(&self.arg_bytes).enumerate() {
            if b.len() != want {
                return Err(HostError::Args {
                    kernel: self.name.clone(),
                    why: format!("buffer {i} has {} bytes, expected {want}", b.len()),
                });
            }
        }
        let mut args = buffers.iter_mut();
        let mut ptrs: Vec<*mut u8> = Vec::with_capacity(self.consts.len());
        for c in &self.consts {
            match c {
                // The kernel never writes a constant (the verifier allows stores only to outputs).
                Some(data) => ptrs.push(data.as_ptr().cast_mut()),
                None => match args.next() {
                    Some(b) => ptrs.push(b.as_mut_ptr()),
                    None => return Err(HostError::internal("argument count")),
                },
            }
        }
        // SAFETY: `entry` is live code of type `Entry` (see `compile`; `self` keeps the module alive for the
        // call). `ptrs` holds one pointer per buffer of the kernel, in order: argument buffers are exclusive
        // borrows whose lengths were checked above to equal the declared sizes, constants are our own
        // allocations of their declared sizes. The verifier proved every load, store and copy of the code
        // in bounds of those sizes, and writes go only to output arguments.
        let status = unsafe { (self.entry)(ptrs.as_ptr()) };
        match status {
            0 => Ok(()),
            s => Err(HostError::IndexOutOfRange { kernel: self.name.clone(), at: s as usize - 1 }),
        }
    }
}

impl Drop for JitKernel {
    fn drop(&mut self) {
        let module = match self.module.get_mut() {
            Ok(m) => m.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(module) = module {
            // SAFETY: dropping needs `&mut self`, so no `run` is executing, and `entry` is never called again.
            unsafe { module.free_memory() };
        }
    }
}
