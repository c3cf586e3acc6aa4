//! The workload driven in-process, as the run loop drives it: events in, then what it
//! queued drained.

use super::revisit::{self, bit};
use super::*;

fn cfg() -> WorkloadConfig {
    WorkloadConfig {
        concurrency: 3,
        contention: 2,
        op_timeout_us: 1_000,
        max_instances: Some(5),
        revisit: 0.0,
        proposers: vec![1, 2, 3],
        learners: vec![1, 2, 3],
    }
}

/// Appends the ops the workload queued to send to `out`, as the run loop sends them.
/// A workload of `cfg` and `seed`, filled at time 0, and the invokes it sent.
fn filled(cfg: WorkloadConfig, seed: u64) -> (Workload, Vec<Invoke>) {
    let mut w = Workload::new(cfg, seed);
    let mut out = Vec::new();
    w.fill(0);
    sent(&mut w, &mut out);
    (w, out)
}

fn sent(w: &mut Workload, out: &mut Vec<Invoke>) {
    out.extend(std::iter::from_fn(|| w.poll_invoke()));
}

/// The ops that ended without a reply since the last look.
fn ended(w: &mut Workload) -> Vec<Ended> {
    std::iter::from_fn(|| w.poll_ended()).collect()
}

/// Answers op `op` with `outcome`; what that invoked goes to `out`.
fn reply(
    w: &mut Workload,
    now_us: u64,
    op: OpId,
    outcome: &Outcome,
    out: &mut Vec<Invoke>,
) -> Option<(InstanceId, NodeId)> {
    let known = w.handle_reply(now_us, op, outcome);
    sent(w, out);
    known
}

/// A tick at `now_us`: the ops that timed out; what that invoked goes to `out`.
fn tick(w: &mut Workload, now_us: u64, out: &mut Vec<Invoke>) -> Vec<Ended> {
    w.handle_tick(now_us);
    let expired = ended(w);
    assert!(expired.iter().all(|e| e.cause == Cause::Timeout), "{expired:?}");
    sent(w, out);
    expired
}

/// `node` exited at `now_us`: the ops that ended with it; what that invoked goes to `out`.
fn exited(w: &mut Workload, now_us: u64, node: NodeId, out: &mut Vec<Invoke>) -> Vec<Ended> {
    w.handle_node_exited(now_us, node);
    let crashed = ended(w);
    assert!(crashed.iter().all(|e| e.cause == Cause::Crashed && e.node == node), "{crashed:?}");
    sent(w, out);
    crashed
}

#[test]
fn fills_concurrency_with_contended_distinct_proposers() {
    let (w, out) = filled(cfg(), 1);
    assert_eq!(w.in_flight(), 3);
    assert_eq!(out.len(), 6);
    for pair in out.chunks(2) {
        assert_eq!(pair[0].instance, pair[1].instance);
        assert_ne!(pair[0].node, pair[1].node, "contention uses distinct proposers");
        assert_ne!(pair[0].value, pair[1].value);
    }
}

#[test]
fn timeouts_become_info_and_undecided_instances_are_invoked_again() {
    let (mut w, mut out) = filled(cfg(), 1);
    out.clear();
    let expired = tick(&mut w, 1_000, &mut out);
    assert_eq!(expired.len(), 6);
    assert_eq!(w.stats.info, 6);
    assert_eq!(out.len(), 3, "one new op per undecided instance");
    assert_eq!(w.in_flight(), 3);
}

#[test]
fn decided_and_learned_instances_retire_and_stop_at_the_limit() {
    let mut w = Workload::new(cfg(), 1);
    let mut out = Vec::new();
    for _ in 0..10 {
        w.fill(0);
        sent(&mut w, &mut out);
        for inv in std::mem::take(&mut out) {
            reply(&mut w, 0, inv.op, &Outcome::Ok("v".into()), &mut out);
            for l in 1..=3 {
                w.handle_learned(inv.instance, l);
            }
        }
    }
    assert!(w.exhausted());
    assert_eq!(w.stats.instances_started, 5);
    assert_eq!(w.stats.learned_by_all, 5);
    assert_eq!(w.in_flight(), 0);
    assert_eq!(w.unlearned(), 0);
}

