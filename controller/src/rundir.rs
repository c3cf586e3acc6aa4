//! The run folder: `runs/<run-id>/` with history.jsonl.zst (or history.jsonl), meta.json,
//! report.json and nodes/n<k>/ (each node's data dir and log), and the `runs/latest` link.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub struct RunDir {
    pub id: String,
    pub path: PathBuf,
}

impl RunDir {
    /// Creates a fresh, uniquely named run folder under `runs_dir`.
    pub fn create(runs_dir: &Path) -> Result<RunDir> {
        RunDir::create_prefixed(runs_dir, "")
    }

    /// The same, with a prefix before the time stamp (`soak-` for a soak's folder).
    pub fn create_prefixed(runs_dir: &Path, prefix: &str) -> Result<RunDir> {
        std::fs::create_dir_all(runs_dir).with_context(|| format!("cannot create {}", runs_dir.display()))?;
        let stamp = format!("{prefix}{}", utc_stamp(SystemTime::now()));
        // The pid keeps runs started in the same second apart; the counter covers one
        // process starting several runs (soak).
        for k in 0..1000 {
            let id = if k == 0 {
                format!("{stamp}-{}", std::process::id())
            } else {
                format!("{stamp}-{}-{k}", std::process::id())
            };
            let path = runs_dir.join(&id);
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(RunDir { id, path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
            }
        }
        anyhow::bail!("cannot find a free run folder name under {}", runs_dir.display())
    }

    pub fn node_dir(&self, node: u32) -> PathBuf {
        self.path.join("nodes").join(format!("n{node}"))
    }

    /// Points `runs/latest` at this run (atomically: a new link renamed over the old).
    pub fn mark_latest(&self) -> Result<()> {
        let parent = self.path.parent().context("run folder has no parent")?;
        let tmp = parent.join(format!(".latest-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&self.id, &tmp).context("cannot create the runs/latest link")?;
        std::fs::rename(&tmp, parent.join("latest")).context("cannot update runs/latest")?;
        Ok(())
    }
}

/// Resolves a run argument: a run folder, `latest`, a history file, or a run id under `runs_dir`.
pub fn resolve(arg: &Path, runs_dir: &Path) -> PathBuf {
    if arg.exists() {
        return arg.to_path_buf();
    }
    let under = runs_dir.join(arg);
    if under.exists() {
        under
    } else {
        arg.to_path_buf()
    }
}

/// `YYYYMMDDTHHMMSS` in UTC, without a date crate (civil-from-days, Howard Hinnant).
pub fn utc_stamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Whether the run folder's meta.json says `"simulated": true` (a `synod sim` run, which its
/// replay writes again byte for byte). False when meta.json is missing or unreadable.
pub fn is_simulated(dir: &Path) -> bool {
    let Ok(text) = std::fs::read(dir.join("meta.json")) else { return false };
    serde_json::from_slice::<serde_json::Value>(&text).is_ok_and(|meta| meta["simulated"] == true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_are_utc_civil_time() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000");
        // 2026-11-28 13:05:09 UTC
        assert_eq!(utc_stamp(UNIX_EPOCH + Duration::from_secs(1_795_871_109)), "20261128T130509");
        assert_eq!(utc_stamp(UNIX_EPOCH + Duration::from_secs(951_782_400)), "20000229T000000");
    }

    #[test]
    fn run_dirs_are_unique_and_latest_follows() {
        let root = std::env::temp_dir().join(format!("synod-runs-{}", std::process::id()));
        let a = RunDir::create(&root).unwrap();
        let b = RunDir::create(&root).unwrap();
        assert_ne!(a.id, b.id);
        a.mark_latest().unwrap();
        b.mark_latest().unwrap();
        assert_eq!(std::fs::read_link(root.join("latest")).unwrap(), PathBuf::from(&b.id));
        assert_eq!(resolve(Path::new("latest"), &root), root.join("latest"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
