//! `synod model`'s search over the real core: the correct protocol explores a small space
//! completely without a violation, the count of states is the same run after run, and a
//! mutant is found at its known shortest depth, written as a run the checker judges unsafe.

use std::path::PathBuf;
use synod_controller::model::{explore, trace, Limits, Rule, Spec};
use synod_node::paxos::Bug;

/// One proposer, no crashes, a reliable net: small enough to explore completely in a test.
fn small() -> Spec {
    Spec {
        nodes: 2,
        proposers: 1,
        crashes: 0,
        loss: false,
        duplicate: false,
        max_ballots: 1,
        ..Spec::default()
    }
}

#[test]
fn the_correct_core_explores_a_small_space_completely() {
    let out = explore(&small(), Limits::default());
    assert!(out.violation.is_none(), "{:?}", out.violation);
    assert!(out.complete(), "bounded by {:?}", out.bounded_by);
    assert!(out.states > 10, "{} states: the search must go somewhere", out.states);
}

#[test]
fn the_state_count_is_the_same_run_after_run() {
    let spec = Spec::default();
    let limits = Limits { max_depth: Some(4), ..Limits::default() };
    let a = explore(&spec, limits);
    let b = explore(&spec, limits);
    assert!(a.violation.is_none(), "{:?}", a.violation);
    assert_eq!((a.states, a.transitions, a.depth), (b.states, b.transitions, b.depth));
    assert_eq!(a.bounded_by, Some("max-depth"));
}

#[test]
fn learn_on_one_is_found_at_its_shortest_depth_and_the_checker_agrees() {
    let spec = Spec { bug: Some(Bug::LearnOnOne), ..small() };
    let out = explore(&spec, Limits::default());
    let (v, path) = out.violation.expect("learn-on-one must be found");
    assert_eq!(v.rule, Rule::LearnedOnlyIfChosen, "{v}");
    // Propose, deliver the accept to one acceptor, deliver its `accepted` to a learner.
    assert_eq!(path.len(), 3, "{path:?}");
    let runs = std::env::temp_dir().join(format!("synod-model-test-{}", std::process::id()));
    let dir: PathBuf = trace::write_run(&spec, &path, &v, &runs, &[]).unwrap();
    let report = synod_checker::check_path(&dir).unwrap();
    assert_eq!(report.exit_code(), 1, "the checker must judge the counterexample unsafe");
    std::fs::remove_dir_all(&runs).unwrap();
}
