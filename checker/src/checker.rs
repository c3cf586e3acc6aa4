//! The streaming checker: one pass over the history, one event at a time.
//!
//! Memory follows what is in flight, not the history's length:
//!
//! - per instance, the compact record of `instance.rs` (a few hundred bytes in a correct
//!   run), kept for the whole run so late messages are still judged;
//! - per instance in flight, the heavy part (trace of at most 200 lines, invoked values,
//!   learners so far, timing). An instance learned by every learner is queued for
//!   retirement; once [`RETIRE_AFTER`] newer instances have finished, its heavy part is
//!   dropped. The delay keeps the trace around for the late messages that usually follow a
//!   decision (slow `accepted`, re-sent `decided`), so their anomalies come with a trace;
//! - per op in flight, its invoke time and fault mark, dropped at ok/fail/info;
//! - three pairs of histograms of fixed size, and a few counters.

use crate::error::CheckError;
use crate::event::{parse_line, Event, Msg, RunHeader};
use crate::faults::{FaultMark, Faults};
use crate::hash::FxHashMap;
use crate::instance::{DecisionKind, Instance, Ref};
use crate::latency::SplitHistogram;
use crate::report::{Figures, Liveness, Ops, Report, RunSummary, StuckInstance, Verdict};
use crate::rules::chosen::Quorum;
use crate::rules::{agreement, chosen, monotonicity, one_value, validity, Anomalies};
use crate::store::Store;
use crate::trace::{Entry, MsgKind, TraceLine};
use std::collections::{BTreeMap, VecDeque};

/// Finished instances keep their heavy state until this many newer ones have finished.
pub const RETIRE_AFTER: usize = 256;
/// Stuck instances listed in the liveness report.
const SHOW_STUCK: usize = 20;

#[derive(Debug, Clone, Copy)]
struct OpState {
    t: u64,
    mark: FaultMark,
}

#[derive(Debug, Default)]
struct Counters {
    sends: u64,
    paxos_sends: u64,
    recvs: u64,
    drops: Vec<(String, u64)>,
    ops: Ops,
    decisions: u64,
    invoked_instances: u64,
    learned_by_all: u64,
    orphan_completions: u64,
    non_acceptor_votes: u64,
}

/// Checks a history fed one line at a time. [`crate::check_reader`] drives it; use it
/// directly to check a history while it is being written.
pub struct Checker {
    source: String,
    lines: u64,
    events: u64,
    ignored: u64,
    torn: bool,
    ended: bool,
    interrupted: bool,
    run: RunSummary,
    quorum: Option<Quorum>,
    /// Empty when unknown (no header): then "learned by all" means "learned by someone".
    learners: Vec<u64>,
    instances: Store,
    retiring: VecDeque<u64>,
    ops: FxHashMap<u64, OpState>,
    faults: Faults,
    anomalies: Anomalies,
    first_learn: SplitHistogram,
    all_learned: SplitHistogram,
    op_latency: SplitHistogram,
    n: Counters,
    first_t: Option<u64>,
    last_t: u64,
}

impl Checker {
    /// `source` names the history in errors and in the report.
    pub fn new(source: impl Into<String>) -> Checker {
        Checker {
            source: source.into(),
            lines: 0,
            events: 0,
            ignored: 0,
            torn: false,
            ended: false,
            interrupted: false,
            run: RunSummary::default(),
            quorum: None,
            learners: Vec::new(),
            instances: Store::default(),
            retiring: VecDeque::new(),
            ops: FxHashMap::default(),
            faults: Faults::default(),
            anomalies: Anomalies::default(),
            first_learn: SplitHistogram::default(),
            all_learned: SplitHistogram::default(),
            op_latency: SplitHistogram::default(),
            n: Counters::default(),
            first_t: None,
            last_t: 0,
        }
    }

    /// Feeds the next complete line (without its newline). A line that is not a valid
    /// event is an error naming the source and line number; the checker's state is then
    /// unchanged but for the line count.
    pub fn push_line(&mut self, line: &[u8]) -> Result<(), CheckError> {
        self.lines += 1;
        let line = trim(line);
        if line.is_empty() {
            return Ok(());
        }
        match parse_line(line) {
            Ok(ev) => {
                self.handle(ev);
                Ok(())
            }
            Err(e) => Err(CheckError::Malformed {
                source_name: self.source.clone(),
                line: self.lines,
                reason: e.reason,
            }),
        }
    }

    /// Lines fed so far.
    pub fn lines_read(&self) -> u64 {
        self.lines
    }