#[test]
fn a_decided_instance_frees_its_slot_while_a_slow_op_is_still_open() {
    let (mut w, mut out) = filled(WorkloadConfig { max_instances: None, ..cfg() }, 1);
    let first = out[0].clone();
    let other = out.iter().find(|i| i.instance == first.instance && i.op != first.op).unwrap().clone();
    out.clear();
    reply(&mut w, 10, first.op, &Outcome::Ok("v".into()), &mut out);
    assert_eq!(w.in_flight(), 2, "decided: no longer in flight");
    w.fill(10);
    sent(&mut w, &mut out);
    assert_eq!(w.in_flight(), 3, "a new instance took the slot");
    assert_eq!(out.len(), 2);
    // The slow op still ends, as info, at its deadline.
    let expired = tick(&mut w, 1_000, &mut Vec::new());
    assert!(expired.iter().any(|e| e.op == other.op));
    // A learn also counts as decided.
    let (mut w, out) = filled(cfg(), 1);
    w.handle_learned(out[0].instance, 1);
    assert_eq!(w.in_flight(), 2);
}

#[test]
fn ops_on_a_node_that_exited_end_info_at_once() {
    let (mut w, out) = filled(WorkloadConfig { contention: 1, ..cfg() }, 1);
    let node = out[0].node;
    let on_node = out.iter().filter(|i| i.node == node).count();
    let mut again = Vec::new();
    let crashed = exited(&mut w, 5, node, &mut again);
    assert_eq!(crashed.len(), on_node);
    assert_eq!(w.stats.info as usize, on_node);
    assert!(exited(&mut w, 6, node, &mut again).is_empty(), "each op ends once");
    // The instances only that node was proposing wait for it, then are retried there.
    let alone: Vec<InstanceId> = out
        .iter()
        .filter(|i| i.node == node && out.iter().filter(|j| j.instance == i.instance).count() == 1)
        .map(|i| i.instance)
        .collect();
    assert!(!alone.is_empty());
    assert!(again.is_empty(), "nothing retried while the node is down");
    w.handle_node_up(10, node);
    sent(&mut w, &mut again);
    assert_eq!(again.iter().map(|i| i.instance).collect::<Vec<_>>(), alone);
    assert!(again.iter().all(|i| i.node == node));
}

#[test]
fn a_client_whose_node_stays_down_retries_elsewhere_after_the_op_timeout() {
    let (mut w, out) = filled(WorkloadConfig { contention: 1, ..cfg() }, 1);
    let node = out[0].node;
    let mut again = Vec::new();
    exited(&mut w, 5, node, &mut again);
    assert!(again.is_empty());
    tick(&mut w, 5 + 1_000, &mut again);
    assert!(again.iter().any(|i| i.instance == out[0].instance), "retried after the deadline");
}

#[test]
fn final_phase_chases_instances_a_learner_missed() {
    let (mut w, mut out) = filled(cfg(), 1);
    for inv in std::mem::take(&mut out) {
        reply(&mut w, 0, inv.op, &Outcome::Ok("v".into()), &mut out);
        w.handle_learned(inv.instance, 1);
    }
    w.chase(5);
    sent(&mut w, &mut out);
    assert_eq!(out.len(), 3);
    w.chase(5);
    sent(&mut w, &mut out);
    assert_eq!(out.len(), 3, "no second op while one is running");
    assert_eq!(w.in_flight(), 0, "chased instances are decided: they hold no slot");
    for inv in std::mem::take(&mut out) {
        w.handle_learned(inv.instance, 2);
        reply(&mut w, 6, inv.op, &Outcome::Ok("v".into()), &mut out);
    }
    assert_eq!(w.in_flight(), 0);
}

