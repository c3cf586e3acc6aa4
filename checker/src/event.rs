//! History lines -> typed events.
//!
//! Parsing is most of the checker's cost, so the fast path deserializes each line once, with
//! serde, straight into a flat struct of optional fields that borrow strings from the line
//! buffer (no `serde_json::Value`, no allocation for unescaped strings). Only when that
//! fails do we look closer, to tell three cases apart:
//!
//! - the line is not JSON at all: malformed (or, if it is the last line and has no newline,
//!   torn: the caller decides);
//! - the event type is one we do not know: ignored, whatever its fields hold;
//! - a `send` carries a body type the checker does not interpret (a client frame, or a
//!   future message type) whose fields clash with ours: the send is kept, the body ignored.
//!
//! Anything else (a known event with a missing or mistyped field) is malformed, and the
//! message says which field.

use crate::ballot::Ballot;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::borrow::Cow;

/// One history event. Strings borrow from the line when they hold no escapes.
#[derive(Debug)]
pub(crate) enum Event<'a> {
    Run(RunHeader),
    Invoke(OpEvent<'a>),
    Ok(OpEvent<'a>),
    /// `fail` (`info == false`) or `info` (`info == true`).
    Failed {
        t: u64,
        op: u64,
        node: Option<u64>,
        instance: Option<u64>,
        info: bool,
        /// `"late": true`: after the op ended, or a second reply to it.
        late: bool,
    },
    Learn {
        t: u64,
        node: u64,
        instance: u64,
        value: Cow<'a, str>,
    },
    Send {
        t: u64,
        src: u64,
        dest: u64,
        /// `None` for bodies the checker does not interpret (client frames, unknown types).
        msg: Option<Msg<'a>>,
    },
    Recv {
        t: u64,
    },
    Drop {
        t: u64,
        reason: Cow<'a, str>,
    },
    Nemesis {
        t: u64,
        action: Cow<'a, str>,
        nodes: Vec<u64>,
    },
    Process {
        t: u64,
    },
    End {
        t: u64,
        /// The controller was stopped (Ctrl-C) before the final phase.
        interrupted: bool,
        /// The run gave up before its nodes ran (`"aborted": true`), and why.
        aborted: bool,
        reason: Option<String>,
    },
    /// An event type the checker does not know. Ignored.
    Unknown,
}

#[derive(Debug)]
pub(crate) struct OpEvent<'a> {
    pub t: u64,
    pub op: u64,
    pub node: Option<u64>,
    pub instance: u64,
    pub value: Cow<'a, str>,
    /// `ok` only: `"late": true`, a reply after its op ended or a second reply to it.
    pub late: bool,
}

/// The `run` header: who plays which role.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunHeader {
    pub t: u64,
    pub run_id: Option<String>,
    pub seed: Option<serde_json::Value>,
    pub nodes: Vec<u64>,
    pub acceptors: Option<Vec<u64>>,
    pub proposers: Option<Vec<u64>>,
    pub learners: Option<Vec<u64>>,
    /// `config.trace`, if the header has one: `"all"` (every message recorded) or `"ops"`.
    pub trace: Option<String>,
}

