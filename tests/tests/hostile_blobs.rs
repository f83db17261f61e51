//! Hand-made hostile blobs, one or more per class of BAD-INPUT.md that applies to the runtime, each loaded
//! through the file path (`Session::load`: header, bounds, checksums, decode, verifier) and asserting the
//! specific typed error. Edits are re-sealed (`blob_edit::seal`) so that they reach the stage they attack.
//! Classes 4 (symbolic dims), 10 (graph cycles), 11 (external data) and 18 (compile blow-ups) are the
//! compiler's: see `hostile_models.rs`. Class 19 (JIT addresses) is the host module's differential tests.
use accel_ops::blob::{encode, BlobError, BlobLimits, FORMAT_MAJOR, FORMAT_MINOR};
use accel_ops::command::{
    decode_queues, Act, BinCode, Command, Copy3, DecodeError, DramAddr, PoolCode, Queue, QueueId, SramAddr, Unit,
};
use accel_ops::op::{Binary, BinaryOp, Gather, Op, PoolKind, Softmax, Transpose, Unary, UnaryOp};
use accel_ops::program::{DebugInfo, DramTensor, HostKernel, IoDesc, Meta, Program};
use accel_ops::target::Target;
use accel_ops::{Shape, Tensor, TensorType};
use accel_runtime::{verify, ExecError, RuntimeError, Session, VerifyError};
use accel_tests::blob_edit::{self, entry, put_u32, put_u64, seal, section};

const TILE0: u16 = 0;

fn q(unit: Unit, commands: Vec<Command>) -> Queue {
    Queue { id: QueueId { tile: TILE0, unit }, commands }
}

fn load(sram: u32, dram: u64, len: u32) -> Command {
    Command::Load { sram: SramAddr(sram), dram: DramAddr(dram), copy: Copy3::contiguous(len) }
}

fn store(sram: u32, dram: u64, len: u32) -> Command {
    Command::Store { sram: SramAddr(sram), dram: DramAddr(dram), copy: Copy3::contiguous(len) }
}

fn relu(src: u32, dst: u32, len: u32) -> Command {
    Command::Unary { func: Act(Some(UnaryOp::Relu)), src: SramAddr(src), dst: SramAddr(dst), len }
}

/// `y = relu(x)` for `x: f32[4]` at DRAM `x_at`, `y` at `y_at`, staged through SRAM at `s_in` / `s_out`.
fn relu_program(x_at: u64, y_at: u64, s_in: u32, s_out: u32) -> Program {
    let ty = TensorType::f32(vec![4]);
    Program {
        meta: Meta {
            target: Target::x1(),
            compiler_version: "hostile".into(),
            target_name: "x1".into(),
            options: String::new(),
            inputs: vec![IoDesc { name: "x".into(), ty: ty.clone(), dram: x_at }],
            outputs: vec![IoDesc { name: "y".into(), ty, dram: y_at }],
            dram_bytes: 256,
            semaphores: 2,
            stages: Vec::new(),
        },
        queues: vec![
            q(Unit::DmaIn, vec![load(s_in, x_at, 16), Command::Signal { sem: 0 }]),
            q(Unit::Vector, vec![Command::Wait { sem: 0, value: 1 }, relu(s_in, s_out, 4), Command::Signal { sem: 1 }]),
            q(Unit::DmaOut, vec![Command::Wait { sem: 1, value: 1 }, store(s_out, y_at, 16)]),
        ],
        constants: (0..64).collect(),
        kernels: vec![],
        debug: DebugInfo::default(),
    }
}

fn base() -> Program {
    relu_program(64, 128, 0, 64)
}

fn blob(p: &Program) -> Vec<u8> {
    encode(p).unwrap()
}

fn x() -> Vec<(String, Tensor)> {
    vec![("x".into(), Tensor::from_f32(vec![4], vec![-1.0, 2.0, -3.0, 4.0]).unwrap())]
}

