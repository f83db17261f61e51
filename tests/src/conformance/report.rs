//! The run's report: totals per engine (all cases and real-model cases), per-operator pass counts, the cases
//! tract passes and accel does not (grouped by operator), and every panic or crash (bugs to fix). Rendered as
//! markdown (printed and written) and JSON. Everything iterates in case-name order: the output is deterministic.
use super::real_ops::is_real_model_case;
use super::Outcome;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Both engines' outcomes on one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    pub ops: Vec<String>,
    pub opset: i64,
    pub accel: Outcome,
    pub tract: Outcome,
}

impl CaseResult {
    pub fn real_model(&self) -> bool {
        is_real_model_case(&self.ops)
    }

    /// The operator a case is filed under: its one operator, or its operators joined with `+` (function-expanded
    /// cases hold several).
    pub fn group(&self) -> String {
        let mut ops = self.ops.clone();
        ops.sort();
        if ops.is_empty() {
            "(no nodes)".into()
        } else {
            ops.join("+")
        }
    }
}

/// Counts of each outcome kind for one engine.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub cases: usize,
    pub pass: usize,
    /// Of `pass`, those that needed inputs frozen (`Outcome::PassFrozen`).
    pub frozen: usize,
    pub fail: usize,
    pub unsupported: usize,
    pub error: usize,
    pub panic: usize,
    pub crash: usize,
    pub timeout: usize,
}

impl Totals {
    pub fn of<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> Totals {
        let mut t = Totals::default();
        for o in outcomes {
            t.cases += 1;
            match o {
                Outcome::Pass => t.pass += 1,
                Outcome::PassFrozen(_) => {
                    t.pass += 1;
                    t.frozen += 1
                }
                Outcome::Fail(_) => t.fail += 1,
                Outcome::Unsupported(_) => t.unsupported += 1,
                Outcome::Error(_) => t.error += 1,
                Outcome::Panic(_) => t.panic += 1,
                Outcome::Crash(_) => t.crash += 1,
                Outcome::Timeout => t.timeout += 1,
            }
        }
        t
    }

    fn row(&self, label: &str) -> String {
        format!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} |\n",
            self.cases,
            self.pass,
            self.frozen,
            self.fail,
            self.unsupported,
            self.error,
            self.panic + self.crash + self.timeout
        )
    }

    fn json(&self) -> serde_json::Value {
        json!({"cases": self.cases, "pass": self.pass, "frozen": self.frozen, "fail": self.fail, "unsupported": self.unsupported,
               "error": self.error, "panic": self.panic, "crash": self.crash, "timeout": self.timeout})
    }
}

/// The totals for (accel, tract) over the cases `keep` selects.
pub fn totals(results: &[CaseResult], keep: impl Fn(&CaseResult) -> bool) -> (Totals, Totals) {
    let sel: Vec<&CaseResult> = results.iter().filter(|r| keep(r)).collect();
    (Totals::of(sel.iter().map(|r| &r.accel)), Totals::of(sel.iter().map(|r| &r.tract)))
}

/// The markdown report. `header` is printed first (what was run, when).
pub fn markdown(results: &[CaseResult], header: &str) -> String {
    let mut s = String::new();
    let (a, t) = totals(results, |_| true);
    let (ra, rt) = totals(results, CaseResult::real_model);
    let _ = writeln!(s, "{header}\n");
    s.push_str(
        "| engine / cases | cases | pass | of which frozen | fail | unsupported | error | panic/crash/timeout |\n",
    );
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    s.push_str(&a.row("accel, all"));
    s.push_str(&t.row("tract, all"));
    s.push_str(&ra.row("accel, real-model ops"));
    s.push_str(&rt.row("tract, real-model ops"));

    let bugs: Vec<&CaseResult> = results
        .iter()
        .filter(|r| matches!(r.accel, Outcome::Panic(_) | Outcome::Crash(_) | Outcome::Timeout))
        .collect();
    let _ = writeln!(s, "\n## accel panics, crashes and timeouts ({})\n", bugs.len());
    for r in bugs {
        let _ = writeln!(s, "- `{}`: {}", r.name, r.accel);
    }

    let mut gap: BTreeMap<String, Vec<&CaseResult>> = BTreeMap::new();
    for r in results.iter().filter(|r| r.tract.is_pass() && !r.accel.is_pass()) {
        gap.entry(r.group()).or_default().push(r);
    }
    let count: usize = gap.values().map(Vec::len).sum();
    let _ = writeln!(s, "\n## tract passes, accel does not ({count} cases, {} operator groups)\n", gap.len());
    for (op, rs) in &gap {
        let _ = writeln!(s, "- **{op}** ({}):", rs.len());
        for r in rs {
            let _ = writeln!(s, "  - `{}`: {}", r.name, r.accel);
        }
    }

    let mut per_op: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    for r in results {
        let e = per_op.entry(r.group()).or_default();
        e[0] += 1;
        e[1] += usize::from(r.accel.is_pass());
        e[2] += usize::from(r.tract.is_pass());
    }
    s.push_str("\n## per operator\n\n| operator | cases | accel pass | tract pass |\n|---|---:|---:|---:|\n");
    for (op, [n, a, t]) in &per_op {
        let _ = writeln!(s, "| {op} | {n} | {a} | {t} |");
    }
    s
}

/// The machine-readable report: totals and every case's outcomes.
pub fn to_json(results: &[CaseResult], header: &str) -> serde_json::Value {
    let (a, t) = totals(results, |_| true);
    let (ra, rt) = totals(results, CaseResult::real_model);
    let cases: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            json!({"name": r.name, "ops": r.ops, "opset": r.opset, "real_model": r.real_model(),
                   "accel": {"status": r.accel.kind(), "detail": r.accel.detail()},
                   "tract": {"status": r.tract.kind(), "detail": r.tract.detail()}})
        })
        .collect();
    json!({"run": header, "accel": a.json(), "tract": t.json(), "accel_real_model": ra.json(),
           "tract_real_model": rt.json(), "cases": cases})
}
