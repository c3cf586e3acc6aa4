//! Reading a history for `synod show`: the events of one instance, or every event, within a
//! time window and for some nodes. One pass; what is kept is what will be shown (plus the
//! nemesis and process events, which are few).

use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;
use std::path::Path;

/// What to keep.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub instance: Option<u64>,
    /// Several instances at once (when `instance` is none); empty: no such filter.
    pub instances: BTreeSet<u64>,
    pub from_us: Option<u64>,
    pub to_us: Option<u64>,
    /// Empty: every node.
    pub nodes: BTreeSet<u64>,
}

impl Filter {
    fn instance_ok(&self, v: &Value) -> bool {
        match self.instance {
            Some(i) => v.as_u64() == Some(i),
            None => self.instances.is_empty() || v.as_u64().is_some_and(|i| self.instances.contains(&i)),
        }
    }

    fn in_time(&self, t: u64) -> bool {
        self.from_us.is_none_or(|f| t >= f) && self.to_us.is_none_or(|to| t <= to)
    }

    fn node_ok(&self, n: &Value) -> bool {
        self.nodes.is_empty() || n.as_u64().is_some_and(|n| self.nodes.contains(&n))
    }
}

/// A message with its fate.
#[derive(Debug, Clone)]
pub struct Message {
    pub t: u64,
    pub src: u64,
    pub dest: u64,
    pub body: Value,
    pub recv: Vec<u64>,
    pub drop: Option<(u64, String)>,
}

#[derive(Debug, Clone)]
pub enum Item {
    Message(Message),
    /// Any other event, as recorded.
    Event(Value),
}

impl Item {
    pub fn t(&self) -> u64 {
        match self {
            Item::Message(m) => m.t,
            Item::Event(e) => e["t"].as_u64().unwrap_or(0),
        }
    }
}

/// The events of the history at `path` that pass `filter`, in time order. Lines that do
/// not parse are reported with their line number and skipped.
pub fn read(path: &Path, filter: &Filter) -> Result<(Vec<Item>, Vec<String>)> {
    let file = synod_checker::history_file::open(path)?;
    let mut items: Vec<Item> = Vec::new();
    let mut msgs: HashMap<u64, usize> = HashMap::new();
    let mut others: Vec<Value> = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in file.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        let Ok(e) = serde_json::from_str::<Value>(&line) else {
            if !line.trim().is_empty() {
                bad.push(format!("{}:{}: not JSON, skipped", path.display(), i + 1));
            }
            continue;
        };
        let t = e["t"].as_u64().unwrap_or(0);
        match e["type"].as_str().unwrap_or("") {
            "send" => {
                let instance_ok = filter.instance_ok(&e["body"]["instance"]);
                let nodes_ok = filter.node_ok(&e["src"]) || filter.node_ok(&e["dest"]);
                if instance_ok && nodes_ok && filter.in_time(t) {
                    let id = e["msg"].as_u64().unwrap_or(0);
                    msgs.insert(id, items.len());
                    items.push(Item::Message(Message {
                        t,
                        src: e["src"].as_u64().unwrap_or(0),
                        dest: e["dest"].as_u64().unwrap_or(0),
                        body: e["body"].clone(),
                        recv: Vec::new(),
                        drop: None,
                    }));
                }
            }
            "recv" | "drop" => {
                let Some(&at) = e["msg"].as_u64().and_then(|id| msgs.get(&id)) else { continue };
                if let Item::Message(m) = &mut items[at] {
                    if e["type"] == "recv" {
                        m.recv.push(t);
                    } else {
                        m.drop = Some((t, e["reason"].as_str().unwrap_or("?").to_string()));
                    }
                }
            }
            "nemesis" | "process" | "phase" | "run" | "end" => others.push(e),
            _ => {
                let instance_ok = filter.instance_ok(&e["instance"]);
                if instance_ok && filter.node_ok(&e["node"]) && filter.in_time(t) && e.get("type").is_some() {
                    items.push(Item::Event(e));
                }
            }
        }
    }
    // Faults and processes, within the window of what is shown (or the filter's).
    let lo = filter.from_us.or_else(|| items.iter().map(Item::t).min()).unwrap_or(0);
    let hi = filter.to_us.or_else(|| items.iter().map(Item::t).max()).unwrap_or(u64::MAX);
    for e in others {
        let t = e["t"].as_u64().unwrap_or(0);
        let nodes_ok = match e["type"].as_str() {
            Some("process") => filter.node_ok(&e["node"]),
            _ => true,
        };
        let keep = match e["type"].as_str() {
            Some("run") | Some("end") => {
                filter.instance.is_none() && filter.instances.is_empty() && filter.in_time(t)
            }
            _ => (lo..=hi).contains(&t),
        };
        if keep && nodes_ok {
            items.push(Item::Event(e));
        }
    }
    items.sort_by_key(Item::t);
    Ok((items, bad))
}

/// The instance an item belongs to (`None` for faults, processes and the like).
pub fn instance_of(item: &Item) -> Option<u64> {
    match item {
        Item::Message(m) => m.body["instance"].as_u64(),
        Item::Event(e) => e["instance"].as_u64(),
    }
}

/// The items of one instance out of a mixed list, with the faults and processes within its
/// time span.
pub fn split_instance(items: &[Item], instance: u64) -> Vec<Item> {
    let own: Vec<&Item> = items.iter().filter(|i| instance_of(i) == Some(instance)).collect();
    let (Some(lo), Some(hi)) = (own.iter().map(|i| i.t()).min(), own.iter().map(|i| i.t()).max()) else {
        return Vec::new();
    };
    items
        .iter()
        .filter(|i| match instance_of(i) {
            Some(n) => n == instance,
            None => (lo..=hi).contains(&i.t()),
        })
        .cloned()
        .collect()
}
