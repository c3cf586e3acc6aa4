//! The bench's runs as typed plans: each one a [`RunConfig`] built from
//! [`RunConfig::defaults`] with the fields the bench measures changed, validated as a config
//! from the flags is, and its schedule generated from it. Typed fields, not a command line:
//! a renamed flag cannot silently change what the bench measures.
//!
//! Two kinds of run:
//! - [`Measured`]: fault free (no nemesis), one proposer an instance, no revisits, so every
//!   op starts a new instance and the figures compare with those measured before revisits
//!   existed; nodes, concurrency and one [`Variant`] change between runs;
//! - [`disk_config`]: the default settings (every fault, 5 nodes) at a fixed seed, for a
//!   history's bytes on disk (history.rs).

use crate::nemesis::{check_power, NemesisConfig, Schedule};
use crate::run::config::{RunConfig, Trace};
use anyhow::Result;
use std::path::Path;
use synod_checker::HistoryFormat;

/// What a measured run changes besides its nodes and concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Everything else as in the plain fault-free run.
    Plain,
    /// No fast round: both phases of every ballot are run and measured.
    TwoPhase,
    /// The history records ops, learns and faults only, not every message.
    TraceOps,
    /// A plain (uncompressed) history.
    Jsonl,
    /// The data dirs on the lazy filesystem.
    LazyFs,
}

impl Variant {
    /// How the progress line names it: the flag of `synod run` that does the same.
    pub fn label(self) -> &'static str {
        match self {
            Variant::Plain => "",
            Variant::TwoPhase => "--no-fast-round",
            Variant::TraceOps => "--trace ops",
            Variant::Jsonl => "--history-format jsonl",
            Variant::LazyFs => "--lazy-fs",
        }
    }

    fn apply(self, cfg: &mut RunConfig) {
        match self {
            Variant::Plain => {}
            Variant::TwoPhase => cfg.tuning.fast_round = false,
            Variant::TraceOps => cfg.trace = Trace::Ops,
            Variant::Jsonl => cfg.history_format = HistoryFormat::Jsonl,
            Variant::LazyFs => cfg.lazy_fs = true,
        }
    }
}

/// One fault-free measured run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured {
    pub nodes: u32,
    pub concurrency: usize,
    pub variant: Variant,
}

// The measured runs, named as bench.json names their figures.
pub const N3: Measured = Measured::new(3, 1, Variant::Plain);
pub const N5: Measured = Measured::new(5, 1, Variant::Plain);
pub const N3_TWO_PHASE: Measured = Measured::new(3, 1, Variant::TwoPhase);
pub const C1: Measured = Measured::new(3, 1, Variant::Plain);
pub const C16: Measured = Measured::new(3, 16, Variant::Plain);
pub const C64: Measured = Measured::new(3, 64, Variant::Plain);
pub const C256: Measured = Measured::new(3, 256, Variant::Plain);
pub const C64_TRACE_OPS: Measured = Measured::new(3, 64, Variant::TraceOps);
pub const C64_TWO_PHASE: Measured = Measured::new(3, 64, Variant::TwoPhase);
pub const C64_JSONL: Measured = Measured::new(3, 64, Variant::Jsonl);
pub const LAZY_FS_N3: Measured = Measured::new(3, 1, Variant::LazyFs);
pub const LAZY_FS_C64: Measured = Measured::new(3, 64, Variant::LazyFs);

impl Measured {
    pub const fn new(nodes: u32, concurrency: usize, variant: Variant) -> Measured {
        Measured { nodes, concurrency, variant }
    }

    /// The run's config: no faults, contention 1, no revisits, quiet, in `runs_dir`.
    pub fn config(self, runs_dir: &Path, time_s: f64, seed: u64) -> RunConfig {
        let mut cfg = RunConfig::defaults(self.nodes, seed);
        cfg.nemesis = NemesisConfig { faults: Vec::new(), ..NemesisConfig::default() };
        cfg.contention = 1;
        cfg.revisit = 0.0;
        cfg.concurrency = self.concurrency;
        cfg.time_s = time_s;
        cfg.runs_dir = runs_dir.to_path_buf();
        cfg.quiet = true;
        self.variant.apply(&mut cfg);
        cfg
    }
}

/// The seed of both default-settings runs: one schedule, two ways to store its history.
pub const DISK_RUN_SEED: u64 = 16;

/// The default settings for `time_s` seconds at [`DISK_RUN_SEED`], the history stored as
/// `format`, quiet, in `runs_dir`. Every fault, but without FUSE here the power faults are
/// left out (with the warning `--nemesis all` gives).
pub fn disk_config(runs_dir: &Path, time_s: f64, format: HistoryFormat) -> Result<RunConfig> {
    let mut cfg = RunConfig::defaults(5, DISK_RUN_SEED);
    let warning = check_power("all", &mut cfg.nemesis.faults, crate::lazyfs::available)
        .map_err(|e| anyhow::anyhow!("--nemesis: {e}"))?;
    if let Some(warning) = warning {
        tracing::warn!("--nemesis: {warning}");
    }
    cfg.time_s = time_s;
    cfg.history_format = format;
    cfg.runs_dir = runs_dir.to_path_buf();
    cfg.quiet = true;
    Ok(cfg)
}

/// `cfg` held to the bounds of a config from the flags, and its generated schedule: what
/// `synod run` plans from the same settings.
pub fn plan(cfg: RunConfig) -> Result<(RunConfig, Schedule)> {
    let (cfg, schedule) = crate::plan::generated(cfg)?;
    // Power faults are only planned where the lazy filesystem mounts (`disk_config`).
    crate::plan::require_power(&schedule, "--schedule")?;
    if cfg.lazy_fs {
        crate::lazyfs::available().map_err(|why| anyhow::anyhow!("--lazy-fs: {why}"))?;
    }
    Ok((cfg, schedule))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_out_of_bounds_is_refused_with_its_flag() {
        let runs = std::env::temp_dir().join("synod-bench-plan");
        let e = plan(C64.config(&runs, 1e20, 1)).unwrap_err().to_string();
        assert!(e.starts_with("--time 1e20: must be"), "{e}");
    }
}
