//! The text form of a kernel (`Display`): one line per buffer and per instruction, loop bodies indented, values
//! named `%index`. Deterministic, for snapshots, error messages and `--emit` printers.
use super::{BufKind, Const, Inst, Kernel};
use std::fmt;

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "kernel {}", self.name)?;
        for (i, b) in self.buffers.iter().enumerate() {
            let kind = match &b.kind {
                BufKind::Input => "in",
                BufKind::Output => "out",
                BufKind::Const(_) => "const",
            };
            writeln!(f, "  buf{i}: {kind} {}[{}]", b.dtype, b.len)?;
        }
        let mut depth = 1usize;
        for (at, inst) in self.insts.iter().enumerate() {
            if matches!(inst, Inst::End { .. }) {
                depth = depth.saturating_sub(1);
            }
            write!(f, "{:width$}", "", width = 2 * depth)?;
            match inst {
                Inst::Loop { extent } => writeln!(f, "%{at} = loop {extent} {{")?,
                Inst::Reduce { op, extent } => writeln!(f, "%{at} = reduce.{op:?} {extent} {{")?,
                Inst::End { value: None } => writeln!(f, "}}")?,
                Inst::End { value: Some(v) } => writeln!(f, "}} %{at} = reduced %{}", v.0)?,
                Inst::Const(c) => match *c {
                    Const::F32(bits) => writeln!(f, "%{at} = f32 {:?}", f32::from_bits(bits))?,
                    Const::I32(x) => writeln!(f, "%{at} = i32 {x}")?,
                    Const::I64(x) => writeln!(f, "%{at} = i64 {x}")?,
                    Const::Bool(x) => writeln!(f, "%{at} = bool {x}")?,
                },
                Inst::Load { buf, index } => writeln!(f, "%{at} = load buf{}[%{}]", buf.0, index.0)?,
                Inst::Store { buf, index, value } => writeln!(f, "store buf{}[%{}] = %{}", buf.0, index.0, value.0)?,
                Inst::Copy { dst, dst_index, src, src_index } => {
                    writeln!(f, "copy buf{}[%{}] = buf{}[%{}]", dst.0, dst_index.0, src.0, src_index.0)?
                }
                Inst::Unary { op, x } => writeln!(f, "%{at} = {op:?} %{}", x.0)?,
                Inst::Binary { op, a, b } => writeln!(f, "%{at} = {op:?} %{}, %{}", a.0, b.0)?,
                Inst::Compare { op, a, b } => writeln!(f, "%{at} = cmp.{op:?} %{}, %{}", a.0, b.0)?,
                Inst::Select { cond, then, otherwise } => {
                    writeln!(f, "%{at} = select %{} ? %{} : %{}", cond.0, then.0, otherwise.0)?
                }
                Inst::Cast { to, x } => writeln!(f, "%{at} = cast.{to:?} %{}", x.0)?,
                Inst::CheckIndex { index, len, mode } => writeln!(f, "%{at} = check.{mode:?} %{} < {len}", index.0)?,
            }
            if matches!(inst, Inst::Loop { .. } | Inst::Reduce { .. }) {
                depth += 1;
            }
        }
        Ok(())
    }
}