/// The loader's error for `bytes`, which must be a container error.
fn blob_err(bytes: &[u8]) -> BlobError {
    match Session::load(bytes) {
        Err(RuntimeError::Blob(e)) => e,
        Err(e) => panic!("expected a blob error, got {e}"),
        Ok(_) => panic!("a hostile blob was accepted"),
    }
}

/// The verifier's error for `p` through the file path; the in-memory path must give the same error.
fn verify_err(p: Program) -> VerifyError {
    let through_file = match Session::load(&blob(&p)) {
        Err(RuntimeError::Verify(e)) => e,
        Err(e) => panic!("expected a verifier error, got {e}"),
        Ok(_) => panic!("a hostile program was accepted"),
    };
    assert_eq!(verify(p).err().as_ref(), Some(&through_file), "file and memory paths disagree");
    through_file
}

fn bad_command(p: Program, why: &str) {
    match verify_err(p) {
        VerifyError::BadCommand { error, .. } => assert!(error.why.contains(why), "{error} lacks {why:?}"),
        e => panic!("expected a bad command, got {e}"),
    }
}

fn kernel_err(p: Program, why: &str) {
    match verify_err(p) {
        VerifyError::Kernel { kernel: 0, why: w, .. } => assert!(w.contains(why), "{w:?} lacks {why:?}"),
        e => panic!("expected a host-kernel error, got {e}"),
    }
}

/// `base()` plus one host kernel and a host queue calling it.
fn with_kernel(op: Op, inputs: Vec<TensorType>, output: TensorType) -> Program {
    let mut p = base();
    let inputs = inputs.into_iter().map(|ty| DramTensor { dram: 64, ty }).collect();
    p.kernels.push(HostKernel::fallback(op, inputs, DramTensor { dram: 128, ty: output }));
    p.queues.push(Queue { id: QueueId { tile: 0, unit: Unit::Host }, commands: vec![Command::HostCall { kernel: 0 }] });
    p
}

#[test]
fn the_base_program_loads_and_runs() {
    let mut s = Session::load(&blob(&base())).unwrap();
    let out = s.run(&x()).unwrap().outputs;
    assert_eq!(out[0].1.as_f32().unwrap(), &[0.0, 2.0, 0.0, 4.0]);
}

#[test]
fn class01_section_offsets_outside_the_file() {
    let b = blob(&base());
    let (offset, _) = section(&b, blob_edit::CONSTANTS).unwrap();
    for (off, len) in [(b.len() as u64 + 64, 0), (u64::MAX - 7, 16), (offset, b.len() as u64), (0, 8)] {
        let mut c = b.clone();
        put_u64(&mut c, entry(blob_edit::CONSTANTS) + 8, off);
        put_u64(&mut c, entry(blob_edit::CONSTANTS) + 16, len);
        seal(&mut c, false);
        let e = blob_err(&c);
        assert!(matches!(e, BlobError::SectionBounds { section: "constants", .. }), "({off}, {len}): {e}");
    }
}

#[test]
fn class02_length_prefix_bombs_in_sections() {
    // bincode with fixed-width ints: a structured section starts with a u64 length (the target's name in
    // meta, the kernel count, the layer-name count in debug). 2^60 must be refused without allocating.
    for (i, name) in [(blob_edit::META, "meta"), (blob_edit::KERNELS, "kernels"), (blob_edit::DEBUG, "debug")] {
        let mut b = blob(&base());
        let (offset, _) = section(&b, i).unwrap();
        put_u64(&mut b, offset as usize, 1 << 60);
        seal(&mut b, false);
        let e = blob_err(&b);
        assert!(matches!(e, BlobError::Decode { section, .. } if section == name), "{name}: {e}");
    }
}

