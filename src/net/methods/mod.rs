//! The RPC methods: what each Bitcoin-Core-shaped call does to, or reads from, the node.
//!
//! Runs on the node task with the node's state in hand. Owns argument handling and result
//! shapes; must not do I/O of its own (storing goes through `Node`) and must not block.

mod blockchain;
mod mining;
mod network;
mod wallet;

use super::runtime::{MethodFailure, NodeTask};
use crate::rpc::RpcError;
use crate::types::Address;
use serde_json::Value;

/// Every method the node answers, for `help` and for the error on an unknown name.
pub const METHODS: &[&str] = &[
    "getblockchaininfo",
    "getbestblockhash",
    "getblockcount",
    "getblockhash",
    "getblock",
    "getblockheader",
    "getchaintips",
    "getblocktree",
    "getmempoolinfo",
    "getrawmempool",
    "sendrawtransaction",
    "getnewaddress",
    "getbalance",
    "getbalances",
    "sendtoaddress",
    "createpayment",
    "generate",
    "generatetoaddress",
    "getmininginfo",
    "setgenerate",
    "submitblock",
    "invalidateblock",
    "reconsiderblock",
    "getevents",
    "waitforblockheight",
    "getpeerinfo",
    "getconnectioncount",
    "getnetworkinfo",
    "addnode",
    "disconnectnode",
    "setnetworkactive",
    "setdeniedpeers",
    "setlinklatency",
    "help",
    "stop",
];

/// Answers one call. `generate` and `generatetoaddress` never reach here (they run as tasks),
/// nor does `waitforblockheight` (it waits in `height_waits`).
pub(super) fn dispatch(
    task: &mut NodeTask,
    method: &str,
    params: &[Value],
) -> Result<Value, MethodFailure> {
    match method {
        "getblockchaininfo" => Ok(blockchain::get_blockchain_info(&task.node)),
        "getbestblockhash" => Ok(blockchain::get_best_block_hash(&task.node)),
        "getblockcount" => Ok(blockchain::get_block_count(&task.node)),
        "getblockhash" => Ok(blockchain::get_block_hash(&task.node, params)?),
        "getblock" => Ok(blockchain::get_block(&task.node, params)?),
        "getblockheader" => Ok(blockchain::get_block_header(&task.node, params)?),
        "getchaintips" => Ok(blockchain::get_chain_tips(&task.node)),
        "getblocktree" => Ok(blockchain::get_block_tree(&task.node, params)?),
        "getmempoolinfo" => Ok(blockchain::get_mempool_info(&task.node)),
        "getrawmempool" => Ok(blockchain::get_raw_mempool(&task.node, params)?),
        "sendrawtransaction" => Ok(wallet::send_raw_transaction(&mut task.node, params)?),
        "getnewaddress" => wallet::get_new_address(&mut task.node),
        "getbalance" => Ok(wallet::get_balance(&task.node)),
        "getbalances" => Ok(wallet::get_balances(&task.node)),
        "sendtoaddress" => wallet::send_to_address(&mut task.node, params),
        "createpayment" => wallet::create_payment(&mut task.node, params),
        "getmininginfo" => Ok(mining::get_mining_info(task)),
        "setgenerate" => mining::set_generate(task, params),
        "submitblock" => mining::submit_block(&mut task.node, params),
        "invalidateblock" => blockchain::invalidate_block(&mut task.node, params),
        "reconsiderblock" => blockchain::reconsider_block(&mut task.node, params),
        "getevents" => Ok(blockchain::get_events(&task.node, params)?),
        "getpeerinfo" => Ok(network::get_peer_info(task)),
        "getconnectioncount" => Ok(network::get_connection_count(task)),
        "getnetworkinfo" => Ok(network::get_network_info(task)),
        "addnode" => Ok(network::add_node(task, params)?),
        "disconnectnode" => Ok(network::disconnect_node(task, params)?),
        "setnetworkactive" => Ok(network::set_network_active(task, params)?),
        "setdeniedpeers" => Ok(network::set_denied_peers(task, params)?),
        "setlinklatency" => Ok(network::set_link_latency(task, params)?),
        "help" => Ok(Value::from(METHODS.join("\n"))),
        "stop" => {
            task.stop_requested = true;
            Ok(Value::from("nakachain stopping"))
        }
        other => Err(RpcError::method_not_found(other).into()),
    }
}

/// Reads `generate N [address]` / `generatetoaddress N address`.
pub(super) fn parse_generate(
    method: &str,
    params: &[Value],
) -> Result<(u64, Option<Address>), RpcError> {
    mining::parse_generate(method, params)
}
