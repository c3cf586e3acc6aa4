//! One run on a fresh current-thread runtime, for every command that starts runs.

use super::config::RunConfig;
use super::shutdown::Shutdown;
use super::RunOutcome;
use crate::nemesis::Schedule;
use crate::progress::Progress;
use anyhow::{Context, Result};

/// Runs one run on a fresh current-thread runtime: every run (`run`, and those of `soak`,
/// `mutants`, `bench` and `scenario`) first checks the runs dir's free space (docs/cli.md,
/// "A full disk").
pub fn run_once(cfg: RunConfig, schedule: Schedule, progress: &mut Progress) -> Result<RunOutcome> {
    crate::disk::require(&cfg.runs_dir, &crate::disk::Estimate::floor()).map_err(anyhow::Error::msg)?;
    let argv: Vec<String> = std::env::args().collect();
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start tokio")?;
    runtime.block_on(async { super::run(cfg, schedule, &argv, progress, Shutdown::listen()).await })
}
