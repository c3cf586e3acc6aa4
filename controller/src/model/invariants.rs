//! The safety rules, judged at every step from a ghost history of what the nodes emitted
//! (the same rules `synod check` applies to a recorded trace, docs/checker.md):
//!
//! - agreement: per instance, every learned value and every `ok` is the same;
//! - validity: a learned or `ok` value was proposed for that instance;
//! - chosen-uniqueness: every (ballot, value) a majority of acceptors sent `accepted` for
//!   carries the same value;
//! - one value per ballot: no ballot carries two values in `accept` or `accepted`;
//! - acceptor monotonicity: an acceptor never sends `promise` or `accepted` below a ballot it
//!   promised or accepted before, across its crashes too;
//! - learned only if chosen: a learned or `ok` value was accepted by a majority at some ballot.
//!
//! Why a ghost history: what was chosen is a fact about past messages, not about any node's
//! current state (an acceptor that moved on to a higher ballot no longer shows its old vote).
//! The ghost is part of the state, as the set of sent messages is in Lamport's TLA+ Paxos.

use super::spec::Spec;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use synod_node::paxos::{Ballot, InstanceId, Msg, NodeId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Agreement,
    Validity,
    ChosenUniqueness,
    OneValuePerBallot,
    AcceptorMonotonicity,
    LearnedOnlyIfChosen,
}

impl Rule {
    /// The rule's name, as `synod check` reports it.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Agreement => "agreement",
            Rule::Validity => "validity",
            Rule::ChosenUniqueness => "chosen-uniqueness",
            Rule::OneValuePerBallot => "one-value-per-ballot",
            Rule::AcceptorMonotonicity => "acceptor-monotonicity",
            Rule::LearnedOnlyIfChosen => "learned-only-if-chosen",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: Rule,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule.name(), self.detail)
    }
}

fn violation(rule: Rule, detail: String) -> Violation {
    Violation { rule, detail }
}

/// What the rules need to remember of the past.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Ghost {
    /// `accepted` sent, by (instance, ballot, value): the acceptors that sent it.
    votes: BTreeMap<(InstanceId, Ballot, String), BTreeSet<NodeId>>,
    /// The value each ballot carried (in `accept` or `accepted`).
    ballot_values: BTreeMap<(InstanceId, Ballot), String>,
    /// Per (acceptor, instance): the highest ballot it promised or accepted.
    high: BTreeMap<(NodeId, InstanceId), Ballot>,
    /// Per instance: the first value learned or answered `ok`.
    decided: BTreeMap<InstanceId, String>,
}

impl Ghost {
    /// The ghost had every node `n` been named `map(n)` (symmetry: `super::symmetry`): the
    /// votes and the promises by acceptor. Ballots name proposers, which stay.
    pub fn renamed(&self, map: &dyn Fn(NodeId) -> NodeId) -> Ghost {
        Ghost {
            votes: self
                .votes
                .iter()
                .map(|(key, voters)| (key.clone(), voters.iter().map(|&n| map(n)).collect()))
                .collect(),
            ballot_values: self.ballot_values.clone(),
            high: self.high.iter().map(|(&(node, instance), &b)| ((map(node), instance), b)).collect(),
            decided: self.decided.clone(),
        }
    }

    /// Whether [`Ghost::on_send`] looks at `msg` (the others pass it by).
    pub fn reads(msg: &Msg) -> bool {
        matches!(msg, Msg::Accept(_) | Msg::Promise(_) | Msg::Accepted(_))
    }

    /// A message `from` sent.
    pub fn on_send(&mut self, spec: &Spec, from: NodeId, msg: &Msg) -> Result<(), Violation> {
        match msg {
            Msg::Accept(m) => self.one_value(m.instance, m.ballot, &m.value),
            Msg::Promise(m) => {
                self.monotonic(from, m.instance, m.ballot, "promise")?;
                if let Some(acc) = &m.accepted {
                    self.raise(from, m.instance, acc.ballot);
                }
                Ok(())
            }
            Msg::Accepted(m) => {
                self.one_value(m.instance, m.ballot, &m.value)?;
                self.monotonic(from, m.instance, m.ballot, "accepted")?;
                self.vote(spec, from, m.instance, m.ballot, &m.value)
            }
            _ => Ok(()),
        }
    }

