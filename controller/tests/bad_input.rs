//! Bad input, end to end through the built binary: every way in (flags, `--replay`'s
//! meta.json, `--schedule` files, the node's `init`) refuses what is out of bounds with exit
//! 2 and a message naming the flag, or the file and field (and line), and never panics,
//! overflows or runs out of memory (docs/cli.md, "Limits").

mod common;

use common::{runs_dir, synod};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs synod with `args`; asserts exit 2, no panic, and that stderr holds every piece of
/// `want`. Returns stderr.
fn refused(args: &[&str], want: &[&str]) -> String {
    let out = synod().args(args).output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "synod {args:?}: {:?}\nstderr: {err}", out.status);
    assert!(!err.contains("panicked"), "synod {args:?} panicked:\n{err}");
    for w in want {
        assert!(err.contains(w), "synod {args:?}: stderr lacks {w:?}:\n{err}");
    }
    err
}

fn run_refused(name: &str, flags: &[&str], want: &[&str]) -> String {
    let dir = runs_dir(name);
    let d = dir.to_str().unwrap().to_string();
    let mut args = vec!["run", "--nodes", "3", "--runs-dir", &d, "-q"];
    args.extend_from_slice(flags);
    let err = refused(&args, want);
    // Refused before anything started: no run folder, no node.
    assert!(!dir.join("latest").exists(), "a run started: {err}");
    let _ = std::fs::remove_dir_all(&dir);
    err
}

#[test]
fn absurd_run_times_are_refused_by_flag() {
    run_refused(
        "time-1e20",
        &["--time", "1e20"],
        &["Error: --time 1e20: must be a number of seconds from 0 to 604800 (7 days)"],
    );
    run_refused("time-1e9", &["--time", "1e9"], &["--time 1000000000.0: must be"]);
    run_refused("time-neg", &["--time=-1"], &["--time -1.0: must be"]);
    run_refused("time-nan", &["--time", "NaN"], &["--time NaN: must be"]);
    run_refused(
        "final-inf",
        &["--final-s", "inf"],
        &["--final-s inf: must be a number of seconds from 0 to 3600 (1 hour)"],
    );
}

/// The longest run allowed, with every fault at the default interval, would need a schedule
/// of about 1.75 million actions: refused before it is built whole, with what to change.
#[test]
fn a_schedule_too_long_to_hold_is_refused_not_built() {
    run_refused(
        "week",
        &["--time", "604800"],
        &["the nemesis schedule would hold more than 1000000 actions", "--nemesis-interval-s"],
    );
}

#[test]
fn absurd_durations_are_refused_by_flag() {
    let hour = "must be a number of milliseconds from 0 to 3600000 (1 hour)";
    run_refused("down", &["--down-ms", "1e300"], &[&format!("--down-ms 1e300: {hour}")]);
    run_refused("pause", &["--pause-ms", "1e300"], &[&format!("--pause-ms 1e300: {hour}")]);
    run_refused("delay", &["--delay-ms", "1e300"], &[&format!("--delay-ms 1e300: {hour}")]);
    run_refused("reorder", &["--reorder-ms", "inf"], &[&format!("--reorder-ms inf: {hour}")]);
    run_refused("crash-p", &["--crash-p", "NaN"], &["--crash-p NaN: must be a probability from 0 to 1"]);
    run_refused(
        "revisit",
        &["--revisit", "1.5"],
        &["Error: --revisit 1.5: must be a probability from 0 to 1"],
    );
    run_refused("revisit-neg", &["--revisit=-0.1"], &["--revisit -0.1: must be a probability"]);
    run_refused("interval", &["--nemesis-interval-s", "0"], &["--nemesis-interval-s 0.0: must be"]);
    let max = u64::MAX.to_string();
    run_refused(
        "op-timeout",
        &["--op-timeout-ms", &max],
        &[&format!("--op-timeout-ms {max}: must be from 1 to 3600000 ms (1 hour)")],
    );
    run_refused(
        "phase-timeout",
        &["--phase-timeout-ms", &max],
        &[&format!("--phase-timeout-ms {max}: must be from 1 to 3600000 ms (1 hour)")],
    );
    run_refused("phase-zero", &["--phase-timeout-ms", "0"], &["--phase-timeout-ms 0: must be from 1"]);
}

#[test]
fn other_commands_bound_their_times_too() {
    refused(&["soak", "--runs", "1", "--time-per-run", "1e20"], &["--time-per-run", "7 days"]);
    refused(&["soak", "--time=-5"], &["--time", "above 0"]);
    refused(&["mutants", "--budget-s", "NaN"], &["--budget-s", "above 0"]);
    refused(
        &["soak", "--runs", "1", "--revisit", "NaN"],
        &["--revisit NaN: must be a probability from 0 to 1"],
    );
    refused(&["bench", "--time", "1e20"], &["--time", "7 days"]);
}

