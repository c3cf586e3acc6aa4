//! `synod model`'s symmetry: with interchangeable nodes (those that do not propose), the
//! search visits one state of each set of renamings, and the states they stand for are
//! exactly the states the search without symmetry visits; mutants are found at the same
//! depth, breaking the same rule, with a counterexample (renamed back) the checker judges
//! unsafe.

use synod_controller::model::{explore_with, trace, Limits, Reduction, Spec};
use synod_node::paxos::Bug;

/// Specs with two or three nodes that do not propose, each a different corner: duplication
/// or not, a crash, two proposers; the larger ones bounded by depth (a renaming keeps a
/// state's depth, so the bound cuts both searches alike).
fn symmetric_specs() -> Vec<(Spec, Option<u32>)> {
    let one = Spec { proposers: 1, max_ballots: 1, crashes: 0, ..Spec::default() };
    vec![
        (Spec { nodes: 3, duplicate: false, ..one.clone() }, None),
        (Spec { nodes: 3, ..one.clone() }, None),
        (Spec { nodes: 4, ..one.clone() }, None),
        (Spec { nodes: 3, crashes: 1, ..one.clone() }, Some(8)),
        (Spec { nodes: 4, proposers: 2, duplicate: false, ..one }, Some(8)),
    ]
}

#[test]
fn the_states_visited_stand_for_exactly_the_states_of_the_search_without_symmetry() {
    for (spec, max_depth) in symmetric_specs() {
        let limits = Limits { max_depth, ..Limits::default() };
        let plain = explore_with(&spec, limits, Reduction::None);
        let sym = explore_with(&spec, limits, Reduction::Symmetry);
        assert_eq!(plain.complete(), max_depth.is_none(), "{spec:?}");
        assert_eq!(sym.complete(), plain.complete(), "{spec:?}");
        assert_eq!(plain.symmetry, 1);
        let free = spec.nodes - spec.proposers;
        assert_eq!(sym.symmetry, (1..=u64::from(free)).product::<u64>(), "{spec:?}: every renaming");
        assert_eq!(sym.unfolded_states, plain.states, "{spec:?}: each state once, with its renamings");
        assert_eq!(sym.depth, plain.depth, "{spec:?}");
        assert!(sym.states * 3 < plain.states * 2, "{spec:?}: {} of {} states", sym.states, plain.states);
    }
}

#[test]
fn mutants_are_found_at_the_same_depth_with_symmetry_and_renamed_back() {
    let runs = std::env::temp_dir().join(format!("synod-model-symmetry-{}", std::process::id()));
    // With a crash the dead-message analysis does not run (it would take long on four
    // nodes and two proposers); the one crash-free case is analysed in a moment.
    let cases = [
        (Bug::LearnOnOne, Spec { nodes: 4, proposers: 1, max_ballots: 1, crashes: 0, ..Spec::default() }),
        (Bug::AcceptLowerBallot, Spec { nodes: 4, proposers: 2, max_ballots: 1, ..Spec::default() }),
        (Bug::VolatileAcceptor, Spec { nodes: 4, proposers: 2, max_ballots: 1, ..Spec::default() }),
        (Bug::MinorityQuorum, Spec { nodes: 5, proposers: 2, max_ballots: 1, ..Spec::default() }),
    ];
    for (bug, spec) in cases {
        let spec = Spec { bug: Some(bug), ..spec };
        let plain = explore_with(&spec, Limits::default(), Reduction::None);
        for reduction in [Reduction::Symmetry, Reduction::Full] {
            let out = explore_with(&spec, Limits::default(), reduction);
            assert!(out.symmetry > 1, "{}: nodes that do not propose are interchangeable", bug.name());
            let (v, path) = out.violation.unwrap_or_else(|| panic!("{} must be found", bug.name()));
            let (w, plain_path) = plain.violation.clone().expect("found without symmetry too");
            assert_eq!((v.rule, path.len()), (w.rule, plain_path.len()), "{} {reduction:?}", bug.name());
            // The path is replayed on whole states from the initial one: a move left renamed
            // would name a message not in flight there.
            let dir = trace::write_run(&spec, &path, &v, &runs, &[]).unwrap();
            let report = synod_checker::check_path(&dir).unwrap();
            assert_eq!(report.exit_code(), 1, "{}: the checker must judge it unsafe", bug.name());
        }
    }
    std::fs::remove_dir_all(&runs).unwrap();
}
