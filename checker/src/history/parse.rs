//! History lines -> [`Event`]s: the one parser every reader uses.
//!
//! Parsing is most of the checker's cost, so the fast path deserializes each line once, with
//! serde, straight into a flat struct of optional fields that borrow strings from the line
//! buffer (no `serde_json::Value`, no allocation for unescaped strings), then checks that
//! the fields its type needs are there. Only when that fails do we look closer, to tell the
//! cases apart:
//!
//! - the line is not JSON at all: malformed (or, if it is the last line and has no newline,
//!   torn: the caller decides);
//! - the event type is one we do not know: [`Event::Unknown`], whatever its fields hold;
//! - an informational event (`process`, `phase`, `disk`, `discarded`, `error`: nothing the
//!   checker judges) with fields other than the documented ones: [`Event::Unknown`] too;
//! - a `send` whose body is not a Paxos message the schema knows (a node of your own's
//!   message type): the send is kept, its body carried verbatim ([`Body::Raw`]).
//!
//! Anything else (an event the checker judges with a missing or mistyped field) is
//! malformed, and the message says which field. `nemesis` lines, a few per run whose fields
//! depend on the action, are read by a second, dedicated pass.

use super::event::*;
use super::flat_body::{body_msg, FlatBody};
use super::msg::{Body, PAXOS_TYPES};
pub use super::parse_error::ParseError;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Event types the schema knows. Any other type is [`Event::Unknown`].
pub const KNOWN_TYPES: [&str; 16] = [
    "run",
    "invoke",
    "ok",
    "fail",
    "info",
    "learn",
    "send",
    "recv",
    "drop",
    "phase",
    "nemesis",
    "disk",
    "process",
    "discarded",
    "error",
    "end",
];

/// Types the checker does not judge: when their fields are not the documented ones, the
/// line is an [`Event::Unknown`] rather than an error.
const INFORMATIONAL: [&str; 5] = ["process", "phase", "disk", "discarded", "error"];

#[derive(Deserialize)]
#[serde(rename = "history event")]
struct Flat<'a, B> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    t: Option<u64>,
    op: Option<u64>,
    node: Option<u64>,
    instance: Option<u64>,
    #[serde(borrow)]
    value: Option<Cow<'a, str>>,
    msg: Option<u64>,
    src: Option<u64>,
    dest: Option<u64>,
    body: Option<B>,
    #[serde(borrow)]
    reason: Option<Cow<'a, str>>,
    // `run`
    run_id: Option<Value>,
    seed: Option<Value>,
    /// Any shape: a nemesis line may list partition sides (it is read apart anyway).
    nodes: Option<Value>,
    acceptors: Option<Vec<u64>>,
    proposers: Option<Vec<u64>>,
    learners: Option<Vec<u64>>,
    /// `null` (no mutant) is kept apart from absent.
    #[serde(default, deserialize_with = "present")]
    bug: Option<Value>,
    bug_nodes: Option<Vec<u64>>,
    /// Only `config.trace` is read by the checker; `config` may hold anything.
    config: Option<Value>,
    // `invoke`, `ok`, `fail`, `info`
    revisit: Option<bool>,
    late: Option<bool>,
    reply_instance: Option<u64>,
    unknown_op: Option<bool>,
    #[serde(borrow)]
    error: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    // `phase`, `process`, `disk`, `discarded`
    #[serde(borrow)]
    phase: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event: Option<Cow<'a, str>>,
    pid: Option<u64>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    files: Option<u64>,
    writes: Option<u64>,
    bytes: Option<u64>,
    torn: Option<bool>,
    torn_bytes_kept: Option<u64>,
    #[serde(borrow)]
    body_type: Option<Cow<'a, str>>,
    frame: Option<u64>,
    #[serde(borrow)]
    peer: Option<Cow<'a, str>>,
    // `end`
    interrupted: Option<bool>,
    aborted: Option<bool>,
    workload_cut: Option<bool>,
    unanswered: Option<u64>,
    unlearned: Option<u64>,
}

/// A field that is present, even as `null`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The type of a line, and its body verbatim.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    t: Option<IgnoredAny>,
    #[serde(borrow)]
    body: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct SendHead {
    t: Option<u64>,
    msg: Option<u64>,
    src: Option<u64>,
    dest: Option<u64>,
}

/// Parses one history line (without its newline).
pub fn parse_line(line: &[u8]) -> Result<Event<'_>, ParseError> {
    if let Some(ev) = super::exact::parse(line) {
        return Ok(ev);
    }
    if let Some(ev) = super::hot::parse(line) {
        return Ok(ev);
    }
    parse_generic(line)
}

