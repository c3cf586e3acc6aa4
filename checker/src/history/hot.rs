//! The hot path of [`super::parse_line`]: the line types that make up nearly all of a
//! history (`send`, `recv`, `drop`, and the client events), read with a small struct of their
//! own, chosen by the type at the start of the line as the controller writes it
//! (`{"type":"send",...`). A small struct is what makes this fast: the generic reader's
//! struct has a field for every field of every type, and costs about a third more per line.
//!
//! Anything unusual (the type not first, a field missing or mistyped, a body that is not a
//! Paxos message) returns `None`, and the generic reader takes the line from the start, so
//! results and error messages are the generic reader's in every case but the plain one.
//! `parse.rs` calls this first; both read bodies through `flat_body.rs`.

use super::event::{Dropped, Event, Invoke, Learn, Ok, Recv, Send};
use super::flat_body::{body_msg, FlatBody};
use super::msg::Body;
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Deserialize)]
struct SendLine<'a> {
    t: u64,
    msg: Option<u64>,
    src: u64,
    dest: u64,
    #[serde(borrow)]
    body: FlatBody<'a>,
}

#[derive(Deserialize)]
struct RecvLine {
    t: u64,
    msg: Option<u64>,
}

#[derive(Deserialize)]
struct DropLine<'a> {
    t: u64,
    msg: Option<u64>,
    #[serde(borrow)]
    reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct InvokeLine<'a> {
    t: u64,
    instance: u64,
    node: Option<u64>,
    op: u64,
    revisit: Option<bool>,
    #[serde(borrow)]
    value: Cow<'a, str>,
}

#[derive(Deserialize)]
struct OkLine<'a> {
    t: u64,
    instance: u64,
    late: Option<bool>,
    node: Option<u64>,
    op: u64,
    reply_instance: Option<u64>,
    unknown_op: Option<bool>,
    #[serde(borrow)]
    value: Cow<'a, str>,
}

#[derive(Deserialize)]
struct LearnLine<'a> {
    t: u64,
    instance: u64,
    node: u64,
    #[serde(borrow)]
    value: Cow<'a, str>,
}

/// The line's type when the line starts with it, as the controller writes.
fn leading_type(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"{\"type\":\"")?;
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    (rest[end] == b'"').then(|| &rest[..end])
}

/// The event, if the line is one of the common types in the common shape.
pub(super) fn parse(line: &[u8]) -> Option<Event<'_>> {
    let flag = |b: Option<bool>| b.unwrap_or(false);
    Some(match leading_type(line)? {
        b"send" => {
            let l: SendLine<'_> = serde_json::from_slice(line).ok()?;
            let msg = body_msg(l.body).ok()??;
            Event::Send(Send { t: l.t, msg: l.msg, src: l.src, dest: l.dest, body: Body::Paxos(msg) })
        }
        b"recv" => {
            let l: RecvLine = serde_json::from_slice(line).ok()?;
            Event::Recv(Recv { t: l.t, msg: l.msg })
        }
        b"drop" => {
            let l: DropLine<'_> = serde_json::from_slice(line).ok()?;
            Event::Drop(Dropped { t: l.t, msg: l.msg, reason: l.reason.unwrap_or(Cow::Borrowed("unknown")) })
        }
        b"invoke" => {
            let l: InvokeLine<'_> = serde_json::from_slice(line).ok()?;
            Event::Invoke(Invoke {
                t: l.t,
                instance: l.instance,
                node: l.node,
                op: l.op,
                revisit: flag(l.revisit),
                value: l.value,
            })
        }
        b"ok" => {
            let l: OkLine<'_> = serde_json::from_slice(line).ok()?;
            Event::Ok(Ok {
                t: l.t,
                instance: l.instance,
                late: flag(l.late),
                node: l.node,
                op: l.op,
                reply_instance: l.reply_instance,
                unknown_op: flag(l.unknown_op),
                value: l.value,
            })
        }
        b"learn" => {
            let l: LearnLine<'_> = serde_json::from_slice(line).ok()?;
            Event::Learn(Learn { t: l.t, instance: l.instance, node: l.node, value: l.value })
        }
        _ => return None,
    })
}
