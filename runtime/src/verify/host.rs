//! Host kernels in the verify pass: every DRAM tensor a `host.call` reads or writes lies inside the program's
//! DRAM; a kernel-IR body passes the kernel verifier (`accel_ops::kernel::verify`: types, scopes, trip counts,
//! every access proven in bounds) and its argument buffers are exactly those DRAM tensors (count, order,
//! dtype, element count), so the bytes the simulator hands the kernel are the bytes it was proven against;
//! an operator-form body type-checks. Codegen only ever sees the `VerifiedKernel`s made here.
use super::{dram_tensor_bytes, VerifyError};
use accel_ops::kernel::{self, VerifiedKernel};
use accel_ops::program::{check_kernel_args, DramTensor, HostBody, Program};

/// A host kernel that passed verification: the verified kernel IR, or `None` for an operator-form body.
pub type VerifiedHost = Option<VerifiedKernel>;

/// Checks every host kernel of `p`; returns them verified, in kernel order.
pub(super) fn check_kernels(p: &Program) -> Result<Vec<VerifiedHost>, VerifyError> {
    let mut out = Vec::new();
    for (k, kernel) in p.kernels.iter().enumerate() {
        let err = |why: String| VerifyError::Kernel { kernel: k, op: kernel.what().to_string(), why };
        let place = |what: String, t: &DramTensor| {
            dram_tensor_bytes(t.dram, &t.ty, p.meta.dram_bytes).map_err(|why| err(format!("{what}: {why}")))
        };
        for (i, t) in kernel.inputs.iter().enumerate() {
            place(format!("input {i}"), t)?;
        }
        place("output".into(), &kernel.output)?;
        let types: Vec<_> = kernel.inputs.iter().map(|t| t.ty.clone()).collect();
        out.push(match &kernel.body {
            HostBody::OpFallback(op) => {
                let inferred = op.infer(&types).map_err(|e| err(format!("inputs do not type-check: {e}")))?;
                if inferred != kernel.output.ty {
                    return Err(err(format!("computes {inferred}, but the output is declared {}", kernel.output.ty)));
                }
                None
            }
            HostBody::Kernel(body) => {
                let refs: Vec<_> = types.iter().collect();
                check_kernel_args(body, &refs, &kernel.output.ty).map_err(&err)?;
                Some(kernel::verify(body.clone()).map_err(|e| err(e.to_string()))?)
            }
        });
    }
    Ok(out)
}
