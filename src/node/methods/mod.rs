//! The RPC methods: one table of what each Bitcoin-Core-shaped call is called, what it does to,
//! or reads from, the node, and the line `help` shows for it.
//!
//! Runs on the node task with the node in hand, through [`NodeControl`]: the narrow view of the
//! node task the methods need, which the runtime implements, so neither reaches into the
//! other's fields. Owns argument handling and result shapes; must not do I/O of its own
//! (storing goes through `Node`) and must not block.

mod blockchain;
mod mining;
mod network;
mod wallet;

use super::state::{Node, NodeError};
use crate::miner::Kernel;
use crate::protocol::{Input, PeerId, PeerInfo};
use crate::rpc::RpcError;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;

pub(super) use mining::parse_generate;

/// What the methods may see and do of the node task.
pub(super) trait NodeControl {
    /// The node's chain, mempool, wallet and event log.
    fn node(&self) -> &Node;
    fn node_mut(&mut self) -> &mut Node;
    /// Feeds the protocol a hand control (`addnode`, `disconnectnode`, …) and carries out
    /// what it answers.
    fn protocol_input(&mut self, input: Input<'_>);
    /// Every connected peer.
    fn peers(&self) -> Vec<PeerInfo>;
    /// Whether the node makes and keeps connections (`setnetworkactive`).
    fn network_active(&self) -> bool;
    /// The deny-list in force (`setdeniedpeers`).
    fn denied(&self) -> Vec<SocketAddr>;
    /// The delay added toward `peer`, if it is connected.
    fn peer_latency_ms(&self, peer: PeerId) -> Option<u64>;
    /// The delay added toward peers without a setting of their own.
    fn default_latency_ms(&self) -> u64;
    /// Delays frames toward the peers listening on `listen_addrs` (none: every peer).
    fn set_latency(&mut self, ms: u64, listen_addrs: &[SocketAddr]);
    /// What the miner threads are doing.
    fn mining(&self) -> MiningStatus;
    /// Starts `threads` workers (replacing any running ones).
    fn start_mining(&mut self, threads: usize) -> Result<(), NodeError>;
    fn stop_mining(&mut self);
    /// Ends the event loop once this call is answered.
    fn request_stop(&mut self);
}

/// The miner threads as `getmininginfo` reports them.
pub(super) struct MiningStatus {
    /// `None` when no workers run.
    pub(super) threads: Option<usize>,
    pub(super) kernel: Kernel,
    /// `None` before the first full second of hashing was measured.
    pub(super) hashes_per_sec: Option<f64>,
    /// How long the slowest worker took to move to the latest job.
    pub(super) last_restart: Option<Duration>,
}

/// Why an RPC method failed: an answer for the caller, or a failure that must stop the node
/// (after the caller is told).
pub(super) enum MethodFailure {
    Rpc(RpcError),
    Fatal(NodeError),
}

impl From<RpcError> for MethodFailure {
    fn from(error: RpcError) -> Self {
        MethodFailure::Rpc(error)
    }
}

impl From<NodeError> for MethodFailure {
    fn from(error: NodeError) -> Self {
        MethodFailure::Fatal(error)
    }
}

type Answer = Result<Value, MethodFailure>;

/// How a method is answered.
#[derive(Clone, Copy)]
pub(super) enum Handler {
    /// On the node task, at once.
    Now(fn(&mut dyn NodeControl, &[Value]) -> Answer),
    /// `generate` and `generatetoaddress`: mined off the node task, one block at a time.
    Generate,
    /// `waitforblockheight` and `waitfornewblock`: kept until the tip gets there (`tip_waits`).
    WaitOnTip,
}

/// One RPC method.
pub(super) struct Method {
    pub(super) name: &'static str,
    /// Arguments and what it does, as `help` shows it.
    pub(super) help: &'static str,
    pub(super) handler: Handler,
}

const fn method(
    name: &'static str,
    help: &'static str,
    run: fn(&mut dyn NodeControl, &[Value]) -> Answer,
) -> Method {
    Method {
        name,
        help,
        handler: Handler::Now(run),
    }
}

/// Every method the node answers, in the order `help` lists them.
pub(super) static METHODS: &[Method] = &[
    method(
        "getblockchaininfo",
        "chain, height, best block, difficulty, chainwork",
        |c, _| Ok(blockchain::get_blockchain_info(c.node())),
    ),
    method("getbestblockhash", "the active tip's hash", |c, _| {
        Ok(blockchain::get_best_block_hash(c.node()))
    }),
    method("getblockcount", "the active tip's height", |c, _| {
        Ok(blockchain::get_block_count(c.node()))
    }),
    method(
        "getblockhash",
        "HEIGHT: the active chain's block at HEIGHT",
        |c, p| Ok(blockchain::get_block_hash(c.node(), p)?),
    ),
    method(
        "getblock",
        "HASH [VERBOSITY]: a block as hex (0), JSON (1) or JSON with transactions (2)",
        |c, p| Ok(blockchain::get_block(c.node(), p)?),
    ),
    method(
        "getblockheader",
        "HASH [VERBOSE]: a header as JSON, or as hex with false",
        |c, p| Ok(blockchain::get_block_header(c.node(), p)?),
    ),
    method(
        "getblockheaders",
        "HASH COUNT [VERBOSE]: up to COUNT active-chain headers from HASH on, hex or JSON",
        |c, p| Ok(blockchain::get_block_headers(c.node(), p)?),
    ),
    method(
        "getchaintips",
        "every tip of the block tree: height, hash, branchlen, status",
        |c, _| Ok(blockchain::get_chain_tips(c.node())),
    ),
    method(
        "getblocktree",
        "[DEPTH]: the block tree's last DEPTH heights, every branch",
        |c, p| Ok(blockchain::get_block_tree(c.node(), p)?),
    ),
    method("getmempoolinfo", "mempool size, bytes and bound", |c, _| {
        Ok(blockchain::get_mempool_info(c.node()))
    }),
    method(
        "getrawmempool",
        "[VERBOSE]: the mempool's txids, or with true their size and fee",
        |c, p| Ok(blockchain::get_raw_mempool(c.node(), p)?),
    ),
    method(
        "sendrawtransaction",
        "HEX: admits a signed transaction and announces it",
        |c, p| Ok(wallet::send_raw_transaction(c.node_mut(), p)?),
    ),
    method("getnewaddress", "a new wallet address", |c, _| {
        wallet::get_new_address(c.node_mut())
    }),
    method(
        "getbalance",
        "the wallet's confirmed balance in coins",
        |c, _| Ok(wallet::get_balance(c.node())),
    ),
    method(
        "getbalances",
        "the wallet's trusted, pending and immature balances",
        |c, _| Ok(wallet::get_balances(c.node())),
    ),
    method(
        "sendtoaddress",
        "ADDRESS AMOUNT: pays AMOUNT coins to ADDRESS and announces it",
        |c, p| wallet::send_to_address(c.node_mut(), p),
    ),
    method(
        "createpayment",
        "ADDRESS AMOUNT: a signed payment, not broadcast",
        |c, p| wallet::create_payment(c.node_mut(), p),
    ),
    Method {
        name: "generate",
        help: "N [ADDRESS]: mines N blocks now (to the wallet, or ADDRESS)",
        handler: Handler::Generate,
    },
    Method {
        name: "generatetoaddress",
        help: "N ADDRESS: mines N blocks now to ADDRESS",
        handler: Handler::Generate,
    },
    method(
        "getmininginfo",
        "height, difficulty, hashrate, threads and kernel",
        |c, _| Ok(mining::get_mining_info(c)),
    ),
    method(
        "setgenerate",
        "ON [THREADS]: starts (true) or stops (false) the miner threads",
        mining::set_generate,
    ),
    method(
        "submitblock",
        "HEX: validates and stores a solved block",
        |c, p| mining::submit_block(c.node_mut(), p),
    ),
    method(
        "invalidateblock",
        "HASH: marks a block and its descendants invalid (reorgs away from it)",
        |c, p| blockchain::invalidate_block(c.node_mut(), p),
    ),
    method(
        "reconsiderblock",
        "HASH: clears invalidateblock's mark",
        |c, p| blockchain::reconsider_block(c.node_mut(), p),
    ),
    method(
        "getevents",
        "[SINCE] [LIMIT]: the event log after sequence number SINCE",
        |c, p| Ok(blockchain::get_events(c.node(), p)?),
    ),
    Method {
        name: "waitforblockheight",
        help: "HEIGHT [TIMEOUT_MS]: answers once the active chain reaches HEIGHT",
        handler: Handler::WaitOnTip,
    },
    Method {
        name: "waitfornewblock",
        help: "[TIMEOUT_MS]: answers once the tip moves (or the timeout passes)",
        handler: Handler::WaitOnTip,
    },
    method("getpeerinfo", "every connected peer", |c, _| {
        Ok(network::get_peer_info(c))
    }),
    method(
        "getconnectioncount",
        "how many peers are connected",
        |c, _| Ok(network::get_connection_count(c)),
    ),
    method(
        "getnetworkinfo",
        "version, connections, network switch, deny-list, latency",
        |c, _| Ok(network::get_network_info(c)),
    ),
    method(
        "addnode",
        "IP:PORT [add|onetry]: connects and keeps reconnecting",
        |c, p| Ok(network::add_node(c, p)?),
    ),
    method("disconnectnode", "IP:PORT|ID: drops a peer", |c, p| {
        Ok(network::disconnect_node(c, p)?)
    }),
    method(
        "setnetworkactive",
        "ON: false drops every peer and makes no connections until true",
        |c, p| Ok(network::set_network_active(c, p)?),
    ),
    method(
        "setdeniedpeers",
        "[\"IP:PORT\", …]: refuses these peers (listen addresses); [] heals",
        |c, p| Ok(network::set_denied_peers(c, p)?),
    ),
    method(
        "setlinklatency",
        "MS [[\"IP:PORT\", …]]: delays frames to these peers (or every peer)",
        |c, p| Ok(network::set_link_latency(c, p)?),
    ),
    method("help", "every method with its arguments", |_, _| Ok(help())),
    method("stop", "stops the node", |c, _| {
        c.request_stop();
        Ok(Value::from("nakachain stopping"))
    }),
];

/// The method called `name`.
pub(super) fn find(name: &str) -> Result<&'static Method, RpcError> {
    METHODS
        .iter()
        .find(|method| method.name == name)
        .ok_or_else(|| RpcError::method_not_found(name))
}

/// `help`: one line per method, its name padded so the descriptions line up.
fn help() -> Value {
    let width = METHODS.iter().map(|m| m.name.len()).max().unwrap_or(0);
    let lines: Vec<String> = METHODS
        .iter()
        .map(|m| format!("{:width$}  {}", m.name, m.help))
        .collect();
    Value::from(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_method_is_listed_once_with_help() {
        let names: HashSet<&str> = METHODS.iter().map(|m| m.name).collect();
        assert_eq!(names.len(), METHODS.len(), "a name listed twice");
        assert!(METHODS.iter().all(|m| !m.help.is_empty()));
        assert!(find("getblockcount").is_ok());
        assert!(find("getblockcounts").is_err());
        let Value::String(text) = help() else {
            panic!("help is text");
        };
        assert_eq!(text.lines().count(), METHODS.len());
        assert!(text
            .lines()
            .any(|line| line.starts_with("waitforblockheight ")));
    }
}
