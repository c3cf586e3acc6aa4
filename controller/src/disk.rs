//! Free space on the runs dir: a run that would not fit is refused before it starts, and a
//! disk that fills up mid-run ends the run cleanly (docs/cli.md, exit 2).
//!
//! The estimate of what a run needs is deliberately rough: before a soak's first run (and for
//! `synod run`) a floor, RUN_FLOOR_BYTES, that covers a default run; in a soak, twice the
//! largest run folder the soak has finished so far (runs are drawn, so a later one may be
//! busier than any before it). The check happens before each run only: mid-run, the history
//! writer's errors and DISK_FULL_BYTES catch a disk that still filled up.

use std::path::{Path, PathBuf};

const MIB: u64 = 1024 * 1024;
/// What a run needs at least. A default 15 s run with a compressed history (3 nodes, the
/// default nemesis) measured 9.8 MB on disk: 4.5 MB of history, 5 MB of node data and logs
/// (`synod run --time 15`, then `du -sb` of its folder; docs/cli.md). 16 MiB covers it with room.
pub const RUN_FLOOR_BYTES: u64 = 16 * MIB;
/// Mid-run, a runs dir with less free space than this counts as full: the run is stopped
/// before its nodes and its history fail on it one by one.
pub const DISK_FULL_BYTES: u64 = 256 * 1024;
/// Entries walked when measuring a run folder, at most (a run folder holds a few dozen).
const TREE_ENTRIES_MAX: usize = 100_000;

/// How much a run needs, and why that much (for the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    pub need_bytes: u64,
    pub why: String,
}

impl Estimate {
    /// Before any run finished: the floor.
    pub fn floor() -> Estimate {
        Estimate {
            need_bytes: RUN_FLOOR_BYTES,
            why: format!("the floor for a first run, {}", mb(RUN_FLOOR_BYTES)),
        }
    }

    /// In a soak: twice the largest finished run folder, never below the floor.
    pub fn for_soak(largest_run_bytes: Option<u64>) -> Estimate {
        match largest_run_bytes {
            Some(largest) if 2 * largest > RUN_FLOOR_BYTES => Estimate {
                need_bytes: 2 * largest,
                why: format!("twice the largest run of this soak so far, {}", mb(largest)),
            },
            Some(largest) => Estimate {
                need_bytes: RUN_FLOOR_BYTES,
                why: format!(
                    "the floor {}: the largest run of this soak so far took {}",
                    mb(RUN_FLOOR_BYTES),
                    mb(largest)
                ),
            },
            None => Estimate::floor(),
        }
    }
}

/// `12.3 MB` (decimal megabytes, one decimal).
pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// The message when a run would not fit.
pub fn short_message(runs_dir: &Path, free_bytes: u64, estimate: &Estimate) -> String {
    format!(
        "runs dir {}: {} free, a run needs about {} ({}); free some space or use another --runs-dir",
        runs_dir.display(),
        mb(free_bytes),
        mb(estimate.need_bytes),
        estimate.why
    )
}

/// Bytes free to an unprivileged writer on the filesystem of `path` (or of its nearest
/// existing ancestor, when `path` is not created yet).
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let existing = existing_ancestor(path);
    let st = nix::sys::statvfs::statvfs(&existing).map_err(std::io::Error::from)?;
    Ok((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}

fn existing_ancestor(path: &Path) -> PathBuf {
    let mut p = if path.as_os_str().is_empty() { Path::new(".") } else { path };
    loop {
        if p.exists() {
            return p.to_path_buf();
        }
        match p.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => p = parent,
            _ => return PathBuf::from("."),
        }
    }
}

/// Refuses a run that would not fit in `runs_dir`: the error is the message for the user.
/// A runs dir whose free space cannot be read is not refused (the run's own writes will say
/// what is wrong with it).
pub fn require(runs_dir: &Path, estimate: &Estimate) -> Result<(), String> {
    match free_bytes(runs_dir) {
        Ok(free) if free < estimate.need_bytes => Err(short_message(runs_dir, free, estimate)),
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::warn!("cannot read the free space of {}: {e}", runs_dir.display());
            Ok(())
        }
    }
}

