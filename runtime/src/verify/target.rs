//! Sanity bounds on the target embedded in a blob. The blob carries the target as data, so it gets the same
//! checks a TOML target gets in `accel_ops::target` (whose validator is private), plus simulator policy caps.
use super::VerifyError;
use accel_ops::target::Target;

/// Most tiles a target may declare (same cap as `accel_ops::target`).
const MAX_TILES: u32 = 1024;
/// Largest tile SRAM (same cap as `accel_ops::target`).
const MAX_SRAM_BYTES: u64 = 1 << 30;
const MIN_SRAM_BYTES: u64 = 64 * 1024;

fn field(field: &'static str, why: String) -> VerifyError {
    VerifyError::Target { field, why }
}

/// A rate that the cost model divides by: finite and bounded away from zero and infinity.
fn rate(name: &'static str, v: f64) -> Result<(), VerifyError> {
    if v.is_finite() && (1e-6..=1e9).contains(&v) {
        Ok(())
    } else {
        Err(field(name, format!("must be a finite number in 1e-6..=1e9, got {v}")))
    }
}

fn nonneg(name: &'static str, v: f64) -> Result<(), VerifyError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(field(name, format!("must be a finite number >= 0, got {v}")))
    }
}

fn positive_int(name: &'static str, v: u32) -> Result<(), VerifyError> {
    if v > 0 {
        Ok(())
    } else {
        Err(field(name, "must be >= 1".into()))
    }
}

/// Checks every field the simulator and the cost model compute with.
pub(super) fn check_target(t: &Target) -> Result<(), VerifyError> {
    rate("clock_ghz", t.clock_ghz)?;
    if t.tiles == 0 || t.tiles > MAX_TILES {
        return Err(field("tiles", format!("must be 1..={MAX_TILES}, got {}", t.tiles)));
    }
    positive_int("tile.int8_macs_per_cycle", t.tile.int8_macs_per_cycle)?;
    positive_int("tile.bf16_macs_per_cycle", t.tile.bf16_macs_per_cycle)?;
    positive_int("tile.fp32_macs_per_cycle", t.tile.fp32_macs_per_cycle)?;
    positive_int("tile.vector_lanes", t.tile.vector_lanes)?;
    let sram = t.tile.sram_bytes;
    if !(MIN_SRAM_BYTES..=MAX_SRAM_BYTES).contains(&sram) || sram % 64 != 0 {
        return Err(field("tile.sram_bytes", format!("must be a multiple of 64 in 64 KiB..=1 GiB, got {sram}")));
    }
    rate("dram.bandwidth_gb_per_s", t.dram.bandwidth_gb_per_s)?;
    if t.dram.capacity_bytes < 1 << 20 {
        return Err(field("dram.capacity_bytes", "must be at least 1 MiB".into()));
    }
    positive_int("noc.link_bytes_per_cycle", t.noc.link_bytes_per_cycle)?;
    rate("host.gflops", t.host.gflops)?;
    rate("host.link_gb_per_s", t.host.link_gb_per_s)?;
    let e = &t.energy;
    for (name, v) in [
        ("energy.mac_int8_pj", e.mac_int8_pj),
        ("energy.mac_bf16_pj", e.mac_bf16_pj),
        ("energy.mac_fp32_pj", e.mac_fp32_pj),
        ("energy.vector_op_pj", e.vector_op_pj),
        ("energy.sram_byte_pj", e.sram_byte_pj),
        ("energy.dram_byte_pj", e.dram_byte_pj),
        ("energy.noc_byte_pj", e.noc_byte_pj),
    ] {
        nonneg(name, v)?;
    }
    Ok(())
}
