//! Chain and mempool queries, and the two manual fork controls (invalidate, reconsider).

use super::MethodFailure;
use crate::chain::{BlockEntry, ChainError};
use crate::consensus::pow::difficulty;
use crate::node::state::{ManualError, Node};
use crate::observe::answers;
use crate::rpc::params::{optional_u64, required_hash, required_u64};
use crate::rpc::RpcError;
use crate::types::{Block, Hash256, Transaction, HEADER_BYTES};
use serde_json::{json, Map, Value};

/// The most headers one `getblockheaders` call returns, as Core's REST interface allows.
const MAX_HEADERS_PER_CALL: u64 = 2_000;
/// The most events one `getevents` call returns.
const MAX_EVENTS_PER_CALL: u64 = 10_000;
/// `getblocktree`'s window below the tip when no depth is given, and the largest one allowed.
const DEFAULT_TREE_DEPTH_BLOCKS: u32 = 30;
const MAX_TREE_DEPTH_BLOCKS: u32 = 10_000;

pub(super) fn get_blockchain_info(node: &Node) -> Value {
    let tip = node.chain.tip();
    json!({
        "chain": node.params().network.name(),
        "blocks": tip.height,
        "headers": tip.height,
        "bestblockhash": tip.hash,
        "difficulty": difficulty(tip.header.bits),
        "time": tip.header.time,
        "mediantime": node.chain.median_time_past(),
        "chainwork": format!("{:064x}", tip.chainwork),
        "size_on_disk": node.block_log_bytes(),
        "orphans": node.chain.orphan_count(),
        "verificationprogress": 1.0,
        "initialblockdownload": false,
        "pruned": false,
        "warnings": Vec::<String>::new(),
    })
}

pub(super) fn get_best_block_hash(node: &Node) -> Value {
    json!(node.chain.tip().hash)
}

pub(super) fn get_block_count(node: &Node) -> Value {
    json!(node.chain.height())
}

pub(super) fn get_block_hash(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let height = required_u64(params, 0, "height")?;
    u32::try_from(height)
        .ok()
        .and_then(|height| node.chain.active_hash_at(height))
        .map(|hash| json!(hash))
        .ok_or_else(|| RpcError::invalid_parameter("Block height out of range"))
}

fn find_entry<'a>(node: &'a Node, hash: &Hash256) -> Result<&'a BlockEntry, RpcError> {
    node.chain
        .entry(hash)
        .ok_or_else(|| RpcError::invalid_address(format!("Block not found: {hash}")))
}

/// The header fields Bitcoin Core shows for a block.
fn header_json(node: &Node, entry: &BlockEntry) -> Map<String, Value> {
    let tip_height = node.chain.height();
    let active = node.chain.is_active(&entry.hash);
    let confirmations = if active {
        i64::from(tip_height) - i64::from(entry.height) + 1
    } else {
        -1
    };
    let header = &entry.header;
    let mut fields = Map::new();
    fields.insert("hash".into(), json!(entry.hash));
    fields.insert("confirmations".into(), json!(confirmations));
    fields.insert("height".into(), json!(entry.height));
    fields.insert("version".into(), json!(header.version));
    fields.insert(
        "versionHex".into(),
        json!(format!("{:08x}", header.version)),
    );
    fields.insert("merkleroot".into(), json!(header.merkle_root));
    fields.insert("time".into(), json!(header.time));
    let median_time = node
        .chain
        .median_time_of(&entry.hash)
        .unwrap_or(header.time);
    fields.insert("mediantime".into(), json!(median_time));
    fields.insert("nonce".into(), json!(header.nonce));
    fields.insert("bits".into(), json!(format!("{:08x}", header.bits)));
    fields.insert("difficulty".into(), json!(difficulty(header.bits)));
    fields.insert(
        "chainwork".into(),
        json!(format!("{:064x}", entry.chainwork)),
    );
    // Every block in the tree is kept whole, so the count is always known.
    let txs = node
        .chain
        .block(&entry.hash)
        .map_or(0, |block| block.transactions.len());
    fields.insert("nTx".into(), json!(txs));
    fields.insert("status".into(), json!(entry.status.as_str()));
    if entry.height > 0 {
        fields.insert("previousblockhash".into(), json!(header.prev_hash));
    }
    if active {
        if let Some(next) = node.chain.active_hash_at(entry.height + 1) {
            fields.insert("nextblockhash".into(), json!(next));
        }
    }
    fields
}

