//! The verifier: a valid program passes; each class of bad program is refused with its specific variant,
//! naming the queue and command index.
use crate::common::*;
use accel_ops::command::{Command, QueueId, SramAddr, Unit};
use accel_ops::op::{Op, Unary, UnaryOp};
use accel_ops::program::{DramTensor, HostKernel, Program};
use accel_ops::{DType, TensorType};
use accel_runtime::{verify, VerifyError};

/// The one place these tests call the verifier: returns the error a bad program must produce.
fn rejected(p: Program) -> VerifyError {
    match verify(p) {
        Ok(_) => panic!("the verifier accepted a bad program"),
        Err(e) => e,
    }
}

fn valid() -> Program {
    conv_program(3, 4, 8, 8, None, 1).program
}

const MAC0: QueueId = QueueId { tile: 0, unit: Unit::Mac };
const DMA_IN0: QueueId = QueueId { tile: 0, unit: Unit::DmaIn };

#[test]
fn a_valid_program_verifies() {
    verify(valid()).unwrap();
}

#[test]
fn sram_out_of_bounds_is_refused() {
    let mut p = valid();
    let sram = p.meta.target.tile.sram_bytes as u32;
    p.queues[0].commands[1] = load(sram - 4, 0, 64);
    let e = rejected(p);
    assert!(matches!(e, VerifyError::SramOutOfBounds { queue: DMA_IN0, index: 1, .. }), "{e}");
    assert!(e.to_string().starts_with("tile0.dma-in #1"), "{e}");
}

#[test]
fn dram_out_of_bounds_is_refused() {
    let mut p = valid();
    let end = p.meta.dram_bytes;
    p.queues[0].commands[2] = load(0, end - 4, 8);
    assert!(matches!(rejected(p), VerifyError::DramOutOfBounds { queue: DMA_IN0, index: 2, .. }));
    // Offsets near u64::MAX must not wrap around.
    let mut p = valid();
    p.queues[0].commands[2] = load(0, u64::MAX - 2, 8);
    let e = rejected(p);
    assert!(matches!(e, VerifyError::DramOutOfBounds { .. } | VerifyError::BadCommand { .. }), "{e}");
}

#[test]
fn wrong_unit_is_refused() {
    let mut p = valid();
    let conv = p.queues[1].commands[1].clone();
    p.queues[0].commands.insert(0, conv);
    let e = rejected(p);
    assert!(matches!(e, VerifyError::WrongUnit { queue: DMA_IN0, index: 0, needs: "mac", .. }), "{e}");
}

#[test]
fn bad_kernel_index_is_refused() {
    let mut p = valid();
    p.queues.push(queue(0, Unit::Host, vec![Command::HostCall { kernel: 3 }]));
    let e = rejected(p);
    assert!(matches!(e, VerifyError::BadKernelIndex { kernel: 3, count: 0, index: 0, .. }), "{e}");
}

#[test]
fn semaphore_out_of_range_is_refused() {
    let mut p = valid();
    p.queues[1].commands[2] = signal(2);
    assert!(matches!(rejected(p), VerifyError::SemaphoreOutOfRange { queue: MAC0, index: 2, sem: 2, .. }));
}

