//! Envelope and body types. The Paxos bodies reuse the core's message structs, so the core's
//! types and the wire can never drift apart.

use crate::paxos::msg::{Accept, Accepted, Catchup, Decided, DecidedOk, Nack, Prepare, Promise};
use crate::paxos::{Config, InstanceId, Msg, NodeId, Tuning};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub src: NodeId,
    pub dest: NodeId,
    pub body: Body,
}

/// `init.config`: the core's tunables.
pub type InitConfig = Tuning;

/// The `init` body: membership, roles and tuning. Boxed in [`Body`], whose other variants are
/// a quarter of its size: every frame moves a `Body` around several times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Init {
    pub node: NodeId,
    pub nodes: Vec<NodeId>,
    pub acceptors: Vec<NodeId>,
    pub proposers: Vec<NodeId>,
    pub learners: Vec<NodeId>,
    #[serde(default)]
    pub config: InitConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body {
    // Handshake.
    Hello { node: NodeId, token: String },
    Init(Box<Init>),
    // Client.
    Propose { msg_id: u64, instance: InstanceId, value: String },
    ProposeOk { in_reply_to: u64, instance: InstanceId, value: String },
    Error { in_reply_to: u64, code: String, text: String },
    Learned { instance: InstanceId, value: String },
    // Paxos.
    Prepare(Prepare),
    Promise(Promise),
    Nack(Nack),
    Accept(Accept),
    Accepted(Accepted),
    Decided(Decided),
    DecidedOk(DecidedOk),
    Catchup(Catchup),
}

impl Body {
    /// The wire name of this body type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Body::Hello { .. } => "hello",
            Body::Init(_) => "init",
            Body::Propose { .. } => "propose",
            Body::ProposeOk { .. } => "propose_ok",
            Body::Error { .. } => "error",
            Body::Learned { .. } => "learned",
            Body::Prepare(_) => "prepare",
            Body::Promise(_) => "promise",
            Body::Nack(_) => "nack",
            Body::Accept(_) => "accept",
            Body::Accepted(_) => "accepted",
            Body::Decided(_) => "decided",
            Body::DecidedOk(_) => "decided_ok",
            Body::Catchup(_) => "catchup",
        }
    }

    /// The Paxos message carried by this body, if it is one (peer-to-peer traffic); the body
    /// back otherwise (boxed: `init` is large).
    pub fn into_msg(self) -> Result<Msg, Box<Body>> {
        Ok(match self {
            Body::Prepare(m) => Msg::Prepare(m),
            Body::Promise(m) => Msg::Promise(m),
            Body::Nack(m) => Msg::Nack(m),
            Body::Accept(m) => Msg::Accept(m),
            Body::Accepted(m) => Msg::Accepted(m),
            Body::Decided(m) => Msg::Decided(m),
            Body::DecidedOk(m) => Msg::DecidedOk(m),
            Body::Catchup(m) => Msg::Catchup(m),
            other => return Err(Box::new(other)),
        })
    }

    pub fn is_paxos(&self) -> bool {
        matches!(
            self,
            Body::Prepare(_)
                | Body::Promise(_)
                | Body::Nack(_)
                | Body::Accept(_)
                | Body::Accepted(_)
                | Body::Decided(_)
                | Body::DecidedOk(_)
                | Body::Catchup(_)
        )
    }

    /// The instance a Paxos body or a propose is about, without copying the body.
    pub fn instance(&self) -> Option<InstanceId> {
        Some(match self {
            Body::Propose { instance, .. }
            | Body::ProposeOk { instance, .. }
            | Body::Learned { instance, .. } => *instance,
            Body::Prepare(m) => m.instance,
            Body::Promise(m) => m.instance,
            Body::Nack(m) => m.instance,
            Body::Accept(m) => m.instance,
            Body::Accepted(m) => m.instance,
            Body::Decided(m) => m.instance,
            Body::DecidedOk(m) => m.instance,
            Body::Catchup(m) => m.from_instance,
            _ => return None,
        })
    }
}

impl From<Msg> for Body {
    fn from(msg: Msg) -> Body {
        match msg {
            Msg::Prepare(m) => Body::Prepare(m),
            Msg::Promise(m) => Body::Promise(m),
            Msg::Nack(m) => Body::Nack(m),
            Msg::Accept(m) => Body::Accept(m),
            Msg::Accepted(m) => Body::Accepted(m),
            Msg::Decided(m) => Body::Decided(m),
            Msg::DecidedOk(m) => Body::DecidedOk(m),
            Msg::Catchup(m) => Body::Catchup(m),
        }
    }
}

