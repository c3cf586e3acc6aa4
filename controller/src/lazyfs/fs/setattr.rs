//! What setattr acts on: the open handle it names, or else the inode's backing path.
//!
//! FUSE's setattr may name a file handle (`ftruncate`, `fchmod`, `futimens` on an open
//! file); then every change goes through that descriptor, which still reaches a file whose
//! name was unlinked or renamed. Without one, the change goes to the backing path, never
//! following a symlink (chown and utimes act on the link itself, as `lchown` and
//! `utimensat(AT_SYMLINK_NOFOLLOW)` do). One type for the two, so each change is written once.

use super::errno;
use fuser::TimeOrNow;
use std::ffi::CString;
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

/// The file a setattr changes.
pub(super) enum Target {
    /// An open handle, and whether it was opened for writing.
    Handle { file: Arc<File>, writable: bool },
    /// The inode's path in the backing tree.
    Path(PathBuf),
}

impl Target {
    /// chmod: the permission bits of `mode`.
    pub(super) fn set_mode(&self, mode: u32) -> io::Result<()> {
        let perms = std::fs::Permissions::from_mode(mode & 0o7777);
        match self {
            Target::Handle { file, .. } => file.set_permissions(perms),
            Target::Path(path) => std::fs::set_permissions(path, perms),
        }
    }

    /// chown: `None` leaves that id as it is.
    pub(super) fn set_owner(&self, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
        match self {
            Target::Handle { file, .. } => std::os::unix::fs::fchown(file.as_ref(), uid, gid),
            Target::Path(path) => std::os::unix::fs::lchown(path, uid, gid),
        }
    }

    /// utimes: `None` leaves that time as it is.
    pub(super) fn set_times(&self, atime: Option<TimeOrNow>, mtime: Option<TimeOrNow>) -> io::Result<()> {
        let times = [timespec(atime), timespec(mtime)];
        let rc = match self {
            // SAFETY: a valid descriptor and a two-element array, as futimens requires.
            Target::Handle { file, .. } => unsafe {
                libc::futimens(std::os::fd::AsRawFd::as_raw_fd(file.as_ref()), times.as_ptr())
            },
            Target::Path(path) => {
                let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| errno(libc::EINVAL))?;
                // SAFETY: a NUL-terminated path and a two-element array.
                unsafe {
                    libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW)
                }
            }
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// A descriptor to truncate through: the handle if it was opened for writing (EBADF if
    /// not, as ftruncate says), or the path opened for writing.
    pub(super) fn file_to_truncate(&self) -> io::Result<Arc<File>> {
        match self {
            Target::Handle { file, writable: true } => Ok(Arc::clone(file)),
            Target::Handle { writable: false, .. } => Err(errno(libc::EBADF)),
            Target::Path(path) => Ok(Arc::new(OpenOptions::new().write(true).open(path)?)),
        }
    }

    /// Its attributes now (of the link itself, for a path).
    pub(super) fn metadata(&self) -> io::Result<Metadata> {
        match self {
            Target::Handle { file, .. } => file.metadata(),
            Target::Path(path) => std::fs::symlink_metadata(path),
        }
    }
}

fn timespec(t: Option<TimeOrNow>) -> libc::timespec {
    match t {
        None => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT },
        Some(TimeOrNow::Now) => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_NOW },
        Some(TimeOrNow::SpecificTime(at)) => match at.duration_since(UNIX_EPOCH) {
            Ok(d) => libc::timespec {
                tv_sec: d.as_secs() as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            },
            Err(before) => {
                let d = before.duration();
                libc::timespec { tv_sec: -(d.as_secs() as libc::time_t), tv_nsec: 0 }
            }
        },
    }
}
