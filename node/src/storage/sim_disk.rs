//! An in-memory [`Disk`] that loses what was not synced when it crashes: the simulator's disk
//! (issue 19). Deterministic: ordered maps only, and every random choice of a crash comes
//! from the [`Rng`] passed in.
//!
//! The model follows this project's LazyFS (controller/src/lazyfs/state.rs), the FUSE
//! filesystem that gives real nodes power losses, and keeps its rules for file contents:
//!
//! - Each file (an inode, so its state follows a rename) keeps its **durable** bytes and an
//!   ordered list of **pending** changes (writes and length changes) made since its last
//!   sync. A reader sees the durable bytes with the pending changes replayed on top (the page
//!   cache). [`Disk::sync_data`] makes them durable.
//! - [`SimDisk::crash`] is a power loss: every pending change is dropped. With
//!   [`Crash::Torn`], each file's *oldest* pending change, if it is a write, keeps a subset of
//!   its pieces, the write cut at [`SECTOR_BYTES`] boundaries, each kept or lost by the rng
//!   (a sector is written whole or not at all). Disks write in order, so the oldest unsynced
//!   write is the one in flight. LazyFS keeps one fixed subset (every whole sector but the
//!   last touched); the simulator draws any subset, which includes that one and the holes of
//!   a write whose sectors landed out of order.
//! - Pending changes are bounded ([`SimDisk::new`]'s `pending_bytes_max`, data plus
//!   [`OP_OVERHEAD_BYTES`] an op, as LazyFS): past it a change fails with ENOSPC. Files are
//!   bounded too (`FILE_BYTES_MAX`, EFBIG).
//!
//! Where it is stricter than LazyFS, which passes names straight to the real directory:
//! **names are lazy too.** A creation, rename or removal is pending in its directory until
//! [`Disk::sync_dir`] of that directory; a crash keeps a prefix (chosen by the rng) of each
//! directory's pending name changes, as a journaling filesystem commits metadata in order. A
//! file whose name was lost is gone with its contents, synced or not. So a log that forgets
//! to fsync its directory after creating or renaming a file is caught here, not by LazyFS.
//!
//! **Power cuts inside an operation sequence.** [`SimDisk::arm_power_cut`] lets a number of
//! further changing operations (creations, writes, length changes, syncs, renames, removals)
//! through and fails every one after it with an I/O error, until the next crash: the node
//! stops where the power went (its error path ends it), and the simulator then crashes the
//! disk. So a crash can strike between the steps of one append or one compaction, not only
//! between turns (the core's property tests, node/tests/sim).
//!
//! What it does not model: directories themselves are durable once made (`create_dir_all`);
//! renames across directories are refused (the log never makes one); later pending writes
//! never survive an earlier lost one (no reordering across writes: neither does LazyFS);
//! no bit flips or lost synced data (that is corruption, which the log refuses, and another
//! fault); no file metadata (permissions, times); a sync never fails.

use super::disk::Disk;
use crate::paxos::rng::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The unit a torn write keeps or loses: whole sectors of this size (as LazyFS).
pub const SECTOR_BYTES: u64 = 512;
/// What each pending op is charged on top of its data (as LazyFS).
pub const OP_OVERHEAD_BYTES: u64 = 64;
/// The largest file the simulated disk holds.
pub const FILE_BYTES_MAX: u64 = 1 << 30;
/// Pending name changes a directory may hold before a sync.
pub const NAME_OPS_MAX: usize = 4096;

/// How a crash treats the oldest pending write of each file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// Every pending change is lost.
    Clean,
    /// The oldest pending write keeps an rng-chosen subset of its sectors.
    Torn,
}

/// What a crash lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct CrashLoss {
    /// Pending content changes (writes and length changes) dropped, torn ones included.
    pub writes: u64,
    /// Bytes those writes carried.
    pub bytes: u64,
    /// Bytes of torn writes that did reach the disk.
    pub torn_bytes_kept: u64,
    /// Pending name changes (creations, renames, removals) lost.
    pub names: u64,
    /// Files that lost content changes.
    pub files: u64,
}

/// An open file of a [`SimDisk`]. Valid until the disk crashes.
#[derive(Debug)]
pub struct SimFile {
    ino: u64,
    /// The disk's boot count when opened: a handle from before a crash is refused.
    boot: u64,
    /// Counts the open handles of the inode (an unlinked inode lives while one is open).
    _open: Arc<()>,
}

#[derive(Debug, Clone)]
enum Op {
    Write { offset: u64, data: Vec<u8> },
    SetLen { len_bytes: u64 },
}

impl Op {
    fn charge_bytes(&self) -> u64 {
        match self {
            Op::Write { data, .. } => data.len() as u64 + OP_OVERHEAD_BYTES,
            Op::SetLen { .. } => OP_OVERHEAD_BYTES,
        }
    }
}

