//! Which segments a lookup reads, how many files it opens and keeps open, and how fast it is,
//! on the layout a long run makes: each segment a dense stretch of ids plus stragglers
//! decided late, so that the ranges of many segments overlap.

use super::*;
use std::time::Instant;

/// A deterministic generator (SplitMix64): the layouts are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// How far back a straggler may reach: it lands 1..=STRAGGLER_SEGMENTS_MAX segments after
/// the one of its stretch.
const STRAGGLER_SEGMENTS_MAX: u64 = 20;

/// Builds `segments` segments in `dir`: segment k holds the ids of its stretch
/// `k * per_segment + 1 ..= (k + 1) * per_segment`, except that 1% of them are stragglers,
/// decided late, which go to a later segment (1..=20 later); every 997th id is never decided.
/// Returns the ids and their values. Unsynced (skip_sync): durability is not the point here.
fn stragglers(dir: &Path, segments: u64, per_segment: u64) -> BTreeMap<u64, String> {
    let mut rng = Rng(7);
    let mut buckets: Vec<Vec<u64>> = vec![Vec::new(); segments as usize];
    for id in 1..=segments * per_segment {
        if id.is_multiple_of(997) {
            continue;
        }
        let home = (id - 1) / per_segment;
        let to = if rng.next().is_multiple_of(100) {
            home + 1 + rng.next() % STRAGGLER_SEGMENTS_MAX
        } else {
            home
        };
        buckets[to.min(segments - 1) as usize].push(id);
    }
    let mut archive = Archive::open(dir).unwrap();
    archive.skip_sync();
    let mut expected = BTreeMap::new();
    for bucket in buckets {
        for id in bucket {
            archive.add(id, value(id));
            expected.insert(id, value(id));
        }
        archive.flush().unwrap();
    }
    assert_eq!(archive.segments() as u64, segments);
    expected
}

/// How main looked an id up before segments kept their runs (commit a04c866): every segment
/// whose [min, max] covers the id, newest first, its file opened for the lookup. Returns the
/// value and the segments it searched.
fn lookup_by_range(archive: &Archive, id: u64) -> (Option<String>, u64) {
    let mut searched = 0;
    for segment in archive.segments.iter().rev() {
        if id < segment.id_min || id > segment.id_max {
            continue;
        }
        searched += 1;
        let path = segment_path(&archive.dir, segment.seq);
        let file = File::open(&path).unwrap();
        if let Some(value) = lookup_in(&file, &path, segment, id).unwrap() {
            return (Some(value), searched);
        }
    }
    (None, searched)
}

/// File descriptors of this process open on files under `dir`: the archive's, since each
/// test has a dir of its own.
fn fds_under(dir: &Path) -> usize {
    let dir = dir.canonicalize().unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(&dir))
        .count()
}

#[test]
fn a_lookup_searches_only_the_segment_that_holds_its_id() {
    let dir = temp_dir("owner");
    let expected = stragglers(&dir, 100, 1_000);
    let mut archive = Archive::open(&dir).unwrap();
    // The layout is the hard one: by range alone, an id is covered by many segments.
    let covering = |id: u64| archive.segments.iter().filter(|s| (s.id_min..=s.id_max).contains(&id)).count();
    let covered: usize = expected.keys().map(|&id| covering(id)).sum();
    let covered_mean = covered as f64 / expected.len() as f64;
    assert!(covered_mean > 10.0, "{covered_mean:.1} segments cover an id by range");
    assert!(archive.runs_in_memory() < 100 * 50, "{} runs", archive.runs_in_memory());
    for (&id, v) in &expected {
        let (searched, opened) = (archive.segments_searched(), archive.files_opened());
        assert_eq!(archive.lookup(id).unwrap().as_ref(), Some(v), "id {id}");
        assert_eq!(archive.segments_searched() - searched, 1, "id {id}: one segment searched");
        assert!(archive.files_opened() - opened <= 1, "id {id}: at most one file opened");
        assert!(archive.files_open() <= OPEN_FILES_MAX);
    }
    // Never decided, or past every segment: absent, and no segment is even searched.
    let searched = archive.segments_searched();
    for id in (997..=100_000).step_by(997).chain([0, 100_001, u64::MAX]) {
        assert_eq!(archive.lookup(id).unwrap(), None, "id {id}");
    }
    assert_eq!(archive.segments_searched(), searched, "absent ids search nothing");
    // Pending values still win, and cost no segment.
    archive.add(5, "pending".into());
    assert_eq!(archive.lookup(5).unwrap().as_deref(), Some("pending"));
    assert_eq!(archive.segments_searched(), searched);
}

