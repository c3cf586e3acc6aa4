//! One segment file: how a flush encodes it, how open checks it, how a lookup reads it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::codec::{decode_block, put_varint, shared_prefix_bytes, u32_at, u64_at, VARINT_BYTES_MAX};
use super::runs::{read_runs, runs_of, Holds, Ids, RunsSection, RUN_BYTES};
use super::{ArchiveError, BLOCK_ENTRIES_MAX, BLOCK_TARGET_BYTES, MAGIC, OLD_MAGICS, VALUE_BYTES_MAX};

/// Block frame header: payload length + CRC32.
pub(super) const HEADER_BYTES: usize = 8;
/// The most bytes of one encoded entry: three varints and the suffix.
pub(super) const ENTRY_BYTES_MAX: usize = VARINT_BYTES_MAX + 2 * 3 + VALUE_BYTES_MAX;
/// The largest block payload: under the target before its last entry, plus that entry.
pub(super) const BLOCK_PAYLOAD_BYTES_MAX: usize = BLOCK_TARGET_BYTES + ENTRY_BYTES_MAX;
pub(super) const INDEX_ENTRY_BYTES: u64 = 24;
/// index offset, block count, entry count, run count, id min, id max (u64 each), CRC32s of
/// the index, of the runs and of the footer before it (u32 each), the magic.
pub(super) const FOOTER_BYTES: u64 = 6 * 8 + 3 * 4 + 8;
/// Where the footer's CRC of itself is: it covers the bytes before.
const FOOTER_CRC_AT: usize = 56;
/// Index entries read per `pread` while checking an index at open.
pub(super) const INDEX_CHUNK_ENTRIES: usize = 1024;
/// The smallest segment: magic, one block of one entry (3 bytes), one index entry, one run,
/// footer.
pub(super) const SEGMENT_BYTES_MIN: u64 =
    MAGIC.len() as u64 + HEADER_BYTES as u64 + 3 + INDEX_ENTRY_BYTES + RUN_BYTES + FOOTER_BYTES;

/// What the archive keeps in memory about one segment file: its shape, and its ids as runs
/// (at most [`super::RUNS_IN_MEMORY_MAX`] of them, else only its range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Segment {
    pub(super) seq: u64,
    pub(super) id_min: u64,
    pub(super) id_max: u64,
    pub(super) entries: u64,
    pub(super) blocks: u64,
    pub(super) index_offset: u64,
    pub(super) runs_offset: u64,
    pub(super) file_bytes: u64,
    pub(super) ids: Ids,
}

/// Writes `pending` as a segment to `out` (magic, blocks, index, runs, footer); returns its
/// shape (seq 0: the caller names it).
pub(super) fn encode_segment(pending: &BTreeMap<u64, String>, out: &mut impl Write) -> io::Result<Segment> {
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
    let runs_offset = index_offset + index.len() as u64;
    let runs = runs_of(pending.keys().copied());
    let mut runs_hasher = crc32fast::Hasher::new();
    for &(from, to) in &runs {
        let mut run = [0u8; RUN_BYTES as usize];
        run[..8].copy_from_slice(&from.to_le_bytes());
        run[8..].copy_from_slice(&to.to_le_bytes());
        runs_hasher.update(&run);
        out.write_all(&run)?;
    }
    let id_min = *pending.keys().next().expect("not empty");
    let id_max = *pending.keys().next_back().expect("not empty");
    let mut footer = Vec::with_capacity(FOOTER_BYTES as usize);
    for field in [index_offset, blocks, pending.len() as u64, runs.len() as u64, id_min, id_max] {
        footer.extend_from_slice(&field.to_le_bytes());
    }
    footer.extend_from_slice(&crc32fast::hash(&index).to_le_bytes());
    footer.extend_from_slice(&runs_hasher.finalize().to_le_bytes());
    assert_eq!(footer.len(), FOOTER_CRC_AT);
    footer.extend_from_slice(&crc32fast::hash(&footer).to_le_bytes());
    footer.extend_from_slice(MAGIC);
    assert_eq!(footer.len() as u64, FOOTER_BYTES);
    out.write_all(&footer)?;
    out.flush()?;
    Ok(Segment {
        seq: 0,
        id_min,
        id_max,
        entries: pending.len() as u64,
        blocks,
        index_offset,
        runs_offset,
        file_bytes: runs_offset + runs.len() as u64 * RUN_BYTES + FOOTER_BYTES,
        ids: Ids::new(runs, id_min, id_max),
    })
}