// ---- --replay of a doctored meta.json ----

fn config() -> Value {
    json!({
        "nodes": 3, "acceptors": [1, 2, 3], "proposers": [1, 2, 3], "learners": [1, 2, 3],
        "node_cmd": null, "time_s": 1.0, "instances": null, "concurrency": 8, "contention": 2,
        "op_timeout_ms": 2000, "final_s": 10.0, "seed": 7, "runs_dir": "runs", "trace": "all",
        "nemesis": {
            "faults": ["loss"], "interval_s": 3.0, "loss": 0.2, "delay_ms": 10.0,
            "delay_dist": "exponential", "duplicate": 0.1, "reorder": 0.3, "reorder_ms": 50.0,
            "down_ms": 800.0, "pause_ms": 800.0, "crash_p": 0.05
        },
        "schedule": {"source": "generated"}, "tuning": {}, "bug_nodes": [1, 2, 3],
    })
}

/// A recorded run folder whose meta.json holds `config` (pretty-printed, a field a line).
fn recorded(root: &Path, name: &str, config: &Value) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let meta = json!({"run_id": name, "started_at": "20261128T120000", "config": config});
    std::fs::write(dir.join("meta.json"), serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    std::fs::write(
        dir.join("history.jsonl"),
        "{\"type\":\"run\",\"t\":0}\n{\"type\":\"phase\",\"t\":10,\"phase\":\"workload\"}\n{\"type\":\"end\",\"t\":20}\n",
    )
    .unwrap();
    dir
}

fn replay_refused(root: &Path, name: &str, config: &Value, want: &str) {
    let run = recorded(root, name, config);
    let out_dir = root.join("out");
    let meta = run.join("meta.json").display().to_string();
    let err = refused(
        &["run", "--replay", run.to_str().unwrap(), "--runs-dir", out_dir.to_str().unwrap(), "-q"],
        &[&format!("Error: --replay: {meta}: {want}")],
    );
    assert!(!out_dir.join("latest").exists(), "a run started: {err}");
}

#[test]
fn a_doctored_meta_json_cannot_bypass_the_flag_limits() {
    let root = runs_dir("replay");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = config();
        f(&mut c);
        c
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("contention", with(&|c| c["contention"] = json!(0)), "config.contention 0: must be from 1 to 64"),
        (
            "proposers",
            with(&|c| c["proposers"] = json!([])),
            "config.proposers []: must name at least one node",
        ),
        (
            "time",
            with(&|c| c["time_s"] = json!(-1.0)),
            "config.time_s -1.0: must be a number of seconds from 0 to 604800",
        ),
        ("nodes", with(&|c| c["nodes"] = json!(1000)), "config.nodes 1000: must be from 1 to 64"),
        (
            "acceptors",
            with(&|c| c["acceptors"] = json!([1, 2, 7])),
            "config.acceptors [1, 2, 7]: names n7, outside n1..n3",
        ),
        (
            "op-timeout",
            with(&|c| c["op_timeout_ms"] = json!(u64::MAX)),
            "config.op_timeout_ms 18446744073709551615: must be from 1 to 3600000 ms",
        ),
        (
            "phase-timeout",
            with(&|c| c["tuning"] = json!({"phase_timeout_ms": u64::MAX})),
            "config.tuning.phase_timeout_ms 18446744073709551615: must be",
        ),
        (
            "backoff",
            with(&|c| c["tuning"] = json!({"backoff_max_ms": 1u64 << 50})),
            "config.tuning.backoff_max_ms 1125899906842624: must be at most 3600000 ms",
        ),
        ("down", with(&|c| c["nemesis"]["down_ms"] = json!(1e300)), "config.nemesis.down_ms 1e300: must be"),
        (
            "revisit",
            with(&|c| c["revisit"] = json!(2.0)),
            "config.revisit 2.0: must be a probability from 0 to 1",
        ),
        (
            "loss",
            with(&|c| c["nemesis"]["loss"] = json!(7)),
            "config.nemesis.loss 7.0: must be a probability",
        ),
        // Type errors name the line and column of the field.
        (
            "negative-nodes",
            with(&|c| c["nodes"] = json!(-3)),
            "not a usable synod meta.json: invalid value: integer `-3`, expected u32 at line",
        ),
    ];
    for (name, config, want) in cases {
        replay_refused(&root, name, &config, want);
    }
    let _ = std::fs::remove_dir_all(&root);
}

// ---- --schedule files ----

