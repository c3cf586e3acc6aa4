//! Typed plans for runs: a validated [`RunConfig`] and its nemesis [`Schedule`], whoever
//! asks for them. No flags here: the commands turn flags into a `RunConfig` once
//! (commands/flags.rs), and the commands that start runs of their own (soak, mutants, bench,
//! scenario) build theirs from [`RunConfig::defaults`]. `--replay` reads its plan back from a
//! run folder.

use crate::nemesis::{file, generate, Schedule};
use crate::run::config::{RunConfig, ScheduleSource};
use anyhow::{Context, Result};
use std::path::Path;

/// A config checked against every bound, and the schedule drawn from its seed and nemesis:
/// the plan of a run that generates its faults.
pub fn generated(cfg: RunConfig) -> Result<(RunConfig, Schedule)> {
    cfg.validate().map_err(|e| anyhow::anyhow!(e.as_flag()))?;
    let schedule = generated_schedule(&cfg)?;
    Ok((cfg, schedule))
}

/// The generated schedule of a validated config.
pub fn generated_schedule(cfg: &RunConfig) -> Result<Schedule> {
    let duration_us = (cfg.time_s * 1e6) as u64;
    Ok(generate::generate(&cfg.nemesis, cfg.nodes, duration_us, cfg.seed).map_err(anyhow::Error::msg)?.into())
}

/// A scripted or replayed schedule that cuts power cannot run without the lazy filesystem:
/// refused before the run starts, never run without its power losses.
pub fn require_power(schedule: &Schedule, source: &str) -> Result<()> {
    if schedule.cuts_power() {
        crate::lazyfs::available().map_err(|why| {
            anyhow::anyhow!("{source}: the schedule cuts power, which needs the lazy filesystem, and {why}")
        })?;
    }
    Ok(())
}

/// `--replay RUN`: the recorded config (meta.json) and nemesis actions (its history, either
/// form; when a soak's retention dropped it, the planned schedule, schedule.jsonl).
/// How the replay stores its history is its own choice (`--history-format`), not the run's.
pub fn replay_plan(
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

/// `synod sim --replay RUN`: a simulated run's plan again, from its meta.json alone: its
/// config as recorded (the history's first line carries it, so a replay that changed a field
/// would not write the same bytes) and its schedule, generated again from the config and seed,
/// or, when it came from `--schedule FILE`, read from the run's schedule.jsonl. `runs_dir`
/// replaces the recorded one when given (then the first line differs in that field only).
/// A run of processes is refused: its timing was the OS's, and only `synod run --replay`
/// repeats its faults.
pub fn sim_replay_plan(
    run: &Path,
    runs_dir: Option<&Path>,
    lookup_dir: &Path,
) -> Result<(RunConfig, Schedule)> {
    let dir = crate::rundir::resolve(run, lookup_dir);
    let meta_path = dir.join("meta.json");
    let meta = std::fs::read_to_string(&meta_path)
        .with_context(|| format!("--replay: cannot read {}", meta_path.display()))?;
    let file = meta_path.display().to_string();
    let meta: serde_json::Value = serde_json::from_str(&meta)
        .map_err(|e| anyhow::anyhow!("--replay: {file}: not a usable synod meta.json: {e}"))?;
    if meta["simulated"] != true {
        anyhow::bail!(
            "--replay: {} is a run of processes, not a simulation ({file} has no \"simulated\": true); \
             replay it with: synod run --replay {}",
            dir.display(),
            dir.display()
        );
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        config: RunConfig,
    }
    let meta = serde_json::from_value::<Meta>(meta)
        .map_err(|e| anyhow::anyhow!("--replay: {file}: not a usable synod meta.json: {e}"))?;
    let mut cfg = meta.config;
    cfg.validate().map_err(|e| anyhow::anyhow!("--replay: {}", e.in_file(&file, "config.")))?;
    let schedule = match &cfg.schedule {
        ScheduleSource::Generated => generated_schedule(&cfg)?,
        ScheduleSource::File { .. } | ScheduleSource::Replay { .. } => {
            let path = dir.join(file::SCHEDULE_FILE);
            file::read_schedule(&path, cfg.nodes).map_err(|e| anyhow::anyhow!("--replay: {e}"))?
        }
    };
    if let Some(runs_dir) = runs_dir {
        cfg.runs_dir = runs_dir.to_path_buf();
    }
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