/// The Paxos message bodies the rules look at.
#[derive(Debug)]
pub(crate) enum Msg<'a> {
    Prepare { instance: u64, ballot: Ballot },
    Promise { instance: u64, ballot: Ballot, accepted: Option<(Ballot, Cow<'a, str>)> },
    Nack { instance: u64, ballot: Ballot, promised: Option<Ballot> },
    Accept { instance: u64, ballot: Ballot, value: Cow<'a, str> },
    Accepted { instance: u64, ballot: Ballot, value: Cow<'a, str> },
    Decided { instance: u64, value: Cow<'a, str> },
    DecidedOk { instance: u64 },
}

impl Msg<'_> {
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
}

/// Body types the checker interprets; every other body type is carried along unread.
const PAXOS_TYPES: [&str; 7] = ["prepare", "promise", "nack", "accept", "accepted", "decided", "decided_ok"];

/// Event types the checker knows. Any other type is ignored.
const KNOWN_TYPES: [&str; 12] =
    ["run", "invoke", "ok", "fail", "info", "learn", "send", "recv", "drop", "nemesis", "process", "end"];

#[derive(Deserialize)]
#[serde(rename = "history event")]
struct RawEvent<'a, B> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    t: Option<u64>,
    op: Option<u64>,
    node: Option<u64>,
    instance: Option<u64>,
    #[serde(borrow)]
    value: Option<Cow<'a, str>>,
    src: Option<u64>,
    dest: Option<u64>,
    body: Option<B>,
    #[serde(borrow)]
    reason: Option<Cow<'a, str>>,
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
    // Run header (and nemesis `nodes`, whose shape the checker does not insist on).
    run_id: Option<serde_json::Value>,
    seed: Option<serde_json::Value>,
    nodes: Option<serde_json::Value>,
    acceptors: Option<Vec<u64>>,
    proposers: Option<Vec<u64>>,
    learners: Option<Vec<u64>>,
    /// Only `config.trace` is read; `config` may hold anything (it is one line per run).
    config: Option<serde_json::Value>,
    // `end`
    interrupted: Option<bool>,
    aborted: Option<bool>,
    // `ok`, `fail`, `info`
    late: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename = "message body")]
struct RawBody<'a> {
    #[serde(rename = "type", borrow)]
    ty: Option<Cow<'a, str>>,
    instance: Option<u64>,
    ballot: Option<Ballot>,
    #[serde(borrow)]
    value: Option<Cow<'a, str>>,
    #[serde(borrow)]
    accepted: Option<RawAccepted<'a>>,
    promised: Option<Ballot>,
}

#[derive(Deserialize)]
#[serde(rename = "accepted value")]
struct RawAccepted<'a> {
    ballot: Ballot,
    #[serde(borrow)]
    value: Cow<'a, str>,
}

/// Minimal view used only after the fast path failed: what type of event is this?
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    /// Any shape: an unknown event type may use `body` for anything.
    body: Option<serde_json::Value>,
}

/// Why a line did not parse.
#[derive(Debug)]
pub(crate) struct ParseError {
    pub reason: String,
}

impl ParseError {
    fn new(reason: impl Into<String>) -> ParseError {
        ParseError { reason: reason.into() }
    }

    fn json(e: &serde_json::Error) -> ParseError {
        // serde_json appends " at line 1 column N"; within one history line only the column
        // means something.
        let text = e.to_string();
        let stem = match text.rfind(" at line ") {
            Some(i) => &text[..i],
            None => &text,
        };
        let what = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "not valid JSON: ",
            _ => "",
        };
        ParseError::new(format!("{what}{stem} (column {})", e.column()))
    }
}

/// Parses one history line (without its newline).
pub(crate) fn parse_line(line: &[u8]) -> Result<Event<'_>, ParseError> {
    match serde_json::from_slice::<RawEvent<'_, RawBody<'_>>>(line) {
        Ok(raw) => typed(raw),
        Err(first) => slow_path(line, first),
    }
}

fn slow_path<'a>(line: &'a [u8], first: serde_json::Error) -> Result<Event<'a>, ParseError> {
    if first.is_syntax() || first.is_eof() {
        return Err(ParseError::json(&first));
    }
    let probe: Probe<'_> = match serde_json::from_slice(line) {
        Ok(p) => p,
        Err(_) => return Err(ParseError::json(&first)),
    };
    if !KNOWN_TYPES.contains(&&*probe.ty) {
        return Ok(Event::Unknown);
    }
    let body_ty = probe.body.as_ref().and_then(|b| b.get("type")).and_then(|t| t.as_str());
    let foreign_body = probe.ty == "send" && !body_ty.is_some_and(|ty| PAXOS_TYPES.contains(&ty));
    if foreign_body {
        // A body the checker does not interpret clashed with our field types: keep the send,
        // ignore the body.
        let raw: RawEvent<'_, IgnoredAny> = serde_json::from_slice(line).map_err(|e| ParseError::json(&e))?;
        let (t, src, dest) = (need(raw.t, "send", "t")?, raw.src, raw.dest);
        return Ok(Event::Send {
            t,
            src: need(src, "send", "src")?,
            dest: need(dest, "send", "dest")?,
            msg: None,
        });
    }
    Err(ParseError::json(&first))
}

fn need<T>(v: Option<T>, ty: &str, field: &str) -> Result<T, ParseError> {
    v.ok_or_else(|| ParseError::new(format!("`{ty}` event lacks field `{field}`")))
}

