//! `accelrt` on hostile blob files: the size limit (`--max-blob-bytes`, checked before reading), the verifier on
//! every subcommand that reads a program (`run`, `run --timing-only`, `dis`; `info` reports its verdict) and the
//! step budget. Each refusal is one error paragraph that says why, never a panic.
use accel_ops::blob::encode;
use accel_ops::command::{Act, Command, Copy3, DramAddr, Queue, QueueId, SramAddr, Unit};
use accel_ops::op::UnaryOp;
use accel_ops::program::{DebugInfo, IoDesc, Meta, Program};
use accel_ops::target::Target;
use accel_ops::TensorType;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Output};

/// A scratch folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("accelrt-limits-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("cannot create a temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn q(unit: Unit, commands: Vec<Command>) -> Queue {
    Queue { id: QueueId { tile: 0, unit }, commands }
}

/// `y = relu(x)` for `x: f32[4]`, through SRAM: 7 commands on three queues.
fn relu_program() -> Program {
    let ty = TensorType::f32(vec![4]);
    let copy = Copy3::contiguous(16);
    Program {
        meta: Meta {
            target: Target::x1(),
            compiler_version: "accelrt-limits".into(),
            target_name: "x1".into(),
            options: String::new(),
            inputs: vec![IoDesc { name: "x".into(), ty: ty.clone(), dram: 0 }],
            outputs: vec![IoDesc { name: "y".into(), ty, dram: 64 }],
            dram_bytes: 128,
            semaphores: 2,
            stages: Vec::new(),
        },
        queues: vec![
            q(
                Unit::DmaIn,
                vec![Command::Load { sram: SramAddr(0), dram: DramAddr(0), copy }, Command::Signal { sem: 0 }],
            ),
            q(
                Unit::Vector,
                vec![
                    Command::Wait { sem: 0, value: 1 },
                    Command::Unary { func: Act(Some(UnaryOp::Relu)), src: SramAddr(0), dst: SramAddr(64), len: 4 },
                    Command::Signal { sem: 1 },
                ],
            ),
            q(
                Unit::DmaOut,
                vec![
                    Command::Wait { sem: 1, value: 1 },
                    Command::Store { sram: SramAddr(64), dram: DramAddr(64), copy },
                ],
            ),
        ],
        constants: vec![],
        kernels: vec![],
        debug: DebugInfo::default(),
    }
}

fn write_blob(dir: &Path, name: &str, p: &Program) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, encode(p).expect("the program encodes")).expect("cannot write the blob");
    path
}

fn accelrt(args: &[&str], blob: &Path) -> Output {
    Process::new(env!("CARGO_BIN_EXE_accelrt")).args(args).arg(blob).output().expect("cannot start accelrt")
}

/// Asserts that `accelrt` failed with an error containing every one of `needles` and printed no program.
fn refused(o: &Output, needles: &[&str]) {
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "accelrt succeeded; stderr:\n{e}");
    assert!(!e.contains("panicked") && !e.contains("internal error"), "{e}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("dma.load"), "a refused program was printed");
    for n in needles {
        assert!(e.contains(n), "the error lacks {n:?}:\n{e}");
    }
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn max_blob_bytes_is_checked_before_reading_on_every_subcommand() {
    let tmp = TempDir::new("size");
    let blob = write_blob(&tmp.0, "relu.bin", &relu_program());
    let len = std::fs::metadata(&blob).expect("the blob exists").len();
    let (len_s, short) = (len.to_string(), (len - 1).to_string());
    let too_large = format!("blob of {len} bytes exceeds the limit of {short}");
    for sub in [&["run", "--random-inputs", "1"][..], &["dis"], &["info"]] {
        let mut args = sub.to_vec();
        args.extend(["--max-blob-bytes", short.as_str()]);
        refused(&accelrt(&args, &blob), &[&too_large, "--max-blob-bytes"]);
        let mut args = sub.to_vec();
        args.extend(["--max-blob-bytes", len_s.as_str()]);
        ok(&accelrt(&args, &blob));
    }
}

#[test]
fn every_subcommand_that_reads_a_program_runs_the_verifier() {
    let tmp = TempDir::new("verify");
    // A store past the end of DRAM: the blob decodes (its checksums are right) but must not verify.
    let mut p = relu_program();
    p.queues[2].commands[1] = Command::Store { sram: SramAddr(64), dram: DramAddr(120), copy: Copy3::contiguous(16) };
    let bad = write_blob(&tmp.0, "bad.bin", &p);
    let why = "touches DRAM bytes 120..136, outside the program's 128 bytes";
    refused(&accelrt(&["run", "--random-inputs", "1"], &bad), &["rejected by the verifier", why]);
    refused(&accelrt(&["run", "--timing-only"], &bad), &["rejected by the verifier", why]);
    refused(&accelrt(&["dis"], &bad), &["does not verify", why]);
    let info = accelrt(&["info"], &bad);
    refused(&info, &["does not verify", why]);
    assert!(String::from_utf8_lossy(&info.stdout).contains("verifier    rejected"));
    // The same program with the store in bounds verifies, disassembles and runs.
    let good = write_blob(&tmp.0, "good.bin", &relu_program());
    assert!(ok(&accelrt(&["dis"], &good)).contains("dma.store"));
    assert!(ok(&accelrt(&["info"], &good)).contains("verifier    ok"));
    ok(&accelrt(&["run", "--random-inputs", "1"], &good));
}

#[test]
fn the_step_budget_stops_a_run_with_an_error() {
    let tmp = TempDir::new("budget");
    let blob = write_blob(&tmp.0, "relu.bin", &relu_program());
    for mode in [&["--random-inputs", "1"][..], &["--timing-only"]] {
        let mut args = vec!["run", "--step-budget", "3"];
        args.extend(mode);
        refused(&accelrt(&args, &blob), &["step budget of 3 commands exhausted"]);
        let mut args = vec!["run", "--step-budget", "7"];
        args.extend(mode);
        ok(&accelrt(&args, &blob));
    }
}
