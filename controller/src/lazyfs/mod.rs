//! The lazy filesystem: Jepsen's LazyFS idea for synod's power-loss faults.
//!
//! A passthrough FUSE filesystem over a backing directory that holds each file's content
//! changes in memory until that file is fsynced (fsync or fdatasync, FUSE's FSYNC op; or at
//! once for a handle opened O_SYNC/O_DSYNC). [`LazyMount::power_loss`] discards every
//! change not yet synced. A node's data dir sits on one mount; the node program may be
//! anything, so the mount behaves like a real filesystem for ordinary use, and a process
//! reads its own unsynced writes (page-cache semantics).
//!
//! Choices (docs/lazyfs.md says the same for users):
//! - **Contents are lazy, names are not.** write, truncate and extend are pending until the
//!   file's fsync; create, mkdir, unlink, rmdir, rename, link, symlink, chmod, chown and
//!   utimes go to the backing directory at once, so a directory's new entries are durable
//!   immediately and a directory fsync is accepted as a no-op. A node that forgets to fsync
//!   its directory after creating a file is therefore not caught; one that forgets to fsync
//!   the file is.
//! - Pending state is keyed by the backing inode, so it follows a rename; the unlink of a
//!   file's last name drops its pending changes (once no descriptor has it open).
//! - **Torn writes** ([`LazyMount::power_loss`] with `torn`): each file's oldest pending write
//!   keeps its whole 512-byte sectors except the last sector it touched; every later change
//!   is lost. Disks write in order, so the oldest unsynced write is the one in flight.
//! - **Memory is bounded**: a mount holds at most `limit_bytes` of pending changes (data plus
//!   64 bytes per op); a write beyond it fails with ENOSPC.
//! - **Mounting** uses the `fuser` crate without libfuse (no -dev package to build) and the
//!   `fusermount3` helper (package fuse3) with `auto_unmount`: if the controller is
//!   SIGKILLed, the helper still detaches the mount. Files are opened with direct I/O and all
//!   TTLs are zero, so the kernel keeps no dirty pages the daemon never sees. Dropping a
//!   [`LazyMount`] unmounts (lazily if busy), joins its session thread (bounded), then
//!   writes back and syncs what is still pending: a clean unmount loses nothing.
//! - [`available`] probes once per process whether mounting works here.

mod fs;
mod mount;
mod probe;
mod state;
#[cfg(test)]
mod tests;

pub use mount::LazyMount;
pub use probe::available;

use std::path::PathBuf;

/// What a power loss lost (or would lose): files with unsynced changes, their pending ops
/// (writes and size changes), the bytes those writes carried, and how many of those bytes a
/// torn power loss kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loss {
    pub files: u64,
    pub writes: u64,
    pub bytes: u64,
    pub torn_bytes_kept: u64,
}

/// Why a lazy mount could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LazyError {
    #[error("lazyfs: cannot create or open the directory {path}: {source}")]
    Dir { path: PathBuf, source: std::io::Error },
    #[error("lazyfs: the backing directory {backing} and the mountpoint {mountpoint} must not be inside one another")]
    Nested { backing: PathBuf, mountpoint: PathBuf },
    #[error("lazyfs: {mountpoint} is already a mount point; unmount it first (fusermount3 -u {mountpoint})")]
    AlreadyMounted { mountpoint: PathBuf },
    #[error("lazyfs: fusermount3 was not found in PATH: install the fuse3 package")]
    NoHelper,
    #[error("lazyfs: cannot run {helper}: {source}")]
    Spawn { helper: PathBuf, source: std::io::Error },
    #[error("lazyfs: mounting at {mountpoint} failed: {reason}")]
    Mount { mountpoint: PathBuf, reason: String },
    #[error("lazyfs: starting the FUSE session at {mountpoint} failed: {source}")]
    Session { mountpoint: PathBuf, source: std::io::Error },
    #[error("lazyfs: the pending-bytes limit must be at least 1 byte")]
    Limit,
}
