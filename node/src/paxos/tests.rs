//! Unit tests of each acceptor, proposer and learner rule, driving one core by hand.

use super::msg::*;
use super::proposer::ROUND_RESERVATION;
use super::*;

const MS: u64 = 1000;

fn node(id: NodeId) -> Node {
    Node::new(Config::all_roles(id, &[1, 2, 3]), &[])
}

fn node_with(id: NodeId, f: impl FnOnce(&mut Config)) -> Node {
    let mut c = Config::all_roles(id, &[1, 2, 3]);
    f(&mut c);
    Node::new(c, &[])
}

fn drain(n: &mut Node) -> Vec<Output> {
    std::iter::from_fn(|| n.poll_output()).collect()
}

/// What `f` picks out of the outputs, in order.
fn pick<T>(outs: &[Output], f: impl FnMut(&Output) -> Option<T>) -> Vec<T> {
    outs.iter().filter_map(f).collect()
}

fn sends(outs: &[Output]) -> Vec<(NodeId, Msg)> {
    pick(outs, |o| match o {
        Output::Send { to, msg } => Some((*to, msg.clone())),
        _ => None,
    })
}

/// Every record written to disk, synced or lazy.
fn persists(outs: &[Output]) -> Vec<Record> {
    pick(outs, |o| match o {
        Output::Persist(r) | Output::PersistLazy(r) => Some(r.clone()),
        _ => None,
    })
}

/// The instances reported `learned`, in order.
fn learned_ids(outs: &[Output]) -> Vec<InstanceId> {
    pick(outs, |o| match o {
        Output::Learned { instance, .. } => Some(*instance),
        _ => None,
    })
}

/// The node after a crash and restart: a new core from every record it wrote so far.
fn restart(n: &mut Node) -> Node {
    let records = persists(&drain(n));
    Node::new(n.config().clone(), &records)
}

fn b(round: u64, node: NodeId) -> Ballot {
    Ballot::new(round, node)
}

fn prepare(i: InstanceId, ballot: Ballot) -> Msg {
    Msg::Prepare(Prepare { instance: i, ballot })
}

fn accept(i: InstanceId, ballot: Ballot, v: &str) -> Msg {
    Msg::Accept(Accept { instance: i, ballot, value: v.into() })
}

fn accepted(i: InstanceId, ballot: Ballot, v: &str) -> Msg {
    Msg::Accepted(Accepted { instance: i, ballot, value: v.into() })
}

fn promise(i: InstanceId, ballot: Ballot, acc: Option<(Ballot, &str)>) -> Msg {
    let accepted = acc.map(|(ballot, v)| AcceptedValue { ballot, value: v.into() });
    Msg::Promise(Promise { instance: i, ballot, accepted })
}

// ---- acceptor ----

#[test]
fn acceptor_promises_higher_ballot_and_persists_before_replying() {
    let mut n = node(1);
    n.handle_message(0, 2, prepare(7, b(3, 2)));
    let outs = drain(&mut n);
    assert_eq!(outs[0], Output::Persist(Record::Promise { instance: 7, ballot: b(3, 2) }));
    assert_eq!(sends(&outs), vec![(2, promise(7, b(3, 2), None))]);
}

#[test]
fn acceptor_nacks_lower_prepare_and_accept() {
    let mut n = node(1);
    n.handle_message(0, 2, prepare(7, b(3, 2)));
    drain(&mut n);
    n.handle_message(0, 3, prepare(7, b(2, 3)));
    n.handle_message(0, 3, accept(7, b(2, 3), "x"));
    let outs = drain(&mut n);
    assert!(persists(&outs).is_empty(), "a refusal changes nothing on disk");
    let nack = Msg::Nack(Nack { instance: 7, ballot: b(2, 3), promised: b(3, 2) });
    assert_eq!(sends(&outs), vec![(3, nack.clone()), (3, nack)]);
}

#[test]
fn acceptor_duplicate_prepare_is_answered_without_a_new_write() {
    let mut n = node(1);
    n.handle_message(0, 2, prepare(7, b(3, 2)));
    drain(&mut n);
    n.handle_message(0, 2, prepare(7, b(3, 2)));
    let outs = drain(&mut n);
    assert!(persists(&outs).is_empty());
    assert_eq!(sends(&outs), vec![(2, promise(7, b(3, 2), None))]);
}

#[test]
fn acceptor_accepts_at_promise_tells_learners_and_proposer_and_reports_it_later() {
    let mut n = node_with(1, |c| c.learners = vec![1, 3]);
    n.handle_message(0, 2, prepare(7, b(3, 2)));
    n.handle_message(0, 2, accept(7, b(3, 2), "v"));
    let outs = drain(&mut n);
    let rec = Record::Accept { instance: 7, ballot: b(3, 2), value: "v".into() };
    assert!(persists(&outs).contains(&rec));
    let acc = accepted(7, b(3, 2), "v");
    let s = sends(&outs);
    assert_eq!(&s[1..], &[(1, acc.clone()), (3, acc.clone()), (2, acc)]);
    // The accepted value is reported to a later, higher prepare.
    n.handle_message(0, 3, prepare(7, b(4, 3)));
    let outs = drain(&mut n);
    assert_eq!(sends(&outs), vec![(3, promise(7, b(4, 3), Some((b(3, 2), "v"))))]);
}

#[test]
fn acceptor_accept_above_promise_raises_the_promise() {
    let mut n = node(1);
    n.handle_message(0, 2, accept(7, b(5, 2), "v"));
    drain(&mut n);
    assert_eq!(n.acceptor().slot(7).unwrap().promised, b(5, 2));
    n.handle_message(0, 3, prepare(7, b(4, 3)));
    let outs = drain(&mut n);
    assert!(matches!(&sends(&outs)[0].1, Msg::Nack(m) if m.promised == b(5, 2)));
}

#[test]
fn acceptor_state_survives_restart_from_its_records() {
    let mut n = node(1);
    n.handle_message(0, 2, prepare(7, b(3, 2)));
    n.handle_message(0, 2, accept(7, b(3, 2), "v"));
    n.handle_message(0, 3, prepare(7, b(6, 3)));
    let mut n = restart(&mut n);
    let slot = n.acceptor().slot(7).unwrap();
    assert_eq!(slot.promised, b(6, 3));
    assert_eq!(slot.accepted.as_ref().unwrap().value, "v");
    n.handle_message(0, 2, accept(7, b(5, 2), "w"));
    assert!(matches!(&sends(&drain(&mut n))[0].1, Msg::Nack(_)));
}

