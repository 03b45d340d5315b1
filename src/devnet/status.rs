//! `devnet status`: each node's process state, height, tip, peers, hashrate and mempool, and
//! whether they all agree on one tip.
//!
//! Owns gathering and rendering the table. Must not change any node.

use super::state::{self, DevnetState};
use super::up::is_node_running;
use super::{DevnetError, DevnetNode};
use crate::miner::format_hashrate;
use crate::types::Hash256;
use std::net::SocketAddr;

/// What one node said, or why it said nothing.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeHealth {
    /// The process is gone.
    NotRunning,
    /// The process runs but the RPC failed.
    NoAnswer(String),
    /// The node answered.
    Answered(NodeInfo),
}

#[derive(Clone, Debug, PartialEq)]
/// What a node reports about itself.
pub struct NodeInfo {
    /// Its active tip's height.
    pub height: u64,
    /// Its active tip's hash.
    pub tip: String,
    /// Connected peers.
    pub peers: usize,
    /// Its miner's hashrate.
    pub hashes_per_sec: f64,
    /// Transactions in its mempool.
    pub mempool_txs: u64,
    /// Where its peers accept connections, as their Versions said (those that said).
    pub peer_listen_addrs: Vec<SocketAddr>,
}

#[derive(Clone, Debug, PartialEq)]
/// One node's row of the status table.
pub struct NodeStatus {
    /// The node's name.
    pub name: String,
    /// How it answered.
    pub health: NodeHealth,
}

/// Asks every node at once (a slow node does not hold up the rest).
pub fn gather(state: &DevnetState) -> Vec<NodeStatus> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = state
            .nodes
            .iter()
            .map(|node| scope.spawn(move || node_status(node)))
            .collect();
        handles
            .into_iter()
            .zip(&state.nodes)
            .map(|(handle, node)| {
                handle.join().unwrap_or_else(|_| NodeStatus {
                    name: node.name.clone(),
                    health: NodeHealth::NoAnswer("status thread failed".into()),
                })
            })
            .collect()
    })
}

fn node_status(node: &DevnetNode) -> NodeStatus {
    let health = if !node.pid.is_some_and(|pid| is_node_running(node, pid)) {
        NodeHealth::NotRunning
    } else {
        match node_info(node) {
            Ok(info) => NodeHealth::Answered(info),
            Err(error) => NodeHealth::NoAnswer(error.to_string()),
        }
    };
    NodeStatus {
        name: node.name.clone(),
        health,
    }
}

fn node_info(node: &DevnetNode) -> Result<NodeInfo, DevnetError> {
    let chain = node.ask("getblockchaininfo", vec![])?;
    let peers = node.ask("getpeerinfo", vec![])?;
    let mining = node.ask("getmininginfo", vec![])?;
    let mempool = node.ask("getmempoolinfo", vec![])?;
    Ok(NodeInfo {
        height: chain["blocks"].as_u64().unwrap_or(0),
        tip: chain["bestblockhash"].as_str().unwrap_or("?").to_string(),
        peers: peers.as_array().map_or(0, Vec::len),
        peer_listen_addrs: peers
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|peer| peer["listen_addr"].as_str()?.parse().ok())
            .collect(),
        hashes_per_sec: mining["hashespersec"].as_f64().unwrap_or(0.0),
        mempool_txs: mempool["size"].as_u64().unwrap_or(0),
    })
}

/// A hash from an RPC answer as `Hash256::short` shows it; text that is not a hash stays as is.
pub(crate) fn short_hash(hash: &str) -> String {
    hash.parse::<Hash256>()
        .map_or_else(|_| hash.to_string(), |hash| hash.short())
}

/// One line on agreement: every node answering with the same tip, or how many tips there are.
pub(crate) fn agreement(statuses: &[NodeStatus]) -> String {
    let answered: Vec<&NodeInfo> = statuses
        .iter()
        .filter_map(|status| match &status.health {
            NodeHealth::Answered(info) => Some(info),
            _ => None,
        })
        .collect();
    let silent = statuses.len() - answered.len();
    let mut tips: Vec<(&str, u64)> = answered
        .iter()
        .map(|info| (info.tip.as_str(), info.height))
        .collect();
    tips.sort_unstable();
    tips.dedup();
    let total = statuses.len();
    match tips.as_slice() {
        [] => "no node answered".to_string(),
        [(tip, height)] if silent == 0 => {
            format!(
                "all {total} nodes agree on {} at height {height}",
                short_hash(tip)
            )
        }
        [(tip, height)] => format!(
            "{} of {total} nodes answer and agree on {} at height {height}",
            answered.len(),
            short_hash(tip)
        ),
        many if silent == 0 => format!("nodes disagree: {} tips", many.len()),
        many => format!(
            "nodes disagree: {} tips ({silent} not answering)",
            many.len()
        ),
    }
}

/// The status table and the agreement line.
pub fn render(state: &DevnetState, statuses: &[NodeStatus]) -> String {
    let mut out = format!(
        "{:<8} {:<11} {:>7} {:<14} {:>5} {:>12} {:>7}\n",
        "node", "state", "height", "tip", "peers", "hashrate", "mempool"
    );
    for (status, node) in statuses.iter().zip(&state.nodes) {
        let row = match &status.health {
            NodeHealth::Answered(info) => format!(
                "{:<8} {:<11} {:>7} {:<14} {:>5} {:>12} {:>7}",
                status.name,
                "running",
                info.height,
                short_hash(&info.tip),
                info.peers,
                format_hashrate(info.hashes_per_sec),
                info.mempool_txs
            ),
            NodeHealth::NotRunning => format!(
                "{:<8} not running — crashed? see {}",
                status.name,
                state::pretty(&node.log_path()).display()
            ),
            NodeHealth::NoAnswer(why) => format!("{:<8} {:<11} {why}", status.name, "no answer"),
        };
        out.push_str(&row);
        out.push('\n');
    }
    out.push_str(&agreement(statuses));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(name: &str, tip: &str, height: u64) -> NodeStatus {
        NodeStatus {
            name: name.into(),
            health: NodeHealth::Answered(NodeInfo {
                height,
                tip: tip.into(),
                peers: 1,
                hashes_per_sec: 0.0,
                mempool_txs: 0,
                peer_listen_addrs: Vec::new(),
            }),
        }
    }

    #[test]
    fn agreement_counts_tips() {
        let tip_a = "00aa".repeat(16);
        let tip_b = "00bb".repeat(16);
        let same = [answered("node-0", &tip_a, 5), answered("node-1", &tip_a, 5)];
        assert_eq!(
            agreement(&same),
            "all 2 nodes agree on 00aa…00aa00aa at height 5"
        );
        let split = [answered("node-0", &tip_a, 5), answered("node-1", &tip_b, 6)];
        assert_eq!(agreement(&split), "nodes disagree: 2 tips");
        let one_down = [
            answered("node-0", &tip_a, 5),
            NodeStatus {
                name: "node-1".into(),
                health: NodeHealth::NotRunning,
            },
        ];
        assert_eq!(
            agreement(&one_down),
            "1 of 2 nodes answer and agree on 00aa…00aa00aa at height 5"
        );
        assert_eq!(agreement(&[]), "no node answered");
    }

    #[test]
    fn short_hash_keeps_the_end() {
        assert_eq!(short_hash("abc"), "abc");
        let hash = format!("{}1f3a9c2b", "0".repeat(56));
        assert_eq!(short_hash(&hash), "0000…1f3a9c2b");
    }
}