/// [`parse_line`] without its hot path: every type, every shape.
pub(super) fn parse_generic(line: &[u8]) -> Result<Event<'_>, ParseError> {
    match serde_json::from_slice::<Flat<'_, FlatBody<'_>>>(line) {
        Ok(flat) if flat.ty == "nemesis" => nemesis(line),
        Ok(flat) => match typed(flat) {
            Ok(Some(ev)) => Ok(ev),
            // A send whose body the schema does not interpret: read again, body verbatim.
            Ok(None) => send_raw(line),
            Err(e) => lenient(line, e),
        },
        Err(first) => slow_path(line, first),
    }
}

/// A typed read failed on a known type: an informational type becomes `Unknown`.
fn lenient(line: &[u8], e: ParseError) -> Result<Event<'_>, ParseError> {
    let probe: Probe<'_> = serde_json::from_slice(line).map_err(|_| e.clone())?;
    if INFORMATIONAL.contains(&&*probe.ty) {
        return Ok(unknown(line, probe.ty));
    }
    Err(e)
}

fn unknown<'a>(line: &'a [u8], ty: Cow<'a, str>) -> Event<'a> {
    #[derive(Deserialize)]
    struct T {
        t: Option<u64>,
    }
    let t = serde_json::from_slice::<T>(line).ok().and_then(|x| x.t);
    Event::Unknown { ty, t }
}

fn slow_path<'a>(line: &'a [u8], first: serde_json::Error) -> Result<Event<'a>, ParseError> {
    if first.is_syntax() || first.is_eof() {
        return Err(ParseError::json(&first));
    }
    let probe: Probe<'_> = match serde_json::from_slice(line) {
        Ok(p) => p,
        Err(_) => return Err(ParseError::json(&first)),
    };
    let _ = probe.t;
    match &*probe.ty {
        ty if !KNOWN_TYPES.contains(&ty) => Ok(unknown(line, probe.ty)),
        ty if INFORMATIONAL.contains(&ty) => Ok(unknown(line, probe.ty)),
        "nemesis" => nemesis(line),
        "send" => {
            let paxos = probe
                .body
                .and_then(|b| serde_json::from_str::<Probe<'_>>(b.get()).ok())
                .is_some_and(|b| PAXOS_TYPES.contains(&&*b.ty));
            if paxos {
                Err(ParseError::json(&first))
            } else {
                // A body the schema does not interpret clashed with our field types.
                send_raw(line)
            }
        }
        _ => Err(ParseError::json(&first)),
    }
}

fn send_raw(line: &[u8]) -> Result<Event<'_>, ParseError> {
    let head: SendHead = serde_json::from_slice(line).map_err(|e| ParseError::json(&e))?;
    let probe: Probe<'_> = serde_json::from_slice(line).map_err(|e| ParseError::json(&e))?;
    let body = probe.body.ok_or_else(|| ParseError::new("`send` event lacks field `body`"))?;
    Ok(Event::Send(Send {
        t: need(head.t, "send", "t")?,
        msg: head.msg,
        src: need(head.src, "send", "src")?,
        dest: need(head.dest, "send", "dest")?,
        body: Body::Raw(Cow::Borrowed(body)),
    }))
}

fn nemesis(line: &[u8]) -> Result<Event<'_>, ParseError> {
    let mut params: Map<String, Value> = serde_json::from_slice(line).map_err(|e| ParseError::json(&e))?;
    params.remove("type");
    let t = match params.remove("t") {
        Some(t) => t.as_u64().ok_or_else(|| ParseError::new("`nemesis` field `t` must be a whole number"))?,
        None => return Err(ParseError::new("`nemesis` event lacks field `t`")),
    };
    let action = match params.remove("action") {
        Some(Value::String(a)) => a,
        Some(_) => return Err(ParseError::new("`nemesis` field `action` must be a string")),
        None => return Err(ParseError::new("`nemesis` event lacks field `action`")),
    };
    // A plain list keeps its order (a replay asks for what was written); any other shape
    // (lists of partition sides) gives its node ids, sorted.
    let nodes = params.remove("nodes").map(|v| node_list(&v).unwrap_or_else(|| flat_node_ids(&v)));
    Ok(Event::Nemesis(Nemesis { t, action: Cow::Owned(action), nodes, params }))
}

fn need<T>(v: Option<T>, ty: &str, field: &str) -> Result<T, ParseError> {
    v.ok_or_else(|| ParseError::new(format!("`{ty}` event lacks field `{field}`")))
}

