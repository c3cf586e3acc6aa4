//! A run recorded, checked and safe; what `trace` and `history_format` change in the history;
//! a `node_cmd`; two runs side by side in one process.

use crate::harness::{self, assert_nodes_gone, assert_recorded, config, count, events, json, Runs};
use std::collections::HashSet;
use synod_checker::history::{Event, Invoke};
use synod_checker::HistoryFormat;
use synod_controller::exit::Exit;
use synod_controller::run::config::Trace;

/// The outcome's verdict: safe and live, as `synod run` would exit 0.
fn assert_safe_and_live(report: &synod_checker::Report) {
    assert_eq!(Exit::of_report(report), Exit::Ok, "{}", report.render_text());
    assert!(report.safe && report.live == Some(true), "{}", report.render_text());
    assert_eq!(serde_json::to_value(report.verdict).unwrap(), "valid");
    assert!(report.render_text().contains("safe and live"), "{}", report.render_text());
}

#[test]
fn three_node_run_is_recorded_checked_and_safe() {
    let runs = Runs::new("e2e");
    let mut cfg = config(&runs, 3, 2.0);
    (cfg.final_s, cfg.seed) = (5.0, 7);
    let outcome = harness::run(cfg).unwrap();
    assert_recorded(&runs, &outcome);
    let events = events(&outcome.run_dir);
    let Some(Event::Run(header)) = events.first() else { panic!("no run header: {:?}", events.first()) };
    assert_eq!(header.seed, Some(7.into()));
    assert_eq!(header.run_id.as_deref(), Some(outcome.run_id.as_str()));
    harness::end(&events);
    for kind in ["invoke", "ok", "learn", "send", "recv", "process"] {
        assert!(count(&events, kind) > 0, "no {kind} events");
    }
    // Contention: each instance is first invoked on two distinct proposers, back to back
    // (faults may add retries later).
    let first_two: Vec<&Invoke> = each!(events, Invoke).filter(|i| i.instance == 1).take(2).collect();
    assert_eq!(first_two.len(), 2);
    assert_ne!(first_two[0].node, first_two[1].node);
    assert_eq!(first_two[1].op, first_two[0].op + 1);
    assert_safe_and_live(&outcome.report);
    assert!(outcome.final_errors.is_empty(), "{:?}", outcome.final_errors);
    assert!(!outcome.workload_cut && !outcome.interrupted);
    assert_eq!(json(&outcome.run_dir, "meta.json")["seed"], 7);
    assert_nodes_gone(&events);
    runs.remove();
}

#[test]
fn node_cmd_runs_any_program_speaking_the_protocol() {
    let runs = Runs::new("nodecmd");
    let mut cfg = config(&runs, 3, 1.0);
    let cmd = format!("{} node", env!("CARGO_BIN_EXE_synod"));
    cfg.node_cmd = Some(cmd.clone());
    let outcome = harness::run(cfg).unwrap();
    assert_recorded(&runs, &outcome);
    assert_safe_and_live(&outcome.report);
    let events = events(&outcome.run_dir);
    assert!(count(&events, "learn") > 0);
    assert_eq!(json(&outcome.run_dir, "meta.json")["config"]["node_cmd"], cmd);
    assert_nodes_gone(&events);
    runs.remove();
}

#[test]
fn trace_ops_leaves_message_events_out() {
    let runs = Runs::new("traceops");
    let mut cfg = config(&runs, 3, 1.0);
    (cfg.trace, cfg.nemesis.loss) = (Trace::Ops, 0.05);
    let outcome = harness::run(cfg).unwrap();
    assert_safe_and_live(&outcome.report);
    let events = events(&outcome.run_dir);
    assert!(count(&events, "learn") > 0 && count(&events, "ok") > 0);
    for kind in ["send", "recv", "drop"] {
        assert_eq!(count(&events, kind), 0, "{kind} recorded with --trace ops");
    }
    runs.remove();
}

