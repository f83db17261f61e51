//! The data effect of `host.call`: hands the kernel its DRAM tensors and runs it. A kernel-IR kernel runs
//! (native code or the reference interpreter, `host::HostKernels`) directly on DRAM when its tensors do not
//! overlap, else on copies of its inputs; an operator-form kernel is evaluated with the ops reference
//! semantics. Queued tile commands must have been drained first.
use super::memory::{bytes, bytes_mut, Machine};
use crate::host::HostKernels;
use accel_ops::program::{HostBody, Program};
use accel_ops::Tensor;
use std::time::{Duration, Instant};

/// Scratch copies of host kernel inputs, kept in the machine across calls and runs.
#[derive(Debug, Default)]
pub struct HostScratch {
    inputs: Vec<Vec<u8>>,
}

/// Runs host kernel `index`; returns its measured wall time (reported, never used for cycle counts).
pub(crate) fn host_call(m: &mut Machine, p: &Program, host: &HostKernels, index: u32) -> Result<Duration, String> {
    let kernel = p.kernels.get(index as usize).ok_or_else(|| format!("kernel {index} does not exist"))?;
    let t0 = Instant::now();
    let mut ranges = Vec::with_capacity(kernel.inputs.len() + 1);
    for (i, t) in kernel.inputs.iter().chain([&kernel.output]).enumerate() {
        let size = t.ty.checked_bytes().map_err(|e| format!("argument {i}: {e}"))?;
        let start = usize::try_from(t.dram).map_err(|_| format!("argument {i}: address out of range"))?;
        ranges.push((start, size));
    }
    match &kernel.body {
        HostBody::Kernel(_) => run_kernel(m, host, index as usize, &ranges)?,
        HostBody::OpFallback(op) => {
            let mut inputs = Vec::with_capacity(kernel.inputs.len());
            for (i, t) in kernel.inputs.iter().enumerate() {
                let size = t.ty.checked_bytes().map_err(|e| format!("input {i}: {e}"))? as u64;
                let src = bytes(m.dram(), t.dram, size)?;
                inputs.push(Tensor::from_le_bytes(&t.ty, src).map_err(|e| format!("input {i}: {e}"))?);
            }
            let refs: Vec<&Tensor> = inputs.iter().collect();
            let out = op.eval(&refs).map_err(|e| e.to_string())?;
            if out.ty() != kernel.output.ty {
                return Err(format!("computed {}, declared {}", out.ty(), kernel.output.ty));
            }
            let data = out.to_le_bytes();
            bytes_mut(m.dram_mut(), kernel.output.dram, data.len() as u64)?.copy_from_slice(&data);
        }
    }
    Ok(t0.elapsed())
}

/// Runs a kernel-IR kernel whose arguments are the DRAM byte ranges `ranges` (inputs, then the output).
fn run_kernel(m: &mut Machine, host: &HostKernels, index: usize, ranges: &[(usize, usize)]) -> Result<(), String> {
    let Machine { dram, work, .. } = m;
    if let Some(mut args) = disjoint_mut(dram, ranges) {
        return host.run(index, &mut args).map_err(|e| e.to_string());
    }
    // Overlapping arguments (an input read twice, say): the inputs run from copies, the output in place.
    let Some(((out_start, out_len), inputs)) = ranges.split_last() else { return Err("no output".into()) };
    let scratch = &mut work.host.inputs;
    scratch.resize_with(scratch.len().max(inputs.len()), Vec::new);
    for (copy, &(start, len)) in scratch.iter_mut().zip(inputs) {
        let src = start.checked_add(len).and_then(|end| dram.get(start..end)).ok_or("input outside DRAM")?;
        copy.clear();
        copy.extend_from_slice(src);
    }
    let out =
        out_start.checked_add(*out_len).and_then(|end| dram.get_mut(*out_start..end)).ok_or("output outside DRAM")?;
    let mut args: Vec<&mut [u8]> = scratch.iter_mut().take(inputs.len()).map(Vec::as_mut_slice).collect();
    args.push(out);
    host.run(index, &mut args).map_err(|e| e.to_string())
}

/// Mutable slices of `dram` at `ranges` (start, length), in the order given, if no two of them overlap and
/// all lie inside `dram`; `None` otherwise.
fn disjoint_mut<'a>(dram: &'a mut [u8], ranges: &[(usize, usize)]) -> Option<Vec<&'a mut [u8]>> {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| ranges.get(i).map(|r| r.0));
    let mut out: Vec<Option<&'a mut [u8]>> = (0..ranges.len()).map(|_| None).collect();
    let mut rest = dram;
    let mut base = 0usize;
    for i in order {
        let &(start, len) = ranges.get(i)?;
        let (_, tail) = rest.split_at_mut_checked(start.checked_sub(base)?)?;
        let (mine, tail) = tail.split_at_mut_checked(len)?;
        *out.get_mut(i)? = Some(mine);
        rest = tail;
        base = start.checked_add(len)?;
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::disjoint_mut;

    #[test]
    fn disjoint_ranges_split_in_the_order_given() {
        let mut d: Vec<u8> = (0..10).collect();
        let s = disjoint_mut(&mut d, &[(6, 2), (0, 3), (3, 0), (8, 2)]).unwrap();
        assert_eq!(s.iter().map(|x| x.to_vec()).collect::<Vec<_>>(), [vec![6, 7], vec![0, 1, 2], vec![], vec![8, 9]]);
    }

    #[test]
    fn overlapping_or_outside_ranges_give_none() {
        let mut d = vec![0u8; 10];
        assert!(disjoint_mut(&mut d, &[(0, 4), (3, 2)]).is_none());
        assert!(disjoint_mut(&mut d, &[(2, 2), (2, 2)]).is_none());
        assert!(disjoint_mut(&mut d, &[(8, 3)]).is_none());
        assert!(disjoint_mut(&mut d, &[(usize::MAX, 1)]).is_none());
    }
}