#[test]
fn class02_huge_declared_queue_and_command_counts() {
    let mut b = blob(&base());
    blob_edit::replace_section(&mut b, blob_edit::COMMANDS, &u32::MAX.to_le_bytes());
    let e = blob_err(&b);
    assert!(matches!(&e, BlobError::Decode { section: "commands", why, .. } if why.contains("truncated")), "{e}");
    // One queue (tile 0, dma-in) claiming 2^32-1 commands, followed by none.
    let mut body = 1u32.to_le_bytes().to_vec();
    body.extend_from_slice(&[0, 0, 0]);
    body.extend_from_slice(&u32::MAX.to_le_bytes());
    let mut b = blob(&base());
    blob_edit::replace_section(&mut b, blob_edit::COMMANDS, &body);
    assert!(matches!(blob_err(&b), BlobError::Decode { section: "commands", .. }));
}

#[test]
fn class03_shape_products_that_overflow() {
    let mut p = base();
    p.meta.inputs[0].ty = TensorType::f32(vec![usize::MAX / 2, 3]);
    match verify_err(p) {
        VerifyError::Io { kind: "input", name, why } => assert!(name == "x" && why.contains("overflow"), "{why}"),
        e => panic!("{e}"),
    }
    let huge = TensorType::f32(vec![1 << 40, 1 << 40]);
    kernel_err(with_kernel(Op::Unary(Unary { op: UnaryOp::Relu }), vec![huge.clone()], huge), "overflow");
    let mut p = base();
    p.queues[1].commands[1] = Command::MatMul {
        dtype: accel_ops::DType::F32,
        a: SramAddr(0),
        b: SramAddr(0),
        bias: SramAddr::NONE,
        quant: SramAddr::NONE,
        output: SramAddr(0),
        m: u32::MAX,
        k: u32::MAX,
        n: u32::MAX,
        act: Act(None),
    };
    p.queues[1].id.unit = Unit::Mac;
    bad_command(p, "sizes overflow");
}

#[test]
fn class05_declared_shapes_that_do_not_match_the_payload() {
    let ty = TensorType::f32(vec![4]);
    let relu = Op::Unary(Unary { op: UnaryOp::Relu });
    kernel_err(with_kernel(relu, vec![ty], TensorType::f32(vec![1, 4])), "computes");
    let mut p = base();
    p.meta.outputs[0].ty = TensorType::f32(vec![64]);
    assert!(matches!(verify_err(p), VerifyError::Io { kind: "output", why, .. } if why.contains("outside DRAM")));
    let mut p = base();
    p.constants = vec![0; 257];
    assert_eq!(verify_err(p), VerifyError::Constants { constants: 257, dram_bytes: 256 });
}

#[test]
fn class06_out_of_range_indices_and_axes_in_host_kernels() {
    let ty = TensorType::f32(vec![2, 2]);
    let gather = Op::Gather(Gather { axis: 0, indices: vec![7], index_shape: Shape::new(vec![1]) });
    kernel_err(with_kernel(gather, vec![ty.clone()], TensorType::f32(vec![1, 2])), "out of range");
    let transpose = Op::Transpose(Transpose { perm: vec![0, 5] });
    kernel_err(with_kernel(transpose, vec![ty.clone()], ty.clone()), "do not type-check");
    let softmax = Op::Softmax(Softmax { axis: 3, log: false });
    kernel_err(with_kernel(softmax, vec![ty.clone()], ty), "do not type-check");
}

#[test]
fn class07_missing_operands_and_wrong_arity() {
    let mut p = base();
    p.queues[1].commands[1] = relu(u32::MAX, 64, 4);
    bad_command(p, "required operand is absent");
    let add = Op::Binary(Binary { op: BinaryOp::Add });
    kernel_err(with_kernel(add, vec![TensorType::f32(vec![4])], TensorType::f32(vec![4])), "expected 2 inputs");
    let mut p = base();
    p.queues.push(q(Unit::Host, vec![Command::HostCall { kernel: 9 }]));
    assert!(matches!(verify_err(p), VerifyError::BadKernelIndex { kernel: 9, count: 0, .. }));
}