fn need_body<T>(v: Option<T>, ty: &str, field: &str) -> Result<T, ParseError> {
    v.ok_or_else(|| ParseError::new(format!("`send` body `{ty}` lacks field `{field}`")))
}

fn typed<'a>(raw: RawEvent<'a, RawBody<'a>>) -> Result<Event<'a>, ParseError> {
    let ty = &*raw.ty;
    let t = || need(raw.t, ty, "t");
    Ok(match ty {
        "invoke" | "ok" => {
            let ev = OpEvent {
                t: t()?,
                op: need(raw.op, ty, "op")?,
                node: raw.node,
                instance: need(raw.instance, ty, "instance")?,
                value: need(raw.value, ty, "value")?,
                late: raw.late.unwrap_or(false),
            };
            if ty == "invoke" {
                Event::Invoke(ev)
            } else {
                Event::Ok(ev)
            }
        }
        "fail" | "info" => Event::Failed {
            t: t()?,
            op: need(raw.op, ty, "op")?,
            node: raw.node,
            instance: raw.instance,
            info: ty == "info",
            late: raw.late.unwrap_or(false),
        },
        "learn" => Event::Learn {
            t: t()?,
            node: need(raw.node, ty, "node")?,
            instance: need(raw.instance, ty, "instance")?,
            value: need(raw.value, ty, "value")?,
        },
        "send" => Event::Send {
            t: t()?,
            src: need(raw.src, ty, "src")?,
            dest: need(raw.dest, ty, "dest")?,
            msg: match raw.body {
                Some(body) => body_msg(body)?,
                None => return Err(ParseError::new("`send` event lacks field `body`")),
            },
        },
        "recv" => Event::Recv { t: t()? },
        "drop" => Event::Drop { t: t()?, reason: raw.reason.unwrap_or(Cow::Borrowed("unknown")) },
        "nemesis" => Event::Nemesis {
            t: t()?,
            action: need(raw.action, ty, "action")?,
            nodes: raw.nodes.as_ref().map(flat_node_ids).unwrap_or_default(),
        },
        "process" => Event::Process { t: t()? },
        "end" => Event::End {
            t: t()?,
            interrupted: raw.interrupted.unwrap_or(false),
            aborted: raw.aborted.unwrap_or(false),
            reason: raw.reason.map(Cow::into_owned),
        },
        "run" => {
            let nodes = match &raw.nodes {
                None => Vec::new(),
                Some(v) => node_list(v)
                    .ok_or_else(|| ParseError::new("`run` field `nodes` must be a list of node ids"))?,
            };
            Event::Run(RunHeader {
                t: raw.t.unwrap_or(0),
                run_id: raw.run_id.map(|v| match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                }),
                seed: raw.seed,
                nodes,
                acceptors: raw.acceptors,
                proposers: raw.proposers,
                learners: raw.learners,
                trace: raw
                    .config
                    .as_ref()
                    .and_then(|c| c.get("trace"))
                    .and_then(|t| t.as_str())
                    .map(String::from),
            })
        }
        _ => Event::Unknown,
    })
}

