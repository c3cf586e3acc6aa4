//! Everything a run was asked to do, as recorded in meta.json and the history's `run` line.
//! `synod run --replay` reads it back from meta.json.
//!
//! [`RunConfig::validate`] holds a config to the bounds in `limits`, whoever built it (the
//! flags of `run`, `soak`, `mutants`, `bench` and `scenario`, or a recorded meta.json): a
//! run starts only from a config that passed it.

use crate::limits::{self, Invalid};
use crate::nemesis::NemesisConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use synod_checker::HistoryFormat;
use synod_node::paxos::{NodeId, Tuning};

/// Which events the history records (`--trace`, cli.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trace {
    /// Every message: send, recv, drop (the default).
    All,
    /// Client ops, learns, nemesis and process events only: for very long runs.
    Ops,
}

/// Where the run's nemesis schedule came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum ScheduleSource {
    /// Drawn from the seed and `nemesis` (the default).
    Generated,
    /// `--schedule FILE`.
    File { path: PathBuf },
    /// `--replay RUN`: the nemesis actions recorded in that run's history.
    Replay { run: PathBuf },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    pub nodes: u32,
    pub acceptors: Vec<NodeId>,
    pub proposers: Vec<NodeId>,
    pub learners: Vec<NodeId>,
    pub node_cmd: Option<String>,
    pub time_s: f64,
    pub instances: Option<u64>,
    pub concurrency: usize,
    pub contention: usize,
    /// The share of the workload's new ops that revisit an instance already decided, with a
    /// fresh value at another proposer (`--revisit`). A meta.json from before revisits has
    /// no such field: its runs had none, so it reads as 0.
    #[serde(default)]
    pub revisit: f64,
    pub op_timeout_ms: u64,
    pub final_s: f64,
    pub seed: u64,
    pub runs_dir: PathBuf,
    pub trace: Trace,
    #[serde(default)]
    pub quiet: bool,
    pub nemesis: NemesisConfig,
    pub schedule: ScheduleSource,
    /// The core's tunables and mutant, sent to every node in `init.config`.
    pub tuning: Tuning,
    /// Nodes that run the mutant in `tuning.bug` (the others run the correct protocol).
    pub bug_nodes: Vec<NodeId>,
    /// Data dirs on the lazy filesystem even when the schedule cuts no power (`--lazy-fs`:
    /// to measure what it costs). A schedule that cuts power always has it.
    #[serde(default)]
    pub lazy_fs: bool,
    /// How the history is stored (`--history-format`). A meta.json from before compressed
    /// histories has no such field: its run wrote plain JSONL, so it reads as `jsonl`.
    #[serde(default)]
    pub history_format: HistoryFormat,
}

impl RunConfig {
    /// What `synod run` does when no flag is given, on `nodes` nodes (each in every role) with
    /// `seed`: the base the commands that plan runs of their own (bench, scenarios, a soak's
    /// runs) change fields of, instead of writing flags. A test holds it to the flags' defaults
    /// (commands/plan.rs).
    pub fn defaults(nodes: u32, seed: u64) -> RunConfig {
        let all: Vec<NodeId> = (1..=nodes).collect();
        RunConfig {
            nodes,
            acceptors: all.clone(),
            proposers: all.clone(),
            learners: all.clone(),
            node_cmd: None,
            time_s: 30.0,
            instances: None,
            concurrency: 8,
            contention: 2,
            revisit: 0.1,
            op_timeout_ms: 2_000,
            final_s: 10.0,
            seed,
            runs_dir: "runs".into(),
            trace: Trace::All,
            quiet: false,
            nemesis: NemesisConfig::default(),
            schedule: ScheduleSource::Generated,
            tuning: Tuning::default(),
            bug_nodes: all,
            lazy_fs: false,
            history_format: HistoryFormat::Zst,
        }
    }

    /// Checks every setting against its bound (docs/cli.md, "Limits"); the error names the
    /// field and the flag that sets it.
    pub fn validate(&self) -> Result<(), Invalid> {
        let n = self.nodes;
        if !(1..=limits::MAX_NODES).contains(&n) {
            let must = format!("must be from 1 to {}", limits::MAX_NODES);
            return Err(Invalid::new("nodes", Some("--nodes"), n, must));
        }
        for (field, flag, list) in [
            ("acceptors", "--acceptors", &self.acceptors),
            ("proposers", "--proposers", &self.proposers),
            ("learners", "--learners", &self.learners),
            ("bug_nodes", "--bug-nodes", &self.bug_nodes),
        ] {
            node_list(field, flag, list, n)?;
        }
        let seconds = |field: &str, flag, v: f64, max: f64, what: &str| {
            limits::seconds(v, max, what).map(drop).map_err(|must| Invalid::new(field, Some(flag), v, must))
        };
        seconds("time_s", "--time", self.time_s, limits::MAX_TIME_S, "7 days")?;
        seconds("final_s", "--final-s", self.final_s, limits::MAX_FINAL_S, "1 hour")?;
        let count = |field: &str, flag, v: usize, max: usize| {
            if (1..=max).contains(&v) {
                Ok(())
            } else {
                Err(Invalid::new(field, Some(flag), v, format!("must be from 1 to {max}")))
            }
        };
        count("concurrency", "--concurrency", self.concurrency, limits::MAX_CONCURRENCY)?;
        count("contention", "--contention", self.contention, limits::MAX_CONTENTION)?;
        limits::probability(self.revisit)
            .map_err(|must| Invalid::new("revisit", Some("--revisit"), self.revisit, must))?;
        let timeout = |field: &str, flag, ms: u64| {
            if (1..=limits::MAX_DURATION_MS).contains(&ms) {
                Ok(())
            } else {
                let must = format!("must be from 1 to {} ms (1 hour)", limits::MAX_DURATION_MS);
                Err(Invalid::new(field, Some(flag), ms, must))
            }
        };
        timeout("op_timeout_ms", "--op-timeout-ms", self.op_timeout_ms)?;
        timeout("tuning.phase_timeout_ms", "--phase-timeout-ms", self.tuning.phase_timeout_ms)?;
        if let Err(synod_node::paxos::TuningError::TooLong { field, value }) = self.tuning.validate() {
            let must = format!("must be at most {} ms (1 hour)", limits::MAX_DURATION_MS);
            return Err(Invalid::new(format!("tuning.{field}"), None, value, must));
        }
        self.nemesis.validate()
    }
}