#[test]
fn mutant_volatile_acceptor_persists_nothing() {
    let mut n = node_with(1, |c| c.tuning.bug = Some(Bug::VolatileAcceptor));
    n.handle_message(0, 2, prepare(7, b(3, 2)));
    n.handle_message(0, 2, accept(7, b(3, 2), "v"));
    assert!(persists(&drain(&mut n)).is_empty());
}

#[test]
fn mutant_accept_lower_ballot_accepts_below_promise() {
    let mut n = node_with(1, |c| c.tuning.bug = Some(Bug::AcceptLowerBallot));
    n.handle_message(0, 2, prepare(7, b(5, 2)));
    n.handle_message(0, 3, accept(7, b(1, 3), "low"));
    let outs = drain(&mut n);
    assert!(sends(&outs).iter().any(|(_, m)| *m == accepted(7, b(1, 3), "low")));
}

#[test]
fn mutant_accept_keeps_promise_does_not_raise_it() {
    let mut n = node_with(1, |c| c.tuning.bug = Some(Bug::AcceptKeepsPromise));
    n.handle_message(0, 2, accept(7, b(5, 2), "v"));
    drain(&mut n);
    assert_eq!(n.acceptor().slot(7).unwrap().promised, Ballot::ZERO);
    n.handle_message(0, 3, prepare(7, b(4, 3)));
    assert!(matches!(&sends(&drain(&mut n))[0].1, Msg::Promise(_)));
}

// ---- proposer ----

#[test]
fn proposer_persists_its_round_then_prepares_every_acceptor() {
    let mut n = node(1);
    n.handle_propose(0, 10, 7, "mine".into());
    let outs = drain(&mut n);
    // One record reserves a block of rounds; instance 7 is not n1's (7 mod 3 = 1: n2's).
    assert_eq!(outs[0], Output::Persist(Record::Round { round: ROUND_RESERVATION }));
    let targets: Vec<NodeId> = sends(&outs).iter().map(|(to, _)| *to).collect();
    assert_eq!(targets, vec![1, 2, 3]);
    assert!(sends(&outs).iter().all(|(_, m)| *m == prepare(7, b(1, 1))));
}

#[test]
fn proposer_adopts_highest_accepted_value_from_a_quorum() {
    let mut n = node(1);
    n.handle_propose(0, 10, 7, "mine".into());
    drain(&mut n);
    n.handle_message(0, 2, promise(7, b(1, 1), Some((b(0, 3), "old"))));
    assert!(sends(&drain(&mut n)).is_empty(), "one promise is no quorum");
    n.handle_message(0, 2, promise(7, b(1, 1), None)); // duplicate: ignored
    assert!(drain(&mut n).is_empty());
    n.handle_message(0, 3, promise(7, b(1, 1), None));
    let s = sends(&drain(&mut n));
    assert_eq!(s.len(), 3);
    assert!(s.iter().all(|(_, m)| *m == accept(7, b(1, 1), "old")), "{s:?}");
}

#[test]
fn proposer_ignores_stale_promises_and_non_acceptors() {
    let mut n = node_with(1, |c| c.acceptors = vec![2, 3, 4]);
    n.handle_propose(0, 10, 7, "mine".into());
    drain(&mut n);
    n.handle_message(0, 2, promise(7, b(0, 1), None)); // older ballot
    n.handle_message(0, 5, promise(7, b(1, 1), None)); // not an acceptor
    n.handle_message(0, 3, promise(7, b(1, 1), None));
    assert!(sends(&drain(&mut n)).is_empty());
}

#[test]
fn proposer_decides_on_quorum_of_accepted_answers_and_announces() {
    let mut n = node_with(1, |c| c.learners = vec![2, 3]);
    n.handle_propose(0, 10, 7, "mine".into());
    n.handle_message(0, 2, promise(7, b(1, 1), None));
    n.handle_message(0, 3, promise(7, b(1, 1), None));
    drain(&mut n);
    n.handle_message(0, 2, accepted(7, b(1, 1), "mine"));
    n.handle_message(0, 2, accepted(7, b(1, 1), "mine")); // duplicate
    assert!(drain(&mut n).is_empty());
    n.handle_message(0, 3, accepted(7, b(1, 1), "mine"));
    let outs = drain(&mut n);
    assert!(outs.contains(&Output::ProposeDone { op: 10, instance: 7, result: Ok("mine".into()) }));
    let decided = Msg::Decided(Decided { instance: 7, value: "mine".into() });
    assert_eq!(sends(&outs), vec![(2, decided.clone()), (3, decided.clone())]);
    // Re-sent to the learner that did not acknowledge.
    n.handle_message(0, 2, Msg::DecidedOk(DecidedOk { instance: 7 }));
    let retry = n.next_timeout_us().expect("retry timer");
    n.handle_timeout(retry);
    assert_eq!(sends(&drain(&mut n)), vec![(3, decided.clone())]);
    n.handle_message(0, 3, Msg::DecidedOk(DecidedOk { instance: 7 }));
    assert_eq!(n.next_timeout_us(), None);
    // A later propose on the decided instance is answered at once, and the decision is
    // announced again (the client may be chasing a learner that missed it).
    n.handle_propose(1, 11, 7, "other".into());
    let outs = drain(&mut n);
    assert_eq!(outs[0], Output::ProposeDone { op: 11, instance: 7, result: Ok("mine".into()) });
    assert_eq!(sends(&outs), vec![(2, decided.clone()), (3, decided)]);
}

#[test]
fn decided_resends_back_off_to_a_cap_then_stop() {
    let mut n = node_with(1, |c| {
        c.learners = vec![2];
        c.tuning.decided_max_retries = 8;
    });
    n.handle_propose(0, 10, 7, "v".into());
    n.handle_message(0, 2, promise(7, b(1, 1), None));
    n.handle_message(0, 3, promise(7, b(1, 1), None));
    n.handle_message(0, 2, accepted(7, b(1, 1), "v"));
    n.handle_message(0, 3, accepted(7, b(1, 1), "v"));
    drain(&mut n);
    // n2 never answers: re-sends after 100, 200, 400, 800, 1600, then every 2000 ms.
    let mut at = Vec::new();
    let mut last = 0;
    while let Some(t) = n.next_timeout_us() {
        n.handle_timeout(t);
        if !sends(&drain(&mut n)).is_empty() {
            at.push((t - last) / MS);
            last = t;
        }
    }
    assert_eq!(at, vec![100, 200, 400, 800, 1600, 2000, 2000, 2000]);
}

