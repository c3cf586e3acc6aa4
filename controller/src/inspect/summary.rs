//! What `ls` and `compare` read of a run: its `meta.json` and `report.json`, never the
//! history, so that listing thousands of runs stays fast.

use crate::run::config::{RunConfig, ScheduleSource};
use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use synod_checker::Report;

#[derive(Deserialize)]
struct Meta {
    run_id: String,
    #[serde(default)]
    started_at: Option<String>,
    config: RunConfig,
}

/// One run folder's summary.
pub struct RunInfo {
    pub path: PathBuf,
    pub run_id: String,
    pub started_at: String,
    pub config: RunConfig,
    /// `None` when the run has no report.json (still running, or killed before its check).
    pub report: Option<Report>,
}

impl RunInfo {
    pub fn load(dir: &Path) -> Result<RunInfo> {
        let meta_path = dir.join("meta.json");
        let text = std::fs::read_to_string(&meta_path)
            .with_context(|| format!("cannot read {}", meta_path.display()))?;
        let meta: Meta = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a synod meta.json", meta_path.display()))?;
        let report_path = dir.join(synod_checker::REPORT_FILE);
        let report = match std::fs::read_to_string(&report_path) {
            Ok(text) => Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("{} is not a report", report_path.display()))?,
            ),
            Err(_) => None,
        };
        Ok(RunInfo {
            path: dir.to_path_buf(),
            run_id: meta.run_id,
            started_at: meta.started_at.unwrap_or_default(),
            config: meta.config,
            report,
        })
    }

    /// The faults of the run, as a short word list.
    pub fn faults(&self) -> String {
        match &self.config.schedule {
            ScheduleSource::Generated => self.config.nemesis.names(),
            ScheduleSource::File { path } => format!("file {}", path.display()),
            ScheduleSource::Replay { run } => {
                format!(
                    "replay {}",
                    run.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
                )
            }
        }
    }

    pub fn mutant(&self) -> String {
        self.config.tuning.bug.map(|b| b.name().to_string()).unwrap_or_else(|| "-".into())
    }

    pub fn verdict(&self) -> &str {
        self.report.as_ref().map(|r| r.verdict.name()).unwrap_or("unchecked")
    }
}

/// Every run folder directly under `runs_dir` (those with a meta.json), oldest first, and
/// the folders that could not be read, with why.
pub fn runs_in(runs_dir: &Path) -> Result<(Vec<RunInfo>, Vec<String>)> {
    let entries = std::fs::read_dir(runs_dir)
        .with_context(|| format!("cannot read the runs folder {}", runs_dir.display()))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .filter(|p| p.join("meta.json").is_file())
        .collect();
    dirs.sort();
    let mut runs = Vec::with_capacity(dirs.len());
    let mut bad = Vec::new();
    for dir in dirs {
        match RunInfo::load(&dir) {
            Ok(info) => runs.push(info),
            Err(e) => bad.push(format!("{e:#}")),
        }
    }
    Ok((runs, bad))
}

/// Microseconds as milliseconds with one decimal, or "-".
pub fn ms(us: Option<u64>) -> String {
    us.map(|us| format!("{:.1}", us as f64 / 1000.0)).unwrap_or_else(|| "-".into())
}
