//! End-to-end tests of `synod run` with real node processes.

mod common;

use common::*;
use serde_json::Value;
use std::time::{Duration, Instant};

/// `synod run` end to end, as a user types it: the flags reach the run, the summary and the
/// run folder are printed, the command line is recorded, the exit code is the verdict's.
/// (What the run loop records is tested in-process, in tests/run_loop/.)
#[test]
fn synod_run_prints_its_verdict_and_records_its_command_line() {
    let dir = runs_dir("e2e");
    let d = dir.to_str().unwrap();
    let args = ["run", "--nodes", "3", "--time", "2", "--final-s", "5", "--seed", "7", "--runs-dir", d];
    let out = run_ok(&args);
    let run = latest(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("safe and live"), "{text}");
    assert!(text.contains(&format!("run: {}", run.display())), "{text}");
    let meta: Value = serde_json::from_slice(&std::fs::read(run.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["seed"], 7);
    let mut argv = vec![env!("CARGO_BIN_EXE_synod")];
    argv.extend_from_slice(&args);
    assert_eq!(meta["command_line"], serde_json::json!(argv));
    let events = history(&run, false);
    assert_eq!(events[0]["type"], "run");
    assert_eq!(events[0]["seed"], 7);
    assert_eq!(events[0]["nodes"], serde_json::json!([1, 2, 3]));
    assert_eq!(events[0]["config"]["final_s"], 5.0);
    assert_eq!(events.last().unwrap()["type"], "end");
    let report: Value = serde_json::from_slice(&std::fs::read(run.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["verdict"], "valid");
    assert_eq!(report["safe"], true);
    assert_eq!(report["live"], true);
    // Every node process ended with the run.
    for pid in node_pids(&events) {
        assert!(!alive(pid), "node pid {pid} outlived the run");
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
    assert_eq!(f["model"]["states"], 2_000_000, "the model checker's bound: {f}");
    assert!(f["model"]["states_per_s"].as_u64().is_some_and(|s| s > 0), "{f}");
    assert!(f["model"]["table_bytes_per_state"].as_u64().is_some_and(|b| (40..1000).contains(&b)), "{f}");
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
