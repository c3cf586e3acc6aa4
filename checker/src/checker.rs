//! The streaming checker: one pass over the history, one event at a time.
//!
//! Memory follows what is in flight, not the history's length:
//!
//! - per instance, the compact record of `instance.rs` (a few hundred bytes in a correct
//!   run), kept for the whole run so late messages are still judged;
//! - per instance in flight, the heavy part (trace of at most 200 lines, invoked values,
//!   learners so far, timing). An instance learned by every learner *and* answered `ok` to
//!   some client (or never invoked) is queued for retirement: both are needed to judge
//!   liveness at the end. Once [`RETIRE_AFTER`] newer instances have finished, its heavy
//!   part is dropped. The delay keeps the trace around for the late messages that usually
//!   follow a decision (slow `accepted`, re-sent `decided`), so their anomalies come with a
//!   trace;
//! - the ids of retired instances that still hold a pending
//!   learned-only-if-chosen judgement (none in a correct run);
//! - per op in flight, its invoke time and fault mark, dropped at ok/fail/info;
//! - three pairs of histograms of fixed size, and a few counters.

use crate::error::CheckError;
use crate::hash::FxHashMap;
use crate::history::{parse_line, Body, Event, FaultMark, FaultState, Invoke, Msg, Ok as OkEvent, Run};
use crate::instance::{DecisionKind, Instance, Ref};
use crate::latency::SplitHistogram;
use crate::liveness;
use crate::report::{Figures, Ops, Report, RunSummary, Verdict};
use crate::rules::chosen::Quorum;
use crate::rules::{
    agreement, chosen, learned_chosen, monotonicity, one_value, truthful_promise, validity, Anomalies, Rule,
};
use crate::store::{Store, Unpack};
use crate::trace::{Entry, MsgKind, TraceLine};
use std::collections::{BTreeMap, VecDeque};

