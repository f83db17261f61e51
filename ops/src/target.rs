//! The accelerator description: a TOML file (or a built-in preset) with tiles, MAC arrays, SRAM, DRAM, the
//! interconnect, the clock, energy costs and which operators the tiles run. Validated once, on load.
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a target description was rejected; always names the field.
#[derive(Debug, Error)]
pub enum TargetError {
    #[error("target file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("target: {0}")]
    Parse(String),
    #[error("target field `{field}`: {why}")]
    Field { field: &'static str, why: String },
    #[error("unknown target preset `{0}` (built in: x1, x16; or give a path to a .toml file)")]
    UnknownPreset(String),
}

/// A whole accelerator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub name: String,
    pub clock_ghz: f64,
    pub tiles: u32,
    pub tile: TileSpec,
    pub dram: DramSpec,
    pub noc: NocSpec,
    pub host: HostSpec,
    pub energy: EnergySpec,
}

/// One tile: a MAC array, a vector unit and local SRAM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TileSpec {
    pub int8_macs_per_cycle: u32,
    pub bf16_macs_per_cycle: u32,
    pub fp32_macs_per_cycle: u32,
    pub sram_bytes: u64,
    pub vector_lanes: u32,
    /// Operator kinds (as `Op::kind` names them) that run on the tiles.
    pub ops: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DramSpec {
    pub bandwidth_gb_per_s: f64,
    pub capacity_bytes: u64,
    pub latency_cycles: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Topology {
    Ring,
    Mesh,
    Crossbar,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NocSpec {
    pub topology: Topology,
    pub link_bytes_per_cycle: u32,
    pub hop_latency_cycles: u32,
}

/// The host CPU running fallback kernels, for estimates only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    pub gflops: f64,
    pub link_gb_per_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnergySpec {
    pub mac_int8_pj: f64,
    pub mac_bf16_pj: f64,
    pub mac_fp32_pj: f64,
    pub vector_op_pj: f64,
    pub sram_byte_pj: f64,
    pub dram_byte_pj: f64,
    pub noc_byte_pj: f64,
}

const PRESETS: &[(&str, &str)] =
    &[("x1", include_str!("../targets/x1.toml")), ("x16", include_str!("../targets/x16.toml"))];

/// Upper bounds that keep a hostile target file from asking the simulator for absurd memories.
const MAX_TILES: u32 = 1024;
const MAX_SRAM_BYTES: u64 = 1 << 30;

impl Target {
    /// A built-in preset by name.
    pub fn preset(name: &str) -> Result<Target, TargetError> {
        let (_, text) =
            PRESETS.iter().find(|(n, _)| *n == name).ok_or_else(|| TargetError::UnknownPreset(name.into()))?;
        Target::from_toml(text)
    }

    /// Names of the built-in presets.
    pub fn preset_names() -> Vec<&'static str> {
        PRESETS.iter().map(|(n, _)| *n).collect()
    }

    /// The default target, `x1`.
    pub fn x1() -> Target {
        match Target::preset("x1") {
            Ok(t) => t,
            Err(e) => unreachable!("the embedded x1 preset is valid (tested): {e}"),
        }
    }

    /// A preset name or a path to a TOML file.
    pub fn resolve(name_or_path: &str) -> Result<Target, TargetError> {
        if name_or_path.ends_with(".toml") || name_or_path.contains('/') {
            let text = std::fs::read_to_string(name_or_path)
                .map_err(|source| TargetError::Io { path: name_or_path.into(), source })?;
            Target::from_toml(&text)
        } else {
            Target::preset(name_or_path)
        }
    }

    /// Parses and validates a TOML description.
    pub fn from_toml(text: &str) -> Result<Target, TargetError> {
        let t: Target = toml::from_str(text).map_err(|e| TargetError::Parse(e.to_string()))?;
        t.validate()?;
        Ok(t)
    }

    fn validate(&self) -> Result<(), TargetError> {
        fn positive(field: &'static str, v: f64) -> Result<(), TargetError> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(TargetError::Field { field, why: format!("must be a finite number > 0, got {v}") })
            }
        }
        fn nonneg(field: &'static str, v: f64) -> Result<(), TargetError> {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(TargetError::Field { field, why: format!("must be a finite number >= 0, got {v}") })
            }
        }
        positive("clock_ghz", self.clock_ghz)?;
        if self.tiles == 0 || self.tiles > MAX_TILES {
            return Err(TargetError::Field {
                field: "tiles",
                why: format!("must be 1..={MAX_TILES}, got {}", self.tiles),
            });
        }
        positive("tile.int8_macs_per_cycle", self.tile.int8_macs_per_cycle as f64)?;
        positive("tile.bf16_macs_per_cycle", self.tile.bf16_macs_per_cycle as f64)?;
        positive("tile.fp32_macs_per_cycle", self.tile.fp32_macs_per_cycle as f64)?;
        positive("tile.vector_lanes", self.tile.vector_lanes as f64)?;
        if self.tile.sram_bytes < 64 * 1024 || self.tile.sram_bytes > MAX_SRAM_BYTES || self.tile.sram_bytes % 64 != 0 {
            return Err(TargetError::Field {
                field: "tile.sram_bytes",
                why: format!("must be a multiple of 64 in 64 KiB..=1 GiB, got {}", self.tile.sram_bytes),
            });
        }
        positive("dram.bandwidth_gb_per_s", self.dram.bandwidth_gb_per_s)?;
        if self.dram.capacity_bytes < 1 << 20 {
            return Err(TargetError::Field { field: "dram.capacity_bytes", why: "must be at least 1 MiB".into() });
        }
        positive("noc.link_bytes_per_cycle", self.noc.link_bytes_per_cycle as f64)?;
        positive("host.gflops", self.host.gflops)?;
        positive("host.link_gb_per_s", self.host.link_gb_per_s)?;
        let e = &self.energy;
        for (field, v) in [
            ("energy.mac_int8_pj", e.mac_int8_pj),
            ("energy.mac_bf16_pj", e.mac_bf16_pj),
            ("energy.mac_fp32_pj", e.mac_fp32_pj),
            ("energy.vector_op_pj", e.vector_op_pj),
            ("energy.sram_byte_pj", e.sram_byte_pj),
            ("energy.dram_byte_pj", e.dram_byte_pj),
            ("energy.noc_byte_pj", e.noc_byte_pj),
        ] {
            nonneg(field, v)?;
        }
        Ok(())
    }

    /// DRAM bytes moved per clock cycle.
    pub fn dram_bytes_per_cycle(&self) -> f64 {
        self.dram.bandwidth_gb_per_s / self.clock_ghz
    }

    /// Whether the tiles run an operator kind.
    pub fn tile_supports(&self, kind: &str) -> bool {
        self.tile.ops.iter().any(|o| o == kind)
    }

    /// Cycles to milliseconds at this target's clock.
    pub fn cycles_to_ms(&self, cycles: u64) -> f64 {
        cycles as f64 / (self.clock_ghz * 1e6)
    }

    /// A stable 64-bit fingerprint (FNV-1a of the canonical TOML form): a blob is only valid for its target.
    pub fn fingerprint(&self) -> u64 {
        let canonical = toml::to_string(self).unwrap_or_default();
        canonical.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_and_match_the_reference_part() {
        let x1 = Target::x1();
        assert_eq!(x1.tiles, 4);
        assert_eq!(x1.tile.int8_macs_per_cycle, 1024);
        assert_eq!(x1.tile.sram_bytes * x1.tiles as u64, 8 << 20);
        let x16 = Target::preset("x16").unwrap();
        assert!(x16.tiles > x1.tiles && x16.dram.bandwidth_gb_per_s > x1.dram.bandwidth_gb_per_s);
        assert_ne!(x1.fingerprint(), x16.fingerprint());
    }

    #[test]
    fn invalid_fields_are_named() {
        let text = include_str!("../targets/x1.toml").replace("tiles = 4", "tiles = 0");
        let err = Target::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("`tiles`"), "{err}");
        let text = include_str!("../targets/x1.toml").replace("bandwidth_gb_per_s = 17.1", "bandwidth_gb_per_s = -1.0");
        let err = Target::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("dram.bandwidth_gb_per_s"), "{err}");
        let text = include_str!("../targets/x1.toml").replace("clock_ghz", "clock_mhz");
        assert!(Target::from_toml(&text).unwrap_err().to_string().contains("clock"));
        assert!(Target::preset("nope").is_err());
    }
}
