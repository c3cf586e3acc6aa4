//! Property tests: the node (its core, turn, log and archive on the simulated disk, as
//! `synod sim` runs it: tests/sim), driven through random schedules of a lossy, duplicating,
//! reordering network with crash-restarts and power cuts, never lets two learners decide
//! differently and never decides an unproposed value; and the same harness catches the
//! mutants, the storage one (skip-fsync) included.

mod sim;

use proptest::prelude::*;
use sim::{Params, Sim};
use synod_node::paxos::Bug;

/// At least 10,000 random schedules per test run (the floor); more with PROPTEST_CASES.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(10_000).max(10_000)
}

/// Windows of live decisions the schedules draw from: retire at once, after one or a few, or
/// (the default) practically never.
const RETAIN: [usize; 4] = [0, 1, 3, 16_384];

fn params(acceptors: usize) -> impl Strategy<Value = Params> {
    let faults = (0u64..=200, 0u64..=150, 0u64..=30, 0usize..RETAIN.len());
    (any::<u64>(), 2usize..=3, 1u64..=6, 50usize..=300, faults).prop_map(
        move |(seed, proposers, instances, steps, (loss_pm, dup_pm, crash_pm, retain))| Params {
            seed,
            acceptors,
            proposers,
            instances,
            steps,
            loss_pm,
            dup_pm,
            crash_pm,
            bug: None,
            retain_decided: RETAIN[retain],
            check_liveness: true,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn three_acceptors_agree_and_stay_valid(p in params(3)) {
        let mut sim = Sim::new(p);
        if let Err(v) = sim.run() {
            prop_assert!(false, "{v}");
        }
    }

    #[test]
    fn five_acceptors_agree_and_stay_valid(p in params(5)) {
        let mut sim = Sim::new(p);
        if let Err(v) = sim.run() {
            prop_assert!(false, "{v}");
        }
    }
}

/// The harness is not vacuous: schedules do deliver, lose and crash, and still decide.
#[test]
fn schedules_exercise_faults_and_decide() {
    let (mut delivered, mut dropped, mut crashes, mut decided_before_final, mut runs, mut catchups) =
        (0u64, 0u64, 0u32, 0usize, 0u32, 0u64);
    let (mut archived, mut lookups, mut compactions, mut power_cuts) = (0u64, 0u64, 0u64, 0u32);
    for seed in 0..500 {
        let p = Params {
            seed,
            acceptors: 3 + 2 * (seed % 2) as usize,
            proposers: 2,
            instances: 2 + seed % 4,
            steps: 300,
            loss_pm: 100,
            dup_pm: 50,
            crash_pm: 10,
            bug: None,
            retain_decided: RETAIN[(seed / 2 % 4) as usize],
            check_liveness: false,
        };
        let mut sim = Sim::new(p);
        sim.run().unwrap();
        delivered += sim.delivered;
        dropped += sim.dropped;
        catchups += sim.catchups;
        crashes += sim.crashes;
        decided_before_final += sim.decisions();
        (archived, lookups, compactions) =
            (archived + sim.archived, lookups + sim.lookups, compactions + sim.compactions);
        power_cuts += sim.power_cuts;
        runs += 1;
    }
    println!("{runs} runs: {delivered} delivered, {dropped} lost, {crashes} crashes, {decided_before_final} instances decided, {catchups} catch-up requests delivered");
    println!("{archived} decisions archived, {lookups} lookups answered, {compactions} compactions, {power_cuts} power cuts inside a turn");
    assert!(catchups > runs as u64, "learners that miss decisions must ask for them (catch-up)");
    assert!(archived > runs as u64, "decisions must be retired to the archive");
    assert!(lookups > runs as u64 / 4, "retired decisions must be asked for and looked up");
    assert!(compactions > runs as u64, "logs must be compacted");
    assert!(dropped * 20 > delivered, "about a tenth of deliveries must be lost");
    assert!(crashes > runs, "crashes must happen");
    assert!(power_cuts * 10 > runs, "power cuts must strike inside appends and compactions");
    assert!(decided_before_final > runs as usize, "most schedules must decide something despite faults");
}

/// Schedules tried per mutant before it counts as not caught.
const MUTANT_BUDGET: u64 = 4_000;

/// The first seed whose schedule shows a safety violation under `bug`, with its message.
fn hunt(bug: Bug) -> Option<(u64, String)> {
    (0..MUTANT_BUDGET).find_map(|seed| {
        // Swarm testing: each schedule draws its own mix of faults.
        let mut r = synod_node::paxos::rng::Rng::new(seed ^ 0x5eed);
        let p = Params {
            seed,
            acceptors: if r.below(2) == 0 { 3 } else { 5 },
            proposers: 2 + r.below(2) as usize,
            instances: 1,
            steps: 200 + r.below(600) as usize,
            loss_pm: r.below(200),
            dup_pm: r.below(100),
            crash_pm: r.below(60),
            bug: Some(bug),
            // Not a window of 0: retiring a decision at once answers every later ballot with
            // `decided`, which hides what these mutants break (why runs keep a window).
            retain_decided: RETAIN[1 + r.below(RETAIN.len() as u64 - 1) as usize],
            check_liveness: false,
        };
        Sim::new(p).run().err().map(|v| (seed, v))
    })
}

#[test]
fn the_harness_catches_the_mutants() {
    let mut caught = Vec::new();
    let mut missed = Vec::new();
    // The storage bug (skip-fsync) too: every crash is a power loss of the simulated disk.
    for bug in Bug::ALL {
        match hunt(bug) {
            Some((seed, v)) => {
                println!("caught {bug} at seed {seed}: {v}");
                caught.push(bug);
            }
            None => {
                println!("missed {bug} in {MUTANT_BUDGET} schedules");
                missed.push(bug);
            }
        }
    }
    println!("caught {} of {}: {caught:?}; missed {missed:?}", caught.len(), caught.len() + missed.len());
    assert!(
        caught.len() >= 6,
        "the property must catch at least six mutants; caught {caught:?}, missed {missed:?}"
    );
    assert!(
        caught.contains(&Bug::SkipFsync),
        "a power loss of the simulated disk must show skip-fsync; caught {caught:?}"
    );
}
