//! Mounting and unmounting, through the `fusermount3` helper of the fuse3 package.
//!
//! Why our own helper protocol and not `fuser::spawn_mount`: with `auto_unmount`, fusermount3
//! stays running as our child until the socket it was given closes, then detaches the mount.
//! fuser drops that child without reaping it (a zombie per mount) and joins its session
//! thread without bound. Here the child is ours: [`LazyMount`]'s drop closes the socket,
//! waits for the helper (bounded, killed if it hangs) and joins the session thread (bounded).
//! If the controller is SIGKILLed, the socket closes with the process and fusermount3 still
//! detaches the mount, so no stale mount is left behind.

use super::fs::{lock, LazyFs};
use super::state::Pending;
use super::{LazyError, Loss};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use std::fs::File;
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The helper binary (package fuse3).
pub const HELPER: &str = "fusermount3";
/// How long the helper may take to detach the mount once told to.
const HELPER_EXIT_TIMEOUT_MS: u64 = 5_000;
/// How long the session thread may take to end once the mount is detached.
const SESSION_END_TIMEOUT_MS: u64 = 1_000;
const POLL_MS: u64 = 5;

/// A lazy view of a backing directory, mounted until dropped.
pub struct LazyMount {
    mountpoint: PathBuf,
    pending: Arc<Mutex<Pending>>,
    session: Option<fuser::BackgroundSession>,
    helper: Option<Helper>,
    helper_path: PathBuf,
}

/// The fusermount3 process that holds the mount's auto-unmount watch.
struct Helper {
    child: Child,
    /// Closing it tells the helper to detach the mount.
    socket: UnixStream,
    stderr: Option<ChildStderr>,
}

/// Finds `fusermount3` in PATH (or the usual system directories).
pub fn find_helper() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/bin", "/usr/sbin", "/sbin"].into_iter().map(PathBuf::from))
        .map(|dir| dir.join(HELPER))
        .find(|candidate| candidate.is_file())
}

/// True when `path` is the root of a mount (its device differs from its parent's).
pub fn is_mount_root(path: &Path) -> bool {
    let (Ok(me), Some(Ok(parent))) = (std::fs::metadata(path), path.parent().map(std::fs::metadata)) else {
        return false;
    };
    me.dev() != parent.dev()
}

impl LazyMount {
    /// Mounts a lazy view of `backing` (created if missing) at `mountpoint` (created if missing).
    pub fn mount(backing: &Path, mountpoint: &Path, limit_bytes: u64) -> Result<LazyMount, LazyError> {
        if limit_bytes == 0 {
            return Err(LazyError::Limit);
        }
        let backing = make_dir(backing)?;
        let mountpoint = make_dir(mountpoint)?;
        if backing.starts_with(&mountpoint) || mountpoint.starts_with(&backing) {
            return Err(LazyError::Nested { backing, mountpoint });
        }
        if is_mount_root(&mountpoint) {
            return Err(LazyError::AlreadyMounted { mountpoint });
        }
        let helper_path = find_helper().ok_or(LazyError::NoHelper)?;
        let pending = Arc::new(Mutex::new(Pending::new(limit_bytes)));
        let fs = LazyFs::new(backing.clone(), Arc::clone(&pending))
            .map_err(|source| LazyError::Dir { path: backing.clone(), source })?;
        let (mut helper, fuse_fd) = spawn_helper(&helper_path, &mountpoint)?;
        let config = fuser::Config::default();
        let session = match fuser::Session::from_fd(fs, fuse_fd, fuser::SessionACL::All, config) {
            Ok(session) => session,
            Err(source) => {
                helper.detach(&helper_path, &mountpoint);
                return Err(LazyError::Session { mountpoint, source });
            }
        };
        let session = match session.spawn() {
            Ok(session) => session,
            Err(source) => {
                helper.detach(&helper_path, &mountpoint);
                return Err(LazyError::Session { mountpoint, source });
            }
        };
        tracing::debug!("lazyfs: mounted {} at {}", backing.display(), mountpoint.display());
        Ok(LazyMount { mountpoint, pending, session: Some(session), helper: Some(helper), helper_path })
    }

    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Discards every unsynced write; with `torn`, each file's oldest unsynced write keeps its
    /// whole 512-byte sectors but the last one it touched (see `state::Pending::power_loss`),
    /// written to the backing file. Returns what was lost.
    pub fn power_loss(&self, torn: bool) -> Loss {
        let loss = lock(&self.pending).power_loss(torn);
        tracing::debug!("lazyfs: power loss at {}: {loss:?}", self.mountpoint.display());
        loss
    }

    /// What a power loss now would lose.
    #[cfg(test)]
    pub fn pending(&self) -> Loss {
        lock(&self.pending).loss()
    }
}

impl Drop for LazyMount {
    fn drop(&mut self) {
        if let Some(mut helper) = self.helper.take() {
            helper.detach(&self.helper_path, &self.mountpoint);
        }
        let Some(session) = self.session.take() else {
            self.write_back();
            return;
        };
        // Once detached and unused, the kernel ends the connection and the thread returns.
        // A process that still has a file open keeps it served (it is not aborted under it).
        let ended = wait_until(SESSION_END_TIMEOUT_MS, || session.guard.is_finished());
        if ended {
            if let Err(e) = session.join() {
                tracing::warn!("lazyfs: the session of {} ended with: {e}", self.mountpoint.display());
            }
        } else {
            tracing::warn!(
                "lazyfs: {} is detached but a process still has a file open in it; its session \
                 thread serves that file until it is closed",
                self.mountpoint.display()
            );
        }
        // Then, with nothing writing any more (as far as can be waited for), a clean unmount
        // loses nothing: what is still pending goes to the backing files.
        self.write_back();
    }
}

