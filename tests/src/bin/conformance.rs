//! The ONNX backend conformance runner. Regenerate the node cases first (`bash tests/conformance/fetch.sh`), then
//! `cargo run --release -p accel-tests --bin conformance [-- --filter conv,relu] [--real-model-only]`.
//!
//! Each case runs through accel (the `accelc` driver, `x1`, fp32, then `accel_runtime::Session`) and through
//! tract. Cases run in worker processes (this binary with `--worker`), a batch at a time, so that an abort, a
//! stack overflow or a hang in one case costs that case only: the parent records it as a crash or timeout and
//! starts a new worker on the rest of the batch. Prints the markdown report and writes it with a JSON twin.
use accel_tests::conformance::case;
use accel_tests::conformance::engines::{run_accel, run_tract, short};
use accel_tests::conformance::real_ops::is_real_model_case;
use accel_tests::conformance::report::{markdown, to_json, CaseResult};
use accel_tests::conformance::Outcome;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const USAGE: &str = "usage: conformance [--dir DIR] [--filter SUBSTR,...] [--real-model-only] [--out DIR] \
                     [--timeout SECS] [--batch N] [--engines accel,tract] [--write-allow-list FILE]";

struct Args {
    dir: PathBuf,
    filters: Vec<String>,
    real_only: bool,
    out: PathBuf,
    timeout: Duration,
    batch: usize,
    engines: Vec<String>,
    /// Where to write the names of the cases accel passes (CI's regression list,
    /// `tests/conformance/allow-list.txt`).
    allow_list: Option<PathBuf>,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args> {
    let mut a = Args {
        dir: PathBuf::from("target/onnx-node/node"),
        filters: Vec::new(),
        real_only: false,
        out: PathBuf::from("target/conformance"),
        timeout: Duration::from_secs(60),
        batch: 200,
        engines: vec!["accel".into(), "tract".into()],
        allow_list: None,
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--dir" => a.dir = PathBuf::from(value()?),
            "--filter" => a.filters = value()?.split(',').map(str::to_lowercase).collect(),
            "--real-model-only" => a.real_only = true,
            "--out" => a.out = PathBuf::from(value()?),
            "--timeout" => a.timeout = Duration::from_secs(value()?.parse().context("--timeout")?),
            "--batch" => a.batch = value()?.parse::<usize>().context("--batch")?.max(1),
            "--engines" => a.engines = value()?.split(',').map(String::from).collect(),
            "--write-allow-list" => a.allow_list = Some(PathBuf::from(value()?)),
            _ => bail!("unknown argument `{flag}`\n{USAGE}"),
        }
    }
    if let Some(e) = a.engines.iter().find(|e| *e != "accel" && *e != "tract") {
        bail!("unknown engine `{e}` (accel, tract)");
    }
    Ok(a)
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("--worker") {
        args.next();
        return worker(args);
    }
    let a = parse_args(args)?;
    if !a.dir.is_dir() {
        bail!("no cases in `{}`: run `bash tests/conformance/fetch.sh` first (or pass --dir)", a.dir.display());
    }
    let mut results = Vec::new();
    let mut runnable: Vec<String> = Vec::new();
    for d in case::list(&a.dir).with_context(|| format!("listing {}", a.dir.display()))? {
        let name = d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !a.filters.is_empty() && !a.filters.iter().any(|f| name.to_lowercase().contains(f)) {
            continue;
        }
        let r = match case::load(&d) {
            Ok(c) => {
                // Filled in by the engines below (a case whose only opset is another domain's too).
                let o = Outcome::Error("not run".into());
                runnable.push(name.clone());
                CaseResult { name, ops: c.ops, opset: c.opset, accel: o.clone(), tract: o }
            }
            Err(e) => {
                let o = Outcome::Error(short(&format!("loading the case: {e}")));
                CaseResult { name, ops: Vec::new(), opset: 0, accel: o.clone(), tract: o }
            }
        };
        if !a.real_only || is_real_model_case(&r.ops) {
            results.push(r);
        } else if runnable.last() == Some(&r.name) {
            runnable.pop();
        }
    }
    for engine in ["accel", "tract"] {
        let mut outcomes =
            if a.engines.iter().any(|e| e == engine) { run_isolated(engine, &a, &runnable)? } else { BTreeMap::new() };
        for r in results.iter_mut() {
            let Some(o) = outcomes.remove(&r.name) else { continue };
            if engine == "accel" {
                r.accel = o;
            } else {
                r.tract = o;
            }
        }
    }
    let header = format!(
        "# ONNX conformance: {} node cases from `{}`{}{}, {} UTC",
        results.len(),
        a.dir.display(),
        if a.filters.is_empty() { String::new() } else { format!(", filter {}", a.filters.join(",")) },
        if a.real_only { ", real-model ops only" } else { "" },
        utc_now()
    );
    let md = markdown(&results, &header);
    print!("{md}");
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let (md_path, json_path) = (a.out.join("conformance.md"), a.out.join("conformance.json"));
    std::fs::write(&md_path, &md).with_context(|| format!("writing {}", md_path.display()))?;
    let json = serde_json::to_string_pretty(&to_json(&results, &header))?;
    std::fs::write(&json_path, json).with_context(|| format!("writing {}", json_path.display()))?;
    eprintln!("wrote {} and {}", md_path.display(), json_path.display());
    if let Some(path) = &a.allow_list {
        let passing: Vec<&str> = results.iter().filter(|r| r.accel.is_pass()).map(|r| r.name.as_str()).collect();
        let text = format!(
            "# ONNX node cases accel passes; `cargo test` (tests/tests/conformance_allow_list.rs) fails if one\n\
             # stops passing. Regenerated by `conformance --write-allow-list {}` ({} cases).\n{}\n",
            path.display(),
            passing.len(),
            passing.join("\n")
        );
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {} ({} passing cases)", path.display(), passing.len());
    }
    Ok(())
}

