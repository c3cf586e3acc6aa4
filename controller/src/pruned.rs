//! A run folder whose history a soak's retention dropped (soak/keep.rs decides which runs).
//!
//! Pruning keeps exactly [`KEPT_FILES`]: the summaries `ls` and `compare` read (meta.json,
//! report.json), the planned nemesis schedule a replay falls back on (schedule.jsonl), and
//! `pruned.json`, which says who dropped the rest and how to get the run back. Everything else
//! goes: the history and `nodes/` (data dirs and node logs, which only make sense beside the
//! history). The commands that need the history (`check`, `show`, `report`) read
//! `pruned.json` to say why it is gone instead of a bare "file not found".
//!
//! Deleting is the one dangerous thing the bench does to its own results, so `prune` checks
//! before it deletes: the folder is a run folder directly under the soak's runs folder, it is
//! not the run `runs/latest` points at (unless it is simulated: `synod sim --replay` writes its
//! history again byte for byte), and its own report.json says it passed. It never
//! follows a symbolic link and never crosses into another filesystem (a mount left behind).

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use synod_checker::{HISTORY_FILE, HISTORY_ZST_FILE, REPORT_FILE};

pub const PRUNED_FILE: &str = "pruned.json";
/// What a pruned run folder still holds.
pub const KEPT_FILES: [&str; 4] =
    ["meta.json", REPORT_FILE, crate::nemesis::file::SCHEDULE_FILE, PRUNED_FILE];
/// Folder depth `prune` descends, at most (a run folder is three deep; a node may nest more).
const DEPTH_MAX: usize = 64;

/// `pruned.json`: why a run folder holds only [`KEPT_FILES`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pruned {
    /// The soak whose retention dropped the history.
    pub soak: String,
    /// Its `--keep` policy.
    pub keep: String,
    /// The entries removed (file and folder names in the run folder).
    #[serde(default)]
    pub dropped: Vec<String>,
    #[serde(default)]
    pub dropped_bytes: u64,
    /// The command that runs it again.
    pub replay: String,
}

/// Whether a run folder still has its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryState {
    Kept,
    /// Dropped by a soak's retention (the folder has `pruned.json`).
    Dropped,
    /// Neither: no history and no word why.
    Missing,
}

impl HistoryState {
    pub fn name(self) -> &'static str {
        match self {
            HistoryState::Kept => "kept",
            HistoryState::Dropped => "dropped",
            HistoryState::Missing => "missing",
        }
    }
}

/// Whether `dir` holds a history, in either form.
fn has_history(dir: &Path) -> bool {
    dir.join(HISTORY_ZST_FILE).is_file() || dir.join(HISTORY_FILE).is_file()
}

pub fn history_state(dir: &Path) -> HistoryState {
    if has_history(dir) {
        HistoryState::Kept
    } else if dir.join(PRUNED_FILE).is_file() {
        HistoryState::Dropped
    } else {
        HistoryState::Missing
    }
}

