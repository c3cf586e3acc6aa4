//! The archive of decided values: decisions older than the core's window, on disk only.
//!
//! Why it exists: a node that kept every decision in memory (and in `acceptor.log`) grew without
//! bound (issue 17). The core retires old instances and hands their values here
//! (`Output::Archive`); when a message later names a retired instance, the runtime looks the
//! value up here (`Output::Lookup`), synchronously, inside the node's event loop. So the
//! archive must cost ~nothing in memory per decision and little on disk, and a lookup must
//! read a few small pieces of one file.
//!
//! ```text
//! segment = "SYNODAR2" block+ index runs footer     file decided-<seq, 8 digits>.seg
//! block   = [payload length: u32 LE][CRC32 of payload: u32 LE][payload: entry{1..=64}]
//! entry   = varint id delta (the block's first entry: the absolute id)
//!           varint shared (bytes of the value equal to the previous entry's; first entry: 0)
//!           varint suffix length, suffix bytes (the value is prev[..shared] + suffix)
//! index   = per block: [first id: u64][last id: u64][block offset: u64]
//! runs    = per maximal run of consecutive ids held: [from: u64][to: u64]  (inclusive, sorted)
//! footer  = [index offset: u64][block count: u64][entry count: u64][run count: u64]
//!           [first id: u64][last id: u64][CRC32 of index: u32][CRC32 of runs: u32]
//!           [CRC32 of the 56 footer bytes before it: u32]["SYNODAR2"]    (all LE, 68 bytes)
//! ```
//!
//! - A segment is written whole at [`Archive::flush`]: `decided-N.seg.tmp`, fdatasync, rename to
//!   `decided-N.seg`, fsync of the directory. A crash leaves either no segment (the tmp file,
//!   removed at the next open) or a whole one. So a bad segment is never a torn write: it is
//!   lost or changed data, and [`ArchiveError::Corrupt`] refuses it, leaving it untouched.
//! - Open reads each segment's footer, its runs and its index (streamed in bounded chunks),
//!   checks their CRCs and that they agree (runs sorted, maximal, within the footer's ids and
//!   reaching both ends, as many ids as entries; each block's ends among the runs), and keeps
//!   the segment's shape and its runs in memory (`Segment` in segment.rs, `Ids` in runs.rs).
//! - A lookup searches only a segment whose runs hold the id, newest first: normally exactly
//!   one, although a segment's [first, last] reaches far back (stragglers decided late) and
//!   the ranges of dozens of segments overlap. It binary-searches the index with `pread`,
//!   reads one block (a few hundred bytes for short values), checks its CRC and that its ids
//!   are exactly the runs' in its range. Files stay open in a cache of at most
//!   [`OPEN_FILES_MAX`] (open_files.rs), so a lookup seldom calls open(2).
//! - Memory per segment: its shape and 16 bytes per run (a handful of runs for dense ids,
//!   whatever the number of decisions); per decision, nothing. A segment of more than
//!   [`RUNS_IN_MEMORY_MAX`] runs keeps only its [first, last], a coarse filter: a lookup in
//!   that range searches it, as every lookup did before runs. So at most 64 KiB a segment.
//! - Values of consecutive instances share prefixes ("i123456-op…", "i123457-op…"), so an
//!   entry stores only the bytes that differ from the previous entry's value (as LevelDB's
//!   blocks do). For dense ids and the workload's 15-byte values, 1M decisions take 13.6 bytes
//!   each on disk (test `a_million_dense_decisions_cost_few_bytes_each`).
//! - Ids within a segment are sorted and unique (the first value added wins); across segments
//!   they may repeat, and the newest segment wins, as the pending ones win over all segments.
//! - Segments of the older format "SYNODAR1" (no runs) are refused as Corrupt, saying so.

mod codec;
mod open_files;
mod runs;
mod segment;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use open_files::OpenFiles;
pub use open_files::OPEN_FILES_MAX;
use runs::Holds;
pub use runs::RUNS_IN_MEMORY_MAX;
use segment::{check_segment, encode_segment, lookup_in, Segment};

/// Segment files are `decided-<seq, 8 digits>.seg`; a flush writes `….seg.tmp` first.
pub const ARCHIVE_PREFIX: &str = "decided-";
const SEGMENT_SUFFIX: &str = ".seg";
const TMP_SUFFIX: &str = ".seg.tmp";
/// The first and the last 8 bytes of every segment of this format.
pub const MAGIC: &[u8; 8] = b"SYNODAR2";
/// Magics of earlier formats, refused with a message saying so: "SYNODAR1" had no id runs.
const OLD_MAGICS: [&[u8; 8]; 1] = [b"SYNODAR1"];
/// The largest value a decision may carry (a protocol frame holds at most 64 KiB).
pub const VALUE_BYTES_MAX: usize = 128 * 1024;
/// Decisions queued in memory at most; the runtime flushes well before.
pub const PENDING_ENTRIES_MAX: usize = 1 << 20;
/// Entries per block at most: the binary search finds a block, a lookup scans it.
pub const BLOCK_ENTRIES_MAX: usize = 64;
/// A block is closed once its payload reaches this many bytes, so that a lookup reads little
/// even when values are long.
pub const BLOCK_TARGET_BYTES: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{path}: corrupt archive segment at byte {offset} ({why}). Refusing to use it: segments are \
         written whole, synced and renamed into place, so a bad one is decided values lost or \
         changed on disk, not a torn write. The file is left untouched; restore it."
    )]
    Corrupt { path: PathBuf, offset: u64, why: String },
}

