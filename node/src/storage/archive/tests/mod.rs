//! The archive's tests: round trips and crashes during a flush here; corruption of every part
//! in `corrupt`; which segments a lookup reads, and how fast, in `lookups`.

use super::codec::{get_varint, put_varint, u64_at};
use super::*;

mod corrupt;
mod lookups;

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

/// Bytes of a footer, and where its fields are: the format, written out independently of the
/// code under test.
const FOOTER: usize = 68;
const F_INDEX_OFFSET: usize = 0;
const F_BLOCKS: usize = 8;
const F_RUNS: usize = 24;
const F_INDEX_CRC: usize = 48;
const F_RUNS_CRC: usize = 52;
const F_CRC: usize = 56;

/// (first id, last id, offset) of every block of the segment file `bytes`, and the index
/// offset, read independently of the code under test.
fn blocks_of(bytes: &[u8]) -> (Vec<(u64, u64, u64)>, u64) {
    let footer = &bytes[bytes.len() - FOOTER..];
    let (index_offset, blocks) = (u64_at(footer, F_INDEX_OFFSET), u64_at(footer, F_BLOCKS));
    let index = (0..blocks as usize)
        .map(|i| {
            let at = index_offset as usize + 24 * i;
            (u64_at(bytes, at), u64_at(bytes, at + 8), u64_at(bytes, at + 16))
        })
        .collect();
    (index, index_offset)
}

/// The runs (from, to) of the segment file `bytes`, and the offset of its runs section.
fn runs_in(bytes: &[u8]) -> (Vec<(u64, u64)>, usize) {
    let footer = &bytes[bytes.len() - FOOTER..];
    let runs = u64_at(footer, F_RUNS) as usize;
    let offset = bytes.len() - FOOTER - 16 * runs;
    let runs =
        (0..runs).map(|k| (u64_at(bytes, offset + 16 * k), u64_at(bytes, offset + 16 * k + 8))).collect();
    (runs, offset)
}

/// The segment file `bytes` with its runs section replaced by `runs`, and its footer's run
/// count and CRCs made to match: a segment whose CRCs are all good and whose runs say `runs`.
fn with_runs(bytes: &[u8], runs: &[(u64, u64)]) -> Vec<u8> {
    let (_, runs_offset) = runs_in(bytes);
    let mut footer = bytes[bytes.len() - FOOTER..].to_vec();
    let mut out = bytes[..runs_offset].to_vec();
    for &(from, to) in runs {
        out.extend_from_slice(&from.to_le_bytes());
        out.extend_from_slice(&to.to_le_bytes());
    }
    footer[F_RUNS..F_RUNS + 8].copy_from_slice(&(runs.len() as u64).to_le_bytes());
    let runs_crc = crc32fast::hash(&out[runs_offset..]);
    footer[F_RUNS_CRC..F_RUNS_CRC + 4].copy_from_slice(&runs_crc.to_le_bytes());
    reseal_footer(&mut footer);
    out.extend_from_slice(&footer);
    out
}

/// Makes the footer's own CRC match its fields.
fn reseal_footer(footer: &mut [u8]) {
    let crc = crc32fast::hash(&footer[..F_CRC]);
    footer[F_CRC..F_CRC + 4].copy_from_slice(&crc.to_le_bytes());
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

    let mut archive = Archive::open(&dir).unwrap();
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
    let mut archive = Archive::open(&dir).unwrap();
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
    let check_earlier = |archive: &mut Archive| {
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
        let mut archive = Archive::open(&dir).unwrap();
        check_earlier(&mut archive);
        assert_eq!(names(&dir), before, "the tmp file of {len} bytes is removed");
    }
    // Renamed: the segment is whole (it was synced first) and read.
    std::fs::write(&tmp, &third).unwrap();
    std::fs::rename(&tmp, segment_path(&dir, 3)).unwrap();
    let mut archive = Archive::open(&dir).unwrap();
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
    let mut archive = Archive::open(&dir).unwrap();
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
