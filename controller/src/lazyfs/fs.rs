//! The FUSE filesystem: a passthrough to the backing directory whose file contents are lazy.
//!
//! - Namespace operations (create, mkdir, unlink, rmdir, rename, link, symlink) and metadata
//!   (chmod, chown, utimes) go straight to the backing directory: a new entry is durable at
//!   once, so a directory fsync has nothing left to do and is accepted as a no-op.
//! - File contents (write, truncate, extend) are recorded in [`Pending`] and reach the
//!   backing file only on fsync/fdatasync of that file (or at once for a handle opened with
//!   O_SYNC/O_DSYNC). Reads and getattr see them, as a page cache would.
//! - Every file is opened with FOPEN_DIRECT_IO and every TTL is zero: the kernel keeps no
//!   pages and no sizes of its own, so every read and write reaches this daemon and a size
//!   changed by a power loss is seen at the next stat.
//!
//! FUSE inode numbers are the backing inode numbers, with the backing root's number and 1
//! (FUSE's root) swapped, so stat's `st_ino` and readdir's `d_ino` agree and pending state
//! can be keyed by the backing inode. The backing tree must be one filesystem: an entry on
//! another device is refused with EXDEV.

mod setattr;

use super::state::Pending;
use fuser::{
    FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen,
    ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use setattr::Target;
use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Attribute and entry TTL: nothing is cached by the kernel.
const TTL: Duration = Duration::ZERO;
/// Open file handles per mount.
const HANDLES_MAX: usize = 65_536;
/// Inodes the kernel may hold references to at once.
const NODES_MAX: usize = 1 << 20;
/// Entries one directory listing may hold.
const DIR_ENTRIES_MAX: usize = 1 << 20;

fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// Locks, carrying on after a panicked holder (the tables stay consistent op by op).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An inode the kernel knows: where it was last seen in the backing tree.
struct Node {
    /// Path relative to the backing root.
    rel: PathBuf,
    backing_ino: u64,
    lookups: u64,
}

struct Handle {
    file: Arc<File>,
    backing_ino: u64,
    writable: bool,
    /// O_APPEND: every write goes at the end as the process sees it.
    append: bool,
    /// O_SYNC or O_DSYNC: every write is made durable before it returns.
    sync_writes: bool,
}

struct DirItem {
    ino: u64,
    kind: FileType,
    name: OsString,
}

#[derive(Default)]
struct Tables {
    nodes: HashMap<u64, Node>,
    handles: HashMap<u64, Handle>,
    dirs: HashMap<u64, Vec<DirItem>>,
    next_fh: u64,
}

impl Tables {
    fn new_fh(&mut self) -> io::Result<u64> {
        if self.handles.len() + self.dirs.len() >= HANDLES_MAX {
            return Err(errno(libc::EMFILE));
        }
        self.next_fh += 1;
        Ok(self.next_fh)
    }

    fn is_open(&self, backing_ino: u64) -> bool {
        self.handles.values().any(|h| h.backing_ino == backing_ino)
    }
}

pub struct LazyFs {
    /// The backing directory, canonical.
    root: PathBuf,
    dev: u64,
    root_backing_ino: u64,
    pending: Arc<Mutex<Pending>>,
    tables: Mutex<Tables>,
}

impl LazyFs {
    pub fn new(root: PathBuf, pending: Arc<Mutex<Pending>>) -> io::Result<LazyFs> {
        let meta = std::fs::metadata(&root)?;
        Ok(LazyFs {
            root,
            dev: meta.dev(),
            root_backing_ino: meta.ino(),
            pending,
            tables: Mutex::new(Tables::default()),
        })
    }

    /// The FUSE inode number of a backing inode number (an involution).
    fn fuse_ino(&self, backing_ino: u64) -> u64 {
        if backing_ino == self.root_backing_ino {
            INodeNo::ROOT.0
        } else if backing_ino == INodeNo::ROOT.0 {
            self.root_backing_ino
        } else {
            backing_ino
        }
    }

    fn path_of(&self, t: &Tables, ino: u64) -> io::Result<PathBuf> {
        if ino == INodeNo::ROOT.0 {
            return Ok(self.root.clone());
        }
        t.nodes.get(&ino).map(|n| self.root.join(&n.rel)).ok_or_else(|| errno(libc::ESTALE))
    }

    /// The backing path of `name` in directory `parent`, absolute and relative.
    fn child(&self, t: &Tables, parent: u64, name: &OsStr) -> io::Result<(PathBuf, PathBuf)> {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes == b"." || bytes == b".." || bytes.contains(&b'/') {
            return Err(errno(libc::EINVAL));
        }
        let parent_rel = if parent == INodeNo::ROOT.0 {
            PathBuf::new()
        } else {
            t.nodes.get(&parent).map(|n| n.rel.clone()).ok_or_else(|| errno(libc::ESTALE))?
        };
        let rel = parent_rel.join(name);
        Ok((self.root.join(&rel), rel))
    }

    /// lstat of inode `ino` by its path, checking the path still names that inode.
    fn stat_node(&self, t: &Tables, ino: u64) -> io::Result<(PathBuf, Metadata)> {
        let path = self.path_of(t, ino)?;
        let meta = std::fs::symlink_metadata(&path)?;
        if ino != INodeNo::ROOT.0 && t.nodes.get(&ino).map(|n| n.backing_ino) != Some(meta.ino()) {
            // The name now belongs to another file (renamed over, or removed and reused).
            return Err(errno(libc::ENOENT));
        }
        Ok((path, meta))
    }

    /// Counts a kernel reference to the inode `meta` found at `rel`; returns its FUSE number.
    fn remember(&self, t: &mut Tables, rel: PathBuf, meta: &Metadata) -> io::Result<u64> {
        if meta.dev() != self.dev {
            tracing::warn!(
                "lazyfs: {} is on another filesystem than the backing directory {}; refused",
                self.root.join(&rel).display(),
                self.root.display()
            );
            return Err(errno(libc::EXDEV));
        }
        let ino = self.fuse_ino(meta.ino());
        if ino == INodeNo::ROOT.0 {
            return Ok(ino);
        }
        if !t.nodes.contains_key(&ino) && t.nodes.len() >= NODES_MAX {
            return Err(errno(libc::ENFILE));
        }
        let node =
            t.nodes.entry(ino).or_insert(Node { rel: PathBuf::new(), backing_ino: meta.ino(), lookups: 0 });
        node.rel = rel;
        node.backing_ino = meta.ino();
        node.lookups += 1;
        Ok(ino)
    }

    fn attr(&self, meta: &Metadata) -> FileAttr {
        let kind = fuser::FileType::from_std(meta.file_type()).unwrap_or(FileType::RegularFile);
        let mut size = meta.size();
        let mut blocks = meta.blocks();
        if meta.is_file() {
            if let Some(pending) = lock(&self.pending).size(meta.ino()) {
                size = pending;
                blocks = blocks.max(pending.div_ceil(512));
            }
        }
        FileAttr {
            ino: INodeNo(self.fuse_ino(meta.ino())),
            size,
            blocks,
            atime: time(meta.atime(), meta.atime_nsec()),
            mtime: time(meta.mtime(), meta.mtime_nsec()),
            ctime: time(meta.ctime(), meta.ctime_nsec()),
            crtime: UNIX_EPOCH,
            kind,
            perm: (meta.mode() & 0o7777) as u16,
            nlink: meta.nlink() as u32,
            uid: meta.uid(),
            gid: meta.gid(),
            rdev: meta.rdev() as u32,
            blksize: meta.blksize() as u32,
            flags: 0,
        }
    }

    fn do_lookup(&self, parent: u64, name: &OsStr) -> io::Result<FileAttr> {
        let mut t = lock(&self.tables);
        let (path, rel) = self.child(&t, parent, name)?;
        let meta = std::fs::symlink_metadata(&path)?;
        self.remember(&mut t, rel, &meta)?;
        Ok(self.attr(&meta))
    }

    fn do_getattr(&self, ino: u64, fh: Option<FileHandle>) -> io::Result<FileAttr> {
        let t = lock(&self.tables);
        let meta = match fh.and_then(|fh| t.handles.get(&fh.0)) {
            Some(handle) => handle.file.metadata()?,
            None => self.stat_node(&t, ino)?.1,
        };
        drop(t);
        Ok(self.attr(&meta))
    }

    /// chmod, chown and utimes reach the backing file at once; a new size is pending, like a
    /// write, until the file's fsync.
    #[allow(clippy::too_many_arguments)]
    fn do_setattr(
        &self,
        ino: u64,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        fh: Option<FileHandle>,
    ) -> io::Result<FileAttr> {
        let t = lock(&self.tables);
        let (target, meta) = match fh.and_then(|fh| t.handles.get(&fh.0)) {
            Some(h) => {
                (Target::Handle { file: Arc::clone(&h.file), writable: h.writable }, h.file.metadata()?)
            }
            None => {
                let (path, meta) = self.stat_node(&t, ino)?;
                (Target::Path(path), meta)
            }
        };
        drop(t);
        if let Some(mode) = mode {
            target.set_mode(mode)?;
        }
        if uid.is_some() || gid.is_some() {
            target.set_owner(uid, gid)?;
        }
        if atime.is_some() || mtime.is_some() {
            target.set_times(atime, mtime)?;
        }
        if let Some(size) = size {
            if !meta.is_file() {
                return Err(errno(if meta.is_dir() { libc::EISDIR } else { libc::EINVAL }));
            }
            let file = target.file_to_truncate()?;
            lock(&self.pending).truncate(meta.ino(), &file, size)?;
        }
        Ok(self.attr(&target.metadata()?))
    }

    /// Registers an open backing file; applies O_TRUNC lazily.
    fn add_handle(&self, t: &mut Tables, file: File, flags: i32) -> io::Result<u64> {
        let meta = file.metadata()?;
        let acc = flags & libc::O_ACCMODE;
        let writable = acc == libc::O_WRONLY || acc == libc::O_RDWR;
        let file = Arc::new(file);
        if writable && flags & libc::O_TRUNC != 0 && meta.is_file() {
            lock(&self.pending).truncate(meta.ino(), &file, 0)?;
        }
        let fh = t.new_fh()?;
        let handle = Handle {
            file,
            backing_ino: meta.ino(),
            writable,
            append: flags & libc::O_APPEND != 0,
            sync_writes: flags & (libc::O_SYNC | libc::O_DSYNC) != 0,
        };
        t.handles.insert(fh, handle);
        Ok(fh)
    }

    fn do_open(&self, ino: u64, flags: i32) -> io::Result<u64> {
        let mut t = lock(&self.tables);
        let (path, meta) = self.stat_node(&t, ino)?;
        let file = open_options(flags).open(&path)?;
        if file.metadata()?.ino() != meta.ino() {
            return Err(errno(libc::ENOENT));
        }
        self.add_handle(&mut t, file, flags)
    }

    fn do_create(
        &self,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
    ) -> io::Result<(FileAttr, u64)> {
        let mut t = lock(&self.tables);
        let (path, rel) = self.child(&t, parent, name)?;
        let mut options = open_options(flags);
        options.custom_flags(libc::O_CREAT | (flags & libc::O_EXCL)).mode(mode & !umask & 0o7777);
        let file = options.open(&path)?;
        let meta = file.metadata()?;
        let fh = self.add_handle(&mut t, file, flags)?;
        if let Err(e) = self.remember(&mut t, rel, &meta) {
            t.handles.remove(&fh);
            return Err(e);
        }
        drop(t);
        Ok((self.attr(&meta), fh))
    }

    fn do_read(&self, fh: u64, offset: u64, size: u32) -> io::Result<Vec<u8>> {
        let t = lock(&self.tables);
        let handle = t.handles.get(&fh).ok_or_else(|| errno(libc::EBADF))?;
        let (file, ino) = (Arc::clone(&handle.file), handle.backing_ino);
        drop(t);
        lock(&self.pending).read(ino, &file, offset, size as usize)
    }

    fn do_write(&self, fh: u64, offset: u64, data: &[u8]) -> io::Result<u32> {
        let t = lock(&self.tables);
        let handle = t.handles.get(&fh).ok_or_else(|| errno(libc::EBADF))?;
        if !handle.writable {
            return Err(errno(libc::EBADF));
        }
        let (file, ino, append, sync) =
            (Arc::clone(&handle.file), handle.backing_ino, handle.append, handle.sync_writes);
        drop(t);
        let len = u32::try_from(data.len()).map_err(|_| errno(libc::EFBIG))?;
        let mut pending = lock(&self.pending);
        let offset = if append { pending.size_or_backing(ino, &file)? } else { offset };
        pending.write(ino, &file, offset, data)?;
        if sync {
            pending.sync(ino, &file, true)?;
        }
        Ok(len)
    }

    fn do_fsync(&self, fh: u64, datasync: bool) -> io::Result<()> {
        let t = lock(&self.tables);
        let handle = t.handles.get(&fh).ok_or_else(|| errno(libc::EBADF))?;
        let (file, ino) = (Arc::clone(&handle.file), handle.backing_ino);
        drop(t);
        lock(&self.pending).sync(ino, &file, datasync)
    }

    fn do_release(&self, fh: u64) -> io::Result<()> {
        let mut t = lock(&self.tables);
        let handle = t.handles.remove(&fh).ok_or_else(|| errno(libc::EBADF))?;
        if !t.is_open(handle.backing_ino) && handle.file.metadata()?.nlink() == 0 {
            // The last descriptor of an unlinked file: its contents are gone for good.
            lock(&self.pending).forget(handle.backing_ino);
        }
        Ok(())
    }

    fn do_opendir(&self, ino: u64) -> io::Result<u64> {
        let mut t = lock(&self.tables);
        let (path, _) = self.stat_node(&t, ino)?;
        let mut items = vec![
            DirItem { ino, kind: FileType::Directory, name: ".".into() },
            DirItem { ino, kind: FileType::Directory, name: "..".into() },
        ];
        for entry in std::fs::read_dir(&path)? {
            let entry = entry?;
            if items.len() >= DIR_ENTRIES_MAX {
                tracing::warn!("lazyfs: {} has more than {DIR_ENTRIES_MAX} entries; refused", path.display());
                return Err(errno(libc::ENOMEM));
            }
            let kind = entry.file_type().ok().and_then(FileType::from_std).unwrap_or(FileType::RegularFile);
            items.push(DirItem {
                ino: self.fuse_ino(std::os::unix::fs::DirEntryExt::ino(&entry)),
                kind,
                name: entry.file_name(),
            });
        }
        let fh = t.new_fh()?;
        t.dirs.insert(fh, items);
        Ok(fh)
    }

    fn do_mkdir(&self, parent: u64, name: &OsStr, mode: u32, umask: u32) -> io::Result<FileAttr> {
        let mut t = lock(&self.tables);
        let (path, rel) = self.child(&t, parent, name)?;
        std::fs::DirBuilder::new().mode(mode & !umask & 0o7777).create(&path)?;
        let meta = std::fs::symlink_metadata(&path)?;
        self.remember(&mut t, rel, &meta)?;
        drop(t);
        Ok(self.attr(&meta))
    }

    fn do_unlink(&self, parent: u64, name: &OsStr) -> io::Result<()> {
        let t = lock(&self.tables);
        let (path, _) = self.child(&t, parent, name)?;
        let meta = std::fs::symlink_metadata(&path)?;
        std::fs::remove_file(&path)?;
        if meta.is_file() && meta.nlink() <= 1 && !t.is_open(meta.ino()) {
            lock(&self.pending).forget(meta.ino());
        }
        Ok(())
    }

    fn do_rmdir(&self, parent: u64, name: &OsStr) -> io::Result<()> {
        let t = lock(&self.tables);
        let (path, _) = self.child(&t, parent, name)?;
        std::fs::remove_dir(&path)
    }

    fn do_rename(
        &self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: RenameFlags,
    ) -> io::Result<()> {
        let mut t = lock(&self.tables);
        let (from, from_rel) = self.child(&t, parent, name)?;
        let (to, to_rel) = self.child(&t, newparent, newname)?;
        let from_meta = std::fs::symlink_metadata(&from)?;
        let replaced = std::fs::symlink_metadata(&to).ok();
        let exchange = flags.contains(RenameFlags::RENAME_EXCHANGE);
        if flags.is_empty() {
            std::fs::rename(&from, &to)?;
        } else {
            let (a, b) = (cstring(&from)?, cstring(&to)?);
            // SAFETY: NUL-terminated paths; renameat2 validates the flags itself.
            let rc = unsafe {
                libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), flags.bits())
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        for node in t.nodes.values_mut() {
            if let Some(moved) = rebase(&node.rel, &from_rel, &to_rel) {
                node.rel = moved;
            } else if exchange {
                if let Some(moved) = rebase(&node.rel, &to_rel, &from_rel) {
                    node.rel = moved;
                }
            }
        }
        if let Some(old) = replaced {
            let gone = !exchange && old.is_file() && old.ino() != from_meta.ino() && old.nlink() <= 1;
            if gone && !t.is_open(old.ino()) {
                lock(&self.pending).forget(old.ino());
            }
        }
        Ok(())
    }

    fn do_link(&self, ino: u64, newparent: u64, newname: &OsStr) -> io::Result<FileAttr> {
        let mut t = lock(&self.tables);
        let (from, _) = self.stat_node(&t, ino)?;
        let (to, rel) = self.child(&t, newparent, newname)?;
        std::fs::hard_link(&from, &to)?;
        let meta = std::fs::symlink_metadata(&to)?;
        self.remember(&mut t, rel, &meta)?;
        drop(t);
        Ok(self.attr(&meta))
    }

    fn do_symlink(&self, parent: u64, name: &OsStr, target: &Path) -> io::Result<FileAttr> {
        let mut t = lock(&self.tables);
        let (path, rel) = self.child(&t, parent, name)?;
        std::os::unix::fs::symlink(target, &path)?;
        let meta = std::fs::symlink_metadata(&path)?;
        self.remember(&mut t, rel, &meta)?;
        drop(t);
        Ok(self.attr(&meta))
    }

    fn do_readlink(&self, ino: u64) -> io::Result<Vec<u8>> {
        let t = lock(&self.tables);
        let (path, _) = self.stat_node(&t, ino)?;
        Ok(std::fs::read_link(path)?.into_os_string().into_vec())
    }

    fn do_statfs(&self) -> io::Result<libc::statvfs> {
        let c = cstring(&self.root)?;
        // SAFETY: an all-zero statvfs is a valid value to be overwritten.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a NUL-terminated path and a valid out pointer.
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(st)
    }
}

/// Options to open a backing file for the access mode in `flags`. O_APPEND, O_TRUNC,
/// O_SYNC, O_DSYNC and O_DIRECT are handled here, not by the backing file.
fn open_options(flags: i32) -> OpenOptions {
    let acc = flags & libc::O_ACCMODE;
    let mut options = OpenOptions::new();
    options
        .read(acc == libc::O_RDONLY || acc == libc::O_RDWR)
        .write(acc == libc::O_WRONLY || acc == libc::O_RDWR);
    options.custom_flags(flags & libc::O_NOFOLLOW);
    options
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| errno(libc::EINVAL))
}

