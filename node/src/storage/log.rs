//! The acceptor log: append-only batches of records, in a file kept longer than its contents
//! by a run of zeros.
//!
//! ```text
//! file   = "SYNODLG1" batch* zeros*
//! batch  = [payload length: u32 LE][CRC32 of payload: u32 LE][payload: record+]
//! record = [payload length: u32 LE][CRC32 of payload: u32 LE][payload: JSON of a Record]
//! ```
//!
//! Why it is shaped this way: an acceptor that forgets a promise breaks Paxos, so on start-up
//! the log is either read back completely or the node refuses to start.
//!
//! - One `append` is one batch: one write at the end of the records and one fdatasync (group
//!   commit). Nothing is written while an earlier batch is not yet durable, so only the last
//!   batch can be torn by a crash, and its own CRC says so whatever part of it reached the
//!   disk.
//! - The file is kept [`PREALLOCATE_BYTES`] of zeros longer than its batches, as etcd's and
//!   PostgreSQL's write-ahead logs are preallocated: an append overwrites blocks that already
//!   exist, so its fdatasync flushes data only, not a new file length through the journal
//!   (on this project's ext4 machine 0.12 ms instead of 0.18 ms, `synod bench`). Overwritten
//!   blocks reach the disk in any order, which is why the CRC covers the whole batch.
//! - A bad batch with nothing valid after it is that torn last write: nothing in it was
//!   acknowledged. It is cut off. Zeros after the last batch are a clean end.
//! - A bad batch followed by a valid one means the disk lost or changed acknowledged data.
//!   The node stops with [`LogError::Corrupt`], naming the file, the offset and the record.
//!   So does a bad region longer than one batch could be ([`LogError::Garbled`]), and a file
//!   that does not start with [`MAGIC`] ([`LogError::Format`]): a log of another format must
//!   never pass for a torn one and be cut to nothing.
//! - A new log is created with its magic, fdatasync'd, and its directory fsync'd, before the
//!   node says hello. A crash during that leaves a file that is a prefix of the magic (or
//!   zeros), which is started afresh: nothing was acknowledged yet.
//! - **Compaction** ([`AcceptorLog::compact`]) replaces the log with a snapshot of the node's
//!   live state: written whole to [`COMPACT_FILE`] (magic, batches, zeros), fdatasync'd,
//!   renamed over the log, and the directory fsync'd; the old file's blocks go with its last
//!   descriptor. A crash before the rename leaves the old log whole and a stray compact file,
//!   which `open` deletes unread; a crash after it leaves the new log whole. There is no
//!   moment at which neither is complete on disk, so the torn-tail rules above still cover
//!   every crash.
//! - Every file operation goes through a [`Disk`]: [`OsDisk`] (std::fs, the node) or the
//!   simulator's [`super::SimDisk`], whose crash drops unsynced contents and unsynced names
//!   (node/tests/log_on_sim_disk.rs crashes it at every step of an append, a creation and a
//!   compaction). One code path: what the simulator shows about crashes holds for the node.

use super::disk::{Disk, OsDisk};
use crate::paxos::Record;
use std::io;
use std::path::{Path, PathBuf};

