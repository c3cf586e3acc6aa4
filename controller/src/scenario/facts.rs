//! What a scenario's check looks at: a small run's events, typed (`synod_checker::history`),
//! and its report.

use anyhow::{bail, Context, Result};
use std::path::Path;
use synod_checker::history::{self, Event, Events, Msg};
use synod_checker::Report;

/// Events a scenario's history may hold: scenarios are runs of a few seconds at most, far
/// below this; a history above it is not a scenario's.
const MAX_EVENTS: usize = 2_000_000;

pub struct Facts {
    pub events: Vec<Event<'static>>,
    pub report: Report,
    pub nodes: u64,
}

impl Facts {
    pub fn load(dir: &Path) -> Result<Facts> {
        let mut reader = Events::open(dir).context("cannot read the history")?;
        let mut events = Vec::new();
        while let Some(ev) = reader.next() {
            let ev = ev.context("cannot read the history")?;
            if events.len() >= MAX_EVENTS {
                bail!("{}: more than {MAX_EVENTS} events, too many for a scenario", reader.path().display());
            }
            events.push(ev.into_owned());
        }
        let report = synod_checker::check_path(dir).context("cannot check the history")?;
        Ok(Facts::new(events, report))
    }

    /// The facts of these events; the cluster's size is the `run` header's (0 without one).
    pub fn new(events: Vec<Event<'static>>, report: Report) -> Facts {
        let nodes = match events.first() {
            Some(Event::Run(run)) => run.nodes.len() as u64,
            _ => 0,
        };
        Facts { events, report, nodes }
    }

