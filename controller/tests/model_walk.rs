//! `synod model`'s random walks (after a search a bound stopped): a move counts as a change
//! exactly when it leads to another state; the walks find first-not-highest, deeper than the
//! search reaches, with a path each step of which is needed, the same path for the same
//! seed, written as a run the checker judges unsafe; a long walk starts fresh worlds and
//! still finds what it finds; walking on after a violation keeps the shortest.

use std::time::Duration;
use synod_controller::model::explore::literal_path;
use synod_controller::model::walk::{replay, walk, WalkLimits};
use synod_controller::model::world::{Packed, World};
use synod_controller::model::{explore, trace, Limits, Rule, Spec};
use synod_node::paxos::Bug;

fn first_not_highest() -> Spec {
    Spec { bug: Some(Bug::FirstNotHighest), ..Spec::default() }
}

/// Walks of at most 64 steps from seed `seed`, at most `max_walks` of them (the time is no
/// bound: a test's result must not hang on the machine's speed), stopping at the first
/// violation.
fn limits(seed: u64, max_walks: u64) -> WalkLimits {
    WalkLimits {
        max_walks: Some(max_walks),
        first_only: true,
        ..WalkLimits::new(Duration::from_secs(3600), 64, seed)
    }
}

#[test]
fn a_move_changes_the_state_exactly_when_its_step_leads_elsewhere() {
    for spec in [Spec::default(), Spec { duplicate: false, ..Spec::default() }, first_not_highest()] {
        let (mut world, root) = World::new(&spec, false);
        // Every state within five steps, breadth first, each move of each judged both ways.
        let (mut level, mut moves, mut checked, mut still) = (vec![root], Vec::new(), 0, 0);
        for _ in 0..5 {
            let mut next_level: Vec<Packed> = Vec::new();
            for state in level {
                world.moves(&state, &mut moves);
                for &mv in &moves.clone() {
                    let changes = world.changes(&state, mv);
                    let step = world.step(&state, mv);
                    assert_eq!(changes, step != Ok(state), "{mv:?} from {state:?}");
                    checked += 1;
                    still += usize::from(!changes);
                    if let Ok(next) = step {
                        if next != state {
                            next_level.push(next);
                        }
                    }
                }
            }
            next_level.sort_by_key(|s| (s.locals, s.net, s.ghost, s.crashes));
            next_level.dedup();
            level = next_level;
        }
        // With duplication a delivery may repeat one already handled; without, each consumes.
        assert!(checked > 1000, "{spec:?}: {checked} moves");
        assert_eq!(still > 0, spec.duplicate, "{spec:?}: {still} of {checked} moves change nothing");
    }
}

#[test]
fn walks_find_first_not_highest_past_the_levels_the_search_finishes() {
    let spec = first_not_highest();
    let search = explore(&spec, Limits { max_states: Some(100_000), ..Limits::default() });
    assert!(search.violation.is_none(), "{:?}", search.violation);
    assert_eq!(search.bounded_by, Some("max-states"));
    assert!(search.judged_depth >= 7, "{}", search.judged_depth);

    let (mut world, root) = World::new(&spec, false);
    let out = walk(&mut world, root, limits(0, 50_000));
    let found = out.found.expect("a walk must find first-not-highest");
    assert_eq!(found.violation.rule, Rule::ChosenUniqueness, "{}", found.violation);
    let len = found.path.len();
    assert!(len > search.judged_depth as usize, "{len} steps: the search judged every path that short");
    assert!(len <= found.walk_len && len <= 24, "shrunk from {} to {len}", found.walk_len);
    assert_eq!(
        replay(&mut world, root, &found.path).map(|(at, v)| (at, v.rule)),
        Some((len, Rule::ChosenUniqueness))
    );
    // No step can be left out: without any one, the rest breaks no rule, or another.
    for at in 0..len {
        let mut without = found.path.clone();
        without.remove(at);
        let broken = replay(&mut world, root, &without).filter(|(_, v)| v.rule == Rule::ChosenUniqueness);
        assert!(broken.is_none(), "step {at} of {len} is not needed: {without:?}");
    }

    // The same seed walks the same way: the same counterexample, move for move.
    let actions = literal_path(&spec, &world, &found.path);
    assert_eq!(actions, found.actions);
    let (mut again, root) = World::new(&spec, false);
    let second = walk(&mut again, root, limits(0, 50_000)).found.expect("found again");
    assert_eq!(literal_path(&spec, &again, &second.path), actions);

    // Written as a run, the checker judges it unsafe, in a screenful of lines.
    let runs = std::env::temp_dir().join(format!("synod-model-walk-{}", std::process::id()));
    let dir = trace::write_run(&spec, &actions, &found.violation, &runs, &[]).unwrap();
    let report = synod_checker::check_path(&dir).unwrap();
    assert_eq!(report.exit_code(), 1, "the checker must judge the walk's counterexample unsafe");
    let lines = std::fs::read_to_string(dir.join("history.jsonl")).unwrap().lines().count();
    assert!(lines <= 400, "{lines} history lines");

    std::fs::remove_dir_all(&runs).unwrap();
}