/// The log's file name inside the node's data dir.
pub const LOG_FILE: &str = "acceptor.log";
/// Where a compaction writes the new log before renaming it over [`LOG_FILE`].
pub const COMPACT_FILE: &str = "acceptor.log.compact";
/// The first 8 bytes of every log of this format.
pub const MAGIC: &[u8; 8] = b"SYNODLG1";
/// Frame header (of a batch or a record): length + CRC32.
const HEADER_BYTES: usize = 8;
/// The largest payload a valid record can hold (a record carries at most one value, and a
/// value fits in a 64 KiB protocol frame).
pub const MAX_RECORD_BYTES: usize = 128 * 1024;
/// The largest batch payload; an append of more is written as several batches, each synced.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Zeros kept written past the last batch.
pub const PREALLOCATE_BYTES: u64 = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{path}: the batch at byte {offset} (record #{record} on) is corrupt ({why}), but a valid \
         batch follows at byte {next_valid}: acknowledged state was lost or changed on disk. \
         Refusing to start: an acceptor that forgets a promise breaks safety. Restore the file; \
         wiping the node makes it forget its promises."
    )]
    Corrupt { path: PathBuf, record: u64, offset: u64, why: String, next_valid: u64 },
    #[error(
        "{path}: the batch at byte {offset} (record #{record} on) is bad ({why}) and non-zero bytes \
         run on to byte {extent}, further than one torn write can reach: acknowledged state was \
         lost or changed on disk. Refusing to start: an acceptor that forgets a promise breaks \
         safety. Restore the file; wiping the node makes it forget its promises."
    )]
    Garbled { path: PathBuf, record: u64, offset: u64, why: String, extent: u64 },
    #[error(
        "{path}: not an acceptor log of this format (it does not start with {magic:?}). Refusing \
         to start rather than read it as empty: it may hold promises of another synod version."
    )]
    Format { path: PathBuf, magic: String },
}

/// What start-up found in the log.
#[derive(Debug)]
pub struct Recovery {
    pub records: Vec<Record>,
    /// Bytes cut off with a torn last batch (the zeros after it included); 0 when the log
    /// ended cleanly.
    pub torn_bytes: u64,
}

/// The log over a [`Disk`]: the real filesystem by default, the simulator's disk in tests and
/// `synod sim` (issue 19). One code path for both: every file operation goes through `disk`.
#[derive(Debug)]
pub struct AcceptorLog<D: Disk = OsDisk> {
    disk: D,
    path: PathBuf,
    file: D::File,
    /// Where the next batch goes: the end of the last one.
    end: u64,
    /// The file's length: `end` plus the zeros written ahead.
    allocated: u64,
    /// Reused encode buffer: one allocation for the life of the log.
    buf: Vec<u8>,
    /// The `skip-fsync` mutant: batches are written but never fdatasync'd.
    skip_sync: bool,
}

impl AcceptorLog {
    /// Opens (or creates) `dir/acceptor.log` on the real filesystem, reads it back and cuts a
    /// torn last batch.
    pub fn open(dir: &Path) -> Result<(AcceptorLog, Recovery), LogError> {
        AcceptorLog::open_on(OsDisk, dir)
    }
}

