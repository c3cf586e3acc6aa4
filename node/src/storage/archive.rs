//! The archive of decided values: decisions older than the core's window, on disk only.
//!
//! Why it exists: a node that kept every decision in memory (and in `acceptor.log`) grew without
//! bound (issue 17). The core retires old instances and hands their values here
//! (`Output::Archive`); when a message later names a retired instance, the runtime looks the
//! value up here (`Output::Lookup`). So the archive must cost ~nothing in memory per decision
//! and little on disk, and a lookup must read a few small pieces of one file.
//!
//! ```text
//! segment = "SYNODAR1" block+ index footer          file decided-<seq, 8 digits>.seg
//! block   = [payload length: u32 LE][CRC32 of payload: u32 LE][payload: entry{1..=64}]
//! entry   = varint id delta (the block's first entry: the absolute id)
//!           varint shared (bytes of the value equal to the previous entry's; first entry: 0)
//!           varint suffix length, suffix bytes (the value is prev[..shared] + suffix)
//! index   = per block: [first id: u64 LE][last id: u64 LE][block offset: u64 LE]
//! footer  = [index offset: u64][block count: u64][entry count: u64][CRC32 of index: u32]
//!           [CRC32 of the 28 footer bytes before it: u32]["SYNODAR1"]      (all LE, 40 bytes)
//! ```
//!
//! - A segment is written whole at [`Archive::flush`]: `decided-N.seg.tmp`, fdatasync, rename to
//!   `decided-N.seg`, fsync of the directory. A crash leaves either no segment (the tmp file,
//!   removed at the next open) or a whole one. So a bad segment is never a torn write: it is
//!   lost or changed data, and [`ArchiveError::Corrupt`] refuses it, leaving it untouched.
//! - Memory per segment is constant ([`Segment`]: seq, id range, counts, offsets); per
//!   decision, nothing. Open reads each segment's footer and streams its index once to check
//!   the CRC; a lookup skips segments whose id range misses, binary-searches the index with
//!   `pread`, reads one block (a few hundred bytes for short values) and checks its CRC.
//! - Values of consecutive instances share prefixes ("i123456-op…", "i123457-op…"), so an
//!   entry stores only the bytes that differ from the previous entry's value (as LevelDB's
//!   blocks do). For dense ids and the workload's 15-byte values, 1M decisions take 13.6 bytes
//!   each on disk (test `a_million_dense_decisions_cost_few_bytes_each`).
//! - Ids within a segment are sorted and unique (the first value added wins); across segments
//!   they may repeat, and the newest segment wins, as the pending ones win over all segments.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Segment files are `decided-<seq, 8 digits>.seg`; a flush writes `….seg.tmp` first.
pub const ARCHIVE_PREFIX: &str = "decided-";
const SEGMENT_SUFFIX: &str = ".seg";
const TMP_SUFFIX: &str = ".seg.tmp";
/// The first and the last 8 bytes of every segment of this format.
pub const MAGIC: &[u8; 8] = b"SYNODAR1";
/// The largest value a decision may carry (a protocol frame holds at most 64 KiB).
pub const VALUE_BYTES_MAX: usize = 128 * 1024;
/// Decisions queued in memory at most; the runtime flushes well before.
pub const PENDING_ENTRIES_MAX: usize = 1 << 20;
/// Entries per block at most: the binary search finds a block, a lookup scans it.
pub const BLOCK_ENTRIES_MAX: usize = 64;
/// A block is closed once its payload reaches this many bytes, so that a lookup reads little
/// even when values are long.
pub const BLOCK_TARGET_BYTES: usize = 4096;
/// Block frame header: payload length + CRC32.
const HEADER_BYTES: usize = 8;
/// The most bytes of one encoded entry: three varints and the suffix.
const ENTRY_BYTES_MAX: usize = VARINT_BYTES_MAX + 2 * 3 + VALUE_BYTES_MAX;
/// The largest block payload: under the target before its last entry, plus that entry.
const BLOCK_PAYLOAD_BYTES_MAX: usize = BLOCK_TARGET_BYTES + ENTRY_BYTES_MAX;
const INDEX_ENTRY_BYTES: u64 = 24;
const FOOTER_BYTES: u64 = 40;
/// A u64 as LEB128 takes at most 10 bytes.
const VARINT_BYTES_MAX: usize = 10;
/// Index entries read per `pread` while checking an index at open.
const INDEX_CHUNK_ENTRIES: usize = 1024;
/// The smallest segment: magic, one block of one entry (3 bytes), one index entry, footer.
const SEGMENT_BYTES_MIN: u64 =
    MAGIC.len() as u64 + HEADER_BYTES as u64 + 3 + INDEX_ENTRY_BYTES + FOOTER_BYTES;

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

/// What the archive keeps in memory about one segment file: a constant size, whatever the
/// number of decisions in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    seq: u64,
    id_min: u64,
    id_max: u64,
    entries: u64,
    blocks: u64,
    index_offset: u64,
    file_bytes: u64,
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
}

