//! The acceptor log on the simulated disk (issue 19): the process dies at every file operation
//! of an append, a creation and a compaction, the disk then crashes (cleanly or with a torn
//! write, the rng deciding which sectors and names survive), and the log must open again
//! with everything it acknowledged, never a Corrupt error. Many seeds; each test also asserts
//! that the interesting outcomes did happen, so that a disk that never lost anything fails.

use std::cell::Cell;
use std::io;
use std::path::Path;
use std::rc::Rc;
use synod_node::paxos::rng::Rng;
use synod_node::paxos::{Ballot, Record};
use synod_node::storage::{AcceptorLog, Crash, Disk, SimDisk, SimFile, COMPACT_FILE};

const DIR: &str = "/node/data";
const SEEDS: u64 = 48;
const PENDING_BYTES_MAX: u64 = 64 << 20;

/// A disk on which the process dies after `budget` more operations: every later one fails,
/// as nothing after a SIGKILL reaches the disk.
#[derive(Debug)]
struct Dying<'a> {
    disk: &'a mut SimDisk,
    budget: Rc<Cell<u64>>,
}

impl Dying<'_> {
    fn spend(&self) -> io::Result<()> {
        match self.budget.get() {
            0 => Err(io::Error::other("the process died here")),
            n => {
                self.budget.set(n - 1);
                Ok(())
            }
        }
    }
}

impl Disk for Dying<'_> {
    type File = SimFile;
    fn create_dir_all(&mut self, dir: &Path) -> io::Result<()> {
        self.spend()?;
        self.disk.create_dir_all(dir)
    }
    fn open(&mut self, path: &Path, truncate: bool) -> io::Result<SimFile> {
        self.spend()?;
        self.disk.open(path, truncate)
    }
    fn read_all(&mut self, file: &mut SimFile) -> io::Result<Vec<u8>> {
        self.spend()?;
        self.disk.read_all(file)
    }
    fn write_at(&mut self, file: &SimFile, data: &[u8], offset: u64) -> io::Result<()> {
        self.spend()?;
        self.disk.write_at(file, data, offset)
    }
    fn set_len(&mut self, file: &SimFile, len_bytes: u64) -> io::Result<()> {
        self.spend()?;
        self.disk.set_len(file, len_bytes)
    }
    fn file_len(&mut self, file: &SimFile) -> io::Result<u64> {
        self.spend()?;
        self.disk.file_len(file)
    }
    fn sync_data(&mut self, file: &SimFile) -> io::Result<()> {
        self.spend()?;
        self.disk.sync_data(file)
    }
    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        self.spend()?;
        self.disk.rename(from, to)
    }
    fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        self.spend()?;
        self.disk.sync_dir(dir)
    }
    fn remove_file(&mut self, path: &Path) -> io::Result<()> {
        self.spend()?;
        self.disk.remove_file(path)
    }
}

fn dir() -> &'static Path {
    Path::new(DIR)
}

fn base() -> Vec<Record> {
    vec![
        Record::Promise { instance: 1, ballot: Ballot::new(1, 2) },
        Record::Accept { instance: 1, ballot: Ballot::new(1, 2), value: "v".into() },
        Record::Round { round: 9 },
    ]
}

fn snapshot() -> Vec<Record> {
    vec![Record::Round { round: 9 }, Record::Retired { from: 1, to: 1 }]
}

/// Batches of one sector, of several (both inside the preallocated zeros), and one that makes
/// the log write more zeros first.
fn batches() -> [Vec<Record>; 3] {
    let mid = Record::Learned { instance: 1, value: "m".repeat(1500) };
    let big = Record::Learned { instance: 1, value: "x".repeat(100_000) };
    [
        vec![Record::Learned { instance: 1, value: "v".into() }],
        vec![mid.clone(), mid],
        vec![big.clone(), big.clone(), big],
    ]
}

fn crash_mode(seed: u64) -> Crash {
    if seed.is_multiple_of(2) {
        Crash::Clean
    } else {
        Crash::Torn
    }
}

fn concat(a: &[Record], b: &[Record]) -> Vec<Record> {
    a.iter().chain(b).cloned().collect()
}