/// `path` with its prefix `from` replaced by `to`, if it is `from` or under it.
fn rebase(path: &Path, from: &Path, to: &Path) -> Option<PathBuf> {
    let rest = path.strip_prefix(from).ok()?;
    Some(if rest.as_os_str().is_empty() { to.to_path_buf() } else { to.join(rest) })
}

fn time(secs: i64, nsecs: i64) -> SystemTime {
    let nsecs = nsecs.clamp(0, 999_999_999) as u32;
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nsecs)
    } else {
        UNIX_EPOCH - Duration::new(secs.unsigned_abs(), 0) + Duration::new(0, nsecs)
    }
}

fn errno_of(e: io::Error) -> fuser::Errno {
    fuser::Errno::from(e)
}

impl Filesystem for LazyFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.do_lookup(parent.0, name) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        let mut t = lock(&self.tables);
        if let Some(node) = t.nodes.get_mut(&ino.0) {
            node.lookups = node.lookups.saturating_sub(nlookup);
            if node.lookups == 0 {
                t.nodes.remove(&ino.0);
            }
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.do_getattr(ino.0, fh) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        match self.do_setattr(ino.0, mode, uid, gid, size, atime, mtime, fh) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.do_readlink(ino.0) {
            Ok(target) => reply.data(&target),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn mkdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        match self.do_mkdir(parent.0, name, mode, umask) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.do_unlink(parent.0, name) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.do_rmdir(parent.0, name) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn symlink(&self, _req: &Request, parent: INodeNo, link_name: &OsStr, target: &Path, reply: ReplyEntry) {
        match self.do_symlink(parent.0, link_name, target) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        match self.do_rename(parent.0, name, newparent.0, newname, flags) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn link(&self, _req: &Request, ino: INodeNo, newparent: INodeNo, newname: &OsStr, reply: ReplyEntry) {
        match self.do_link(ino.0, newparent.0, newname) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self.do_open(ino.0, flags.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.do_read(fh.0, offset, size) {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.do_write(fh.0, offset, data) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close() does not sync: the contents stay pending, as in a page cache.
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        match self.do_release(fh.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn fsync(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, datasync: bool, reply: ReplyEmpty) {
        match self.do_fsync(fh.0, datasync) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.do_opendir(ino.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn readdir(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let t = lock(&self.tables);
        let Some(items) = t.dirs.get(&fh.0) else { return reply.error(fuser::Errno::EBADF) };
        for (i, item) in items.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(item.ino), i as u64 + 1, item.kind, &item.name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        lock(&self.tables).dirs.remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        // Directory entries reach the backing directory at once: nothing is pending.
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match self.do_statfs() {
            Ok(st) => reply.statfs(
                st.f_blocks,
                st.f_bfree,
                st.f_bavail,
                st.f_files,
                st.f_ffree,
                st.f_bsize as u32,
                st.f_namemax as u32,
                st.f_frsize as u32,
            ),
            Err(e) => reply.error(errno_of(e)),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        match self.do_create(parent.0, name, mode, umask, flags) {
            Ok((attr, fh)) => {
                reply.created(&TTL, &attr, Generation(0), FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO)
            }
            Err(e) => reply.error(errno_of(e)),
        }
    }
}
