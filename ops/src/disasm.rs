//! The schedule printer: deterministic text of a program, one command per line, grouped by queue, with DRAM
//! addresses named by buffer and each command's layer. `accelc --emit schedule` and `accelrt dis` print this.
use crate::command::{Command, Field};
use crate::program::{NamedRegion, Program};
use std::fmt::Write;

/// Names a DRAM address as `buffer+offset` when a region contains it.
fn name_dram(regions: &[NamedRegion], addr: u64) -> Option<String> {
    let r = regions.iter().find(|r| addr >= r.start && addr - r.start < r.len.max(1))?;
    let off = addr - r.start;
    Some(if off == 0 { r.name.clone() } else { format!("{}+{off:#x}", r.name) })
}

/// One line per command: `  #index mnemonic field=value ...`, with a `; layer` line whenever the layer changes.
pub fn disassemble(p: &Program) -> String {
    let mut out = String::new();
    let m = &p.meta;
    let _ = writeln!(
        out,
        "; accel program for target {} ({} tiles), compiler {}",
        m.target_name, m.target.tiles, m.compiler_version
    );
    let _ = writeln!(out, "; options: {}", m.options);
    let _ = writeln!(
        out,
        "; dram: {} bytes ({} of constants), {} semaphores",
        m.dram_bytes,
        p.constants.len(),
        m.semaphores
    );
    for io in &m.inputs {
        let _ = writeln!(out, "; input  {} {} at d:{:#x}", io.name, io.ty, io.dram);
    }
    for io in &m.outputs {
        let _ = writeln!(out, "; output {} {} at d:{:#x}", io.name, io.ty, io.dram);
    }
    for (k, kernel) in p.kernels.iter().enumerate() {
        let ins: Vec<String> = kernel.inputs.iter().map(|t| format!("{}@d:{:#x}", t.ty, t.dram)).collect();
        let _ = writeln!(
            out,
            "; kernel {k}: {}{} ({}) -> {}@d:{:#x}",
            kernel.what(),
            if kernel.is_fallback() { " [operator form]" } else { "" },
            ins.join(", "),
            kernel.output.ty,
            kernel.output.dram
        );
    }
    for (qi, q) in p.queues.iter().enumerate() {
        let _ = writeln!(out, "{}:", q.id);
        let mut current_layer = None;
        for (ci, cmd) in q.commands.iter().enumerate() {
            let layer = p.debug.command_layer.get(qi).and_then(|l| l.get(ci)).copied();
            if layer != current_layer {
                current_layer = layer;
                let name = layer.and_then(|i| p.debug.layers.get(i as usize)).map_or("?", |s| s.as_str());
                let _ = writeln!(out, "  ; {name}");
            }
            let _ = write!(out, "  #{ci:<4} {:<12}", cmd.mnemonic());
            for (name, value) in cmd.fields() {
                let _ = write!(out, " {name}={value}");
            }
            if let Command::Load { dram, .. } | Command::Store { dram, .. } | Command::Multicast { dram, .. } = cmd {
                if let Some(n) = name_dram(&p.debug.dram_buffers, dram.0) {
                    let _ = write!(out, " [{n}]");
                }
            }
            if let Command::HostCall { kernel } = cmd {
                let _ = write!(out, " [{}]", p.kernels.get(*kernel as usize).map_or("?", |k| k.what()));
            }
            out.push('\n');
        }
    }
    out
}

/// Shows a field value the way the disassembler does (for other printers).
pub fn show<F: Field>(f: &F) -> String {
    f.show()
}
