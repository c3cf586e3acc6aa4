//! Corrupt segments: every part of a segment damaged, and what open and lookup say of it.

use super::*;

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
        let mut archive = Archive::open(&dir).unwrap(); // open reads no block
        let &(_, _, block_offset) = blocks.iter().rev().find(|b| b.2 as usize <= at).unwrap();
        for &id in &ids {
            let in_block = blocks.iter().any(|&(f, l, o)| o == block_offset && (f..=l).contains(&id));
            match archive.lookup(id) {
                Err(ArchiveError::Corrupt { path: p, offset, .. }) if in_block => {
                    assert_eq!((p.as_path(), offset), (path.as_path(), block_offset), "byte {at}, id {id}");
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
fn a_flipped_byte_in_the_magic_index_runs_or_footer_refuses_open_and_leaves_the_file() {
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
    let footer_at = good.len() - FOOTER;
    let index_end = index_offset as usize + 24 * blocks.len();
    let crc = crc32fast::hash(&bad[index_offset as usize..index_end]);
    bad[footer_at + F_INDEX_CRC..footer_at + F_INDEX_CRC + 4].copy_from_slice(&crc.to_le_bytes());
    reseal_footer(&mut bad[footer_at..]);
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
    let mut old_format = b"SYNODAR1".to_vec();
    old_format.resize(200, 0);
    let cases: [(&str, &[u8]); 6] = [
        ("decided-00000001.seg", b"hello, this is not an archive segment at all, but it is long enough"),
        ("decided-00000001.seg", &[0; 200]),
        ("decided-00000001.seg", b""),
        ("decided-00000001.seg", &old_format),
        ("decided-1.seg", b"SYNODAR1"),
        ("decided-abcdefgh.seg", b"SYNODAR1"),
    ];
    for (name, bytes) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let (offset, why) = assert_corrupt_at_open(&dir, &path);
        assert_eq!(offset, 0, "{name}: {why}");
        let old = name == "decided-00000001.seg" && bytes.starts_with(b"SYNODAR1");
        assert_eq!(old, why.contains("older format"), "{name}: {why}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name} is left untouched");
        std::fs::remove_file(&path).unwrap();
    }
    assert_eq!(names(&dir), ["acceptor.log"]);
    let archive = Archive::open(&dir).unwrap();
    assert_eq!(archive.segments(), 0);
    assert_eq!(names(&dir), ["acceptor.log"], "other files are not the archive's");
}

/// A segment of several runs: 1..=100, 201..=400, 1000, 1002 (302 ids).
fn ids_with_gaps() -> impl Iterator<Item = u64> {
    (1..=100).chain(201..=400).chain([1_000, 1_002])
}

#[test]
fn a_flipped_byte_in_the_runs_refuses_open_at_the_runs() {
    let (dir, path) = one_segment("flip-runs", ids_with_gaps());
    let good = std::fs::read(&path).unwrap();
    let (runs, runs_offset) = runs_in(&good);
    assert_eq!(runs, [(1, 100), (201, 400), (1_000, 1_000), (1_002, 1_002)]);
    for at in runs_offset..good.len() - FOOTER {
        for flip in [0x01, 0x80] {
            let mut bad = good.clone();
            bad[at] ^= flip;
            std::fs::write(&path, &bad).unwrap();
            let (offset, why) = assert_corrupt_at_open(&dir, &path);
            assert_eq!(offset, runs_offset as u64, "byte {at}: {why}");
            assert!(why.contains("runs CRC32 mismatch"), "byte {at}: {why}");
            assert_eq!(std::fs::read(&path).unwrap(), bad, "byte {at}: the file is left untouched");
        }
    }
    std::fs::write(&path, &good).unwrap();
    let mut archive = Archive::open(&dir).unwrap();
    assert_eq!(archive.runs_in_memory(), 4);
    assert_eq!(archive.lookup(1_002).unwrap(), Some(value(1_002)));
}

#[test]
fn runs_at_odds_with_the_footer_or_the_index_refuse_open() {
    let (dir, path) = one_segment("bad-runs", ids_with_gaps());
    let good = std::fs::read(&path).unwrap();
    let (_, runs_offset) = runs_in(&good);
    let (_, index_offset) = blocks_of(&good);
    let footer_offset = (good.len() - FOOTER) as u64;
    let r = runs_offset as u64;
    let tail = [(1_000, 1_000), (1_002, 1_002)];
    let with_tail = |head: &[(u64, u64)]| -> Vec<(u64, u64)> { head.iter().chain(&tail).copied().collect() };
    // (runs, where open must say the fault is, what it must say). Each is sealed with good
    // CRCs, so only the checks of the runs' meaning can refuse it.
    type Case = (Vec<(u64, u64)>, u64, &'static str);
    let cases: Vec<Case> = vec![
        (with_tail(&[(1, 100), (202, 400)]), r, "the runs hold 301 ids, but the footer counts 302 entries"),
        (with_tail(&[(201, 400), (1, 100)]), r, "the first run starts at 201"),
        (with_tail(&[(1, 150), (101, 400)]), r + 16, "does not follow the previous run"),
        (with_tail(&[(1, 99), (100, 100), (201, 400)]), r + 16, "does not follow the previous run (to 99)"),
        (with_tail(&[(0, 0), (2, 100), (201, 400)]), r, "run 0..=0 outside the segment's ids 1..=1002"),
        (vec![(1, 100), (201, 400), (1_000, 1_000), (1_002, 1_003)], r + 48, "outside the segment's ids"),
        (with_tail(&[(1, 100), (400, 201)]), r + 16, "backwards"),
        (vec![(1, 100), (201, 400), (1_000, 1_001)], r + 32, "the last run ends at Some(1001), not at"),
        // Ids right in number, but block 1 (65..=100, 201..=228) ends at an id they lack.
        (with_tail(&[(1, 101), (201, 227), (229, 400)]), index_offset + 24, "do not hold both ends"),
    ];
    for (runs, offset, says) in cases {
        let bad = with_runs(&good, &runs);
        std::fs::write(&path, &bad).unwrap();
        let (at, why) = assert_corrupt_at_open(&dir, &path);
        assert_eq!(at, offset, "runs {runs:?}: {why}");
        assert!(why.contains(says), "runs {runs:?}: {why}");
        assert_eq!(std::fs::read(&path).unwrap(), bad, "runs {runs:?}: the file is left untouched");
    }
    // No runs at all, or more runs than entries: the footer alone says it cannot be.
    std::fs::write(&path, with_runs(&good, &[])).unwrap();
    let (at, why) = assert_corrupt_at_open(&dir, &path);
    assert_eq!(at, footer_offset - 4 * 16, "{why}");
    assert!(why.contains("runs (0) do not end where the footer starts"), "{why}");
    let many: Vec<(u64, u64)> = (0..400).map(|k| (1 + 3 * k, 1 + 3 * k)).collect();
    let bad = with_runs(&good, &many);
    std::fs::write(&path, &bad).unwrap();
    let (at, why) = assert_corrupt_at_open(&dir, &path);
    assert_eq!(at, (bad.len() - FOOTER + 24) as u64, "{why}");
    assert!(why.contains("302 entries in 400 runs"), "{why}");
    // The good runs, resealed the same way, open: the cases above fail for their runs alone.
    std::fs::write(&path, with_runs(&good, &runs_in(&good).0)).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), good, "with_runs rewrites a segment faithfully");
    assert_eq!(Archive::open(&dir).unwrap().lookup(400).unwrap(), Some(value(400)));
}

#[test]
fn runs_that_open_but_disagree_with_a_block_make_its_lookups_corrupt() {
    let (dir, path) = one_segment("odd-runs", ids_with_gaps());
    let good = std::fs::read(&path).unwrap();
    let (blocks, _) = blocks_of(&good);
    assert_eq!((blocks[1].0, blocks[1].1), (65, 228), "block 1 straddles the gap");
    let (_, runs_offset) = runs_in(&good);
    // As many ids as the segment holds, every block's ends among them, but 100 is missing
    // and 200 is claimed: only reading block 1 can tell.
    let bad = with_runs(&good, &[(1, 99), (200, 400), (1_000, 1_000), (1_002, 1_002)]);
    std::fs::write(&path, &bad).unwrap();
    let mut archive = Archive::open(&dir).unwrap();
    for id in [1, 64, 229, 400, 1_000, 1_002] {
        assert_eq!(archive.lookup(id).unwrap(), Some(value(id)), "id {id}, outside block 1");
    }
    for id in [65, 99, 200, 201, 228] {
        match archive.lookup(id) {
            Err(ArchiveError::Corrupt { path: p, offset, why }) => {
                assert_eq!((p.as_path(), offset), (path.as_path(), runs_offset as u64), "id {id}: {why}");
                assert!(why.contains("disagree"), "id {id}: {why}");
            }
            other => panic!("id {id}: expected Corrupt, got {other:?}"),
        }
    }
    // Every id of block 1 among the runs, but the runs claim one more in its range (200), and
    // lack one elsewhere (31, in block 0): only the count of block 1 tells.
    let bad = with_runs(&good, &[(1, 30), (32, 100), (200, 400), (1_000, 1_000), (1_002, 1_002)]);
    std::fs::write(&path, &bad).unwrap();
    let mut archive = Archive::open(&dir).unwrap();
    for id in [65, 200, 228] {
        match archive.lookup(id) {
            Err(ArchiveError::Corrupt { offset, why, .. }) => {
                assert_eq!(offset, runs_offset as u64, "id {id}: {why}");
                assert!(
                    why.contains("holds 64 ids in 65..=228") && why.contains("Some(65)"),
                    "id {id}: {why}"
                );
            }
            other => panic!("id {id}: expected Corrupt, got {other:?}"),
        }
    }
    assert_eq!(archive.lookup(229).unwrap(), Some(value(229)));
    // Runs that claim an id between two blocks: no block is read, and yet the lookup cannot
    // answer "absent", since the runs say the segment holds it.
    let (dir, path) = one_segment("between-blocks", (1..=64).chain(201..=264));
    let good = std::fs::read(&path).unwrap();
    let (blocks, _) = blocks_of(&good);
    assert_eq!(blocks.iter().map(|b| (b.0, b.1)).collect::<Vec<_>>(), [(1, 64), (201, 264)]);
    let (_, runs_offset) = runs_in(&good);
    std::fs::write(&path, with_runs(&good, &[(1, 30), (32, 64), (100, 100), (201, 264)])).unwrap();
    let mut archive = Archive::open(&dir).unwrap();
    match archive.lookup(100) {
        Err(ArchiveError::Corrupt { path: p, offset, why }) => {
            assert_eq!((p.as_path(), offset), (path.as_path(), runs_offset as u64 + 32), "{why}");
            assert!(why.contains("its runs hold id 100, but no block does"), "{why}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert_eq!(archive.lookup(201).unwrap(), Some(value(201)));
}
