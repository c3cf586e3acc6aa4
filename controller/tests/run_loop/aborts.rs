//! Runs whose nodes do not all come up are aborted, not judged: `run_once` returns an error
//! naming what failed (exit 2 on the command line), and the history still ends with an
//! `end` line that says so.

use crate::harness::{self, config, count, end, events, Runs};
use crate::replies::{exit_of, scripted_run};
use std::time::{Duration, Instant};
use synod_controller::exit::Exit;

#[test]
fn a_missing_node_program_aborts_the_run_at_once() {
    let runs = Runs::new("missing");
    let mut cfg = config(&runs, 3, 5.0);
    cfg.node_cmd = Some("/nonexistent/prog".into());
    let started = Instant::now();
    let err = format!("{:#}", harness::run(cfg).err().expect("an aborted run is an error"));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "gave up after {took:?}");
    assert!(!err.contains("<id>"), "{err}");
    assert!(err.contains("3 of 3 nodes exited during start-up") && err.contains("exit 127"), "{err}");
    let run = runs.latest();
    for n in 1..=3 {
        let log = run.join(format!("nodes/n{n}/node.log"));
        assert!(log.is_file());
        assert!(err.contains(&format!("n{n}: {}", log.display())), "no path of n{n}'s log in {err}");
    }
    assert!(err.contains("/nonexistent/prog: not found"), "the log's last line: {err}");
    assert!(err.contains(&format!("run: {}", run.display())), "{err}");
    let events = events(&run);
    let end = end(&events);
    assert!(end.aborted, "{end:?}");
    assert!(end.reason.as_deref().is_some_and(|r| r.contains("exited during start-up")), "{end:?}");
    let report = harness::json(&run, "report.json");
    assert_eq!(report["verdict"], "aborted", "{report}");
    harness::assert_nodes_gone(&events);
    runs.remove();
}

#[test]
fn a_node_that_exits_right_after_its_init_aborts_the_run() {
    let (runs, outcome, events) = scripted_run("quit", "quit", |c| c.time_s = 2.0);
    assert_eq!(exit_of(&outcome), Exit::Error);
    let end = end(&events);
    assert!(end.aborted, "{end:?}");
    let reason = end.reason.as_deref().unwrap();
    assert!(reason.contains("1 of 1 nodes exited during start-up (n1 exit 1)"), "{reason}");
    assert_eq!(count(&events, "invoke"), 0, "no workload on a cluster that did not start");
    runs.remove();
}

#[test]
fn nodes_that_never_connect_abort_the_run_after_5_s() {
    let runs = Runs::new("silent");
    let mut cfg = config(&runs, 2, 5.0);
    cfg.node_cmd = Some("sleep 60".into());
    let started = Instant::now();
    let err = format!("{:#}", harness::run(cfg).err().expect("an aborted run is an error"));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "gave up after {took:?}");
    assert!(err.contains("only 0 of 2 nodes connected within 5 s (n1, n2 did not)"), "{err}");
    let events = events(&runs.latest());
    assert!(end(&events).aborted);
    harness::assert_nodes_gone(&events);
    runs.remove();
}
