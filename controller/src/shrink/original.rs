//! The run a shrink starts from: a simulated run folder (meta.json with `"simulated": true`),
//! its config and planned schedule, and the safety rules its history breaks. Anything else
//! (a real run, a run that broke no rule, a folder without its schedule) is refused with
//! what is wrong and where: only a simulated run is a function of its config and schedule,
//! so only it can be shrunk by running variations of them.

use super::trial::Violated;
use crate::nemesis::{file, Schedule};
use crate::run::config::RunConfig;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// A failing simulated run, read back.
#[derive(Debug)]
pub struct Original {
    pub dir: PathBuf,
    pub cfg: RunConfig,
    pub schedule: Schedule,
    /// History events (the checker's count).
    pub events: u64,
    /// The safety rules it breaks, in the checker's order (never empty).
    pub broken: Vec<String>,
    /// The first broken rule's first violation: its instance and times (on the schedule's
    /// clock, when the report has the workload's start).
    pub at: Violated,
}

impl Original {
    pub fn load(dir: &Path) -> Result<Original> {
        let meta_path = dir.join("meta.json");
        let text = std::fs::read_to_string(&meta_path)
            .with_context(|| format!("cannot read {}", meta_path.display()))?;
        #[derive(serde::Deserialize)]
        struct Meta {
            config: RunConfig,
            #[serde(default)]
            simulated: bool,
        }
        let file_name = meta_path.display().to_string();
        let meta: Meta = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{file_name}: not a usable synod meta.json: {e}"))?;
        if !meta.simulated {
            bail!(
                "{}: not a simulated run (its meta.json has no \"simulated\": true); only a `synod sim` run \
                 replays exactly, and so only one can be shrunk",
                dir.display()
            );
        }
        let cfg = meta.config;
        cfg.validate().map_err(|e| anyhow::anyhow!(e.in_file(&file_name, "config.")))?;
        let schedule_path = dir.join(file::SCHEDULE_FILE);
        let schedule = file::read_schedule(&schedule_path, cfg.nodes).map_err(anyhow::Error::msg)?;
        crate::pruned::require_history(dir)?;
        let report = report(dir)?;
        let broken: Vec<&synod_checker::RuleReport> = report.safety.iter().filter(|r| !r.ok).collect();
        let Some(first) = broken.first() else {
            bail!("{}: breaks no safety rule: there is no counterexample to shrink", dir.display());
        };
        let at = Violated::in_report(&report, &first.rule).expect("a broken rule has a violation");
        let broken = broken.iter().map(|r| r.rule.clone()).collect();
        Ok(Original { dir: dir.to_path_buf(), cfg, schedule, events: report.events, broken, at })
    }
}

/// The run's report: its report.json (written when the run was checked, so that a long
/// history is not read twice), else the checker's judgement of its history.
fn report(dir: &Path) -> Result<synod_checker::Report> {
    let path = dir.join(synod_checker::REPORT_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(report) = serde_json::from_str(&text) {
            return Ok(report);
        }
        tracing::warn!("{}: not a readable report; checking the history again", path.display());
    }
    synod_checker::check_path(dir).with_context(|| format!("cannot check {}", dir.display()))
}
