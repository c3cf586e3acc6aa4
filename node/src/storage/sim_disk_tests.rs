//! The simulated disk's own rules; the log's behaviour on it is in node/tests/log_on_sim_disk.rs.

use super::*;

const DIR: &str = "/data";

fn disk() -> SimDisk {
    let mut d = SimDisk::new(1 << 20);
    d.create_dir_all(Path::new(DIR)).unwrap();
    d
}

fn at(name: &str) -> PathBuf {
    Path::new(DIR).join(name)
}

#[test]
fn reads_see_pending_changes_and_a_crash_keeps_only_synced_ones() {
    let mut d = disk();
    let f = d.open(&at("a"), false).unwrap();
    d.write_at(&f, b"hello", 0).unwrap();
    d.sync_data(&f).unwrap();
    d.sync_dir(Path::new(DIR)).unwrap();
    d.write_at(&f, b"J", 0).unwrap();
    d.write_at(&f, b"!!", 7).unwrap();
    assert_eq!(d.read(&at("a")), Some(&b"Jello\0\0!!"[..]), "a gap reads as zeros");
    assert_eq!(d.file_len(&f).unwrap(), 9);
    d.set_len(&f, 3).unwrap();
    assert_eq!(d.read(&at("a")), Some(&b"Jel"[..]));
    assert!(d.has_pending());
    let loss = d.crash(&mut Rng::new(1), Crash::Clean);
    assert_eq!(loss, CrashLoss { writes: 3, bytes: 3, torn_bytes_kept: 0, names: 0, files: 1 });
    assert_eq!(d.read(&at("a")), Some(&b"hello"[..]));
    assert!(!d.has_pending());
    // The old handle died with the crash.
    let stale = d.write_at(&f, b"x", 0).unwrap_err();
    assert!(stale.to_string().contains("before a crash"), "{stale}");
}

#[test]
fn a_torn_crash_keeps_a_subset_of_the_oldest_writes_sectors_and_nothing_later() {
    let data: Vec<u8> = (0..2000u32).map(|i| (i % 200) as u8 + 1).collect(); // never 0 or 0xEE
    let mut kept_patterns = BTreeSet::new();
    for seed in 0..64 {
        let mut d = disk();
        let f = d.open(&at("t"), false).unwrap();
        d.sync_data(&f).unwrap();
        d.sync_dir(Path::new(DIR)).unwrap();
        d.write_at(&f, &data, 100).unwrap(); // touches sectors 0..=4
        d.write_at(&f, &[0xEE; 600], 2100).unwrap();
        let loss = d.crash(&mut Rng::new(seed), Crash::Torn);
        assert_eq!((loss.writes, loss.bytes), (2, 2600));
        let after = d.read(&at("t")).unwrap();
        assert!(!after.contains(&0xEE), "a later write never survives (seed {seed})");
        // Every byte is either the write's or a zero, and whole pieces go together.
        let mut pattern = Vec::new();
        let mut piece_start = 100u64;
        while piece_start < 2100 {
            let piece_end = ((piece_start / SECTOR_BYTES + 1) * SECTOR_BYTES).min(2100);
            let range = piece_start as usize..piece_end as usize;
            let got = after.get(range.clone()).unwrap_or(&[]);
            let want = &data[range.start - 100..range.end - 100];
            let kept = got == want;
            assert!(kept || got.iter().all(|&b| b == 0), "piece {range:?} half kept (seed {seed})");
            pattern.push(kept);
            piece_start = piece_end;
        }
        let kept_bytes: u64 = after.iter().filter(|&&b| b != 0).count() as u64;
        assert_eq!(loss.torn_bytes_kept, kept_bytes, "seed {seed}");
        kept_patterns.insert(pattern);
    }
    assert!(kept_patterns.len() > 8, "the rng draws many subsets: {kept_patterns:?}");
    assert!(kept_patterns.contains(&vec![false; 5]) && kept_patterns.contains(&vec![true; 5]));
}

#[test]
fn unsynced_names_may_be_lost_and_synced_ones_never() {
    let (mut lost, mut kept) = (0, 0);
    for seed in 0..64 {
        let mut d = disk();
        let f = d.open(&at("new"), false).unwrap();
        d.write_at(&f, b"data", 0).unwrap();
        d.sync_data(&f).unwrap(); // contents durable, the name not yet
        let loss = d.crash(&mut Rng::new(seed), Crash::Clean);
        match d.read(&at("new")) {
            None => {
                lost += 1;
                assert_eq!(loss.names, 1);
            }
            Some(bytes) => {
                kept += 1;
                assert_eq!(bytes, b"data", "a kept name keeps its synced contents");
            }
        }
        let f = d.open(&at("synced"), false).unwrap();
        d.sync_dir(Path::new(DIR)).unwrap();
        drop(f);
        d.crash(&mut Rng::new(seed), Crash::Torn);
        assert_eq!(d.read(&at("synced")), Some(&b""[..]), "seed {seed}");
    }
    assert!(lost > 0 && kept > 0, "lost {lost}, kept {kept}");
}