/// Finished instances keep their heavy state until this many newer ones have finished.
pub const RETIRE_AFTER: usize = 256;

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
    /// Decisions seen while the header said `trace: "ops"` and no message had come yet.
    unheld_decisions: u64,
    /// Pending learned-only-if-chosen decisions left unjudged in a cut history.
    pending_left: u64,
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
    aborted: bool,
    abort_reason: Option<String>,
    /// The run header's `config.trace`, if it has one.
    trace_setting: Option<String>,
    /// Retired instances with a pending learned-only-if-chosen judgement (may repeat).
    pending_retired: Vec<u64>,
    run: RunSummary,
    quorum: Option<Quorum>,
    /// Empty when unknown (no header): then "learned by all" means "learned by someone".
    learners: Vec<u64>,
    instances: Store,
    retiring: VecDeque<u64>,
    ops: FxHashMap<u64, OpState>,
    faults: FaultState,
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
            aborted: false,
            abort_reason: None,
            trace_setting: None,
            pending_retired: Vec::new(),
            run: RunSummary::default(),
            quorum: None,
            learners: Vec::new(),
            instances: Store::default(),
            retiring: VecDeque::new(),
            ops: FxHashMap::default(),
            faults: FaultState::default(),
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
    /// unchanged but for the line count. [`CheckError::Internal`] means the checker failed
    /// to read its own record of an instance: stop, there is no verdict.
    pub fn push_line(&mut self, line: &[u8]) -> Result<(), CheckError> {
        self.lines += 1;
        let line = line.trim_ascii_end();
        if line.is_empty() {
            return Ok(());
        }
        match parse_line(line) {
            Ok(ev) => self.handle(ev).map_err(|e| self.internal(e)),
            Err(e) => Err(CheckError::Malformed {
                source_name: self.source.clone(),
                line: self.lines,
                reason: e.reason,
            }),
        }
    }

    fn internal(&self, e: Unpack) -> CheckError {
        CheckError::Internal {
            source_name: self.source.clone(),
            line: self.lines,
            instance: e.instance,
            reason: "its packed bytes do not decode".to_string(),
        }
    }

    /// Lines fed so far.
    pub fn lines_read(&self) -> u64 {
        self.lines
    }

    /// Feeds the last line of a history that does not end in a newline. If it does not
    /// parse, the writer died mid-line: the run is truncated, and that is not an error
    /// (an internal error still is).
    pub fn push_unterminated_last_line(&mut self, line: &[u8]) -> Result<(), CheckError> {
        match self.push_line(line) {
            Err(CheckError::Malformed { .. }) => {
                self.torn = true;
                Ok(())
            }
            other => other,
        }
    }

    fn handle(&mut self, ev: Event<'_>) -> Result<(), Unpack> {
        let at = Ref { line: self.lines, t: ev.t() };
        // The informational types are not judged: counted as ignored, as unknown ones are.
        let judged = !matches!(
            ev,
            Event::Unknown { .. } | Event::Phase(_) | Event::Disk(_) | Event::Discarded(_) | Event::Error(_)
        );
        if judged {
            self.events += 1;
            self.first_t.get_or_insert(at.t);
            self.last_t = self.last_t.max(at.t);
        }
        match ev {
            Event::Run(h) => self.header(h),
            Event::Invoke(e) => self.invoke(e, at)?,
            Event::Ok(e) => self.ok(e, at)?,
            Event::Fail(e) => self.failed(e.op, e.node, e.instance, false, e.late, at),
            Event::Info(e) => self.failed(e.op, e.node, e.instance, true, e.late, at),
            Event::Learn(e) => {
                let inst = self.instances.get_or_create(e.instance)?;
                let value = inst.intern(&e.value);
                let entry = Entry::Learn { node: e.node, value };
                inst.trace(TraceLine { line: at.line, t: at.t, entry });
                self.decision(e.instance, value, at, Some(e.node), DecisionKind::Learn)?;
            }
            Event::Send(e) => {
                self.n.sends += 1;
                if let Body::Paxos(msg) = e.body {
                    self.n.paxos_sends += 1;
                    self.message(e.src, e.dest, msg, at)?;
                }
            }
            Event::Recv(_) => self.n.recvs += 1,
            Event::Drop(e) => match self.n.drops.iter_mut().find(|(r, _)| *r == e.reason) {
                Some((_, n)) => *n += 1,
                None => self.n.drops.push((e.reason.into_owned(), 1)),
            },
            Event::Nemesis(e) => self.faults.apply_event(&e, &mut Vec::new()),
            Event::Process(_) => {}
            Event::End(e) => {
                self.ended = true;
                self.interrupted |= e.interrupted;
                if e.aborted {
                    self.aborted = true;
                    self.abort_reason = e.reason.map(|r| r.into_owned()).or(self.abort_reason.take());
                }
            }
            Event::Phase(p) => {
                if p.phase == "workload" {
                    self.run.workload_start_us.get_or_insert(p.t);
                }
                self.ignored += 1;
            }
            Event::Unknown { .. } | Event::Disk(_) | Event::Discarded(_) | Event::Error(_) => {
                self.ignored += 1
            }
        }
        self.instances.repack();
        Ok(())
    }

    fn invoke(&mut self, e: Invoke<'_>, at: Ref) -> Result<(), Unpack> {
        self.n.ops.invoked += 1;
        let mark = self.faults.mark();
        self.ops.entry(e.op).or_insert(OpState { t: e.t, mark });
        let inst = self.instances.get_or_create(e.instance)?;
        let value = inst.intern(&e.value);
        inst.trace(TraceLine {
            line: at.line,
            t: at.t,
            entry: Entry::Invoke { op: e.op, node: e.node, value },
        });
        // A retired instance has had a client answered `ok` (it retires only then, or when
        // nobody invoked it, and then its learns broke validity): liveness needs no more.
        if let Some(live) = &mut inst.live {
            live.invokes += 1;
            if !live.invoked.iter().any(|(v, _)| *v == value) {
                live.invoked.push((value, at));
            }
            if live.first_invoke.is_none() {
                live.first_invoke = Some((e.t, mark));
                self.n.invoked_instances += 1;
            }
        }
        Ok(())
    }

    fn ok(&mut self, e: OkEvent<'_>, at: Ref) -> Result<(), Unpack> {
        if e.late {
            // A reply after its op ended (or a second one): judged like any ok, but it
            // neither completes an op nor has a latency.
            self.n.ops.late += 1;
            self.n.ops.late_ok += 1;
        } else {
            self.n.ops.ok += 1;
            match self.ops.remove(&e.op) {
                Some(op) => self.op_latency.record(e.t.saturating_sub(op.t), self.faults.overlapped(op.mark)),
                None => self.n.orphan_completions += 1,
            }
        }
        let inst = self.instances.get_or_create(e.instance)?;
        let value = inst.intern(&e.value);
        let entry = Entry::Ok { op: e.op, node: e.node, value, late: e.late };
        inst.trace(TraceLine { line: at.line, t: at.t, entry });
        self.decision(e.instance, value, at, e.node, DecisionKind::Ok)
    }

    /// A fail or info. Only traced: a retired instance has no trace, so it is not unpacked.
    fn failed(&mut self, op: u64, node: Option<u64>, instance: Option<u64>, info: bool, late: bool, at: Ref) {
        if late {
            self.n.ops.late += 1;
        } else {
            if info {
                self.n.ops.info += 1;
            } else {
                self.n.ops.fail += 1;
            }
            if self.ops.remove(&op).is_none() {
                self.n.orphan_completions += 1;
            }
        }
        if let Some(inst) = instance.and_then(|id| self.instances.get_live_mut(id)) {
            inst.trace(TraceLine { line: at.line, t: at.t, entry: Entry::Failed { op, node, info, late } });
        }
    }

    fn header(&mut self, h: Run<'_>) {
        let or_nodes = |v: Option<Vec<u64>>| v.unwrap_or_else(|| h.nodes.clone());
        let acceptors = or_nodes(h.acceptors.clone());
        let learners = or_nodes(h.learners.clone());
        let proposers = or_nodes(h.proposers.clone());
        self.quorum = Quorum::new(acceptors.clone());
        self.learners = learners.clone();
        self.trace_setting = h.trace().map(String::from);
        self.run = RunSummary {
            header: true,
            run_id: h.run_id.map(|r| r.into_owned()),
            seed: h.seed,
            nodes: h.nodes,
            acceptors,
            proposers,
            learners,
            workload_start_us: self.run.workload_start_us,
        };
    }

    /// Whether the history carries message events: its header says `config.trace` is
    /// `"all"`, or a Paxos `send` was seen.
    fn traced(&self) -> bool {
        self.trace_setting.as_deref() == Some("all") || self.n.paxos_sends > 0
    }

    /// Whether learned-only-if-chosen may still be judged: not when the header says only
    /// ops are traced and no message was seen (then pending decisions are not even kept).
    fn may_be_traced(&self) -> bool {
        self.trace_setting.as_deref() != Some("ops") || self.n.paxos_sends > 0
    }

    /// A learn or ok of `value` for instance `id`.
    fn decision(
        &mut self,
        id: u64,
        value: u32,
        at: Ref,
        node: Option<u64>,
        kind: DecisionKind,
    ) -> Result<(), Unpack> {
        let traced = self.traced();
        let quorum = if self.may_be_traced() {
            self.quorum.as_ref()
        } else {
            // `trace: "ops"` and no message yet: not held, so not judged if messages follow.
            self.n.unheld_decisions += u64::from(self.quorum.is_some());
            None
        };
        let Some(inst) = self.instances.get_mut(id)? else { return Ok(()) };
        let d = agreement::decision(value, at, node, kind);
        agreement::on_decision(id, inst, d, &mut self.anomalies);
        validity::on_decision(id, inst, d, &mut self.anomalies);
        chosen::on_decision(id, inst, d, &mut self.anomalies);
        if learned_chosen::on_decision(id, inst, d, quorum, traced, &mut self.anomalies)
            && inst.live.is_none()
        {
            self.pending_retired.push(id);
        }
        let Some(live) = &mut inst.live else { return Ok(()) };
        match (kind, node) {
            (DecisionKind::Ok, _) => live.answered = true,
            (DecisionKind::Learn, Some(node)) => {
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
                }
            }
            (DecisionKind::Learn, None) => {}
        }
        if retirable(live) && !live.queued {
            live.queued = true;
            self.retiring.push_back(id);
            self.retire_old(at)?;
        }
        Ok(())
    }

    fn retire_old(&mut self, at: Ref) -> Result<(), Unpack> {
        while self.retiring.len() > RETIRE_AFTER {
            let Some(id) = self.retiring.pop_front() else { break };
            let Some(inst) = self.instances.get_mut(id)? else { continue };
            if let Some(live) = &mut inst.live {
                if !retirable(live) {
                    // Invoked since it was queued, and not answered yet: it goes back in
                    // the queue when a client is answered.
                    live.queued = false;
                    continue;
                }
            }
            if !inst.pending.is_empty() {
                // Judged at the end of the history: the missing vote may still come.
                self.pending_retired.push(id);
            }
            inst.retire(at);
            self.instances.pack(id);
        }
        Ok(())
    }

    fn message(&mut self, src: u64, dest: u64, msg: Msg<'_>, at: Ref) -> Result<(), Unpack> {
        let id = msg.instance();
        let all_sends = self.trace_setting.as_deref() != Some("ops");
        let inst = self.instances.get_or_create(id)?;
        let a = &mut self.anomalies;
        let trace = |inst: &mut Instance, kind, ballot, value, other| {
            let entry = Entry::Msg { src, dest, kind, ballot, value, other };
            inst.trace(TraceLine { line: at.line, t: at.t, entry });
        };
        match msg {
            Msg::Prepare { ballot, .. } => trace(inst, MsgKind::Prepare, Some(ballot), None, None),
            Msg::Promise { ballot, accepted, .. } => {
                let (reported, value) = match accepted {
                    Some(a) => (Some(a.ballot), Some(inst.intern(&a.value))),
                    None => (None, None),
                };
                trace(inst, MsgKind::Promise, Some(ballot), value, reported);
                if let (Some(b), Some(v)) = (reported, value) {
                    truthful_promise::on_promise(id, inst, src, ballot, (b, v), all_sends, at, a);
                }
                monotonicity::on_promise(id, inst, src, ballot, reported, at, a);
            }
            Msg::Nack { ballot, promised, .. } => {
                trace(inst, MsgKind::Nack, Some(ballot), None, promised);
                if let Some(p) = promised {
                    monotonicity::on_nack(id, inst, src, ballot, p, at, a);
                }
            }
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
                learned_chosen::on_accepted(inst, value, self.quorum.as_ref());
            }
            Msg::Decided { value, .. } => {
                let value = inst.intern(&value);
                trace(inst, MsgKind::Decided, None, Some(value), None);
            }
            Msg::DecidedOk { .. } => trace(inst, MsgKind::DecidedOk, None, None, None),
        }
        Ok(())
    }

    /// Ends the pass and builds the report. A history without a single event is
    /// [`CheckError::NoEvents`]: there is nothing to judge.
    pub fn finish(mut self) -> Result<Report, CheckError> {
        if self.events == 0 {
            return Err(CheckError::NoEvents { source_name: self.source });
        }
        let truncated = !self.ended;
        let end = Ref { line: self.lines, t: self.last_t };
        self.faults.finish(self.last_t, &mut Vec::new());
        let in_flight = self.instances.in_flight();
        self.judge_pending(&in_flight, end, !truncated && !self.interrupted)?;
        let unjudged = truncated || self.interrupted || self.aborted;
        let counts = liveness::Counts {
            invoked_instances: self.n.invoked_instances,
            learned_by_all: self.n.learned_by_all,
        };
        let liveness = liveness::judge(&self.instances, &in_flight, &self.learners, counts, !unjudged);
        let safe = !self.anomalies.any();
        let live = liveness.live;
        let warnings = self.warnings();
        let figures = self.figures();
        let verdict = match (safe, live) {
            (false, _) => Verdict::Invalid,
            (true, _) if self.aborted => Verdict::Aborted,
            (true, None) => Verdict::Truncated,
            (true, Some(false)) => Verdict::NotLive,
            (true, Some(true)) => Verdict::Valid,
        };
        let (traced, has_quorum) = (self.traced(), self.quorum.is_some());
        let unheld = self.n.unheld_decisions > 0;
        let judged = |rule: Rule| {
            (!rule.needs_trace() || traced)
                && (!rule.needs_acceptors() || has_quorum)
                && !(rule == Rule::LearnedOnlyIfChosen && unheld)
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
            aborted: self.aborted,
            abort_reason: self.abort_reason,
            run: self.run,
            lines: self.lines,
            events: self.events,
            ignored_events: self.ignored,
            safety: self.anomalies.into_reports(judged),
            liveness,
            figures,
            warnings,
        };
        report.exit_code = report.exit_code();
        Ok(report)
    }

    /// Decisions still one vote short of a majority: in a complete history, violations of
    /// learned-only-if-chosen; in a cut one, counted for a warning (the vote may have come
    /// after the cut).
    fn judge_pending(&mut self, in_flight: &[u64], end: Ref, complete: bool) -> Result<(), CheckError> {
        if !self.traced() {
            return Ok(());
        }
        let Some(q) = self.quorum.clone() else { return Ok(()) };
        let mut ids = std::mem::take(&mut self.pending_retired);
        ids.extend(in_flight);
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            let inst = match self.instances.get_mut(id) {
                Ok(Some(inst)) => inst,
                Ok(None) => continue,
                Err(e) => return Err(self.internal(e)),
            };
            if complete {
                learned_chosen::judge(id, inst, end, &q, &mut self.anomalies);
            } else {
                self.n.pending_left += inst.pending.len() as u64;
            }
            self.instances.repack();
        }
        Ok(())
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
                "no `run` header: acceptors and learners unknown, so chosen-uniqueness and \
                 learned-only-if-chosen were not judged and liveness means learned by at least one node"
                    .to_string(),
            );
        } else if self.quorum.is_none() {
            w.push(
                "the run header names no acceptors: chosen-uniqueness and learned-only-if-chosen were not judged"
                    .to_string(),
            );
        }
        if !self.traced() {
            let rules: Vec<&str> = Rule::ALL.iter().filter(|r| r.needs_trace()).map(|r| r.name()).collect();
            w.push(format!(
                "no message events (`--trace ops`, or a history without `send` events): {} were not judged",
                rules.join(", ")
            ));
        }
        if self.traced() && self.n.unheld_decisions > 0 {
            w.push(format!(
                "the run header says `trace: \"ops\"` but messages were traced: the {} decision(s) before the \
                 first message were not judged by learned-only-if-chosen",
                self.n.unheld_decisions
            ));
        }
        if self.n.pending_left > 0 {
            w.push(format!(
                "{} decision(s) were still one vote short of a majority when the history was cut (truncated or \
                 interrupted): learned-only-if-chosen did not judge them, since the vote may have come later",
                self.n.pending_left
            ));
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

/// Learned by every learner and answered `ok` (or never invoked: nobody waits for an answer).
fn retirable(live: &crate::instance::Live) -> bool {
    live.finished && (live.answered || live.first_invoke.is_none())
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"type":"run","t":0,"nodes":[1,2,3],"acceptors":[1,2,3],"learners":[1,2,3],"config":{"trace":"all"}}"#;

    /// Instance `i` invoked, chosen by n1 and n2, learned by all; answered `ok` if `ok`.
    fn instance(c: &mut Checker, i: u64, ok: bool) {
        let mut lines = vec![format!(r#"{{"type":"invoke","t":{i},"op":{i},"instance":{i},"value":"v"}}"#)];
        for a in [1, 2] {
            lines.push(format!(
                r#"{{"type":"send","t":{i},"src":{a},"dest":3,"body":{{"type":"accepted","instance":{i},"ballot":[1,1],"value":"v"}}}}"#
            ));
        }
        for n in 1..=3 {
            lines.push(format!(r#"{{"type":"learn","t":{i},"node":{n},"instance":{i},"value":"v"}}"#));
        }
        if ok {
            lines.push(format!(r#"{{"type":"ok","t":{i},"op":{i},"instance":{i},"value":"v"}}"#));
        }
        for l in lines {
            c.push_line(l.as_bytes()).unwrap();
        }
    }

    fn checker_with(n: u64, ok: impl Fn(u64) -> bool) -> Checker {
        let mut c = Checker::new("h");
        c.push_line(HEADER.as_bytes()).unwrap();
        for i in 1..=n {
            instance(&mut c, i, ok(i));
        }
        c
    }

    #[test]
    fn answered_instances_retire_and_unanswered_ones_stay_for_liveness() {
        let n = RETIRE_AFTER as u64 + 40;
        let mut c = checker_with(n, |i| i != 3);
        c.push_line(br#"{"type":"end","t":99999}"#).unwrap();
        assert!(c.instances.is_packed(1));
        assert!(!c.instances.is_packed(3), "instance 3 was never answered: it must stay");
        assert_eq!(c.instances.in_flight().len(), RETIRE_AFTER + 1);
        let r = c.finish().unwrap();
        assert_eq!(r.liveness.clients.unanswered, 1);
        assert_eq!(r.liveness.clients.stuck[0].instance, 3);
        assert_eq!(r.verdict, Verdict::NotLive);
    }

    #[test]
    fn a_record_that_does_not_unpack_stops_the_check_with_an_internal_error() {
        let n = RETIRE_AFTER as u64 + 40;
        let mut c = checker_with(n, |_| true);
        assert!(c.instances.is_packed(1));
        c.instances.corrupt(1);
        let late = br#"{"type":"learn","t":9999,"node":2,"instance":1,"value":"v"}"#;
        let line = c.lines_read() + 1;
        let err = c.push_line(late).unwrap_err();
        assert!(matches!(err, CheckError::Internal { instance: 1, .. }), "{err}");
        assert_eq!(err.line(), Some(line));
        let text = err.to_string();
        assert!(text.contains(&format!("h:{line}: internal error")) && text.contains("instance 1"), "{text}");
    }

    #[test]
    fn a_late_fail_on_a_retired_instance_does_not_unpack_it() {
        let n = RETIRE_AFTER as u64 + 40;
        let mut c = checker_with(n, |_| true);
        assert!(c.instances.is_packed(1));
        let unpacks = c.instances.unpacks;
        let late = br#"{"type":"info","t":9999,"op":1,"node":2,"instance":1,"error":"timeout","late":true}"#;
        c.push_line(late).unwrap();
        assert_eq!(c.instances.unpacks, unpacks);
        assert!(c.instances.is_packed(1));
        assert_eq!(c.n.ops.late, 1);
    }
}