#[derive(Debug)]
pub struct Archive {
    dir: PathBuf,
    /// Sorted by seq, oldest first.
    segments: Vec<Segment>,
    /// The seq of the next segment: one more than the highest on disk.
    seq_next: u64,
    /// Added, not yet flushed; the first value per id.
    pending: BTreeMap<u64, String>,
    /// The `skip-fsync` mutant: segments are written but never synced.
    skip_sync: bool,
    /// Segment files kept open for lookups, at most [`OPEN_FILES_MAX`].
    files: OpenFiles,
    /// Segments searched (index and block read) by lookups, over the archive's life.
    segments_searched: u64,
}

impl Archive {
    /// Opens (creating) the archive in `dir` (the node's data dir). Lists `decided-*.seg`,
    /// checks each segment's footer, runs and index (magic, CRCs, sizes, order; a bad one is
    /// Corrupt) and keeps its runs in memory, and then deletes leftover `decided-*.seg.tmp` files (a flush cut by a crash). Other files
    /// in `dir` are not the archive's and are left alone.
    pub fn open(dir: &Path) -> Result<Archive, ArchiveError> {
        let dir_err = |source| ArchiveError::Io { path: dir.to_path_buf(), source };
        std::fs::create_dir_all(dir).map_err(dir_err)?;
        let mut found = Vec::new();
        let mut tmps = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(dir_err)? {
            let entry = entry.map_err(dir_err)?;
            let name = entry.file_name();
            match classify(&name) {
                Name::Other => {}
                Name::Tmp => tmps.push(entry.path()),
                Name::Segment(seq) => found.push((seq, entry.path())),
                Name::BadSegment => {
                    let why = format!(
                        "named like a segment but not {ARCHIVE_PREFIX}<sequence number, 8 digits>{SEGMENT_SUFFIX}"
                    );
                    return Err(ArchiveError::Corrupt { path: entry.path(), offset: 0, why });
                }
            }
        }
        found.sort_unstable();
        let mut segments = Vec::with_capacity(found.len());
        for (seq, path) in &found {
            segments.push(check_segment(path, *seq)?);
        }
        for tmp in &tmps {
            // Never renamed, so never acknowledged. Not fsyncing the directory is fine: if the
            // removal is lost, the next open removes the file again.
            tracing::warn!(path = %tmp.display(), "removing an archive segment whose flush was cut short");
            std::fs::remove_file(tmp).map_err(|source| ArchiveError::Io { path: tmp.clone(), source })?;
        }
        let seq_next = segments.last().map_or(1, |s| s.seq + 1);
        let archive = Archive {
            dir: dir.to_path_buf(),
            segments,
            seq_next,
            pending: BTreeMap::new(),
            skip_sync: false,
            files: OpenFiles::default(),
            segments_searched: 0,
        };
        tracing::info!(
            segments = archive.segments.len(),
            disk_bytes = archive.disk_bytes(),
            runs_in_memory = archive.runs_in_memory(),
            "opened the archive of decided values"
        );
        Ok(archive)
    }

    /// Queues a decision in memory (not yet durable). Values are at most [`VALUE_BYTES_MAX`];
    /// at most [`PENDING_ENTRIES_MAX`] may wait for a flush. An id already pending keeps its
    /// first value.
    pub fn add(&mut self, instance: u64, value: String) {
        assert!(
            value.len() <= VALUE_BYTES_MAX,
            "a decided value of {} bytes exceeds the archive's limit",
            value.len()
        );
        assert!(
            self.pending.len() < PENDING_ENTRIES_MAX || self.pending.contains_key(&instance),
            "{PENDING_ENTRIES_MAX} decisions pend in the archive: the runtime must flush first"
        );
        self.pending.entry(instance).or_insert(value);
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Writes every pending decision as one new segment, durably: write `decided-N.seg.tmp`,
    /// fdatasync it, rename it to `decided-N.seg`, fsync the directory. No-op when nothing
    /// pends. After it returns Ok, a crash (even a power loss) keeps every decision added
    /// before. On error the decisions stay pending and the tmp file is removed (best effort).
    pub fn flush(&mut self) -> Result<(), ArchiveError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let seq = self.seq_next;
        let tmp = self.dir.join(format!("{ARCHIVE_PREFIX}{seq:08}{TMP_SUFFIX}"));
        let written = self.write_segment(&tmp, seq);
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        let segment = written?;
        assert_eq!(segment.entries, self.pending.len() as u64, "a segment holds every pending decision");
        self.segments.push(segment);
        self.seq_next = seq + 1;
        self.pending.clear();
        Ok(())
    }