#[test]
fn every_bad_schedule_line_is_named_by_file_and_line() {
    let dir = runs_dir("schedule");
    std::fs::create_dir_all(&dir).unwrap();
    let heal = "{\"at_s\": 0.5, \"action\": \"heal\"}";
    let cases = [
        ("{\"at_s\": -2, \"action\": \"heal\"}", "`at_s` -2.0: must be a number of seconds from 0 to 604800"),
        ("{\"at_s\": 1e300, \"action\": \"heal\"}", "`at_s` 1e300: must be"),
        ("{\"at_s\": 1, \"action\": \"kill\", \"nodes\": [4]}", "no node 4 in a cluster of 3"),
        ("{\"at_s\": 1, \"action\": \"kill\", \"nodes\": [0]}", "no node 0 in a cluster of 3"),
        ("{\"at_s\": NaN, \"action\": \"heal\"}", "expected value at line 1"),
        ("{\"at_s\": \"NaN\", \"action\": \"heal\"}", "`at_s` \"NaN\": must be"),
        (
            "{\"at_s\": 1, \"action\": \"delay\", \"dist\": \"constant\", \"mean_ms\": 1e300}",
            "mean_ms 1e300: must be a number of milliseconds from 0 to 3600000",
        ),
        (
            "{\"at_s\": 1, \"action\": \"crash-point\", \"msg\": \"accept\", \"p\": 0.5, \"down_ms\": 4e6}",
            "down_ms 4000000.0: must be a number of milliseconds",
        ),
        ("{\"at_s\": 1, \"action\": \"loss\", \"p\": 2}", "p 2.0: must be a probability from 0 to 1"),
    ];
    for (i, (line, want)) in cases.iter().enumerate() {
        // The bad line is the third: after a comment and a good line.
        let path = dir.join(format!("s{i}-é.jsonl"));
        std::fs::write(&path, format!("# a comment\n{heal}\n{line}\n")).unwrap();
        let p = path.display().to_string();
        run_refused(&format!("schedule-{i}"), &["--schedule", &p], &[&format!("Error: {p}:3: {want}")]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- ls and compare on names that are not ASCII ----

#[test]
fn ls_and_compare_cut_long_names_between_characters() {
    let root = runs_dir("ls-utf8");
    let mut c = config();
    // "file /tmp/" is 10 bytes, then two bytes a character: byte 27 (ls) and byte 29
    // (compare) fall inside one.
    c["schedule"] = json!({"source": "file", "path": "/tmp/éééééééééééééééééééé/x.jsonl"});
    let run = recorded(&root, "run-utf8", &c);
    let out = synod().args(["ls", root.to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && !stderr(&out).contains("panicked"), "{:?}: {}", out.status, stderr(&out));
    assert!(text.contains(&format!("file /tmp/{}~", "é".repeat(17))), "{text}");
    let out = synod().args(["compare", run.to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && !stderr(&out).contains("panicked"), "{:?}: {}", out.status, stderr(&out));
    assert!(text.contains(&format!("file /tmp/{}~", "é".repeat(19))), "{text}");
    let _ = std::fs::remove_dir_all(&root);
}

// ---- the node's init ----

/// Plays the controller for one `synod node`: sends it an init whose phase timeout is
/// u64::MAX. The node must refuse it by name and exit, not overflow.
#[test]
fn a_node_refuses_an_init_with_an_absurd_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let data = runs_dir("node-init");
    std::fs::create_dir_all(&data).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_synod"))
        .arg("node")
        .env("SYNOD_CONTROLLER", listener.local_addr().unwrap().to_string())
        .env("SYNOD_NODE", "1")
        .env("SYNOD_TOKEN", "tok")
        .env("SYNOD_DATA_DIR", &data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Whatever happens below, the node does not outlive the test (std's kill never signals
    // a child already waited for, so a recycled pid is safe).
    struct Node(std::process::Child);
    impl Drop for Node {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut node = Node(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    listener.set_nonblocking(true).unwrap();
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "the node never dialled");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut hello = String::new();
    BufReader::new(&stream).read_line(&mut hello).unwrap();
    assert!(hello.contains("\"hello\""), "{hello}");
    let init = json!({"src": 0, "dest": 1, "body": {
        "type": "init", "node": 1, "nodes": [1, 2, 3], "acceptors": [1, 2, 3], "proposers": [1, 2, 3],
        "learners": [1, 2, 3], "config": {"phase_timeout_ms": u64::MAX}
    }});
    (&stream).write_all(format!("{init}\n").as_bytes()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = node.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the node did not exit after a bad init");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(node.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains(&format!(
            "invalid init: config.phase_timeout_ms {}: at most 3600000 ms (1 hour)",
            u64::MAX
        )),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&data);
}