/// The event, or `None` for a send whose body is not a Paxos message.
fn typed<'a>(raw: Flat<'a, FlatBody<'a>>) -> Result<Option<Event<'a>>, ParseError> {
    let ty = &*raw.ty;
    let t = || need(raw.t, ty, "t");
    let flag = |b: Option<bool>| b.unwrap_or(false);
    Ok(Some(match ty {
        "invoke" => Event::Invoke(Invoke {
            t: t()?,
            instance: need(raw.instance, ty, "instance")?,
            node: raw.node,
            op: need(raw.op, ty, "op")?,
            revisit: flag(raw.revisit),
            value: need(raw.value, ty, "value")?,
        }),
        "ok" => Event::Ok(Ok {
            t: t()?,
            instance: need(raw.instance, ty, "instance")?,
            late: flag(raw.late),
            node: raw.node,
            op: need(raw.op, ty, "op")?,
            reply_instance: raw.reply_instance,
            unknown_op: flag(raw.unknown_op),
            value: need(raw.value, ty, "value")?,
        }),
        "fail" | "info" => {
            let failed = Failed {
                t: t()?,
                error: raw.error,
                instance: raw.instance,
                late: flag(raw.late),
                node: raw.node,
                op: need(raw.op, ty, "op")?,
                text: raw.text,
            };
            if ty == "info" {
                Event::Info(failed)
            } else {
                Event::Fail(failed)
            }
        }
        "learn" => Event::Learn(Learn {
            t: t()?,
            instance: need(raw.instance, ty, "instance")?,
            node: need(raw.node, ty, "node")?,
            value: need(raw.value, ty, "value")?,
        }),
        "send" => {
            let body = match raw.body {
                Some(body) => body,
                None => return Err(ParseError::new("`send` event lacks field `body`")),
            };
            let Some(msg) = body_msg(body)? else { return Ok(None) };
            Event::Send(Send {
                t: t()?,
                msg: raw.msg,
                src: need(raw.src, ty, "src")?,
                dest: need(raw.dest, ty, "dest")?,
                body: Body::Paxos(msg),
            })
        }
        "recv" => Event::Recv(Recv { t: t()?, msg: raw.msg }),
        "drop" => Event::Drop(Dropped {
            t: t()?,
            msg: raw.msg,
            reason: raw.reason.unwrap_or(Cow::Borrowed("unknown")),
        }),
        "phase" => Event::Phase(Phase { t: t()?, phase: need(raw.phase, ty, "phase")? }),
        "disk" => Event::Disk(Disk {
            t: t()?,
            bytes: need(raw.bytes, ty, "bytes")?,
            event: need(raw.event, ty, "event")?,
            files: need(raw.files, ty, "files")?,
            node: need(raw.node, ty, "node")?,
            torn: need(raw.torn, ty, "torn")?,
            torn_bytes_kept: need(raw.torn_bytes_kept, ty, "torn_bytes_kept")?,
            writes: need(raw.writes, ty, "writes")?,
        }),
        "process" => Event::Process(Process {
            t: t()?,
            event: need(raw.event, ty, "event")?,
            node: need(raw.node, ty, "node")?,
            pid: raw.pid,
            status: raw.status,
        }),
        "discarded" => Event::Discarded(Discarded {
            t: t()?,
            body_type: need(raw.body_type, ty, "body_type")?,
            node: need(raw.node, ty, "node")?,
        }),
        "error" => Event::Error(ErrorEvent {
            t: t()?,
            error: need(raw.error, ty, "error")?,
            frame: raw.frame,
            node: raw.node,
            op: raw.op,
            peer: raw.peer,
        }),
        "end" => Event::End(End {
            t: t()?,
            aborted: flag(raw.aborted),
            interrupted: flag(raw.interrupted),
            reason: raw.reason,
            unanswered: raw.unanswered,
            unlearned: raw.unlearned,
            workload_cut: flag(raw.workload_cut),
        }),
        "run" => {
            let nodes = match &raw.nodes {
                None => Vec::new(),
                Some(v) => node_list(v)
                    .ok_or_else(|| ParseError::new("`run` field `nodes` must be a list of node ids"))?,
            };
            Event::Run(Run {
                t: raw.t.unwrap_or(0),
                run_id: raw.run_id.map(|v| match v {
                    Value::String(s) => Cow::Owned(s),
                    other => Cow::Owned(other.to_string()),
                }),
                seed: raw.seed,
                nodes,
                acceptors: raw.acceptors,
                proposers: raw.proposers,
                learners: raw.learners,
                bug: raw.bug.map(|b| match b {
                    Value::Null => None,
                    Value::String(s) => Some(Cow::Owned(s)),
                    other => Some(Cow::Owned(other.to_string())),
                }),
                bug_nodes: raw.bug_nodes,
                config: raw.config,
            })
        }
        other => Event::Unknown { ty: Cow::Owned(other.to_string()), t: raw.t },
    }))
}

fn node_list(v: &Value) -> Option<Vec<u64>> {
    v.as_array()?.iter().map(|n| n.as_u64()).collect()
}

/// Node ids mentioned in a nemesis `nodes` field, whatever its shape (a list, or a list of
/// partition sides).
fn flat_node_ids(v: &Value) -> Vec<u64> {
    fn walk(v: &Value, out: &mut Vec<u64>) {
        match v {
            Value::Number(n) => out.extend(n.as_u64()),
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out.sort_unstable();
    out.dedup();
    out
}