#[test]
fn a_crash_keeps_a_prefix_of_a_directorys_name_changes() {
    let mut outcomes = BTreeSet::new();
    for seed in 0..64 {
        let mut d = disk();
        let old = d.open(&at("log"), false).unwrap();
        d.write_at(&old, b"old", 0).unwrap();
        d.sync_data(&old).unwrap();
        d.sync_dir(Path::new(DIR)).unwrap();
        let new = d.open(&at("log.tmp"), true).unwrap();
        d.write_at(&new, b"new", 0).unwrap();
        d.sync_data(&new).unwrap();
        d.rename(&at("log.tmp"), &at("log")).unwrap();
        assert_eq!(d.read(&at("log")), Some(&b"new"[..]));
        assert_eq!(d.read(&at("log.tmp")), None);
        d.crash(&mut Rng::new(seed), Crash::Clean);
        let state = (d.read(&at("log")).map(<[u8]>::to_vec), d.read(&at("log.tmp")).is_some());
        // Never the rename without the creation: "log" is the old or the new file, never gone.
        assert!(
            matches!(&state, (Some(b), false) if b == b"new")
                || matches!(&state, (Some(b), _) if b == b"old"),
            "seed {seed}: {state:?}"
        );
        outcomes.insert(state);
    }
    assert_eq!(outcomes.len(), 3, "nothing, the creation, or both survive: {outcomes:?}");
}

#[test]
fn removed_names_come_back_unless_the_directory_was_synced() {
    let mut came_back = 0;
    for seed in 0..32 {
        let mut d = disk();
        let f = d.open(&at("gone"), false).unwrap();
        d.write_at(&f, b"x", 0).unwrap();
        d.sync_data(&f).unwrap();
        d.sync_dir(Path::new(DIR)).unwrap();
        drop(f);
        d.remove_file(&at("gone")).unwrap();
        assert_eq!(d.remove_file(&at("gone")).unwrap_err().kind(), io::ErrorKind::NotFound);
        d.crash(&mut Rng::new(seed), Crash::Clean);
        came_back += usize::from(d.read(&at("gone")) == Some(&b"x"[..]));
        d.remove_file(&at("gone")).ok();
        d.sync_dir(Path::new(DIR)).unwrap();
        d.crash(&mut Rng::new(seed), Crash::Clean);
        assert_eq!(d.read(&at("gone")), None);
        assert!(d.inodes.is_empty(), "an unreachable file is collected");
    }
    assert!(came_back > 0 && came_back < 32, "{came_back}");
}

#[test]
fn bad_requests_get_errors_not_panics() {
    let mut d = SimDisk::new(2 * (100 + OP_OVERHEAD_BYTES));
    assert_eq!(d.open(&at("x"), false).unwrap_err().kind(), io::ErrorKind::NotFound, "no directory yet");
    d.create_dir_all(Path::new(DIR)).unwrap();
    assert_eq!(d.open(Path::new(DIR), false).unwrap_err().kind(), io::ErrorKind::IsADirectory);
    let f = d.open(&at("x"), false).unwrap();
    d.write_at(&f, &[1; 100], 0).unwrap();
    d.write_at(&f, &[2; 100], 100).unwrap();
    let full = d.write_at(&f, &[3], 200).unwrap_err();
    assert_eq!(full.raw_os_error(), Some(nix::errno::Errno::ENOSPC as i32));
    assert_eq!(d.file_len(&f).unwrap(), 200, "the refused write left no trace");
    d.sync_data(&f).unwrap();
    d.write_at(&f, &[3], 200).unwrap();
    let big = d.write_at(&f, &[1], FILE_BYTES_MAX).unwrap_err();
    assert_eq!(big.raw_os_error(), Some(nix::errno::Errno::EFBIG as i32));
    d.create_dir_all(Path::new("/other")).unwrap();
    let across = d.rename(&at("x"), Path::new("/other/x")).unwrap_err();
    assert_eq!(across.kind(), io::ErrorKind::Unsupported);
    assert_eq!(d.rename(&at("nope"), &at("y")).unwrap_err().kind(), io::ErrorKind::NotFound);
    assert_eq!(d.sync_dir(Path::new("/nowhere")).unwrap_err().kind(), io::ErrorKind::NotFound);
}

#[test]
fn the_same_seed_crashes_the_same_way() {
    let run = |seed| {
        let mut d = disk();
        let f = d.open(&at("a"), false).unwrap();
        d.write_at(&f, &[7; 3000], 10).unwrap();
        d.open(&at("b"), false).unwrap();
        let loss = d.crash(&mut Rng::new(seed), Crash::Torn);
        (loss, d.read(&at("a")).map(<[u8]>::to_vec), d.read(&at("b")).is_some())
    };
    for seed in 0..16 {
        assert_eq!(run(seed), run(seed));
    }
    assert!((0..16).map(run).collect::<BTreeSet<_>>().len() > 1, "seeds differ");
}

#[test]
fn an_armed_power_cut_fails_every_change_after_its_budget_until_the_crash() {
    let mut d = disk();
    let f = d.open(&at("p"), false).unwrap();
    d.write_at(&f, b"kept", 0).unwrap();
    d.sync_data(&f).unwrap();
    d.sync_dir(Path::new(DIR)).unwrap();
    d.arm_power_cut(1);
    d.write_at(&f, b"lost", 4).unwrap();
    assert!(!d.power_cut(), "one change was let through");
    let e = d.sync_data(&f).unwrap_err();
    assert!(e.to_string().contains("power was cut"), "{e}");
    assert!(d.power_cut());
    assert!(d.rename(&at("p"), &at("q")).is_err(), "nothing changes after the cut");
    assert_eq!(d.read(&at("p")), Some(&b"keptlost"[..]), "reads still work");
    d.crash(&mut Rng::new(1), Crash::Clean);
    assert!(!d.power_cut(), "a crash ends the cut");
    assert_eq!(d.read(&at("p")), Some(&b"kept"[..]), "the write whose sync was cut is lost");
    let f = d.open(&at("p"), false).unwrap();
    d.write_at(&f, b"!", 8).unwrap();
    // Disarmed before it struck: nothing fails.
    d.arm_power_cut(0);
    d.disarm_power_cut();
    d.sync_data(&f).unwrap();
    assert!(!d.power_cut());
}