/// A role list: not empty (but `bug_nodes`), every id a node of the run, none twice.
fn node_list(field: &str, flag: &'static str, list: &[NodeId], nodes: u32) -> Result<(), Invalid> {
    let bad = |must: String| Err(Invalid::new(field, Some(flag), list, must));
    if list.is_empty() && field != "bug_nodes" {
        return bad("must name at least one node".into());
    }
    if let Some(id) = list.iter().find(|&&id| id == 0 || id > nodes) {
        return bad(format!("names n{id}, outside n1..n{nodes}"));
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(id) = list.iter().find(|&&id| !seen.insert(id)) {
        return bad(format!("names n{id} twice"));
    }
    Ok(())
}

/// A valid 3-node config, for tests.
#[cfg(test)]
pub(crate) fn sample() -> RunConfig {
    RunConfig { time_s: 30.0, seed: 1, ..RunConfig::defaults(3, 1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RunConfig {
        super::sample()
    }

    #[test]
    fn every_bound_names_its_field_and_flag() {
        assert_eq!(config().validate(), Ok(()));
        type Case = (fn(&mut RunConfig), &'static str);
        let cases: [Case; 17] = [
            (|c| c.nodes = 1000, "--nodes 1000: must be from 1 to 64"),
            (|c| c.nodes = 0, "--nodes 0: must be from 1 to 64"),
            (|c| c.proposers.clear(), "--proposers []: must name at least one node"),
            (|c| c.acceptors = vec![1, 9], "--acceptors [1, 9]: names n9, outside n1..n3"),
            (|c| c.learners = vec![2, 2], "--learners [2, 2]: names n2 twice"),
            (|c| c.time_s = -1.0, "--time -1.0: must be a number of seconds from 0 to 604800 (7 days)"),
            (|c| c.time_s = 1e20, "--time 1e20: must be"),
            (|c| c.final_s = f64::NAN, "--final-s NaN: must be"),
            (|c| c.contention = 0, "--contention 0: must be from 1 to 64"),
            (|c| c.concurrency = 0, "--concurrency 0: must be from 1 to 100000"),
            (|c| c.revisit = 1.5, "--revisit 1.5: must be a probability from 0 to 1"),
            (|c| c.revisit = -0.1, "--revisit -0.1: must be a probability from 0 to 1"),
            (|c| c.revisit = f64::NAN, "--revisit NaN: must be a probability from 0 to 1"),
            (
                |c| c.op_timeout_ms = u64::MAX,
                "--op-timeout-ms 18446744073709551615: must be from 1 to 3600000 ms",
            ),
            (
                |c| c.tuning.phase_timeout_ms = u64::MAX - 1,
                "--phase-timeout-ms 18446744073709551614: must be",
            ),
            (|c| c.tuning.backoff_max_ms = 1 << 40, "tuning.backoff_max_ms 1099511627776: must be at most"),
            (|c| c.nemesis.down_ms = 1e300, "--down-ms 1e300: must be"),
        ];
        for (break_it, want) in cases {
            let mut c = config();
            break_it(&mut c);
            let e = c.validate().unwrap_err().as_flag();
            assert!(e.starts_with(want), "{e} (want {want})");
        }
        let mut c = config();
        c.bug_nodes.clear();
        assert_eq!(c.validate(), Ok(()), "no node runs the mutant");
        for p in [0.0, 1.0] {
            let mut c = config();
            c.revisit = p;
            assert_eq!(c.validate(), Ok(()), "--revisit {p}");
        }
    }

    /// A meta.json written before compressed histories has no `history_format`: its run
    /// wrote plain JSONL.
    #[test]
    fn a_config_without_history_format_reads_as_jsonl() {
        let mut json = serde_json::to_value(config()).unwrap();
        assert_eq!(json["history_format"], "zst");
        json.as_object_mut().unwrap().remove("history_format");
        let old: RunConfig = serde_json::from_value(json).unwrap();
        assert_eq!(old.history_format, HistoryFormat::Jsonl);
    }

    /// A meta.json written before revisits existed has no `revisit`: its runs had none, and
    /// a replay of one must not start making them.
    #[test]
    fn a_config_without_revisit_reads_as_no_revisits() {
        let mut json = serde_json::to_value(config()).unwrap();
        assert_eq!(json["revisit"], 0.1);
        json.as_object_mut().unwrap().remove("revisit");
        let old: RunConfig = serde_json::from_value(json).unwrap();
        assert_eq!(old.revisit, 0.0);
        assert_eq!(old.validate(), Ok(()));
    }
}
