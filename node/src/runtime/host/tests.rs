//! The host's own duties on the simulator's disk: frames decoded (a malformed one skipped),
//! deadlines (the core's timeout and the lazy records'), and the skip-fsync mutant applied.

use super::*;
use crate::paxos::msg::{Decided, Msg};
use crate::paxos::rng::Rng;
use crate::paxos::Tuning;
use crate::protocol::{Body, CONTROLLER};
use crate::runtime::LAZY_WAIT_MS;
use crate::storage::{Crash, SimArchive, SimDisk};
use std::path::Path;

const DIR: &str = "/data";
const MS: u64 = 1000;

fn config(tune: impl FnOnce(&mut Tuning)) -> Config {
    let mut config = Config::all_roles(1, &[1, 2, 3]);
    tune(&mut config.tuning);
    config
}

fn open(disk: SimDisk, archive: SimArchive, config: Config) -> (Host<SimDisk, SimArchive>, Recovery) {
    let (log, recovery) = AcceptorLog::open_on(disk, Path::new(DIR)).unwrap();
    (Host::new(config, log, archive, &recovery), recovery)
}

fn decided_frame(instance: u64, value: &str) -> Vec<u8> {
    let env = Envelope {
        src: 2,
        dest: 1,
        body: Body::from(Msg::Decided(Decided { instance, value: value.into() })),
    };
    serde_json::to_vec(&env).unwrap() // no newline: it is optional
}

fn crash_and_reopen(
    host: Host<SimDisk, SimArchive>,
    config: Config,
) -> (Host<SimDisk, SimArchive>, Recovery) {
    let (log, mut archive) = host.into_parts();
    let mut disk = log.into_disk();
    disk.crash(&mut Rng::new(3), Crash::Clean);
    archive.crash();
    open(disk, archive, config)
}

fn learned(records: &[Record]) -> Vec<u64> {
    records
        .iter()
        .filter_map(|r| if let Record::Learned { instance, .. } = r { Some(*instance) } else { None })
        .collect()
}

#[test]
fn a_malformed_frame_is_skipped_and_a_good_one_fed() {
    let (mut host, _) = open(SimDisk::new(1 << 20), SimArchive::new(), config(|_| {}));
    host.handle_frame(0, b"{\"src\":2,", 1);
    host.handle_frame(0, b"not json at all\n", 2);
    assert_eq!(host.plan(0).unwrap(), Plan::default(), "nothing reached the core");
    host.handle_frame(0, &decided_frame(4, "four"), 3);
    let plan = host.plan(0).unwrap();
    let kinds: Vec<_> = plan.early.iter().map(|e| (e.dest, e.body.type_name())).collect();
    assert_eq!(kinds, vec![(CONTROLLER, "learned"), (2, "decided_ok")]);
    assert_eq!(plan.batch, None, "a learned decision is a lazy record");
}

#[test]
fn lazy_records_are_written_at_their_deadline_and_survive_a_crash() {
    // No core timer before the lazy deadline: the catch-up tick is far away.
    let tuned = || config(|t| t.catchup_ms = 3_600_000);
    let (mut host, _) = open(SimDisk::new(1 << 20), SimArchive::new(), tuned());
    host.handle_frame(10 * MS, &decided_frame(4, "four"), 1);
    let plan = host.plan(10 * MS).unwrap();
    host.persist(plan.batch).unwrap();
    let deadline = 10 * MS + LAZY_WAIT_MS * MS;
    assert_eq!(host.next_deadline_us(), Some(deadline));
    let bytes = host.log().len_bytes();
    host.handle_deadline(deadline - 1).unwrap();
    assert_eq!(host.log().len_bytes(), bytes, "not yet due");
    host.handle_deadline(deadline).unwrap();
    assert!(host.log().len_bytes() > bytes, "the lazy batch was written");
    assert!(host.next_deadline_us().is_none_or(|at| at > deadline), "only the far catch-up tick is left");
    let (_, recovery) = crash_and_reopen(host, tuned());
    assert_eq!(learned(&recovery.records), vec![4], "and synced: {:?}", recovery.records);

    // The same without the deadline: a crash loses the waiting record.
    let (mut host, _) = open(SimDisk::new(1 << 20), SimArchive::new(), tuned());
    host.handle_frame(0, &decided_frame(4, "four"), 1);
    let plan = host.plan(0).unwrap();
    host.persist(plan.batch).unwrap();
    let (_, recovery) = crash_and_reopen(host, tuned());
    assert_eq!(learned(&recovery.records), Vec::<u64>::new());
}

#[test]
fn the_core_timeout_fires_only_when_due() {
    let tuned = || {
        config(|t| {
            (t.phase_timeout_ms, t.backoff, t.catchup_ms) = (200, false, 3_600_000);
        })
    };
    let (mut host, _) = open(SimDisk::new(1 << 20), SimArchive::new(), tuned());
    // A proposal for an instance node 1 does not own runs phase 1: a prepare, then a timer.
    let body = Body::Propose { msg_id: 1, instance: 2, value: "v".into() };
    host.handle_envelope(0, Envelope { src: CONTROLLER, dest: 1, body });
    let plan = host.plan(0).unwrap();
    let sent = plan.early.len() + plan.late.len();
    assert!(sent > 0, "the proposal sent something: {plan:?}");
    host.persist(plan.batch).unwrap();
    let at = host.next_deadline_us().expect("a phase timer runs");
    assert_eq!(at, 200 * MS, "the phase timeout");
    host.handle_deadline(at - 1).unwrap();
    assert_eq!(host.plan(at - 1).unwrap(), Plan::default(), "not due: nothing happens");
    host.handle_deadline(at).unwrap();
    let retry = host.plan(at).unwrap();
    assert!(!retry.early.is_empty() || !retry.late.is_empty(), "the timeout retried: {retry:?}");
}

#[test]
fn skip_fsync_is_applied_to_the_log_and_the_archive() {
    let mutant = || config(|t| t.bug = Some(Bug::SkipFsync));
    let (mut host, _) = open(SimDisk::new(1 << 20), SimArchive::new(), mutant());
    host.handle_frame(0, &decided_frame(4, "four"), 1);
    let plan = host.plan(0).unwrap();
    host.persist(plan.batch).unwrap();
    host.write_batch().unwrap();
    let (log, mut archive) = host.into_parts();
    assert!(log.disk().has_pending(), "the batch was written, not synced");
    archive.add(9, "nine".into());
    archive.flush().unwrap();
    assert_eq!(archive.crash(), 1, "the archive's flush did not sync either");
}
