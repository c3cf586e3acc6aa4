//! Flags to plans: the shared cluster and nemesis flags become a validated [`RunConfig`] and
//! a nemesis [`Schedule`], once, for every command that starts runs (run, soak, mutants,
//! bench, scenario). `--replay` reads its plan back from a run folder.

use crate::cli::{ClusterArgs, NemesisArgs, RunArgs};
use crate::limits;
use crate::nemesis::{file, generate, FaultKind, NemesisConfig, Schedule};
use crate::nodes::parse_list;
use crate::run::config::{RunConfig, ScheduleSource};
use anyhow::{bail, Context, Result};
use std::path::Path;
use synod_node::paxos::{Bug, Tuning};

pub fn nemesis_config(a: &NemesisArgs) -> Result<NemesisConfig> {
    let mut faults = FaultKind::parse_list(&a.nemesis).map_err(|e| anyhow::anyhow!("--nemesis: {e}"))?;
    let warning = crate::nemesis::check_power(&a.nemesis, &mut faults, crate::lazyfs::available)
        .map_err(|e| anyhow::anyhow!("--nemesis: {e}"))?;
    if let Some(warning) = warning {
        tracing::warn!("--nemesis: {warning}");
    }
    let cfg = NemesisConfig {
        faults,
        interval_s: a.nemesis_interval_s,
        loss: a.loss,
        delay_ms: a.delay_ms,
        delay_dist: a.delay_dist,
        duplicate: a.duplicate,
        reorder: a.reorder,
        reorder_ms: a.reorder_ms,
        down_ms: a.down_ms,
        pause_ms: a.pause_ms,
        crash_p: a.crash_p,
    };
    cfg.validate().map_err(|e| anyhow::anyhow!(e.as_flag()))?;
    Ok(cfg)
}

/// A run's config from the shared cluster flags; `time_s` and `seed` come from the caller.
pub fn cluster_config(a: &ClusterArgs, nemesis: NemesisConfig, time_s: f64, seed: u64) -> Result<RunConfig> {
    let n = a.nodes;
    if !(1..=limits::MAX_NODES).contains(&n) {
        bail!("--nodes {n}: must be from 1 to {}", limits::MAX_NODES);
    }
    let list = |flag: &str, text: &str| parse_list(text, n).map_err(|e| anyhow::anyhow!("--{flag}: {e}"));
    let bug = a.bug.as_deref().map(str::parse::<Bug>).transpose().context("--bug")?;
    let tuning = Tuning {
        phase_timeout_ms: a.phase_timeout_ms,
        backoff: !a.no_backoff,
        fast_round: !a.no_fast_round,
        retain_decided: a.retain_decided,
        compact_log_bytes: a.compact_log_bytes,
        bug,
        ..Tuning::default()
    };
    let cfg = RunConfig {
        nodes: n,
        acceptors: list("acceptors", &a.acceptors)?,
        proposers: list("proposers", &a.proposers)?,
        learners: list("learners", &a.learners)?,
        node_cmd: a.node_cmd.clone(),
        time_s,
        instances: None,
        concurrency: a.concurrency as usize,
        contention: a.contention as usize,
        revisit: a.revisit,
        op_timeout_ms: a.op_timeout_ms,
        final_s: a.final_s,
        seed,
        runs_dir: a.runs_dir.clone(),
        trace: a.trace,
        quiet: a.quiet,
        nemesis,
        schedule: ScheduleSource::Generated,
        bug_nodes: list("bug-nodes", &a.bug_nodes)?,
        tuning,
        lazy_fs: a.lazy_fs,
        history_format: a.history_format,
    };
    cfg.validate().map_err(|e| anyhow::anyhow!(e.as_flag()))?;
    Ok(cfg)
}

/// The generated schedule of a validated config.
pub fn generated_schedule(cfg: &RunConfig) -> Result<Schedule> {
    let duration_us = (cfg.time_s * 1e6) as u64;
    Ok(generate::generate(&cfg.nemesis, cfg.nodes, duration_us, cfg.seed).map_err(anyhow::Error::msg)?.into())
}

/// The config and the nemesis schedule of `synod run`.
pub fn run_plan(a: &RunArgs, explicit: &[String]) -> Result<(RunConfig, Schedule)> {
    if let Some(run) = &a.replay {
        let extra: Vec<&String> = explicit
            .iter()
            .filter(|f| !["replay", "runs_dir", "quiet", "report", "history_format"].contains(&f.as_str()))
            .collect();
        if !extra.is_empty() {
            let names: Vec<String> = extra.iter().map(|f| format!("--{}", f.replace('_', "-"))).collect();
            bail!(
                "--replay takes the recorded run's settings; it cannot be combined with {}",
                names.join(", ")
            );
        }
        return replay_plan(run, &a.cluster.runs_dir, a.cluster.quiet, a.cluster.history_format);
    }
    let seed = a.seed.unwrap_or_else(crate::run::random_u64);
    let mut cfg = cluster_config(&a.cluster, nemesis_config(&a.nemesis)?, a.time, seed)?;
    cfg.instances = a.instances;
    let schedule = match &a.schedule {
        Some(path) => {
            cfg.schedule = ScheduleSource::File { path: path.clone() };
            file::read_schedule(path, cfg.nodes).map_err(anyhow::Error::msg)?
        }
        None => generated_schedule(&cfg)?,
    };
    require_power(&schedule, "--schedule")?;
    if cfg.lazy_fs {
        crate::lazyfs::available().map_err(|why| anyhow::anyhow!("--lazy-fs: {why}"))?;
    }
    Ok((cfg, schedule))
}

