//! One run on a fresh current-thread runtime, for every command that starts runs, and for a
//! program that starts runs through the library (a test).
//!
//! The two differ in what belongs to the process rather than to the run: `synod` records its
//! own argv in meta.json and counts SIGINT and SIGTERM as interrupts. A program embedding the
//! library names the run's command line itself (its own argv says nothing about the run), and
//! keeps its signals: a signal handler, once installed, stays for the life of the process, so
//! a test binary would no longer end on Ctrl-C, and one interrupt would end the workload of
//! every run it has in flight on other threads.

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
    let argv: Vec<String> = std::env::args().collect();
    on_fresh_runtime(cfg, schedule, &argv, progress, Shutdown::listen)
}

/// [`run_once`] for a program that starts runs through the library: `command_line` is
/// recorded in meta.json as the run's, and no signal handler is installed (nothing
/// interrupts the run; SIGINT and SIGTERM end the program as ever, and its nodes with it).
/// The nodes are spawned on the calling thread, which must outlive the run (it does: the
/// call returns once they are stopped).
pub fn run_once_embedded(
    cfg: RunConfig,
    schedule: Schedule,
    command_line: &[String],
    progress: &mut Progress,
) -> Result<RunOutcome> {
    on_fresh_runtime(cfg, schedule, command_line, progress, Shutdown::never)
}

/// One simulated run (`synod sim`) on a fresh current-thread runtime, counting SIGINT and
/// SIGTERM as interrupts like [`run_once`] when `listen` (the `synod` binary), not otherwise
/// (a program embedding the library).
pub fn sim_once(
    cfg: RunConfig,
    schedule: Schedule,
    command_line: &[String],
    progress: &mut Progress,
    listen: bool,
) -> Result<RunOutcome> {
    let shutdown = if listen { Shutdown::listen } else { Shutdown::never };
    let runtime = fresh_runtime(&cfg)?;
    runtime.block_on(async { super::run_simulated(cfg, schedule, command_line, progress, shutdown()).await })
}

/// The free space of the runs dir checked, then a current-thread runtime for one run.
fn fresh_runtime(cfg: &RunConfig) -> Result<tokio::runtime::Runtime> {
    crate::disk::require(&cfg.runs_dir, &crate::disk::Estimate::floor()).map_err(anyhow::Error::msg)?;
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start tokio")
}

/// `shutdown` is called inside the runtime (listening to signals needs one).
fn on_fresh_runtime(
    cfg: RunConfig,
    schedule: Schedule,
    argv: &[String],
    progress: &mut Progress,
    shutdown: fn() -> Shutdown,
) -> Result<RunOutcome> {
    let runtime = fresh_runtime(&cfg)?;
    runtime.block_on(async { super::run(cfg, schedule, argv, progress, shutdown()).await })
}