#[test]
fn proposer_retries_with_higher_ballot_after_nack_and_backoff() {
    let mut n = node(1);
    n.handle_propose(0, 10, 7, "mine".into());
    drain(&mut n);
    n.handle_message(5, 2, Msg::Nack(Nack { instance: 7, ballot: b(1, 1), promised: b(9, 3) }));
    assert!(drain(&mut n).is_empty());
    let at = n.next_timeout_us().unwrap();
    assert!(at >= 5 + n.config().tuning.backoff_base_ms * MS, "backoff before retry: {at}");
    n.handle_timeout(at);
    let outs = drain(&mut n);
    assert!(persists(&outs).is_empty(), "round 10 is inside the reserved block: {outs:?}");
    assert!(sends(&outs).iter().all(|(_, m)| *m == prepare(7, b(10, 1))));
    // A round above the block reserves a new block before its prepare leaves.
    n.handle_message(at, 2, Msg::Nack(Nack { instance: 7, ballot: b(10, 1), promised: b(5000, 3) }));
    let at = n.next_timeout_us().unwrap();
    n.handle_timeout(at);
    let outs = drain(&mut n);
    assert_eq!(outs[0], Output::Persist(Record::Round { round: 5001 + ROUND_RESERVATION - 1 }));
    assert!(sends(&outs).iter().all(|(_, m)| *m == prepare(7, b(5001, 1))));
}

#[test]
fn proposer_without_backoff_retries_at_once() {
    let mut n = node_with(1, |c| c.tuning.backoff = false);
    n.handle_propose(0, 10, 7, "mine".into());
    drain(&mut n);
    n.handle_message(5, 2, Msg::Nack(Nack { instance: 7, ballot: b(1, 1), promised: b(2, 3) }));
    assert_eq!(n.next_timeout_us(), Some(5));
}

#[test]
fn proposer_phase_timeout_retries_and_finally_gives_up() {
    let mut n = node_with(1, |c| c.tuning.max_attempts = 3);
    n.handle_propose(0, 10, 7, "mine".into());
    drain(&mut n);
    let mut prepares = 1;
    for _ in 0..20 {
        let Some(at) = n.next_timeout_us() else { break };
        n.handle_timeout(at);
        let outs = drain(&mut n);
        if sends(&outs).iter().any(|(_, m)| matches!(m, Msg::Prepare(_))) {
            prepares += 1;
        }
        if let Some(Output::ProposeDone { result, .. }) = outs.last() {
            assert_eq!(*result, Err(ProposeError::GaveUp));
            assert_eq!(prepares, 3);
            return;
        }
    }
    panic!("the proposal never gave up");
}

/// A core given absurd timeouts (an unchecked `init`) saturates its deadlines instead of
/// overflowing: the runtime refuses such an init, but the core must not trust that.
#[test]
fn absurd_timeouts_saturate_instead_of_overflowing() {
    let mut n = node_with(1, |c| {
        c.tuning.phase_timeout_ms = u64::MAX;
        c.tuning.backoff_base_ms = u64::MAX;
        c.tuning.backoff_max_ms = u64::MAX;
        c.tuning.decided_retry_ms = u64::MAX;
        c.tuning.decided_retry_max_ms = u64::MAX;
        c.tuning.catchup_ms = u64::MAX;
        c.tuning.max_attempts = 3;
    });
    n.handle_propose(5, 10, 7, "mine".into());
    drain(&mut n);
    assert_eq!(n.next_timeout_us(), Some(u64::MAX));
    n.handle_timeout(u64::MAX);
    drain(&mut n);
    // Decide instance 6 (round 0 is n1's) and announce it: the re-send timer saturates too.
    n.handle_propose(9, 11, 6, "other".into());
    drain(&mut n);
    for from in [2, 3] {
        n.handle_message(10, from, accepted(6, b(0, 1), "other"));
    }
    let outs = drain(&mut n);
    assert!(sends(&outs).iter().any(|(_, m)| matches!(m, Msg::Decided(_))), "{outs:?}");
    n.handle_timeout(u64::MAX);
    drain(&mut n);
    assert!(n.next_timeout_us().is_some_and(|t| t >= 10));
}

#[test]
fn proposer_never_reuses_a_round_after_restart() {
    let mut n = node(1);
    n.handle_propose(0, 10, 7, "a".into());
    n.handle_propose(0, 11, 8, "b".into());
    let mut n = restart(&mut n);
    n.handle_propose(0, 12, 7, "c".into());
    let outs = drain(&mut n);
    // Above the whole block the previous incarnation reserved, and a new block first.
    let round = ROUND_RESERVATION + 1;
    assert_eq!(outs[0], Output::Persist(Record::Round { round: round + ROUND_RESERVATION - 1 }));
    assert!(sends(&outs).iter().all(|(_, m)| *m == prepare(7, b(round, 1))), "{outs:?}");
}

#[test]
fn mutant_ballot_reuse_after_restart_reuses_round_one() {
    let cfg = |c: &mut Config| c.tuning.bug = Some(Bug::BallotReuseAfterRestart);
    let mut n = node_with(1, cfg);
    n.handle_propose(0, 10, 7, "a".into());
    let records = persists(&drain(&mut n));
    assert!(records.is_empty());
    let mut n = node_with(1, cfg);
    n.handle_propose(0, 10, 7, "b".into());
    assert!(sends(&drain(&mut n)).iter().all(|(_, m)| *m == prepare(7, b(1, 1))));
}

#[test]
fn mutant_non_unique_ballots_drop_the_node_id() {
    let mut n = node_with(2, |c| c.tuning.bug = Some(Bug::NonUniqueBallots));
    n.handle_propose(0, 10, 7, "a".into());
    assert!(sends(&drain(&mut n)).iter().all(|(_, m)| *m == prepare(7, b(1, 0))));
}

#[test]
fn non_proposer_refuses_and_busy_node_refuses() {
    let mut n = node_with(1, |c| c.proposers = vec![2]);
    n.handle_propose(0, 10, 7, "a".into());
    assert_eq!(
        drain(&mut n),
        vec![Output::ProposeDone { op: 10, instance: 7, result: Err(ProposeError::NotProposer) }]
    );
    let mut n = node_with(1, |c| c.tuning.max_proposals = 1);
    n.handle_propose(0, 10, 7, "a".into());
    n.handle_propose(0, 11, 8, "b".into());
    assert!(drain(&mut n).contains(&Output::ProposeDone {
        op: 11,
        instance: 8,
        result: Err(ProposeError::Busy)
    }));
}