impl<D: Disk> AcceptorLog<D> {
    /// [`AcceptorLog::open`] on `disk`.
    pub fn open_on(mut disk: D, dir: &Path) -> Result<(AcceptorLog<D>, Recovery), LogError> {
        let path = dir.join(LOG_FILE);
        let io_err = |source| LogError::Io { path: path.clone(), source };
        disk.create_dir_all(dir).map_err(|source| LogError::Io { path: dir.to_path_buf(), source })?;
        // A compaction cut short before its rename: the log itself is whole.
        let stray = dir.join(COMPACT_FILE);
        match disk.remove_file(&stray) {
            Ok(()) => tracing::warn!(path = %stray.display(), "removed the file of a compaction cut short"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(LogError::Io { path: stray, source }),
        }
        let mut file = disk.open(&path, false).map_err(io_err)?;
        let mut bytes = disk.read_all(&mut file).map_err(io_err)?;
        if bytes.len() < MAGIC.len() && (MAGIC.starts_with(&bytes) || bytes.iter().all(|&b| b == 0)) {
            // New, or its creation was cut short before anything was acknowledged.
            bytes.clear();
            bytes.extend_from_slice(MAGIC);
            disk.set_len(&file, 0).map_err(io_err)?;
            disk.write_at(&file, MAGIC, 0).map_err(io_err)?;
            disk.sync_data(&file).map_err(io_err)?;
            disk.sync_dir(dir).map_err(|source| LogError::Io { path: dir.to_path_buf(), source })?;
        }
        if !bytes.starts_with(MAGIC) {
            return Err(LogError::Format { path, magic: String::from_utf8_lossy(MAGIC).into_owned() });
        }
        let scan = scan(&bytes);
        let mut allocated = bytes.len() as u64;
        let mut torn_bytes = 0;
        if let Some(bad) = scan.bad {
            let record = scan.records.len() as u64 + 1;
            let offset = bad.offset as u64;
            if let Some(next_valid) = find_valid_batch(&bytes, bad.offset + 1) {
                let next_valid = next_valid as u64;
                return Err(LogError::Corrupt { path, record, offset, why: bad.why, next_valid });
            }
            let extent = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            if extent > torn_reach(bad.offset) {
                return Err(LogError::Garbled { path, record, offset, why: bad.why, extent: extent as u64 });
            }
            torn_bytes = (bytes.len() - bad.offset) as u64;
            disk.set_len(&file, bad.offset as u64).map_err(io_err)?;
            disk.sync_data(&file).map_err(io_err)?;
            allocated = bad.offset as u64;
        }
        let log = AcceptorLog {
            disk,
            path,
            file,
            end: scan.end as u64,
            allocated,
            buf: Vec::with_capacity(4096),
            skip_sync: false,
        };
        Ok((log, Recovery { records: scan.records, torn_bytes }))
    }

    /// The disk the log is on (the simulator's disk, to inspect it).
    pub fn disk(&self) -> &D {
        &self.disk
    }

    /// The disk, to inject a fault into (a simulator arms a power cut on its `SimDisk`).
    /// Writing to the log's files through it, behind the log's back, corrupts the log.
    pub fn disk_mut(&mut self) -> &mut D {
        &mut self.disk
    }

    /// Closes the log and hands back its disk (to crash it, then open the log again).
    pub fn into_disk(self) -> D {
        self.disk
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of batches in the log (the zeros written ahead not counted).
    pub fn len_bytes(&self) -> u64 {
        self.end
    }

    /// Replaces the log with `records` (a snapshot of the node's live state), with the crash
    /// safety of an append: see the module docs. Afterwards appends go to the new log.
    pub fn compact(&mut self, records: &[Record]) -> Result<(), LogError> {
        self.compact_steps(records, CompactStep::Done)
    }

    /// `compact`, stopping after `stop` as a crash there would (tests).
    fn compact_steps(&mut self, records: &[Record], stop: CompactStep) -> Result<(), LogError> {
        let dir = self.path.parent().expect("the log lives in a directory").to_path_buf();
        let tmp = dir.join(COMPACT_FILE);
        let tmp_err = |source| LogError::Io { path: tmp.clone(), source };
        let mut bytes = MAGIC.to_vec();
        let mut rest = records;
        while !rest.is_empty() {
            let taken = encode_batch_upto(rest, MAX_BATCH_BYTES, &mut bytes);
            rest = &rest[taken..];
        }
        let end = bytes.len() as u64;
        bytes.resize(bytes.len() + PREALLOCATE_BYTES as usize, 0);
        let file = self.disk.open(&tmp, true).map_err(tmp_err)?;
        let written = match stop {
            CompactStep::Written(n) => n.min(bytes.len()),
            _ => bytes.len(),
        };
        self.disk.write_at(&file, &bytes[..written], 0).map_err(tmp_err)?;
        if matches!(stop, CompactStep::Written(_)) {
            return Ok(());
        }
        if !self.skip_sync {
            self.disk.sync_data(&file).map_err(tmp_err)?;
        }
        if stop == CompactStep::Synced {
            return Ok(());
        }
        self.disk.rename(&tmp, &self.path).map_err(tmp_err)?;
        // The old file is unlinked now; this process's descriptor is the last to hold it.
        self.file = file;
        self.end = end;
        self.allocated = bytes.len() as u64;
        if stop == CompactStep::Renamed {
            return Ok(());
        }
        if !self.skip_sync {
            self.disk.sync_dir(&dir).map_err(|source| LogError::Io { path: dir.clone(), source })?;
        }
        Ok(())
    }

    /// The `skip-fsync` mutant (docs/mutants.md): from now on batches are written but never
    /// fdatasync'd, so they survive a SIGKILL (the page cache keeps them) but not a power loss.
    pub fn skip_sync(&mut self) {
        self.skip_sync = true;
    }

    /// Appends `records` as one batch and makes it durable with one fdatasync: nothing that
    /// depends on them may leave the node before this returns. (More than
    /// [`MAX_BATCH_BYTES`] go as several batches, each synced before the next is written.)
    pub fn append(&mut self, records: &[Record]) -> Result<(), LogError> {
        let mut rest = records;
        while !rest.is_empty() {
            self.buf.clear();
            let taken = encode_batch_upto(rest, MAX_BATCH_BYTES, &mut self.buf);
            self.write_synced()?;
            rest = &rest[taken..];
        }
        Ok(())
    }

    /// Writes `buf` (one sealed batch) at `end`, over the zeros, and fdatasyncs.
    fn write_synced(&mut self) -> Result<(), LogError> {
        let io_err = |source| LogError::Io { path: self.path.clone(), source };
        let new_end = self.end + self.buf.len() as u64;
        if new_end > self.allocated {
            // More zeros ahead; this batch's fdatasync makes the new length durable too.
            let zeros = vec![0u8; (new_end + PREALLOCATE_BYTES - self.allocated) as usize];
            self.disk.write_at(&self.file, &zeros, self.allocated).map_err(io_err)?;
            self.allocated += zeros.len() as u64;
        }
        self.disk.write_at(&self.file, &self.buf, self.end).map_err(io_err)?;
        if !self.skip_sync {
            self.disk.sync_data(&self.file).map_err(io_err)?;
        }
        self.end = new_end;
        Ok(())
    }
}

/// Where a compaction stops in a test, as a crash there would stop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
enum CompactStep {
    /// After writing this many bytes of the compact file.
    Written(usize),
    Synced,
    Renamed,
    Done,
}

/// Appends one record frame for `record` to `out`.
pub fn encode(record: &Record, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_BYTES]);
    serde_json::to_writer(&mut *out, record).expect("records always serialize");
    let payload = &out[start + HEADER_BYTES..];
    assert!(payload.len() <= MAX_RECORD_BYTES, "record of {} bytes exceeds the log's limit", payload.len());
    seal(out, start);
}

