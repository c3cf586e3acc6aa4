//! The turn's rules without sockets, files or a clock: what goes out before the batch, what
//! waits for it, when lazy records are written, lookups within the turn, compaction's
//! thresholds.

use super::*;
use crate::paxos::msg::{Accept, Decided, DecidedOk, Msg, Prepare};
use crate::paxos::{Ballot, Config, NodeId, Tuning};
use std::collections::BTreeMap;

const MS: u64 = 1000;

fn driver_with(f: impl FnOnce(&mut Tuning)) -> Driver {
    let mut config = Config::all_roles(1, &[1, 2, 3]);
    f(&mut config.tuning);
    Driver::new(Node::new(config, &[]))
}

fn driver() -> Driver {
    driver_with(|_| {})
}

fn from(src: NodeId, msg: Msg) -> Envelope {
    Envelope { src, dest: 1, body: Body::from(msg) }
}

fn accept(instance: InstanceId, value: &str) -> Msg {
    Msg::Accept(Accept { instance, ballot: Ballot::new(1, 2), value: value.into() })
}

fn decided(instance: InstanceId, value: &str) -> Msg {
    Msg::Decided(Decided { instance, value: value.into() })
}

fn learned_record(instance: InstanceId, value: &str) -> Record {
    Record::Learned { instance, value: value.into() }
}

/// An archive in memory that counts its lookups, and can be told to fail.
#[derive(Default)]
struct MemArchive {
    values: BTreeMap<InstanceId, String>,
    lookups: Vec<InstanceId>,
    broken: bool,
}

impl ArchiveAccess for MemArchive {
    type Error = String;

    fn add(&mut self, instance: InstanceId, value: String) {
        self.values.insert(instance, value);
    }

    fn lookup(&mut self, instance: InstanceId) -> Result<Option<String>, String> {
        self.lookups.push(instance);
        if self.broken {
            return Err("disk on fire".into());
        }
        Ok(self.values.get(&instance).cloned())
    }
}

fn turn(d: &mut Driver, now_us: u64, archive: &mut MemArchive) -> Plan {
    d.turn(now_us, archive).unwrap()
}

/// (destination, body type) of each frame.
fn kinds(frames: &[Envelope]) -> Vec<(NodeId, &'static str)> {
    frames.iter().map(|e| (e.dest, e.body.type_name())).collect()
}

#[test]
fn frames_before_the_first_persist_go_first_and_those_after_wait_for_the_batch() {
    let mut d = driver();
    let mut archive = MemArchive::default();
    // A decision learned (a lazy record, an ack, a report) and then an accept (a vote that
    // must be durable before the `accepted` leave) in one turn.
    d.handle_envelope(0, from(2, decided(5, "v5")));
    d.handle_envelope(0, from(2, accept(6, "v6")));
    let plan = turn(&mut d, 0, &mut archive);
    assert_eq!(kinds(&plan.early), vec![(CONTROLLER, "learned"), (2, "decided_ok")], "{plan:?}");
    assert_eq!(plan.early[1].body, Body::from(Msg::DecidedOk(DecidedOk { instance: 5 })));
    assert!(plan.early.iter().all(|e| e.src == 1));
    let accept_record = Record::Accept { instance: 6, ballot: Ballot::new(1, 2), value: "v6".into() };
    assert_eq!(plan.batch, Some(vec![learned_record(5, "v5"), accept_record]));
    assert!(!plan.late.is_empty(), "{plan:?}");
    assert!(plan.late.iter().all(|e| e.body.type_name() == "accepted"), "{plan:?}");
    assert_eq!(d.lazy_deadline_us(), None, "the lazy record went with the batch");
    // Nothing left over: the next turn is empty.
    assert_eq!(turn(&mut d, 1, &mut archive), Plan::default());
}

#[test]
fn a_turn_that_starts_with_a_persist_sends_nothing_before_its_batch() {
    let mut d = driver();
    d.handle_envelope(0, from(2, accept(6, "v6")));
    let plan = turn(&mut d, 0, &mut MemArchive::default());
    assert!(plan.early.is_empty(), "{plan:?}");
    assert_eq!(plan.batch.as_ref().map(Vec::len), Some(1));
    assert!(!plan.late.is_empty());
}