#[test]
fn proposer_nacked_every_time_gives_up_after_max_attempts() {
    let mut n = node_with(1, |c| c.tuning.max_attempts = 3);
    n.handle_propose(0, 10, 7, "mine".into());
    for _ in 0..10 {
        let outs = drain(&mut n);
        if let Some(Output::ProposeDone { result, .. }) =
            outs.iter().find(|o| matches!(o, Output::ProposeDone { .. }))
        {
            assert_eq!(*result, Err(ProposeError::GaveUp));
            return;
        }
        let ballot = n.proposer().ballot_of(7).expect("open proposal");
        let promised = Ballot::new(ballot.round + 1, 3);
        n.handle_message(0, 2, Msg::Nack(Nack { instance: 7, ballot, promised }));
        let at = n.next_timeout_us().unwrap();
        n.handle_timeout(at);
    }
    panic!("a proposal nacked every time never gave up");
}

#[test]
fn second_op_on_an_open_instance_waits_for_the_same_decision() {
    let mut n = node(1);
    n.handle_propose(0, 10, 7, "a".into());
    n.handle_propose(0, 11, 7, "b".into());
    n.handle_message(0, 2, Msg::Decided(Decided { instance: 7, value: "z".into() }));
    let outs = drain(&mut n);
    let done: Vec<_> = outs.iter().filter(|o| matches!(o, Output::ProposeDone { .. })).collect();
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|o| matches!(o, Output::ProposeDone { result: Ok(v), .. } if v == "z")));
}

// ---- learner ----

#[test]
fn learner_learns_on_quorum_at_one_ballot_only() {
    let mut n = node_with(1, |c| c.proposers = vec![2]);
    n.handle_message(0, 2, accepted(7, b(1, 2), "x"));
    n.handle_message(0, 3, accepted(7, b(2, 3), "y")); // another ballot: no quorum yet
    assert!(drain(&mut n).iter().all(|o| !matches!(o, Output::Learned { .. })));
    n.handle_message(0, 1, accepted(7, b(2, 3), "y"));
    let outs = drain(&mut n);
    // Reported first; the learner's record follows, lazily (it is a cache, not a vote).
    assert_eq!(outs[0], Output::Learned { instance: 7, value: "y".into() });
    assert_eq!(outs[1], Output::PersistLazy(Record::Learned { instance: 7, value: "y".into() }));
    // Late and duplicated accepted messages change nothing.
    n.handle_message(0, 2, accepted(7, b(2, 3), "y"));
    assert!(drain(&mut n).is_empty());
}

#[test]
fn learner_ignores_accepted_from_non_acceptors() {
    let mut n = node_with(1, |c| c.acceptors = vec![2, 3, 4]);
    n.handle_message(0, 5, accepted(7, b(1, 2), "x"));
    n.handle_message(0, 6, accepted(7, b(1, 2), "x"));
    assert!(drain(&mut n).is_empty());
}

#[test]
fn learner_acknowledges_decided_and_keeps_first_value_on_conflict() {
    let mut n = node(1);
    n.handle_message(0, 2, Msg::Decided(Decided { instance: 7, value: "x".into() }));
    let outs = drain(&mut n);
    assert_eq!(outs[0], Output::Learned { instance: 7, value: "x".into() });
    assert_eq!(outs[1], Output::PersistLazy(Record::Learned { instance: 7, value: "x".into() }));
    assert!(!outs.iter().any(|o| matches!(o, Output::Persist(_))), "a decision waits for no fsync");
    assert_eq!(sends(&outs), vec![(2, Msg::DecidedOk(DecidedOk { instance: 7 }))]);
    // Duplicate: nothing persisted, nothing reported again, acknowledged again.
    n.handle_message(0, 2, Msg::Decided(Decided { instance: 7, value: "x".into() }));
    let outs = drain(&mut n);
    assert_eq!(outs, vec![Output::Send { to: 2, msg: Msg::DecidedOk(DecidedOk { instance: 7 }) }]);
    // A conflicting decision (only a buggy peer can send it) is reported, not adopted.
    n.handle_message(0, 3, Msg::Decided(Decided { instance: 7, value: "y".into() }));
    let outs = drain(&mut n);
    assert!(outs.contains(&Output::Learned { instance: 7, value: "y".into() }));
    assert_eq!(n.learner().learned(7), Some("x"));
}

#[test]
fn learner_state_survives_restart() {
    let mut n = node(1);
    n.handle_message(0, 2, Msg::Decided(Decided { instance: 7, value: "x".into() }));
    let mut n = restart(&mut n);
    assert_eq!(n.learner().learned(7), Some("x"));
    n.handle_propose(0, 5, 7, "y".into());
    let outs = drain(&mut n);
    assert_eq!(outs[0], Output::ProposeDone { op: 5, instance: 7, result: Ok("x".into()) });
    assert!(persists(&outs).is_empty() && outs.len() == 4, "answered and re-announced: {outs:?}");
}

#[test]
fn restored_decision_is_reported_once_after_restart() {
    // The previous incarnation persisted the decision but may have died before reporting it.
    let records = vec![Record::Learned { instance: 7, value: "x".into() }];
    let mut n = Node::new(Config::all_roles(1, &[1, 2, 3]), &records);
    let decided = Msg::Decided(Decided { instance: 7, value: "x".into() });
    n.handle_message(0, 2, decided.clone());
    assert!(drain(&mut n).contains(&Output::Learned { instance: 7, value: "x".into() }));
    n.handle_message(0, 2, decided);
    assert!(!drain(&mut n).iter().any(|o| matches!(o, Output::Learned { .. })));
}

#[test]
fn a_restored_decision_is_reported_before_it_is_retired() {
    // Restored, unreported, and retired before any `decided` for it arrives: reported then.
    let records = vec![Record::Learned { instance: 7, value: "x".into() }];
    let mut config = Config::all_roles(1, &[1, 2, 3]);
    config.tuning.retain_decided = 1;
    let mut n = Node::new(config, &records);
    n.handle_message(0, 2, Msg::Decided(Decided { instance: 8, value: "y".into() }));
    let outs = drain(&mut n);
    let learned = learned_ids(&outs);
    assert_eq!(learned, vec![8, 7], "{outs:?}");
    assert!(outs.contains(&Output::Archive { instance: 7, value: "x".into() }));
}

