//! The devnet state file `chain-data/<network>/devnet.json`: which nodes a devnet started, where,
//! and the transaction generator's process id. Written atomically; read with errors that name the
//! file.
//!
//! Owns the file's format and location. Must not start, stop or call nodes.

use super::plan::Topology;
use super::{DevnetError, DevnetNode};
use crate::params::Network;
use crate::rpc::RpcClient;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::HashMap;
use std::io::{ErrorKind, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The state file's name in the devnet's directory.
pub(crate) const STATE_FILE: &str = "devnet.json";
/// The generator's log, next to the state file.
pub(crate) const TXGEN_LOG_FILE: &str = "txgen.log";
/// Far larger than any real state file; a bigger file is not ours.
const MAX_STATE_BYTES: u64 = 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// What `devnet up` started, kept in the state file for the other commands.
pub struct DevnetState {
    #[serde(serialize_with = "network_name", deserialize_with = "parse_network")]
    /// The network the nodes run.
    pub network: Network,
    /// Devnet block spacing given to every node, if not the default.
    pub block_time: Option<u32>,
    /// How the nodes are wired.
    pub topology: Topology,
    /// Every node.
    pub nodes: Vec<DevnetNode>,
    /// The transaction generator's process id, if it runs.
    pub txgen_pid: Option<u32>,
}

impl DevnetState {
    /// The node called `name`.
    pub fn node(&self, name: &str) -> Result<&DevnetNode, DevnetError> {
        self.nodes
            .iter()
            .find(|node| node.name == name)
            .ok_or_else(|| DevnetError::UnknownNode {
                name: name.to_string(),
                known: self.names(),
            })
    }

    /// Every node's name, in order.
    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|node| node.name.clone()).collect()
    }

    /// Every node's name and RPC client, the shape observation code takes.
    pub fn clients(&self) -> Result<Vec<(String, RpcClient)>, DevnetError> {
        self.nodes
            .iter()
            .map(|node| Ok((node.name.clone(), node.observer()?)))
            .collect()
    }

    /// P2P listen address → node name, to show peers and events by name.
    pub(crate) fn names_by_addr(&self) -> HashMap<SocketAddr, String> {
        self.nodes
            .iter()
            .map(|node| (node.p2p_addr, node.name.clone()))
            .collect()
    }
}

fn network_name<S: Serializer>(network: &Network, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(network.name())
}

fn parse_network<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Network, D::Error> {
    let name = String::deserialize(deserializer)?;
    name.parse().map_err(serde::de::Error::custom)
}

/// `<working directory>/chain-data/<network>`, absolute so the paths stored in the state and
/// given to node processes mean the same thing from anywhere.
pub(crate) fn devnet_root(network: Network) -> Result<PathBuf, DevnetError> {
    let cwd = std::env::current_dir().map_err(DevnetError::io("."))?;
    Ok(cwd.join("chain-data").join(network.name()))
}

/// The state file in the devnet's directory `root`.
pub(crate) fn state_path(root: &Path) -> PathBuf {
    root.join(STATE_FILE)
}

/// `path` relative to the working directory when it is inside it, for messages.
pub fn pretty(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}

/// Reads the state of the devnet in `root`.
pub fn load(root: &Path) -> Result<DevnetState, DevnetError> {
    let path = state_path(root);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(DevnetError::NotUp { root: pretty(root) })
        }
        Err(source) => return Err(DevnetError::Io { path, source }),
    };
    let corrupt = |reason: String| DevnetError::CorruptState {
        path: pretty(&path),
        reason,
    };
    if bytes.len() as u64 > MAX_STATE_BYTES {
        return Err(corrupt(format!("{} bytes is too large", bytes.len())));
    }
    serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))
}

/// Writes the state through a temporary file and a rename, so a reader never sees half a file.
pub fn save(root: &Path, state: &DevnetState) -> Result<(), DevnetError> {
    std::fs::create_dir_all(root).map_err(DevnetError::io(root))?;
    let path = state_path(root);
    let temp = root.join(format!("{STATE_FILE}.tmp"));
    // Plain data does not fail to serialize; if it ever did, say so rather than panic.
    let json = serde_json::to_vec_pretty(state).map_err(|e| DevnetError::Io {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    let mut file = std::fs::File::create(&temp).map_err(DevnetError::io(&temp))?;
    file.write_all(&json)
        .and_then(|()| file.sync_all())
        .map_err(DevnetError::io(&temp))?;
    std::fs::rename(&temp, &path).map_err(DevnetError::io(&path))
}

/// Removes the state file; a missing one is fine.
pub fn remove(root: &Path) -> Result<(), DevnetError> {
    let path = state_path(root);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(source) => Err(DevnetError::Io { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DevnetState {
        DevnetState {
            network: Network::Regtest,
            block_time: Some(2),
            topology: Topology::Ring,
            nodes: vec![DevnetNode {
                name: "node-0".into(),
                p2p_addr: SocketAddr::from(([127, 0, 0, 1], 19000)),
                rpc_port: 19001,
                datadir: PathBuf::from("/tmp/x/node-0"),
                pid: Some(42),
                mining_threads: 2,
            }],
            txgen_pid: None,
        }
    }

    #[test]
    fn state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &sample()).unwrap();
        assert_eq!(load(dir.path()).unwrap(), sample());
        assert!(!dir.path().join("devnet.json.tmp").exists());
        let by_addr = sample().names_by_addr();
        assert_eq!(
            by_addr[&SocketAddr::from(([127, 0, 0, 1], 19000))],
            "node-0"
        );
        remove(dir.path()).unwrap();
        assert_eq!(load(dir.path()).unwrap_err().code(), "devnet-not-up");
        remove(dir.path()).unwrap();
    }

    #[test]
    fn corrupt_state_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(state_path(dir.path()), b"{\"network\": \"mainnet\"").unwrap();
        let error = load(dir.path()).unwrap_err();
        assert_eq!(error.code(), "devnet-corrupt-state");
        assert!(error.to_string().contains("devnet.json"), "{error}");
    }

    #[test]
    fn unknown_network_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let text = serde_json::to_string(&sample())
            .unwrap()
            .replace("\"regtest\"", "\"mainnet\"");
        std::fs::write(state_path(dir.path()), text).unwrap();
        let error = load(dir.path()).unwrap_err();
        assert!(error.to_string().contains("mainnet"), "{error}");
    }
}