#[derive(Debug, Clone)]
struct Inode {
    durable: Vec<u8>,
    /// `durable` with `ops` applied: what a reader sees.
    visible: Vec<u8>,
    ops: Vec<Op>,
    charged_bytes: u64,
    open: Arc<()>,
}

#[derive(Debug, Clone)]
enum NameOp {
    Create { path: PathBuf, ino: u64 },
    Rename { from: PathBuf, to: PathBuf, ino: u64 },
    Remove { path: PathBuf },
}

impl NameOp {
    fn apply(&self, names: &mut BTreeMap<PathBuf, u64>) {
        match self {
            NameOp::Create { path, ino } => {
                names.insert(path.clone(), *ino);
            }
            NameOp::Rename { from, to, ino } => {
                names.remove(from);
                names.insert(to.clone(), *ino);
            }
            NameOp::Remove { path } => {
                names.remove(path);
            }
        }
    }
}

/// An in-memory disk with a crash that loses unsynced state: see the module docs. A clone
/// is a copy of the disk as it is (a simulator keeps one to fall back on when a node fails
/// to open its log; the clone's open handles are counted with the original's).
#[derive(Debug, Clone)]
pub struct SimDisk {
    dirs: BTreeSet<PathBuf>,
    /// Names as a process sees them.
    names: BTreeMap<PathBuf, u64>,
    /// Names as they would come back after a crash, before pending name changes.
    durable_names: BTreeMap<PathBuf, u64>,
    /// Name changes not yet made durable, by directory, in order.
    pending_names: BTreeMap<PathBuf, Vec<NameOp>>,
    inodes: BTreeMap<u64, Inode>,
    next_ino: u64,
    boot: u64,
    pending_bytes: u64,
    pending_bytes_max: u64,
    /// An armed power cut: changing operations still let through before it strikes.
    power_cut_after: Option<u64>,
    /// The armed power cut struck: every changing operation fails until the crash.
    power_cut: bool,
}

fn err(kind: io::ErrorKind, what: String) -> io::Error {
    io::Error::new(kind, what)
}

fn enospc() -> io::Error {
    io::Error::from_raw_os_error(nix::errno::Errno::ENOSPC as i32)
}

fn not_found(path: &Path) -> io::Error {
    err(io::ErrorKind::NotFound, format!("simulated disk: no such file {}", path.display()))
}

/// Writes `data` at `offset` of `bytes`, growing it with zeros as needed.
fn apply_write(bytes: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let end = offset as usize + data.len();
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    bytes[offset as usize..end].copy_from_slice(data);
}

impl SimDisk {
    /// An empty disk holding at most `pending_bytes_max` of unsynced changes.
    pub fn new(pending_bytes_max: u64) -> SimDisk {
        assert!(pending_bytes_max > 0, "a simulated disk needs room for a pending byte");
        SimDisk {
            dirs: BTreeSet::new(),
            names: BTreeMap::new(),
            durable_names: BTreeMap::new(),
            pending_names: BTreeMap::new(),
            inodes: BTreeMap::new(),
            next_ino: 1,
            boot: 0,
            pending_bytes: 0,
            pending_bytes_max,
            power_cut_after: None,
            power_cut: false,
        }
    }

    /// Arms a power cut: `ops` more changing operations succeed, then every one fails with an
    /// I/O error until [`SimDisk::crash`] (see the module docs). Reads never fail.
    pub fn arm_power_cut(&mut self, ops: u64) {
        self.power_cut_after = Some(ops);
    }

    /// Disarms a power cut that has not struck (one that has stays until the crash).
    pub fn disarm_power_cut(&mut self) {
        self.power_cut_after = None;
    }

    /// Whether an armed power cut has struck since the last crash.
    pub fn power_cut(&self) -> bool {
        self.power_cut
    }

    /// Counts one changing operation against an armed power cut.
    fn spend(&mut self) -> io::Result<()> {
        match self.power_cut_after {
            _ if self.power_cut => {}
            Some(0) => self.power_cut = true,
            Some(n) => {
                self.power_cut_after = Some(n - 1);
                return Ok(());
            }
            None => return Ok(()),
        }
        Err(err(io::ErrorKind::Other, "simulated disk: the power was cut".into()))
    }

    /// The bytes of `path` as a process reads them now, if it exists.
    pub fn read(&self, path: &Path) -> Option<&[u8]> {
        self.names.get(path).map(|ino| self.inodes[ino].visible.as_slice())
    }

    /// Whether a crash now could lose anything.
    pub fn has_pending(&self) -> bool {
        self.pending_bytes > 0 || self.pending_names.values().any(|ops| !ops.is_empty())
    }

