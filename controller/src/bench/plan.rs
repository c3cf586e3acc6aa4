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
    //! The typed plans are the flag lists the bench passed before them: the same configs.
    use super::*;
    use crate::commands::flags::{cluster_config, nemesis_config, plan_from_flags};

    const TIME_S: f64 = 1.5;

    /// Each measured run beside the flags the bench gave `synod run` for it.
    fn measured_runs() -> [(Measured, &'static [&'static str]); 12] {
        [
            (N3, &["--nodes", "3", "--concurrency", "1"]),
            (N5, &["--nodes", "5", "--concurrency", "1"]),
            (N3_TWO_PHASE, &["--nodes", "3", "--concurrency", "1", "--no-fast-round"]),
            (C1, &["--nodes", "3", "--concurrency", "1"]),
            (C16, &["--nodes", "3", "--concurrency", "16"]),
            (C64, &["--nodes", "3", "--concurrency", "64"]),
            (C256, &["--nodes", "3", "--concurrency", "256"]),
            (C64_TRACE_OPS, &["--nodes", "3", "--concurrency", "64", "--trace", "ops"]),
            (C64_TWO_PHASE, &["--nodes", "3", "--concurrency", "64", "--no-fast-round"]),
            (C64_JSONL, &["--nodes", "3", "--concurrency", "64", "--history-format", "jsonl"]),
            (LAZY_FS_N3, &["--nodes", "3", "--concurrency", "1", "--lazy-fs"]),
            (LAZY_FS_C64, &["--nodes", "3", "--concurrency", "64", "--lazy-fs"]),
        ]
    }

    /// The config `synod run FLAGS` gives. Without FUSE, `--lazy-fs` is refused before the
    /// config is returned (and the bench makes no such run): then the config is the one the
    /// same flags build, through the function the command line goes through.
    fn from_flags(flags: &[&str]) -> RunConfig {
        match plan_from_flags(flags) {
            Ok((cfg, _)) => cfg,
            Err(e) => {
                assert!(crate::lazyfs::available().is_err() && flags.contains(&"--lazy-fs"), "{e:#}");
                let mut argv = vec!["synod", "run"];
                argv.extend_from_slice(flags);
                let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(&argv).unwrap();
                let crate::cli::Command::Run(a) = cli.command else { panic!("parsed a run") };
                let nemesis = nemesis_config(&a.nemesis).unwrap();
                cluster_config(&a.cluster, nemesis, a.time, crate::run::random_u64()).unwrap()
            }
        }
    }

    fn json(cfg: &RunConfig) -> serde_json::Value {
        serde_json::to_value(cfg).unwrap()
    }

    #[test]
    fn each_measured_run_is_the_run_its_old_flags_gave() {
        let runs = std::env::temp_dir().join("synod-bench-plan");
        let dir = runs.to_str().unwrap();
        let t = TIME_S.to_string();
        for (run, extra) in measured_runs() {
            let mut flags = vec!["--nemesis", "none", "--contention", "1", "--revisit", "0"];
            flags.extend_from_slice(&["--runs-dir", dir, "-q", "--time", &t]);
            flags.extend_from_slice(extra);
            let old = from_flags(&flags);
            // The bench draws a random seed for each run: the one field not compared.
            let new = run.config(&runs, TIME_S, old.seed);
            assert_eq!(json(&new), json(&old), "{run:?} against {extra:?}");
            if crate::lazyfs::available().is_ok() || run.variant != Variant::LazyFs {
                let (planned, schedule) = plan(new).unwrap();
                assert_eq!(json(&planned), json(&old));
                assert_eq!(schedule, Schedule::default(), "{run:?}: a fault-free run has no faults");
            }
        }
    }

    #[test]
    fn the_disk_runs_are_the_runs_their_old_flags_gave() {
        let runs = std::env::temp_dir().join("synod-bench-plan");
        let dir = runs.to_str().unwrap();
        for format in [HistoryFormat::Zst, HistoryFormat::Jsonl] {
            let f = format.to_string();
            let old = plan_from_flags(&[
                "--time",
                "3",
                "--seed",
                "16",
                "--history-format",
                &f,
                "--runs-dir",
                dir,
                "-q",
            ])
            .unwrap();
            let new = plan(disk_config(&runs, 3.0, format).unwrap()).unwrap();
            assert_eq!(json(&new.0), json(&old.0), "{format}");
            assert_eq!(new.1, old.1, "{format}: the same seed, the same schedule");
            assert!(!new.1.timed.is_empty(), "the default settings inject faults");
        }
    }

    #[test]
    fn a_config_out_of_bounds_is_refused_with_its_flag() {
        let runs = std::env::temp_dir().join("synod-bench-plan");
        let e = plan(C64.config(&runs, 1e20, 1)).unwrap_err().to_string();
        assert!(e.starts_with("--time 1e20: must be"), "{e}");
    }
}