/// Appends one batch of `records` to `out`, as `append` writes it (tests, tools).
pub fn encode_batch(records: &[Record], out: &mut Vec<u8>) {
    let taken = encode_batch_upto(records, usize::MAX, out);
    assert_eq!(taken, records.len(), "an unbounded batch takes every record");
}

/// Appends one batch of the first records of `records` (at least one) whose payload fits in
/// `max_bytes`; returns how many it took.
fn encode_batch_upto(records: &[Record], max_bytes: usize, out: &mut Vec<u8>) -> usize {
    assert!(!records.is_empty(), "a batch holds at least one record");
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_BYTES]);
    let mut taken = 0;
    for record in records {
        let before = out.len();
        encode(record, out);
        if out.len() - start - HEADER_BYTES > max_bytes && taken > 0 {
            out.truncate(before);
            break;
        }
        taken += 1;
    }
    seal(out, start);
    taken
}

/// Fills in the header at `start` for the payload that follows it to the end of `out`.
fn seal(out: &mut [u8], start: usize) {
    let payload = &out[start + HEADER_BYTES..];
    let len = (payload.len() as u32).to_le_bytes();
    let crc = crc32fast::hash(payload).to_le_bytes();
    out[start..start + 4].copy_from_slice(&len);
    out[start + 4..start + 8].copy_from_slice(&crc);
}

struct Bad {
    offset: usize,
    why: String,
}

struct Scan {
    records: Vec<Record>,
    /// The offset after the last good batch.
    end: usize,
    bad: Option<Bad>,
}

/// The furthest a torn batch at `offset` can reach: the end of the largest batch. (Not the
/// end its header names: a header across a sector boundary may have landed in part.)
fn torn_reach(offset: usize) -> usize {
    offset + HEADER_BYTES + MAX_BATCH_BYTES
}