#[test]
fn a_lazy_record_rides_along_with_the_next_batch() {
    let mut d = driver();
    let mut archive = MemArchive::default();
    d.handle_envelope(0, from(2, decided(5, "v5")));
    let plan = turn(&mut d, 3 * MS, &mut archive);
    assert_eq!(plan.batch, None, "a lazy record alone does not make a batch");
    assert_eq!(kinds(&plan.early), vec![(CONTROLLER, "learned"), (2, "decided_ok")]);
    assert!(plan.late.is_empty());
    assert_eq!(d.lazy_deadline_us(), Some(3 * MS + LAZY_WAIT_MS * MS));
    // A later lazy record does not move the deadline.
    d.handle_envelope(10 * MS, from(3, decided(7, "v7")));
    assert_eq!(turn(&mut d, 10 * MS, &mut archive).batch, None);
    assert_eq!(d.lazy_deadline_us(), Some(3 * MS + LAZY_WAIT_MS * MS));
    // A vote comes before the deadline: the waiting records go in its batch, first.
    d.handle_envelope(20 * MS, from(2, accept(6, "v6")));
    let batch = turn(&mut d, 20 * MS, &mut archive).batch.unwrap();
    assert_eq!(batch.len(), 3);
    assert_eq!(batch[..2], [learned_record(5, "v5"), learned_record(7, "v7")]);
    assert!(matches!(batch[2], Record::Accept { instance: 6, .. }));
    assert_eq!(d.lazy_deadline_us(), None);
}

#[test]
fn lazy_records_go_alone_at_their_deadline_and_on_exit() {
    let mut d = driver();
    let mut archive = MemArchive::default();
    assert_eq!(d.lazy_deadline_us(), None);
    d.handle_envelope(0, from(2, decided(5, "v5")));
    d.handle_envelope(0, from(2, decided(6, "v6")));
    assert_eq!(turn(&mut d, 0, &mut archive).batch, None);
    assert_eq!(d.lazy_deadline_us(), Some(LAZY_WAIT_MS * MS));
    // The shell's lazy timer fires: the records form a batch of their own.
    assert_eq!(d.take_batch(), vec![learned_record(5, "v5"), learned_record(6, "v6")]);
    assert_eq!(d.lazy_deadline_us(), None);
    assert_eq!(d.take_batch(), vec![], "taken once");
    // The next lazy record starts a new wait from its own turn's time.
    d.handle_envelope(70 * MS, from(2, decided(8, "v8")));
    turn(&mut d, 70 * MS, &mut archive);
    assert_eq!(d.lazy_deadline_us(), Some(70 * MS + LAZY_WAIT_MS * MS));
}

#[test]
fn lazy_records_go_alone_once_lazy_records_max_wait() {
    let mut d = driver();
    let mut archive = MemArchive::default();
    let max = LAZY_RECORDS_MAX as u64;
    for i in 1..max {
        d.handle_envelope(i, from(2, decided(i, "v")));
        assert_eq!(turn(&mut d, i, &mut archive).batch, None, "{i} waiting");
    }
    d.handle_envelope(max, from(2, decided(max, "v")));
    let batch = turn(&mut d, max, &mut archive).batch.expect("the bound reached: a batch");
    assert_eq!(batch.len(), LAZY_RECORDS_MAX);
    assert_eq!(batch[0], learned_record(1, "v"));
    assert_eq!(batch[LAZY_RECORDS_MAX - 1], learned_record(max, "v"));
    assert_eq!(d.lazy_deadline_us(), None);
}

/// A driver that keeps one decision live, with instance 1 retired to `archive`.
fn with_retired_one(archive: &mut MemArchive) -> Driver {
    let mut d = driver_with(|t| t.retain_decided = 1);
    d.handle_envelope(0, from(2, decided(1, "v1")));
    d.handle_envelope(0, from(2, decided(2, "v2")));
    turn(&mut d, 0, archive);
    assert_eq!(archive.values, BTreeMap::from([(1, "v1".to_string())]), "retired to the archive");
    d
}

#[test]
fn a_lookup_is_answered_in_the_turn_that_asks_for_it() {
    let mut archive = MemArchive::default();
    let mut d = with_retired_one(&mut archive);
    d.handle_envelope(1, from(3, Msg::Prepare(Prepare { instance: 1, ballot: Ballot::new(9, 3) })));
    let plan = turn(&mut d, 1, &mut archive);
    assert_eq!(archive.lookups, vec![1]);
    assert_eq!(plan.early, vec![Envelope { src: 1, dest: 3, body: Body::from(decided(1, "v1")) }]);
    assert_eq!(plan.batch, None);
}