#[test]
fn wait_for_a_count_never_signalled_is_refused() {
    let mut p = valid();
    p.queues[1].commands[0] = wait(0, 2);
    let e = rejected(p);
    assert!(
        matches!(e, VerifyError::UnsatisfiableWait { queue: MAC0, index: 0, sem: 0, value: 2, reachable: 1, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("tile0.mac #0"), "{e}");
}

#[test]
fn circular_wait_is_refused() {
    let queues =
        vec![queue(0, Unit::Mac, vec![wait(0, 1), signal(1)]), queue(0, Unit::Vector, vec![wait(1, 1), signal(0)])];
    let e = rejected(program(queues, vec![], vec![], vec![], 0, 2));
    assert!(matches!(e, VerifyError::UnsatisfiableWait { queue: MAC0, index: 0, blocked: 2, .. }), "{e}");
}

#[test]
fn waits_across_many_queues_that_can_be_satisfied_pass() {
    // A chain through three queues, with a signal that arrives only after another queue's wait.
    let queues = vec![
        queue(0, Unit::Mac, vec![wait(2, 1), signal(0), wait(2, 2)]),
        queue(0, Unit::Vector, vec![signal(2), wait(0, 1), signal(1)]),
        queue(1, Unit::Mac, vec![wait(1, 1), signal(2), wait(0, 1)]),
    ];
    verify(program(queues, vec![], vec![], vec![], 0, 3)).unwrap();
}

#[test]
fn queues_must_exist_on_the_target_and_be_unique() {
    let mut p = valid();
    p.queues[2].id.tile = 4;
    assert!(matches!(rejected(p), VerifyError::Queue { position: 2, .. }));
    let mut p = valid();
    p.queues[2].id = p.queues[1].id;
    assert!(matches!(rejected(p), VerifyError::Queue { position: 2, .. }));
    let mut p = valid();
    p.queues.push(queue(1, Unit::Host, vec![]));
    assert!(matches!(rejected(p), VerifyError::Queue { position: 3, .. }));
}

#[test]
fn compute_dtypes_are_checked() {
    // bf16 is computed (its operands are half the size, so they still fit); i8 needs its quant operand; the
    // MAC array computes nothing else.
    let with = |dtype| {
        let mut p = valid();
        if let Command::Conv { dtype: d, .. } = &mut p.queues[1].commands[1] {
            *d = dtype;
        }
        p
    };
    assert!(verify(with(DType::BF16)).is_ok());
    let e = rejected(with(DType::I8));
    assert!(matches!(e, VerifyError::BadCommand { queue: MAC0, index: 1, .. }), "{e}");
    assert!(e.to_string().contains("quant operand"), "{e}");
    let e = rejected(with(DType::I32));
    assert!(matches!(e, VerifyError::BadCommand { queue: MAC0, index: 1, .. }), "{e}");
    assert!(e.to_string().contains("does not compute in i32"), "{e}");
}

#[test]
fn inconsistent_command_parameters_are_refused() {
    let mut p = valid();
    if let Command::Conv { groups, .. } = &mut p.queues[1].commands[1] {
        *groups = 2;
    }
    assert!(matches!(rejected(p), VerifyError::BadCommand { queue: MAC0, index: 1, .. }));
    let mut p = valid();
    if let Command::Conv { quant, .. } = &mut p.queues[1].commands[1] {
        *quant = SramAddr(0);
    }
    assert!(matches!(rejected(p), VerifyError::BadCommand { queue: MAC0, index: 1, .. }));
}

#[test]
fn plane_strides_are_checked() {
    // `res_plane_rows` is 0 without a residual and at least `out_h` with one (planes that overlap are refused); a
    // residual whose strided planes run past SRAM is refused like any operand out of bounds.
    let with = |residual: SramAddr, rows: u32| {
        let mut p = valid();
        if let Command::Conv { residual: r, res_plane_rows, res_row_pitch, out_w, .. } = &mut p.queues[1].commands[1] {
            (*r, *res_plane_rows) = (residual, rows);
            *res_row_pitch = if residual.is_none() { 0 } else { *out_w };
        }
        p
    };
    let e = rejected(with(SramAddr::NONE, 3));
    assert!(e.to_string().contains("without a residual"), "{e}");
    let Command::Conv { out_h, .. } = valid().queues[1].commands[1].clone() else { panic!("the sample is a conv") };
    let e = rejected(with(SramAddr(0), out_h - 1));
    assert!(e.to_string().contains("overlap"), "{e}");
    let e = rejected(with(SramAddr(0), u32::MAX));
    assert!(e.to_string().contains("SRAM"), "{e}");
    // The input's planes likewise: at least `in_h` rows apart.
    let mut p = valid();
    if let Command::Conv { in_plane_rows, in_h, .. } = &mut p.queues[1].commands[1] {
        *in_plane_rows = *in_h - 1;
    }
    let e = rejected(p);
    assert!(e.to_string().contains("input planes"), "{e}");
}

#[test]
fn row_pitches_are_checked() {
    // Rows at least as far apart as they are wide, for the input and the residual; a residual row pitch without a
    // residual is refused; a pitch that carries the operand past SRAM is refused like any operand out of bounds.
    let conv = |edit: &dyn Fn(&mut Command)| {
        let mut p = valid();
        edit(&mut p.queues[1].commands[1]);
        rejected(p).to_string()
    };
    let e = conv(&|c| {
        if let Command::Conv { in_row_pitch, in_w, .. } = c {
            *in_row_pitch = *in_w - 1;
        }
    });
    assert!(e.contains("input rows"), "{e}");
    let e = conv(&|c| {
        if let Command::Conv { in_row_pitch, .. } = c {
            *in_row_pitch = u32::MAX;
        }
    });
    assert!(e.contains("SRAM"), "{e}");
    let e = conv(&|c| {
        if let Command::Conv { res_row_pitch, .. } = c {
            *res_row_pitch = 4;
        }
    });
    assert!(e.contains("without a residual"), "{e}");
    let e = conv(&|c| {
        if let Command::Conv { residual, res_plane_rows, res_row_pitch, out_h, out_w, .. } = c {
            (*residual, *res_plane_rows, *res_row_pitch) = (SramAddr(0), *out_h, *out_w - 1);
        }
    });
    assert!(e.contains("residual rows"), "{e}");
}

#[test]
fn host_kernels_are_checked() {
    let ty = TensorType::f32(vec![1, 4]);
    let relu = |input: u64, output: u64, out_ty: TensorType| {
        HostKernel::fallback(
            Op::Unary(Unary { op: UnaryOp::Relu }),
            vec![DramTensor { dram: input, ty: ty.clone() }],
            DramTensor { dram: output, ty: out_ty },
        )
    };
    let with = |k: HostKernel| {
        let mut p = valid();
        p.kernels.push(k);
        p.queues.push(queue(0, Unit::Host, vec![Command::HostCall { kernel: 0 }]));
        p
    };
    verify(with(relu(0, 64, ty.clone()))).unwrap();
    let e = rejected(with(relu(0, 64, TensorType::f32(vec![4]))));
    assert!(matches!(&e, VerifyError::Kernel { kernel: 0, op, .. } if op == "relu"), "{e}");
    let far = valid().meta.dram_bytes;
    assert!(matches!(rejected(with(relu(far, 64, ty.clone()))), VerifyError::Kernel { .. }));
    assert!(matches!(rejected(with(relu(0, u64::MAX, ty.clone()))), VerifyError::Kernel { .. }));
}

#[test]
fn io_descriptors_are_checked() {
    let mut p = valid();
    p.meta.outputs[0].dram = p.meta.dram_bytes - 4;
    assert!(matches!(rejected(p), VerifyError::Io { kind: "output", .. }));
    let mut p = valid();
    p.meta.inputs.push(p.meta.inputs[0].clone());
    assert!(matches!(rejected(p), VerifyError::Io { kind: "input", .. }));
    let mut p = valid();
    p.meta.inputs[0].ty = TensorType::f32(vec![usize::MAX, 2]);
    assert!(matches!(rejected(p), VerifyError::Io { .. }));
}

#[test]
fn memory_layout_and_target_are_checked() {
    let mut p = valid();
    p.meta.dram_bytes = p.meta.target.dram.capacity_bytes + 1;
    assert!(matches!(rejected(p), VerifyError::DramCapacity { .. }));
    let mut p = valid();
    p.constants = vec![0; p.meta.dram_bytes as usize + 1];
    assert!(matches!(rejected(p), VerifyError::Constants { .. }));
    let mut p = valid();
    p.meta.target.clock_ghz = f64::NAN;
    assert!(matches!(rejected(p), VerifyError::Target { field: "clock_ghz", .. }));
    let mut p = valid();
    p.meta.target.tile.sram_bytes = 1 << 40;
    assert!(matches!(rejected(p), VerifyError::Target { field: "tile.sram_bytes", .. }));
}

#[test]
fn debug_info_must_match_the_queues() {
    let mut p = valid();
    p.debug.layers = vec!["conv".into()];
    p.debug.command_layer = p.queues.iter().map(|q| vec![0; q.commands.len()]).collect();
    verify(p.clone()).unwrap();
    p.debug.command_layer[1].pop();
    assert!(matches!(rejected(p.clone()), VerifyError::Debug(_)));
    p.debug.command_layer[1] = vec![0, 5, 0];
    assert!(matches!(rejected(p), VerifyError::Debug(_)));
}

#[test]
fn whatever_the_verifier_accepts_runs_without_memory_errors() {
    // BAD-INPUT #17: mutate the encoded command section of a valid program; every mutant that decodes and
    // verifies must run to completion (no out-of-bounds access, no deadlock, no panic).
    use accel_ops::command::{decode_queues, encode_queues};
    use accel_runtime::random::{random_inputs, SplitMix64};
    use accel_runtime::Session;
    let base = valid();
    let bytes = encode_queues(&base.queues);
    let mut rng = SplitMix64::new(2024);
    let (mut accepted, mut tried) = (0, 0);
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..=(rng.next_u64() % 3) {
            let at = (rng.next_u64() % b.len() as u64) as usize;
            b[at] = match rng.next_u64() % 4 {
                0 => 0,
                1 => 0xff,
                2 => b[at] ^ (1 << (rng.next_u64() % 8)),
                _ => rng.next_u64() as u8,
            };
        }
        let Ok(queues) = decode_queues(&b) else { continue };
        tried += 1;
        let mut p = base.clone();
        p.queues = queues;
        let Ok(mut s) = Session::from_program(p) else { continue };
        accepted += 1;
        let inputs = random_inputs(&s.meta().inputs, 1).unwrap();
        if let Err(e) = s.run(&inputs) {
            panic!("a verified mutant failed to run: {e}");
        }
    }
    assert!(tried > 1000 && accepted > 100, "tried {tried}, accepted {accepted}");
}

/// An int8 command with an `act` reads a 256-byte lookup table after its quant header: a quant operand that
/// fits only without its table (the header and pairs end exactly at the end of SRAM) is refused, not read.
#[test]
fn an_int8_lookup_table_past_the_end_of_sram_is_refused() {
    let at_end = |act: Option<UnaryOp>| {
        let mut p = valid();
        let sram = p.meta.target.tile.sram_bytes as u32;
        if let Command::Conv { dtype, quant, act: a, out_c, .. } = &mut p.queues[1].commands[1] {
            *dtype = DType::I8;
            *quant = SramAddr(sram - (32 + 8 * *out_c));
            *a = accel_ops::command::Act(act);
        }
        p
    };
    verify(at_end(None)).unwrap();
    let e = rejected(at_end(Some(UnaryOp::Silu)));
    assert!(matches!(e, VerifyError::SramOutOfBounds { queue: MAC0, index: 1, .. }), "{e}");
}