#[test]
fn decisions_replayed_beyond_the_window_retire_at_restart() {
    // A log holding more decisions than the window (a restart before the next compaction):
    // the node does not wait for new decisions to retire the oldest, so its memory and its
    // next snapshot are bounded by the window from its first turn.
    let records: Vec<Record> =
        (1..=5).map(|i| Record::Learned { instance: i, value: format!("v{i}") }).collect();
    let mut config = Config::all_roles(1, &[1, 2, 3]);
    config.tuning.retain_decided = 2;
    let mut n = Node::new(config, &records);
    let f = n.footprint();
    assert_eq!((f.retired_decisions, f.live_decisions), (3, 2), "{f:?}");
    let outs = drain(&mut n);
    for i in 1..=3 {
        let value = format!("v{i}");
        // Archived, and reported: this incarnation had not reported it yet.
        assert!(outs.contains(&Output::Archive { instance: i, value: value.clone() }), "{outs:?}");
        assert!(outs.contains(&Output::Learned { instance: i, value }), "{outs:?}");
    }
    assert_eq!(learned_ids(&outs), vec![1, 2, 3], "the live ones are reported when a decided comes");
    assert!(n.snapshot().contains(&Record::Retired { from: 1, to: 3 }));
}

#[test]
fn mutant_learn_on_one_decides_on_first_accepted() {
    let mut n = node_with(1, |c| c.tuning.bug = Some(Bug::LearnOnOne));
    n.handle_message(0, 2, accepted(7, b(1, 2), "x"));
    assert!(drain(&mut n).contains(&Output::Learned { instance: 7, value: "x".into() }));
}

// ---- whole-protocol ordering ----

#[test]
fn reordered_accepted_before_promise_quorum_is_harmless() {
    // n1 proposes; an `accepted` for its ballot arrives before phase 2 started (from a
    // reordered duplicate): the proposer must not decide on it.
    let mut n = node_with(1, |c| c.learners = vec![2]);
    n.handle_propose(0, 10, 7, "a".into());
    drain(&mut n);
    n.handle_message(0, 2, accepted(7, b(1, 1), "a"));
    n.handle_message(0, 3, accepted(7, b(1, 1), "a"));
    assert!(drain(&mut n).iter().all(|o| !matches!(o, Output::ProposeDone { .. })));
}

// ---- round 0 ----

#[test]
fn owner_takes_round_zero_without_phase_one_after_its_reservation_is_queued() {
    let mut n = node(1);
    assert_eq!(n.config().round_zero_owner(3), Some(1));
    n.handle_propose(0, 10, 3, "mine".into());
    let outs = drain(&mut n);
    // The reservation is this incarnation's mark on disk; it must precede every accept.
    assert_eq!(outs[0], Output::Persist(Record::Round { round: ROUND_RESERVATION }));
    assert_eq!(
        sends(&outs),
        vec![1, 2, 3].into_iter().map(|to| (to, accept(3, b(0, 1), "mine"))).collect::<Vec<_>>()
    );
    n.handle_message(0, 1, accepted(3, b(0, 1), "mine"));
    n.handle_message(0, 2, accepted(3, b(0, 1), "mine"));
    let outs = drain(&mut n);
    assert!(outs.contains(&Output::ProposeDone { op: 10, instance: 3, result: Ok("mine".into()) }));
    // A second owned instance in the same incarnation needs no new record.
    n.handle_propose(0, 11, 6, "next".into());
    let outs = drain(&mut n);
    assert!(persists(&outs).is_empty(), "{outs:?}");
    assert!(sends(&outs).iter().all(|(_, m)| *m == accept(6, b(0, 1), "next")));
}

#[test]
fn round_zero_is_never_used_again_after_a_restart() {
    let mut n = node(1);
    n.handle_propose(0, 10, 3, "a".into());
    let mut n = restart(&mut n);
    // The previous incarnation may have sent a round-0 accept for any instance it owns.
    n.handle_propose(0, 11, 3, "b".into());
    let outs = drain(&mut n);
    let round = ROUND_RESERVATION + 1;
    assert!(sends(&outs).iter().all(|(_, m)| *m == prepare(3, b(round, 1))), "{outs:?}");
    n.handle_propose(0, 12, 6, "c".into());
    assert!(sends(&drain(&mut n)).iter().all(|(_, m)| matches!(m, Msg::Prepare(p) if p.ballot.round > 0)));
}

#[test]
fn only_the_owner_uses_round_zero_and_only_when_fast_rounds_are_on() {
    let mut n = node(2);
    n.handle_propose(0, 10, 3, "x".into());
    assert!(sends(&drain(&mut n)).iter().all(|(_, m)| *m == prepare(3, b(1, 2))));
    let mut n = node_with(1, |c| c.tuning.fast_round = false);
    n.handle_propose(0, 10, 3, "x".into());
    assert!(sends(&drain(&mut n)).iter().all(|(_, m)| *m == prepare(3, b(1, 1))));
}

#[test]
fn a_nacked_round_zero_falls_back_to_both_phases_above_the_promise() {
    let mut n = node(1);
    n.handle_propose(0, 10, 3, "mine".into());
    drain(&mut n);
    n.handle_message(5, 2, Msg::Nack(Nack { instance: 3, ballot: b(0, 1), promised: b(4, 2) }));
    let at = n.next_timeout_us().unwrap();
    n.handle_timeout(at);
    let outs = drain(&mut n);
    assert!(sends(&outs).iter().all(|(_, m)| *m == prepare(3, b(5, 1))), "{outs:?}");
    // An acceptor that promised a real round refuses round 0.
    let mut a = node(3);
    a.handle_message(0, 2, prepare(3, b(1, 2)));
    drain(&mut a);
    a.handle_message(0, 1, accept(3, b(0, 1), "late"));
    let nack = Msg::Nack(Nack { instance: 3, ballot: b(0, 1), promised: b(1, 2) });
    assert_eq!(sends(&drain(&mut a)), vec![(1, nack)]);
}