#[test]
fn class08_absent_or_duplicate_names() {
    let mut p = base();
    p.meta.inputs[0].name.clear();
    assert!(matches!(verify_err(p), VerifyError::Io { why, .. } if why == "empty name"));
    let mut p = base();
    p.meta.outputs.push(p.meta.outputs[0].clone());
    assert!(matches!(verify_err(p), VerifyError::Io { kind: "output", why, .. } if why.contains("duplicate")));
    let mut p = base();
    p.debug.layers = vec!["only".into()];
    p.debug.command_layer = vec![vec![0; 2]];
    assert!(matches!(verify_err(p), VerifyError::Debug(_)));
    let mut p = base();
    p.debug.layers = vec!["only".into()];
    p.debug.layer_macs = vec![1, 2];
    assert!(matches!(verify_err(p), VerifyError::Debug(why) if why.contains("layer_macs")));
}

/// Layer MACs at the u64 limit (format 5.2's debug map) saturate the report's sums instead of overflowing.
#[test]
fn class08_extreme_layer_macs_saturate_the_report() {
    let onnx = accel_modelgen::to_bytes(&accel_modelgen::zoo::tiny_cnn(16, 16, 3).expect("model"));
    let mut p = accel_tests::harness::compile(&onnx, &Target::x1(), &[]).program().clone();
    p.debug.layer_macs = vec![u64::MAX; p.debug.layers.len()];
    let mut s = Session::load(&blob(&p)).expect("loads");
    let report = s.run_timing_only().expect("runs").0;
    assert_eq!(report.macs, u64::MAX, "the sum saturates");
    assert!(report.executed_macs > 0 && report.executed_macs < u64::MAX);
}

#[test]
fn class09_degenerate_attributes() {
    let pool = |stride: u16| Command::Pool {
        kind: PoolCode(PoolKind::Max),
        src: SramAddr(0),
        dst: SramAddr(64),
        c: 1,
        in_h: 2,
        in_w: 2,
        out_h: 1,
        out_w: 1,
        kernel_h: 2,
        kernel_w: 2,
        stride_h: stride,
        stride_w: 1,
        pad_top: 0,
        pad_left: 0,
        pad_bottom: 0,
        pad_right: 0,
    };
    let mut p = base();
    p.queues[1].commands[1] = pool(0);
    bad_command(p, "kernel and stride must be >= 1");
    let mut p = base();
    p.queues[1].commands[1] = Command::Binary {
        op: BinCode(BinaryOp::Div),
        a: SramAddr(0),
        b: SramAddr(0),
        dst: SramAddr(64),
        len: 4,
        b_period: 0,
        b_repeat: 1,
    };
    bad_command(p, "b_period and b_repeat must be >= 1");
}

#[test]
fn class10_long_flat_programs_verify_without_recursion() {
    // 50k signal/wait pairs ping-ponging between two queues: the wait checker is a worklist, not recursion.
    let n = 50_000u32;
    let mut p = base();
    p.meta.semaphores = 2;
    p.queues = vec![
        q(Unit::Mac, (1..=n).flat_map(|i| [Command::Signal { sem: 0 }, Command::Wait { sem: 1, value: i }]).collect()),
        q(
            Unit::Vector,
            (1..=n).flat_map(|i| [Command::Wait { sem: 0, value: i }, Command::Signal { sem: 1 }]).collect(),
        ),
    ];
    let mut s = Session::load(&blob(&p)).unwrap();
    s.set_step_budget(None);
    s.run(&x()).unwrap();
}

