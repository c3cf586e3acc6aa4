//! How a node learns where it is: four environment variables, so that a node written in any
//! language needs no argument parsing (docs/protocol.md, "Starting a node").

use crate::paxos::NodeId;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

pub const ENV_CONTROLLER: &str = "SYNOD_CONTROLLER";
pub const ENV_NODE: &str = "SYNOD_NODE";
pub const ENV_TOKEN: &str = "SYNOD_TOKEN";
pub const ENV_DATA_DIR: &str = "SYNOD_DATA_DIR";

/// Where to dial, who we are, and where our durable state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEnv {
    pub controller: SocketAddr,
    pub node: NodeId,
    pub token: String,
    pub data_dir: PathBuf,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("{var}={value:?}: {why}")]
    Invalid { var: &'static str, value: String, why: String },
}

impl NodeEnv {
    pub fn from_env() -> Result<NodeEnv, EnvError> {
        NodeEnv::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parses the variables through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<NodeEnv, EnvError> {
        let var = |name: &'static str| get(name).ok_or(EnvError::Missing(name));
        let invalid = |var: &'static str, value: &str, why: &str| EnvError::Invalid {
            var,
            value: value.to_string(),
            why: why.to_string(),
        };
        let addr = var(ENV_CONTROLLER)?;
        let controller = addr
            .to_socket_addrs()
            .map_err(|e| invalid(ENV_CONTROLLER, &addr, &e.to_string()))?
            .next()
            .ok_or_else(|| invalid(ENV_CONTROLLER, &addr, "resolves to no address"))?;
        if !controller.ip().is_loopback() {
            return Err(invalid(ENV_CONTROLLER, &addr, "synod nodes only dial loopback addresses"));
        }
        let node_text = var(ENV_NODE)?;
        let node = node_text
            .parse::<NodeId>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| invalid(ENV_NODE, &node_text, "expected a node id, an integer >= 1"))?;
        let token = var(ENV_TOKEN)?;
        let data_dir = PathBuf::from(var(ENV_DATA_DIR)?);
        Ok(NodeEnv { controller, node, token, data_dir })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn parses_and_validates() {
        let ok =
            [(ENV_CONTROLLER, "127.0.0.1:4000"), (ENV_NODE, "3"), (ENV_TOKEN, "t"), (ENV_DATA_DIR, "/tmp/x")];
        let env = NodeEnv::from_lookup(lookup(&ok)).unwrap();
        assert_eq!(env.node, 3);
        assert_eq!(env.controller.port(), 4000);
        let missing = NodeEnv::from_lookup(lookup(&ok[..2])).unwrap_err();
        assert_eq!(missing, EnvError::Missing(ENV_TOKEN));
        let mut bad = ok;
        bad[1] = (ENV_NODE, "0");
        assert!(NodeEnv::from_lookup(lookup(&bad)).unwrap_err().to_string().contains("SYNOD_NODE=\"0\""));
        bad = ok;
        bad[0] = (ENV_CONTROLLER, "10.1.2.3:80");
        assert!(NodeEnv::from_lookup(lookup(&bad)).unwrap_err().to_string().contains("loopback"));
    }
}
