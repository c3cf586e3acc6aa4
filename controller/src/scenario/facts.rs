//! What a scenario's check looks at: a small run's events and its report.

use anyhow::{Context, Result};
use serde_json::Value;
use std::io::Read;
use std::path::Path;
use synod_checker::Report;

pub struct Facts {
    pub events: Vec<Value>,
    pub report: Report,
    pub nodes: u64,
}

impl Facts {
    pub fn load(dir: &Path) -> Result<Facts> {
        let mut text = String::new();
        synod_checker::history_file::open(dir)?
            .read_to_string(&mut text)
            .context("cannot read the history")?;
        let events: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        let report = synod_checker::check_path(dir).context("cannot check the history")?;
        let nodes = events.first().and_then(|e| e["nodes"].as_array()).map(|a| a.len() as u64).unwrap_or(0);
        Ok(Facts { events, report, nodes })
    }

    /// Messages sent, with their body, as (send event, delivered, drop reason).
    pub fn sends(&self, kind: &str, instance: u64) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["type"] == "send" && e["body"]["type"] == kind && e["body"]["instance"] == instance)
            .collect()
    }

    pub fn drop_reason(&self, msg: &Value) -> Option<&str> {
        self.events
            .iter()
            .find(|e| e["type"] == "drop" && e["msg"] == *msg)
            .and_then(|e| e["reason"].as_str())
    }

    /// Values learned for `instance`, by node.
    pub fn learns(&self, instance: u64) -> Vec<(u64, String)> {
        self.events
            .iter()
            .filter(|e| e["type"] == "learn" && e["instance"] == instance)
            .map(|e| (e["node"].as_u64().unwrap_or(0), e["value"].as_str().unwrap_or("").to_string()))
            .collect()
    }

    /// The value n invoked first for `instance`.
    pub fn invoked_by(&self, node: u64, instance: u64) -> Option<String> {
        self.events
            .iter()
            .find(|e| e["type"] == "invoke" && e["instance"] == instance && e["node"] == node)
            .and_then(|e| e["value"].as_str().map(str::to_string))
    }

    pub fn nemesis_t(&self, action: &str) -> Option<u64> {
        self.events
            .iter()
            .find(|e| e["type"] == "nemesis" && e["action"] == action)
            .and_then(|e| e["t"].as_u64())
    }

    /// The first `action` nemesis event that acted on `node`.
    pub fn nemesis_on(&self, action: &str, node: u64) -> Option<u64> {
        self.events
            .iter()
            .find(|e| {
                e["type"] == "nemesis"
                    && e["action"] == action
                    && e["nodes"].as_array().is_some_and(|a| a.iter().any(|n| n.as_u64() == Some(node)))
            })
            .and_then(|e| e["t"].as_u64())
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

    const LEARNED: &str =
        "{\"type\":\"run\",\"t\":0,\"nodes\":[1],\"acceptors\":[1],\"proposers\":[1],\"learners\":[1]}\n\
         {\"type\":\"invoke\",\"t\":1,\"op\":1,\"node\":1,\"instance\":1,\"value\":\"v\"}\n\
         {\"type\":\"learn\",\"t\":2,\"node\":1,\"instance\":1,\"value\":\"v\"}\n\
         {\"type\":\"end\",\"t\":3}\n";

    /// Facts of `history`'s events (the report, which `agreed` does not read, is LEARNED's).
    fn facts(history: &str) -> Facts {
        let events = history.lines().filter_map(|l| serde_json::from_str(l).ok()).collect::<Vec<Value>>();
        let nodes = events.first().and_then(|e| e["nodes"].as_array()).map(|a| a.len() as u64).unwrap_or(0);
        let report = synod_checker::check_reader(LEARNED.as_bytes(), "h").unwrap();
        Facts { events, report, nodes }
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
}