    /// Feeds the last line of a history that does not end in a newline. If it does not
    /// parse, the writer died mid-line: the run is truncated, and that is not an error.
    pub fn push_unterminated_last_line(&mut self, line: &[u8]) {
        if self.push_line(line).is_err() {
            self.torn = true;
        }
    }

    fn handle(&mut self, ev: Event<'_>) {
        let at = Ref { line: self.lines, t: ev_time(&ev) };
        if !matches!(ev, Event::Unknown) {
            self.events += 1;
            self.first_t.get_or_insert(at.t);
            self.last_t = self.last_t.max(at.t);
        }
        match ev {
            Event::Run(h) => self.header(h),
            Event::Invoke(e) => {
                self.n.ops.invoked += 1;
                let mark = self.faults.mark();
                self.ops.entry(e.op).or_insert(OpState { t: e.t, mark });
                let inst = self.instances.get_or_create(e.instance);
                let value = inst.intern(&e.value);
                inst.trace(TraceLine {
                    line: at.line,
                    t: at.t,
                    entry: Entry::Invoke { op: e.op, node: e.node, value },
                });
                if let Some(live) = &mut inst.live {
                    if !live.invoked.iter().any(|(v, _)| *v == value) {
                        live.invoked.push((value, at));
                    }
                    if live.first_invoke.is_none() {
                        live.first_invoke = Some((e.t, mark));
                        self.n.invoked_instances += 1;
                    }
                }
            }
            Event::Ok(e) => {
                self.n.ops.ok += 1;
                match self.ops.remove(&e.op) {
                    Some(op) => {
                        self.op_latency.record(e.t.saturating_sub(op.t), self.faults.overlapped(op.mark))
                    }
                    None => self.n.orphan_completions += 1,
                }
                let inst = self.instances.get_or_create(e.instance);
                let value = inst.intern(&e.value);
                inst.trace(TraceLine {
                    line: at.line,
                    t: at.t,
                    entry: Entry::Ok { op: e.op, node: e.node, value },
                });
                self.decision(e.instance, value, at, e.node, DecisionKind::Ok);
            }
            Event::Failed { op, node, instance, info, .. } => {
                if info {
                    self.n.ops.info += 1;
                } else {
                    self.n.ops.fail += 1;
                }
                if self.ops.remove(&op).is_none() {
                    self.n.orphan_completions += 1;
                }
                if let Some(inst) = instance.and_then(|i| self.instances.get_mut(i)) {
                    inst.trace(TraceLine { line: at.line, t: at.t, entry: Entry::Failed { op, node, info } });
                }
            }
            Event::Learn { node, instance, value, .. } => {
                let inst = self.instances.get_or_create(instance);
                let value = inst.intern(&value);
                inst.trace(TraceLine { line: at.line, t: at.t, entry: Entry::Learn { node, value } });
                self.decision(instance, value, at, Some(node), DecisionKind::Learn);
            }
            Event::Send { src, dest, msg, .. } => {
                self.n.sends += 1;
                if let Some(msg) = msg {
                    self.n.paxos_sends += 1;
                    self.message(src, dest, msg, at);
                }
            }
            Event::Recv { .. } => self.n.recvs += 1,
            Event::Drop { reason, .. } => match self.n.drops.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, n)) => *n += 1,
                None => self.n.drops.push((reason.into_owned(), 1)),
            },
            Event::Nemesis { t, action, nodes } => self.faults.apply(t, &action, &nodes),
            Event::Process { .. } => {}
            Event::End { interrupted, .. } => {
                self.ended = true;
                self.interrupted |= interrupted;
            }
            Event::Unknown => self.ignored += 1,
        }
        self.instances.repack();
    }

    fn header(&mut self, h: RunHeader) {
        let or_nodes = |v: Option<Vec<u64>>| v.unwrap_or_else(|| h.nodes.clone());
        let acceptors = or_nodes(h.acceptors.clone());
        let learners = or_nodes(h.learners.clone());
        let proposers = or_nodes(h.proposers.clone());
        self.quorum = Quorum::new(acceptors.clone());
        self.learners = learners.clone();
        self.run = RunSummary {
            header: true,
            run_id: h.run_id,
            seed: h.seed,
            nodes: h.nodes,
            acceptors,
            proposers,
            learners,
        };
    }

    /// A learn or ok of `value` for instance `id`.
    fn decision(&mut self, id: u64, value: u32, at: Ref, node: Option<u64>, kind: DecisionKind) {
        let Some(inst) = self.instances.get_mut(id) else { return };
        let d = agreement::decision(value, at, node, kind);
        agreement::on_decision(id, inst, d, &mut self.anomalies);
        validity::on_decision(id, inst, d, &mut self.anomalies);
        chosen::on_decision(id, inst, d, &mut self.anomalies);
        if kind != DecisionKind::Learn {
            return;
        }
        let (Some(live), Some(node)) = (&mut inst.live, node) else { return };
        if live.first_learn_t.is_none() {
            live.first_learn_t = Some(at.t);
            self.n.decisions += 1;
            if let Some((t0, mark)) = live.first_invoke {
                self.first_learn.record(at.t.saturating_sub(t0), self.faults.overlapped(mark));
            }
        }
        if !live.learned_by.contains(&node) {
            live.learned_by.push(node);
        }
        let all = if self.learners.is_empty() {
            true
        } else {
            self.learners.iter().all(|l| live.learned_by.contains(l))
        };
        if all && !live.finished {
            live.finished = true;
            self.n.learned_by_all += 1;
            if let Some((t0, mark)) = live.first_invoke {
                self.all_learned.record(at.t.saturating_sub(t0), self.faults.overlapped(mark));
            }
            self.retiring.push_back(id);
            self.retire_old(at);
        }
    }

    fn retire_old(&mut self, at: Ref) {
        while self.retiring.len() > RETIRE_AFTER {
            let Some(id) = self.retiring.pop_front() else { break };
            if let Some(inst) = self.instances.get_mut(id) {
                chosen::on_retire(id, inst, at, &mut self.anomalies);
                inst.retire(at);
            }
            self.instances.pack(id);
        }
    }

    fn message(&mut self, src: u64, dest: u64, msg: Msg<'_>, at: Ref) {
        let id = msg.instance();
        let inst = self.instances.get_or_create(id);
        let a = &mut self.anomalies;
        let trace = |inst: &mut Instance, kind, ballot, value, other| {
            let entry = Entry::Msg { src, dest, kind, ballot, value, other };
            inst.trace(TraceLine { line: at.line, t: at.t, entry });
        };
        match msg {
            Msg::Prepare { ballot, .. } => trace(inst, MsgKind::Prepare, Some(ballot), None, None),
            Msg::Promise { ballot, accepted, .. } => {
                let (reported, value) = match accepted {
                    Some((b, v)) => (Some(b), Some(inst.intern(&v))),
                    None => (None, None),
                };
                trace(inst, MsgKind::Promise, Some(ballot), value, reported);
                monotonicity::on_promise(id, inst, src, ballot, reported, at, a);
            }
            Msg::Nack { ballot, promised, .. } => trace(inst, MsgKind::Nack, Some(ballot), None, promised),
            Msg::Accept { ballot, value, .. } => {
                let value = inst.intern(&value);
                trace(inst, MsgKind::Accept, Some(ballot), Some(value), None);
                one_value::on_value(id, inst, ballot, value, at, a);
            }
            Msg::Accepted { ballot, value, .. } => {
                let value = inst.intern(&value);
                trace(inst, MsgKind::Accepted, Some(ballot), Some(value), None);
                monotonicity::on_accepted(id, inst, src, ballot, at, a);
                one_value::on_value(id, inst, ballot, value, at, a);
                if let Some(q) = &self.quorum {
                    if !q.acceptors.contains(&src) {
                        self.n.non_acceptor_votes += 1;
                    }
                }
                chosen::on_accepted(id, inst, src, ballot, value, at, self.quorum.as_ref(), a);
            }
            Msg::Decided { value, .. } => {
                let value = inst.intern(&value);
                trace(inst, MsgKind::Decided, None, Some(value), None);
            }
            Msg::DecidedOk { .. } => trace(inst, MsgKind::DecidedOk, None, None, None),
        }
    }

    /// Ends the pass and builds the report.
    pub fn finish(mut self) -> Report {
        let truncated = !self.ended;
        let end = Ref { line: self.lines, t: self.last_t };
        self.faults.finish(self.last_t);
        let in_flight = self.instances.in_flight();
        if !truncated {
            // A complete history: every decision must have its majority by now.
            for id in &in_flight {
                if let Some(inst) = self.instances.get_mut(*id) {
                    chosen::on_retire(*id, inst, end, &mut self.anomalies);
                }
            }
        }
        let liveness = self.liveness(&in_flight, truncated || self.interrupted);
        let safe = !self.anomalies.any();
        let live = liveness.live;
        let warnings = self.warnings();
        let figures = self.figures();
        let verdict = match (safe, live) {
            (false, _) => Verdict::Invalid,
            (true, None) => Verdict::Truncated,
            (true, Some(false)) => Verdict::NotLive,
            (true, Some(true)) => Verdict::Valid,
        };
        let mut report = Report {
            source: self.source,
            verdict,
            exit_code: 0,
            safe,
            live,
            truncated,
            interrupted: self.interrupted,
            torn_last_line: self.torn,
            run: self.run,
            lines: self.lines,
            events: self.events,
            ignored_events: self.ignored,
            safety: self.anomalies.into_reports(),
            liveness,
            figures,
            warnings,
        };
        report.exit_code = report.exit_code();
        report
    }

    fn liveness(&self, in_flight: &[u64], unjudged: bool) -> Liveness {
        let mut stuck = Vec::new();
        let mut not_learned = 0;
        for id in in_flight {
            let Some(live) = self.instances.get_live(*id).and_then(|i| i.live.as_ref()) else { continue };
            if live.first_invoke.is_none() || live.finished {
                continue;
            }
            not_learned += 1;
            if stuck.len() < SHOW_STUCK {
                let mut learned_by = live.learned_by.clone();
                learned_by.sort_unstable();
                let missing = self.learners.iter().copied().filter(|l| !learned_by.contains(l)).collect();
                stuck.push(StuckInstance {
                    instance: *id,
                    first_invoke_t_us: live.first_invoke.map(|(t, _)| t),
                    learned_by,
                    missing,
                });
            }
        }
        let judged = !unjudged;
        Liveness {
            judged,
            live: judged.then_some(not_learned == 0),
            learners: self.learners.clone(),
            invoked_instances: self.n.invoked_instances,
            learned_by_all: self.n.learned_by_all,
            not_learned_by_all: not_learned,
            stuck_omitted: not_learned - stuck.len() as u64,
            stuck,
        }
    }

    fn figures(&self) -> Figures {
        let duration_us = self.last_t.saturating_sub(self.first_t.unwrap_or(0));
        let per = |a: u64, b: f64| if b > 0.0 { a as f64 / b } else { 0.0 };
        let mut ops = self.n.ops.clone();
        ops.pending = self.ops.len() as u64;
        let drops: BTreeMap<String, u64> = self.n.drops.iter().cloned().collect();
        Figures {
            duration_us,
            decisions: self.n.decisions,
            decisions_per_s: round2(per(self.n.decisions, duration_us as f64 / 1e6)),
            sends: self.n.sends,
            paxos_sends: self.n.paxos_sends,
            recvs: self.n.recvs,
            messages_per_decision: round2(per(self.n.paxos_sends, self.n.decisions as f64)),
            drops_total: drops.values().sum(),
            drops,
            ops,
            decision_latency_first_learn: self.first_learn.summary(),
            decision_latency_all_learned: self.all_learned.summary(),
            op_latency: self.op_latency.summary(),
            faults: crate::report::FaultFigures {
                nemesis_events: self.faults.nemesis_events,
                windows: self.faults.windows,
                fault_time_us: self.faults.fault_time_us,
            },
        }
    }

    fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if !self.run.header {
            w.push(
                "no `run` header: acceptors and learners unknown, so chosen-uniqueness was not judged \
                 and liveness means learned by at least one node"
                    .to_string(),
            );
        } else if self.quorum.is_none() {
            w.push("the run header names no acceptors: chosen-uniqueness was not judged".to_string());
        }
        if self.n.orphan_completions > 0 {
            w.push(format!(
                "{} ok/fail/info event(s) name an op that was never invoked (or completed twice)",
                self.n.orphan_completions
            ));
        }
        if self.n.non_acceptor_votes > 0 {
            w.push(format!(
                "{} `accepted` message(s) came from nodes that are not acceptors; they were not counted",
                self.n.non_acceptor_votes
            ));
        }
        w
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn trim(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., last] = line {
        if last.is_ascii_whitespace() {
            line = rest;
        } else {
            break;
        }
    }
    line
}

fn ev_time(ev: &Event<'_>) -> u64 {
    match ev {
        Event::Run(h) => h.t,
        Event::Invoke(e) | Event::Ok(e) => e.t,
        Event::Failed { t, .. }
        | Event::Learn { t, .. }
        | Event::Send { t, .. }
        | Event::Recv { t }
        | Event::Drop { t, .. }
        | Event::Nemesis { t, .. }
        | Event::Process { t }
        | Event::End { t, .. } => *t,
        Event::Unknown => 0,
    }
}