    fn one_value(&mut self, instance: InstanceId, ballot: Ballot, value: &str) -> Result<(), Violation> {
        match self.ballot_values.get(&(instance, ballot)) {
            Some(known) if known != value => Err(violation(
                Rule::OneValuePerBallot,
                format!("instance {instance}: ballot {ballot} carries {known:?} and {value:?}"),
            )),
            Some(_) => Ok(()),
            None => {
                self.ballot_values.insert((instance, ballot), value.to_string());
                Ok(())
            }
        }
    }

    fn monotonic(
        &mut self,
        node: NodeId,
        instance: InstanceId,
        ballot: Ballot,
        what: &str,
    ) -> Result<(), Violation> {
        let high = self.high.get(&(node, instance)).copied().unwrap_or(Ballot::ZERO);
        if ballot < high {
            return Err(violation(
                Rule::AcceptorMonotonicity,
                format!(
                    "n{node} sent {what} {ballot} in instance {instance} after promising or accepting {high}"
                ),
            ));
        }
        self.raise(node, instance, ballot);
        Ok(())
    }

    fn raise(&mut self, node: NodeId, instance: InstanceId, ballot: Ballot) {
        let high = self.high.entry((node, instance)).or_insert(Ballot::ZERO);
        *high = (*high).max(ballot);
    }

    fn vote(
        &mut self,
        spec: &Spec,
        from: NodeId,
        instance: InstanceId,
        ballot: Ballot,
        value: &str,
    ) -> Result<(), Violation> {
        let voters = self.votes.entry((instance, ballot, value.to_string())).or_default();
        if !voters.insert(from) || voters.len() != spec.majority() {
            return Ok(());
        }
        // Newly chosen: every other value chosen in this instance must be the same.
        let other =
            self.chosen(spec, instance).find(|(_, v)| *v != value).map(|(b, v)| format!("{v:?} at {b}"));
        match other {
            Some(other) => Err(violation(
                Rule::ChosenUniqueness,
                format!("instance {instance}: {value:?} chosen at {ballot}, {other} chosen too"),
            )),
            None => Ok(()),
        }
    }

    /// The (ballot, value) pairs a majority accepted in `instance`.
    fn chosen<'a>(
        &'a self,
        spec: &Spec,
        instance: InstanceId,
    ) -> impl Iterator<Item = (Ballot, &'a str)> + 'a {
        let majority = spec.majority();
        self.votes
            .range((instance, Ballot::ZERO, String::new())..)
            .take_while(move |((i, _, _), _)| *i == instance)
            .filter(move |(_, voters)| voters.len() >= majority)
            .map(|((_, b, v), _)| (*b, v.as_str()))
    }

    /// Who made a decision, as a violation names it: node `node` learned (`ok` false) or
    /// answered a client `ok`.
    pub fn decider(node: NodeId, ok: bool) -> String {
        if ok {
            format!("n{node} answered ok")
        } else {
            format!("n{node} learned")
        }
    }

    /// A node learned `value`, or answered a client `ok` with it (`who` says which, from
    /// [`Ghost::decider`]).
    pub fn on_decision(
        &mut self,
        spec: &Spec,
        proposed: impl Fn(&str) -> bool,
        who: &str,
        instance: InstanceId,
        value: &str,
    ) -> Result<(), Violation> {
        if !proposed(value) {
            return Err(violation(
                Rule::Validity,
                format!("{who} {value:?} in instance {instance}, never proposed there"),
            ));
        }
        if !self.chosen(spec, instance).any(|(_, v)| v == value) {
            return Err(violation(
                Rule::LearnedOnlyIfChosen,
                format!("{who} {value:?} in instance {instance}, which no majority accepted"),
            ));
        }
        match self.decided.get(&instance) {
            Some(first) if first != value => Err(violation(
                Rule::Agreement,
                format!("{who} {value:?} in instance {instance}, where {first:?} was decided"),
            )),
            Some(_) => Ok(()),
            None => {
                self.decided.insert(instance, value.to_string());
                Ok(())
            }
        }
    }
}