    /// Crashes the disk (a power loss): unsynced contents and names are lost as the module
    /// docs say, every open handle becomes invalid, and the disk reads as it would on reboot.
    pub fn crash(&mut self, rng: &mut Rng, mode: Crash) -> CrashLoss {
        let mut loss = CrashLoss::default();
        self.boot += 1;
        (self.power_cut_after, self.power_cut) = (None, false);
        for ops in self.pending_names.values() {
            let keep = rng.below(ops.len() as u64 + 1) as usize;
            for op in &ops[..keep] {
                op.apply(&mut self.durable_names);
            }
            loss.names += (ops.len() - keep) as u64;
        }
        self.pending_names.clear();
        self.names = self.durable_names.clone();
        for inode in self.inodes.values_mut() {
            loss.files += u64::from(!inode.ops.is_empty());
            for op in &inode.ops {
                loss.writes += 1;
                if let Op::Write { data, .. } = op {
                    loss.bytes += data.len() as u64;
                }
            }
            if let (Crash::Torn, Some(Op::Write { offset, data })) = (mode, inode.ops.first()) {
                let mut at = *offset;
                let end = offset + data.len() as u64;
                while at < end {
                    let piece_end = ((at / SECTOR_BYTES + 1) * SECTOR_BYTES).min(end);
                    if rng.below(2) == 1 {
                        let piece = &data[(at - offset) as usize..(piece_end - offset) as usize];
                        apply_write(&mut inode.durable, at, piece);
                        loss.torn_bytes_kept += piece.len() as u64;
                    }
                    at = piece_end;
                }
            }
            inode.ops.clear();
            inode.charged_bytes = 0;
            inode.visible.clone_from(&inode.durable);
        }
        self.pending_bytes = 0;
        // No handle survives a crash: an inode without a name is gone.
        let named: BTreeSet<u64> = self.names.values().copied().collect();
        self.inodes.retain(|ino, _| named.contains(ino));
        loss
    }

    fn parent_of(&self, path: &Path) -> io::Result<PathBuf> {
        let parent = path.parent().ok_or_else(|| {
            err(io::ErrorKind::InvalidInput, format!("simulated disk: {} has no directory", path.display()))
        })?;
        if !self.dirs.contains(parent) {
            return Err(err(
                io::ErrorKind::NotFound,
                format!("simulated disk: no such directory {}", parent.display()),
            ));
        }
        Ok(parent.to_path_buf())
    }

    fn push_name_op(&mut self, dir: PathBuf, op: NameOp) -> io::Result<()> {
        let ops = self.pending_names.entry(dir).or_default();
        if ops.len() >= NAME_OPS_MAX {
            return Err(enospc());
        }
        ops.push(op);
        Ok(())
    }

    fn inode(&mut self, file: &SimFile) -> io::Result<&mut Inode> {
        if file.boot != self.boot {
            return Err(err(io::ErrorKind::Other, "simulated disk: a handle from before a crash".into()));
        }
        Ok(self.inodes.get_mut(&file.ino).expect("an open handle's inode lives"))
    }

    /// Records `op` on the file of `file`, charged against the pending limit.
    fn push_op(&mut self, file: &SimFile, op: Op) -> io::Result<()> {
        let charge = op.charge_bytes();
        if self.pending_bytes.saturating_add(charge) > self.pending_bytes_max {
            return Err(enospc());
        }
        let inode = self.inode(file)?;
        match &op {
            Op::Write { offset, data } => apply_write(&mut inode.visible, *offset, data),
            Op::SetLen { len_bytes } => inode.visible.resize(*len_bytes as usize, 0),
        }
        inode.ops.push(op);
        inode.charged_bytes += charge;
        self.pending_bytes += charge;
        Ok(())
    }

    /// Drops inodes nothing can reach: no name now, none after a crash, no open handle.
    fn collect(&mut self, ino: u64) {
        let reachable = self.names.values().chain(self.durable_names.values()).any(|&i| i == ino)
            || self.inodes.get(&ino).is_some_and(|inode| Arc::strong_count(&inode.open) > 1);
        if !reachable {
            if let Some(inode) = self.inodes.remove(&ino) {
                assert!(inode.charged_bytes <= self.pending_bytes, "charges add up");
                self.pending_bytes -= inode.charged_bytes;
            }
        }
    }
}

impl Disk for SimDisk {
    type File = SimFile;

    fn create_dir_all(&mut self, dir: &Path) -> io::Result<()> {
        for ancestor in dir.ancestors() {
            if !ancestor.as_os_str().is_empty() {
                self.dirs.insert(ancestor.to_path_buf());
            }
        }
        Ok(())
    }

