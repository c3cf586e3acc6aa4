//! Every scenario of `synod scenario`, run with real processes: it must end with its
//! expected outcome, within 20 s, and its printed trace must show the event it is named after.

mod common;

use common::*;
use std::time::{Duration, Instant};

fn scenario(name: &str, shows: &[&str]) {
    let dir = runs_dir(&format!("scenario-{name}"));
    let started = Instant::now();
    let out =
        synod().args(["scenario", "run", name, "--runs-dir", dir.to_str().unwrap(), "-q"]).output().unwrap();
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{name}:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("expected outcome: "), "{text}");
    for want in shows {
        assert!(text.contains(want), "{name}: the trace does not show {want:?}:\n{text}");
    }
    assert!(elapsed < Duration::from_secs(20), "{name} took {elapsed:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn scenario_list_names_every_scenario() {
    let out = run_ok(&["scenario", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for name in [
        "lost-accept",
        "proposer-dies-mid-accept",
        "dueling-proposers",
        "acceptor-restart",
        "minority-partition",
        "paused-proposer",
        "asynchrony",
        "fast-round",
    ] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name} missing:\n{text}");
    }
    let out = synod().args(["scenario", "run", "no-such-thing"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no scenario `no-such-thing`"));
}

#[test]
fn lost_accept() {
    scenario("lost-accept", &["accept [1,1] \"i1-op1\" LOST:nemesis", "L learn"]);
}

#[test]
fn proposer_dies_mid_accept() {
    scenario("proposer-dies-mid-accept", &["kill n1", "promise [1,2] acc [1,1]"]);
}

#[test]
fn dueling_proposers() {
    scenario("dueling-proposers", &["nack [", "== no backoff", "== randomized backoff"]);
}

#[test]
fn acceptor_restart() {
    scenario("acceptor-restart", &["kill n3", "restart n3", "nack [1,1] < [1,2]", "acceptor-monotonicity"]);
}

#[test]
fn minority_partition() {
    scenario("minority-partition", &["partition", "heal"]);
}

#[test]
fn paused_proposer() {
    scenario("paused-proposer", &["stop n1", "accept [1,1]", "nack [1,1] < [1,2]"]);
}

#[test]
fn asynchrony() {
    scenario("asynchrony", &["delay", "ms"]);
}

#[test]
fn fast_round() {
    scenario(
        "fast-round",
        &["accept [0,2] \"i1-op1\"", "promise [1,1] acc [0,2] \"i1-op1\"", "accept [1,1] \"i1-op1\""],
    );
}
