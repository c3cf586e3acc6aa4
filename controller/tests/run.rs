//! End-to-end tests of `synod run` with real node processes.

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn three_node_run_is_recorded_checked_and_safe() {
    let dir = runs_dir("e2e");
    let d = dir.to_str().unwrap();
    let out =
        run_ok(&["run", "--nodes", "3", "--time", "2", "--final-s", "5", "--seed", "7", "--runs-dir", d]);
    let run = latest(&dir);
    let events = history(&run, false);
    assert_eq!(events[0]["type"], "run");
    assert_eq!(events[0]["seed"], 7);
    assert_eq!(events.last().unwrap()["type"], "end");
    for kind in ["invoke", "ok", "learn", "send", "recv", "process"] {
        assert!(count(&events, kind) > 0, "no {kind} events");
    }
    // Contention: each instance is first invoked on two distinct proposers, back to back
    // (faults may add retries later).
    let first_two: Vec<&Value> =
        events.iter().filter(|e| e["type"] == "invoke" && e["instance"] == 1).take(2).collect();
    assert_eq!(first_two.len(), 2);
    assert_ne!(first_two[0]["node"], first_two[1]["node"]);
    assert_eq!(first_two[1]["op"].as_u64().unwrap(), first_two[0]["op"].as_u64().unwrap() + 1);
    let report: Value = serde_json::from_slice(&std::fs::read(run.join("report.json")).unwrap()).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("safe and live"), "{text}");
    let meta: Value = serde_json::from_slice(&std::fs::read(run.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["seed"], 7);
    assert!(meta["command_line"].as_array().unwrap().len() > 3);
    assert_eq!(report["verdict"], "valid");
    assert_eq!(report["safe"], true);
    assert_eq!(report["live"], true);
    // Every node process ended with the run.
    for pid in node_pids(&events) {
        assert!(!alive(pid), "node pid {pid} outlived the run");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn node_cmd_runs_any_program_speaking_the_protocol() {
    let cmd = format!("{} node", env!("CARGO_BIN_EXE_synod"));
    let (dir, events) = short_run("nodecmd", &["--node-cmd", &cmd]);
    assert!(count(&events, "learn") > 0);
    let meta: Value =
        serde_json::from_slice(&std::fs::read(latest(&dir).join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["config"]["node_cmd"], cmd);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trace_ops_leaves_message_events_out() {
    let (dir, events) = short_run("traceops", &["--trace", "ops", "--loss", "0.05"]);
    assert!(count(&events, "learn") > 0 && count(&events, "ok") > 0);
    for kind in ["send", "recv", "drop"] {
        assert_eq!(count(&events, kind), 0, "{kind} recorded with --trace ops");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A SIGKILLed controller leaves no node behind, and a compressed history (the default)
/// whose zstd frame never got its end: every complete line in it still reads, and the
/// checker judges it a truncated history.
#[test]
fn sigkilled_controller_leaves_no_node_and_a_readable_history() {
    let dir = runs_dir("sigkill");
    let mut ctl = start(&["run", "--nodes", "5", "--time", "60", "--runs-dir", dir.to_str().unwrap(), "-q"]);
    let run = wait_for_events(&dir, 2_000);
    let mounted = std::fs::read_to_string("/proc/self/mountinfo").unwrap().contains(run.to_str().unwrap());
    ctl.kill().unwrap(); // SIGKILL: no cleanup code runs
    ctl.wait().unwrap();
    let killed_at = Instant::now();
    assert!(run.join("history.jsonl.zst").is_file() && !run.join("history.jsonl").exists());
    let (bytes, cut) = history_bytes(&run);
    assert!(cut, "the frame was never finished");
    let events = history(&run, true);
    // At least the lines that were readable before the kill, each a complete event.
    assert!(events.len() >= 2_000, "{} events", events.len());
    assert_eq!(events[0]["type"], "run");
    assert!(events.iter().all(|e| e["type"] != "end"));
    let whole_lines = bytes.iter().filter(|&&b| b == b'\n').count();
    assert!(events.len() == whole_lines, "{} of {whole_lines} complete lines parsed", events.len());
    // Every node process the run started (restarts included) must be gone.
    let pids = node_pids(&events);
    assert!(pids.len() >= 5, "{pids:?}");
    while pids.iter().any(|&p| alive(p)) {
        assert!(
            killed_at.elapsed() < Duration::from_secs(2),
            "nodes outlived the controller by 2 s: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(count(&events, "invoke") > 0);
    // The lazy filesystems of a run that cuts power (the default nemesis does, where FUSE
    // works) go too.
    println!("lazy filesystems mounted at the kill: {mounted}");
    assert_no_mounts_under(&dir);
    let out = synod().args(["check", run.to_str().unwrap(), "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "truncated", "{report}");
    assert_eq!(report["truncated"], true);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--history-format jsonl` writes plain history.jsonl, records the format, and every
/// reader (check, show, report, replay) takes it.
#[test]
fn history_format_jsonl_writes_plain_jsonl_that_every_reader_takes() {
    let (dir, events) = short_run("plain", &["--history-format", "jsonl", "--seed", "5"]);
    let run = latest(&dir);
    assert!(run.join("history.jsonl").is_file() && !run.join("history.jsonl.zst").exists());
    let text = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert_eq!(text.lines().count(), events.len());
    assert_eq!(events.last().unwrap()["type"], "end");
    let meta: Value = serde_json::from_slice(&std::fs::read(run.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["config"]["history_format"], "jsonl");
    let r = run.to_str().unwrap();
    let out = run_ok(&["check", r]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("safe and live"));
    let instance = events.iter().find(|e| e["type"] == "learn").unwrap()["instance"].to_string();
    let out = run_ok(&["show", r, "--instance", &instance]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("instance {instance}")));
    run_ok(&["report", r]);
    assert!(run.join("report.html").is_file());
    // A replay of it writes the default form, and reads the same nemesis actions from it (a
    // crash point's kills by time, the crash point itself not at all: tests/nemesis.rs).
    let d = dir.to_str().unwrap();
    run_ok(&["run", "--replay", r, "--runs-dir", d, "-q"]);
    let replay = latest(&dir);
    assert!(replay.join("history.jsonl.zst").is_file() && !replay.join("history.jsonl").exists());
    let actions = |events: &[Value]| -> Vec<Value> {
        events
            .iter()
            .filter(|e| e["type"] == "nemesis" && e["final"] != true)
            .filter(|e| !e["action"].as_str().unwrap().starts_with("crash-point"))
            .map(|e| e["action"].clone())
            .collect()
    };
    // On a loaded machine the last actions of a 1 s run may fall after the replay's workload
    // ended (tests/nemesis.rs checks replays at length): the replay repeats a prefix.
    let (recorded, replayed) = (actions(&events), actions(&history(&replay, false)));
    assert!(replayed.len() >= 5 && recorded.starts_with(&replayed), "{recorded:?}\nreplayed {replayed:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigint_ends_the_workload_then_heals_converges_and_checks() {
    let dir = runs_dir("sigint");
    let mut ctl = start(&["run", "--nodes", "3", "--time", "60", "--runs-dir", dir.to_str().unwrap(), "-q"]);
    let run = wait_for_events(&dir, 1_000);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(ctl.id() as i32), nix::sys::signal::Signal::SIGINT)
        .unwrap();
    let status = ctl.wait().unwrap();
    let events = history(&run, false);
    let end = events.last().unwrap();
    assert_eq!(end["type"], "end");
    assert_eq!(end["workload_cut"], true, "{end}");
    assert_eq!(end["interrupted"], false, "one interrupt: the final phase still ran: {end}");
    let phases: Vec<&Value> = events.iter().filter(|e| e["type"] == "phase").map(|e| &e["phase"]).collect();
    assert_eq!(phases, ["workload", "final"]);
    assert!(events.iter().any(|e| e["type"] == "nemesis" && e["final"] == true), "final heal-all");
    assert!(run.join("report.json").exists());
    // The final phase healed, restarted and converged: safe and live.
    assert_eq!(status.code(), Some(0), "{status:?}");
    for pid in node_pids(&events) {
        assert!(!alive(pid), "node pid {pid} outlived the run");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_runs_side_by_side_share_nothing() {
    let dir = runs_dir("twins");
    let d = dir.to_str().unwrap();
    let args = ["run", "--nodes", "3", "--time", "2", "--runs-dir", d, "-q"];
    let a = synod().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let b = synod().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stdout));
    }
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.ends_with("latest"))
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let (ha, hb) = (history(&runs[0], false), history(&runs[1], false));
    assert_ne!(ha[0]["run_id"], hb[0]["run_id"]);
    let pa = node_pids(&ha);
    assert!(node_pids(&hb).iter().all(|p| !pa.contains(p)));
    // Each run's learned values are the ones its own workload invoked.
    for h in [&ha, &hb] {
        let invoked: std::collections::HashSet<&str> =
            h.iter().filter(|e| e["type"] == "invoke").map(|e| e["value"].as_str().unwrap()).collect();
        assert!(h
            .iter()
            .filter(|e| e["type"] == "learn")
            .all(|e| invoked.contains(e["value"].as_str().unwrap())));
        assert!(count(h, "learn") > 0);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mutants_list_prints_one_name_a_line_and_bug_is_recorded() {
    let out = run_ok(&["mutants", "--list"]);
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(names.len(), 10, "{names:?}");
    assert!(names.contains(&"skip-fsync".to_string()), "{names:?}");
    assert!(names.iter().all(|n| !n.contains(' ')), "{names:?}");
    assert!(names.contains(&"ballot-reuse-after-restart".to_string()));
    // A mutant that only bites across restarts: with no nemesis the run stays safe.
    let (dir, events) =
        short_run("bug", &["--bug", "volatile-acceptor", "--bug-nodes", "1,2", "--nemesis", "none"]);
    assert_eq!(events[0]["bug"], "volatile-acceptor");
    assert_eq!(events[0]["bug_nodes"], serde_json::json!([1, 2]));
    let meta: Value =
        serde_json::from_slice(&std::fs::read(latest(&dir).join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["config"]["tuning"]["bug"], "volatile-acceptor");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_flags_exit_2_with_a_clear_error() {
    let out = synod().args(["run", "--acceptors", "n9", "--nodes", "3"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--acceptors") && err.contains("outside n1..n3"), "{err}");
    let out = synod().args(["check", "/nonexistent/history.jsonl"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    for (args, want) in [
        (vec!["run", "--nemesis", "kill,flood"], "--nemesis: unknown fault `flood`"),
        (vec!["run", "--loss", "1.5"], "--loss 1.5"),
        (vec!["run", "--replay", "latest", "--nodes", "3"], "cannot be combined with --nodes"),
        (vec!["run", "--replay", "/nonexistent/run"], "--replay: cannot read /nonexistent/run/meta.json"),
        (vec!["run", "--schedule", "/nonexistent/s.jsonl"], "cannot read /nonexistent/s.jsonl"),
        (vec!["mutants", "--only", "off-by-one"], "--only"),
        (vec!["mutants", "--bug", "learn-on-one"], "sets --bug itself"),
    ] {
        let out = synod().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn ls_and_show_read_recorded_runs() {
    let (dir, events) = short_run("inspect", &["--nemesis", "none", "--seed", "5"]);
    let d = dir.to_str().unwrap();
    let run_id = events[0]["run_id"].as_str().unwrap().to_string();
    let out = run_ok(&["ls", d]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains(&run_id)).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(" valid ") && line.contains(" 5 ") && line.contains("none"), "{line}");

    let out = run_ok(&["show", "latest", "--runs-dir", d]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&run_id) && text.contains("verdict  valid") && text.contains("anomaly  none"),
        "{text}"
    );

    let out = run_ok(&["show", "latest", "--runs-dir", d, "--instance", "1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for want in ["instance 1", "prepare [", "promise [", "accept [", "learn \"", "invoke op1"] {
        assert!(text.contains(want), "no {want:?} in\n{text}");
    }
    assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");

    let out = run_ok(&["show", "latest", "--runs-dir", d, "--events", "--nodes", "1", "--to", "0.5"]);
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.len() > 10);
    for e in &lines {
        assert!(e["t"].as_u64().unwrap() <= 500_000, "{e}");
        let involves_n1 = e["node"] == 1 || e["src"] == 1 || e["dest"] == 1;
        let untied = e.get("node").is_none() && e.get("src").is_none();
        assert!(involves_n1 || untied, "{e}");
    }
    let out = run_ok(&["compare", "latest", "--runs-dir", d]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().nth(1).is_some_and(|l| l.starts_with(&run_id) && l.contains(" safe ")), "{text}");

    let out = synod().args(["show", "/nonexistent/run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a run folder"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_report_writes_a_self_contained_html_with_its_charts() {
    let dir = runs_dir("report");
    std::fs::create_dir_all(&dir).unwrap();
    let schedule = dir.join("s.jsonl");
    std::fs::write(
        &schedule,
        "{\"at_s\":0.3,\"action\":\"loss\",\"p\":0.3}\n{\"at_s\":0.9,\"action\":\"loss-off\"}\n\
         {\"at_s\":1.0,\"action\":\"kill\",\"nodes\":[2]}\n{\"at_s\":1.3,\"action\":\"restart\",\"nodes\":[2]}\n",
    )
    .unwrap();
    let d = dir.to_str().unwrap();
    run_ok(&[
        "run",
        "--nodes",
        "3",
        "--time",
        "2",
        "--runs-dir",
        d,
        "-q",
        "--report",
        "--schedule",
        schedule.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(latest(&dir).join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    // Self-contained: nothing to fetch (the SVG namespace is a name, not a fetch).
    let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for fetch in ["http://", "https://", "<script", "<link", "@import", "<img"] {
        assert!(!without_ns.contains(fetch), "report.html contains {fetch}");
    }
    for chart in ["Op latency over time", "Op latency quantiles per second", "Decisions per second"] {
        assert!(html.contains(chart), "no chart {chart}");
    }
    assert!(html.matches("<svg").count() >= 3);
    // The loss window is shaded and labelled, the kill shaded.
    assert!(html.contains("fill=\"#FF8C00\""), "no shaded network fault window");
    assert!(
        html.contains(">\nloss\n</text>") || html.contains(">loss</text>"),
        "no label on the loss window"
    );
    assert!(html.contains("fill=\"#5A5A5A\""), "no shaded process fault window");
    assert!(html.contains("valid (exit 0)"));
    // `synod report` rewrites it on demand.
    std::fs::remove_file(latest(&dir).join("report.html")).unwrap();
    run_ok(&["report", "latest", "--runs-dir", d]);
    assert!(latest(&dir).join("report.html").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_prints_every_figure_as_json() {
    let dir = runs_dir("bench");
    let out = run_ok(&["bench", "--json", "--time", "0.5", "--runs-dir", dir.to_str().unwrap()]);
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["net_rtt", "fsync"] {
        assert!(f["floor_us"][key].as_u64().is_some_and(|us| us > 0), "floor_us.{key}: {f}");
    }
    for n in ["n3", "n5", "n3_two_phase"] {
        for q in ["p50", "p99", "p999"] {
            assert!(f["decision_latency_us"][n][q].as_u64().is_some_and(|us| us > 0), "{n}.{q}: {f}");
        }
    }
    assert!(f["ratio_to_floor"].as_f64().is_some_and(|r| r > 0.0));
    assert!(f["ratio_to_floor_two_phase"].as_f64().is_some_and(|r| r > 0.0));
    for c in ["c1", "c16", "c64", "c256", "c64_trace_ops", "c64_two_phase", "c64_jsonl"] {
        assert!(f["decisions_per_s"][c].as_u64().is_some_and(|d| d > 0), "{c}: {f}");
    }
    for key in ["events_per_s", "events_per_s_zst", "bytes", "bytes_zst"] {
        assert!(f["checker"][key].as_u64().is_some_and(|e| e > 0), "checker.{key}: {f}");
    }
    assert!(f["checker"]["bytes_zst"].as_u64() < f["checker"]["bytes"].as_u64(), "compression saves: {f}");
    for format in ["zst", "jsonl"] {
        for key in ["bytes", "decisions", "bytes_per_decision"] {
            let v = &f["history_disk"][format][key];
            assert!(v.as_u64().is_some_and(|v| v > 0), "history_disk.{format}.{key}: {f}");
        }
    }
    assert!(f["history_disk"]["ratio"].as_f64().is_some_and(|r| r > 1.0), "{f}");
    assert!(f["checker"]["peak_rss_mb"].as_f64().is_some_and(|m| m > 0.0));
    let etcd_on_path =
        std::env::split_paths(&std::env::var_os("PATH").unwrap()).any(|d| d.join("etcd").is_file());
    if etcd_on_path {
        for key in ["put_p50_us", "put_p99_us", "puts_per_s_c64"] {
            assert!(f["etcd"][key].as_u64().is_some_and(|v| v > 0), "etcd.{key}: {f}");
        }
    } else {
        assert!(f.get("etcd").is_none(), "no etcd figures without etcd");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A quiet 1-node run of tests/nodes/scripted.sh in `mode`; returns its runs dir, its exit
/// code and its events.
fn scripted_run(name: &str, mode: &str, extra: &[&str]) -> (PathBuf, Option<i32>, Vec<Value>) {
    let dir = runs_dir(name);
    let d = dir.to_str().unwrap().to_string();
    let cmd = scripted_node(mode);
    let mut args = vec!["run", "--nodes", "1", "--trace", "ops", "--nemesis", "none", "--concurrency", "2"];
    args.extend_from_slice(&["--runs-dir", &d, "-q", "--node-cmd", &cmd]);
    args.extend_from_slice(extra);
    let out = synod().args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let events = history(&latest(&dir), false);
    (dir, out.status.code(), events)
}

#[test]
fn late_and_repeated_replies_are_recorded_and_a_late_ok_answers_the_client() {
    // Each op gets `error busy` (the op ends `fail`), then `propose_ok`, then `error busy`.
    let started = Instant::now();
    let (dir, code, events) =
        scripted_run("stutter", "stutter", &["--time", "0.5", "--final-s", "10", "--op-timeout-ms", "5000"]);
    assert_eq!(code, Some(0));
    let late: Vec<&Value> = events.iter().filter(|e| e["late"] == true).collect();
    let late_oks: Vec<&&Value> = late.iter().filter(|e| e["type"] == "ok").collect();
    let late_fails: Vec<&&Value> = late.iter().filter(|e| e["type"] == "fail").collect();
    assert!(!late_oks.is_empty() && !late_fails.is_empty(), "{late:?}");
    for e in &late {
        let op = &e["op"];
        assert!(e["node"] == 1 && e["instance"].is_u64(), "{e}");
        // The op ended before: its in-time reply comes first, without `late`.
        let first = events.iter().position(|x| x["op"] == *op && x["type"] != "invoke").unwrap();
        assert_eq!(events[first]["type"], "fail", "{}", events[first]);
        assert!(events[first].get("late").is_none(), "{}", events[first]);
    }
    for e in &late_oks {
        let learned = events.iter().find(|x| x["type"] == "learn" && x["instance"] == e["instance"]).unwrap();
        assert_eq!(e["value"], learned["value"], "{e}");
    }
    for e in &late_fails {
        assert!(e["error"] == "busy" && e["text"] == "stutter", "{e}");
    }
    // Only late oks answered the clients: the workload took them as answers, so the final
    // phase had nothing to chase and ended at once instead of after --final-s 10.
    let end = end_event(&events);
    assert_eq!((end["unanswered"].as_u64(), end["unlearned"].as_u64()), (Some(0), Some(0)), "{end}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_ok_answers_the_op_s_instance_whatever_instance_the_reply_names() {
    // Each op is answered with its own instance's value under the next instance's number,
    // then a propose_ok to op 0 (never invoked) comes too.
    let (dir, code, events) =
        scripted_run("misname", "misname", &["--time", "0.5", "--final-s", "3", "--op-timeout-ms", "2000"]);
    let invoked: std::collections::HashMap<u64, u64> = events
        .iter()
        .filter(|e| e["type"] == "invoke")
        .map(|e| (e["op"].as_u64().unwrap(), e["instance"].as_u64().unwrap()))
        .collect();
    let oks: Vec<&Value> = events.iter().filter(|e| e["type"] == "ok").collect();
    let (unknown, known): (Vec<&Value>, Vec<&Value>) = oks.iter().partition(|e| e["op"] == 0);
    assert!(!known.is_empty() && !unknown.is_empty());
    for e in &known {
        let instance = invoked[&e["op"].as_u64().unwrap()];
        assert_eq!(e["instance"], instance, "recorded under the op's instance: {e}");
        assert_eq!(e["reply_instance"], instance + 1, "{e}");
        let error = events
            .iter()
            .find(|x| x["type"] == "error" && x["op"] == e["op"])
            .unwrap_or_else(|| panic!("no error for {e}"));
        let text = error["error"].as_str().unwrap();
        assert!(
            text.contains(&format!("instance {instance}")) && text.contains(&format!("{}", instance + 1)),
            "{text}"
        );
    }
    for e in &unknown {
        assert_eq!(e["unknown_op"], true, "{e}");
        assert!(e.get("reply_instance").is_none(), "{e}");
    }
    // Judged against the op's instance, each value is that instance's decision: valid.
    assert_eq!(code, Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn replies_sent_while_the_nodes_stop_are_recorded() {
    // The node answers its last op only on SIGTERM, after the final phase.
    let (dir, _, events) = scripted_run(
        "farewell",
        "farewell",
        &["--time", "0.5", "--final-s", "0.5", "--op-timeout-ms", "200"],
    );
    let ok = events.iter().position(|e| e["type"] == "ok").expect("the reply during the stop was recorded");
    let learned = events.iter().find(|e| e["type"] == "learn" && e["instance"] == events[ok]["instance"]);
    assert_eq!(events[ok]["value"], learned.unwrap()["value"], "{}", events[ok]);
    let final_at = events.iter().position(|e| e["type"] == "phase" && e["phase"] == "final").unwrap();
    let exit = events.iter().position(|e| e["type"] == "process" && e["event"] == "exit").unwrap();
    assert!(final_at < ok && ok < exit, "sent after the final phase, before the node exited");
    assert_eq!(count(&events[exit..], "invoke"), 0, "nothing invoked while the nodes stop");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn replies_after_the_op_timeout_are_recorded_late_with_the_built_in_node() {
    // Decisions take about a millisecond: with a 1 ms op timeout most replies come late.
    let (dir, events) = short_run(
        "late",
        &["--op-timeout-ms", "1", "--nemesis", "none", "--final-s", "3", "--instances", "300"],
    );
    let mut timed_out = std::collections::HashSet::new();
    let mut late_oks = 0;
    for e in &events {
        if e["type"] == "info" && e["error"] == "timeout" {
            timed_out.insert(e["op"].as_u64().unwrap());
        }
        if e["type"] == "ok" && e["late"] == true {
            late_oks += 1;
            assert!(e["node"].is_u64() && e["instance"].is_u64() && e["value"].is_string(), "{e}");
            let op = e["op"].as_u64().unwrap();
            assert!(timed_out.contains(&op), "a late ok before its op timed out: {e}");
        }
    }
    assert!(late_oks > 0);
    assert_eq!(end_event(&events)["unanswered"], 0);
    let report: Value =
        serde_json::from_slice(&std::fs::read(latest(&dir).join("report.json")).unwrap()).unwrap();
    assert_eq!(report["verdict"], "valid", "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_node_that_never_answers_its_clients_is_not_live() {
    let (dir, code, events) =
        scripted_run("mute", "mute", &["--time", "0.5", "--final-s", "1", "--op-timeout-ms", "200"]);
    // What the controller knows: every instance was learned, none was answered.
    assert!(count(&events, "learn") > 0);
    assert_eq!(count(&events, "ok"), 0);
    let instances: std::collections::BTreeSet<u64> =
        events.iter().filter(|e| e["type"] == "invoke").map(|e| e["instance"].as_u64().unwrap()).collect();
    let end = end_event(&events);
    assert_eq!(end["unlearned"], 0, "{end}");
    assert_eq!(end["unanswered"].as_u64(), Some(instances.len() as u64), "{end}");
    // The final phase chased them: re-invoked after the workload ended.
    let final_at = events.iter().position(|e| e["type"] == "phase" && e["phase"] == "final").unwrap();
    assert!(events[final_at..].iter().any(|e| e["type"] == "invoke"));
    // The verdict: safe but not live (the checker's client liveness).
    assert_eq!(code, Some(3), "end: {end}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_node_program_aborts_the_run_at_once_with_exit_2() {
    let dir = runs_dir("missing");
    let d = dir.to_str().unwrap();
    let started = Instant::now();
    let out = synod()
        .args([
            "run",
            "--nodes",
            "3",
            "--time",
            "5",
            "--runs-dir",
            d,
            "-q",
            "--node-cmd",
            "/nonexistent/prog",
        ])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(2));
    assert!(took < Duration::from_secs(5), "gave up after {took:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked") && !err.contains("<id>"), "{err}");
    assert!(err.contains("3 of 3 nodes exited during start-up") && err.contains("exit 127"), "{err}");
    let run = latest(&dir);
    for n in 1..=3 {
        let log = run.join(format!("nodes/n{n}/node.log"));
        assert!(log.is_file());
        assert!(err.contains(&format!("n{n}: {}", log.display())), "no path of n{n}'s log in {err}");
    }
    assert!(err.contains("/nonexistent/prog: not found"), "the log's last line: {err}");
    let events = history(&run, false);
    let end = end_event(&events);
    assert_eq!(end["aborted"], true, "{end}");
    assert!(end["reason"].as_str().is_some_and(|r| r.contains("exited during start-up")), "{end}");
    assert!(run.join("report.json").is_file());
    for pid in node_pids(&events) {
        assert!(!alive(pid), "node pid {pid} outlived the run");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_node_that_exits_right_after_its_init_aborts_the_run() {
    let (dir, code, events) = scripted_run("quit", "quit", &["--time", "2"]);
    assert_eq!(code, Some(2));
    let end = end_event(&events);
    assert_eq!(end["aborted"], true, "{end}");
    let reason = end["reason"].as_str().unwrap();
    assert!(reason.contains("1 of 1 nodes exited during start-up (n1 exit 1)"), "{reason}");
    assert_eq!(count(&events, "invoke"), 0, "no workload on a cluster that did not start");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn nodes_that_never_connect_abort_the_run_after_5_s() {
    let dir = runs_dir("silent");
    let d = dir.to_str().unwrap();
    let started = Instant::now();
    let out = synod()
        .args(["run", "--nodes", "2", "--time", "5", "--runs-dir", d, "-q", "--node-cmd", "sleep 60"])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(2));
    assert!(took < Duration::from_secs(8), "gave up after {took:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only 0 of 2 nodes connected within 5 s (n1, n2 did not)"), "{err}");
    let events = history(&latest(&dir), false);
    assert_eq!(end_event(&events)["aborted"], true);
    for pid in node_pids(&events) {
        assert!(!alive(pid), "node pid {pid} outlived the run");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn check_judges_an_aborted_run_exit_2() {
    let dir = runs_dir("abortcheck");
    let d = dir.to_str().unwrap();
    let out = synod()
        .args(["run", "--nodes", "3", "--runs-dir", d, "-q", "--node-cmd", "/nonexistent/prog"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = synod().args(["check", "latest", "--runs-dir", d]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stdout));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_soak_stops_at_its_first_aborted_run_with_exit_2() {
    let dir = runs_dir("soakabort");
    let d = dir.to_str().unwrap();
    let started = Instant::now();
    let out = synod()
        .args(["soak", "--runs", "100", "--time-per-run", "1", "--runs-dir", d, "-q"])
        .args(["--node-cmd", "/nonexistent/prog"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("stopped early: run 1 could not run: run aborted"), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("node.log") && !err.contains("<id>"), "{err}");
    let runs = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            !name.starts_with("soak-") && name != "latest"
        })
        .count();
    assert_eq!(runs, 1, "one aborted run, then the soak stopped");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_soak_whose_drawn_interval_may_overflow_the_schedule_cap_is_refused_at_once() {
    // Three days per run fit the cap at the base interval, not at half of it (a draw).
    let dir = runs_dir("soakcap");
    let d = dir.to_str().unwrap();
    let mut child = synod()
        .args(["soak", "--runs", "1", "--time-per-run", "259200", "--runs-dir", d, "-q"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    if child.try_wait().unwrap().is_none() {
        child.kill().unwrap();
        child.wait().unwrap();
        panic!("the soak started a run it could not plan");
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("0.5 x --nemesis-interval-s") && err.contains("1000000 actions"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn show_of_an_instance_the_run_never_had_exits_2_and_names_the_instances() {
    let dir = runs_dir("showmissing");
    let d = dir.to_str().unwrap();
    run_ok(&["run", "--nodes", "3", "--time", "1", "--instances", "4", "--runs-dir", d, "-q"]);
    let out = synod().args(["show", "latest", "--runs-dir", d, "--instance", "99"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("instance 99 is not in this run: its instances are 1-4"), "{err}");
    run_ok(&["show", "latest", "--runs-dir", d, "--instance", "4"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
