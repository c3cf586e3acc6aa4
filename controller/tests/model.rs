//! `synod model`'s search over the real core: the correct protocol explores small spaces
//! completely without a violation; the fast search (interned states, each node step run
//! once) visits exactly the states and transitions of the plain reference search; the
//! reduced net (no loss step, kept copies) reaches every node state the literal net does;
//! the count of states is the same run after run; and mutants are found at their known
//! shortest depths, written as runs the checker judges unsafe; taking dead messages out, and
//! merging node states whose records rebuild the same core, keep every combination of node
//! states and ghost, and every violation at its depth.

use std::path::PathBuf;
use synod_controller::model::{explore, explore_with, reference, trace, Limits, Net, Reduction, Rule, Spec};
use synod_node::paxos::Bug;

/// One proposer, no crashes, a net that delivers each copy once.
fn small() -> Spec {
    Spec { nodes: 2, proposers: 1, crashes: 0, duplicate: false, max_ballots: 1, ..Spec::default() }
}

/// Specs small enough for the reference search in a debug build, each a different corner:
/// duplication or not, crashes, retries, two proposers.
fn tiny_specs() -> Vec<Spec> {
    vec![
        small(),
        Spec { nodes: 1, proposers: 1, max_ballots: 1, crashes: 1, ..Spec::default() },
        Spec { nodes: 1, proposers: 1, max_ballots: 2, crashes: 0, duplicate: false, ..Spec::default() },
        Spec { nodes: 3, proposers: 1, max_ballots: 1, crashes: 0, ..Spec::default() },
        Spec { nodes: 2, proposers: 2, max_ballots: 1, crashes: 0, duplicate: false, ..Spec::default() },
    ]
}

#[test]
fn the_correct_core_explores_a_small_space_completely() {
    let out = explore(&small(), Limits::default());
    assert!(out.violation.is_none(), "{:?}", out.violation);
    assert!(out.complete(), "bounded by {:?}", out.bounded_by);
    assert_eq!(out.judged_depth, out.depth, "a complete search judged every path");
    assert!(out.states > 10, "{} states: the search must go somewhere", out.states);
}

#[test]
fn the_fast_search_visits_what_the_reference_search_visits() {
    for spec in tiny_specs() {
        let fast = explore_with(&spec, Limits::default(), Reduction::None);
        let plain = reference::explore(&spec, Limits::default(), Net::Reduced);
        assert!(fast.complete() && plain.complete(), "{spec:?}");
        assert_eq!(
            (fast.states, fast.transitions, fast.depth),
            (plain.states, plain.transitions, plain.depth),
            "{spec:?}"
        );
        assert!(fast.node_states > 0 && fast.core_steps >= fast.node_states - u64::from(spec.nodes));
    }
    // A bound cuts both at the same place.
    let spec = Spec::default();
    let limits = Limits { max_depth: Some(4), ..Limits::default() };
    let (fast, plain) =
        (explore_with(&spec, limits, Reduction::None), reference::explore(&spec, limits, Net::Reduced));
    assert_eq!(
        (fast.states, fast.transitions, fast.bounded_by),
        (plain.states, plain.transitions, plain.bounded_by)
    );
}

#[test]
fn the_reduced_net_reaches_every_node_state_the_literal_net_reaches() {
    for spec in tiny_specs().into_iter().take(3) {
        let reduced = reference::node_states(&spec, Net::Reduced).expect("no violation");
        let literal = reference::node_states(&spec, Net::Full).expect("no violation");
        assert!(reduced.len() > 5, "{spec:?}");
        assert_eq!(reduced, literal, "{spec:?}: the reduction must neither lose nor invent node states");
    }
}