/// A disk holding a log of `records`, all synced.
fn disk_with(records: &[Record]) -> SimDisk {
    let mut disk = SimDisk::new(PENDING_BYTES_MAX);
    let (mut log, rec) = AcceptorLog::open_on(&mut disk, dir()).unwrap();
    assert!(rec.records.is_empty());
    log.append(records).unwrap();
    drop(log);
    assert!(!disk.has_pending(), "an opened log and an append leave nothing unsynced");
    disk
}

/// How many disk operations `act` makes on a log of `records`.
fn ops_of(records: &[Record], act: impl Fn(&mut AcceptorLog<Dying>)) -> u64 {
    let mut disk = disk_with(records);
    let budget = Rc::new(Cell::new(u64::MAX));
    let (mut log, _) =
        AcceptorLog::open_on(Dying { disk: &mut disk, budget: budget.clone() }, dir()).unwrap();
    let before = budget.get();
    act(&mut log);
    before - budget.get()
}

/// After a crash the log opens and goes on: the next append reads back last.
fn reopen_and_append(disk: &mut SimDisk, why: &str) -> Vec<Record> {
    let (mut log, rec) = AcceptorLog::open_on(&mut *disk, dir()).unwrap_or_else(|e| panic!("{why}: {e}"));
    assert!(disk_has_no_stray(log.disk()), "{why}: open removes a stray compact file");
    let extra = Record::Round { round: 5000 };
    log.append(std::slice::from_ref(&extra)).unwrap();
    drop(log);
    let (_, again) = AcceptorLog::open_on(&mut *disk, dir()).unwrap();
    assert_eq!(again.records, concat(&rec.records, &[extra]), "{why}");
    rec.records
}

fn disk_has_no_stray(disk: &SimDisk) -> bool {
    disk.read(&dir().join(COMPACT_FILE)).is_none()
}

#[test]
fn a_crash_at_every_step_of_an_append_keeps_what_was_acknowledged_and_cuts_the_rest() {
    let (mut acked, mut lost, mut torn, mut unacked_kept) = (0, 0, 0, 0);
    for batch in batches() {
        let ops = ops_of(&base(), |log| log.append(&batch).unwrap());
        assert!((2..=3).contains(&ops), "a write (and more zeros) and one fdatasync: {ops}");
        for seed in 0..SEEDS {
            for stop in 0..=ops {
                let why =
                    format!("batch of {} records, died after {stop} of {ops} ops, seed {seed}", batch.len());
                let mut disk = disk_with(&base());
                let budget = Rc::new(Cell::new(u64::MAX));
                let dying = Dying { disk: &mut disk, budget: budget.clone() };
                let (mut log, _) = AcceptorLog::open_on(dying, dir()).unwrap();
                budget.set(stop);
                let ok = log.append(&batch).is_ok();
                assert_eq!(ok, stop == ops, "{why}");
                drop(log);
                disk.crash(&mut Rng::new(seed), crash_mode(seed));
                let (_, rec) =
                    AcceptorLog::open_on(&mut disk, dir()).unwrap_or_else(|e| panic!("{why}: {e}"));
                torn += u64::from(rec.torn_bytes > 0);
                let all = concat(&base(), &batch);
                if ok {
                    acked += 1;
                    assert_eq!(rec.records, all, "{why}: an acknowledged batch survives");
                } else if rec.records == base() {
                    lost += 1;
                } else {
                    assert_eq!(rec.records, all, "{why}: the old records, or all of them");
                    unacked_kept += 1;
                }
                reopen_and_append(&mut disk, &why);
            }
        }
    }
    assert!(acked > 0 && lost > 0 && torn > 0, "acked {acked}, lost {lost}, torn {torn}");
    // A torn crash may keep every sector of the batch in flight: then it is whole and kept.
    assert!(unacked_kept > 0, "an unacknowledged batch that fully landed is kept");
}

#[test]
fn a_crash_at_every_step_of_creating_the_log_starts_afresh() {
    let ops = {
        let mut disk = SimDisk::new(PENDING_BYTES_MAX);
        let budget = Rc::new(Cell::new(u64::MAX));
        AcceptorLog::open_on(Dying { disk: &mut disk, budget: budget.clone() }, dir()).unwrap();
        u64::MAX - budget.get()
    };
    let mut name_lost = 0;
    for seed in 0..SEEDS {
        for stop in 0..=ops {
            let why = format!("died after {stop} of {ops} ops, seed {seed}");
            let mut disk = SimDisk::new(PENDING_BYTES_MAX);
            let budget = Rc::new(Cell::new(stop));
            let opened = AcceptorLog::open_on(Dying { disk: &mut disk, budget }, dir()).is_ok();
            assert_eq!(opened, stop == ops, "{why}");
            let loss = disk.crash(&mut Rng::new(seed), crash_mode(seed));
            name_lost += u64::from(loss.names > 0);
            let records = reopen_and_append(&mut disk, &why);
            assert!(records.is_empty(), "{why}: nothing was ever appended");
        }
    }
    assert!(name_lost > 0, "a creation not followed by a directory sync was lost at least once");
}