#[test]
fn class12_no_sentinels_through_the_file() {
    // f32 compute takes no requantization parameters: a quant operand is refused, not ignored.
    let mut p = base();
    p.queues[1].id.unit = Unit::Mac;
    p.queues[1].commands[1] = Command::MatMul {
        dtype: accel_ops::DType::F32,
        a: SramAddr(0),
        b: SramAddr(0),
        bias: SramAddr::NONE,
        quant: SramAddr(128),
        output: SramAddr(64),
        m: 1,
        k: 1,
        n: 1,
        act: Act(None),
    };
    bad_command(p, "quant");
    // An activation parameter that is not finite is refused by the decoder.
    let mut p = base();
    p.queues[1].commands[1] = Command::Unary {
        func: Act(Some(UnaryOp::Clip { min: f32::NAN, max: 6.0 })),
        src: SramAddr(0),
        dst: SramAddr(64),
        len: 4,
    };
    let e = blob_err(&blob(&p));
    assert!(
        matches!(&e, BlobError::Decode { section: "commands", why, .. } if why.contains("activation parameter")),
        "{e}"
    );
}

#[test]
fn class13_every_path_runs_the_verifier() {
    let mut p = base();
    p.queues[2].commands[1] = store(64, 250, 16);
    let e = verify_err(p.clone());
    assert!(matches!(e, VerifyError::DramOutOfBounds { .. }), "{e}");
    assert!(matches!(Session::from_program(p), Err(RuntimeError::Verify(v)) if v == e));
}

#[test]
fn class14_misaligned_addresses_are_read_bytewise() {
    // Input at an odd DRAM address, staged at SRAM offsets that are not multiples of 4: still exact.
    let mut s = Session::load(&blob(&relu_program(65, 131, 2, 70))).unwrap();
    let out = s.run(&x()).unwrap().outputs;
    assert_eq!(out[0].1.as_f32().unwrap(), &[0.0, 2.0, 0.0, 4.0]);
}

#[test]
fn class15_size_limits() {
    let b = blob(&base());
    let e = Session::load_with_limits(&b, &BlobLimits { max_blob_bytes: 100 }).err();
    assert!(matches!(e, Some(RuntimeError::Blob(BlobError::TooLarge { max: 100, .. }))));
    let mut c = b.clone();
    c.extend_from_slice(&[0; 64]);
    seal(&mut c, true);
    assert!(matches!(blob_err(&c), BlobError::Malformed { why, .. } if why.contains("after the last section")));
    // The encoder keeps the decoder's section limit: a structured section over it is an error, not a blob
    // that no runtime would load.
    let mut p = base();
    p.debug.layers = vec!["x".repeat(accel_ops::blob::MAX_SECTION_BYTES)];
    assert!(matches!(encode(&p), Err(BlobError::Encode { section: "debug", .. })));
    // The simulated memories are allocated fallibly: a verified DRAM no allocator can give is an error.
    let mut p = base();
    (p.meta.target.dram.capacity_bytes, p.meta.dram_bytes) = (1 << 62, 1 << 62);
    match Session::load(&blob(&p)) {
        Err(RuntimeError::Exec(ExecError::Alloc { what: "DRAM", bytes })) => assert_eq!(bytes, 1 << 62),
        other => panic!("expected an allocation error, got {:?}", other.err()),
    }
}

#[test]
fn invalid_field_values_name_their_byte_offset() {
    // One queue whose unit code is 9 (there are five units): the error points at the unit byte.
    let mut body = 1u32.to_le_bytes().to_vec();
    body.extend_from_slice(&[0, 0, 9]);
    body.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(decode_queues(&body), Err(DecodeError::InvalidValue { offset: 6, what: "unit", value: 9 }));
    let mut b = blob(&base());
    blob_edit::replace_section(&mut b, blob_edit::COMMANDS, &body);
    assert!(matches!(blob_err(&b), BlobError::Decode { section: "commands", why, .. } if why.contains("unit value 9")));
}

