//! The safety rules, one file each, and the collector of their anomalies.
//!
//! Each rule is a set of functions the checker calls on the events that rule cares about,
//! with the instance's compact state. A rule reports an instance at most once (so
//! `violations` counts instances); the first report per rule is built in full (message,
//! conflicting events, the instance's trace so far), later ones are only counted.

pub(crate) mod agreement;
pub(crate) mod chosen;
pub(crate) mod learned_chosen;
pub(crate) mod monotonicity;
pub(crate) mod one_value;
pub(crate) mod truthful_promise;
pub(crate) mod validity;

use crate::instance::{Instance, Ref};
use crate::report::{Anomaly, EventLine, RuleReport};

/// A safety rule. [`Rule::name`] is the stable name used in reports. The order of the
/// variants is the order of [`Rule::ALL`] and of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Agreement,
    Validity,
    ChosenUniqueness,
    LearnedOnlyIfChosen,
    OneValuePerBallot,
    AcceptorMonotonicity,
    TruthfulPromise,
}

/// How many rules there are (the `reported` bits of an instance fit in a `u8`).
const RULES: usize = 7;

impl Rule {
    pub const ALL: [Rule; RULES] = [
        Rule::Agreement,
        Rule::Validity,
        Rule::ChosenUniqueness,
        Rule::LearnedOnlyIfChosen,
        Rule::OneValuePerBallot,
        Rule::AcceptorMonotonicity,
        Rule::TruthfulPromise,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::Agreement => "agreement",
            Rule::Validity => "validity",
            Rule::ChosenUniqueness => "chosen-uniqueness",
            Rule::LearnedOnlyIfChosen => "learned-only-if-chosen",
            Rule::OneValuePerBallot => "one-value-per-ballot",
            Rule::AcceptorMonotonicity => "acceptor-monotonicity",
            Rule::TruthfulPromise => "truthful-promise",
        }
    }

    /// Whether the rule reads the message trace (`send` events): without message events
    /// it has nothing to judge.
    pub fn needs_trace(self) -> bool {
        !matches!(self, Rule::Agreement | Rule::Validity)
    }

    /// Whether the rule needs the run header's acceptors (to count a majority).
    pub fn needs_acceptors(self) -> bool {
        matches!(self, Rule::ChosenUniqueness | Rule::LearnedOnlyIfChosen)
    }

    fn index(self) -> usize {
        self as usize
    }

    fn bit(self) -> u8 {
        1 << self.index()
    }
}

/// What a rule found: a sentence and the conflicting events.
pub(crate) struct Found {
    pub message: String,
    pub events: Vec<EventLine>,
}

#[derive(Debug, Default)]
pub(crate) struct Anomalies {
    violations: [u64; RULES],
    first: [Option<Anomaly>; RULES],
}

impl Anomalies {
    /// Records a violation of `rule` by instance `id`, detected at `at`. `build` runs only
    /// for the first violation of the rule.
    pub fn report(
        &mut self,
        rule: Rule,
        id: u64,
        inst: &mut Instance,
        at: Ref,
        build: impl FnOnce(&Instance) -> Found,
    ) {
        if inst.reported & rule.bit() != 0 {
            return;
        }
        inst.reported |= rule.bit();
        let i = rule.index();
        self.violations[i] += 1;
        if self.first[i].is_some() {
            return;
        }
        let found = build(inst);
        let (trace, trace_omitted, trace_omitted_after_line, trace_note) = match &inst.live {
            Some(live) => {
                let (lines, omitted, gap) = live.trace.render(&inst.values);
                (lines, omitted, gap, None)
            }
            None => (
                Vec::new(),
                0,
                None,
                Some(format!(
                    "the instance was decided and retired at line {}; its trace was not kept",
                    inst.retired_at.map_or(0, |r| r.line)
                )),
            ),
        };
        self.first[i] = Some(Anomaly {
            rule: rule.name().to_string(),
            instance: id,
            line: at.line,
            t_us: at.t,
            message: found.message,
            events: found.events,
            trace,
            trace_omitted,
            trace_omitted_after_line,
            trace_note,
        });
    }

    pub fn any(&self) -> bool {
        self.violations.iter().any(|&v| v > 0)
    }

    /// One report per rule; `judged(rule)` says whether the history let it be judged.
    pub fn into_reports(self, judged: impl Fn(Rule) -> bool) -> Vec<RuleReport> {
        Rule::ALL
            .iter()
            .zip(self.violations)
            .zip(self.first)
            .map(|((rule, violations), first)| RuleReport {
                rule: rule.name().to_string(),
                ok: violations == 0,
                judged: violations > 0 || judged(*rule),
                violations,
                first,
            })
            .collect()
    }
}