impl LazyMount {
    fn write_back(&self) {
        if let Err(e) = lock(&self.pending).write_back() {
            tracing::warn!(
                "lazyfs: cannot write back all that is pending in {}: {e}",
                self.mountpoint.display()
            );
        }
    }
}

impl Helper {
    /// Detaches the mount and reaps the helper. fusermount3's auto_unmount only unmounts a
    /// mount whose daemon is gone (it opens the mountpoint and unmounts on ENOTCONN), so
    /// while our session is alive the unmount is ours to do: a lazy detach (umount2, or
    /// `fusermount3 -u -z` where that is not permitted). Then closing the socket lets the
    /// helper exit; it is killed if it hangs.
    fn detach(&mut self, helper: &Path, mountpoint: &Path) {
        unmount(helper, mountpoint);
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
        let exited = wait_until(HELPER_EXIT_TIMEOUT_MS, || matches!(self.child.try_wait(), Ok(Some(_))));
        if !exited {
            tracing::warn!(
                "lazyfs: {HELPER} watching {} did not exit in time; killing it",
                mountpoint.display()
            );
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(mut stderr) = self.stderr.take() {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            if !text.trim().is_empty() {
                tracing::debug!("lazyfs: {HELPER} said: {}", text.trim());
            }
        }
    }
}

/// Lazily detaches the mount at `mountpoint` (it goes away when its last user closes).
fn unmount(helper: &Path, mountpoint: &Path) {
    match nix::mount::umount2(mountpoint, nix::mount::MntFlags::MNT_DETACH) {
        Ok(()) => {}
        Err(nix::errno::Errno::EPERM) => {
            // Not root: the setuid helper may unmount what the user mounted.
            match Command::new(helper).arg("-u").arg("-z").arg("-q").arg("--").arg(mountpoint).output() {
                Ok(out) if out.status.success() => {}
                Ok(out) => tracing::warn!(
                    "lazyfs: {HELPER} -u {} failed: {}",
                    mountpoint.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                Err(e) => tracing::warn!("lazyfs: cannot run {HELPER} -u {}: {e}", mountpoint.display()),
            }
        }
        Err(e) => tracing::warn!("lazyfs: unmounting {} failed: {e}", mountpoint.display()),
    }
}

fn wait_until(timeout_ms: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(POLL_MS));
    }
}

fn make_dir(path: &Path) -> Result<PathBuf, LazyError> {
    let err = |source| LazyError::Dir { path: path.to_path_buf(), source };
    std::fs::create_dir_all(path).map_err(err)?;
    path.canonicalize().map_err(err)
}

/// Runs `fusermount3 -o <options> -- <mountpoint>` with the fuse3 helper protocol: it mounts,
/// then passes the /dev/fuse descriptor back over a socket, and (auto_unmount) keeps running
/// until that socket closes.
fn spawn_helper(helper: &Path, mountpoint: &Path) -> Result<(Helper, OwnedFd), LazyError> {
    let spawn_err = |source| LazyError::Spawn { helper: helper.to_path_buf(), source };
    let (ours, theirs) = UnixStream::pair().map_err(spawn_err)?;
    let their_fd: RawFd = theirs.as_raw_fd();
    let options = "rw,nosuid,nodev,noatime,default_permissions,allow_other,auto_unmount,fsname=synod-lazyfs,subtype=lazyfs";
    let mut command = Command::new(helper);
    command
        .arg("-o")
        .arg(options)
        .arg("--")
        .arg(mountpoint)
        .env("_FUSE_COMMFD", their_fd.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: only fcntl (async-signal-safe) runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let flags = libc::fcntl(their_fd, libc::F_GETFD);
            if flags < 0 || libc::fcntl(their_fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(spawn_err)?;
    drop(theirs);
    let stderr = child.stderr.take();
    let mut helper_state = Helper { child, socket: ours, stderr };
    match receive_fd(&helper_state.socket) {
        Ok(fd) => Ok((helper_state, fd)),
        Err(why) => {
            let _ = helper_state.child.wait();
            let mut said = String::new();
            if let Some(mut stderr) = helper_state.stderr.take() {
                let _ = stderr.read_to_string(&mut said);
            }
            let reason = if said.trim().is_empty() { why } else { said.trim().to_string() };
            Err(LazyError::Mount { mountpoint: mountpoint.to_path_buf(), reason })
        }
    }
}

/// Receives the /dev/fuse descriptor the helper sends with SCM_RIGHTS.
fn receive_fd(socket: &UnixStream) -> Result<OwnedFd, String> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!(RawFd);
    let msg = loop {
        match recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Ok(msg) => break msg,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("reading the descriptor from {HELPER}: {e}")),
        }
    };
    if msg.bytes == 0 {
        return Err(format!("{HELPER} exited without mounting"));
    }
    let cmsgs = msg.cmsgs().map_err(|e| format!("a bad message from {HELPER}: {e}"))?;
    for cmsg in cmsgs {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just gave us this descriptor; nothing else owns it.
                let file = unsafe { File::from_raw_fd(fd) };
                for extra in &fds[1..] {
                    // SAFETY: as above; these are unexpected and closed at once.
                    drop(unsafe { File::from_raw_fd(*extra) });
                }
                return Ok(OwnedFd::from(file));
            }
        }
    }
    Err(format!("{HELPER} sent no descriptor"))
}