#[test]
fn class16_version_feature_and_target_mismatch_before_the_body() {
    // Not re-sealed: the version is refused before any checksum or body is looked at.
    let mut b = blob(&base());
    b[blob_edit::MINOR..blob_edit::MINOR + 2].copy_from_slice(&(FORMAT_MINOR + 1).to_le_bytes());
    assert_eq!(blob_err(&b), BlobError::Version { major: FORMAT_MAJOR, minor: FORMAT_MINOR + 1 });
    let mut b = blob(&base());
    put_u64(&mut b, blob_edit::FEATURES, 1 << 9);
    assert_eq!(blob_err(&b), BlobError::Features { unknown: 1 << 9 });
    let mut b = blob(&base());
    put_u32(&mut b, blob_edit::HEADER_LEN_FIELD, 64);
    assert!(matches!(blob_err(&b), BlobError::Malformed { offset: 12, .. }));
    // A header fingerprint that does not match the embedded target (sealed, so only the fingerprint is off).
    let mut b = blob(&base());
    put_u64(&mut b, blob_edit::FINGERPRINT, 0x1234);
    seal(&mut b, false);
    assert!(matches!(blob_err(&b), BlobError::Malformed { offset: 24, why } if why.contains("fingerprint")));
}

#[test]
fn class17_dma_footprints_with_wrapping_sums() {
    let sram = Target::x1().tile.sram_bytes;
    // SRAM: an address near u32::MAX is checked in 64 bits, so `addr + len` does not wrap to a small end.
    let mut p = base();
    p.queues[0].commands[0] = load(u32::MAX - 3 - 1, 64, 16);
    match verify_err(p) {
        VerifyError::SramOutOfBounds { start, end, size, .. } => {
            assert_eq!((start, end, size), (0xffff_fffb, 0xffff_fffb + 16, sram));
        }
        e => panic!("{e}"),
    }
    let mut p = base();
    p.queues[0].commands[0] = load(sram as u32 - 8, 64, 16);
    assert!(matches!(verify_err(p), VerifyError::SramOutOfBounds { .. }));
    // DRAM: `dram + len` wraps u64.
    let mut p = base();
    p.queues[2].commands[1] = store(64, u64::MAX - 3, 16);
    bad_command(p, "sizes overflow");
    // A strided copy whose span wraps u64 through its second stride.
    let wrap =
        Copy3 { len: 4, n1: 1, dram_stride1: 0, sram_stride1: 0, n2: 2, dram_stride2: u64::MAX, sram_stride2: 4 };
    let mut p = base();
    p.queues[0].commands[0] = Command::Load { sram: SramAddr(0), dram: DramAddr(64), copy: wrap };
    bad_command(p, "sizes overflow");
    // A span that fits in u64 but not in DRAM.
    let far = Copy3 { dram_stride2: u64::MAX / 2, ..wrap };
    let mut p = base();
    p.queues[0].commands[0] = Command::Load { sram: SramAddr(0), dram: DramAddr(64), copy: far };
    assert!(matches!(verify_err(p), VerifyError::DramOutOfBounds { .. }));
    let mut p = base();
    p.queues[2].commands[1] = store(64, 250, 16);
    assert!(matches!(verify_err(p), VerifyError::DramOutOfBounds { start: 250, end: 266, size: 256, .. }));
}

#[test]
fn semaphore_waits_that_can_never_be_satisfied() {
    let mut p = base();
    p.queues[2].commands[0] = Command::Wait { sem: 1, value: 5 };
    let e = verify_err(p);
    assert!(matches!(e, VerifyError::UnsatisfiableWait { sem: 1, value: 5, reachable: 1, .. }), "{e}");
}

#[test]
fn a_step_budget_stops_runaway_execution() {
    let mut s = Session::load(&blob(&base())).unwrap();
    s.set_step_budget(Some(3));
    match s.run(&x()) {
        Err(RuntimeError::Exec(ExecError::StepBudget { budget: 3, .. })) => {}
        other => panic!("expected the step budget to stop the run, got {other:?}"),
    }
    // The default budget is the program's command count: every command runs once, so a valid run fits.
    s.set_step_budget(None);
    s.run(&x()).unwrap();
}