#[test]
fn a_lookup_the_archive_cannot_answer_ends_the_turn_with_an_error() {
    let mut archive = MemArchive::default();
    let mut d = with_retired_one(&mut archive);
    archive.values.clear();
    d.handle_envelope(1, from(3, Msg::Prepare(Prepare { instance: 1, ballot: Ballot::new(9, 3) })));
    let e = d.turn(1, &mut archive).unwrap_err();
    assert!(matches!(e, TurnError::Lost { instance: 1 }), "{e:?}");

    let mut archive = MemArchive::default();
    let mut d = with_retired_one(&mut archive);
    archive.broken = true;
    d.handle_envelope(1, from(3, Msg::Prepare(Prepare { instance: 1, ballot: Ballot::new(9, 3) })));
    let e = d.turn(1, &mut archive).unwrap_err();
    assert_eq!(e.to_string(), "disk on fire");
}

#[test]
fn compaction_is_due_at_the_size_floor_then_at_twice_the_last_snapshot() {
    let mut d = driver_with(|t| t.compact_log_bytes = 1000);
    assert!(!d.compaction_due(999, 0));
    assert!(d.compaction_due(1000, 0));
    // A snapshot of 700 bytes: the next is due at 1,400, not at the floor.
    d.compacted(700);
    assert!(!d.compaction_due(1399, 0));
    assert!(d.compaction_due(1400, 0));
    // A small snapshot: the floor rules again.
    d.compacted(10);
    assert!(!d.compaction_due(999, 0));
    assert!(d.compaction_due(1000, 0));
    // The archive's pending decisions force one whatever the log's size.
    assert!(!d.compaction_due(0, ARCHIVE_PENDING_MAX - 1));
    assert!(d.compaction_due(0, ARCHIVE_PENDING_MAX));
    // The default floor is the documented 16 MiB.
    let d = driver();
    assert!(!d.compaction_due(16 * 1024 * 1024 - 1, 0));
    assert!(d.compaction_due(16 * 1024 * 1024, 0));
}

#[test]
fn a_snapshot_drops_the_waiting_lazy_records_it_holds() {
    let mut d = driver();
    d.handle_envelope(0, from(2, decided(5, "v5")));
    turn(&mut d, 0, &mut MemArchive::default());
    assert!(d.lazy_deadline_us().is_some());
    let snapshot = d.snapshot();
    assert!(snapshot.contains(&learned_record(5, "v5")), "{snapshot:?}");
    assert_eq!(d.lazy_deadline_us(), None);
    assert_eq!(d.take_batch(), vec![], "nothing waits: the snapshot has it");
}

#[test]
fn envelopes_for_another_node_or_of_the_wrong_kind_are_skipped() {
    let mut d = driver();
    let mut other = from(2, accept(6, "v6"));
    other.dest = 2;
    d.handle_envelope(0, other);
    d.handle_envelope(0, Envelope { src: 2, dest: 1, body: Body::Hello { node: 2, token: "t".into() } });
    assert_eq!(turn(&mut d, 0, &mut MemArchive::default()), Plan::default());
    assert!(d.node().acceptor().slot(6).is_none());
}

#[test]
fn a_refused_proposal_is_answered_at_once_with_no_batch() {
    // A node that is not a proposer refuses at once: an error frame, no batch.
    let mut config = Config::all_roles(1, &[1, 2, 3]);
    config.proposers = vec![2];
    let mut d = Driver::new(Node::new(config, &[]));
    d.handle_envelope(
        0,
        Envelope {
            src: CONTROLLER,
            dest: 1,
            body: Body::Propose { msg_id: 9, instance: 4, value: "x".into() },
        },
    );
    let plan = turn(&mut d, 0, &mut MemArchive::default());
    assert_eq!(plan.batch, None);
    assert_eq!(kinds(&plan.early), vec![(CONTROLLER, "error")]);
    assert!(
        matches!(&plan.early[0].body, Body::Error { in_reply_to: 9, code, .. } if code == "not_proposer")
    );
}

