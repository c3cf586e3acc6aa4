//! A counterexample as an ordinary run folder: the actions the search found are replayed
//! from the initial state with an observer that writes each step's events to history.jsonl,
//! in the format every run uses (docs/history.md), so `synod check`, `show` and `report`
//! read it as they read any run. Time is a step counter: event k of the path has `t` = k.

use super::invariants::Violation;
use super::spec::Spec;
use super::state::{Envelope, State};
use super::step::{apply, Action, Observer};
use crate::rundir::RunDir;
use anyhow::{Context, Result};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use synod_checker::history::{self as h, Body, Event};
use synod_node::paxos::{InstanceId, NodeId, OpId, ProposeError};
use synod_node::protocol::body_json::write_body;

/// Writes the history of `path` in a new run folder under `runs_dir`; returns the folder.
/// `Err` if the replay does not end in `expected` (the search and the replay disagree).
pub fn write_run(
    spec: &Spec,
    path: &[Action],
    expected: &Violation,
    runs_dir: &Path,
    argv: &[String],
) -> Result<PathBuf> {
    let dir = RunDir::create_prefixed(runs_dir, "model-")?;
    let mut rec = Recorder::default();
    let nodes: Vec<u64> = spec.node_ids().into_iter().map(u64::from).collect();
    let config = json!({"trace": "all", "model": spec_json(spec)});
    rec.push(Event::Run(h::Run {
        t: 0,
        run_id: Some(Cow::Owned(dir.id.clone())),
        seed: None,
        nodes: nodes.clone(),
        acceptors: Some(nodes.clone()),
        proposers: Some(spec.proposer_ids().into_iter().map(u64::from).collect()),
        learners: Some(nodes.clone()),
        bug: Some(spec.bug.map(|b| Cow::Owned(b.name().to_string()))),
        bug_nodes: Some(nodes),
        config: Some(config.clone()),
    }));
    let mut state = State::initial(spec);
    let mut found = None;
    for &action in path {
        if let Err(v) = apply(spec, &mut state, action, &mut rec) {
            found = Some(v);
            break;
        }
    }
    rec.t += 1;
    rec.push(Event::End(h::End {
        t: rec.t,
        // A complete history: the checker then judges every decision it holds, the ones
        // it would leave pending in an interrupted run too (docs/checker.md).
        aborted: false,
        interrupted: false,
        reason: None,
        unanswered: None,
        unlearned: None,
        workload_cut: false,
    }));
    anyhow::ensure!(
        found.as_ref() == Some(expected),
        "the counterexample's replay ended in {found:?}, not in the violation the search found ({expected})"
    );
    let history = dir.path.join("history.jsonl");
    std::fs::write(&history, &rec.out).with_context(|| format!("cannot write {}", history.display()))?;
    let meta = json!({
        "command": argv,
        "version": env!("CARGO_PKG_VERSION"),
        "model": spec_json(spec),
        "violation": {"rule": expected.rule.name(), "detail": expected.detail},
        "steps": path.len(),
        "config": config,
    });
    let meta_path = dir.path.join("meta.json");
    std::fs::write(&meta_path, serde_json::to_vec_pretty(&meta)?)
        .with_context(|| format!("cannot write {}", meta_path.display()))?;
    dir.mark_latest()?;
    Ok(dir.path)
}

/// The spec as JSON (meta.json, the history's header, `--json`).
pub fn spec_json(spec: &Spec) -> Value {
    json!({
        "nodes": spec.nodes,
        "proposers": spec.proposers,
        "instances": spec.instances,
        "max_ballots": spec.max_ballots,
        "crashes": spec.crashes,
        "decided_retries": spec.decided_retries,
        "duplicate": spec.duplicate,
        "bug": spec.bug.map(|b| b.name()),
    })
}

/// Turns a replay's steps into history lines.
#[derive(Default)]
struct Recorder {
    out: Vec<u8>,
    t: u64,
    next_msg: u64,
    /// Ids of the copies of each message in flight, oldest first.
    in_flight: BTreeMap<Envelope, VecDeque<u64>>,
    /// Ops invoked and not yet answered, per node (a crash ends them `info`).
    open: BTreeMap<NodeId, BTreeSet<(OpId, InstanceId)>>,
}