fn transaction_json(tx: &Transaction) -> Value {
    let inputs: Vec<Value> = tx
        .inputs
        .iter()
        .map(|input| {
            json!({
                "txid": input.prevout.txid,
                "vout": input.prevout.vout,
                "pubkey": hex::encode(input.pubkey),
            })
        })
        .collect();
    let outputs: Vec<Value> = tx
        .outputs
        .iter()
        .enumerate()
        .map(|(n, output)| {
            json!({
                "n": n,
                "value": output.amount.to_coins_f64(),
                "address": output.address,
            })
        })
        .collect();
    let mut fields = json!({
        "txid": tx.txid(),
        "size": tx.encoded_len(),
        "vin": inputs,
        "vout": outputs,
    });
    if let Some(coinbase) = &tx.coinbase {
        fields["coinbase"] =
            json!({"height": coinbase.height, "extra_nonce": coinbase.extra_nonce});
        if !coinbase.padding.0.is_empty() {
            fields["coinbase"]["padding_bytes"] = json!(coinbase.padding.0.len());
        }
    }
    fields
}

pub(super) fn get_block(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let hash = required_hash(params, 0, "blockhash")?;
    let verbosity = optional_u64(params, 1, "verbosity")?.unwrap_or(1);
    let entry = find_entry(node, &hash)?;
    let block: std::sync::Arc<Block> = node
        .chain
        .block(&hash)
        .ok_or_else(|| RpcError::misc(format!("Block not available: {hash}")))?;
    if verbosity == 0 {
        return Ok(json!(hex::encode(crate::codec::encode(&*block))));
    }
    let mut fields = header_json(node, entry);
    let size_bytes = block.encoded_len();
    fields.insert("size".into(), json!(size_bytes));
    // No witnesses here: the stripped size is the size, and weight four times it, as Core
    // counts a block without segwit data.
    fields.insert("strippedsize".into(), json!(size_bytes));
    fields.insert("weight".into(), json!(size_bytes * 4));
    let txs: Vec<Value> = match verbosity {
        1 => block
            .transactions
            .iter()
            .map(|tx| json!(tx.txid()))
            .collect(),
        2 => block.transactions.iter().map(transaction_json).collect(),
        _ => {
            return Err(RpcError::invalid_parameter(
                "verbosity must be 0 (hex), 1 (txids) or 2 (transactions)",
            ))
        }
    };
    fields.insert("tx".into(), Value::Array(txs));
    Ok(Value::Object(fields))
}

pub(super) fn get_block_header(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let hash = required_hash(params, 0, "blockhash")?;
    let verbose = crate::rpc::params::optional_bool(params, 1, "verbose")?.unwrap_or(true);
    let entry = find_entry(node, &hash)?;
    if !verbose {
        let bytes: [u8; HEADER_BYTES] = entry.header.to_bytes();
        return Ok(json!(hex::encode(bytes)));
    }
    Ok(Value::Object(header_json(node, entry)))
}

/// `getblockheaders HASH COUNT [VERBOSE]`: up to COUNT headers of the active chain from HASH on,
/// as hex (or as `getblockheader` objects with VERBOSE); what REST's `/rest/headers` serves.
pub(super) fn get_block_headers(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let hash = required_hash(params, 0, "blockhash")?;
    let count = required_u64(params, 1, "count")?;
    if !(1..=MAX_HEADERS_PER_CALL).contains(&count) {
        return Err(RpcError::invalid_parameter(format!(
            "count must be 1 to {MAX_HEADERS_PER_CALL}"
        )));
    }
    let verbose = crate::rpc::params::optional_bool(params, 2, "verbose")?.unwrap_or(false);
    let start = find_entry(node, &hash)?;
    if !node.chain.is_active(&start.hash) {
        return Ok(json!([]));
    }
    let heights = start.height
        ..start
            .height
            .saturating_add(u32::try_from(count).unwrap_or(0));
    let headers: Vec<Value> = heights
        .map_while(|height| node.chain.active_entry_at(height))
        .map(|entry| {
            if verbose {
                Value::Object(header_json(node, entry))
            } else {
                json!(hex::encode(entry.header.to_bytes()))
            }
        })
        .collect();
    Ok(Value::Array(headers))
}