/// Decodes batches from after the magic until the end, the zeros, or the first bad batch.
fn scan(bytes: &[u8]) -> Scan {
    let mut records = Vec::new();
    let mut offset = MAGIC.len();
    while offset < bytes.len() {
        if all_zeros(&bytes[offset..]) {
            break; // the preallocated zeros: a clean end
        }
        match decode_batch_at(bytes, offset, &mut records) {
            Ok(next) => offset = next,
            Err(why) => return Scan { records, end: offset, bad: Some(Bad { offset, why }) },
        }
    }
    Scan { records, end: offset, bad: None }
}

/// Whether `bytes` are all zeros: by the 4 KiB block against a block of zeros (a memcmp),
/// where a loop over the bytes took 9% of a node's restart in a profile of the property tests.
fn all_zeros(bytes: &[u8]) -> bool {
    const ZEROS: [u8; 4096] = [0; 4096];
    bytes.first().is_none_or(|&b| b == 0) && bytes.chunks(ZEROS.len()).all(|c| c == &ZEROS[..c.len()])
}

/// Checks the frame at `offset` against `max_len` and its CRC32; returns its payload.
fn frame_at(bytes: &[u8], offset: usize, max_len: usize) -> Result<&[u8], String> {
    let rest = &bytes[offset..];
    if rest.len() < HEADER_BYTES {
        return Err(format!("{} bytes where an 8-byte header should be", rest.len()));
    }
    let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
    if len == 0 || len > max_len {
        return Err(format!("length {len} outside 1..={max_len}"));
    }
    let Some(payload) = rest.get(HEADER_BYTES..HEADER_BYTES + len) else {
        return Err(format!("length {len} but only {} bytes left", rest.len() - HEADER_BYTES));
    };
    let actual = crc32fast::hash(payload);
    if actual != crc {
        return Err(format!("CRC32 mismatch: stored {crc:08x}, computed {actual:08x}"));
    }
    Ok(payload)
}

/// Decodes the batch at `offset` into `records` (all or nothing); returns the offset after it.
fn decode_batch_at(bytes: &[u8], offset: usize, records: &mut Vec<Record>) -> Result<usize, String> {
    let payload = frame_at(bytes, offset, MAX_BATCH_BYTES)?;
    let mut batch = Vec::new();
    let mut at = 0;
    while at < payload.len() {
        let inner = frame_at(payload, at, MAX_RECORD_BYTES).map_err(|e| format!("record in batch: {e}"))?;
        let record = serde_json::from_slice(inner).map_err(|e| format!("undecodable record: {e}"))?;
        batch.push(record);
        at += HEADER_BYTES + inner.len();
    }
    records.append(&mut batch);
    Ok(offset + HEADER_BYTES + payload.len())
}