#[test]
fn round_zero_is_used_once_per_instance_even_after_giving_up() {
    // The reviewer's interleaving: n1's round-0 value may be chosen although n1 heard no
    // `accepted`; after `gave_up` the client re-invokes with another value on n1.
    let mut n = node_with(1, |c| c.tuning.max_attempts = 1);
    n.handle_propose(0, 10, 3, "a".into());
    assert!(sends(&drain(&mut n)).iter().all(|(_, m)| *m == accept(3, b(0, 1), "a")));
    let at = n.next_timeout_us().unwrap();
    n.handle_timeout(at);
    n.handle_timeout(n.next_timeout_us().unwrap_or(at));
    assert!(drain(&mut n)
        .iter()
        .any(|o| matches!(o, Output::ProposeDone { result: Err(ProposeError::GaveUp), .. })));
    n.handle_propose(at, 11, 3, "b".into());
    let outs = drain(&mut n);
    assert!(!sends(&outs).is_empty());
    assert!(
        sends(&outs).iter().all(|(_, m)| matches!(m, Msg::Prepare(p) if p.ballot.round >= 1)),
        "{outs:?}"
    );
    // Late `accepted`s of the first proposal's round 0 do not count for the new one either.
    n.handle_message(at, 2, accepted(3, b(0, 1), "a"));
    n.handle_message(at, 3, accepted(3, b(0, 1), "a"));
    assert!(!drain(&mut n)
        .iter()
        .any(|o| matches!(o, Output::ProposeDone { result: Ok(v), .. } if v == "b")));
}

#[test]
fn an_accepted_with_another_value_is_not_counted_for_our_ballot() {
    let mut n = node_with(1, |c| c.learners = vec![2]);
    n.handle_propose(0, 10, 3, "mine".into());
    drain(&mut n);
    n.handle_message(0, 2, accepted(3, b(0, 1), "other"));
    n.handle_message(0, 3, accepted(3, b(0, 1), "other"));
    assert!(!drain(&mut n).iter().any(|o| matches!(o, Output::ProposeDone { .. })));
    n.handle_message(0, 2, accepted(3, b(0, 1), "mine"));
    n.handle_message(0, 3, accepted(3, b(0, 1), "mine"));
    assert!(drain(&mut n).contains(&Output::ProposeDone { op: 10, instance: 3, result: Ok("mine".into()) }));
}

#[test]
fn an_absurd_round_in_a_nack_is_clamped() {
    let mut n = node(1);
    n.handle_propose(0, 10, 7, "v".into());
    drain(&mut n);
    n.handle_message(0, 2, Msg::Nack(Nack { instance: 7, ballot: b(1, 1), promised: b(u64::MAX, 3) }));
    let at = n.next_timeout_us().unwrap();
    n.handle_timeout(at);
    let outs = drain(&mut n);
    let round = proposer::MAX_SEEN_ROUND + 1;
    assert!(sends(&outs).iter().all(|(_, m)| *m == prepare(7, b(round, 1))), "{outs:?}");
}

// Catch-up.

fn decided(i: InstanceId, v: &str) -> Msg {
    Msg::Decided(Decided { instance: i, value: v.into() })
}

fn catchups(outs: &[Output]) -> Vec<(NodeId, Catchup)> {
    sends(outs)
        .into_iter()
        .filter_map(|(to, m)| match m {
            Msg::Catchup(c) => Some((to, c)),
            _ => None,
        })
        .collect()
}

/// A node that learns only as a learner (no proposer, no acceptor role): no other timer.
fn learner_only(id: NodeId) -> Node {
    node_with(id, |c| {
        c.proposers = vec![1];
        c.acceptors = vec![1, 2];
    })
}

#[test]
fn a_learner_asks_for_a_hole_that_outlives_a_tick_and_learns_from_the_answer() {
    let mut n3 = learner_only(3);
    let t0 = 1_000 * MS;
    n3.handle_message(t0, 1, decided(3, "c"));
    drain(&mut n3);
    let tick = n3.next_timeout_us().expect("a hole arms the timer");
    assert_eq!(tick, t0 + 200 * MS);
    n3.handle_timeout(tick);
    assert!(catchups(&drain(&mut n3)).is_empty(), "a hole is asked about only once it outlived a tick");
    let tick = n3.next_timeout_us().unwrap();
    n3.handle_timeout(tick);
    let asked = catchups(&drain(&mut n3));
    assert_eq!(asked.len(), 1, "{asked:?}");
    let (peer, req) = asked[0].clone();
    assert_ne!(peer, 3);
    assert_eq!((req.from_instance, req.to_instance), (1, Some(2)), "the hole, up to the next known decision");
    // Any node that knows answers, with only what lies in the range.
    let mut n1 = node(1);
    for i in 1..=4 {
        n1.handle_message(t0, 2, decided(i, &format!("v{i}")));
    }
    drain(&mut n1);
    n1.handle_message(tick, 3, Msg::Catchup(req));
    let answer = sends(&drain(&mut n1));
    assert_eq!(answer, vec![(3, decided(1, "v1")), (3, decided(2, "v2"))]);
    for (_, m) in answer {
        n3.handle_message(tick + 10, 1, m);
    }
    let outs = drain(&mut n3);
    let learned = learned_ids(&outs);
    assert_eq!(learned, vec![1, 2]);
    assert_eq!(n3.learner().learned(1), Some("v1"));
    assert_eq!(n3.next_timeout_us(), None, "no hole left: no timer");
}

#[test]
fn an_answer_is_bounded_and_an_open_request_reads_upward() {
    let mut n1 = node(1);
    for i in 1..=200 {
        n1.handle_message(0, 2, decided(i, "v"));
    }
    drain(&mut n1);
    n1.handle_message(1, 3, Msg::Catchup(Catchup { from_instance: 10, to_instance: None }));
    let answer = sends(&drain(&mut n1));
    assert_eq!(answer.len() as u64, catchup::MAX_INSTANCES_PER_REQUEST);
    assert_eq!(answer[0], (3, decided(10, "v")));
    assert_eq!(answer.last().unwrap().1.instance(), 73);
    n1.handle_message(1, 3, Msg::Catchup(Catchup { from_instance: 9, to_instance: Some(3) }));
    assert!(sends(&drain(&mut n1)).is_empty(), "an empty range gets no answer");
    n1.handle_message(1, 3, Msg::Catchup(Catchup { from_instance: 500, to_instance: None }));
    assert!(sends(&drain(&mut n1)).is_empty(), "nothing known there: nothing sent");
}