pub(super) fn get_chain_tips(node: &Node) -> Value {
    let tips: Vec<Value> = node
        .chain
        .tips()
        .iter()
        .map(|tip| {
            json!({
                "height": tip.height,
                "hash": tip.hash,
                "branchlen": tip.branch_len,
                "status": tip.status.as_str(),
            })
        })
        .collect();
    Value::Array(tips)
}

/// Every block at heights from `tip - DEPTH` up, all branches, for drawing the block tree.
pub(super) fn get_block_tree(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let depth = match params.first().filter(|value| !value.is_null()) {
        None => DEFAULT_TREE_DEPTH_BLOCKS,
        Some(value) => value
            .as_u64()
            .and_then(|depth| u32::try_from(depth).ok())
            .filter(|depth| *depth <= MAX_TREE_DEPTH_BLOCKS)
            .ok_or_else(|| {
                RpcError::invalid_parameter(format!(
                    "depth must be an integer from 0 to {MAX_TREE_DEPTH_BLOCKS}, got {value}"
                ))
            })?,
    };
    Ok(answers::block_tree(&node.chain, depth))
}

pub(super) fn get_mempool_info(node: &Node) -> Value {
    let pool = &node.mempool;
    let min_fee = crate::types::Amount(crate::node::state::MIN_FEE_RATE * 1000);
    json!({
        "loaded": true,
        "size": pool.len(),
        "bytes": pool.total_bytes(),
        "total_fee": pool.total_fees().to_coins_f64(),
        "maxmempool": pool.max_bytes(),
        "minrelaytxfee": min_fee.to_coins_f64(),
    })
}

pub(super) fn get_raw_mempool(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let verbose = crate::rpc::params::optional_bool(params, 0, "verbose")?.unwrap_or(false);
    if !verbose {
        let txids: Vec<Value> = node.mempool.entries().map(|e| json!(e.txid)).collect();
        return Ok(Value::Array(txids));
    }
    let entries: Map<String, Value> = node
        .mempool
        .entries()
        .map(|entry| {
            (
                entry.txid.to_hex(),
                json!({"size": entry.size, "fee": entry.fee.to_coins_f64()}),
            )
        })
        .collect();
    Ok(Value::Object(entries))
}

fn manual_failure(error: ManualError) -> MethodFailure {
    match error {
        ManualError::Chain(ChainError::UnknownBlock(hash)) => {
            RpcError::invalid_address(format!("Block not found: {hash}")).into()
        }
        ManualError::Chain(other) => RpcError::invalid_parameter(other.to_string()).into(),
        ManualError::Store(error) => MethodFailure::Fatal(error.into()),
    }
}

pub(super) fn invalidate_block(node: &mut Node, params: &[Value]) -> Result<Value, MethodFailure> {
    let hash = required_hash(params, 0, "blockhash")?;
    node.invalidate(&hash).map_err(manual_failure)?;
    Ok(Value::Null)
}

pub(super) fn reconsider_block(node: &mut Node, params: &[Value]) -> Result<Value, MethodFailure> {
    let hash = required_hash(params, 0, "blockhash")?;
    node.reconsider(&hash).map_err(manual_failure)?;
    Ok(Value::Null)
}

pub(super) fn get_events(node: &Node, params: &[Value]) -> Result<Value, RpcError> {
    let after = optional_u64(params, 0, "since")?.unwrap_or(0);
    let limit = optional_u64(params, 1, "limit")?
        .unwrap_or(1_000)
        .min(MAX_EVENTS_PER_CALL);
    Ok(answers::events_page(&node.events, after, limit as usize))
}
