//! Can this machine mount a lazy filesystem? Probed once per process: /dev/fuse present and
//! openable, the fusermount3 helper installed, and a real mount and unmount in a temporary
//! directory working (a container may have the first two and still refuse the mount).
//! `SYNOD_NO_FUSE` (set, not empty) makes the probe fail as a machine without FUSE would: to
//! see, or test, how the bench behaves there.

use super::mount::{find_helper, is_mount_root, LazyMount, HELPER};
use std::path::PathBuf;
use std::sync::OnceLock;

const DEV_FUSE: &str = "/dev/fuse";
/// Set (not empty), the probe says FUSE is not available.
pub const ENV_NO_FUSE: &str = "SYNOD_NO_FUSE";
/// The probe mount's pending-bytes limit; it writes nothing.
const PROBE_LIMIT_BYTES: u64 = 1 << 20;

static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();

/// Ok when lazy mounts work here; else a sentence saying what is missing and what to do.
pub fn available() -> Result<(), String> {
    AVAILABLE.get_or_init(probe).clone()
}

fn probe() -> Result<(), String> {
    if std::env::var_os(ENV_NO_FUSE).is_some_and(|v| !v.is_empty()) {
        return Err(format!("FUSE is not available: {ENV_NO_FUSE} is set"));
    }
    let install = format!("install the fuse3 package for {HELPER}");
    if !std::path::Path::new(DEV_FUSE).exists() {
        return Err(format!(
            "FUSE is not available: {DEV_FUSE} is missing (in a container, run it with --device /dev/fuse); {install}"
        ));
    }
    if let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open(DEV_FUSE) {
        return Err(format!(
            "FUSE is not available: {DEV_FUSE} cannot be opened ({e}); run as a user allowed to use it \
             (in a container, run it with --device /dev/fuse)"
        ));
    }
    if find_helper().is_none() {
        return Err(format!("FUSE is not available: {HELPER} was not found in PATH; {install}"));
    }
    let dir = std::env::temp_dir().join(format!("synod-lazyfs-probe-{}", std::process::id()));
    let result = probe_mount(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn probe_mount(dir: &std::path::Path) -> Result<(), String> {
    let (backing, mnt): (PathBuf, PathBuf) = (dir.join("backing"), dir.join("mnt"));
    let mount = LazyMount::mount(&backing, &mnt, PROBE_LIMIT_BYTES)
        .map_err(|e| format!("FUSE is not available: a test mount failed: {e}"))?;
    let mounted = is_mount_root(mount.mountpoint());
    let listed = std::fs::read_dir(mount.mountpoint()).map(|entries| entries.count());
    drop(mount);
    if !mounted {
        return Err(format!("FUSE is not available: a test mount at {} did not appear", mnt.display()));
    }
    if let Err(e) = listed {
        return Err(format!(
            "FUSE is not available: a test mount at {} could not be read: {e}",
            mnt.display()
        ));
    }
    if is_mount_root(&mnt) {
        return Err(format!("FUSE is not available: a test mount at {} was not unmounted", mnt.display()));
    }
    Ok(())
}
