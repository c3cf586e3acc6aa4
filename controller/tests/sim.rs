//! `synod sim` through the library: a simulated run is a function of its config and seed
//! (the same bytes twice), it writes an ordinary run folder, and it is judged as a real run
//! of the same faults would be: the correct protocol passes every fault, a node that skips
//! its fsyncs is caught by a power loss.

use std::path::{Path, PathBuf};
use synod_checker::history::{Event, Events};
use synod_checker::{HistoryFormat, Verdict};
use synod_controller::nemesis::FaultKind;
use synod_controller::progress::Progress;
use synod_controller::run::config::RunConfig;
use synod_controller::run::{sim_once, RunOutcome};
use synod_node::paxos::Bug;

struct Runs {
    dir: PathBuf,
}

impl Runs {
    fn new(name: &str) -> Runs {
        let dir = std::env::temp_dir().join(format!("synod-sim-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Runs { dir }
    }

    fn remove(self) {
        std::fs::remove_dir_all(&self.dir).unwrap();
    }
}

/// `synod sim --time T --seed S` as planned by the flags: `RunConfig::defaults` (every fault,
/// power losses included: a simulation needs no FUSE), its history in plain JSONL.
fn config(runs: &Runs, seed: u64, time_s: f64) -> RunConfig {
    let mut cfg = RunConfig::defaults(5, seed);
    cfg.runs_dir = runs.dir.clone();
    cfg.time_s = time_s;
    cfg.quiet = true;
    cfg.history_format = HistoryFormat::Jsonl;
    cfg.nemesis.faults = FaultKind::ALL.to_vec();
    cfg
}

fn simulate(cfg: RunConfig) -> RunOutcome {
    cfg.validate().unwrap_or_else(|e| panic!("{}", e.as_flag()));
    let schedule = synod_controller::plan::generated_schedule(&cfg).unwrap();
    let argv = vec!["sim-test".to_string()];
    sim_once(cfg, schedule, &argv, &mut Progress::for_run(true), false).expect("the simulation runs")
}

fn history_bytes(run: &Path) -> Vec<u8> {
    std::fs::read(run.join(HistoryFormat::Jsonl.file_name())).unwrap()
}

fn events(run: &Path) -> Vec<Event<'static>> {
    let mut events = Events::open(run).unwrap();
    let mut all = Vec::new();
    while let Some(ev) = events.next() {
        all.push(ev.unwrap().into_owned());
    }
    all
}

#[test]
fn the_same_seed_writes_the_same_history_byte_for_byte() {
    let runs = Runs::new("same");
    let a = simulate(config(&runs, 7, 2.0));
    let b = simulate(config(&runs, 7, 2.0));
    let c = simulate(config(&runs, 8, 2.0));
    assert_ne!(a.run_dir, b.run_dir, "two runs, two folders");
    let (ha, hb, hc) = (history_bytes(&a.run_dir), history_bytes(&b.run_dir), history_bytes(&c.run_dir));
    assert!(ha.len() > 100_000, "a run with traffic: {} bytes", ha.len());
    assert!(ha == hb, "seed 7 twice: histories differ");
    assert!(ha != hc, "seeds 7 and 8 wrote the same history");
    assert_eq!(a.report.verdict, Verdict::Valid, "{}", a.report.render_text());
    // An ordinary run folder: meta.json says it was simulated, report.json is there.
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.run_dir.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["simulated"], true);
    assert!(a.run_dir.join("report.json").is_file());
    runs.remove();
}

/// Every fault of the nemesis happens in a simulation, and the correct protocol is safe and
/// live under them all.
#[test]
fn the_correct_protocol_passes_every_fault() {
    let runs = Runs::new("correct");
    let mut exercised = std::collections::BTreeMap::new();
    for seed in 1..=4 {
        let outcome = simulate(config(&runs, seed, 6.0));
        assert_eq!(outcome.report.verdict, Verdict::Valid, "seed {seed}: {}", outcome.report.render_text());
        assert!(outcome.final_errors.is_empty(), "seed {seed}: {:?}", outcome.final_errors);
        for (kind, n) in outcome.exercised {
            *exercised.entry(kind).or_insert(0) += n;
        }
    }
    let missing: Vec<&str> =
        FaultKind::ALL.iter().filter(|k| !exercised.contains_key(k)).map(|k| k.name()).collect();
    assert!(missing.is_empty(), "never exercised in 4 seeds: {missing:?}");
    runs.remove();
}

/// A node that skips its fsyncs loses its promises to a simulated power loss, and the
/// checker sees it; the `disk` events say what was lost.
#[test]
fn a_power_loss_catches_a_node_that_skips_its_fsyncs() {
    let runs = Runs::new("fsync");
    let mut caught = None;
    for seed in 1..=6 {
        let mut cfg = config(&runs, seed, 5.0);
        cfg.tuning.bug = Some(Bug::SkipFsync);
        cfg.nemesis.faults = vec![FaultKind::PowerLoss, FaultKind::PowerLossAll, FaultKind::Loss];
        let outcome = simulate(cfg);
        if outcome.report.verdict == Verdict::Invalid {
            caught = Some(outcome);
            break;
        }
    }
    let outcome = caught.expect("skip-fsync survived 6 simulated runs of power losses");
    let lost: u64 = events(&outcome.run_dir)
        .iter()
        .filter_map(|ev| match ev {
            Event::Disk(disk) => Some(disk.bytes),
            _ => None,
        })
        .sum();
    assert!(lost > 0, "a power loss that caught skip-fsync lost no bytes");
    // The correct protocol, under the same power losses, loses nothing it synced.
    let mut cfg = config(&runs, 1, 5.0);
    cfg.nemesis.faults = vec![FaultKind::PowerLoss, FaultKind::PowerLossAll, FaultKind::Loss];
    let outcome = simulate(cfg);
    assert_eq!(outcome.report.verdict, Verdict::Valid, "{}", outcome.report.render_text());
    runs.remove();
}

/// Ctrl-C ends a simulation as it ends a real run: the workload stops, the final phase runs,
/// the history is checked, and the command says it was interrupted. (A simulation never
/// waits, so this holds only because it yields to the signal handler now and then.)
#[test]
fn an_interrupt_ends_the_workload_of_a_simulation() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let runs = Runs::new("interrupt");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_synod"))
        .args(["sim", "--seed", "3", "--time", "100000", "-q", "--runs-dir"])
        .arg(&runs.dir)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("a simulation went on 60 s after SIGINT");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains("interrupted: the workload was cut short"), "{stderr}");
    assert_eq!(status.code(), Some(0), "{stderr}");
    let run = std::fs::canonicalize(runs.dir.join("latest")).unwrap();
    let end = events(&run).into_iter().find_map(|ev| match ev {
        Event::End(end) => Some(end),
        _ => None,
    });
    assert!(end.expect("the history has its end line").workload_cut);
    runs.remove();
}