impl Recorder {
    fn push(&mut self, event: Event<'_>) {
        event.write_json(&mut self.out);
        self.out.push(b'\n');
    }

    fn tick(&mut self) -> u64 {
        self.t += 1;
        self.t
    }
}

impl Observer for Recorder {
    fn invoke(&mut self, node: NodeId, op: OpId, instance: InstanceId, value: &str) {
        let t = self.tick();
        self.open.entry(node).or_default().insert((op, instance));
        let value = Cow::Owned(value.to_string());
        self.push(Event::Invoke(h::Invoke {
            t,
            instance,
            node: Some(node.into()),
            op,
            revisit: false,
            value,
        }));
    }

    fn send(&mut self, env: &Envelope) {
        let t = self.tick();
        self.next_msg += 1;
        let msg = self.next_msg;
        self.in_flight.entry(env.clone()).or_default().push_back(msg);
        let mut body = Vec::new();
        write_body(&env.msg.clone().into(), &mut body);
        let raw = serde_json::value::RawValue::from_string(String::from_utf8(body).expect("JSON is UTF-8"))
            .expect("a body the node writes is JSON");
        let body = Body::Raw(Cow::Owned(raw));
        self.push(Event::Send(h::Send {
            t,
            msg: Some(msg),
            src: env.from.into(),
            dest: env.to.into(),
            body,
        }));
    }

    fn deliver(&mut self, env: &Envelope, keep: bool) {
        let t = self.tick();
        let ids = self.in_flight.get_mut(env).expect("a delivered message was sent");
        let msg = if keep { ids.front().copied() } else { ids.pop_front() };
        if ids.is_empty() {
            self.in_flight.remove(env);
        }
        self.push(Event::Recv(h::Recv { t, msg }));
    }

    fn lose(&mut self, env: &Envelope) {
        let t = self.tick();
        let msg = self.in_flight.get_mut(env).and_then(VecDeque::pop_front);
        self.push(Event::Drop(h::Dropped { t, msg, reason: Cow::Borrowed("loss") }));
    }

    fn learned(&mut self, node: NodeId, instance: InstanceId, value: &str) {
        let t = self.tick();
        let value = Cow::Owned(value.to_string());
        self.push(Event::Learn(h::Learn { t, instance, node: node.into(), value }));
    }

    fn done(&mut self, node: NodeId, op: OpId, instance: InstanceId, result: &Result<String, ProposeError>) {
        let t = self.tick();
        self.open.entry(node).or_default().remove(&(op, instance));
        let node = Some(node.into());
        let event = match result {
            Ok(value) => Event::Ok(h::Ok {
                t,
                instance,
                late: false,
                node,
                op,
                reply_instance: None,
                unknown_op: false,
                value: Cow::Owned(value.clone()),
            }),
            Err(e) => {
                let failed = h::Failed {
                    t,
                    error: Some(Cow::Borrowed(e.code())),
                    instance: Some(instance),
                    late: false,
                    node,
                    op,
                    text: Some(Cow::Borrowed(e.text())),
                };
                // Gave up after ballots that may have been accepted: the outcome is unknown.
                if *e == ProposeError::GaveUp {
                    Event::Info(failed)
                } else {
                    Event::Fail(failed)
                }
            }
        };
        self.push(event);
    }

    fn crash(&mut self, node: NodeId) {
        let t = self.tick();
        let nodes = Some(vec![u64::from(node)]);
        self.push(Event::Nemesis(h::Nemesis {
            t,
            action: Cow::Borrowed("power-loss"),
            nodes: nodes.clone(),
            params: Map::new(),
        }));
        for (op, instance) in self.open.remove(&node).unwrap_or_default() {
            let t = self.tick();
            self.push(Event::Info(h::Failed {
                t,
                error: Some(Cow::Borrowed("crashed")),
                instance: Some(instance),
                late: false,
                node: Some(node.into()),
                op,
                text: None,
            }));
        }
        let t = self.tick();
        self.push(Event::Nemesis(h::Nemesis {
            t,
            action: Cow::Borrowed("restart"),
            nodes,
            params: Map::new(),
        }));
    }
}