#[test]
fn a_crash_at_every_step_of_a_compaction_leaves_the_old_log_or_the_snapshot() {
    let ops = ops_of(&base(), |log| log.compact(&snapshot()).unwrap());
    let (mut old, mut new, mut new_before_done) = (0, 0, 0);
    for seed in 0..SEEDS {
        for stop in 0..=ops {
            let why = format!("died after {stop} of {ops} ops, seed {seed}");
            let mut disk = disk_with(&base());
            let budget = Rc::new(Cell::new(u64::MAX));
            let (mut log, _) =
                AcceptorLog::open_on(Dying { disk: &mut disk, budget: budget.clone() }, dir()).unwrap();
            budget.set(stop);
            let ok = log.compact(&snapshot()).is_ok();
            assert_eq!(ok, stop == ops, "{why}");
            drop(log);
            disk.crash(&mut Rng::new(seed), crash_mode(seed));
            let records = reopen_and_append(&mut disk, &why);
            if records == base() {
                assert!(!ok, "{why}: a finished compaction survives");
                old += 1;
            } else {
                assert_eq!(records, snapshot(), "{why}: the old log or the snapshot, never neither");
                new += 1;
                new_before_done += u64::from(!ok);
            }
        }
    }
    assert!(old > 0 && new > 0, "old {old}, new {new}");
    assert!(new_before_done > 0, "a rename not yet synced survived at least once");
}

#[test]
fn with_skip_sync_a_crash_loses_acknowledged_batches() {
    let [_, mid, big] = batches();
    let all = concat(&concat(&base(), &mid), &big);
    let (mut after_compaction_neither, mut kept_torn) = (0, 0);
    for seed in 0..SEEDS {
        let mut disk = disk_with(&base());
        let (mut log, _) = AcceptorLog::open_on(&mut disk, dir()).unwrap();
        log.skip_sync();
        log.append(&mid).unwrap();
        log.append(&big).unwrap();
        drop(log);
        // A SIGKILL alone loses nothing (the page cache keeps the writes)...
        let (_, rec) = AcceptorLog::open_on(&mut disk, dir()).unwrap();
        assert_eq!(rec.records, all, "seed {seed}");
        // ...a power loss loses what was acknowledged: the mutant is visible. (A torn crash
        // may land the whole of the oldest unsynced write, the first batch.)
        disk.crash(&mut Rng::new(seed), crash_mode(seed));
        let (_, rec) = AcceptorLog::open_on(&mut disk, dir()).unwrap();
        match crash_mode(seed) {
            Crash::Clean => assert_eq!(rec.records, base(), "seed {seed}: both acknowledged batches lost"),
            Crash::Torn => assert!(
                rec.records == base() || rec.records == concat(&base(), &mid),
                "seed {seed}: the big batch lost, the first one torn off or whole: {:?}",
                rec.records
            ),
        }
        kept_torn += u64::from(rec.torn_bytes > 0);

        // A compaction without its syncs can lose the old log and the snapshot both.
        let mut disk = disk_with(&base());
        let (mut log, _) = AcceptorLog::open_on(&mut disk, dir()).unwrap();
        log.skip_sync();
        log.compact(&snapshot()).unwrap();
        drop(log);
        disk.crash(&mut Rng::new(seed), Crash::Clean);
        let (_, rec) = AcceptorLog::open_on(&mut disk, dir()).unwrap();
        if rec.records != base() && rec.records != snapshot() {
            assert!(rec.records.is_empty(), "seed {seed}: {:?}", rec.records);
            after_compaction_neither += 1;
        }
    }
    assert!(kept_torn > 0, "some torn crash left a piece of the unsynced writes to cut");
    assert!(after_compaction_neither > 0, "the unsynced snapshot was renamed in and lost at least once");
}