#[test]
fn walks_start_fresh_worlds_past_their_bound_and_still_find_what_they_find() {
    // The correct protocol: nothing to find, and a world bounded to a few thousand values
    // is replaced many times.
    let spec = Spec::default();
    let (mut world, root) = World::new(&spec, false);
    let out = walk(&mut world, root, WalkLimits { max_values: 5_000, ..limits(1, 300) });
    assert!(out.found.is_none(), "{:?}", out.found);
    assert_eq!(out.walks, 300);
    assert!(out.resets >= 3, "{} fresh worlds", out.resets);
    assert!(world.values() <= 5_000 + 64 * 40, "{} values held", world.values());

    // A mutant walks found in one world are found across fresh ones too.
    let spec = Spec { bug: Some(Bug::VolatileAcceptor), ..Spec::default() };
    let (mut world, root) = World::new(&spec, false);
    let out = walk(&mut world, root, WalkLimits { max_values: 2_000, ..limits(1, 50_000) });
    let found = out.found.expect("volatile-acceptor must be found");
    assert_eq!(found.violation.rule, Rule::AcceptorMonotonicity);
    assert_eq!(replay(&mut world, root, &found.path).map(|(at, _)| at), Some(found.path.len()));

    // Walking on after the first violation keeps the shortest, across fresh worlds: here
    // as short as the search's shortest (5 steps), and still a run the checker judges unsafe.
    let (mut world, root) = World::new(&spec, false);
    let on = walk(&mut world, root, WalkLimits { first_only: false, max_values: 2_000, ..limits(1, 300) });
    let (walks, violations, resets) = (on.walks, on.violations, on.resets);
    assert!(
        walks == 300 && violations >= 2 && resets >= 1,
        "{walks} walks, {violations} violations, {resets} resets"
    );
    let best = on.found.expect("volatile-acceptor must be found");
    assert_eq!(best.actions.len(), 5, "{:?}", best.actions);
    let runs = std::env::temp_dir().join(format!("synod-model-walk-on-{}", std::process::id()));
    let dir = trace::write_run(&spec, &best.actions, &best.violation, &runs, &[]).unwrap();
    assert_eq!(synod_checker::check_path(&dir).unwrap().exit_code(), 1);
    std::fs::remove_dir_all(&runs).unwrap();
}

/// `synod model` as a user runs it: a search bounded at 1,000 states, then walks.
fn synod_model(args: &[&str], runs: &std::path::Path) -> (Option<i32>, serde_json::Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_synod"))
        .args(["model", "--max-states", "1000", "--json", "-q", "--runs-dir"])
        .arg(runs)
        .args(args)
        .output()
        .expect("synod runs");
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), json)
}

#[test]
fn the_command_reports_a_walks_violation_as_not_known_shortest() {
    let runs = std::env::temp_dir().join(format!("synod-model-walk-cli-{}", std::process::id()));
    // The time is no bound here: seed 3 finds it within its first thousand walks.
    let args = ["--bug", "first-not-highest", "--seed", "3", "--walk-time", "600", "--max-walks", "1000"];
    let (code, json) = synod_model(&args, &runs);
    assert_eq!(code, Some(1), "{json}");
    let v = &json["violation"];
    assert_eq!(
        (v["rule"].as_str(), v["found_by"].as_str(), v["shortest"].as_bool()),
        (Some("chosen-uniqueness"), Some("walk"), Some(false)),
        "{json}"
    );
    assert!(v["steps"].as_u64().unwrap() > json["judged_depth"].as_u64().unwrap(), "{json}");
    assert_eq!(json["walks"]["walks"].as_u64(), Some(1000), "{json}");
    assert!(json["walks"]["violations"].as_u64().is_some_and(|v| v >= 1), "{json}");
    let report = synod_checker::check_path(std::path::Path::new(v["run"].as_str().unwrap())).unwrap();
    assert_eq!(report.exit_code(), 1, "the checker must judge the walk's counterexample unsafe");

    // The correct protocol: walks for a second, nothing found, exit 0.
    let (code, json) = synod_model(&["--walk-time", "1"], &runs);
    assert_eq!(code, Some(0), "{json}");
    assert!(
        json["violation"].is_null() && json["walks"]["steps"].as_u64().is_some_and(|s| s > 100),
        "{json}"
    );
    // With no walks asked for, none are made.
    let (_, json) = synod_model(&["--walk-time", "0"], &runs);
    assert!(json["walks"].is_null(), "{json}");
    std::fs::remove_dir_all(&runs).unwrap();
}