/// The first offset at or after `from` where a complete, valid batch starts. A match by
/// chance needs a plausible length, a record header, a JSON object and matching CRC32s:
/// odds of 2^-64 and less.
fn find_valid_batch(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len().saturating_sub(2 * HEADER_BYTES)).find(|&offset| {
        bytes.get(offset + 2 * HEADER_BYTES) == Some(&b'{')
            && decode_batch_at(bytes, offset, &mut Vec::new()).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paxos::Ballot;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("synod-log-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// Zeros in blocks: any non-zero byte, at any place in or across a block, is seen.
    #[test]
    fn all_zeros_sees_every_non_zero_byte() {
        assert!(all_zeros(&[]));
        for len in [1, 4095, 4096, 4097, 10_000] {
            let mut bytes = vec![0u8; len];
            assert!(all_zeros(&bytes), "{len}");
            for at in [0, len / 2, len.saturating_sub(4096), len - 1] {
                bytes[at] = 0x80;
                assert!(!all_zeros(&bytes), "{len} bytes, one set at {at}");
                bytes[at] = 0;
            }
        }
    }

    fn sample() -> Vec<Record> {
        vec![
            Record::Promise { instance: 1, ballot: Ballot::new(1, 2) },
            Record::Accept { instance: 1, ballot: Ballot::new(1, 2), value: "v".into() },
            Record::Round { round: 9 },
            Record::Learned { instance: 1, value: "v".into() },
        ]
    }

    /// The sample as the log writes it: one batch a record.
    fn sample_bytes() -> (Vec<u8>, Vec<usize>) {
        let mut bytes = MAGIC.to_vec();
        let mut starts = Vec::new();
        for r in sample() {
            starts.push(bytes.len());
            encode_batch(&[r], &mut bytes);
        }
        (bytes, starts)
    }

    fn write_log(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = temp_dir(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(LOG_FILE), bytes).unwrap();
        dir
    }

    #[test]
    fn appended_records_come_back_in_order() {
        let dir = temp_dir("roundtrip");
        let (mut log, rec) = AcceptorLog::open(&dir).unwrap();
        assert!(rec.records.is_empty());
        log.append(&sample()[..2]).unwrap();
        log.append(&sample()[2..]).unwrap();
        drop(log);
        let (_, rec) = AcceptorLog::open(&dir).unwrap();
        assert_eq!(rec.records, sample());
        assert_eq!(rec.torn_bytes, 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_zero_tail_is_a_clean_end_and_appends_overwrite_it() {
        let dir = temp_dir("zeros");
        let (mut log, _) = AcceptorLog::open(&dir).unwrap();
        log.append(&sample()[..1]).unwrap();
        let mut first = MAGIC.to_vec();
        encode_batch(&sample()[..1], &mut first);
        let len = std::fs::metadata(dir.join(LOG_FILE)).unwrap().len();
        assert_eq!(len, first.len() as u64 + PREALLOCATE_BYTES, "zeros are written ahead");
        drop(log);
        let (mut log, rec) = AcceptorLog::open(&dir).unwrap();
        assert_eq!((rec.records.len(), rec.torn_bytes), (1, 0));
        // The next batch lands right after the first, inside the zeros: the file keeps its length.
        log.append(&sample()[1..]).unwrap();
        drop(log);
        assert_eq!(std::fs::metadata(dir.join(LOG_FILE)).unwrap().len(), len);
        assert_eq!(AcceptorLog::open(&dir).unwrap().1.records, sample());
        // Past the zeros the file grows by another run of them.
        let (mut log, _) = AcceptorLog::open(&dir).unwrap();
        let big = Record::Learned { instance: 2, value: "x".repeat(100_000) };
        log.append(&[big.clone(), big.clone(), big.clone()]).unwrap();
        drop(log);
        let (_, rec) = AcceptorLog::open(&dir).unwrap();
        assert_eq!(rec.records.len(), sample().len() + 3);
        assert_eq!(rec.records.last(), Some(&big));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_append_larger_than_a_batch_is_split_into_batches() {
        let dir = temp_dir("split");
        let (mut log, _) = AcceptorLog::open(&dir).unwrap();
        let big = Record::Learned { instance: 3, value: "y".repeat(100_000) };
        let many = vec![big; MAX_BATCH_BYTES / 100_000 + 5];
        log.append(&many).unwrap();
        drop(log);
        let bytes = std::fs::read(dir.join(LOG_FILE)).unwrap();
        let first_len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        assert!(first_len <= MAX_BATCH_BYTES && first_len < bytes.len() - HEADER_BYTES, "two batches");
        assert_eq!(AcceptorLog::open(&dir).unwrap().1.records, many);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_torn_last_batch_is_cut_at_every_possible_length_with_or_without_zeros() {
        let (full, starts) = sample_bytes();
        let keep = starts[3];
        for zeros in [0, 100] {
            for cut in keep + 1..full.len() {
                let mut bytes = full[..cut].to_vec();
                bytes.extend(std::iter::repeat_n(0u8, zeros));
                let dir = write_log(&format!("torn{cut}-{zeros}"), &bytes);
                let (mut log, rec) = AcceptorLog::open(&dir).unwrap();
                assert_eq!(rec.records, sample()[..3].to_vec(), "cut at {cut}");
                assert_eq!(rec.torn_bytes, (cut + zeros - keep) as u64);
                // The log is usable after the cut: a new append reads back after the survivors.
                log.append(&sample()[3..]).unwrap();
                drop(log);
                assert_eq!(AcceptorLog::open(&dir).unwrap().1.records, sample());
                std::fs::remove_dir_all(&dir).unwrap();
            }
        }
    }

    #[test]
    fn a_hole_inside_the_last_batch_is_a_torn_write_not_lost_data() {
        // Overwritten blocks reach the disk in any order: the batch's first part may be lost
        // while a later part, even a whole record frame, survived.
        let mut full = MAGIC.to_vec();
        encode_batch(&sample()[..1], &mut full);
        let keep = full.len();
        encode_batch(&sample()[1..], &mut full);
        let second_record = keep + HEADER_BYTES + {
            let mut one = Vec::new();
            encode(&sample()[1], &mut one);
            one.len()
        };
        for b in &mut full[keep + HEADER_BYTES..second_record] {
            *b = 0;
        }
        let dir = write_log("hole", &full);
        let (_, rec) = AcceptorLog::open(&dir).unwrap();
        assert_eq!(rec.records, sample()[..1].to_vec());
        assert_eq!(rec.torn_bytes, (full.len() - keep) as u64);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_middle_batch_refuses_to_start() {
        let (mut full, starts) = sample_bytes();
        // Flip a payload byte of the second batch.
        full[starts[1] + 2 * HEADER_BYTES + 3] ^= 0x20;
        let dir = write_log("corrupt", &full);
        let err = AcceptorLog::open(&dir).unwrap_err();
        let LogError::Corrupt { record, offset, next_valid, .. } = &err else { panic!("{err}") };
        assert_eq!((*record, *offset, *next_valid), (2, starts[1] as u64, starts[2] as u64));
        let text = err.to_string();
        assert!(
            text.contains("acceptor.log") && text.contains("CRC32 mismatch") && text.contains("Refusing"),
            "{text}"
        );
        // Nothing was cut: the evidence stays on disk.
        assert_eq!(std::fs::read(dir.join(LOG_FILE)).unwrap(), full);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn zeros_followed_by_a_valid_batch_mean_lost_data() {
        let (full, starts) = sample_bytes();
        let mut bytes = full[..starts[1]].to_vec();
        bytes.extend_from_slice(&[0; 64]);
        bytes.extend_from_slice(&full[starts[1]..]);
        let dir = write_log("zerohole", &bytes);
        let err = AcceptorLog::open(&dir).unwrap_err();
        assert!(
            matches!(err, LogError::Corrupt { record: 2, offset, .. } if offset == starts[1] as u64),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_length_field_followed_by_batches_is_detected() {
        let (mut full, _) = sample_bytes();
        full[8] = 0xff; // the first batch's length now points past the end
        full[11] = 0x7f;
        let dir = write_log("badlen", &full);
        assert!(matches!(AcceptorLog::open(&dir), Err(LogError::Corrupt { record: 1, offset: 8, .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_log_of_another_format_is_refused_not_emptied() {
        // Records framed one by one, without the magic (the format before batches).
        let mut old = Vec::new();
        for r in sample() {
            encode(&r, &mut old);
        }
        let dir = write_log("oldformat", &old);
        let err = AcceptorLog::open(&dir).unwrap_err();
        assert!(matches!(err, LogError::Format { .. }), "{err}");
        assert!(err.to_string().contains("SYNODLG1"), "{err}");
        assert_eq!(std::fs::read(dir.join(LOG_FILE)).unwrap(), old, "left untouched");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_creation_cut_short_starts_afresh() {
        for stub in [&MAGIC[..3], &[0u8; 5][..], &[][..]] {
            let dir = write_log("stub", stub);
            let (mut log, rec) = AcceptorLog::open(&dir).unwrap();
            assert!(rec.records.is_empty());
            log.append(&sample()).unwrap();
            drop(log);
            assert_eq!(AcceptorLog::open(&dir).unwrap().1.records, sample());
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// A snapshot of `sample()`: what the node would keep of it.
    fn snapshot() -> Vec<Record> {
        vec![
            Record::Round { round: 9 },
            Record::Retired { from: 1, to: 1 },
            Record::Promise { instance: 2, ballot: Ballot::new(3, 1) },
        ]
    }

    #[test]
    fn compaction_replaces_the_log_and_appends_follow_the_snapshot() {
        let dir = temp_dir("compact");
        let (mut log, _) = AcceptorLog::open(&dir).unwrap();
        log.append(&sample()).unwrap();
        let before = log.len_bytes();
        log.compact(&snapshot()).unwrap();
        assert!(log.len_bytes() < before, "{} < {before}", log.len_bytes());
        let extra = Record::Accept { instance: 2, ballot: Ballot::new(3, 1), value: "w".into() };
        log.append(std::slice::from_ref(&extra)).unwrap();
        drop(log);
        let (_, rec) = AcceptorLog::open(&dir).unwrap();
        let mut expect = snapshot();
        expect.push(extra);
        assert_eq!(rec.records, expect);
        assert!(!dir.join(COMPACT_FILE).exists());
        // A snapshot of nothing, and one larger than a batch.
        let (mut log, _) = AcceptorLog::open(&dir).unwrap();
        log.compact(&[]).unwrap();
        drop(log);
        assert!(AcceptorLog::open(&dir).unwrap().1.records.is_empty());
        let big =
            vec![Record::Learned { instance: 7, value: "z".repeat(100_000) }; MAX_BATCH_BYTES / 100_000 + 3];
        let (mut log, _) = AcceptorLog::open(&dir).unwrap();
        log.compact(&big).unwrap();
        drop(log);
        assert_eq!(AcceptorLog::open(&dir).unwrap().1.records, big);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_crash_at_every_step_of_a_compaction_leaves_the_old_log_or_the_new_one() {
        let mut full = MAGIC.to_vec();
        encode_batch(&snapshot(), &mut full);
        let mut stops: Vec<CompactStep> = (0..=full.len() + 16).map(CompactStep::Written).collect();
        stops.extend([CompactStep::Synced, CompactStep::Renamed, CompactStep::Done]);
        for stop in stops {
            let dir = temp_dir("compact-crash");
            let (mut log, _) = AcceptorLog::open(&dir).unwrap();
            log.append(&sample()).unwrap();
            log.compact_steps(&snapshot(), stop).unwrap();
            drop(log); // the crash: nothing more happens
            let (mut log, rec) = AcceptorLog::open(&dir).unwrap();
            let renamed = matches!(stop, CompactStep::Renamed | CompactStep::Done);
            let expect = if renamed { snapshot() } else { sample() };
            assert_eq!(rec.records, expect, "crash after {stop:?}");
            assert_eq!(rec.torn_bytes, 0, "crash after {stop:?}");
            assert!(!dir.join(COMPACT_FILE).exists(), "open removes a stray compact file ({stop:?})");
            // And the log goes on: the next append reads back after what survived.
            let extra = Record::Round { round: 5000 };
            log.append(std::slice::from_ref(&extra)).unwrap();
            drop(log);
            assert_eq!(AcceptorLog::open(&dir).unwrap().1.records.last(), Some(&extra), "{stop:?}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn bad_bytes_beyond_one_batch_are_not_cut_as_torn() {
        let (full, starts) = sample_bytes();
        // The last batch is bad, and non-zero bytes lie further than any batch reaches.
        let mut bytes = full.clone();
        bytes[starts[3] + 2 * HEADER_BYTES + 2] ^= 0x01;
        bytes.resize(starts[3] + HEADER_BYTES + MAX_BATCH_BYTES + 100, 0);
        bytes.push(0x55);
        let dir = write_log("garbled", &bytes);
        let err = AcceptorLog::open(&dir).unwrap_err();
        assert!(matches!(err, LogError::Garbled { record: 4, .. }), "{err}");
        assert_eq!(std::fs::read(dir.join(LOG_FILE)).unwrap(), bytes, "left untouched");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