#[test]
fn learned_instances_whose_ops_all_ended_without_an_ok_are_invoked_again_at_once() {
    let (mut w, out) = filled(WorkloadConfig { contention: 1, max_instances: None, ..cfg() }, 1);
    for inv in &out {
        for l in 1..=3 {
            w.handle_learned(inv.instance, l);
        }
    }
    assert_eq!(w.in_flight(), 0, "learned: decided");
    // Every op times out: nobody was answered, so each instance gets a new op now.
    let mut again = Vec::new();
    tick(&mut w, 1_000, &mut again);
    let mut instances: Vec<InstanceId> = again.iter().map(|i| i.instance).collect();
    instances.sort_unstable();
    assert_eq!(instances, vec![1, 2, 3], "{again:?}");
    assert_eq!(w.in_flight(), 0, "a decided instance's new op holds no slot");
    // An ok ends it: no more ops once answered.
    let mut more = Vec::new();
    for inv in &again {
        reply(&mut w, 1_100, inv.op, &Outcome::Ok("v".into()), &mut more);
    }
    assert!(more.is_empty() && w.unanswered() == 0, "{more:?}");
    // Retries stay bounded: an instance nobody ever answers gets at most MAX_REINVOKES.
    let mut w = Workload::new(WorkloadConfig { contention: 1, max_instances: Some(1), ..cfg() }, 1);
    let mut ops = Vec::new();
    w.fill(0);
    sent(&mut w, &mut ops);
    for l in 1..=3 {
        w.handle_learned(1, l);
    }
    let mut now = 0;
    let mut invoked = 1;
    while !ops.is_empty() {
        now += 1_000;
        ops.clear();
        tick(&mut w, now, &mut ops);
        invoked += ops.len() as u32;
    }
    assert_eq!(invoked, 1 + MAX_REINVOKES);
    // A learned instance whose node crashed is retried elsewhere at once, not waited for.
    let (mut w, out) = filled(WorkloadConfig { contention: 1, ..cfg() }, 1);
    w.handle_learned(out[0].instance, 1);
    let mut again = Vec::new();
    exited(&mut w, 5, out[0].node, &mut again);
    assert!(again.iter().any(|i| i.instance == out[0].instance), "{again:?}");
}

#[test]
fn a_late_ok_answers_and_decides_its_instance() {
    let (mut w, out) = filled(WorkloadConfig { contention: 1, ..cfg() }, 1);
    let first = out[0].clone();
    assert_eq!(w.unanswered(), 3);
    let mut again = Vec::new();
    tick(&mut w, 1_000, &mut again);
    assert_eq!(again.len(), 3, "every timed-out instance is invoked again");
    // The first op's answer comes after its timeout: late, but an answer all the same.
    let known = w.handle_late(first.op, Some(first.instance));
    assert_eq!(known, Some((first.instance, first.node)), "the closed op is remembered");
    assert_eq!(w.stats.late, 1);
    assert_eq!(w.unanswered(), 2);
    assert_eq!(w.in_flight(), 2, "a late ok decides the instance: it frees its slot");
    // Its retry then times out too: the instance is decided, so it is not invoked again.
    let retry = again.iter().find(|i| i.instance == first.instance).unwrap().op;
    let mut more = Vec::new();
    reply(&mut w, 1_500, retry, &Outcome::Info("timeout".into()), &mut more);
    assert!(more.is_empty(), "{more:?}");
    // A second reply to an op answered in time is late too; an unknown op is not known.
    let other = again.iter().find(|i| i.instance != first.instance).unwrap();
    assert!(reply(&mut w, 1_500, other.op, &Outcome::Ok("v".into()), &mut more).is_some());
    assert_eq!(w.handle_late(other.op, None), Some((other.instance, other.node)));
    assert_eq!(w.handle_late(999_999, None), None);
    assert_eq!(w.stats.late, 3);
}

