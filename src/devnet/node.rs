//! One devnet node as the devnet remembers it: its name, where it listens, its data directory and
//! process id, and how to reach its RPC.
//!
//! Owns talking to one node. Must not start or stop processes (`process` does).

use super::DevnetError;
use crate::rpc::{Cookie, RpcClient};
use crate::store::DataDir;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Where a node's stdout and stderr go, inside its data directory.
pub(crate) const NODE_LOG_FILE: &str = "node.log";
/// How long watching commands wait for one node's answer.
pub(crate) const OBSERVE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// One node of a devnet: its name, ports and data directory.
pub struct DevnetNode {
    /// `node-<i>`.
    pub name: String,
    /// The P2P listen address, always on loopback.
    pub p2p_addr: SocketAddr,
    /// Its RPC port.
    pub rpc_port: u16,
    /// Its data directory.
    pub datadir: PathBuf,
    /// `None` until the process is spawned.
    pub pid: Option<u32>,
    /// Zero for a node that does not mine.
    pub mining_threads: usize,
}

impl DevnetNode {
    /// A client with the node's current cookie: read on every call because a restarted node
    /// writes a new one.
    pub fn client(&self) -> Result<RpcClient, DevnetError> {
        let cookie_error = |reason: String| DevnetError::Cookie {
            node: self.name.clone(),
            reason,
        };
        let contents =
            DataDir::read_cookie(&self.datadir).map_err(|e| cookie_error(e.to_string()))?;
        let cookie = Cookie::parse(&contents).map_err(|e| cookie_error(e.to_string()))?;
        Ok(RpcClient::new(
            SocketAddr::from((Ipv4Addr::LOCALHOST, self.rpc_port)),
            cookie,
        ))
    }

    /// A client for watching: it gives up on an answer after `OBSERVE_TIMEOUT`, so a frozen
    /// node cannot hang `status`, `events` or `tree` (a `generate` needs the patient `client`).
    pub fn observer(&self) -> Result<RpcClient, DevnetError> {
        Ok(self.client()?.with_response_timeout(OBSERVE_TIMEOUT))
    }

    /// Calls `method` through [`observer`](Self::observer); errors name the node.
    pub fn ask(&self, method: &str, params: Vec<Value>) -> Result<Value, DevnetError> {
        self.observer()?
            .call(method, params)
            .map_err(|source| DevnetError::Rpc {
                node: self.name.clone(),
                source,
            })
    }

    /// Calls `method` on this node; errors name the node.
    pub fn call(&self, method: &str, params: Vec<Value>) -> Result<Value, DevnetError> {
        self.client()?
            .call(method, params)
            .map_err(|source| DevnetError::Rpc {
                node: self.name.clone(),
                source,
            })
    }

    /// Its log file (stdout and stderr).
    pub(crate) fn log_path(&self) -> PathBuf {
        self.datadir.join(NODE_LOG_FILE)
    }
}