    fn open(&mut self, path: &Path, truncate: bool) -> io::Result<SimFile> {
        self.spend()?;
        let dir = self.parent_of(path)?;
        if self.dirs.contains(path) {
            return Err(err(
                io::ErrorKind::IsADirectory,
                format!("simulated disk: {} is a directory", path.display()),
            ));
        }
        let ino = match self.names.get(path) {
            Some(&ino) => ino,
            None => {
                let ino = self.next_ino;
                self.push_name_op(dir, NameOp::Create { path: path.to_path_buf(), ino })?;
                self.next_ino += 1;
                self.names.insert(path.to_path_buf(), ino);
                let inode = Inode {
                    durable: Vec::new(),
                    visible: Vec::new(),
                    ops: Vec::new(),
                    charged_bytes: 0,
                    open: Arc::new(()),
                };
                self.inodes.insert(ino, inode);
                ino
            }
        };
        let file = SimFile { ino, boot: self.boot, _open: Arc::clone(&self.inodes[&ino].open) };
        if truncate && !self.inodes[&ino].visible.is_empty() {
            self.push_op(&file, Op::SetLen { len_bytes: 0 })?;
        }
        Ok(file)
    }

    fn read_all(&mut self, file: &mut SimFile) -> io::Result<Vec<u8>> {
        Ok(self.inode(file)?.visible.clone())
    }

    fn write_at(&mut self, file: &SimFile, data: &[u8], offset: u64) -> io::Result<()> {
        self.spend()?;
        if data.is_empty() {
            return Ok(());
        }
        if offset.saturating_add(data.len() as u64) > FILE_BYTES_MAX {
            return Err(io::Error::from_raw_os_error(nix::errno::Errno::EFBIG as i32));
        }
        self.push_op(file, Op::Write { offset, data: data.to_vec() })
    }

    fn set_len(&mut self, file: &SimFile, len_bytes: u64) -> io::Result<()> {
        self.spend()?;
        if len_bytes > FILE_BYTES_MAX {
            return Err(io::Error::from_raw_os_error(nix::errno::Errno::EFBIG as i32));
        }
        if self.inode(file)?.visible.len() as u64 == len_bytes {
            return Ok(()); // changes nothing (as LazyFS, not recorded)
        }
        self.push_op(file, Op::SetLen { len_bytes })
    }

    fn file_len(&mut self, file: &SimFile) -> io::Result<u64> {
        Ok(self.inode(file)?.visible.len() as u64)
    }

    fn sync_data(&mut self, file: &SimFile) -> io::Result<()> {
        self.spend()?;
        let inode = self.inode(file)?;
        // The pending changes reach the disk, in order: the cost is theirs, not the file's
        // (copying `visible` whole made every sync of a growing log cost its whole length).
        for op in inode.ops.drain(..) {
            match op {
                Op::Write { offset, data } => apply_write(&mut inode.durable, offset, &data),
                Op::SetLen { len_bytes } => inode.durable.resize(len_bytes as usize, 0),
            }
        }
        #[cfg(test)]
        assert!(inode.durable == inode.visible, "a synced file reads as it was written");
        let charged = std::mem::take(&mut inode.charged_bytes);
        assert!(charged <= self.pending_bytes, "charges add up");
        self.pending_bytes -= charged;
        Ok(())
    }

    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        self.spend()?;
        let dir = self.parent_of(from)?;
        if self.parent_of(to)? != dir {
            return Err(err(
                io::ErrorKind::Unsupported,
                format!("simulated disk: rename across directories ({} to {})", from.display(), to.display()),
            ));
        }
        let ino = *self.names.get(from).ok_or_else(|| not_found(from))?;
        self.push_name_op(dir, NameOp::Rename { from: from.to_path_buf(), to: to.to_path_buf(), ino })?;
        self.names.remove(from);
        if let Some(replaced) = self.names.insert(to.to_path_buf(), ino) {
            if replaced != ino {
                self.collect(replaced);
            }
        }
        Ok(())
    }

    fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        self.spend()?;
        if !self.dirs.contains(dir) {
            return Err(err(
                io::ErrorKind::NotFound,
                format!("simulated disk: no such directory {}", dir.display()),
            ));
        }
        let ops = self.pending_names.remove(dir).unwrap_or_default();
        let mut touched = BTreeSet::new();
        for op in &ops {
            if let Some(ino) = self.durable_names.get(match op {
                NameOp::Create { path, .. } | NameOp::Remove { path } => path,
                NameOp::Rename { to, .. } => to,
            }) {
                touched.insert(*ino);
            }
            op.apply(&mut self.durable_names);
        }
        for ino in touched {
            self.collect(ino);
        }
        Ok(())
    }

    fn remove_file(&mut self, path: &Path) -> io::Result<()> {
        self.spend()?;
        let dir = self.parent_of(path)?;
        let ino = *self.names.get(path).ok_or_else(|| not_found(path))?;
        self.push_name_op(dir, NameOp::Remove { path: path.to_path_buf() })?;
        self.names.remove(path);
        self.collect(ino);
        Ok(())
    }
}

#[cfg(test)]
#[path = "sim_disk_tests.rs"]
mod tests;
