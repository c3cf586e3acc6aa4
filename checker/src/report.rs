//! The verdict and figures of one check: serialized as `report.json` / `--json`, and
//! rendered as a compact text report for people.
//!
//! Field names end in their unit (`p99_us`, `duration_us`, `decisions_per_s`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Exit code: safe and live, or truncated and safe.
pub const EXIT_OK: i32 = 0;
/// Exit code: a safety rule was violated.
pub const EXIT_UNSAFE: i32 = 1;
/// Exit code (for the CLI): usage error or unreadable input ([`crate::CheckError`]).
pub const EXIT_UNREADABLE: i32 = 2;
/// Exit code: the run aborted (its `end` says `"aborted": true`: the nodes never ran), and
/// no safety rule fired. The same code as unreadable input: there is no verdict to trust.
pub const EXIT_ABORTED: i32 = 2;
/// Exit code: safe, but some invoked instance was not learned by every learner, or no
/// client was ever answered `ok` for it.
pub const EXIT_NOT_LIVE: i32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Safe and live.
    Valid,
    /// At least one safety rule violated.
    Invalid,
    /// Safe, but not live.
    NotLive,
    /// Safe as far as it goes; liveness not judged because the history has no `end` line
    /// (truncated) or its `end` line says the run was interrupted before its final phase.
    Truncated,
    /// The run aborted before it really ran (its `end` has `"aborted": true`): exit 2.
    Aborted,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::NotLive => "not-live",
            Verdict::Truncated => "truncated",
            Verdict::Aborted => "aborted",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The file that was checked.
    pub source: String,
    pub verdict: Verdict,
    pub exit_code: i32,
    /// No safety rule was violated.
    pub safe: bool,
    /// `None` when liveness was not judged (truncated history).
    pub live: Option<bool>,
    /// The history has no `end` line.
    pub truncated: bool,
    /// The `end` line says `"interrupted": true` (Ctrl-C before the final phase): liveness
    /// is not judged.
    pub interrupted: bool,
    /// The last line had no newline and did not parse (a writer died mid-line).
    pub torn_last_line: bool,
    /// The `end` line says `"aborted": true`: the run gave up before its nodes ran.
    #[serde(default)]
    pub aborted: bool,
    /// The `reason` of an aborted run's `end` line.
    #[serde(default)]
    pub abort_reason: Option<String>,
    pub run: RunSummary,
    /// Lines read (including blank, unknown and torn ones).
    pub lines: u64,
    /// Events of known types.
    pub events: u64,
    /// Events of types the checker does not know, ignored.
    pub ignored_events: u64,
    /// One entry per safety rule, in a fixed order.
    pub safety: Vec<RuleReport>,
    pub liveness: Liveness,
    pub figures: Figures,
    /// Things the checker could not judge, and why.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunSummary {
    /// A `run` header line was present.
    pub header: bool,
    pub run_id: Option<String>,
    pub seed: Option<serde_json::Value>,
    pub nodes: Vec<u64>,
    pub acceptors: Vec<u64>,
    pub proposers: Vec<u64>,
    pub learners: Vec<u64>,
    /// When the workload began (its `phase` line, microseconds from the run's start): a
    /// nemesis schedule's times count from here, the report's times from the run's start.
    #[serde(default)]
    pub workload_start_us: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleReport {
    /// Stable rule name: agreement, validity, chosen-uniqueness, learned-only-if-chosen,
    /// one-value-per-ballot, acceptor-monotonicity, truthful-promise.
    pub rule: String,
    /// No violation found (also when the rule could not be judged: see `judged`).
    pub ok: bool,
    /// False when the history lacks what the rule needs (no message events, no acceptors
    /// in the run header): `ok` then means "nothing seen", and a warning says why.
    #[serde(default = "yes")]
    pub judged: bool,
    /// Number of instances that violate the rule.
    pub violations: u64,
    /// The first violation, in full.
    pub first: Option<Anomaly>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Anomaly {
    pub rule: String,
    pub instance: u64,
    /// Line at which the violation became visible.
    pub line: u64,
    pub t_us: u64,
    pub message: String,
    /// The events that conflict.
    pub events: Vec<EventLine>,
    /// The instance's message trace up to `line` (head and tail; see `trace_omitted`).
    pub trace: Vec<EventLine>,
    /// Trace lines left out between head and tail.
    pub trace_omitted: u64,
    /// The omitted lines come right after this line number.
    pub trace_omitted_after_line: Option<u64>,
    /// Set when the trace is incomplete for another reason (retired instance).
    pub trace_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLine {
    pub line: u64,
    pub t_us: u64,
    pub text: String,
}

fn yes() -> bool {
    true
}

/// Liveness has two parts, reported apart: the learners' (every invoked instance learned
/// by every learner: the fields at this level, kept from before the clients' part existed)
/// and the clients' (`clients`: every invoked instance answered `ok` at least once).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Liveness {
    /// False for a truncated, interrupted or aborted history.
    pub judged: bool,
    /// Both parts live (`None` when not judged).
    pub live: Option<bool>,
    /// Every invoked instance learned by every learner (`None` when not judged).
    #[serde(default)]
    pub learners_live: Option<bool>,
    /// Learners every invoked instance must reach (from the run header).
    pub learners: Vec<u64>,
    pub invoked_instances: u64,
    pub learned_by_all: u64,
    /// Invoked instances some learner never learned.
    pub not_learned_by_all: u64,
    /// The first of those, by instance id.
    pub stuck: Vec<StuckInstance>,
    pub stuck_omitted: u64,
    /// The clients' part.
    #[serde(default)]
    pub clients: ClientLiveness,
}

/// Clients' liveness: every invoked instance had at least one op answered `ok` (a late
/// `ok` counts; its value is judged by the safety rules).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClientLiveness {
    /// `None` when not judged.
    pub live: Option<bool>,
    /// Invoked instances with at least one `ok`.
    pub answered: u64,
    /// Invoked instances without any `ok`.
    pub unanswered: u64,
    /// The first of those, by instance id.
    pub stuck: Vec<UnansweredInstance>,
    pub stuck_omitted: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnansweredInstance {
    pub instance: u64,
    pub first_invoke_t_us: Option<u64>,
    /// `invoke` events for the instance (every op that tried).
    pub invokes: u64,
    /// Nodes that learned it (so: decided, but no client was told).
    pub learned_by: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StuckInstance {
    pub instance: u64,
    pub first_invoke_t_us: Option<u64>,
    pub learned_by: Vec<u64>,
    pub missing: Vec<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Figures {
    /// From the first event's `t` to the last one's.
    pub duration_us: u64,
    /// Instances learned by at least one node.
    pub decisions: u64,
    pub decisions_per_s: f64,
    /// Every `send` event.
    pub sends: u64,
    /// `send` events carrying a Paxos message (prepare .. decided_ok).
    pub paxos_sends: u64,
    pub recvs: u64,
    /// `paxos_sends / decisions`.
    pub messages_per_decision: f64,
    pub drops_total: u64,
    pub drops: BTreeMap<String, u64>,
    pub ops: Ops,
    /// First invoke of an instance to its first learn.
    pub decision_latency_first_learn: SplitLatency,
    /// First invoke of an instance to the moment every learner has learned it.
    pub decision_latency_all_learned: SplitLatency,
    /// Invoke to ok, per op.
    pub op_latency: SplitLatency,
    pub faults: FaultFigures,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ops {
    pub invoked: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// Invoked, never completed.
    pub pending: u64,
    /// Replies marked `"late": true` (after their op ended, or a second reply to one op),
    /// of any kind; not counted in `ok`/`fail`/`info` above, and without an op latency.
    #[serde(default)]
    pub late: u64,
    /// Of `late`, the `ok` ones.
    #[serde(default)]
    pub late_ok: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FaultFigures {
    pub nemesis_events: u64,
    /// Number of fault windows (calm -> fault transitions).
    pub windows: u64,
    pub fault_time_us: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SplitLatency {
    pub all: LatencySummary,
    pub calm: LatencySummary,
    pub fault: LatencySummary,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Report {
    /// 0 safe and live (or truncated and safe), 1 safety violated, 2 aborted run (and
    /// safe), 3 safe but not live.
    pub fn exit_code(&self) -> i32 {
        if !self.safe {
            EXIT_UNSAFE
        } else if self.aborted {
            EXIT_ABORTED
        } else if self.live == Some(false) {
            EXIT_NOT_LIVE
        } else {
            EXIT_OK
        }
    }

    /// The rule report for `name`, if that is a rule name.
    pub fn rule(&self, name: &str) -> Option<&RuleReport> {
        self.safety.iter().find(|r| r.rule == name)
    }

    /// Names of the violated rules.
    pub fn violated_rules(&self) -> Vec<&str> {
        self.safety.iter().filter(|r| !r.ok).map(|r| r.rule.as_str()).collect()
    }

    /// A compact report for people.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        self.render_head(&mut s);
        self.render_safety(&mut s);
        self.render_liveness(&mut s);
        self.render_figures(&mut s);
        for w in &self.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
        s
    }

    fn render_head(&self, s: &mut String) {
        let _ = writeln!(s, "history  {}", self.source);
        let r = &self.run;
        if r.header {
            let _ = write!(s, "run      {}", r.run_id.as_deref().unwrap_or("?"));
            if let Some(seed) = &r.seed {
                let _ = write!(s, "  seed {seed}");
            }
            let _ = writeln!(
                s,
                "  nodes {}  acceptors {}  learners {}",
                ids(&r.nodes),
                ids(&r.acceptors),
                ids(&r.learners)
            );
        }
        let _ = writeln!(
            s,
            "read     {} lines, {} events ({} ignored), {:.3} s of run time{}",
            self.lines,
            self.events,
            self.ignored_events,
            self.figures.duration_us as f64 / 1e6,
            if self.torn_last_line { ", torn last line" } else { "" }
        );
        let why = match self.verdict {
            Verdict::Valid => "safe and live".to_string(),
            Verdict::Invalid => "SAFETY VIOLATED".to_string(),
            Verdict::NotLive => "safe but NOT LIVE".to_string(),
            Verdict::Truncated if self.truncated => "safe; no end line, liveness not judged".to_string(),
            Verdict::Truncated => {
                "safe; run interrupted before its final phase, liveness not judged".to_string()
            }
            Verdict::Aborted => {
                format!("the run ABORTED: {}", self.abort_reason.as_deref().unwrap_or("no reason given"))
            }
        };
        let _ = writeln!(s, "verdict  {} ({why}), exit {}", self.verdict.name(), self.exit_code());
        if self.aborted && self.verdict != Verdict::Aborted {
            let reason = self.abort_reason.as_deref().unwrap_or("no reason given");
            let _ = writeln!(s, "aborted  {reason}");
        }
    }

    fn render_safety(&self, s: &mut String) {
        let _ = writeln!(s, "\nsafety");
        for r in &self.safety {
            if !r.judged && r.ok {
                let _ = writeln!(s, "  {:<23} not judged", r.rule);
            } else if r.ok {
                let _ = writeln!(s, "  {:<23} ok", r.rule);
            } else {
                let _ = writeln!(s, "  {:<23} VIOLATED in {} instance(s)", r.rule, r.violations);
            }
        }
        for r in self.safety.iter().filter(|r| !r.ok) {
            let Some(a) = &r.first else { continue };
            let _ = writeln!(
                s,
                "\n{} violated, instance {} (line {}): {}",
                a.rule, a.instance, a.line, a.message
            );
            for e in &a.events {
                let _ = writeln!(s, "    line {:>8}  t={:>10}us  {}", e.line, e.t_us, e.text);
            }
            let _ = writeln!(s, "  trace of instance {} ({} lines shown):", a.instance, a.trace.len());
            if let Some(note) = &a.trace_note {
                let _ = writeln!(s, "    ({note})");
            }
            for e in &a.trace {
                let _ = writeln!(s, "    line {:>8}  t={:>10}us  {}", e.line, e.t_us, e.text);
                if a.trace_omitted > 0 && a.trace_omitted_after_line == Some(e.line) {
                    let _ = writeln!(s, "    ... {} lines omitted ...", a.trace_omitted);
                }
            }
            if r.violations > 1 {
                let _ = writeln!(s, "  (+{} more instance(s) violate {})", r.violations - 1, r.rule);
            }
        }
    }

    fn render_liveness(&self, s: &mut String) {
        let l = &self.liveness;
        let _ = write!(s, "\nliveness ");
        if !l.judged {
            let why = if self.aborted {
                "aborted run"
            } else if self.truncated {
                "truncated history"
            } else {
                "interrupted run"
            };
            let _ = writeln!(s, "not judged ({why}): {} invoked instances", l.invoked_instances);
            return;
        }
        let _ = writeln!(s, "{}", if l.live == Some(true) { "ok" } else { "NOT LIVE" });
        if l.learners_live == Some(true) {
            let _ = writeln!(
                s,
                "  learners ok: {} invoked instances, every one learned by all learners {}",
                l.invoked_instances,
                ids(&l.learners)
            );
        } else {
            let _ = writeln!(
                s,
                "  learners NOT LIVE: {} of {} invoked instances not learned by every learner {}",
                l.not_learned_by_all,
                l.invoked_instances,
                ids(&l.learners)
            );
            for st in &l.stuck {
                let _ = writeln!(
                    s,
                    "    instance {}: learned by {}, missing {}",
                    st.instance,
                    ids(&st.learned_by),
                    ids(&st.missing)
                );
            }
            if l.stuck_omitted > 0 {
                let _ = writeln!(s, "    (+{} more)", l.stuck_omitted);
            }
        }
        let c = &l.clients;
        if c.live == Some(true) {
            let _ = writeln!(s, "  clients  ok: every one of {} invoked instances answered ok", c.answered);
        } else {
            let _ = writeln!(
                s,
                "  clients  NOT LIVE: {} of {} invoked instances never answered ok",
                c.unanswered,
                c.answered + c.unanswered
            );
            for st in &c.stuck {
                let _ = writeln!(
                    s,
                    "    instance {}: {} invoke(s), learned by {}",
                    st.instance,
                    st.invokes,
                    ids(&st.learned_by)
                );
            }
            if c.stuck_omitted > 0 {
                let _ = writeln!(s, "    (+{} more)", c.stuck_omitted);
            }
        }
    }

    fn render_figures(&self, s: &mut String) {
        let f = &self.figures;
        let _ = writeln!(
            s,
            "\nlatency (us)              window     n      p50      p90      p99    p99.9      max"
        );
        for (name, split) in [
            ("decision, first learn", &f.decision_latency_first_learn),
            ("decision, all learners", &f.decision_latency_all_learned),
            ("op, invoke to ok", &f.op_latency),
        ] {
            for (window, l) in [("calm", &split.calm), ("fault", &split.fault)] {
                let _ = writeln!(s, "  {name:<23} {window:<5} {}", latency_row(l));
            }
        }
        let _ = writeln!(
            s,
            "\ndecisions {} ({:.1}/s)  messages {} paxos of {} sent ({:.1} per decision)",
            f.decisions, f.decisions_per_s, f.paxos_sends, f.sends, f.messages_per_decision
        );
        let drops: Vec<String> = f.drops.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            s,
            "drops     {}{}",
            f.drops_total,
            if drops.is_empty() { String::new() } else { format!(" ({})", drops.join(", ")) }
        );
        let o = &f.ops;
        let _ = writeln!(
            s,
            "ops       {} invoked: ok {}, fail {}, info {}, pending {}; late {} (ok {})",
            o.invoked, o.ok, o.fail, o.info, o.pending, o.late, o.late_ok
        );
        let _ = writeln!(
            s,
            "faults    {} nemesis events, {} fault windows, {:.3} s under fault",
            f.faults.nemesis_events,
            f.faults.windows,
            f.faults.fault_time_us as f64 / 1e6
        );
    }
}

fn latency_row(l: &LatencySummary) -> String {
    if l.count == 0 {
        return format!("{:>5}        -        -        -        -        -", 0);
    }
    format!("{:>5} {:>8} {:>8} {:>8} {:>8} {:>8}", l.count, l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us)
}

/// `[1,2,3]` -> `n1,n2,n3`.
fn ids(nodes: &[u64]) -> String {
    if nodes.is_empty() {
        return "-".into();
    }
    nodes.iter().map(|n| format!("n{n}")).collect::<Vec<_>>().join(",")
}