/// A scripted or replayed schedule that cuts power cannot run without the lazy filesystem:
/// refused before the run starts, never run without its power losses.
fn require_power(schedule: &Schedule, source: &str) -> Result<()> {
    if schedule.cuts_power() {
        crate::lazyfs::available().map_err(|why| {
            anyhow::anyhow!("{source}: the schedule cuts power, which needs the lazy filesystem, and {why}")
        })?;
    }
    Ok(())
}

/// The plan of `synod run FLAGS`, for the commands that start runs themselves (bench,
/// scenario): the flags are parsed and checked exactly as on the command line.
pub fn plan_from_flags(flags: &[&str]) -> Result<(RunConfig, Schedule)> {
    let mut argv = vec!["synod", "run"];
    argv.extend_from_slice(flags);
    let crate::cli::Command::Run(args) =
        <crate::cli::Cli as clap::Parser>::try_parse_from(&argv).context("run flags")?.command
    else {
        unreachable!("parsed a run")
    };
    run_plan(&args, &[])
}

/// `--replay RUN`: the recorded config (meta.json) and nemesis actions (its history, either
/// form; when a soak's retention dropped it, the planned schedule, schedule.jsonl).
/// How the replay stores its history is its own choice (`--history-format`), not the run's.
fn replay_plan(
    run: &Path,
    runs_dir: &Path,
    quiet: bool,
    history_format: synod_checker::HistoryFormat,
) -> Result<(RunConfig, Schedule)> {
    let dir = crate::rundir::resolve(run, runs_dir);
    let meta_path = dir.join("meta.json");
    let meta = std::fs::read_to_string(&meta_path)
        .with_context(|| format!("--replay: cannot read {}", meta_path.display()))?;
    // Typed straight from the text, so that a bad field is reported with its line and column.
    #[derive(serde::Deserialize)]
    struct Meta {
        config: RunConfig,
    }
    let file = meta_path.display().to_string();
    let mut cfg = serde_json::from_str::<Meta>(&meta)
        .map_err(|e| anyhow::anyhow!("--replay: {file}: not a usable synod meta.json: {e}"))?
        .config;
    // The recorded config is held to the same bounds as the flags.
    cfg.validate().map_err(|e| anyhow::anyhow!("--replay: {}", e.in_file(&file, "config.")))?;
    let schedule = replay_schedule(&dir, cfg.nodes)?;
    cfg.runs_dir = runs_dir.to_path_buf();
    cfg.quiet = quiet;
    cfg.history_format = history_format;
    cfg.schedule = ScheduleSource::Replay { run: dir };
    require_power(&schedule, "--replay")?;
    Ok((cfg, schedule))
}

/// The nemesis actions a replay repeats: those the history recorded, or, when the run has no
/// history (a soak's retention dropped it), the planned schedule it was started with. The plan
/// differs from the record in one way: a crash point's kills and restarts happened when its
/// messages came, so they are in the history only; from the plan, the crash point is armed
/// again and kills when the replay's own messages come. The message on stderr says so.
fn replay_schedule(dir: &Path, nodes: u32) -> Result<Schedule> {
    let schedule_path = dir.join(file::SCHEDULE_FILE);
    if crate::pruned::history_state(dir) != crate::pruned::HistoryState::Kept && schedule_path.is_file() {
        let why = match crate::pruned::read_note(dir)? {
            Some(note) => format!("the retention of soak {} (--keep {}) dropped it", note.soak, note.keep),
            None => "it is gone".to_string(),
        };
        eprintln!(
            "--replay: {} has no history ({why}); replaying the schedule the run planned ({}) instead. \
             It holds the same timed faults, but not the kills and restarts its crash points \
             triggered: those crash points are armed again and kill on this run's own messages.",
            dir.display(),
            file::SCHEDULE_FILE
        );
        return file::read_schedule(&schedule_path, nodes).map_err(|e| anyhow::anyhow!("--replay: {e}"));
    }
    let events = synod_checker::history::Events::open(dir).context("--replay")?;
    let timed = file::schedule_from_history(events, nodes).map_err(|e| anyhow::anyhow!("--replay: {e}"))?;
    Ok(timed.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::FaultKind;

    /// `RunConfig::defaults` is what the flags give when none is set: the bench, the scenarios
    /// and the soak plan from it, so a changed flag default must change it too.
    #[test]
    fn the_defaults_are_the_flags_defaults() {
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(["synod", "run", "--seed", "7"]).unwrap();
        let crate::cli::Command::Run(args) = cli.command else { panic!("parsed a run") };
        let (parsed, _) = run_plan(&args, &[]).unwrap();
        let mut want = RunConfig::defaults(5, 7);
        // Without FUSE, `all` leaves the power faults out (with a warning): every other fault stays.
        let power: Vec<FaultKind> = FaultKind::ALL.iter().copied().filter(|k| k.cuts_power()).collect();
        assert!(want.nemesis.faults.iter().all(|k| parsed.nemesis.faults.contains(k) || power.contains(k)));
        want.nemesis.faults = parsed.nemesis.faults.clone();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), serde_json::to_value(&want).unwrap());
        let mut other = RunConfig::defaults(5, 7);
        other.concurrency = 9;
        assert_ne!(serde_json::to_value(&parsed).unwrap(), serde_json::to_value(&other).unwrap());
    }
}
