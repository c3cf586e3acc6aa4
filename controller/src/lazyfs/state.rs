//! The writes a power loss would lose: per backing file, an ordered log of the content
//! changes (writes and size changes) made since that file's last fsync.
//!
//! Why a log and not a patched copy of the file: replaying the log over the backing file
//! gives exactly what a process reading through the page cache would see, including a
//! shrink followed by a grow (the gap reads as zeros, not as the old bytes), while the
//! memory held is only what was written. An fsync replays the log onto the backing file in
//! the same order; a power loss drops it (or, torn, keeps part of one write, see
//! [`Pending::power_loss`]).
//!
//! The log is keyed by the backing file's inode number, so it follows a rename. Memory is
//! bounded: every op is charged its data length plus [`OP_OVERHEAD_BYTES`], and an op that
//! would take the mount's total over its limit is refused with ENOSPC.

use super::Loss;
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// The unit a torn write keeps: whole sectors of this size.
pub const SECTOR_BYTES: u64 = 512;
/// What each pending op is charged on top of its data, so that a flood of tiny writes or
/// truncates is bounded too.
pub const OP_OVERHEAD_BYTES: u64 = 64;

/// One unsynced content change.
#[derive(Debug)]
enum Op {
    Write { offset: u64, data: Vec<u8> },
    Truncate { size: u64 },
}

impl Op {
    fn charge_bytes(&self) -> u64 {
        match self {
            Op::Write { data, .. } => data.len() as u64 + OP_OVERHEAD_BYTES,
            Op::Truncate { .. } => OP_OVERHEAD_BYTES,
        }
    }
}

/// The unsynced changes of one backing file.
#[derive(Debug)]
struct PendingFile {
    /// A writable descriptor of the backing file: what fsync and a torn power loss write
    /// through, whichever handle (or none) is open when they come.
    file: Arc<File>,
    ops: Vec<Op>,
    /// The size a reader sees: the backing size with every op applied.
    size: u64,
    charged_bytes: u64,
}

/// Every unsynced change of one mount.
#[derive(Debug)]
pub struct Pending {
    files: HashMap<u64, PendingFile>,
    charged_bytes: u64,
    limit_bytes: u64,
}

fn enospc() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOSPC)
}

impl Pending {
    pub fn new(limit_bytes: u64) -> Pending {
        assert!(limit_bytes > 0, "a lazy mount needs room for at least one pending byte");
        Pending { files: HashMap::new(), charged_bytes: 0, limit_bytes }
    }

    /// The size a reader of backing inode `ino` sees, if it has unsynced changes.
    pub fn size(&self, ino: u64) -> Option<u64> {
        self.files.get(&ino).map(|f| f.size)
    }

    /// The size a reader sees: the pending size, else the backing file's.
    pub fn size_or_backing(&self, ino: u64, file: &File) -> io::Result<u64> {
        match self.size(ino) {
            Some(size) => Ok(size),
            None => Ok(file.metadata()?.len()),
        }
    }

    /// Records a write of `data` at `offset` to backing inode `ino`; `file` is a writable
    /// descriptor of it (kept if this is the file's first pending change).
    pub fn write(&mut self, ino: u64, file: &Arc<File>, offset: u64, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let end =
            offset.checked_add(data.len() as u64).ok_or_else(|| io::Error::from_raw_os_error(libc::EFBIG))?;
        let op = Op::Write { offset, data: data.to_vec() };
        let entry = self.entry(ino, file, op.charge_bytes())?;
        entry.size = entry.size.max(end);
        entry.ops.push(op);
        Ok(())
    }

    /// Records a change of size (truncate or extend) of backing inode `ino`.
    /// A change to the size the file already has changes nothing and is not recorded.
    pub fn truncate(&mut self, ino: u64, file: &Arc<File>, size: u64) -> io::Result<()> {
        if self.size_or_backing(ino, file)? == size {
            return Ok(());
        }
        let op = Op::Truncate { size };
        let entry = self.entry(ino, file, op.charge_bytes())?;
        entry.size = size;
        entry.ops.push(op);
        Ok(())
    }