#[test]
fn open_files_are_cached_up_to_the_cap_and_closed_on_drop() {
    let dir = temp_dir("fds");
    let expected = stragglers(&dir, 100, 100);
    let mut archive = Archive::open(&dir).unwrap();
    assert_eq!((archive.files_open(), fds_under(&dir)), (0, 0), "open keeps no file open");
    // One id of each segment's stretch that is not a straggler: one lookup per segment.
    let home = |k: u64| {
        (k * 100 + 1..=(k + 1) * 100)
            .find(|id| archive.segments[k as usize].ids.holds(*id) != runs::Holds::No)
            .unwrap()
    };
    let ids: Vec<u64> = (0..100).map(home).collect();
    for (k, &id) in ids.iter().enumerate() {
        assert_eq!(archive.lookup(id).unwrap().as_ref(), expected.get(&id));
        assert_eq!(archive.files_opened(), k as u64 + 1, "segment {k}: opened once");
        assert_eq!(archive.files_open(), (k + 1).min(OPEN_FILES_MAX));
        assert_eq!(fds_under(&dir), (k + 1).min(OPEN_FILES_MAX), "segment {k}: fds held");
    }
    // The 64 used last are open: looking them up again opens nothing, in any order.
    for &id in ids[100 - OPEN_FILES_MAX..].iter().rev() {
        assert_eq!(archive.lookup(id).unwrap().as_ref(), expected.get(&id));
    }
    assert_eq!(archive.files_opened(), 100, "cached files are not opened again");
    // The first segment was evicted: it is opened again, and the cap still holds.
    assert_eq!(archive.lookup(ids[0]).unwrap().as_ref(), expected.get(&ids[0]));
    assert_eq!((archive.files_opened(), archive.files_open()), (101, OPEN_FILES_MAX));
    assert_eq!(fds_under(&dir), OPEN_FILES_MAX);
    // A read that fails closes the segment's file: a restored file is opened afresh.
    let first = segment_path(&dir, 1);
    let good = std::fs::read(&first).unwrap();
    std::fs::write(&first, &good[..9]).unwrap(); // the same inode, the one open, cut short
    assert!(matches!(archive.lookup(ids[0]), Err(ArchiveError::Io { .. })));
    assert_eq!(archive.files_opened(), 101, "the read went through the open file");
    assert_eq!((archive.files_open(), fds_under(&dir)), (OPEN_FILES_MAX - 1, OPEN_FILES_MAX - 1));
    std::fs::remove_file(&first).unwrap();
    std::fs::write(&first, &good).unwrap(); // restored, as a new inode
    assert_eq!(archive.lookup(ids[0]).unwrap().as_ref(), expected.get(&ids[0]));
    assert_eq!(archive.files_opened(), 102);
    drop(archive);
    assert_eq!(fds_under(&dir), 0, "dropping the archive closes every file");
}