#[test]
fn closed_ops_are_remembered_in_a_bounded_window() {
    let mut closed = ClosedOps::default();
    for op in 1..=CLOSED_OPS_KEPT as u64 + 10 {
        closed.insert(op, op, 1);
    }
    assert_eq!(closed.ops.len(), CLOSED_OPS_KEPT);
    assert_eq!(closed.order.len(), CLOSED_OPS_KEPT);
    assert!(!closed.ops.contains_key(&10), "the oldest are forgotten");
    assert!(closed.ops.contains_key(&11));
}

#[test]
fn final_phase_chases_instances_no_client_was_answered_for() {
    let (mut w, out) = filled(cfg(), 1);
    // Every learner learns every instance, but no op is answered: they all time out.
    for inv in &out {
        for l in 1..=3 {
            w.handle_learned(inv.instance, l);
        }
    }
    // Each is invoked again at once, up to MAX_REINVOKES times; all of those time out too.
    let mut now = 1_000;
    let mut retried = Vec::new();
    tick(&mut w, now, &mut retried);
    while !retried.is_empty() {
        now += 1_000;
        retried.clear();
        tick(&mut w, now, &mut retried);
    }
    assert_eq!((w.unlearned(), w.unanswered()), (0, 3));
    let now = now + 1_000;
    let mut chased = Vec::new();
    w.chase(now);
    sent(&mut w, &mut chased);
    assert_eq!(chased.len(), 3, "each unanswered instance is invoked again");
    w.chase(now);
    sent(&mut w, &mut chased);
    assert_eq!(chased.len(), 3, "no second op while one is running");
    for inv in std::mem::take(&mut chased) {
        reply(&mut w, now + 100, inv.op, &Outcome::Ok("v".into()), &mut chased);
    }
    assert_eq!((w.unlearned(), w.unanswered()), (0, 0));
    w.chase(now + 200);
    sent(&mut w, &mut chased);
    assert!(chased.is_empty());
}

/// Runs `rounds` rounds of fill, each op answered `ok` at once, each new instance
/// learned by `learners`; then fills once more. Returns the last fill's ops and every op
/// invoked before it.
fn rounds(w: &mut Workload, rounds: u64, learners: &[NodeId]) -> (Vec<Invoke>, Vec<Invoke>) {
    let mut before = Vec::new();
    let mut out = Vec::new();
    for round in 0..rounds {
        w.fill(round);
        sent(w, &mut out);
        for inv in std::mem::take(&mut out) {
            let value = if inv.revisit { format!("i{}-decided", inv.instance) } else { inv.value.clone() };
            reply(w, round, inv.op, &Outcome::Ok(value), &mut out);
            if !inv.revisit {
                for &l in learners {
                    w.handle_learned(inv.instance, l);
                }
            }
            before.push(inv);
        }
        assert!(out.is_empty(), "an op answered ok is not retried: {out:?}");
    }
    w.fill(rounds);
    sent(w, &mut out);
    (out, before)
}

fn revisiting(revisit: f64) -> Workload {
    Workload::new(WorkloadConfig { contention: 1, max_instances: None, revisit, ..cfg() }, 7)
}