impl Archive {
    /// Opens (creating) the archive in `dir` (the node's data dir). Lists `decided-*.seg`,
    /// checks each segment's footer and index (magic, CRCs, sizes; a bad one is Corrupt), and
    /// then deletes leftover `decided-*.seg.tmp` files (a flush cut by a crash). Other files
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
        };
        tracing::info!(
            segments = archive.segments.len(),
            disk_bytes = archive.disk_bytes(),
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
    /// A block whose CRC does not match is Corrupt (file, offset).
    pub fn lookup(&self, instance: u64) -> Result<Option<String>, ArchiveError> {
        if let Some(value) = self.pending.get(&instance) {
            return Ok(Some(value.clone()));
        }
        for segment in self.segments.iter().rev() {
            if instance < segment.id_min || instance > segment.id_max {
                continue;
            }
            if let Some(value) = lookup_in(&segment_path(&self.dir, segment.seq), segment, instance)? {
                return Ok(Some(value));
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

/// Writes `pending` as a segment to `out` (magic, blocks, index, footer); returns its shape
/// (seq 0: the caller names it).
fn encode_segment(pending: &BTreeMap<u64, String>, out: &mut impl Write) -> io::Result<Segment> {
    assert!(!pending.is_empty(), "a segment holds at least one decision");
    out.write_all(MAGIC)?;
    let mut offset = MAGIC.len() as u64;
    let mut index =
        Vec::with_capacity(pending.len().div_ceil(BLOCK_ENTRIES_MAX) * INDEX_ENTRY_BYTES as usize);
    let mut block = Vec::with_capacity(HEADER_BYTES + BLOCK_TARGET_BYTES + 64);
    let mut entries = pending.iter().peekable();
    let mut blocks = 0u64;
    let mut id_last_block: Option<u64> = None;
    while entries.peek().is_some() {
        block.clear();
        block.extend_from_slice(&[0; HEADER_BYTES]);
        let (&first, _) = *entries.peek().expect("peeked");
        let mut prev: Option<(u64, &str)> = None;
        let mut count = 0;
        while count < BLOCK_ENTRIES_MAX && block.len() - HEADER_BYTES < BLOCK_TARGET_BYTES {
            let Some((&id, value)) = entries.next() else { break };
            let (delta, shared) = match prev {
                None => (id, 0),
                Some((prev_id, prev_value)) => {
                    assert!(id > prev_id, "entries are sorted and unique");
                    (id - prev_id, shared_prefix_bytes(prev_value, value))
                }
            };
            put_varint(&mut block, delta);
            put_varint(&mut block, shared as u64);
            put_varint(&mut block, (value.len() - shared) as u64);
            block.extend_from_slice(&value.as_bytes()[shared..]);
            prev = Some((id, value));
            count += 1;
        }
        let (last, _) = prev.expect("a block holds at least one entry");
        assert!(id_last_block.is_none_or(|l| first > l), "blocks are sorted and disjoint");
        id_last_block = Some(last);
        let payload_bytes = block.len() - HEADER_BYTES;
        assert!(payload_bytes <= BLOCK_PAYLOAD_BYTES_MAX, "a block within its limit");
        let crc = crc32fast::hash(&block[HEADER_BYTES..]);
        block[0..4].copy_from_slice(&(payload_bytes as u32).to_le_bytes());
        block[4..8].copy_from_slice(&crc.to_le_bytes());
        out.write_all(&block)?;
        index.extend_from_slice(&first.to_le_bytes());
        index.extend_from_slice(&last.to_le_bytes());
        index.extend_from_slice(&offset.to_le_bytes());
        offset += block.len() as u64;
        blocks += 1;
    }
    let index_offset = offset;
    out.write_all(&index)?;
    let mut footer = Vec::with_capacity(FOOTER_BYTES as usize);
    footer.extend_from_slice(&index_offset.to_le_bytes());
    footer.extend_from_slice(&blocks.to_le_bytes());
    footer.extend_from_slice(&(pending.len() as u64).to_le_bytes());
    footer.extend_from_slice(&crc32fast::hash(&index).to_le_bytes());
    footer.extend_from_slice(&crc32fast::hash(&footer).to_le_bytes());
    footer.extend_from_slice(MAGIC);
    assert_eq!(footer.len() as u64, FOOTER_BYTES);
    out.write_all(&footer)?;
    out.flush()?;
    Ok(Segment {
        seq: 0,
        id_min: *pending.keys().next().expect("not empty"),
        id_max: *pending.keys().next_back().expect("not empty"),
        entries: pending.len() as u64,
        blocks,
        index_offset,
        file_bytes: index_offset + index.len() as u64 + FOOTER_BYTES,
    })
}

/// The length of the common prefix of `a` and `b`, in bytes.
fn shared_prefix_bytes(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// Checks the segment at `path`: size, both magics, the footer's CRC and fields, the index's
/// CRC and order. Reads the footer and the index (in bounded chunks), never a block.
fn check_segment(path: &Path, seq: u64) -> Result<Segment, ArchiveError> {
    let io_err = |source| ArchiveError::Io { path: path.to_path_buf(), source };
    let corrupt = |offset: u64, why: String| ArchiveError::Corrupt { path: path.to_path_buf(), offset, why };
    let file = File::open(path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(corrupt(0, "not a regular file".into()));
    }
    let file_bytes = meta.len();
    let mut head = [0u8; 8];
    let head_bytes = file_bytes.min(8) as usize;
    file.read_exact_at(&mut head[..head_bytes], 0).map_err(io_err)?;
    if head[..head_bytes] != MAGIC[..head_bytes] {
        let why = format!("does not start with {:?}: not an archive segment", String::from_utf8_lossy(MAGIC));
        return Err(corrupt(0, why));
    }
    if file_bytes < SEGMENT_BYTES_MIN {
        let why = format!("{file_bytes} bytes, fewer than the smallest segment's {SEGMENT_BYTES_MIN}");
        return Err(corrupt(file_bytes, why));
    }
    let footer_offset = file_bytes - FOOTER_BYTES;
    let mut footer = [0u8; FOOTER_BYTES as usize];
    file.read_exact_at(&mut footer, footer_offset).map_err(io_err)?;
    if &footer[32..40] != MAGIC {
        let why = "the footer does not end with the magic (a truncated or foreign file)".to_string();
        return Err(corrupt(footer_offset + 32, why));
    }
    let (stored, computed) = (u32_at(&footer, 28), crc32fast::hash(&footer[..28]));
    if stored != computed {
        let why = format!("footer CRC32 mismatch: stored {stored:08x}, computed {computed:08x}");
        return Err(corrupt(footer_offset, why));
    }
    let index_offset = u64_at(&footer, 0);
    let blocks = u64_at(&footer, 8);
    let entries = u64_at(&footer, 16);
    let index_crc = u32_at(&footer, 24);
    let index_end = blocks.checked_mul(INDEX_ENTRY_BYTES).and_then(|b| b.checked_add(index_offset));
    if blocks == 0 || index_offset < MAGIC.len() as u64 || index_end != Some(footer_offset) {
        let why = format!(
            "the footer's index ({blocks} blocks at byte {index_offset}) does not end where the footer starts"
        );
        return Err(corrupt(footer_offset, why));
    }
    if entries < blocks || entries > blocks * BLOCK_ENTRIES_MAX as u64 {
        let why = format!("{entries} entries in {blocks} blocks of 1..={BLOCK_ENTRIES_MAX}");
        return Err(corrupt(footer_offset + 16, why));
    }
    // Stream the index: its CRC first (a flipped byte is reported as such), then its order.
    let mut hasher = crc32fast::Hasher::new();
    let mut disorder: Option<(u64, String)> = None;
    let mut chunk = vec![0u8; INDEX_CHUNK_ENTRIES * INDEX_ENTRY_BYTES as usize];
    let mut prev: Option<(u64, u64)> = None; // (last id, block offset)
    let (mut id_min, mut id_max) = (0, 0);
    let mut block = 0u64;
    while block < blocks {
        let take = (blocks - block).min(INDEX_CHUNK_ENTRIES as u64);
        let bytes = &mut chunk[..(take * INDEX_ENTRY_BYTES) as usize];
        let at = index_offset + block * INDEX_ENTRY_BYTES;
        file.read_exact_at(bytes, at).map_err(io_err)?;
        hasher.update(bytes);
        for (k, entry) in bytes.chunks_exact(INDEX_ENTRY_BYTES as usize).enumerate() {
            let (first, last, offset) = (u64_at(entry, 0), u64_at(entry, 8), u64_at(entry, 16));
            let why = index_entry_disorder(prev, first, last, offset, index_offset);
            if let (Some(why), None) = (why, &disorder) {
                disorder = Some((at + k as u64 * INDEX_ENTRY_BYTES, why));
            }
            if prev.is_none() {
                id_min = first;
            }
            id_max = last;
            prev = Some((last, offset));
        }
        block += take;
    }
    let computed = hasher.finalize();
    if computed != index_crc {
        let why = format!("index CRC32 mismatch: stored {index_crc:08x}, computed {computed:08x}");
        return Err(corrupt(index_offset, why));
    }
    if let Some((offset, why)) = disorder {
        return Err(corrupt(offset, why));
    }
    Ok(Segment { seq, id_min, id_max, entries, blocks, index_offset, file_bytes })
}

/// What is wrong with an index entry after `prev` (the previous entry's last id and offset),
/// if anything: ids must rise, blocks must follow one another from after the magic, and each
/// block must fit its limit.
fn index_entry_disorder(
    prev: Option<(u64, u64)>,
    first: u64,
    last: u64,
    offset: u64,
    index_offset: u64,
) -> Option<String> {
    let span_max = (HEADER_BYTES + BLOCK_PAYLOAD_BYTES_MAX) as u64;
    if first > last {
        return Some(format!("index entry with first id {first} above its last id {last}"));
    }
    match prev {
        None if offset != MAGIC.len() as u64 => return Some(format!("first block at byte {offset}, not 8")),
        Some((prev_last, _)) if first <= prev_last => {
            return Some(format!(
                "block ids {first}..={last} do not follow the previous block's last id {prev_last}"
            ));
        }
        Some((_, prev_offset)) if offset <= prev_offset || offset - prev_offset > span_max => {
            return Some(format!("block at byte {offset} after one at byte {prev_offset}"));
        }
        _ => {}
    }
    if offset >= index_offset || index_offset - offset <= HEADER_BYTES as u64 {
        return Some(format!("block at byte {offset}, too near the index at byte {index_offset}"));
    }
    None
}

/// Looks `id` up in the segment at `path`: binary search of the index, one block read.
fn lookup_in(path: &Path, segment: &Segment, id: u64) -> Result<Option<String>, ArchiveError> {
    let io_err = |source| ArchiveError::Io { path: path.to_path_buf(), source };
    let corrupt = |offset: u64, why: String| ArchiveError::Corrupt { path: path.to_path_buf(), offset, why };
    let file = File::open(path).map_err(io_err)?;
    let read_entry = |i: u64| -> Result<(u64, u64, u64), ArchiveError> {
        let mut entry = [0u8; INDEX_ENTRY_BYTES as usize];
        file.read_exact_at(&mut entry, segment.index_offset + i * INDEX_ENTRY_BYTES).map_err(io_err)?;
        Ok((u64_at(&entry, 0), u64_at(&entry, 8), u64_at(&entry, 16)))
    };
    // The last block whose first id is <= id: invariant first(lo) <= id < first(hi).
    let (mut lo, mut hi) = (0u64, segment.blocks);
    let mut steps = 0;
    while hi - lo > 1 {
        steps += 1;
        assert!(steps <= 64, "a binary search over u64 blocks ends within 64 steps");
        let mid = lo + (hi - lo) / 2;
        if read_entry(mid)?.0 <= id {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let (first, last, offset) = read_entry(lo)?;
    if id < first || id > last {
        return Ok(None);
    }
    let end = if lo + 1 < segment.blocks { read_entry(lo + 1)?.2 } else { segment.index_offset };
    let span_max = (HEADER_BYTES + BLOCK_PAYLOAD_BYTES_MAX) as u64;
    let entry_at = segment.index_offset + lo * INDEX_ENTRY_BYTES;
    if end <= offset + HEADER_BYTES as u64 || end - offset > span_max || end > segment.index_offset {
        return Err(corrupt(entry_at, format!("index entry names a block from byte {offset} to {end}")));
    }
    let mut block = vec![0u8; (end - offset) as usize];
    file.read_exact_at(&mut block, offset).map_err(io_err)?;
    let (len, stored) = (u32_at(&block, 0) as usize, u32_at(&block, 4));
    if len != block.len() - HEADER_BYTES {
        let why = format!("block length {len}, but the index gives it {} bytes", block.len() - HEADER_BYTES);
        return Err(corrupt(offset, why));
    }
    let computed = crc32fast::hash(&block[HEADER_BYTES..]);
    if computed != stored {
        return Err(corrupt(
            offset,
            format!("block CRC32 mismatch: stored {stored:08x}, computed {computed:08x}"),
        ));
    }
    decode_block(&block[HEADER_BYTES..], first, last, id).map_err(|why| corrupt(offset, why))
}

/// Decodes a whole block payload, checking that its ids rise from `first` to `last`, and
/// returns the value of `id` if the block holds it.
fn decode_block(payload: &[u8], first: u64, last: u64, id: u64) -> Result<Option<String>, String> {
    let mut at = 0;
    let mut value: Vec<u8> = Vec::new();
    let mut found = None;
    let mut prev_id: Option<u64> = None;
    for _ in 0..BLOCK_ENTRIES_MAX {
        let delta = get_varint(payload, &mut at)?;
        let shared = get_varint(payload, &mut at)?;
        let suffix = get_varint(payload, &mut at)?;
        let entry_id = match prev_id {
            None if delta != first => return Err(format!("first id {delta}, but the index says {first}")),
            None => delta,
            Some(p) if delta == 0 => return Err(format!("id {p} repeats")),
            Some(p) => p.checked_add(delta).ok_or_else(|| format!("id {p} + {delta} overflows"))?,
        };
        if shared > value.len() as u64 || shared + suffix > VALUE_BYTES_MAX as u64 {
            return Err(format!(
                "id {entry_id}: {shared} shared bytes and {suffix} more, after a value of {}",
                value.len()
            ));
        }
        let Some(bytes) = payload.get(at..at + suffix as usize) else {
            return Err(format!("id {entry_id}: value runs past the block's end"));
        };
        value.truncate(shared as usize);
        value.extend_from_slice(bytes);
        at += suffix as usize;
        if entry_id == id {
            found =
                Some(String::from_utf8(value.clone()).map_err(|_| format!("id {id}: value is not UTF-8"))?);
        }
        prev_id = Some(entry_id);
        if at == payload.len() {
            break;
        }
    }
    if at != payload.len() {
        return Err(format!("more than {BLOCK_ENTRIES_MAX} entries in a block"));
    }
    if prev_id != Some(last) {
        return Err(format!("last id {prev_id:?}, but the index says {last}"));
    }
    Ok(found)
}

/// Appends `v` as LEB128.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    for _ in 0..VARINT_BYTES_MAX {
        if v < 0x80 {
            out.push(v as u8);
            return;
        }
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    unreachable!("a u64 takes at most 10 LEB128 bytes");
}

/// Reads a LEB128 u64 at `*at` and moves past it.
fn get_varint(bytes: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for k in 0..VARINT_BYTES_MAX {
        let Some(&b) = bytes.get(*at) else {
            return Err("varint runs past the block's end".into());
        };
        *at += 1;
        if k == VARINT_BYTES_MAX - 1 && b > 1 {
            return Err("varint overflows 64 bits".into());
        }
        v |= u64::from(b & 0x7f) << (7 * k);
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err("varint longer than 10 bytes".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch data dir, removed when dropped: also when a test fails.
    struct Scratch(PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    impl std::ops::Deref for Scratch {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl AsRef<Path> for Scratch {
        fn as_ref(&self) -> &Path {
            &self.0
        }
    }

    fn temp_dir(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("synod-archive-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch(dir)
    }

    /// A value shaped like the workload's: "i<instance>-op<op>".
    fn value(id: u64) -> String {
        format!("i{id}-op{}", id.wrapping_add(1))
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    /// (first id, last id, offset) of every block of the segment file `bytes`, and the index
    /// offset, read independently of the code under test.
    fn blocks_of(bytes: &[u8]) -> (Vec<(u64, u64, u64)>, u64) {
        let footer = &bytes[bytes.len() - 40..];
        let (index_offset, blocks) = (u64_at(footer, 0), u64_at(footer, 8));
        let index = (0..blocks as usize)
            .map(|i| {
                let at = index_offset as usize + 24 * i;
                (u64_at(bytes, at), u64_at(bytes, at + 8), u64_at(bytes, at + 16))
            })
            .collect();
        (index, index_offset)
    }

    /// A data dir holding one segment of `ids` (values from [`value`]); returns it and its path.
    fn one_segment(name: &str, ids: impl Iterator<Item = u64>) -> (Scratch, PathBuf) {
        let dir = temp_dir(name);
        let mut archive = Archive::open(&dir).unwrap();
        for id in ids {
            archive.add(id, value(id));
        }
        archive.flush().unwrap();
        let path = segment_path(&dir, 1);
        assert!(path.exists());
        (dir, path)
    }

    fn assert_corrupt_at_open(dir: &Path, path: &Path) -> (u64, String) {
        match Archive::open(dir) {
            Err(ArchiveError::Corrupt { path: p, offset, why }) => {
                assert_eq!(p, path);
                (offset, why)
            }
            other => panic!("expected Corrupt naming {}, got {other:?}", path.display()),
        }
    }

    #[test]
    fn varints_round_trip_and_bad_ones_are_refused() {
        for v in [0, 1, 127, 128, 300, 1 << 35, u64::MAX - 1, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut at = 0;
            assert_eq!(get_varint(&out, &mut at), Ok(v));
            assert_eq!(at, out.len());
            let mut at = 0;
            assert!(get_varint(&out[..out.len() - 1], &mut at).is_err(), "a cut varint of {v}");
        }
        let mut at = 0;
        assert!(get_varint(&[0xff; 10], &mut at).is_err(), "more than 64 bits");
        let mut at = 0;
        assert!(get_varint(&[0xff; 11], &mut at).is_err());
    }

    #[test]
    fn decisions_round_trip_over_flushes_with_duplicates_and_sparse_ids() {
        let dir = temp_dir("roundtrip");
        let mut archive = Archive::open(&dir).unwrap();
        let mut expected = BTreeMap::new();
        // 200k dense ids over four flushes; each later flush repeats some ids of earlier ones
        // with other values (the newest segment wins), and adds one twice (the first wins).
        for part in 0..4u64 {
            for id in part * 50_000 + 1..=(part + 1) * 50_000 {
                archive.add(id, value(id));
                expected.insert(id, value(id));
            }
            if part > 0 {
                for id in (1..part * 50_000).step_by(7_001) {
                    archive.add(id, format!("dup{part}-{id}"));
                    archive.add(id, "second add, ignored".into());
                    expected.insert(id, format!("dup{part}-{id}"));
                }
            }
            archive.flush().unwrap();
            assert_eq!(archive.pending_len(), 0);
        }
        let sparse = [0, 1 << 40, (1 << 40) + 3, u64::MAX - 1, u64::MAX];
        for id in sparse {
            archive.add(id, value(id));
            expected.insert(id, value(id));
        }
        // A long value, several per block: blocks are cut by bytes too.
        for id in 300_000..300_010 {
            archive.add(id, "é".repeat(3_000 + id as usize % 7));
            expected.insert(id, "é".repeat(3_000 + id as usize % 7));
        }
        archive.flush().unwrap();
        assert_eq!(archive.segments(), 5);
        let on_disk: u64 = names(&dir).iter().map(|n| std::fs::metadata(dir.join(n)).unwrap().len()).sum();
        assert_eq!(archive.disk_bytes(), on_disk);
        drop(archive);

        let archive = Archive::open(&dir).unwrap();
        assert_eq!((archive.segments(), archive.pending_len(), archive.disk_bytes()), (5, 0, on_disk));
        for (id, v) in &expected {
            assert_eq!(archive.lookup(*id).unwrap().as_ref(), Some(v), "id {id}");
        }
        for id in [200_001, 250_000, (1 << 40) + 1, (1 << 40) + 2, u64::MAX - 2, 299_999, 300_010] {
            assert_eq!(archive.lookup(id).unwrap(), None, "id {id} was never added");
        }
    }

    #[test]
    fn pending_decisions_are_looked_up_and_an_empty_flush_writes_nothing() {
        let dir = temp_dir("pending");
        let mut archive = Archive::open(&dir).unwrap();
        archive.flush().unwrap();
        assert!(names(&dir).is_empty(), "nothing pending, no file");
        assert_eq!((archive.segments(), archive.disk_bytes()), (0, 0));
        archive.add(5, "five".into());
        archive.add(5, "not five".into());
        archive.add(3, "three".into());
        assert_eq!(archive.pending_len(), 2);
        assert_eq!(archive.lookup(5).unwrap().as_deref(), Some("five"));
        assert_eq!(archive.lookup(3).unwrap().as_deref(), Some("three"));
        assert_eq!(archive.lookup(4).unwrap(), None);
        assert!(names(&dir).is_empty(), "add writes nothing");
        archive.flush().unwrap();
        archive.flush().unwrap();
        assert_eq!(names(&dir), ["decided-00000001.seg"]);
        assert_eq!((archive.segments(), archive.pending_len()), (1, 0));
        // A pending value wins over a segment's.
        archive.add(5, "pending five".into());
        assert_eq!(archive.lookup(5).unwrap().as_deref(), Some("pending five"));
        assert_eq!(archive.lookup(3).unwrap().as_deref(), Some("three"));
    }

    #[test]
    fn a_failed_flush_keeps_its_decisions_pending() {
        let dir = temp_dir("failed");
        let mut archive = Archive::open(&dir).unwrap();
        archive.add(1, "one".into());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(archive.flush(), Err(ArchiveError::Io { .. })));
        assert_eq!((archive.pending_len(), archive.segments()), (1, 0));
        std::fs::create_dir_all(&dir).unwrap();
        archive.flush().unwrap();
        assert_eq!(Archive::open(&dir).unwrap().lookup(1).unwrap().as_deref(), Some("one"));
    }

    #[test]
    fn skip_sync_still_writes_readable_segments() {
        let dir = temp_dir("skipsync");
        let mut archive = Archive::open(&dir).unwrap();
        archive.skip_sync();
        archive.add(9, "nine".into());
        archive.flush().unwrap();
        assert_eq!(Archive::open(&dir).unwrap().lookup(9).unwrap().as_deref(), Some("nine"));
    }

    #[test]
    fn a_leftover_tmp_is_removed_by_open_and_not_read() {
        let (dir, path) = one_segment("tmp", 1..=100);
        // A whole, valid segment that was never renamed: not acknowledged, so not read.
        let tmp = dir.join("decided-00000001.seg.tmp");
        std::fs::rename(&path, &tmp).unwrap();
        std::fs::write(dir.join("other.seg.tmp"), b"not the archive's").unwrap();
        let archive = Archive::open(&dir).unwrap();
        assert_eq!(archive.segments(), 0);
        assert_eq!(archive.lookup(50).unwrap(), None);
        assert_eq!(names(&dir), ["other.seg.tmp"], "only the archive's tmp is removed");
    }

    #[test]
    fn a_crash_at_every_step_of_a_flush_keeps_exactly_the_earlier_segments() {
        // The third segment as a flush writes it, taken from a twin data dir.
        let build = |name: &str, third: bool| {
            let dir = temp_dir(name);
            let mut archive = Archive::open(&dir).unwrap();
            for id in 1..=300 {
                archive.add(id, value(id));
            }
            archive.flush().unwrap();
            for id in 301..=600 {
                archive.add(id, value(id));
            }
            archive.flush().unwrap();
            if third {
                for id in (250..=900).step_by(3) {
                    archive.add(id, format!("third-{id}"));
                }
                archive.flush().unwrap();
            }
            dir
        };
        let twin = build("crash-twin", true);
        let third = std::fs::read(segment_path(&twin, 3)).unwrap();
        let dir = build("crash", false);
        let before = names(&dir);
        let tmp = dir.join("decided-00000003.seg.tmp");
        let check_earlier = |archive: &Archive| {
            assert_eq!(archive.segments(), 2);
            for id in [1, 250, 300, 301, 600] {
                assert_eq!(archive.lookup(id).unwrap(), Some(value(id)), "id {id}");
            }
            for id in [601, 700, 898] {
                assert_eq!(archive.lookup(id).unwrap(), None, "id {id} is only in the unrenamed third");
            }
        };
        // Cut anywhere while writing, or whole but not renamed.
        for len in 0..=third.len() {
            std::fs::write(&tmp, &third[..len]).unwrap();
            let archive = Archive::open(&dir).unwrap();
            check_earlier(&archive);
            assert_eq!(names(&dir), before, "the tmp file of {len} bytes is removed");
        }
        // Renamed: the segment is whole (it was synced first) and read.
        std::fs::write(&tmp, &third).unwrap();
        std::fs::rename(&tmp, segment_path(&dir, 3)).unwrap();
        let archive = Archive::open(&dir).unwrap();
        assert_eq!(archive.segments(), 3);
        assert_eq!(archive.lookup(250).unwrap().as_deref(), Some("third-250"), "the newest segment wins");
        assert_eq!(archive.lookup(898).unwrap().as_deref(), Some("third-898"));
        assert_eq!(archive.lookup(900).unwrap(), None);
        assert_eq!(archive.lookup(251).unwrap(), Some(value(251)));
        // After a cut flush, the next one takes the same sequence number and works.
        std::fs::remove_file(segment_path(&dir, 3)).unwrap();
        std::fs::write(&tmp, &third[..100]).unwrap();
        let mut archive = Archive::open(&dir).unwrap();
        archive.add(1000, "thousand".into());
        archive.flush().unwrap();
        assert_eq!(names(&dir).last().map(String::as_str), Some("decided-00000003.seg"));
        assert_eq!(Archive::open(&dir).unwrap().lookup(1000).unwrap().as_deref(), Some("thousand"));
    }

    #[test]
    fn a_flipped_byte_in_a_block_makes_lookups_in_that_block_corrupt() {
        let ids: Vec<u64> = (1..=200).chain([1_000, u64::MAX - 1]).collect();
        let (dir, path) = one_segment("flip-block", ids.iter().copied());
        let good = std::fs::read(&path).unwrap();
        let (blocks, index_offset) = blocks_of(&good);
        assert!(blocks.len() >= 4, "several blocks: {blocks:?}");
        for at in MAGIC.len()..index_offset as usize {
            let mut bad = good.clone();
            bad[at] ^= 0x5a;
            std::fs::write(&path, &bad).unwrap();
            let archive = Archive::open(&dir).unwrap(); // open reads no block
            let &(_, _, block_offset) = blocks.iter().rev().find(|b| b.2 as usize <= at).unwrap();
            for &id in &ids {
                let in_block = blocks.iter().any(|&(f, l, o)| o == block_offset && (f..=l).contains(&id));
                match archive.lookup(id) {
                    Err(ArchiveError::Corrupt { path: p, offset, .. }) if in_block => {
                        assert_eq!(
                            (p.as_path(), offset),
                            (path.as_path(), block_offset),
                            "byte {at}, id {id}"
                        );
                    }
                    Ok(found) if !in_block => assert_eq!(found, Some(value(id)), "byte {at}, id {id}"),
                    other => panic!("byte {at} flipped, id {id} (in that block: {in_block}): {other:?}"),
                }
            }
        }
        let err = {
            let mut bad = good.clone();
            bad[blocks[1].2 as usize + 20] ^= 1;
            std::fs::write(&path, &bad).unwrap();
            Archive::open(&dir).unwrap().lookup(blocks[1].0).unwrap_err().to_string()
        };
        assert!(
            err.contains(&path.display().to_string()) && err.contains(&format!("byte {}", blocks[1].2)),
            "{err}"
        );
        assert!(err.contains("Refusing"), "{err}");
    }

    #[test]
    fn a_flipped_byte_in_the_magic_index_or_footer_refuses_open_and_leaves_the_file() {
        let (dir, path) = one_segment("flip-index", 1..=300);
        let good = std::fs::read(&path).unwrap();
        let (_, index_offset) = blocks_of(&good);
        let positions = (0..MAGIC.len()).chain(index_offset as usize..good.len());
        for at in positions {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            std::fs::write(&path, &bad).unwrap();
            let (offset, why) = assert_corrupt_at_open(&dir, &path);
            assert!(offset <= good.len() as u64, "byte {at}: offset {offset}: {why}");
            assert_eq!(std::fs::read(&path).unwrap(), bad, "byte {at}: the file is left untouched");
        }
        std::fs::write(&path, &good).unwrap();
        assert_eq!(Archive::open(&dir).unwrap().lookup(300).unwrap(), Some(value(300)));
    }

    #[test]
    fn an_index_in_disorder_with_a_good_crc_is_refused() {
        let (dir, path) = one_segment("disorder", 1..=300);
        let good = std::fs::read(&path).unwrap();
        let (blocks, index_offset) = blocks_of(&good);
        // Swap two index entries and reseal the index and the footer: only the order is wrong.
        let mut bad = good.clone();
        let (a, b) = (index_offset as usize, index_offset as usize + 24);
        let first: Vec<u8> = bad[a..a + 24].to_vec();
        bad.copy_within(b..b + 24, a);
        bad[b..b + 24].copy_from_slice(&first);
        let footer_at = good.len() - 40;
        let crc = crc32fast::hash(&bad[index_offset as usize..footer_at]);
        bad[footer_at + 24..footer_at + 28].copy_from_slice(&crc.to_le_bytes());
        let crc = crc32fast::hash(&bad[footer_at..footer_at + 28]);
        bad[footer_at + 28..footer_at + 32].copy_from_slice(&crc.to_le_bytes());
        std::fs::write(&path, &bad).unwrap();
        let (offset, why) = assert_corrupt_at_open(&dir, &path);
        assert_eq!(offset, index_offset, "{why}");
        assert!(blocks.len() > 2);
    }

    #[test]
    fn a_truncated_segment_refuses_open() {
        let (dir, path) = one_segment("truncated", 1..=200);
        let good = std::fs::read(&path).unwrap();
        for len in 0..good.len() {
            std::fs::write(&path, &good[..len]).unwrap();
            assert_corrupt_at_open(&dir, &path);
            assert_eq!(std::fs::metadata(&path).unwrap().len(), len as u64, "left untouched");
        }
    }

    #[test]
    fn a_foreign_file_named_like_a_segment_is_corrupt_and_left_untouched() {
        let dir = temp_dir("foreign");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("acceptor.log"), b"SYNODLG1").unwrap();
        let cases: [(&str, &[u8]); 5] = [
            ("decided-00000001.seg", b"hello, this is not an archive segment at all, but it is long enough"),
            ("decided-00000001.seg", &[0; 200]),
            ("decided-00000001.seg", b""),
            ("decided-1.seg", b"SYNODAR1"),
            ("decided-abcdefgh.seg", b"SYNODAR1"),
        ];
        for (name, bytes) in cases {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            let (offset, why) = assert_corrupt_at_open(&dir, &path);
            assert_eq!(offset, 0, "{name}: {why}");
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name} is left untouched");
            std::fs::remove_file(&path).unwrap();
        }
        assert_eq!(names(&dir), ["acceptor.log"]);
        let archive = Archive::open(&dir).unwrap();
        assert_eq!(archive.segments(), 0);
        assert_eq!(names(&dir), ["acceptor.log"], "other files are not the archive's");
    }

    /// The figure quoted in the module docs and docs/protocol.md.
    #[test]
    fn a_million_dense_decisions_cost_few_bytes_each() {
        const DECISIONS: u64 = 1_000_000;
        const PER_SEGMENT: u64 = 65_536;
        let dir = temp_dir("million");
        let mut archive = Archive::open(&dir).unwrap();
        let mut value_bytes = 0;
        for id in 1..=DECISIONS {
            let v = value(id);
            value_bytes += v.len() as u64;
            archive.add(id, v);
            if id % PER_SEGMENT == 0 {
                archive.flush().unwrap();
            }
        }
        archive.flush().unwrap();
        let bytes_per_decision = archive.disk_bytes() as f64 / DECISIONS as f64;
        eprintln!(
            "archive: {DECISIONS} dense decisions of {:.1}-byte values in {} segments: {} bytes, \
             {bytes_per_decision:.2} bytes per decision",
            value_bytes as f64 / DECISIONS as f64,
            archive.segments(),
            archive.disk_bytes()
        );
        assert!(bytes_per_decision < 14.0, "{bytes_per_decision:.2} bytes per decision");
        let started = std::time::Instant::now();
        let archive = Archive::open(&dir).unwrap();
        let open_us = started.elapsed().as_micros();
        let started = std::time::Instant::now();
        let mut lookups = 0u32;
        for id in (1..=DECISIONS).step_by(997).chain([DECISIONS]) {
            assert_eq!(archive.lookup(id).unwrap(), Some(value(id)), "id {id}");
            lookups += 1;
        }
        let lookup_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(lookups);
        eprintln!("archive: open {open_us} us, lookup {lookup_us:.1} us each (page cache warm)");
        assert_eq!(archive.lookup(DECISIONS + 1).unwrap(), None);
    }
}