#[test]
fn a_restarted_learner_probes_above_what_it_saw_until_a_probe_brings_nothing() {
    let mut n3 = learner_only(3);
    n3.handle_message(0, 1, decided(1, "a"));
    let mut n3 = restart(&mut n3);
    n3.handle_message(10, 1, decided(1, "a"));
    drain(&mut n3);
    let tick = n3.next_timeout_us().expect("a restarted learner probes");
    n3.handle_timeout(tick);
    let probe = catchups(&drain(&mut n3));
    assert_eq!(probe.len(), 1);
    assert_eq!((probe[0].1.from_instance, probe[0].1.to_instance), (2, None));
    for i in 2..=5 {
        n3.handle_message(tick + 1, 1, decided(i, "b"));
    }
    drain(&mut n3);
    let tick = n3.next_timeout_us().unwrap();
    n3.handle_timeout(tick);
    let probe = catchups(&drain(&mut n3));
    assert_eq!(probe.len(), 1, "the last probe brought news: probe again");
    assert_eq!(probe[0].1.from_instance, 6);
    let tick = n3.next_timeout_us().unwrap();
    n3.handle_timeout(tick);
    assert!(catchups(&drain(&mut n3)).is_empty());
    assert_eq!(n3.next_timeout_us(), None, "a probe that brought nothing ends the probing");
}

#[test]
fn catch_up_requests_are_bounded_per_tick_and_per_range() {
    let mut n3 = learner_only(3);
    // Holes: 1..=100 (more than one request covers), then 102, 104, 106, ... (one id each).
    let singles = catchup::MAX_REQUESTS_PER_TICK as u64 + 5;
    for i in (0..=singles).map(|k| 101 + 2 * k) {
        n3.handle_message(0, 1, decided(i, "v"));
    }
    drain(&mut n3);
    for _ in 0..2 {
        let tick = n3.next_timeout_us().unwrap();
        n3.handle_timeout(tick);
    }
    let requests = catchups(&drain(&mut n3));
    let asked: Vec<(InstanceId, Option<InstanceId>)> =
        requests.iter().map(|(_, c)| (c.from_instance, c.to_instance)).collect();
    assert_eq!(asked.len(), catchup::MAX_REQUESTS_PER_TICK, "{asked:?}");
    assert_eq!(&asked[..4], &[(1, Some(64)), (65, Some(100)), (102, Some(102)), (104, Some(104))]);
    let peers: Vec<NodeId> = requests.iter().map(|(p, _)| *p).take(4).collect();
    assert_eq!(peers, vec![1, 2, 1, 2], "one peer after another, never itself");
}

#[test]
fn a_node_that_is_not_a_learner_never_asks_and_catch_up_can_be_off() {
    let mut n2 = node_with(2, |c| c.learners = vec![1]);
    n2.handle_message(0, 1, accept(5, b(1, 1), "v"));
    drain(&mut n2);
    assert_eq!(n2.next_timeout_us(), None);
    let mut off = node_with(3, |c| {
        c.proposers = vec![1];
        c.tuning.catchup_ms = 0;
    });
    off.handle_message(0, 1, decided(7, "v"));
    drain(&mut off);
    assert_eq!(off.next_timeout_us(), None, "catchup_ms 0: off");
}

// Retirement, lookups and snapshots (compaction).

fn retaining(id: NodeId, retain: usize) -> Node {
    node_with(id, |c| c.tuning.retain_decided = retain)
}

fn archived(outs: &[Output]) -> Vec<(InstanceId, String)> {
    pick(outs, |o| match o {
        Output::Archive { instance, value } => Some((*instance, value.clone())),
        _ => None,
    })
}

fn lookups_asked(outs: &[Output]) -> Vec<InstanceId> {
    pick(outs, |o| match o {
        Output::Lookup { instance } => Some(*instance),
        _ => None,
    })
}

#[test]
fn decisions_beyond_the_window_are_archived_oldest_first_and_forgotten_everywhere() {
    let mut n = retaining(1, 2);
    for i in [3, 1, 2, 5, 4] {
        n.handle_message(0, 2, accept(i, b(1, 2), &format!("v{i}")));
        n.handle_message(0, 2, decided(i, &format!("v{i}")));
    }
    let outs = drain(&mut n);
    assert_eq!(archived(&outs), vec![(3, "v3".into()), (1, "v1".into()), (2, "v2".into())]);
    let f = n.footprint();
    assert_eq!((f.acceptor_slots, f.learner_instances, f.live_decisions), (2, 2, 2), "{f:?}");
    assert_eq!((f.retired_decisions, f.retired_runs), (3, 1), "{f:?}");
    assert!(n.acceptor().slot(1).is_none() && n.acceptor().slot(5).is_some());
    assert_eq!(n.learner().learned(1), None);
    assert_eq!(n.learner().learned(4), Some("v4"));
}

#[test]
fn an_acceptor_answers_a_retired_instance_with_decided_from_the_archive() {
    let mut n = retaining(1, 1);
    n.handle_message(0, 2, accept(1, b(1, 2), "v1"));
    n.handle_message(0, 2, decided(1, "v1"));
    n.handle_message(0, 2, decided(2, "v2"));
    assert_eq!(archived(&drain(&mut n)), vec![(1, "v1".into())]);
    // A prepare, an accept and a propose for it wait for one lookup; nothing is promised.
    n.handle_message(1, 3, prepare(1, b(9, 3)));
    n.handle_message(1, 2, accept(1, b(9, 2), "other"));
    n.handle_propose(1, 77, 1, "mine".into());
    let outs = drain(&mut n);
    assert_eq!(lookups_asked(&outs), vec![1], "one lookup per instance: {outs:?}");
    assert!(sends(&outs).is_empty() && persists(&outs).is_empty(), "{outs:?}");
    n.handle_lookup(2, 1, "v1".into());
    let outs = drain(&mut n);
    // The peers get `decided`; so does every learner, as for a propose on a live decision.
    let expect: Vec<(NodeId, Msg)> = [3, 2, 1, 2, 3].into_iter().map(|to| (to, decided(1, "v1"))).collect();
    assert_eq!(sends(&outs), expect);
    assert!(outs.contains(&Output::ProposeDone { op: 77, instance: 1, result: Ok("v1".into()) }), "{outs:?}");
    assert!(persists(&outs).is_empty());
    assert_eq!(n.footprint().lookup_waiters, 0);
}

#[test]
fn a_catchup_over_retired_and_live_decisions_is_answered_whole() {
    let mut n = retaining(1, 1);
    for i in 1..=3 {
        n.handle_message(0, 2, decided(i, &format!("v{i}")));
    }
    drain(&mut n);
    n.handle_message(1, 3, Msg::Catchup(Catchup { from_instance: 1, to_instance: None }));
    let outs = drain(&mut n);
    assert_eq!(sends(&outs), vec![(3, decided(3, "v3"))], "the live one at once");
    assert_eq!(lookups_asked(&outs), vec![1, 2]);
    n.handle_lookup(2, 2, "v2".into());
    n.handle_lookup(2, 1, "v1".into());
    assert_eq!(sends(&drain(&mut n)), vec![(3, decided(2, "v2")), (3, decided(1, "v1"))]);
}