/// Builds the core's config from an `init` body.
pub fn config_from_init(body: &Body) -> Option<Config> {
    match body {
        Body::Init(init) => Some(Config {
            node: init.node,
            acceptors: init.acceptors.clone(),
            proposers: init.proposers.clone(),
            learners: init.learners.clone(),
            tuning: init.config.clone(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paxos::msg::AcceptedValue;
    use crate::paxos::Ballot;

    #[test]
    fn instance_is_read_without_copying_and_matches_the_core_message() {
        let b = Body::Prepare(crate::paxos::msg::Prepare { instance: 9, ballot: Ballot::new(1, 2) });
        assert_eq!(b.instance(), Some(9));
        assert_eq!(b.clone().into_msg().map(|m| m.instance()).ok(), b.instance());
        let p = Body::Propose { msg_id: 1, instance: 4, value: "v".into() };
        assert_eq!(p.instance(), Some(4));
        assert_eq!(Body::Hello { node: 1, token: "t".into() }.instance(), None);
    }

    #[test]
    fn frames_match_the_documented_examples() {
        let env = Envelope {
            src: 1,
            dest: 2,
            body: Body::Prepare(Prepare { instance: 7, ballot: Ballot::new(3, 1) }),
        };
        let line = String::from_utf8(env.to_frame()).unwrap();
        assert_eq!(
            line,
            "{\"src\":1,\"dest\":2,\"body\":{\"type\":\"prepare\",\"instance\":7,\"ballot\":[3,1]}}\n"
        );
        let promise = r#"{"src":2,"dest":1,"body":{"type":"promise","instance":7,"ballot":[3,1],"accepted":{"ballot":[2,5],"value":"x"}}}"#;
        let env: Envelope = serde_json::from_str(promise).unwrap();
        let want = Body::Promise(Promise {
            instance: 7,
            ballot: Ballot::new(3, 1),
            accepted: Some(AcceptedValue { ballot: Ballot::new(2, 5), value: "x".into() }),
        });
        assert_eq!(env.body, want);
        let none =
            r#"{"src":2,"dest":1,"body":{"type":"promise","instance":7,"ballot":[3,1],"accepted":null}}"#;
        assert!(serde_json::from_str::<Envelope>(none).is_ok());
    }

    #[test]
    fn every_paxos_body_round_trips_through_msg() {
        let b = Ballot::new(1, 1);
        let msgs = vec![
            Msg::Prepare(Prepare { instance: 1, ballot: b }),
            Msg::Promise(Promise { instance: 1, ballot: b, accepted: None }),
            Msg::Nack(Nack { instance: 1, ballot: b, promised: b }),
            Msg::Accept(Accept { instance: 1, ballot: b, value: "v".into() }),
            Msg::Accepted(Accepted { instance: 1, ballot: b, value: "v".into() }),
            Msg::Decided(Decided { instance: 1, value: "v".into() }),
            Msg::DecidedOk(DecidedOk { instance: 1 }),
            Msg::Catchup(Catchup { from_instance: 1, to_instance: Some(9) }),
            Msg::Catchup(Catchup { from_instance: 1, to_instance: None }),
        ];
        for msg in msgs {
            let body = Body::from(msg.clone());
            assert!(body.is_paxos());
            let json = serde_json::to_string(&body).unwrap();
            assert!(json.contains(&format!("\"type\":\"{}\"", body.type_name())), "{json}");
            let back: Body = serde_json::from_str(&json).unwrap();
            assert_eq!(back.into_msg().unwrap(), msg);
        }
    }

    #[test]
    fn init_config_defaults_and_client_bodies_parse() {
        let init = r#"{"type":"init","node":1,"nodes":[1,2,3],"acceptors":[1,2,3],"proposers":[1],"learners":[1,2,3]}"#;
        let body: Body = serde_json::from_str(init).unwrap();
        let cfg = config_from_init(&body).unwrap();
        assert_eq!(cfg.proposers, vec![1]);
        assert_eq!(cfg.tuning, Tuning::default());
        let err: Body =
            serde_json::from_str(r#"{"type":"error","in_reply_to":4,"code":"busy","text":"t"}"#).unwrap();
        assert_eq!(err.type_name(), "error");
        assert!(serde_json::from_str::<Body>(r#"{"type":"bogus"}"#).is_err());
    }
}