#[test]
fn with_revisit_1_every_new_op_after_some_decisions_revisits_a_decided_instance_elsewhere() {
    let mut w = revisiting(1.0);
    let (out, before) = rounds(&mut w, 5, &[1, 2, 3]);
    // Round 0 had nothing decided: new instances. Every op since is a revisit.
    let started = w.stats.instances_started;
    assert_eq!(started, 3);
    assert!(before.iter().take(3).all(|i| !i.revisit));
    assert!(before.len() > 3 && before.iter().skip(3).all(|i| i.revisit), "{before:?}");
    assert_eq!(out.len(), w.revisits_max(), "revisits up to their bound, and nothing else");
    assert_eq!(w.revisits_open(), w.revisits_max());
    let mut proposed_at: BTreeMap<InstanceId, BTreeSet<NodeId>> = BTreeMap::new();
    let mut values: BTreeSet<String> = BTreeSet::new();
    for inv in before.iter().chain(&out) {
        assert!(values.insert(inv.value.clone()), "a value twice: {}", inv.value);
        let at = proposed_at.entry(inv.instance).or_default();
        if inv.revisit {
            assert!(inv.instance <= started, "{inv:?}: not a decided instance");
            // Three proposers, one op each per instance before: another is always free
            // until all three proposed it.
            assert!(at.len() == 3 || !at.contains(&inv.node), "{inv:?}: proposed at {at:?} before");
            assert!(!inv.value.contains("decided"), "a fresh value, not the decided one: {inv:?}");
        }
        at.insert(inv.node);
    }
    assert_eq!(w.in_flight(), 0, "revisits hold no concurrency slot");
    assert_eq!(w.stats.revisits, w.stats.invoked - started);
    // At the bound nothing more starts, not even a new instance, until a revisit ends.
    let mut more = Vec::new();
    w.fill(10);
    sent(&mut w, &mut more);
    assert!(more.is_empty(), "{more:?}");
    let mut after = Vec::new();
    reply(&mut w, 11, out[0].op, &Outcome::Ok("i1-decided".into()), &mut after);
    assert!(after.is_empty(), "a revisit answered ok leaves its instance alone: {after:?}");
    w.fill(11);
    sent(&mut w, &mut more);
    assert_eq!(more.len(), 1);
    assert!(more[0].revisit);
    // A revisit that ends info or fail, or whose node crashed, leaves nothing lacking:
    // its instance is decided, learned and answered. Nothing is retried or chased.
    for (i, inv) in out[1..].iter().enumerate() {
        let outcome = if i % 2 == 0 { Outcome::Info("timeout".into()) } else { Outcome::Fail("busy".into()) };
        reply(&mut w, 12, inv.op, &outcome, &mut after);
    }
    let crashed = exited(&mut w, 13, more[0].node, &mut after);
    assert_eq!(
        crashed.iter().map(|e| (e.op, e.instance)).collect::<Vec<_>>(),
        vec![(more[0].op, more[0].instance)]
    );
    w.handle_node_up(14, more[0].node);
    sent(&mut w, &mut after);
    tick(&mut w, 100_000, &mut after);
    assert!(after.is_empty(), "no revisit is retried: {after:?}");
    assert_eq!((w.unanswered(), w.unlearned(), w.revisits_open(), w.in_flight()), (0, 0, 0, 0));
    let mut chased = Vec::new();
    w.chase(15);
    sent(&mut w, &mut chased);
    assert!(chased.is_empty(), "nothing for the final phase to chase: {chased:?}");
}