/// Runs `engine` on every case in worker processes of `a.batch` cases each; a worker that dies or overruns
/// the time limit is replaced and the rest of its batch goes to the next one.
fn run_isolated(engine: &str, a: &Args, names: &[String]) -> Result<BTreeMap<String, Outcome>> {
    let exe = std::env::current_exe().context("locating this binary")?;
    let mut done: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut rest: Vec<&String> = names.iter().collect();
    while !rest.is_empty() {
        let batch: Vec<&String> = rest.iter().take(a.batch).copied().collect();
        let mut child = Command::new(&exe)
            .arg("--worker")
            .arg(engine)
            .arg(&a.dir)
            .args(batch.iter().map(|s| s.as_str()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting a worker")?;
        let stdout = child.stdout.take().context("worker stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut in_flight: Option<String> = None;
        loop {
            match rx.recv_timeout(a.timeout) {
                Ok(line) => {
                    let parts: Vec<&str> = line.splitn(4, '\t').collect();
                    match parts[..] {
                        ["start", name] => in_flight = Some(name.to_string()),
                        ["done", name, kind, detail] => {
                            let o = Outcome::from_parts(kind, detail)
                                .unwrap_or_else(|| Outcome::Error(format!("worker said `{kind}`")));
                            done.insert(name.to_string(), o);
                            in_flight = None;
                        }
                        _ => {}
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let stuck = in_flight.take().unwrap_or_else(|| batch[0].clone());
                    done.insert(stuck, Outcome::Timeout);
                    break;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().context("waiting for a worker")?;
                    if let Some(name) = in_flight.take() {
                        done.insert(name, Outcome::Crash(format!("worker exited: {status}")));
                    } else if !status.success() && batch.iter().all(|n| !done.contains_key(*n)) {
                        bail!("the worker failed before its first case: {status}");
                    }
                    break;
                }
            }
        }
        rest.retain(|n| !done.contains_key(*n));
        eprintln!("{engine}: {} of {} cases", done.len(), names.len());
    }
    Ok(done)
}

/// `--worker ENGINE DIR CASE...`: runs the named cases in order, one `start` and one `done` line each.
fn worker(mut args: impl Iterator<Item = String>) -> Result<()> {
    let engine = args.next().context("--worker needs an engine")?;
    let dir = PathBuf::from(args.next().context("--worker needs a directory")?);
    // Panics are caught per case and reported as outcomes; the default hook would only add noise.
    std::panic::set_hook(Box::new(|_| {}));
    let mut out = std::io::stdout().lock();
    for name in args {
        writeln!(out, "start\t{name}")?;
        out.flush()?;
        let o = run_one(&engine, &dir.join(&name));
        let detail = o.detail().replace(['\t', '\n', '\r'], " ");
        writeln!(out, "done\t{name}\t{}\t{detail}", o.kind())?;
        out.flush()?;
    }
    Ok(())
}

fn run_one(engine: &str, dir: &Path) -> Outcome {
    match case::load(dir) {
        Err(e) => Outcome::Error(short(&format!("loading the case: {e}"))),
        Ok(c) if engine == "accel" => run_accel(&c),
        Ok(c) => run_tract(&c),
    }
}

/// The current UTC time as `YYYY-MM-DD HH:MM`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", rem / 3600, rem % 3600 / 60)
}
