//! The events of the nodes' connections and processes: a node connecting (it gets its
//! `init`), a frame from it, a malformed frame, a rejected connection, a process exit.
//!
//! A frame between nodes goes to the net (through the nemesis's triggers); a frame to the
//! controller is a client's reply (`propose_ok`, `error`) or a learner's `learned`, fed to
//! the workload and recorded.

use super::runner::{error_event, Runner};
use crate::net::conn::Event;
use crate::workload::Outcome;
use std::borrow::Cow;
use synod_checker::history as schema;
use synod_node::paxos::{InstanceId, NodeId, OpId};
use synod_node::protocol::{Body, Envelope};

impl Runner<'_> {
    pub(super) fn handle(&mut self, ev: Event) {
        match ev {
            Event::Connected { node, conn, tx } => {
                self.net.connect(node, conn, tx);
                let init = self.init_for(node);
                self.net.send_direct(node, &Envelope { src: 0, dest: node, body: init });
                // Clients waiting for this node retry on it (after the init, on the same link).
                self.workload.handle_node_up(self.history.now_us(), node);
                self.send_invokes();
            }
            Event::Frame { node, env } => self.frame(node, env),
            Event::Malformed { node, frame, error } => {
                self.history.record(&schema::Event::Error(schema::ErrorEvent {
                    frame: Some(frame),
                    ..error_event(self.history.now_us(), Some(node), &error)
                }));
            }
            Event::Rejected { peer, reason } => {
                let error = format!("connection rejected: {reason}");
                self.history.record(&schema::Event::Error(schema::ErrorEvent {
                    peer: Some(Cow::Borrowed(&peer)),
                    ..error_event(self.history.now_us(), None, &error)
                }));
            }
            Event::Disconnected { node, conn } => self.net.disconnect(node, conn),
            Event::Exited { node, pid, status } => self.exited(node, pid, &status),
        }
    }

    /// `node`'s process `pid` exited: recorded, its open ops end `crashed`, a power cut
    /// waiting for the exit takes its writes, a restart waiting for it happens.
    fn exited(&mut self, node: NodeId, pid: u32, status: &str) {
        self.nodes.exited(node, pid);
        let now_us = self.history.now_us();
        self.history.record(&schema::Event::Process(schema::Process {
            t: now_us,
            event: Cow::Borrowed("exit"),
            node: u64::from(node),
            pid: Some(u64::from(pid)),
            status: Some(Cow::Borrowed(status)),
        }));
        self.workload.handle_node_exited(now_us, node);
        self.record_ended();
        self.send_invokes();
        self.power_cut_exited(node);
        self.restart_if_pending(node);
    }

    /// A frame on `node`'s connection: checked, then routed to its peer or taken as a reply.
    pub(super) fn frame(&mut self, node: NodeId, env: Envelope) {
        if env.src != node {
            let error = format!("frame claims src {} on n{node}'s connection", env.src);
            self.record_error(Some(node), &error);
            return;
        }
        if self.nemesis.is_crash_victim(node, self.nodes.state(node)) {
            // Sent after its crash point: as if it had died before writing it.
            self.history.record(&schema::Event::Discarded(schema::Discarded {
                t: self.history.now_us(),
                body_type: Cow::Borrowed(env.body.type_name()),
                node: u64::from(node),
            }));
            return;
        }
        if env.dest != 0 {
            if env.body.is_paxos() {
                self.route(env);
            } else {
                let error = format!("{} frame addressed to n{}", env.body.type_name(), env.dest);
                self.record_error(Some(node), &error);
            }
            return;
        }
        match env.body {
            Body::ProposeOk { in_reply_to, instance, value } => {
                self.propose_ok(node, in_reply_to, instance, &value)
            }
            Body::Error { in_reply_to, code, text } => self.propose_error(node, in_reply_to, &code, &text),
            Body::Learned { instance, value } => self.learned(node, instance, &value),
            other => {
                let error = format!("unexpected {} frame to the controller", other.type_name());
                self.record_error(Some(node), &error);
            }
        }
        self.send_invokes();
    }

    /// `node` answered op `op` with the decided `value` (naming `instance`).
    fn propose_ok(&mut self, node: NodeId, op: OpId, instance: InstanceId, value: &str) {
        let now_us = self.history.now_us();
        let mut ok = self.ok_event(node, op, instance, value);
        let outcome = Outcome::Ok(value.to_string());
        if self.workload.handle_reply(now_us, op, &outcome).is_none() {
            // After its op ended (or a second reply): recorded all the same.
            self.workload.handle_late(op, Some(ok.instance));
            ok.late = true;
        }
        self.history.record(&schema::Event::Ok(ok));
    }

    /// `node` answered op `op` with an error: `gave_up` leaves the outcome unknown (some
    /// ballot may have been accepted: `info`), any other code is a `fail`.
    fn propose_error(&mut self, node: NodeId, op: OpId, code: &str, text: &str) {
        let now_us = self.history.now_us();
        let outcome = match code {
            "gave_up" => Outcome::Info(code.to_string()),
            _ => Outcome::Fail(code.to_string()),
        };
        let (instance, late) = match self.workload.handle_reply(now_us, op, &outcome) {
            Some((instance, _)) => (Some(instance), false),
            None => (self.workload.handle_late(op, None).map(|(instance, _)| instance), true),
        };
        let failed = schema::Failed {
            t: self.history.now_us(),
            error: Some(Cow::Borrowed(code)),
            instance,
            late,
            node: Some(u64::from(node)),
            op,
            text: Some(Cow::Borrowed(text)),
        };
        self.history.record(&match outcome {
            Outcome::Info(_) => schema::Event::Info(failed),
            _ => schema::Event::Fail(failed),
        });
    }

    /// Learner `node` learned `value` for `instance`.
    fn learned(&mut self, node: NodeId, instance: InstanceId, value: &str) {
        self.history.record(&schema::Event::Learn(schema::Learn {
            t: self.history.now_us(),
            instance,
            node: u64::from(node),
            value: Cow::Borrowed(value),
        }));
        self.workload.handle_learned(instance, node);
    }

    /// The `ok` for a `propose_ok` naming `reply_instance`. A reply answers the
    /// op's instance, whatever instance it names: else a node could answer an op with another
    /// instance's decision and the client would take its own instance for answered. A reply
    /// naming another instance is also recorded as an `error`, and its `ok` keeps the named
    /// one in `reply_instance`; its value is judged against the op's instance. A reply to an
    /// op the controller does not know (never invoked, or ended too long ago) keeps the
    /// instance it names and is marked `unknown_op`.
    fn ok_event<'v>(&mut self, node: NodeId, op: u64, reply_instance: u64, value: &'v str) -> schema::Ok<'v> {
        let known = self.workload.op_instance(op);
        let instance = match known {
            Some(instance) if instance != reply_instance => {
                let error =
                    format!("propose_ok for op {op} (instance {instance}) names instance {reply_instance}");
                self.history.record(&schema::Event::Error(schema::ErrorEvent {
                    op: Some(op),
                    ..error_event(self.history.now_us(), Some(node), &error)
                }));
                instance
            }
            _ => reply_instance,
        };
        schema::Ok {
            t: self.history.now_us(),
            instance,
            late: false,
            node: Some(u64::from(node)),
            op,
            reply_instance: (instance != reply_instance).then_some(reply_instance),
            unknown_op: known.is_none(),
            value: Cow::Borrowed(value),
        }
    }
}