    /// The pending entry of `ino`, created if missing, with `charge` bytes reserved for an op.
    fn entry(&mut self, ino: u64, file: &Arc<File>, charge: u64) -> io::Result<&mut PendingFile> {
        if self.charged_bytes.saturating_add(charge) > self.limit_bytes {
            return Err(enospc());
        }
        let entry = match self.files.entry(ino) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let size = file.metadata()?.len();
                e.insert(PendingFile { file: Arc::clone(file), ops: Vec::new(), size, charged_bytes: 0 })
            }
        };
        self.charged_bytes += charge;
        entry.charged_bytes += charge;
        Ok(entry)
    }

    /// Reads up to `len` bytes at `offset` of backing inode `ino` as a process sees them:
    /// the backing bytes (through `file`, a readable descriptor) with the pending ops on top.
    pub fn read(&self, ino: u64, file: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let size = self.size_or_backing(ino, file)?;
        if offset >= size {
            return Ok(Vec::new());
        }
        let end = size.min(offset.saturating_add(len as u64));
        let mut buf = vec![0u8; (end - offset) as usize];
        read_full_at(file, &mut buf, offset)?;
        let Some(entry) = self.files.get(&ino) else { return Ok(buf) };
        // Invariant while replaying: every byte at or past `current` (the size so far) is
        // zero in `buf`. It holds for the backing bytes (a short read leaves zeros).
        let mut current = file.metadata()?.len();
        for op in &entry.ops {
            match op {
                Op::Truncate { size } => {
                    if *size < current {
                        zero_overlap(&mut buf, offset, *size, current);
                    }
                    current = *size;
                }
                Op::Write { offset: at, data } => {
                    copy_overlap(&mut buf, offset, *at, data);
                    current = current.max(at + data.len() as u64);
                }
            }
        }
        debug_assert_eq!(current, entry.size, "replaying the log gives the recorded size");
        Ok(buf)
    }

    /// Makes the pending changes of `ino` durable: replays them onto the backing file in
    /// order, then fdatasync (`datasync`) or fsync. With nothing pending, only syncs `file`.
    /// On an error the changes stay pending (replaying them again gives the same result).
    pub fn sync(&mut self, ino: u64, file: &File, datasync: bool) -> io::Result<()> {
        let Some(entry) = self.files.get(&ino) else {
            return if datasync { file.sync_data() } else { file.sync_all() };
        };
        for op in &entry.ops {
            match op {
                Op::Write { offset, data } => entry.file.write_all_at(data, *offset)?,
                Op::Truncate { size } => entry.file.set_len(*size)?,
            }
        }
        if datasync {
            entry.file.sync_data()?;
        } else {
            entry.file.sync_all()?;
        }
        self.forget(ino);
        Ok(())
    }

    /// A clean unmount: every pending change reaches its backing file, synced, as a clean
    /// shutdown writes the page cache back. Only a power loss loses writes.
    /// A file that cannot be written back does not stop the others: the first error is
    /// returned once every file was tried.
    pub fn write_back(&mut self) -> io::Result<()> {
        let inos: Vec<u64> = self.files.keys().copied().collect();
        let mut first_error = None;
        for ino in inos {
            let file = Arc::clone(&self.files[&ino].file);
            if let Err(e) = self.sync(ino, &file, true) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Drops the pending changes of `ino` (its last name was unlinked and nothing has it open).
    pub fn forget(&mut self, ino: u64) {
        if let Some(entry) = self.files.remove(&ino) {
            assert!(entry.charged_bytes <= self.charged_bytes, "charges add up");
            self.charged_bytes -= entry.charged_bytes;
        }
    }

    /// What a power loss now would lose.
    pub fn loss(&self) -> Loss {
        let mut loss = Loss::default();
        for entry in self.files.values() {
            loss.files += 1;
            for op in &entry.ops {
                loss.writes += 1;
                if let Op::Write { data, .. } = op {
                    loss.bytes += data.len() as u64;
                }
            }
        }
        loss
    }

    /// Discards every pending change. With `torn`, each file's oldest pending change, if it
    /// is a write, keeps the whole [`SECTOR_BYTES`] sectors it wrote except the last sector it
    /// touched: those bytes are written to the backing file (and synced). Disks write in
    /// order, so the oldest unsynced write is the one in flight when the power went; its
    /// last sector is the one the rule says did not make it. A write that touches one sector
    /// only keeps nothing.
    pub fn power_loss(&mut self, torn: bool) -> Loss {
        let mut loss = self.loss();
        if torn {
            for entry in self.files.values() {
                let Some(Op::Write { offset, data }) = entry.ops.first() else { continue };
                let keep = torn_keep_bytes(*offset, data.len() as u64);
                if keep == 0 {
                    continue;
                }
                let kept = &data[..keep as usize];
                match entry.file.write_all_at(kept, *offset).and_then(|()| entry.file.sync_data()) {
                    Ok(()) => loss.torn_bytes_kept += keep,
                    Err(e) => tracing::warn!("lazyfs: writing the torn prefix of a write failed: {e}"),
                }
            }
        }
        self.files.clear();
        self.charged_bytes = 0;
        loss
    }

    /// Bytes charged against the limit now (tests, assertions).
    #[cfg(test)]
    pub fn charged_bytes(&self) -> u64 {
        self.charged_bytes
    }
}

/// How many bytes of a write of `len` bytes at `offset` a torn power loss keeps: up to the
/// start of the last sector it touches.
pub fn torn_keep_bytes(offset: u64, len: u64) -> u64 {
    if len == 0 {
        return 0;
    }
    let last_sector_start = (offset + len - 1) / SECTOR_BYTES * SECTOR_BYTES;
    last_sector_start.saturating_sub(offset)
}

/// Fills `buf` from `file` at `offset`; stops early (leaving zeros) at the end of the file.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Copies the part of `data` (at file offset `at`) that falls in `buf` (at file offset `base`).
fn copy_overlap(buf: &mut [u8], base: u64, at: u64, data: &[u8]) {
    let buf_end = base + buf.len() as u64;
    let data_end = at + data.len() as u64;
    let from = base.max(at);
    let to = buf_end.min(data_end);
    if from >= to {
        return;
    }
    let dst = (from - base) as usize..(to - base) as usize;
    let src = (from - at) as usize..(to - at) as usize;
    buf[dst].copy_from_slice(&data[src]);
}

/// Zeroes the part of file range `[from, to)` that falls in `buf` (at file offset `base`).
fn zero_overlap(buf: &mut [u8], base: u64, from: u64, to: u64) {
    let buf_end = base + buf.len() as u64;
    let from = from.max(base);
    let to = to.min(buf_end);
    if from < to {
        buf[(from - base) as usize..(to - base) as usize].fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    struct Scratch {
        path: std::path::PathBuf,
    }
    impl Scratch {
        fn new(name: &str, content: &[u8]) -> (Scratch, Arc<File>, u64) {
            let path = std::env::temp_dir().join(format!("synod-lazyfs-state-{}-{name}", std::process::id()));
            std::fs::write(&path, content).unwrap();
            let file = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
            let ino = file.metadata().unwrap().ino();
            (Scratch { path }, Arc::new(file), ino)
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    #[test]
    fn reads_replay_writes_and_truncates_over_the_backing_bytes() {
        let (s, file, ino) = Scratch::new("replay", b"abcdefghij");
        let mut p = Pending::new(1 << 20);
        p.write(ino, &file, 2, b"XY").unwrap();
        assert_eq!(p.read(ino, &file, 0, 100).unwrap(), b"abXYefghij");
        p.truncate(ino, &file, 4).unwrap();
        p.write(ino, &file, 8, b"Z").unwrap();
        // The shrink zeroed 4..8 for readers even though the backing file still has "efgh".
        assert_eq!(p.read(ino, &file, 0, 100).unwrap(), b"abXY\0\0\0\0Z");
        assert_eq!(p.read(ino, &file, 3, 2).unwrap(), b"Y\0");
        assert_eq!(p.size(ino), Some(9));
        assert_eq!(std::fs::read(&s.path).unwrap(), b"abcdefghij", "nothing reached the file");
        let loss = p.loss();
        assert_eq!((loss.files, loss.writes, loss.bytes), (1, 3, 3));
        p.sync(ino, &file, true).unwrap();
        assert_eq!(std::fs::read(&s.path).unwrap(), b"abXY\0\0\0\0Z");
        assert_eq!(p.size(ino), None);
        assert_eq!(p.charged_bytes(), 0);
    }

    #[test]
    fn the_limit_refuses_with_enospc_and_a_sync_frees_room() {
        let (_s, file, ino) = Scratch::new("limit", b"");
        let mut p = Pending::new(2 * (100 + OP_OVERHEAD_BYTES));
        p.write(ino, &file, 0, &[1; 100]).unwrap();
        p.write(ino, &file, 100, &[2; 100]).unwrap();
        let err = p.write(ino, &file, 200, &[3; 1]).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(p.size(ino), Some(200), "the refused write left no trace");
        p.sync(ino, &file, false).unwrap();
        p.write(ino, &file, 200, &[3; 100]).unwrap();
    }

    #[test]
    fn torn_keeps_whole_sectors_but_the_last_touched() {
        assert_eq!(torn_keep_bytes(0, 1500), 1024);
        assert_eq!(torn_keep_bytes(0, 512), 0, "one sector touched: nothing kept");
        assert_eq!(torn_keep_bytes(0, 513), 512);
        // Sectors 2..=5 touched (bytes 1024..3000); kept up to 2560, the start of sector 5.
        assert_eq!(torn_keep_bytes(1500, 1500), 2560 - 1500);
        assert_eq!(torn_keep_bytes(100, 64), 0);
        assert_eq!(torn_keep_bytes(7, 0), 0);
    }

    #[test]
    fn power_loss_torn_writes_the_oldest_writes_kept_sectors_only() {
        let (s, file, ino) = Scratch::new("torn", b"");
        let mut p = Pending::new(1 << 20);
        let first: Vec<u8> = (0..1500u32).map(|i| (i % 251) as u8 + 1).collect();
        p.write(ino, &file, 0, &first).unwrap();
        p.write(ino, &file, 1500, &[0xEE; 1500]).unwrap();
        let loss = p.power_loss(true);
        assert_eq!(loss, Loss { files: 1, writes: 2, bytes: 3000, torn_bytes_kept: 1024 });
        assert_eq!(std::fs::read(&s.path).unwrap(), &first[..1024]);
        assert_eq!(p.loss(), Loss::default());
        assert_eq!(p.charged_bytes(), 0);
    }
}
