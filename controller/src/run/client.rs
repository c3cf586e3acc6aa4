//! The workload's side of the run loop: what the workload queued, drained into the net and
//! the history. Its ops go out as `propose` frames, recorded as `invoke`s; the ops it ended
//! without a reply (timeout, crashed) are recorded as `info`s.
//!
//! The run loop drains the workload after every call into it, the ended ops first, so that
//! the history says how an op ended before what that caused; the only invokes never sent
//! are those after the final phase (the nodes are stopped next).

use super::runner::Runner;
use crate::workload::Ended;
use std::borrow::Cow;
use synod_checker::history as schema;
use synod_node::protocol::{Body, Envelope};

impl Runner<'_> {
    /// Ops past their deadline end `info` (timeout); the workload may invoke again.
    pub(super) fn expire(&mut self, now_us: u64) {
        self.workload.handle_tick(now_us);
        self.record_ended();
    }

    /// Records each op the workload ended without a reply as an `info` (timeout, crashed).
    pub(super) fn record_ended(&mut self) {
        while let Some(ended) = self.workload.poll_ended() {
            self.history.record(&schema::Event::Info(op_ended(self.history.now_us(), ended)));
        }
    }

    /// The final phase is over (or the nodes are stopping): what the workload would still
    /// invoke is not sent.
    pub(super) fn drop_invokes(&mut self) {
        while self.workload.poll_invoke().is_some() {}
    }

    /// Sends (and records) what the workload invoked.
    pub(super) fn send_invokes(&mut self) {
        if self.stopping {
            // A reply during the stop may make the workload try again: too late for that.
            self.drop_invokes();
            return;
        }
        while let Some(inv) = self.workload.poll_invoke() {
            self.history.record(&schema::Event::Invoke(schema::Invoke {
                t: self.history.now_us(),
                instance: inv.instance,
                node: Some(u64::from(inv.node)),
                op: inv.op,
                revisit: inv.revisit,
                value: Cow::Borrowed(&inv.value),
            }));
            let body = Body::Propose { msg_id: inv.op, instance: inv.instance, value: inv.value };
            // A propose to a node that is down is lost; the op then times out as `info`.
            self.net.send_direct(inv.node, &Envelope { src: 0, dest: inv.node, body });
        }
    }
}

/// The `info` of an op that ended without a reply (`timeout`, `crashed`).
fn op_ended(t: u64, ended: Ended) -> schema::Failed<'static> {
    schema::Failed {
        t,
        error: Some(Cow::Borrowed(ended.cause.name())),
        instance: Some(ended.instance),
        late: false,
        node: Some(u64::from(ended.node)),
        op: ended.op,
        text: None,
    }
}