#[test]
fn with_revisit_0_no_op_is_a_revisit_and_nothing_is_drawn_for_them() {
    let mut w = revisiting(0.0);
    let (out, before) = rounds(&mut w, 20, &[1, 2, 3]);
    assert_eq!(w.stats.revisits, 0);
    assert_eq!(w.sample.len(), 0, "no sample kept");
    assert!(out.iter().chain(&before).all(|i| !i.revisit));
    // New instances in order, one op each, as before revisits existed.
    assert_eq!(w.stats.invoked, w.stats.instances_started);
    let instances: Vec<InstanceId> = before.iter().map(|i| i.instance).collect();
    assert_eq!(instances, (1..=before.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        w.revisit_rng.clone().next_u64(),
        Rng::new(7 ^ REVISIT_SEED).next_u64(),
        "nothing drawn for revisits"
    );
}

#[test]
fn a_share_of_new_ops_are_revisits_and_the_sample_stays_bounded() {
    let mut w = revisiting(0.1);
    rounds(&mut w, 5_000, &[1, 2, 3]);
    assert!(w.stats.instances_started > 3 * revisit::SAMPLE_MAX as u64);
    assert_eq!(w.sample.len(), revisit::SAMPLE_MAX, "more decided than the sample holds");
    let share = w.stats.revisits as f64 / w.stats.invoked as f64;
    assert!((0.08..0.12).contains(&share), "{share} of {} ops", w.stats.invoked);
}

#[test]
fn half_the_revisits_go_to_a_proposer_that_has_not_learned_the_instance() {
    // Every instance is decided and learned by n1 and n2 only: n3 has not learned them.
    let mut w = revisiting(1.0);
    let (out, before) = rounds(&mut w, 100, &[1, 2]);
    assert!(before.len() > 1_000);
    let revisits: Vec<&Invoke> = before.iter().chain(&out).filter(|i| i.revisit).collect();
    let to_n3 = revisits.iter().filter(|i| i.node == 3).count();
    // Half of them are sent to n3; of the other half, those whose instance was not yet
    // proposed at n3 go there too (n3 is another proposer that has not learned it).
    let share = to_n3 as f64 / revisits.len() as f64;
    assert!(share >= 0.5, "{to_n3} of {} revisits at n3", revisits.len());
    // Chosen among the unlearned: always at n3. From the sample: at a node that did not
    // propose it, if there is one.
    for _ in 0..100 {
        let (instance, node) = w.pick_unlearned().expect("decided and not learned everywhere");
        assert_eq!(node, 3, "instance {instance}");
        let (instance, node) = w.pick_sampled().unwrap();
        let proposed_by = w.unlearned[&instance].proposed_by;
        assert!(proposed_by == 0b111 || proposed_by & bit(node) == 0, "{instance} at n{node}");
    }
    // Once every learner has them, none is chosen among the unlearned.
    let decided: Vec<InstanceId> = w.unlearned.keys().copied().collect();
    for i in decided {
        w.handle_learned(i, 3);
    }
    assert_eq!(w.unlearned(), 0);
    assert_eq!(w.pick_unlearned(), None);
    assert!(w.pick_revisit().is_some());
}

/// Random events, as a faulty run brings them, with many revisits: replies of every kind in
/// any order, learns, nodes exiting and coming back, ticks. The workload keeps its
/// invariants (its own assertions) and never panics. (With revisits, an instance waiting
/// for its crashed client's node could be retired while a revisit of it was still open, and
/// the revisit's end then found no instance: found by `synod mutants --sim`.)
#[test]
fn random_events_with_revisits_never_break_the_workload() {
    use synod_node::paxos::rng::Rng;
    for seed in 1..=40 {
        let mut rng = Rng::new(seed);
        let cfg = WorkloadConfig { revisit: 0.5, max_instances: None, op_timeout_us: 3_000, ..cfg() };
        let mut w = Workload::new(cfg, seed);
        let mut open: Vec<Invoke> = Vec::new();
        let mut now_us = 0;
        for _ in 0..3_000 {
            now_us += rng.below(400);
            match rng.below(10) {
                0 => w.fill(now_us),
                1..=3 if !open.is_empty() => {
                    let inv = open.swap_remove(rng.below(open.len() as u64) as usize);
                    let outcome = match rng.below(3) {
                        0 => Outcome::Info("gave_up".into()),
                        _ => Outcome::Ok(format!("v{}", inv.instance)),
                    };
                    if w.handle_reply(now_us, inv.op, &outcome).is_none() {
                        w.handle_late(inv.op, Some(inv.instance));
                    }
                }
                4 | 5 if !open.is_empty() => {
                    let inv = &open[rng.below(open.len() as u64) as usize];
                    w.handle_learned(inv.instance, 1 + rng.below(3) as NodeId);
                }
                6 => w.handle_node_exited(now_us, 1 + rng.below(3) as NodeId),
                7 => w.handle_node_up(now_us, 1 + rng.below(3) as NodeId),
                _ => w.handle_tick(now_us),
            }
            ended(&mut w);
            open.extend(std::iter::from_fn(|| w.poll_invoke()));
        }
    }
}