/// Checks the segment at `path`: size, both magics, the footer's CRC and fields, the runs
/// (`read_runs`), the index's CRC and order and its agreement with the footer and the runs.
/// Reads the footer, the runs and the index (in bounded chunks), never a block.
pub(super) fn check_segment(path: &Path, seq: u64) -> Result<Segment, ArchiveError> {
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
    if let Some(old) = OLD_MAGICS.iter().find(|m| m[..] == head[..]) {
        let why = format!(
            "a segment of the older format {:?}; this node reads {:?} only",
            String::from_utf8_lossy(&old[..]),
            String::from_utf8_lossy(MAGIC)
        );
        return Err(corrupt(0, why));
    }
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
    let magic_at = FOOTER_CRC_AT + 4;
    if &footer[magic_at..] != MAGIC {
        let why = "the footer does not end with the magic (a truncated or foreign file)".to_string();
        return Err(corrupt(footer_offset + magic_at as u64, why));
    }
    let (stored, computed) = (u32_at(&footer, FOOTER_CRC_AT), crc32fast::hash(&footer[..FOOTER_CRC_AT]));
    if stored != computed {
        let why = format!("footer CRC32 mismatch: stored {stored:08x}, computed {computed:08x}");
        return Err(corrupt(footer_offset, why));
    }
    let index_offset = u64_at(&footer, 0);
    let blocks = u64_at(&footer, 8);
    let entries = u64_at(&footer, 16);
    let runs = u64_at(&footer, 24);
    let (id_min, id_max) = (u64_at(&footer, 32), u64_at(&footer, 40));
    let (index_crc, runs_crc) = (u32_at(&footer, 48), u32_at(&footer, 52));
    let index_end = blocks.checked_mul(INDEX_ENTRY_BYTES).and_then(|b| b.checked_add(index_offset));
    let runs_end = runs.checked_mul(RUN_BYTES).and_then(|r| r.checked_add(index_end?));
    if blocks == 0 || runs == 0 || index_offset < MAGIC.len() as u64 || runs_end != Some(footer_offset) {
        let why = format!(
            "the footer's index ({blocks} blocks at byte {index_offset}) and runs ({runs}) do not end where the footer starts"
        );
        return Err(corrupt(footer_offset, why));
    }
    let runs_offset = index_end.expect("checked with runs_end");
    if entries < blocks || entries > blocks * BLOCK_ENTRIES_MAX as u64 {
        let why = format!("{entries} entries in {blocks} blocks of 1..={BLOCK_ENTRIES_MAX}");
        return Err(corrupt(footer_offset + 16, why));
    }
    if runs > entries || id_min > id_max || entries - 1 > id_max - id_min {
        let why = format!("{entries} entries in {runs} runs cannot span ids {id_min}..={id_max}");
        return Err(corrupt(footer_offset + 24, why));
    }
    let section = RunsSection { offset: runs_offset, runs, crc: runs_crc, id_min, id_max, entries };
    let ids = read_runs(&file, path, &section)?;
    // Stream the index: its CRC first (a flipped byte is reported as such), then its order.
    let mut hasher = crc32fast::Hasher::new();
    let mut disorder: Option<(u64, String)> = None;
    let mut chunk = vec![0u8; INDEX_CHUNK_ENTRIES * INDEX_ENTRY_BYTES as usize];
    let mut prev: Option<(u64, u64)> = None; // (last id, block offset)
    let mut block = 0u64;
    while block < blocks {
        let take = (blocks - block).min(INDEX_CHUNK_ENTRIES as u64);
        let bytes = &mut chunk[..(take * INDEX_ENTRY_BYTES) as usize];
        let at = index_offset + block * INDEX_ENTRY_BYTES;
        file.read_exact_at(bytes, at).map_err(io_err)?;
        hasher.update(bytes);
        for (k, entry) in bytes.chunks_exact(INDEX_ENTRY_BYTES as usize).enumerate() {
            let (first, last, offset) = (u64_at(entry, 0), u64_at(entry, 8), u64_at(entry, 16));
            let mut why = index_entry_disorder(prev, first, last, offset, index_offset);
            if why.is_none() && prev.is_none() && first != id_min {
                why = Some(format!("the first block starts at id {first}, the footer's ids at {id_min}"));
            }
            if why.is_none() && block + k as u64 == blocks - 1 && last != id_max {
                why = Some(format!("the last block ends at id {last}, the footer's ids at {id_max}"));
            }
            if why.is_none() && (ids.holds(first) == Holds::No || ids.holds(last) == Holds::No) {
                why = Some(format!("block ids {first}..={last}, but the runs do not hold both ends"));
            }
            if let (Some(why), None) = (why, &disorder) {
                disorder = Some((at + k as u64 * INDEX_ENTRY_BYTES, why));
            }
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
    Ok(Segment { seq, id_min, id_max, entries, blocks, index_offset, runs_offset, file_bytes, ids })
}

/// What is wrong with an index entry after `prev` (the previous entry's last id and offset),
/// if anything: ids must rise, blocks must follow one another from after the magic, and each
/// block must fit its limit.
pub(super) fn index_entry_disorder(
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

/// Looks `id` up in the segment open as `file` (at `path`): binary search of the index, one
/// block read. The block's ids must be exactly those the segment's runs hold in its range
/// (when the runs are in memory), so a segment whose runs name an id it lacks is Corrupt.
pub(super) fn lookup_in(
    file: &File,
    path: &Path,
    segment: &Segment,
    id: u64,
) -> Result<Option<String>, ArchiveError> {
    let io_err = |source| ArchiveError::Io { path: path.to_path_buf(), source };
    let corrupt = |offset: u64, why: String| ArchiveError::Corrupt { path: path.to_path_buf(), offset, why };
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
    let (mut count, mut not_held) = (0u64, None);
    let found = decode_block(&block[HEADER_BYTES..], first, last, id, |entry| {
        count += 1;
        if not_held.is_none() && segment.ids.holds(entry) == Holds::No {
            not_held = Some(entry);
        }
    })
    .map_err(|why| corrupt(offset, why))?;
    let held = segment.ids.count_within(first, last, BLOCK_ENTRIES_MAX as u64);
    if not_held.is_some() || held.is_some_and(|held| held != count) {
        let why = format!(
            "the block at byte {offset} holds {count} ids in {first}..={last} (first not in the runs: \
             {not_held:?}), the runs {held:?}: they disagree"
        );
        return Err(corrupt(segment.runs_offset, why));
    }
    Ok(found)
}