#[test]
fn the_state_count_is_the_same_run_after_run() {
    let spec = Spec::default();
    let limits = Limits { max_depth: Some(5), ..Limits::default() };
    let a = explore(&spec, limits);
    let b = explore(&spec, limits);
    assert!(a.violation.is_none(), "{:?}", a.violation);
    assert_eq!((a.states, a.transitions, a.depth), (b.states, b.transitions, b.depth));
    assert_eq!(a.bounded_by, Some("max-depth"));
    assert_eq!(a.judged_depth, 5, "every path of at most --max-depth steps is judged");
}

/// Crash-free specs where the dead-message analysis finishes: one ballot a proposal, or two
/// with one proposer (the analysis bounds rounds by the ballots a run can start).
fn crash_free_specs() -> Vec<Spec> {
    let mut specs: Vec<Spec> = tiny_specs().into_iter().filter(|s| s.crashes == 0).collect();
    specs.push(Spec { nodes: 2, proposers: 2, max_ballots: 1, crashes: 0, ..Spec::default() });
    specs.push(Spec { nodes: 2, proposers: 1, max_ballots: 2, crashes: 0, ..Spec::default() });
    specs
}

#[test]
fn taking_dead_messages_out_keeps_every_combination_of_node_states_and_ghost() {
    let mut fewer = 0;
    for spec in crash_free_specs() {
        let plain = explore_with(&spec, Limits::default(), Reduction::None);
        let reduced = explore_with(&spec, Limits::default(), Reduction::NoSymmetry);
        assert!(plain.complete() && reduced.complete(), "{spec:?}");
        assert!(reduced.dead_messages && !plain.dead_messages, "{spec:?}: the analysis must finish");
        assert!(plain.combinations > 5, "{spec:?}");
        assert_eq!(
            reduced.combinations, plain.combinations,
            "{spec:?}: only states that differ in dead messages may merge"
        );
        assert!(reduced.states <= plain.states, "{spec:?}");
        fewer += usize::from(reduced.states * 2 < plain.states);
    }
    assert!(fewer >= 2, "the reduction must halve some spaces");
    // With crashes it does not apply: a restarted node is in none of the states analysed.
    let spec = Spec { max_ballots: 1, ..small() };
    let spec = Spec { crashes: 1, ..spec };
    assert!(!explore(&spec, Limits { max_depth: Some(3), ..Limits::default() }).dead_messages);
}

/// Node states whose records rebuild the same core are one state: with crashes left, the
/// default spec (two proposers, one crash) reaches the same combinations of node classes,
/// ghost, asks and crashes at every depth with and without, in fewer states; and the mutants
/// a crash exposes are found at the same depth, breaking the same rule.
#[test]
fn merging_node_states_by_what_their_records_rebuild_keeps_every_combination() {
    let spec = Spec::default();
    for depth in [4, 6, 8] {
        let limits = Limits { max_depth: Some(depth), ..Limits::default() };
        let (plain, merged) = (explore_with(&spec, limits, Reduction::None), explore(&spec, limits));
        assert!(!merged.dead_messages, "with a crash and two ballots the analysis gives up");
        assert!(plain.combinations > 100, "depth {depth}");
        assert_eq!(merged.combinations, plain.combinations, "depth {depth}: only states alike may merge");
        assert!(merged.states <= plain.states, "depth {depth}");
        if depth == 8 {
            assert!(
                merged.states * 10 < plain.states * 9,
                "{} of {}: 10% fewer",
                merged.states,
                plain.states
            );
        }
    }
    for bug in [Bug::VolatileAcceptor, Bug::SkipFsync, Bug::BallotReuseAfterRestart] {
        let spec = Spec { bug: Some(bug), ..Spec::default() };
        let plain = explore_with(&spec, Limits::default(), Reduction::None);
        let merged = explore(&spec, Limits::default());
        let (v, path) = merged.violation.unwrap_or_else(|| panic!("{} must be found", bug.name()));
        let (w, plain_path) = plain.violation.expect("found without merging too");
        assert_eq!((v.rule, path.len()), (w.rule, plain_path.len()), "{}", bug.name());
    }
}