#[test]
fn a_decided_for_a_retired_instance_is_acknowledged_and_a_conflict_reported() {
    let mut n = retaining(1, 0);
    n.handle_message(0, 2, decided(1, "v"));
    drain(&mut n);
    n.handle_message(1, 2, decided(1, "v"));
    n.handle_message(1, 3, decided(1, "x"));
    let outs = drain(&mut n);
    let acks: Vec<NodeId> = sends(&outs).iter().map(|(to, _)| *to).collect();
    assert_eq!(acks, vec![2, 3], "{outs:?}");
    assert_eq!(lookups_asked(&outs), vec![1]);
    n.handle_lookup(2, 1, "v".into());
    let outs = drain(&mut n);
    assert_eq!(
        outs,
        vec![Output::Learned { instance: 1, value: "x".into() }],
        "only the conflict is reported"
    );
}

#[test]
fn lookup_waiters_are_bounded_and_a_client_beyond_the_bound_is_told_busy() {
    let mut n = retaining(1, 0);
    n.handle_message(0, 2, decided(1, "v"));
    drain(&mut n);
    for op in 0..lookup::MAX_LOOKUP_WAITERS as u64 + 2 {
        n.handle_propose(1, op, 1, "mine".into());
    }
    let outs = drain(&mut n);
    let busy = outs
        .iter()
        .filter(|o| matches!(o, Output::ProposeDone { result: Err(ProposeError::Busy), .. }))
        .count();
    assert_eq!(busy, 2);
    assert_eq!(n.footprint().lookup_waiters, lookup::MAX_LOOKUP_WAITERS);
}

#[test]
fn a_snapshot_rebuilds_the_node_without_its_retired_instances() {
    let mut n = retaining(1, 2);
    // Undecided: a promise on 10, an accepted value on 11. Decided: 1..=4 (1 and 2 retire).
    n.handle_message(0, 2, prepare(10, b(4, 2)));
    n.handle_message(0, 2, accept(11, b(5, 2), "w"));
    for i in 1..=4 {
        n.handle_message(0, 2, accept(i, b(1, 2), "v"));
        n.handle_message(0, 2, decided(i, "v"));
    }
    n.handle_propose(0, 1, 20, "mine".into());
    let outs = drain(&mut n);
    let mut written = persists(&outs);
    let snapshot = n.snapshot();
    assert!(snapshot.len() < written.len(), "{snapshot:?}");
    assert!(snapshot.contains(&Record::Retired { from: 1, to: 2 }), "{snapshot:?}");
    assert!(snapshot.iter().all(|r| !matches!(r.instance(), Some(1 | 2))), "{snapshot:?}");
    // A lazy record of a retired instance that lands after the snapshot is ignored.
    written = snapshot.clone();
    written.push(Record::Learned { instance: 1, value: "v".into() });
    let m = Node::new(n.config().clone(), &written);
    for i in [10, 11, 3, 4] {
        assert_eq!(m.acceptor().slot(i), n.acceptor().slot(i), "slot {i}");
    }
    assert_eq!((m.learner().learned(3), m.learner().learned(1)), (Some("v"), None));
    let f = m.footprint();
    assert_eq!((f.retired_decisions, f.live_decisions, f.acceptor_slots), (2, 2, 4), "{f:?}");
    assert!(m.proposer().max_round() >= n.proposer().max_round(), "the reserved round survives");
    // And the rebuilt node answers for a retired instance from the archive.
    let mut m = m;
    m.handle_message(1, 3, prepare(2, b(9, 3)));
    assert_eq!(lookups_asked(&drain(&mut m)), vec![2]);
}

#[test]
#[should_panic(expected = "snapshot with outputs not yet performed")]
fn a_snapshot_with_outputs_still_queued_is_refused() {
    let mut n = retaining(1, 0);
    n.handle_message(0, 2, decided(1, "v"));
    n.snapshot();
}

#[test]
fn memory_stays_within_the_window_over_a_hundred_thousand_decisions() {
    // Three nodes' worth of traffic at one node: accepts from a proposer, the accepteds of a
    // quorum, now and then a propose and a prepare for an old instance.
    let retain = 1_000;
    let mut n = retaining(1, retain);
    let mut peak = n.footprint();
    let mut archived_count = 0;
    for i in 1..=100_000u64 {
        let v = format!("i{i}-op{i}");
        n.handle_message(i, 2, accept(i, b(1, 2), &v));
        n.handle_message(i, 2, accepted(i, b(1, 2), &v));
        n.handle_message(i, 3, accepted(i, b(1, 2), &v));
        if i % 997 == 0 {
            n.handle_message(i, 3, prepare(i / 2, b(9, 3)));
            n.handle_propose(i, i, i / 3, "late".into());
        }
        for out in drain(&mut n) {
            match out {
                Output::Archive { .. } => archived_count += 1,
                Output::Lookup { instance } => n.handle_lookup(i, instance, format!("from-disk-{instance}")),
                _ => {}
            }
        }
        drain(&mut n);
        let f = n.footprint();
        peak.acceptor_slots = peak.acceptor_slots.max(f.acceptor_slots);
        peak.learner_instances = peak.learner_instances.max(f.learner_instances);
        peak.proposer_instances = peak.proposer_instances.max(f.proposer_instances);
        peak.live_decisions = peak.live_decisions.max(f.live_decisions);
        peak.retired_runs = peak.retired_runs.max(f.retired_runs);
        peak.lookup_waiters = peak.lookup_waiters.max(f.lookup_waiters);
    }
    let f = n.footprint();
    assert_eq!(archived_count, 100_000 - retain as u64);
    assert_eq!(f.retired_decisions, 100_000 - retain as u64);
    assert!(peak.live_decisions <= retain, "{peak:?}");
    assert!(peak.acceptor_slots <= retain + 1, "{peak:?}");
    assert!(peak.learner_instances <= retain + 1, "{peak:?}");
    assert!(peak.retired_runs <= 1, "dense ids retire as one run: {peak:?}");
    assert_eq!(peak.lookup_waiters, 0, "lookups answered at once wait for nothing: {peak:?}");
    // The announcements of the proposes on old instances end with their acks or retries.
    assert!(peak.proposer_instances <= 200, "{peak:?}");
}
