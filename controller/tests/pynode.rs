//! tests/nodes/paxos.py, a Paxos node written in Python, under `--node-cmd`: it must be
//! judged valid and live under faults, with and without fsync. A SIGKILL keeps the page
//! cache, so the node that never fsyncs is still valid under `kill`; catching it is the
//! power-loss fault's job (issue 15), and `python_node_cmd(false)` is its subject.

mod common;

use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A 3-node run of the Python node for 5 s under `nemesis`, which must exit 0; returns the
/// runs dir, the run folder and its report.
fn python_run(name: &str, fsync: bool, nemesis: &str) -> (std::path::PathBuf, std::path::PathBuf, Value) {
    let dir = runs_dir(name);
    let (d, cmd) = (dir.to_str().unwrap().to_string(), python_node_cmd(fsync));
    run_ok(&[
        "run",
        "--nodes",
        "3",
        "--time",
        "5",
        "--nemesis",
        nemesis,
        "--nemesis-interval-s",
        "1",
        "--seed",
        "15",
        "--runs-dir",
        &d,
        "-q",
        "--node-cmd",
        &cmd,
    ]);
    let run = latest(&dir);
    let report: Value = serde_json::from_slice(&std::fs::read(run.join("report.json")).unwrap()).unwrap();
    (dir, run, report)
}

/// Every node's log, concatenated.
fn node_logs(run: &Path) -> String {
    (1..=3).map(|k| std::fs::read_to_string(run.join(format!("nodes/n{k}/node.log"))).unwrap()).collect()
}

/// The checks both runs share: valid, decisions made, nodes killed and restarted with their
/// state read back, nothing malformed, no node left behind.
fn assert_valid_with_restarts(run: &Path, report: &Value) {
    assert_eq!(report["verdict"], "valid", "{report}");
    assert_eq!(report["safe"], true);
    assert_eq!(report["live"], true);
    let decisions = report["figures"]["decisions"].as_u64().unwrap();
    assert!(decisions > 0, "no decisions: {report}");
    let events = history(run, false);
    let kills = events.iter().filter(|e| e["type"] == "nemesis" && e["action"] == "kill").count();
    assert!(kills > 0, "the nemesis killed no node");
    assert!(node_pids(&events).len() > 3, "no node was restarted");
    let logs = node_logs(run);
    // A restarted node read back promises its earlier incarnation wrote.
    assert!(
        logs.lines().any(|l| l.contains("restored") && !l.contains("restored 0 promises")),
        "no restart restored any state:\n{logs}"
    );
    for bad in ["Traceback", "malformed", "skipping"] {
        assert!(!logs.contains(bad), "node logs contain {bad:?}:\n{logs}");
    }
    for pid in node_pids(&events) {
        assert!(!alive(pid), "node pid {pid} outlived the run");
    }
}

