//! Where a shrink's candidates run. A search runs thousands of tiny simulated runs, each a
//! folder of four small files created, checked and deleted within milliseconds: on a disk
//! with a journal that file traffic, not the simulation, is most of a candidate's wall time
//! (measured: a first-not-highest search made 4,647 runs in 51 s in a folder on ext4, in
//! 16 s on tmpfs, the same runs). So the scratch folder goes on a RAM filesystem
//! (`/dev/shm`) when the machine has one with room, else in the runs dir. The run that is
//! kept is moved into the runs dir at the end: renamed when it is on the same filesystem,
//! else copied and removed.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How a scratch folder's name begins.
pub const PREFIX: &str = ".synod-shrink-";
/// The RAM filesystem tried first.
const RAM_DIR: &str = "/dev/shm";
/// Free bytes the RAM filesystem must have to be used (a first candidate, the original cut
/// near its violation, can hold a long history).
pub const RAM_FREE_BYTES_MIN: u64 = 512 * 1024 * 1024;

/// The folder the scratch folder goes in: `/dev/shm` when it is a writable directory with
/// room, else `runs_dir`.
pub fn parent(runs_dir: &Path) -> PathBuf {
    let ram = Path::new(RAM_DIR);
    let roomy = crate::disk::require(
        ram,
        &crate::disk::Estimate { need_bytes: RAM_FREE_BYTES_MIN, why: "a shrink's scratch".into() },
    )
    .is_ok();
    let writable = ram.is_dir() && roomy && probe(ram);
    if writable {
        ram.to_path_buf()
    } else {
        runs_dir.to_path_buf()
    }
}

/// Creates a new scratch folder for one shrink, `.synod-shrink-<pid>-<k>` in [`parent`]: the
/// counter keeps apart two shrinks of one process (a program embedding the library, tests).
pub fn create(runs_dir: &Path) -> Result<PathBuf> {
    static SHRINKS: AtomicU64 = AtomicU64::new(0);
    let k = SHRINKS.fetch_add(1, Ordering::Relaxed);
    let dir = parent(runs_dir).join(format!("{PREFIX}{}-{k}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Whether a folder can be made (and removed) in `dir`.
fn probe(dir: &Path) -> bool {
    let p = dir.join(format!(".synod-probe-{}", std::process::id()));
    let ok = std::fs::create_dir(&p).is_ok();
    let _ = std::fs::remove_dir(&p);
    ok
}

/// Moves the folder `from` to `to` (which must not exist, or be empty): a rename, or across filesystems a
/// copy of its files and folders, then `from` removed.
pub fn move_dir(from: &Path, to: &Path) -> Result<()> {
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    copy_tree(from, to).with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    std::fs::remove_dir_all(from).with_context(|| format!("cannot remove {}", from.display()))
}

/// Files and folders are copied; symlinks (a run folder has none) are skipped.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_moves_with_its_files_and_subfolders() {
        let root = std::env::temp_dir().join(format!("synod-scratch-move-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let from = root.join("a");
        std::fs::create_dir_all(from.join("nodes/n1")).unwrap();
        std::fs::write(from.join("meta.json"), "{}").unwrap();
        std::fs::write(from.join("nodes/n1/log"), "x").unwrap();
        let to = root.join("b");
        copy_tree(&from, &to).unwrap();
        assert_eq!(std::fs::read_to_string(to.join("nodes/n1/log")).unwrap(), "x");
        let moved = root.join("c");
        move_dir(&from, &moved).unwrap();
        assert!(!from.exists());
        assert_eq!(std::fs::read_to_string(moved.join("meta.json")).unwrap(), "{}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