    /// Paxos messages of type `kind` about `instance` sent, with their body.
    pub fn sends(&self, kind: &str, instance: u64) -> Vec<(&history::Send<'static>, &Msg<'static>)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Send(s) => s.body.paxos().map(|m| (s, m)),
                _ => None,
            })
            .filter(|(_, m)| m.type_name() == kind && m.instance() == instance)
            .collect()
    }

    /// Sends of `kind` (any instance) over the whole run.
    pub fn count_sends(&self, kind: &str) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Send(s) if s.body.type_name().as_deref() == Some(kind)))
            .count()
    }

    /// Why message `msg` was dropped, if it was (a send without an id matches no drop).
    pub fn drop_reason(&self, msg: Option<u64>) -> Option<&str> {
        msg?;
        self.events.iter().find_map(|e| match e {
            Event::Drop(d) if d.msg == msg => Some(&*d.reason),
            _ => None,
        })
    }

    /// Values learned for `instance`, by node.
    pub fn learns(&self, instance: u64) -> Vec<(u64, String)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Learn(l) if l.instance == instance => Some((l.node, l.value.to_string())),
                _ => None,
            })
            .collect()
    }

    /// The value n invoked first for `instance`.
    pub fn invoked_by(&self, node: u64, instance: u64) -> Option<String> {
        self.events.iter().find_map(|e| match e {
            Event::Invoke(i) if i.instance == instance && i.node == Some(node) => Some(i.value.to_string()),
            _ => None,
        })
    }

    /// When the first `action` nemesis event happened.
    pub fn nemesis_t(&self, action: &str) -> Option<u64> {
        self.events.iter().find_map(|e| match e {
            Event::Nemesis(n) if n.action == action => Some(n.t),
            _ => None,
        })
    }

    /// The first `action` nemesis event that acted on `node`.
    pub fn nemesis_on(&self, action: &str, node: u64) -> Option<u64> {
        self.events.iter().find_map(|e| match e {
            Event::Nemesis(n) if n.action == action && n.node_ids().contains(&node) => Some(n.t),
            _ => None,
        })
    }

    /// Every learner learned `instance`, all the same value.
    pub fn agreed(&self, instance: u64) -> std::result::Result<String, String> {
        let learns = self.learns(instance);
        let mut nodes: Vec<u64> = learns.iter().map(|l| l.0).collect();
        nodes.sort();
        nodes.dedup();
        let Some((_, first)) = learns.first() else {
            return Err(format!("instance {instance} was learned by no node"));
        };
        if nodes.len() as u64 != self.nodes {
            return Err(format!("instance {instance} was learned by {nodes:?} only"));
        }
        if learns.iter().any(|l| &l.1 != first) {
            return Err(format!("learners disagree on instance {instance}: {learns:?}"));
        }
        Ok(first.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_checker::history::parse_line;

    const LEARNED: &str =
        "{\"type\":\"run\",\"t\":0,\"nodes\":[1],\"acceptors\":[1],\"proposers\":[1],\"learners\":[1]}\n\
         {\"type\":\"invoke\",\"t\":1,\"op\":1,\"node\":1,\"instance\":1,\"value\":\"v\"}\n\
         {\"type\":\"learn\",\"t\":2,\"node\":1,\"instance\":1,\"value\":\"v\"}\n\
         {\"type\":\"end\",\"t\":3}\n";

    /// Facts of `history`'s events (the report, which `agreed` does not read, is LEARNED's).
    fn facts(history: &str) -> Facts {
        let events = history.lines().map(|l| parse_line(l.as_bytes()).unwrap().into_owned()).collect();
        let report = synod_checker::check_reader(LEARNED.as_bytes(), "h").unwrap();
        Facts::new(events, report)
    }

    #[test]
    fn an_instance_nobody_learned_is_an_answer_not_a_panic() {
        // No `run` line: zero nodes, and no learn to index.
        let f = facts("{\"type\":\"end\",\"t\":5}\n");
        assert_eq!(f.agreed(1), Err("instance 1 was learned by no node".into()));
        let f = facts(LEARNED);
        assert_eq!(f.agreed(1), Ok("v".into()));
        assert!(f.agreed(2).unwrap_err().contains("learned by no node"));
    }

    /// The queries the scenarios' checks make, on typed events.
    #[test]
    fn queries_find_sends_drops_and_nemesis_actions() {
        let f = facts(
            "{\"type\":\"run\",\"t\":0,\"nodes\":[1,2,3]}\n\
             {\"type\":\"invoke\",\"t\":1,\"op\":1,\"node\":2,\"instance\":1,\"value\":\"w\"}\n\
             {\"type\":\"send\",\"t\":2,\"msg\":7,\"src\":1,\"dest\":3,\"body\":{\"type\":\"accept\",\"instance\":1,\"ballot\":[0,1],\"value\":\"v\"}}\n\
             {\"type\":\"send\",\"t\":3,\"msg\":8,\"src\":1,\"dest\":2,\"body\":{\"type\":\"accept\",\"instance\":2,\"ballot\":[0,1],\"value\":\"u\"}}\n\
             {\"type\":\"send\",\"t\":3,\"msg\":9,\"src\":1,\"dest\":2,\"body\":{\"type\":\"gossip\",\"instance\":1}}\n\
             {\"type\":\"drop\",\"t\":4,\"msg\":7,\"reason\":\"nemesis\"}\n\
             {\"type\":\"nemesis\",\"t\":5,\"action\":\"stop\",\"nodes\":[2,3]}\n\
             {\"type\":\"nemesis\",\"t\":6,\"action\":\"stop\",\"nodes\":[1]}\n",
        );
        assert_eq!(f.nodes, 3);
        let accepts = f.sends("accept", 1);
        assert_eq!(accepts.len(), 1);
        assert_eq!((accepts[0].0.msg, accepts[0].1.ballot()), (Some(7), Some(synod_checker::Ballot(0, 1))));
        assert_eq!(f.count_sends("accept"), 2);
        assert_eq!(f.count_sends("gossip"), 1);
        assert_eq!(f.drop_reason(Some(7)), Some("nemesis"));
        assert_eq!(f.drop_reason(Some(8)), None);
        assert_eq!(f.drop_reason(None), None);
        assert_eq!(f.invoked_by(2, 1), Some("w".into()));
        assert_eq!(f.invoked_by(1, 1), None);
        assert_eq!(f.nemesis_t("stop"), Some(5));
        assert_eq!(f.nemesis_on("stop", 1), Some(6));
        assert_eq!(f.nemesis_on("stop", 3), Some(5));
        assert_eq!(f.nemesis_t("heal"), None);
    }
}
