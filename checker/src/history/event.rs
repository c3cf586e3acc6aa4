//! The history's events, as types: what `docs/history.md` documents, line for line.
//!
//! The same types are written (the controller builds an [`Event`] and serializes it, with
//! `"type"` and `"t"` first) and read ([`super::parse_line`], which every reader uses).
//! Strings borrow from the line they were read from when they hold no escapes, so the
//! checker's hot path allocates nothing for them; [`Event::into_owned`] detaches an event
//! from its line.
//!
//! Fields are only ever added. A field that is absent from a line reads as its default here
//! (`false`, `None`, an empty list); a serialized event leaves such fields out again, so a
//! line read and written back says the same thing.

use super::msg::Body;
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// One line of a history.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event<'a> {
    Run(Run<'a>),
    Invoke(Invoke<'a>),
    Ok(Ok<'a>),
    Fail(Failed<'a>),
    Info(Failed<'a>),
    Learn(Learn<'a>),
    Send(Send<'a>),
    Recv(Recv),
    Drop(Dropped<'a>),
    Phase(Phase<'a>),
    Nemesis(Nemesis<'a>),
    Disk(Disk<'a>),
    Process(Process<'a>),
    Discarded(Discarded<'a>),
    Error(ErrorEvent<'a>),
    End(End<'a>),
    /// An event type this schema does not know (readers must ignore it), or an event of an
    /// informational type (`phase`, `disk`, `discarded`, `error`) whose fields are not the
    /// documented ones. Never written.
    #[serde(skip)]
    Unknown {
        ty: Cow<'a, str>,
        t: Option<u64>,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The header: membership, roles, the mutant if any, the full config.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Run<'a> {
    pub t: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<Cow<'a, str>>,
    /// Any JSON: the controller writes a number, other tools may not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<Value>,
    pub nodes: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acceptors: Option<Vec<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposers: Option<Vec<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learners: Option<Vec<u64>>,
    /// The mutant the run's nodes carry (`null` when none: the controller always writes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bug: Option<Option<Cow<'a, str>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bug_nodes: Option<Vec<u64>>,
    /// The run's configuration, whole; readers look up what they need (`trace`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
}

impl Run<'_> {
    /// `config.trace`: `"all"` (every message recorded) or `"ops"`, if the header says.
    pub fn trace(&self) -> Option<&str> {
        self.config.as_ref()?.get("trace")?.as_str()
    }
}

/// The workload asked `node` to propose `value` for `instance`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invoke<'a> {
    pub t: u64,
    pub instance: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<u64>,
    pub op: u64,
    /// A fresh value proposed to an instance already seen decided.
    #[serde(skip_serializing_if = "is_false")]
    pub revisit: bool,
    pub value: Cow<'a, str>,
}

/// An op ended with a decision: `value` is the decided value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ok<'a> {
    pub t: u64,
    /// The op's instance (a reply naming another keeps that one in `reply_instance`).
    pub instance: u64,
    /// A reply after its op ended, or a second reply.
    #[serde(skip_serializing_if = "is_false")]
    pub late: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<u64>,
    pub op: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_instance: Option<u64>,
    /// A reply to an op the controller does not know.
    #[serde(skip_serializing_if = "is_false")]
    pub unknown_op: bool,
    pub value: Cow<'a, str>,
}

/// `fail` (the op did not happen) or `info` (its outcome is unknown).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failed<'a> {
    pub t: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<u64>,
    #[serde(skip_serializing_if = "is_false")]
    pub late: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<u64>,
    pub op: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<Cow<'a, str>>,
}

/// `node`'s learner learned `value` for `instance`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Learn<'a> {
    pub t: u64,
    pub instance: u64,
    pub node: u64,
    pub value: Cow<'a, str>,
}

/// Node `src` sent `body` to `dest`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Send<'a> {
    pub t: u64,
    /// The message's id, which `recv` and `drop` name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<u64>,
    pub src: u64,
    pub dest: u64,
    pub body: Body<'a>,
}

/// Message `msg` was handed to its destination.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recv {
    pub t: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<u64>,
}

/// Message `msg` was not delivered, for `reason`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dropped<'a> {
    pub t: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<u64>,
    /// `unknown` when the line has none.
    pub reason: Cow<'a, str>,
}

/// The workload began (`workload`) or the final phase did (`final`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase<'a> {
    pub t: u64,
    pub phase: Cow<'a, str>,
}

/// A nemesis action. `params` holds its other fields, exactly as a schedule file writes them
/// (the controller's `nemesis::Action` reads them back); `nodes` is the line's `nodes` list as
/// written, or, for any other shape (lists of partition sides), every node id it names, sorted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Nemesis<'a> {
    pub t: u64,
    pub action: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<u64>>,
    #[serde(flatten)]
    pub params: Map<String, Value>,
}

impl Nemesis<'_> {
    /// The nodes acted on (none listed: empty).
    pub fn node_ids(&self) -> &[u64] {
        self.nodes.as_deref().unwrap_or(&[])
    }

    /// A boolean parameter (`final`, `torn`), false when absent.
    pub fn flag(&self, name: &str) -> bool {
        self.params.get(name).and_then(Value::as_bool).unwrap_or(false)
    }
}

/// A node's lazy filesystem lost its unsynced writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Disk<'a> {
    pub t: u64,
    pub bytes: u64,
    /// `power-loss`.
    pub event: Cow<'a, str>,
    pub files: u64,
    pub node: u64,
    pub torn: bool,
    pub torn_bytes_kept: u64,
    pub writes: u64,
}

/// A node process started (`up`) or ended (`exit`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Process<'a> {
    pub t: u64,
    pub event: Cow<'a, str>,
    pub node: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u64>,
    /// For `exit`: `exit 0`, `signal SIGKILL`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Cow<'a, str>>,
}

/// A frame a crash-point victim wrote after its crash point, not routed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Discarded<'a> {
    pub t: u64,
    pub body_type: Cow<'a, str>,
    pub node: u64,
}

/// Something the controller could not parse, route or do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorEvent<'a> {
    pub t: u64,
    pub error: Cow<'a, str>,
    /// The frame's number on the node's connection, for a malformed frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op: Option<u64>,
    /// The address of a connection that was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<Cow<'a, str>>,
}