fn body_msg(body: RawBody<'_>) -> Result<Option<Msg<'_>>, ParseError> {
    let Some(ty) = body.ty.as_deref() else {
        return Ok(None);
    };
    let instance = || need_body(body.instance, ty, "instance");
    let ballot = || need_body(body.ballot, ty, "ballot");
    Ok(Some(match ty {
        "prepare" => Msg::Prepare { instance: instance()?, ballot: ballot()? },
        "promise" => Msg::Promise {
            instance: instance()?,
            ballot: ballot()?,
            accepted: body.accepted.map(|a| (a.ballot, a.value)),
        },
        "nack" => Msg::Nack { instance: instance()?, ballot: ballot()?, promised: body.promised },
        "accept" => Msg::Accept {
            instance: instance()?,
            ballot: ballot()?,
            value: need_body(body.value, ty, "value")?,
        },
        "accepted" => Msg::Accepted {
            instance: instance()?,
            ballot: ballot()?,
            value: need_body(body.value, ty, "value")?,
        },
        "decided" => Msg::Decided { instance: instance()?, value: need_body(body.value, ty, "value")? },
        "decided_ok" => Msg::DecidedOk { instance: instance()? },
        _ => return Ok(None),
    }))
}

fn node_list(v: &serde_json::Value) -> Option<Vec<u64>> {
    v.as_array()?.iter().map(|n| n.as_u64()).collect()
}

/// Node ids mentioned in a nemesis `nodes` field, whatever its shape (a list, or a list of
/// partition sides).
fn flat_node_ids(v: &serde_json::Value) -> Vec<u64> {
    fn walk(v: &serde_json::Value, out: &mut Vec<u64>) {
        match v {
            serde_json::Value::Number(n) => out.extend(n.as_u64()),
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_promise_with_an_accepted_value() {
        let line = br#"{"type":"send","t":5,"msg":1,"src":2,"dest":1,"body":{"type":"promise","instance":7,"ballot":[3,1],"accepted":{"ballot":[2,5],"value":"x"}}}"#;
        match parse_line(line).unwrap() {
            Event::Send {
                msg: Some(Msg::Promise { instance: 7, ballot, accepted: Some((b, v)) }), ..
            } => {
                assert_eq!(ballot, Ballot(3, 1));
                assert_eq!(b, Ballot(2, 5));
                assert_eq!(v, "x");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_late_aborted_and_the_trace_setting() {
        let ok = br#"{"type":"ok","t":5,"op":1,"instance":2,"value":"x","late":true}"#;
        assert!(matches!(parse_line(ok).unwrap(), Event::Ok(OpEvent { late: true, .. })));
        let fail = br#"{"type":"fail","t":5,"op":1,"late":true}"#;
        assert!(matches!(parse_line(fail).unwrap(), Event::Failed { late: true, instance: None, .. }));
        let end = br#"{"type":"end","t":5,"aborted":true,"reason":"no node started"}"#;
        match parse_line(end).unwrap() {
            Event::End { aborted: true, reason: Some(r), .. } => assert_eq!(r, "no node started"),
            other => panic!("{other:?}"),
        }
        let run = br#"{"type":"run","t":0,"nodes":[1],"config":{"trace":"ops","x":[1]}}"#;
        assert!(
            matches!(parse_line(run).unwrap(), Event::Run(RunHeader { trace: Some(t), .. }) if t == "ops")
        );
        for config in ["7", r#""all""#, "[1]", r#"{"trace":3}"#, "null"] {
            let run = format!(r#"{{"type":"run","t":0,"nodes":[1],"config":{config}}}"#);
            assert!(matches!(parse_line(run.as_bytes()).unwrap(), Event::Run(RunHeader { trace: None, .. })));
        }
    }

    #[test]
    fn unknown_types_and_fields_are_ignored() {
        let line = br#"{"type":"error","t":5,"node":"n3","value":7,"extra":[1]}"#;
        assert!(matches!(parse_line(line).unwrap(), Event::Unknown));
        let line = br#"{"type":"recv","t":5,"msg":3,"whatever":{"a":1}}"#;
        assert!(matches!(parse_line(line).unwrap(), Event::Recv { t: 5 }));
    }

    #[test]
    fn a_foreign_body_keeps_the_send() {
        let line = br#"{"type":"send","t":5,"msg":1,"src":0,"dest":1,"body":{"type":"init","ballot":"odd","nodes":[1,2]}}"#;
        assert!(matches!(parse_line(line).unwrap(), Event::Send { msg: None, src: 0, .. }));
    }

    #[test]
    fn errors_name_the_problem() {
        let e = parse_line(br#"{"type":"learn","t":5,"node":1,"value":"x"}"#).unwrap_err();
        assert!(e.reason.contains("`learn` event lacks field `instance`"), "{}", e.reason);
        let e = parse_line(br#"{"type":"learn","t":"x"}"#).unwrap_err();
        assert!(e.reason.contains("invalid type"), "{}", e.reason);
        let e = parse_line(br#"{"type":"learn","t":5"#).unwrap_err();
        assert!(e.reason.starts_with("not valid JSON"), "{}", e.reason);
        let e = parse_line(
            br#"{"type":"send","t":5,"src":1,"dest":2,"body":{"type":"accept","instance":1,"ballot":[1,1]}}"#,
        )
        .unwrap_err();
        assert!(e.reason.contains("body `accept` lacks field `value`"), "{}", e.reason);
    }
}
