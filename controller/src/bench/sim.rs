//! The simulator's speed beside the processes' (issue 19): the default `synod run`
//! configuration (5 nodes, every fault, concurrency 8, contention 2), the same seed and
//! workload time, once as node processes and once simulated, in the same bench.
//!
//! Both are decisions per second of wall-clock time, from the start of the run to its closed
//! history, so that they compare (a real run's wall time is its history's time, a simulated
//! one's is not). The check that follows is left out of both: it costs the same per event
//! either way, and takes about a third of a simulated run's wall time (a profile of the
//! default run, seed 1). The power faults are in both only where the lazy filesystem
//! mounts (the processes need it; the simulation does not), so that both meet the same faults.

use super::figures::SimFigures;
use crate::nemesis::check_power;
use crate::progress::Progress;
use crate::run::config::RunConfig;
use crate::run::{run_once, sim_once, RunOutcome};
use anyhow::Result;
use std::path::Path;
use std::time::Instant;

/// The seed of both runs: one schedule, run two ways.
pub const SIM_RUN_SEED: u64 = 19;

/// The default settings for `time_s` seconds at [`SIM_RUN_SEED`], quiet, in `runs_dir`.
pub fn config(runs_dir: &Path, time_s: f64) -> Result<RunConfig> {
    let mut cfg = RunConfig::defaults(5, SIM_RUN_SEED);
    check_power("all", &mut cfg.nemesis.faults, crate::lazyfs::available)
        .map_err(|e| anyhow::anyhow!("--nemesis: {e}"))?;
    cfg.time_s = time_s;
    cfg.runs_dir = runs_dir.to_path_buf();
    cfg.quiet = true;
    Ok(cfg)
}

/// One run of each kind; an error unless both were safe and live.
pub fn measure(runs_dir: &Path, time_s: f64) -> Result<SimFigures> {
    let (cfg, schedule) = crate::plan::generated(config(runs_dir, time_s)?)?;
    let argv = ["synod".to_string(), "bench".to_string()];
    let started = Instant::now();
    let process = run_once(cfg.clone(), schedule.clone(), &mut Progress::for_run(true))?;
    let process_wall_s = started.elapsed().as_secs_f64() - process.check_s;
    require_valid(&process)?;
    let started = Instant::now();
    let sim = sim_once(cfg, schedule, &argv, &mut Progress::for_run(true), false)?;
    let sim_wall_s = started.elapsed().as_secs_f64() - sim.check_s;
    require_valid(&sim)?;
    Ok(SimFigures::new(
        sim.report.figures.decisions,
        sim_wall_s,
        sim.report.figures.duration_us,
        process.report.figures.decisions,
        process_wall_s,
    ))
}

fn require_valid(run: &RunOutcome) -> Result<()> {
    if run.report.exit_code() != 0 {
        anyhow::bail!("a bench run was not safe and live: {}", run.run_dir.display());
    }
    Ok(())
}