#[test]
fn mutants_are_found_at_the_same_depth_with_dead_messages_taken_out() {
    let runs = std::env::temp_dir().join(format!("synod-model-dead-{}", std::process::id()));
    for bug in [Bug::LearnOnOne, Bug::AcceptLowerBallot, Bug::AcceptKeepsPromise, Bug::NonUniqueBallots] {
        let spec = Spec { bug: Some(bug), crashes: 0, max_ballots: 1, ..Spec::default() };
        let plain = explore_with(&spec, Limits::default(), Reduction::None);
        let reduced = explore_with(&spec, Limits::default(), Reduction::Full);
        assert!(reduced.dead_messages, "{}", bug.name());
        let (v, path) = reduced.violation.unwrap_or_else(|| panic!("{} must be found", bug.name()));
        let (w, plain_path) = plain.violation.expect("found without the reduction too");
        assert_eq!((v.rule, path.len()), (w.rule, plain_path.len()), "{}", bug.name());
        let dir = trace::write_run(&spec, &path, &v, &runs, &[]).unwrap();
        let report = synod_checker::check_path(&dir).unwrap();
        assert_eq!(report.exit_code(), 1, "{}: the checker must judge the counterexample unsafe", bug.name());
    }
    std::fs::remove_dir_all(&runs).unwrap();
}

/// Mutants the default spec finds within a test's time, with the rule each breaks first and
/// the length of its shortest counterexample.
const FOUND: [(Bug, Rule, usize); 7] = [
    (Bug::LearnOnOne, Rule::LearnedOnlyIfChosen, 3),
    (Bug::MinorityQuorum, Rule::LearnedOnlyIfChosen, 3),
    (Bug::BallotReuseAfterRestart, Rule::OneValuePerBallot, 3),
    (Bug::SkipFsync, Rule::OneValuePerBallot, 3),
    (Bug::AcceptLowerBallot, Rule::AcceptorMonotonicity, 4),
    (Bug::VolatileAcceptor, Rule::AcceptorMonotonicity, 5),
    (Bug::AcceptKeepsPromise, Rule::AcceptorMonotonicity, 8),
];

#[test]
fn mutants_are_found_at_their_shortest_depth_and_the_checker_agrees() {
    let runs = std::env::temp_dir().join(format!("synod-model-test-{}", std::process::id()));
    for (bug, rule, steps) in FOUND {
        let spec = Spec { bug: Some(bug), ..Spec::default() };
        let out = explore(&spec, Limits::default());
        let (v, path) = out.violation.unwrap_or_else(|| panic!("{} must be found", bug.name()));
        assert_eq!((v.rule, path.len()), (rule, steps), "{}: {v} after {path:?}", bug.name());
        let dir: PathBuf = trace::write_run(&spec, &path, &v, &runs, &[]).unwrap();
        let report = synod_checker::check_path(&dir).unwrap();
        assert_eq!(report.exit_code(), 1, "{}: the checker must judge the counterexample unsafe", bug.name());
    }
    // The same search on the smallest spec: propose, the accept to one acceptor, its
    // `accepted` to a learner.
    let spec = Spec { bug: Some(Bug::LearnOnOne), ..small() };
    let (v, path) = explore(&spec, Limits::default()).violation.expect("learn-on-one must be found");
    assert_eq!((v.rule, path.len()), (Rule::LearnedOnlyIfChosen, 3), "{path:?}");
    std::fs::remove_dir_all(&runs).unwrap();
}

#[test]
fn skip_fsync_is_only_found_because_a_crash_cuts_the_power() {
    let spec = Spec { bug: Some(Bug::SkipFsync), crashes: 0, ..Spec::default() };
    let out = explore(&spec, Limits { max_depth: Some(6), ..Limits::default() });
    assert!(
        out.violation.is_none(),
        "without a crash skip-fsync is the correct protocol: {:?}",
        out.violation
    );
}