/// The frame the shell sends for one of the core's outputs, if it is one.
fn frame_of(output: &Output) -> Option<(NodeId, Body)> {
    match output.clone() {
        Output::Send { to, msg } => Some((to, Body::from(msg))),
        Output::Learned { instance, value } => Some((CONTROLLER, Body::Learned { instance, value })),
        Output::ProposeDone { op, instance, result: Ok(value) } => {
            Some((CONTROLLER, Body::ProposeOk { in_reply_to: op, instance, value }))
        }
        Output::ProposeDone { op, result: Err(e), .. } => {
            Some((CONTROLLER, Body::Error { in_reply_to: op, code: e.code().into(), text: e.text().into() }))
        }
        _ => None,
    }
}

/// Hands `env` to the core as the driver does (every envelope here is for node 1).
fn feed(node: &mut Node, now_us: u64, env: Envelope) {
    match env.body {
        Body::Propose { msg_id, instance, value } => node.handle_propose(now_us, msg_id, instance, value),
        body => node.handle_message(now_us, env.src, body.into_msg().expect("a paxos message")),
    }
}

#[test]
fn random_turns_keep_the_cores_order_and_hold_back_only_what_follows_a_persist() {
    use crate::paxos::rng::Rng;
    let tuning = |t: &mut Tuning| t.retain_decided = 4;
    let mut d = driver_with(tuning);
    // The twin: the same core, fed the same inputs, drained by hand.
    let mut config = Config::all_roles(1, &[1, 2, 3]);
    tuning(&mut config.tuning);
    let mut twin = Node::new(config, &[]);
    let (mut archive, mut twin_archive) = (MemArchive::default(), BTreeMap::new());
    let mut rng = Rng::new(19);
    let (mut waiting, mut written) = (Vec::new(), Vec::new());
    let (mut batches, mut held_back) = (0, 0);
    let mut now_us = 0;
    for step in 0..2_000 {
        now_us += rng.below(5 * MS);
        for _ in 0..1 + rng.below(4) {
            // A moving window of instances: new ones to vote on, old ones retired.
            let instance = 1 + step / 4 + rng.below(8);
            let value = format!("v{}", rng.below(3));
            let env = match rng.below(5) {
                0 => from(2, accept(instance, &value)),
                1 => from(2, decided(instance, &value)),
                2 => from(3, Msg::Prepare(Prepare { instance, ballot: Ballot::new(rng.below(20), 3) })),
                3 => Envelope {
                    src: CONTROLLER,
                    dest: 1,
                    body: Body::Propose { msg_id: rng.next_u64(), instance, value },
                },
                _ => {
                    d.handle_timeout(now_us);
                    twin.handle_timeout(now_us);
                    continue;
                }
            };
            d.handle_envelope(now_us, env.clone());
            feed(&mut twin, now_us, env);
        }
        // What the turn must do, from the twin's outputs in order.
        let (mut early, mut late, mut persisted) = (Vec::new(), Vec::new(), false);
        while let Some(output) = twin.poll_output() {
            match &output {
                Output::Persist(r) => {
                    persisted = true;
                    waiting.push(r.clone());
                }
                Output::PersistLazy(r) => waiting.push(r.clone()),
                Output::Archive { instance, value } => {
                    twin_archive.insert(*instance, value.clone());
                }
                Output::Lookup { instance } => {
                    twin.handle_lookup(now_us, *instance, twin_archive[instance].clone())
                }
                _ => {}
            }
            if let Some((dest, body)) = frame_of(&output) {
                let env = Envelope { src: 1, dest, body };
                if persisted {
                    late.push(env)
                } else {
                    early.push(env)
                }
            }
        }
        let plan = turn(&mut d, now_us, &mut archive);
        assert_eq!(plan.early, early);
        assert_eq!(plan.late, late);
        if persisted || waiting.len() >= LAZY_RECORDS_MAX {
            assert_eq!(plan.batch.as_ref(), Some(&waiting));
            written.append(&mut waiting);
            batches += 1;
            held_back += usize::from(!late.is_empty());
        } else {
            assert_eq!(plan.batch, None);
            assert_eq!(d.lazy_deadline_us().is_some(), !waiting.is_empty());
        }
    }
    assert_eq!(d.take_batch(), waiting, "what still waits at the end");
    assert!(
        batches > 100 && held_back > 100,
        "the run exercised the batch: {batches} batches, {held_back} held back"
    );
    assert!(!archive.lookups.is_empty() && !written.is_empty(), "lookups and writes happened");
}
