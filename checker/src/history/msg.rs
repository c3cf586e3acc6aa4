//! The body of a `send`: a Paxos message the checker interprets, or any other JSON carried
//! along as it was written (a message type of a node of your own, a future one).

use crate::ballot::Ballot;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A `send`'s body.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Body<'a> {
    Paxos(Msg<'a>),
    /// A body of another type (or one whose fields are not the Paxos ones), verbatim.
    Raw(Cow<'a, RawValue>),
}

/// Raw bodies compare by their text.
impl PartialEq for Body<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Body::Paxos(a), Body::Paxos(b)) => a == b,
            (Body::Raw(a), Body::Raw(b)) => a.get() == b.get(),
            _ => false,
        }
    }
}

/// An accepted vote reported by a promise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceptedValue<'a> {
    pub ballot: Ballot,
    #[serde(borrow)]
    pub value: Cow<'a, str>,
}

/// The Paxos messages (docs/protocol.md), as the built-in node writes them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Msg<'a> {
    Prepare { instance: u64, ballot: Ballot },
    Promise { instance: u64, ballot: Ballot, accepted: Option<AcceptedValue<'a>> },
    Nack { instance: u64, ballot: Ballot, promised: Option<Ballot> },
    Accept { instance: u64, ballot: Ballot, value: Cow<'a, str> },
    Accepted { instance: u64, ballot: Ballot, value: Cow<'a, str> },
    Decided { instance: u64, value: Cow<'a, str> },
    DecidedOk { instance: u64 },
}

/// The body types [`Msg`] covers.
pub const PAXOS_TYPES: [&str; 7] =
    ["prepare", "promise", "nack", "accept", "accepted", "decided", "decided_ok"];

impl<'a> Msg<'a> {
    pub fn instance(&self) -> u64 {
        match self {
            Msg::Prepare { instance, .. }
            | Msg::Promise { instance, .. }
            | Msg::Nack { instance, .. }
            | Msg::Accept { instance, .. }
            | Msg::Accepted { instance, .. }
            | Msg::Decided { instance, .. }
            | Msg::DecidedOk { instance } => *instance,
        }
    }

    /// The message's `"type"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Msg::Prepare { .. } => "prepare",
            Msg::Promise { .. } => "promise",
            Msg::Nack { .. } => "nack",
            Msg::Accept { .. } => "accept",
            Msg::Accepted { .. } => "accepted",
            Msg::Decided { .. } => "decided",
            Msg::DecidedOk { .. } => "decided_ok",
        }
    }

    /// The ballot it carries, if any.
    pub fn ballot(&self) -> Option<Ballot> {
        match self {
            Msg::Prepare { ballot, .. }
            | Msg::Promise { ballot, .. }
            | Msg::Nack { ballot, .. }
            | Msg::Accept { ballot, .. }
            | Msg::Accepted { ballot, .. } => Some(*ballot),
            Msg::Decided { .. } | Msg::DecidedOk { .. } => None,
        }
    }

    pub fn into_owned(self) -> Msg<'static> {
        let own = |s: Cow<'_, str>| Cow::Owned(s.into_owned());
        match self {
            Msg::Prepare { instance, ballot } => Msg::Prepare { instance, ballot },
            Msg::Promise { instance, ballot, accepted } => Msg::Promise {
                instance,
                ballot,
                accepted: accepted.map(|a| AcceptedValue { ballot: a.ballot, value: own(a.value) }),
            },
            Msg::Nack { instance, ballot, promised } => Msg::Nack { instance, ballot, promised },
            Msg::Accept { instance, ballot, value } => Msg::Accept { instance, ballot, value: own(value) },
            Msg::Accepted { instance, ballot, value } => {
                Msg::Accepted { instance, ballot, value: own(value) }
            }
            Msg::Decided { instance, value } => Msg::Decided { instance, value: own(value) },
            Msg::DecidedOk { instance } => Msg::DecidedOk { instance },
        }
    }
}

#[derive(Deserialize)]
struct BodyProbe<'a> {
    #[serde(rename = "type", borrow)]
    ty: Option<Cow<'a, str>>,
    instance: Option<u64>,
}

impl<'a> Body<'a> {
    /// The Paxos message, if the body is one the schema interprets.
    pub fn paxos(&self) -> Option<&Msg<'a>> {
        match self {
            Body::Paxos(m) => Some(m),
            Body::Raw(_) => None,
        }
    }

    /// The body's `"type"`, if it has one.
    pub fn type_name(&self) -> Option<Cow<'_, str>> {
        match self {
            Body::Paxos(m) => Some(Cow::Borrowed(m.type_name())),
            Body::Raw(raw) => serde_json::from_str::<BodyProbe<'_>>(raw.get()).ok()?.ty,
        }
    }

    /// The body's `"instance"`, if it has one.
    pub fn instance(&self) -> Option<u64> {
        match self {
            Body::Paxos(m) => Some(m.instance()),
            Body::Raw(raw) => serde_json::from_str::<BodyProbe<'_>>(raw.get()).ok()?.instance,
        }
    }

    pub fn into_owned(self) -> Body<'static> {
        match self {
            Body::Paxos(m) => Body::Paxos(m.into_owned()),
            Body::Raw(raw) => Body::Raw(Cow::Owned(raw.into_owned())),
        }
    }
}
