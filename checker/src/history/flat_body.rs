//! A `send`'s body as both history readers see it first: a flat struct of the Paxos fields,
//! borrowing from the line, then the typed [`Msg`] it holds, if it is one. Shared by the
//! hot path (`hot.rs`) and the generic reader (`parse.rs`).

use super::msg::{AcceptedValue, Msg};
use super::parse_error::ParseError;
use crate::ballot::Ballot;
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Deserialize)]
#[serde(rename = "message body")]
pub(super) struct FlatBody<'a> {
    #[serde(rename = "type", borrow)]
    ty: Option<Cow<'a, str>>,
    instance: Option<u64>,
    ballot: Option<Ballot>,
    #[serde(borrow)]
    value: Option<Cow<'a, str>>,
    #[serde(borrow)]
    accepted: Option<AcceptedValue<'a>>,
    promised: Option<Ballot>,
}

fn need_body<T>(v: Option<T>, ty: &str, field: &str) -> Result<T, ParseError> {
    v.ok_or_else(|| ParseError::new(format!("`send` body `{ty}` lacks field `{field}`")))
}

/// The Paxos message a body holds; `None` for a body of another type (or none).
pub(super) fn body_msg(body: FlatBody<'_>) -> Result<Option<Msg<'_>>, ParseError> {
    let Some(ty) = body.ty.as_deref() else {
        return Ok(None);
    };
    let instance = || need_body(body.instance, ty, "instance");
    let ballot = || need_body(body.ballot, ty, "ballot");
    Ok(Some(match ty {
        "prepare" => Msg::Prepare { instance: instance()?, ballot: ballot()? },
        "promise" => Msg::Promise { instance: instance()?, ballot: ballot()?, accepted: body.accepted },
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