#[test]
fn python_node_is_valid_and_live_under_kill_partition_and_loss() {
    if !python3_found() {
        println!("skipped: python3 not found");
        return;
    }
    let (dir, run, report) = python_run("py-faults", true, "kill,partition,loss");
    assert_valid_with_restarts(&run, &report);
    let events = history(&run, false);
    for action in ["partition", "loss"] {
        assert!(events.iter().any(|e| e["type"] == "nemesis" && e["action"] == action), "no {action}");
    }
    assert!(node_logs(&run).contains("(fsync on)"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn python_node_without_fsync_is_still_valid_under_sigkill() {
    if !python3_found() {
        println!("skipped: python3 not found");
        return;
    }
    let (dir, run, report) = python_run("py-nofsync", false, "kill");
    let meta: Value = serde_json::from_slice(&std::fs::read(run.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["config"]["node_cmd"], python_node_cmd(false));
    // SIGKILL keeps the page cache: the unsynced records survive, so the run is valid.
    assert_valid_with_restarts(&run, &report);
    assert!(node_logs(&run).contains("(fsync OFF)"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs paxos.py on `data_dir` against a listener that takes its `hello` and closes; returns
/// its exit code and its log (stderr).
fn python_node_on(data_dir: &Path) -> (Option<i32>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut child = Command::new("python3")
        .arg(format!("{}/tests/nodes/paxos.py", env!("CARGO_MANIFEST_DIR")))
        .env("SYNOD_CONTROLLER", listener.local_addr().unwrap().to_string())
        .env("SYNOD_NODE", "1")
        .env("SYNOD_TOKEN", "tok")
        .env("SYNOD_DATA_DIR", data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status; // a node on bad state exits without dialing
        }
        match listener.accept() {
            Ok((conn, _)) => {
                conn.set_nonblocking(false).unwrap();
                let mut hello = String::new();
                BufReader::new(&conn).read_line(&mut hello).unwrap();
                assert!(hello.contains(r#""type":"hello""#), "{hello}");
                drop(conn); // closed before init: the node exits 1
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("accept: {e}"),
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("paxos.py did not exit within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    (status.code(), log)
}

#[test]
fn python_node_cuts_a_torn_last_line_and_refuses_a_bad_line_before_good_ones() {
    if !python3_found() {
        println!("skipped: python3 not found");
        return;
    }
    let dir = runs_dir("py-state");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("paxos-py.jsonl");
    let good = "{\"r\":\"promise\",\"instance\":1,\"ballot\":[2,1]}\n{\"r\":\"round\",\"round\":5}\n";
    // A torn last line is the write a crash cut short: cut off, and the node starts.
    std::fs::write(&file, format!("{good}{{\"r\":\"acc")).unwrap();
    let (code, log) = python_node_on(&dir);
    assert_eq!(code, Some(1), "closed before init:\n{log}");
    assert!(log.contains("cutting a torn last line of 9 bytes at offset 68"), "{log}");
    assert!(log.contains("restored 1 promises, 0 accepts, highest round 5"), "{log}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), good);
    // A bad line followed by good ones is lost acknowledged state: refuse to start, untouched.
    let bad = format!("{{\"r\":\"promise\",\"instance\":1,\"ballot\":[2,1]}}\nnot json\n{good}");
    std::fs::write(&file, &bad).unwrap();
    let (code, log) = python_node_on(&dir);
    assert_eq!(code, Some(3), "{log}");
    assert!(log.contains("paxos-py.jsonl: line 2 (offset 44) is bad"), "{log}");
    assert!(log.contains("refusing to start"), "{log}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), bad);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn python_node_skips_over_long_and_malformed_frames_and_still_decides() {
    if !python3_found() {
        println!("skipped: python3 not found");
        return;
    }
    let dir = runs_dir("py-frames");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut child = Command::new("python3")
        .arg(format!("{}/tests/nodes/paxos.py", env!("CARGO_MANIFEST_DIR")))
        .env("SYNOD_CONTROLLER", listener.local_addr().unwrap().to_string())
        .env("SYNOD_NODE", "1")
        .env("SYNOD_TOKEN", "tok")
        .env("SYNOD_DATA_DIR", &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(&conn);
    let mut writer = &conn;
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.contains(r#""type":"hello""#), "{line}");
    // Before init: a frame of 1 MB (many reads), bad JSON; both skipped.
    let long = format!(
        "{{\"src\":0,\"dest\":1,\"body\":{{\"type\":\"x\",\"pad\":\"{}\"}}}}\n",
        "a".repeat(1_000_000)
    );
    writer.write_all(long.as_bytes()).unwrap();
    writer.write_all(b"not json\n").unwrap();
    let init = r#"{"src":0,"dest":1,"body":{"type":"init","node":1,"nodes":[1],"acceptors":[1],"proposers":[1],"learners":[1],"config":{"seed":3,"bug":null,"future_field":1}}}"#;
    let propose = |op: u64, value: &str| {
        format!(
            r#"{{"src":0,"dest":1,"body":{{"type":"propose","msg_id":{op},"instance":9,"value":"{value}"}}}}"#
        )
    };
    // After init: an over-long frame, bad JSON, a field of the wrong type, then a good propose.
    let frames = [
        init.to_string(),
        long.trim_end().to_string(),
        "{}".into(),
        propose(1, "v").replace("9,", "\"9\","),
        propose(2, "v"),
    ];
    writer.write_all((frames.join("\n") + "\n").as_bytes()).unwrap();
    // Route the node's messages to itself (a one-node cluster) until op 2 is answered.
    let (mut learned, mut answer) = (None, None);
    for _ in 0..100 {
        if answer.is_some() && learned.is_some() {
            break;
        }
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the node closed the connection");
        let frame: Value = serde_json::from_str(&line).unwrap();
        match (frame["dest"].as_u64().unwrap(), frame["body"]["type"].as_str().unwrap()) {
            (1, _) => writer.write_all(line.as_bytes()).unwrap(),
            (0, "learned") => learned = Some(frame["body"].clone()),
            (0, _) => answer = Some(frame["body"].clone()),
            other => panic!("unexpected frame {other:?}: {line}"),
        }
    }
    drop(reader);
    drop(conn); // the controller closes: the node exits 0
    let status = child.wait().unwrap();
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    let answer = answer.expect("op 2 never answered");
    assert_eq!(answer["type"], "propose_ok", "{answer}");
    assert_eq!((answer["in_reply_to"].as_u64(), answer["value"].as_str()), (Some(2), Some("v")));
    assert_eq!(learned.expect("never learned")["value"], "v");
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(log.matches("skipping a frame over 64 KiB").count(), 2, "{log}");
    assert!(log.contains("skipping a malformed frame before init"), "{log}");
    assert!(log.contains("skipping a malformed frame: not an envelope"), "{log}");
    assert!(log.contains("instance: '9' is not an unsigned 64-bit integer"), "{log}");
    std::fs::remove_dir_all(&dir).unwrap();
}