/// Mid-run: `Some(message)` when the filesystem of `path` is (nearly) full.
pub fn full(path: &Path) -> Option<String> {
    match free_bytes(path) {
        Ok(free) if free < DISK_FULL_BYTES => {
            Some(format!("the disk is full: {} has {} bytes free", path.display(), free))
        }
        _ => None,
    }
}

/// The space a folder takes on disk, like `du`: allocated blocks of every file under it
/// (symbolic links are not followed). Unreadable entries count as 0.
pub fn tree_bytes(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0u64;
    let mut stack = vec![path.to_path_buf()];
    let mut seen = 0usize;
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else { continue };
        total += meta.blocks() * 512;
        seen += 1;
        if seen >= TREE_ENTRIES_MAX {
            tracing::warn!("{}: more than {TREE_ENTRIES_MAX} entries, measured the first", path.display());
            break;
        }
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
    total
}

/// Whether an I/O error means the disk (or the user's quota) is full.
pub fn is_full_error(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soak_estimate_is_twice_the_largest_run_and_never_below_the_floor() {
        assert_eq!(Estimate::for_soak(None), Estimate::floor());
        assert_eq!(Estimate::floor().need_bytes, RUN_FLOOR_BYTES);
        let big = Estimate::for_soak(Some(20 * MIB));
        assert_eq!(big.need_bytes, 40 * MIB);
        assert!(big.why.contains("twice the largest run"), "{}", big.why);
        assert!(big.why.contains(&mb(20 * MIB)), "{}", big.why);
        let small = Estimate::for_soak(Some(MIB));
        assert_eq!(small.need_bytes, RUN_FLOOR_BYTES);
        assert!(small.why.contains("floor"), "{}", small.why);
    }

    #[test]
    fn the_message_names_the_dir_the_free_space_and_the_need() {
        let m = short_message(Path::new("/mnt/runs"), 5_900_000, &Estimate::for_soak(Some(10_000_000)));
        assert!(m.starts_with("runs dir /mnt/runs: 5.9 MB free, a run needs about 20.0 MB ("), "{m}");
        assert!(m.contains("twice the largest run of this soak so far, 10.0 MB"), "{m}");
    }

    #[test]
    fn require_refuses_what_exceeds_the_free_space_and_passes_what_fits() {
        let dir = std::env::temp_dir();
        let free = free_bytes(&dir).unwrap();
        assert!(free > 0);
        let too_much = Estimate { need_bytes: free.saturating_mul(4).max(1 << 62), why: "test".into() };
        let e = require(&dir, &too_much).unwrap_err();
        assert!(e.contains("a run needs about") && e.contains("(test)"), "{e}");
        assert_eq!(require(&dir, &Estimate { need_bytes: 1, why: "test".into() }), Ok(()));
        // A runs dir not created yet is measured on its nearest existing ancestor.
        let missing = dir.join("synod-no-such-dir/runs");
        assert!(free_bytes(&missing).unwrap() > 0);
    }

    #[test]
    fn tree_bytes_counts_the_files_under_a_folder() {
        let dir = std::env::temp_dir().join(format!("synod-du-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::write(dir.join("a/b/f"), vec![7u8; 100_000]).unwrap();
        std::fs::write(dir.join("g"), vec![7u8; 50_000]).unwrap();
        let bytes = tree_bytes(&dir);
        assert!((150_000..400_000).contains(&bytes), "{bytes}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn enospc_and_edquot_are_full_disk_errors() {
        assert!(is_full_error(&std::io::Error::from_raw_os_error(libc::ENOSPC)));
        assert!(is_full_error(&std::io::Error::from_raw_os_error(libc::EDQUOT)));
        assert!(!is_full_error(&std::io::Error::from_raw_os_error(libc::EACCES)));
    }
}