/// `pruned.json` of a run folder, if it has one.
pub fn read_note(dir: &Path) -> Result<Option<Pruned>> {
    let path = dir.join(PRUNED_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let note = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a synod pruned.json", path.display()))?;
    Ok(Some(note))
}

/// For the commands that read a run's history (given a run folder or its history file): a
/// clear error when a soak dropped it.
pub fn require_history(path: &Path) -> Result<()> {
    let dir = match path.file_name() {
        Some(name) if (name == HISTORY_FILE || name == HISTORY_ZST_FILE) && !path.exists() => {
            path.parent().unwrap_or(path)
        }
        _ => path,
    };
    if !dir.is_dir() || has_history(dir) {
        return Ok(());
    }
    let Some(note) = read_note(dir)? else { return Ok(()) };
    bail!(
        "{}: no history: the retention of soak {} (--keep {}) dropped it, as it does for passing \
         runs older than the last ones kept whole; only meta.json, report.json and schedule.jsonl are \
         left (its verdict is in `synod ls`). Run it again with: {}",
        dir.display(),
        note.soak,
        note.keep,
        note.replay
    )
}

/// Drops everything of the run folder `dir` but [`KEPT_FILES`] and writes its `pruned.json`
/// (`note`'s `dropped` fields are filled in here). Refuses, deleting nothing, a folder that is
/// not a passing run directly under `runs_dir`, or a real run that `runs_dir/latest` points at.
pub fn prune(dir: &Path, runs_dir: &Path, mut note: Pruned) -> Result<Pruned> {
    let canonical =
        |p: &Path| std::fs::canonicalize(p).with_context(|| format!("cannot resolve {}", p.display()));
    let run = canonical(dir)?;
    if run.parent() != Some(canonical(runs_dir)?.as_path()) {
        bail!("{}: not a run folder directly under {}", dir.display(), runs_dir.display());
    }
    if std::fs::canonicalize(runs_dir.join("latest")).ok().as_deref() == Some(run.as_path())
        && !crate::rundir::is_simulated(&run)
    {
        bail!("{}: runs/latest points at it", dir.display());
    }
    let report_path = run.join(REPORT_FILE);
    let report: synod_checker::Report = serde_json::from_slice(
        &std::fs::read(&report_path).with_context(|| format!("cannot read {}", report_path.display()))?,
    )
    .with_context(|| format!("{} is not a report", report_path.display()))?;
    if report.verdict != synod_checker::Verdict::Valid {
        bail!(
            "{}: its verdict is {}, and only passing runs are pruned",
            dir.display(),
            report.verdict.name()
        );
    }
    if !run.join("meta.json").is_file() {
        bail!("{}: not a run folder (no meta.json)", dir.display());
    }
    let device = std::fs::symlink_metadata(&run)?.dev();
    let mut doomed: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(&run).with_context(|| format!("cannot read {}", run.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !KEPT_FILES.contains(&name.as_str()) {
            doomed.push(name);
        }
    }
    doomed.sort();
    // The note first: a prune cut short still says why the folder is incomplete.
    note.dropped = doomed.clone();
    write_note(&run, &note)?;
    let mut bytes = 0;
    for name in &doomed {
        bytes += remove(&run.join(name), device, 0)?;
    }
    note.dropped_bytes = bytes;
    write_note(&run, &note)?;
    Ok(note)
}

fn write_note(run: &Path, note: &Pruned) -> Result<()> {
    let path = run.join(PRUNED_FILE);
    let tmp = run.join(format!(".{PRUNED_FILE}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(note)?)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))
}

/// Removes `path` (a file, a link, or a folder and all it holds) on filesystem `device`;
/// returns the bytes of the files removed.
fn remove(path: &Path, device: u64, depth: usize) -> Result<u64> {
    let meta = std::fs::symlink_metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_dir() {
        std::fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))?;
        return Ok(meta.len());
    }
    if meta.dev() != device {
        bail!("{}: another filesystem is mounted there; not removed", path.display());
    }
    if depth >= DEPTH_MAX {
        bail!("{}: more than {DEPTH_MAX} folders deep; not removed", path.display());
    }
    let mut bytes = 0;
    for entry in std::fs::read_dir(path).with_context(|| format!("cannot read {}", path.display()))? {
        bytes += remove(&entry?.path(), device, depth + 1)?;
    }
    std::fs::remove_dir(path).with_context(|| format!("cannot remove {}", path.display()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A runs folder with one fake run folder `id` whose report says `verdict`.
    fn fake_run(root: &Path, id: &str, verdict: &str) -> PathBuf {
        let run = root.join(id);
        std::fs::create_dir_all(run.join("nodes/n1/data")).unwrap();
        std::fs::write(run.join("meta.json"), "{}").unwrap();
        std::fs::write(run.join("schedule.jsonl"), "{\"at_s\":1,\"action\":\"heal\"}\n").unwrap();
        std::fs::write(run.join(HISTORY_FILE), vec![b'x'; 1000]).unwrap();
        std::fs::write(run.join("nodes/n1/data/acceptor.log"), vec![b'y'; 500]).unwrap();
        std::fs::write(run.join("nodes/n1/node.log"), "log\n").unwrap();
        let history = [
            r#"{"type":"run","t":0,"nodes":[1],"acceptors":[1],"proposers":[1],"learners":[1]}"#,
            r#"{"type":"end","t":5}"#,
            "",
        ]
        .join("\n");
        let mut report = synod_checker::check_reader(history.as_bytes(), id).unwrap();
        report.verdict = serde_json::from_str(&format!("\"{verdict}\"")).unwrap();
        std::fs::write(run.join(REPORT_FILE), serde_json::to_string(&report).unwrap()).unwrap();
        run
    }

    fn note() -> Pruned {
        Pruned {
            soak: "soak-x".into(),
            keep: "last:3".into(),
            dropped: Vec::new(),
            dropped_bytes: 0,
            replay: "synod run --replay r".into(),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_passing_run_keeps_its_summaries_and_says_why_the_rest_is_gone() {
        let root = std::env::temp_dir().join(format!("synod-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let run = fake_run(&root, "a", "valid");
        let newer = fake_run(&root, "b", "valid");
        std::os::unix::fs::symlink("b", root.join("latest")).unwrap();
        assert_eq!(history_state(&run), HistoryState::Kept);
        require_history(&run).unwrap();
        let done = prune(&run, &root, note()).unwrap();
        assert_eq!(done.dropped, vec![HISTORY_FILE.to_string(), "nodes".to_string()]);
        assert_eq!(done.dropped_bytes, 1000 + 500 + 4);
        assert_eq!(names(&run), vec!["meta.json", "pruned.json", "report.json", "schedule.jsonl"]);
        assert_eq!(history_state(&run), HistoryState::Dropped);
        assert_eq!(read_note(&run).unwrap().unwrap().dropped_bytes, 1504);
        let e = format!("{:#}", require_history(&run).unwrap_err());
        assert!(
            e.contains("soak soak-x (--keep last:3) dropped it") && e.ends_with("synod run --replay r"),
            "{e}"
        );
        let e = format!("{:#}", require_history(&run.join(HISTORY_FILE)).unwrap_err());
        assert!(e.contains("dropped it"), "{e}");
        require_history(&newer.join(HISTORY_FILE)).unwrap();
        // The run runs/latest points at is refused, whole.
        let e = format!("{:#}", prune(&newer, &root, note()).unwrap_err());
        assert!(e.contains("runs/latest points at it"), "{e}");
        assert_eq!(history_state(&newer), HistoryState::Kept);
        // A simulated one may go even then: its replay writes the same history again.
        std::fs::write(newer.join("meta.json"), r#"{"simulated": true}"#).unwrap();
        prune(&newer, &root, note()).unwrap();
        assert_eq!(history_state(&newer), HistoryState::Dropped);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn failing_runs_and_folders_elsewhere_are_refused_untouched() {
        let root = std::env::temp_dir().join(format!("synod-prune-refuse-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for verdict in ["invalid", "not-live", "truncated", "aborted"] {
            let run = fake_run(&root, verdict, verdict);
            let e = format!("{:#}", prune(&run, &root, note()).unwrap_err());
            assert!(e.contains(&format!("its verdict is {verdict}")), "{e}");
            assert_eq!(
                names(&run),
                vec!["history.jsonl", "meta.json", "nodes", "report.json", "schedule.jsonl"]
            );
        }
        let deep = fake_run(&root.join("deeper"), "c", "valid");
        let e = format!("{:#}", prune(&deep, &root, note()).unwrap_err());
        assert!(e.contains("not a run folder directly under"), "{e}");
        assert_eq!(history_state(&deep), HistoryState::Kept);
        // No report: not judged, not pruned.
        let unjudged = fake_run(&root, "d", "valid");
        std::fs::remove_file(unjudged.join(REPORT_FILE)).unwrap();
        assert!(prune(&unjudged, &root, note()).is_err());
        assert_eq!(history_state(&unjudged), HistoryState::Kept);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn links_are_removed_not_followed() {
        let root = std::env::temp_dir().join(format!("synod-prune-link-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let outside = root.join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("precious"), "keep me").unwrap();
        let run = fake_run(&root, "a", "valid");
        std::os::unix::fs::symlink(&outside, run.join("nodes/n1/link")).unwrap();
        prune(&run, &root, note()).unwrap();
        assert_eq!(std::fs::read_to_string(outside.join("precious")).unwrap(), "keep me");
        assert!(!run.join("nodes").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