#[test]
fn above_the_runs_cap_a_segment_is_filtered_by_range_and_every_id_is_found() {
    let dir = temp_dir("coarse");
    let span = 2 * RUNS_IN_MEMORY_MAX as u64;
    let mut archive = Archive::open(&dir).unwrap();
    archive.skip_sync();
    // Segment 1: the odd ids, segment 2: the even ones, each RUNS_IN_MEMORY_MAX + 1 runs;
    // segment 3: one dense run, beyond both.
    for id in (1..=span + 1).step_by(2) {
        archive.add(id, value(id));
    }
    archive.flush().unwrap();
    for id in (0..=span).step_by(2) {
        archive.add(id, value(id));
    }
    archive.flush().unwrap();
    for id in span + 1_000..=span + 1_100 {
        archive.add(id, value(id));
    }
    archive.flush().unwrap();
    for reopened in [false, true] {
        if reopened {
            archive = Archive::open(&dir).unwrap();
        }
        assert_eq!(archive.runs_in_memory(), 1, "reopened {reopened}: only segment 3 keeps its runs");
        for id in 0..=span + 1 {
            let searched = archive.segments_searched();
            assert_eq!(archive.lookup(id).unwrap(), Some(value(id)), "id {id}");
            // Segment 2 (even ids) is newer: an odd id searches it in vain, by its range.
            let expected = if id % 2 == 0 {
                1
            } else if id <= span {
                2
            } else {
                1
            };
            assert_eq!(archive.segments_searched() - searched, expected, "id {id}");
        }
        for id in span + 1_000..=span + 1_100 {
            let searched = archive.segments_searched();
            assert_eq!(archive.lookup(id).unwrap(), Some(value(id)), "id {id}");
            assert_eq!(archive.segments_searched() - searched, 1, "id {id}");
        }
        let searched = archive.segments_searched();
        for id in [span + 2, span + 999, span + 1_101] {
            assert_eq!(archive.lookup(id).unwrap(), None, "id {id}");
        }
        assert_eq!(archive.segments_searched(), searched, "beyond the coarse ranges, nothing is searched");
    }
    // A coarse segment's runs are read and checked at open all the same.
    let path = segment_path(&dir, 1);
    let good = std::fs::read(&path).unwrap();
    let (runs, runs_offset) = runs_in(&good);
    assert_eq!(runs.len(), RUNS_IN_MEMORY_MAX + 1);
    let mut bad = good.clone();
    bad[runs_offset + 16 * RUNS_IN_MEMORY_MAX + 3] ^= 0x10;
    std::fs::write(&path, &bad).unwrap();
    let (offset, why) = assert_corrupt_at_open(&dir, &path);
    assert_eq!(offset, runs_offset as u64, "{why}");
    let mut odd = runs.clone();
    odd[RUNS_IN_MEMORY_MAX - 1].1 += 1; // adjacent to the next run, and one id too many
    std::fs::write(&path, with_runs(&good, &odd)).unwrap();
    let (offset, why) = assert_corrupt_at_open(&dir, &path);
    assert_eq!(offset, (runs_offset + 16 * RUNS_IN_MEMORY_MAX) as u64, "{why}");
}

/// The figure in docs/performance.md ("Archive lookups"): lookups per second on 100 segments
/// of 10k dense ids with 1% stragglers, main's way (by range, a file opened per segment
/// searched) and this way (by runs, through the cache of open files), in the same process
/// over the same files, the page cache warm.
#[test]
fn lookups_per_second_by_range_and_by_runs() {
    const SEGMENTS: u64 = 100;
    const PER_SEGMENT: u64 = 10_000;
    const LOOKUPS: usize = 10_000;
    const ROUNDS: usize = 3;
    let dir = temp_dir("rate");
    let expected = stragglers(&dir, SEGMENTS, PER_SEGMENT);
    let mut archive = Archive::open(&dir).unwrap();
    let mut rng = Rng(11);
    let ids: Vec<u64> = (0..LOOKUPS).map(|_| 1 + rng.next() % (SEGMENTS * PER_SEGMENT)).collect();
    let (mut by_range_s, mut by_runs_s) = (0.0, 0.0);
    let (mut range_searched, mut range_searched_max) = (0u64, 0u64);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for &id in &ids {
            let (found, searched) = lookup_by_range(&archive, id);
            assert_eq!(found.as_ref(), expected.get(&id), "id {id}");
            range_searched += searched;
            range_searched_max = range_searched_max.max(searched);
        }
        by_range_s += started.elapsed().as_secs_f64();
        let started = Instant::now();
        for &id in &ids {
            assert_eq!(archive.lookup(id).unwrap().as_ref(), expected.get(&id), "id {id}");
        }
        by_runs_s += started.elapsed().as_secs_f64();
    }
    let lookups = (LOOKUPS * ROUNDS) as f64;
    let present = ids.iter().filter(|id| expected.contains_key(id)).count() as u64 * ROUNDS as u64;
    eprintln!(
        "archive lookups, {SEGMENTS} segments of {PER_SEGMENT} dense ids + 1% stragglers, {} runs in memory: \
         by range (main) {:.0}/s, {:.1} segments searched and opened per lookup (max {range_searched_max}); \
         by runs {:.0}/s, {:.2} searched, {:.3} files opened per lookup",
        archive.runs_in_memory(),
        lookups / by_range_s,
        range_searched as f64 / lookups,
        lookups / by_runs_s,
        archive.segments_searched() as f64 / lookups,
        archive.files_opened() as f64 / lookups,
    );
    assert_eq!(archive.segments_searched(), present, "by runs: one segment per present id, none otherwise");
    assert!(range_searched > 5 * present, "by range: {range_searched} searches for {present} present ids");
    assert!(archive.files_opened() <= archive.segments_searched(), "at most one open per segment searched");
    assert!(archive.files_open() <= OPEN_FILES_MAX);
}