/// `history_format: jsonl` writes plain history.jsonl, records the format, and every reader
/// (the checker, `synod show`, the report, a replay) takes it.
#[test]
fn history_format_jsonl_writes_plain_jsonl_that_every_reader_takes() {
    let runs = Runs::new("plain");
    let mut cfg = config(&runs, 3, 1.0);
    (cfg.history_format, cfg.seed) = (HistoryFormat::Jsonl, 5);
    let outcome = harness::run(cfg).unwrap();
    let run = outcome.run_dir.clone();
    assert!(run.join("history.jsonl").is_file() && !run.join("history.jsonl.zst").exists());
    let events = events(&run);
    let text = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert_eq!(text.lines().count(), events.len());
    harness::end(&events);
    assert_eq!(json(&run, "meta.json")["config"]["history_format"], "jsonl");
    let report = synod_checker::check_path(&run).unwrap();
    assert_safe_and_live(&report);
    let instance = each!(events, Learn).next().unwrap().instance.to_string();
    let r = run.to_str().unwrap();
    let out = crate::common::run_ok(&["show", r, "--instance", &instance]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("instance {instance}")));
    let html = synod_controller::report::write(&run).unwrap();
    assert!(html.is_file() && html == run.join("report.html"), "{}", html.display());
    // A replay of it writes the default form, and reads the same nemesis actions from it (a
    // crash point's kills by time, the crash point itself not at all: tests/nemesis.rs).
    let (cfg, schedule) =
        synod_controller::plan::replay_plan(&run, &runs.dir, true, synod_checker::HistoryFormat::Zst)
            .unwrap();
    let replay = harness::run_with(cfg, schedule).unwrap().run_dir;
    assert!(replay.join("history.jsonl.zst").is_file() && !replay.join("history.jsonl").exists());
    let actions = |events: &[Event]| -> Vec<String> {
        each!(events, Nemesis)
            .filter(|n| !n.flag("final") && !n.action.starts_with("crash-point"))
            .map(|n| n.action.to_string())
            .collect()
    };
    // On a loaded machine the last actions of a 1 s run may fall after the replay's workload
    // ended (tests/nemesis.rs checks replays at length): the replay repeats a prefix.
    let (recorded, replayed) = (actions(&events), actions(&harness::events(&replay)));
    assert!(replayed.len() >= 5 && recorded.starts_with(&replayed), "{recorded:?}\nreplayed {replayed:?}");
    runs.remove();
}

/// Two runs at once, on two threads of one process: separate folders, ids, nodes and values,
/// each leaving no process behind on its own thread.
#[test]
fn two_runs_side_by_side_share_nothing() {
    let runs = Runs::new("twins");
    let (tids_tx, tids) = std::sync::mpsc::channel();
    let threads: Vec<_> = ["twin-a", "twin-b"]
        .into_iter()
        .map(|name| {
            let cfg = config(&runs, 3, 2.0);
            let tids_tx = tids_tx.clone();
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    tids_tx.send(harness::thread_id()).unwrap();
                    let outcome = harness::run(cfg).unwrap();
                    assert_safe_and_live(&outcome.report);
                    assert_eq!(
                        harness::json(&outcome.run_dir, "meta.json")["command_line"],
                        serde_json::json!(["run_loop", name])
                    );
                    outcome
                })
                .unwrap()
        })
        .collect();
    // Both runs' nodes are up at once, each run's the children of its own thread (which the
    // check at the end of each run reads).
    let tids: Vec<u64> = tids.iter().take(2).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while tids.iter().any(|&tid| harness::children_of(tid).len() < 3) {
        assert!(std::time::Instant::now() < deadline, "the two runs' nodes were never up together");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let outcomes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let mut dirs: Vec<_> = std::fs::read_dir(&runs.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.ends_with("latest"))
        .collect();
    dirs.sort();
    let mut ran: Vec<_> = outcomes.iter().map(|o| o.run_dir.clone()).collect();
    ran.sort();
    assert_eq!(dirs, ran);
    assert_ne!(outcomes[0].run_id, outcomes[1].run_id);
    let (ha, hb) = (events(&outcomes[0].run_dir), events(&outcomes[1].run_dir));
    let pa = harness::node_pids(&ha);
    assert!(harness::node_pids(&hb).iter().all(|p| !pa.contains(p)));
    // Each run's learned values are the ones its own workload invoked.
    for h in [&ha, &hb] {
        let invoked: HashSet<&str> = each!(h, Invoke).map(|i| i.value.as_ref()).collect();
        assert!(each!(h, Learn).all(|l| invoked.contains(l.value.as_ref())));
        assert!(count(h, "learn") > 0);
        harness::assert_nodes_gone(h);
    }
    runs.remove();
}