/// The run finished (or gave up: `aborted`, with a `reason`).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct End<'a> {
    pub t: u64,
    #[serde(skip_serializing_if = "is_false")]
    pub aborted: bool,
    pub interrupted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unanswered: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unlearned: Option<u64>,
    pub workload_cut: bool,
}

impl<'a> Event<'a> {
    /// The event's `t`, microseconds since the run started (0 for an unknown event without one).
    pub fn t(&self) -> u64 {
        match self {
            Event::Run(e) => e.t,
            Event::Invoke(e) => e.t,
            Event::Ok(e) => e.t,
            Event::Fail(e) | Event::Info(e) => e.t,
            Event::Learn(e) => e.t,
            Event::Send(e) => e.t,
            Event::Recv(e) => e.t,
            Event::Drop(e) => e.t,
            Event::Phase(e) => e.t,
            Event::Nemesis(e) => e.t,
            Event::Disk(e) => e.t,
            Event::Process(e) => e.t,
            Event::Discarded(e) => e.t,
            Event::Error(e) => e.t,
            Event::End(e) => e.t,
            Event::Unknown { t, .. } => t.unwrap_or(0),
        }
    }

    /// The `"type"` of the line.
    pub fn kind(&self) -> &str {
        match self {
            Event::Run(_) => "run",
            Event::Invoke(_) => "invoke",
            Event::Ok(_) => "ok",
            Event::Fail(_) => "fail",
            Event::Info(_) => "info",
            Event::Learn(_) => "learn",
            Event::Send(_) => "send",
            Event::Recv(_) => "recv",
            Event::Drop(_) => "drop",
            Event::Phase(_) => "phase",
            Event::Nemesis(_) => "nemesis",
            Event::Disk(_) => "disk",
            Event::Process(_) => "process",
            Event::Discarded(_) => "discarded",
            Event::Error(_) => "error",
            Event::End(_) => "end",
            Event::Unknown { ty, .. } => ty,
        }
    }

    /// The node the event is about, if one: the op's node, the learner, the sender, the
    /// process.
    pub fn node(&self) -> Option<u64> {
        match self {
            Event::Invoke(e) => e.node,
            Event::Ok(e) => e.node,
            Event::Fail(e) | Event::Info(e) => e.node,
            Event::Learn(e) => Some(e.node),
            Event::Send(e) => Some(e.src),
            Event::Disk(e) => Some(e.node),
            Event::Process(e) => Some(e.node),
            Event::Discarded(e) => Some(e.node),
            Event::Error(e) => e.node,
            _ => None,
        }
    }

