//! Revisits end to end (issue 15, item 4): proposals with fresh values to instances that are
//! already decided. A correct cluster answers each with the decided value; a cluster whose
//! acceptors forget what they accepted chooses a second value while the workload still runs.

mod common;

use common::{history, latest, run_ok, runs_dir, synod};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[test]
fn a_correct_cluster_answers_every_revisit_with_the_decided_value() {
    let dir = runs_dir("revisits");
    let d = dir.to_str().unwrap().to_string();
    // Kills too: revisits that end `info` (their node crashed) must not cost liveness.
    let args = [
        "run",
        "--nodes",
        "3",
        "--time",
        "3",
        "--revisit",
        "0.5",
        "--nemesis",
        "kill",
        "--runs-dir",
        &d,
        "-q",
    ];
    run_ok(&args); // exit 0: safe and live
    let run = latest(&dir);
    let events = history(&run, false);
    let meta: Value = serde_json::from_str(&std::fs::read_to_string(run.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["config"]["revisit"], 0.5);
    let mut learned: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    let mut first_proposers: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    let mut revisits: BTreeMap<u64, &Value> = BTreeMap::new();
    let mut workload_phase = false;
    for e in &events {
        match e["type"].as_str().unwrap() {
            "phase" => workload_phase = e["phase"] == "workload",
            "learn" => {
                learned
                    .entry(e["instance"].as_u64().unwrap())
                    .or_default()
                    .insert(e["value"].as_str().unwrap());
            }
            "invoke" if e["revisit"] == true => {
                assert!(workload_phase, "a revisit in the final phase: {e}");
                let instance = e["instance"].as_u64().unwrap();
                assert!(learned.contains_key(&instance) || first_proposers.contains_key(&instance), "{e}");
                revisits.insert(e["op"].as_u64().unwrap(), e);
            }
            "invoke" => {
                assert!(e.get("revisit").is_none(), "only revisits carry the field: {e}");
                first_proposers
                    .entry(e["instance"].as_u64().unwrap())
                    .or_default()
                    .insert(e["node"].as_u64().unwrap());
            }
            _ => {}
        }
    }
    let invokes = common::count(&events, "invoke");
    assert!(revisits.len() > 50, "{} revisits of {invokes} invokes", revisits.len());
    let mut answered = 0;
    for e in events.iter().filter(|e| e["type"] == "ok") {
        let Some(inv) = revisits.get(&e["op"].as_u64().unwrap()) else { continue };
        let instance = inv["instance"].as_u64().unwrap();
        assert_eq!(e["instance"].as_u64(), Some(instance));
        let decided = &learned[&instance];
        assert_eq!(decided.len(), 1, "instance {instance}: {decided:?}");
        assert!(decided.contains(e["value"].as_str().unwrap()), "revisit answered {e}, decided {decided:?}");
        assert_ne!(e["value"], inv["value"], "the fresh value was chosen: {e}");
        answered += 1;
    }
    assert!(answered * 2 > revisits.len(), "{answered} of {} revisits answered ok", revisits.len());
    // Each revisit went to a proposer that had not proposed its instance before, or to one
    // that had not learned it, whenever there was such a proposer.
    let (mut proposed, mut learned_by) =
        (BTreeMap::<u64, BTreeSet<u64>>::new(), BTreeMap::<u64, BTreeSet<u64>>::new());
    let mut elsewhere = 0;
    for e in &events {
        let (Some(instance), Some(node)) = (e["instance"].as_u64(), e["node"].as_u64()) else { continue };
        match e["type"].as_str().unwrap() {
            "learn" => {
                learned_by.entry(instance).or_default().insert(node);
            }
            "invoke" => {
                let before = proposed.entry(instance).or_default();
                if e["revisit"] == true {
                    let learned = learned_by.get(&instance).cloned().unwrap_or_default();
                    let other = !before.contains(&node);
                    let unlearned = !learned.contains(&node);
                    let any_other_or_unlearned = before.len() < 3 || learned.len() < 3;
                    assert!(
                        other || unlearned || !any_other_or_unlearned,
                        "{e}: proposed at {before:?}, learned by {learned:?}"
                    );
                    elsewhere += usize::from(other);
                }
                before.insert(node);
            }
            _ => {}
        }
    }
    // (Most instances are revisited several times: once all three proposed one, only the
    // rule about learning is left to choose by.)
    assert!(elsewhere > 0, "no revisit at another proposer of {}", revisits.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The acceptance line of issue 15: `synod run --bug volatile-acceptor --nemesis kill
/// --nodes 3 --time 15` has its first violation during the workload, not after the final
/// phase's heal-all. Shorter here (6 s, seed 2: a kill of n2 at 0.6 s, then of n1 at 1.3 s,
/// which is what it takes: a node that missed a decision, and one that voted for it and
/// forgot). Without revisits the same run is caught only in the final phase (docs/nemesis.md,
/// "Revisits").
#[test]
fn an_amnesiac_acceptor_is_caught_during_the_workload() {
    let dir = runs_dir("amnesia");
    let d = dir.to_str().unwrap().to_string();
    let args = [
        "run",
        "--bug",
        "volatile-acceptor",
        "--nemesis",
        "kill",
        "--nodes",
        "3",
        "--time",
        "6",
        "--seed",
        "2",
        "--runs-dir",
        &d,
        "-q",
    ];
    let out = synod().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let run = latest(&dir);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    let first = report["safety"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["first"]["line"].as_u64())
        .min()
        .expect("a violation");
    let events = history(&run, false);
    let heal_all = events
        .iter()
        .position(|e| e["type"] == "nemesis" && e["action"] == "heal-all" && e["final"] == true)
        .expect("a final heal-all") as u64
        + 1;
    assert!(
        first < heal_all,
        "first violation at line {first}, the final phase's heal-all at line {heal_all}"
    );
    // It is a revisit's value that was chosen a second time.
    let agreement = report["safety"].as_array().unwrap().iter().find(|r| r["rule"] == "agreement").unwrap();
    assert_eq!(agreement["ok"], false);
    let instance = agreement["first"]["instance"].as_u64().unwrap();
    let revisited: BTreeSet<&str> = events
        .iter()
        .filter(|e| e["type"] == "invoke" && e["revisit"] == true && e["instance"].as_u64() == Some(instance))
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    let learned: BTreeSet<&str> = events
        .iter()
        .filter(|e| e["type"] == "learn" && e["instance"].as_u64() == Some(instance))
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert!(learned.len() >= 2, "{learned:?}");
    assert!(learned.iter().any(|v| revisited.contains(v)), "learned {learned:?}, revisits {revisited:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
