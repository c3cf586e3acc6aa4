//! A full disk is a clean stop (issue 16): runs and soaks whose runs dir is a small tmpfs end
//! with exit 0 (it fit) or exit 2 and a message about disk space, never a panic; soak.json
//! stays valid JSON; what the last run left is checkable.
//!
//! Mounting a tmpfs needs root: without it the tests print "skipped: <reason>".

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A tmpfs mounted on a fresh folder, unmounted and removed on drop (also when a test fails).
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(name: &str, size: &str) -> Result<Tmpfs, String> {
        let dir = runs_dir(&format!("tmpfs-{name}"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir(&dir);
            return Err(format!("cannot mount a tmpfs: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(Tmpfs { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(&self.dir).status().is_ok_and(|s| s.success());
        if !ok {
            // Busy (a process still holds a file): detach it, it goes when they are done.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// No panic, and exit 0, or exit 2 with a message about disk space.
fn assert_clean_stop(out: &Output) {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "a panic: {err}");
    match out.status.code() {
        Some(0) => {}
        Some(2) => assert!(
            err.contains("a run needs about") || err.contains("the disk is full"),
            "exit 2 without a message about disk space: {err}"
        ),
        other => panic!("exit {other:?}\nstdout: {}\nstderr: {err}", String::from_utf8_lossy(&out.stdout)),
    }
}

fn soak_json(dir: &Path) -> Value {
    let soak = folder_with_prefix(dir, "soak-");
    let text = std::fs::read_to_string(soak.join("soak.json")).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("soak.json is not valid JSON: {e}\n{text}"))
}

/// `synod check` reads what `run` left: a verdict, not an unreadable history. An aborted run
/// exits 2 as `aborted`; anything else 0, 1 or 3 (a run cut by the disk reads as truncated).
fn assert_checkable(run: &Path) {
    let out = synod().args(["check", "--json"]).arg(run).output().unwrap();
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check of {}: no report ({e}): {}", run.display(), stderr(&out)));
    let verdict = report["verdict"].as_str().unwrap().to_string();
    match out.status.code() {
        Some(0 | 1 | 3) => {}
        Some(2) => assert_eq!(verdict, "aborted", "{}", stderr(&out)),
        other => panic!("check exit {other:?}: {}", stderr(&out)),
    }
    // Every complete line of the history parses.
    assert!(!history(run, true).is_empty(), "{}: an empty history", run.display());
}

/// The acceptance line: a soak into a 6 MB tmpfs. A default run does not fit there, so the
/// soak stops before its first run, says why, and records it in soak.json.
#[test]
fn a_soak_on_a_6mb_tmpfs_stops_cleanly_with_valid_soak_json() {
    let fs = match Tmpfs::mount("soak6", "6m") {
        Ok(fs) => fs,
        Err(why) => return println!("skipped: {why}"),
    };
    let d = fs.dir.to_str().unwrap();
    let out =
        synod().args(["soak", "--time-per-run", "5", "--runs", "5", "-q", "--runs-dir", d]).output().unwrap();
    assert_clean_stop(&out);
    let soak = soak_json(&fs.dir);
    let runs = soak["runs"].as_array().unwrap();
    if out.status.code() == Some(2) {
        let stopped = soak["stopped_early"].as_str().expect("the soak says why it stopped");
        assert!(stopped.contains("MB free") || stopped.contains("disk is full"), "{stopped}");
        assert!(stopped.contains(d), "the message names the runs dir: {stopped}");
    }
    if let Some(last) = runs.last() {
        assert_checkable(Path::new(last["path"].as_str().unwrap()));
    }
}

/// A soak with room for a few runs: it runs while they fit and stops, before a run, once the
/// next might not (twice its largest run so far); every finished run is listed and checkable.
#[test]
fn a_soak_stops_before_the_run_that_might_not_fit() {
    let fs = match Tmpfs::mount("soak24", "24m") {
        Ok(fs) => fs,
        Err(why) => return println!("skipped: {why}"),
    };
    let d = fs.dir.to_str().unwrap();
    let out = synod()
        .args(["soak", "--time-per-run", "3", "--runs", "30", "-q", "--runs-dir", d])
        .output()
        .unwrap();
    assert_clean_stop(&out);
    assert_eq!(out.status.code(), Some(2), "30 runs cannot fit in 24 MB: {}", stderr(&out));
    let soak = soak_json(&fs.dir);
    let runs = soak["runs"].as_array().unwrap();
    assert!(!runs.is_empty(), "the first run fits: {}", stderr(&out));
    let stopped = soak["stopped_early"].as_str().unwrap();
    assert!(stopped.contains("would not fit") && stopped.contains("a run needs about"), "{stopped}");
    assert!(stderr(&out).contains("a run needs about"), "{}", stderr(&out));
    assert_checkable(Path::new(runs.last().unwrap()["path"].as_str().unwrap()));
}

/// A run that fills the disk mid-way: exit 2 with a message saying the disk is full and naming
/// the path, its nodes stopped, its history readable up to its last complete line.
#[test]
fn a_run_that_fills_the_disk_ends_cleanly_with_its_history_readable() {
    let fs = match Tmpfs::mount("run20", "20m") {
        Ok(fs) => fs,
        Err(why) => return println!("skipped: {why}"),
    };
    let d = fs.dir.to_str().unwrap();
    // A default run writes about 0.65 MB a second: 60 s do not fit in 20 MB.
    let out = synod().args(["run", "--time", "60", "-q", "--runs-dir", d]).output().unwrap();
    assert_clean_stop(&out);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("the disk is full") && err.contains(d), "{err}");
    assert!(!err.contains("exited"), "the message is about the disk, not the nodes: {err}");
    let run = latest(&fs.dir);
    assert_checkable(&run);
    for pid in node_pids(&history(&run, true)) {
        assert!(!alive(pid), "node pid {pid} still runs");
    }
}

/// `synod run` into a runs dir below the floor: refused before anything is written.
#[test]
fn a_run_that_would_not_fit_is_refused_before_it_starts() {
    let fs = match Tmpfs::mount("run6", "6m") {
        Ok(fs) => fs,
        Err(why) => return println!("skipped: {why}"),
    };
    let d = fs.dir.to_str().unwrap();
    let out = synod().args(["run", "--time", "5", "-q", "--runs-dir", d]).output().unwrap();
    assert_clean_stop(&out);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let want =
        format!("Error: runs dir {d}: 6.3 MB free, a run needs about 16.8 MB (the floor for a first run");
    // Its one error line (a machine without FUSE warns first that power faults are off).
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
    assert!(errors.len() == 1 && errors[0].starts_with(&want), "{err}");
    assert_eq!(std::fs::read_dir(&fs.dir).unwrap().count(), 0, "nothing written to {d}");
}

/// A plain history fills 20 MB in about 2 s, faster than the free-space check looks: most
/// often the history writer's ENOSPC is what stops the run. Either way: exit 2 about the disk,
/// every complete line readable (the last may be torn), no torn report.json left behind.
#[test]
fn a_plain_history_cut_by_the_disk_reads_to_its_last_complete_line() {
    let fs = match Tmpfs::mount("plain20", "20m") {
        Ok(fs) => fs,
        Err(why) => return println!("skipped: {why}"),
    };
    let d = fs.dir.to_str().unwrap();
    let out = synod()
        .args(["run", "--time", "30", "-q", "--history-format", "jsonl", "--runs-dir", d])
        .output()
        .unwrap();
    assert_clean_stop(&out);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("the disk is full") && err.contains(d), "{err}");
    let run = latest(&fs.dir);
    assert!(run.join("history.jsonl").is_file());
    assert_checkable(&run);
    let names: Vec<String> = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "a torn temporary file is left: {names:?}");
}