    /// The instance the event is about, if one.
    pub fn instance(&self) -> Option<u64> {
        match self {
            Event::Invoke(e) => Some(e.instance),
            Event::Ok(e) => Some(e.instance),
            Event::Fail(e) | Event::Info(e) => e.instance,
            Event::Learn(e) => Some(e.instance),
            Event::Send(e) => e.body.instance(),
            _ => None,
        }
    }

    /// The line as JSON, `"type"` and `"t"` first (what the controller writes). Panics on
    /// [`Event::Unknown`], which is never written.
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(128);
        self.write_json(&mut out);
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    /// Appends the line as JSON (without a newline) to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        assert!(!matches!(self, Event::Unknown { .. }), "an unknown event is never written");
        if let Event::Recv(Recv { t, msg }) = self {
            // Every delivered message has one: written by hand, the same bytes as serde's
            // (a test holds them equal), at a quarter of the cost.
            let mut digits = itoa::Buffer::new();
            out.extend_from_slice(br#"{"type":"recv","t":"#);
            out.extend_from_slice(digits.format(*t).as_bytes());
            if let Some(msg) = msg {
                out.extend_from_slice(br#","msg":"#);
                out.extend_from_slice(digits.format(*msg).as_bytes());
            }
            out.push(b'}');
            return;
        }
        serde_json::to_writer(out, self).expect("history events serialize");
    }

    /// The same event, owning its strings.
    pub fn into_owned(self) -> Event<'static> {
        fn own(s: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(s.into_owned())
        }
        fn own_opt(s: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            s.map(own)
        }
        match self {
            Event::Run(e) => Event::Run(Run {
                t: e.t,
                run_id: own_opt(e.run_id),
                seed: e.seed,
                nodes: e.nodes,
                acceptors: e.acceptors,
                proposers: e.proposers,
                learners: e.learners,
                bug: e.bug.map(own_opt),
                bug_nodes: e.bug_nodes,
                config: e.config,
            }),
            Event::Invoke(e) => Event::Invoke(Invoke { value: own(e.value), ..e }),
            Event::Ok(e) => Event::Ok(Ok { value: own(e.value), ..e }),
            Event::Fail(e) => Event::Fail(own_failed(e)),
            Event::Info(e) => Event::Info(own_failed(e)),
            Event::Learn(e) => Event::Learn(Learn { value: own(e.value), ..e }),
            Event::Send(e) => {
                Event::Send(Send { t: e.t, msg: e.msg, src: e.src, dest: e.dest, body: e.body.into_owned() })
            }
            Event::Recv(e) => Event::Recv(e),
            Event::Drop(e) => Event::Drop(Dropped { t: e.t, msg: e.msg, reason: own(e.reason) }),
            Event::Phase(e) => Event::Phase(Phase { t: e.t, phase: own(e.phase) }),
            Event::Nemesis(e) => {
                Event::Nemesis(Nemesis { t: e.t, action: own(e.action), nodes: e.nodes, params: e.params })
            }
            Event::Disk(e) => Event::Disk(Disk { event: own(e.event), ..e }),
            Event::Process(e) => Event::Process(Process {
                t: e.t,
                event: own(e.event),
                node: e.node,
                pid: e.pid,
                status: own_opt(e.status),
            }),
            Event::Discarded(e) => Event::Discarded(Discarded { body_type: own(e.body_type), ..e }),
            Event::Error(e) => Event::Error(ErrorEvent {
                t: e.t,
                error: own(e.error),
                frame: e.frame,
                node: e.node,
                op: e.op,
                peer: own_opt(e.peer),
            }),
            Event::End(e) => Event::End(End { reason: own_opt(e.reason), ..e }),
            Event::Unknown { ty, t } => Event::Unknown { ty: own(ty), t },
        }
    }
}

fn own_failed(e: Failed<'_>) -> Failed<'static> {
    Failed {
        t: e.t,
        error: e.error.map(|s| Cow::Owned(s.into_owned())),
        instance: e.instance,
        late: e.late,
        node: e.node,
        op: e.op,
        text: e.text.map(|s| Cow::Owned(s.into_owned())),
    }
}
