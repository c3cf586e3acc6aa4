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
    /// Whether the folder still holds the history (only its presence is looked at).
    pub history: crate::pruned::HistoryState,
}

impl RunInfo {
    pub fn load(dir: &Path) -> Result<RunInfo> {
        let meta_path = dir.join("meta.json");
        let text = std::fs::read_to_string(&meta_path)
            .with_context(|| format!("cannot read {}", meta_path.display()))?;
        let meta: Meta = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a synod meta.json", meta_path.display()))?;
        // The same bounds as a run's: a doctored meta.json must not size what we draw.
        meta.config
            .validate()
            .map_err(|e| anyhow::anyhow!("{}", e.in_file(&meta_path.display().to_string(), "config.")))?;
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
            history: crate::pruned::history_state(dir),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A meta.json out of the run bounds (here 4e9 nodes) is refused, naming the file and
    /// the field, before `show --nodes all` or `compare` would size anything from it.
    #[test]
    fn a_meta_json_out_of_bounds_is_refused_by_file_and_field() {
        let dir = std::env::temp_dir().join(format!("synod-meta-bounds-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = serde_json::to_value(crate::run::config::sample()).unwrap();
        let meta = |config: &serde_json::Value| serde_json::json!({"run_id": "x", "config": config});
        std::fs::write(dir.join("meta.json"), meta(&config).to_string()).unwrap();
        assert!(RunInfo::load(&dir).is_ok(), "the sample config is within bounds");
        config["nodes"] = serde_json::json!(4_000_000_000u64);
        std::fs::write(dir.join("meta.json"), meta(&config).to_string()).unwrap();
        let err = format!("{:#}", RunInfo::load(&dir).err().expect("refused"));
        assert!(err.contains("meta.json: config.nodes 4000000000"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// `text` cut to at most `width` characters (a `~` marks the cut). It counts characters, not
/// bytes, as the table's padding does: a schedule path may hold any character.
pub fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('~');
    cut
}

#[cfg(test)]
mod clip_tests {
    use super::clip;

    #[test]
    fn cuts_fall_between_characters() {
        assert_eq!(clip("loss,kill", 28), "loss,kill");
        assert_eq!(clip("abcdef", 4), "abc~");
        let path = "file /tmp/é€ü/ñ/x.jsonl-and-some-more-text";
        let cut = clip(path, 28);
        assert_eq!(cut.chars().count(), 28);
        assert!(cut.starts_with("file /tmp/é€ü/ñ/") && cut.ends_with('~'), "{cut}");
        // Every byte cut that would fall inside a character.
        for width in 0..path.chars().count() + 2 {
            assert!(clip(path, width).chars().count() <= width.max(1));
        }
    }
}
