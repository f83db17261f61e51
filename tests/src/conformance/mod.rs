//! The ONNX backend conformance runner's per-case logic: load a regenerated node case (`model.onnx` and
//! `test_data_set_0/*.pb`), run it through accel's real pipeline and through tract, and compare with the ONNX
//! backend tolerance. The binary (`src/bin/conformance.rs`) adds process isolation and the report; this module
//! must not spawn processes or print, so `tests/tests/conformance_runner.rs` can drive it in-process.
pub mod case;
pub mod compare;
pub mod engines;
pub mod real_ops;
pub mod report;

use std::fmt;

/// What one engine did with one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// Passed once the named integer inputs were frozen to the case's values at compile time (`accelc
    /// --freeze`): operands an ahead-of-time schedule needs as constants (TopK's k, Reduce axes, Range bounds)
    /// that the case feeds as inputs. Counted as a pass and reported apart.
    PassFrozen(String),
    /// Ran, but an output differs (which and where).
    Fail(String),
    /// An operator, input type or opset the engine declines.
    Unsupported(String),
    /// Any other error while loading, compiling or running.
    Error(String),
    /// A panic: a bug in the engine, never a case to hide.
    Panic(String),
    /// The worker process died (abort, stack overflow) while running the case.
    Crash(String),
    /// The case ran past the per-case time limit.
    Timeout,
}

impl Outcome {
    /// The status word used in tables, JSON and the worker protocol.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::PassFrozen(_) => "pass-frozen",
            Outcome::Fail(_) => "fail",
            Outcome::Unsupported(_) => "unsupported",
            Outcome::Error(_) => "error",
            Outcome::Panic(_) => "panic",
            Outcome::Crash(_) => "crash",
            Outcome::Timeout => "timeout",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            Outcome::Pass | Outcome::Timeout => "",
            Outcome::PassFrozen(s)
            | Outcome::Fail(s)
            | Outcome::Unsupported(s)
            | Outcome::Error(s)
            | Outcome::Panic(s)
            | Outcome::Crash(s) => s,
        }
    }

    /// Rebuilds an outcome from `kind` and `detail` (the worker protocol); `None` for an unknown kind.
    pub fn from_parts(kind: &str, detail: &str) -> Option<Outcome> {
        let d = detail.to_string();
        Some(match kind {
            "pass" => Outcome::Pass,
            "pass-frozen" => Outcome::PassFrozen(d),
            "fail" => Outcome::Fail(d),
            "unsupported" => Outcome::Unsupported(d),
            "error" => Outcome::Error(d),
            "panic" => Outcome::Panic(d),
            "crash" => Outcome::Crash(d),
            "timeout" => Outcome::Timeout,
            _ => return None,
        })
    }

    pub fn is_pass(&self) -> bool {
        matches!(self, Outcome::Pass | Outcome::PassFrozen(_))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.detail() {
            "" => f.write_str(self.kind()),
            d => write!(f, "{}({d})", self.kind()),
        }
    }
}
