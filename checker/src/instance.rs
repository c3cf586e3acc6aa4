//! What the checker remembers about one Paxos instance.
//!
//! Two tiers, so memory follows the instances in flight and not the history's length:
//!
//! - [`Instance`] itself is the compact record every later rule may still need once the
//!   instance is decided: its value table, the (ballot, value) pairs seen in `accept` /
//!   `accepted` with the acceptors that voted for each, per acceptor the highest ballot it
//!   promised or accepted, the first decision (learn/ok), the first chosen pair, and the
//!   decisions not yet backed by a majority (learned-only-if-chosen). A correct
//!   run holds a handful of entries here per instance. It is kept for the whole run,
//!   because late messages (a slow acceptor's `accepted`, a lagging proposer's `accept`, a
//!   restarted node re-learning) may still arrive and must still be judged.
//! - [`Live`] is the heavy part: the bounded trace, the invoked values (validity), who has
//!   learned (learners' liveness), whether a client got `ok` (clients' liveness) and timing
//!   marks (latency). It is dropped once every learner has learned the instance, a client
//!   was answered `ok`, and it has aged out of the retirement queue (see `checker.rs`);
//!   the rest is then packed into a byte string (`packed.rs`).

use crate::ballot::Ballot;
use crate::history::FaultMark;
use crate::report::EventLine;
use crate::trace::{Trace, TraceLine, ValueId};

/// (Interned value table is linear-searched up to this size, then indexed.)
const INDEX_AT: usize = 16;

/// Where an event is: its line number and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Ref {
    pub line: u64,
    pub t: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Instance {
    /// Distinct values seen for this instance; `ValueId` indexes it.
    pub values: Vec<Box<str>>,
    /// Only built when an instance has many distinct values.
    index: Option<std::collections::HashMap<Box<str>, ValueId>>,
    /// (ballot, value) pairs from `accept`/`accepted`, sorted by (ballot, value).
    pub ballots: Vec<BallotEntry>,
    /// Per sender of `promise`/`accepted`: the highest ballots it emitted.
    pub acceptors: Vec<AcceptorState>,
    /// The first learn or ok: what the instance decided.
    pub decided: Option<Decision>,
    /// The first (ballot, value) that a majority of acceptors sent `accepted` for.
    pub chosen: Option<Chosen>,
    /// Decisions (the first per value) whose value no majority has backed yet: judged by
    /// learned-only-if-chosen when the instance retires or the history ends.
    pub pending: Vec<Decision>,
    /// Bit per rule already reported for this instance (violations count instances).
    pub reported: u8,
    /// The heavy, evictable part; `None` once retired.
    pub live: Option<Box<Live>>,
    /// Where `live` was dropped, for the report's trace note (and the packing base).
    pub retired_at: Option<Ref>,
}

#[derive(Debug)]
pub(crate) struct BallotEntry {
    pub ballot: Ballot,
    pub value: ValueId,
    /// The first accept/accepted that carried this pair.
    pub first: Ref,
    /// Nodes that sent `accepted` for this pair, with their first such line (any sender:
    /// only the run's acceptors count toward a majority).
    pub votes: Vec<(u64, Ref)>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct AcceptorState {
    pub node: u64,
    /// Highest ballot promised or accepted, and the line that showed it.
    pub max: Ballot,
    pub max_at: Ref,
    /// Highest ballot accepted (or reported accepted in a promise), and its line.
    pub max_accepted: Option<(Ballot, Ref)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecisionKind {
    Learn,
    Ok,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Decision {
    pub value: ValueId,
    pub at: Ref,
    pub node: Option<u64>,
    pub kind: DecisionKind,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Chosen {
    pub ballot: Ballot,
    pub value: ValueId,
    /// The `accepted` that completed the majority.
    pub at: Ref,
}

#[derive(Debug, Default)]
pub(crate) struct Live {
    pub trace: Trace,
    /// Values invoked for this instance so far, with their first invoke.
    pub invoked: Vec<(ValueId, Ref)>,
    pub first_invoke: Option<(u64, FaultMark)>,
    /// Distinct nodes that learned (any node, learner or not).
    pub learned_by: Vec<u64>,
    pub first_learn_t: Option<u64>,
    /// Every learner has learned.
    pub finished: bool,
    /// Some client was answered `ok` (late or not).
    pub answered: bool,
    /// `invoke` events seen.
    pub invokes: u64,
    /// In the retirement queue.
    pub queued: bool,
}

impl Instance {
    pub fn new() -> Instance {
        Instance { live: Some(Box::default()), ..Instance::default() }
    }

    pub fn lookup(&self, v: &str) -> Option<ValueId> {
        match &self.index {
            Some(ix) => ix.get(v).copied(),
            None => self.values.iter().position(|x| &**x == v).map(|i| i as ValueId),
        }
    }

    pub fn intern(&mut self, v: &str) -> ValueId {
        if let Some(id) = self.lookup(v) {
            return id;
        }
        let id = self.values.len() as ValueId;
        self.values.push(v.into());
        if let Some(ix) = &mut self.index {
            ix.insert(v.into(), id);
        } else if self.values.len() > INDEX_AT {
            self.index =
                Some(self.values.iter().enumerate().map(|(i, v)| (v.clone(), i as ValueId)).collect());
        }
        id
    }

    pub fn trace(&mut self, line: TraceLine) {
        if let Some(live) = &mut self.live {
            live.trace.push(line);
        }
    }

    /// Entries for `ballot`, any value.
    pub fn ballot_range(&self, ballot: Ballot) -> &[BallotEntry] {
        let lo = self.ballots.partition_point(|e| e.ballot < ballot);
        let hi = self.ballots.partition_point(|e| e.ballot <= ballot);
        &self.ballots[lo..hi]
    }

    /// The entry for (ballot, value), created if new.
    pub fn ballot_entry(&mut self, ballot: Ballot, value: ValueId, at: Ref) -> &mut BallotEntry {
        let i = self.ballots.partition_point(|e| (e.ballot, e.value) < (ballot, value));
        let exists = self.ballots.get(i).is_some_and(|e| e.ballot == ballot && e.value == value);
        if !exists {
            self.ballots.insert(i, BallotEntry { ballot, value, first: at, votes: Vec::new() });
        }
        &mut self.ballots[i]
    }

    /// Describes an earlier event: its trace text if the trace still holds it, else `text`.
    pub fn evidence(&self, at: Ref, text: impl FnOnce() -> String) -> EventLine {
        let kept = self.live.as_ref().and_then(|l| l.trace.find(at.line));
        match kept {
            Some(line) => line.render(&self.values),
            None => EventLine { line: at.line, t_us: at.t, text: text() },
        }
    }

    pub fn acceptor(&mut self, node: u64) -> Option<&mut AcceptorState> {
        self.acceptors.iter_mut().find(|a| a.node == node)
    }

    /// Drops the heavy part and spare capacity.
    pub fn retire(&mut self, at: Ref) {
        if self.live.take().is_some() {
            self.retired_at = Some(at);
        }
        self.values.shrink_to_fit();
        self.ballots.shrink_to_fit();
        for e in &mut self.ballots {
            e.votes.shrink_to_fit();
        }
        self.acceptors.shrink_to_fit();
        self.pending.shrink_to_fit();
    }
}