    fn write_segment(&self, tmp: &Path, seq: u64) -> Result<Segment, ArchiveError> {
        let io_err = |source| ArchiveError::Io { path: tmp.to_path_buf(), source };
        let file = OpenOptions::new().write(true).create(true).truncate(true).open(tmp).map_err(io_err)?;
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        let mut segment = encode_segment(&self.pending, &mut out).map_err(io_err)?;
        segment.seq = seq;
        let file = out.into_inner().map_err(|e| io_err(e.into_error()))?;
        if !self.skip_sync {
            file.sync_data().map_err(io_err)?;
        }
        drop(file);
        let path = segment_path(&self.dir, seq);
        std::fs::rename(tmp, &path).map_err(io_err)?;
        if !self.skip_sync {
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|source| ArchiveError::Io { path: self.dir.clone(), source })?;
        }
        Ok(segment)
    }

    /// The value of `instance`: pending first, then segments newest first. Ok(None) if absent.
    /// Only a segment whose runs hold the id is searched (normally exactly one), or a coarse
    /// one whose range covers it; its file comes from the cache of open files. A block whose
    /// CRC does not match, or a segment whose runs hold the id but whose blocks do not, is
    /// Corrupt (file, offset); after any error the segment's file is closed, so the next
    /// lookup opens it again (it may have been restored).
    pub fn lookup(&mut self, instance: u64) -> Result<Option<String>, ArchiveError> {
        if let Some(value) = self.pending.get(&instance) {
            return Ok(Some(value.clone()));
        }
        for segment in self.segments.iter().rev() {
            let holds = segment.ids.holds(instance);
            if holds == Holds::No {
                continue;
            }
            self.segments_searched += 1;
            let path = segment_path(&self.dir, segment.seq);
            let found = self
                .files
                .get(segment.seq, &path)
                .map_err(|source| ArchiveError::Io { path: path.clone(), source })
                .and_then(|file| lookup_in(file, &path, segment, instance));
            match (found, holds) {
                (Ok(Some(value)), _) => return Ok(Some(value)),
                (Ok(None), Holds::Maybe | Holds::No) => {}
                (Ok(None), Holds::Yes(run)) => {
                    self.files.forget(segment.seq);
                    let why = format!("its runs hold id {instance}, but no block does");
                    let offset = segment.runs_offset + run as u64 * runs::RUN_BYTES;
                    return Err(ArchiveError::Corrupt { path, offset, why });
                }
                (Err(e), _) => {
                    self.files.forget(segment.seq);
                    return Err(e);
                }
            }
        }
        Ok(None)
    }

    pub fn segments(&self) -> usize {
        self.segments.len()
    }

    /// Bytes of the segment files on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.file_bytes).sum()
    }

    /// Runs of ids held in memory, over all segments (16 bytes each).
    pub fn runs_in_memory(&self) -> usize {
        self.segments.iter().map(|s| s.ids.runs_in_memory()).sum()
    }

    /// Segments searched by lookups so far (an index binary search and a block read each).
    pub fn segments_searched(&self) -> u64 {
        self.segments_searched
    }

    /// Segment files opened by lookups so far (open(2) calls; the cache saves the others).
    pub fn files_opened(&self) -> u64 {
        self.files.opened()
    }

    /// Segment files open now, at most [`OPEN_FILES_MAX`].
    pub fn files_open(&self) -> usize {
        self.files.len()
    }

    /// The `skip-fsync` mutant (docs/mutants.md): from now on flush writes segments but never
    /// fdatasyncs them or fsyncs the directory, so they survive a SIGKILL but not a power loss.
    pub fn skip_sync(&mut self) {
        self.skip_sync = true;
    }
}

enum Name {
    Other,
    Tmp,
    Segment(u64),
    BadSegment,
}

/// What a directory entry is to the archive. A segment's name must be exactly what
/// [`segment_path`] makes of its seq.
fn classify(name: &OsStr) -> Name {
    let bytes = name.as_bytes();
    let Some(rest) = bytes.strip_prefix(ARCHIVE_PREFIX.as_bytes()) else {
        return Name::Other;
    };
    if rest.ends_with(TMP_SUFFIX.as_bytes()) {
        return Name::Tmp;
    }
    let Some(digits) = rest.strip_suffix(SEGMENT_SUFFIX.as_bytes()) else {
        return Name::Other;
    };
    let seq = std::str::from_utf8(digits).ok().filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
    match seq.and_then(|d| d.parse::<u64>().ok()) {
        Some(seq) if format!("{seq:08}").as_bytes() == digits && seq > 0 => Name::Segment(seq),
        _ => Name::BadSegment,
    }
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{ARCHIVE_PREFIX}{seq:08}{SEGMENT_SUFFIX}"))
}
