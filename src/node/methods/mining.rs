//! Mining methods: mining status, switching the workers on and off, `generate` arguments, and
//! blocks submitted from outside.

use super::{MethodFailure, NodeControl};
use crate::chain::BlockError;
use crate::codec;
use crate::consensus::pow::difficulty;
use crate::node::state::{BlockOrigin, Node};
use crate::params::MAX_BLOCK_BYTES;
use crate::rpc::params::{optional_u64, required_address, required_str, required_u64};
use crate::rpc::RpcError;
use crate::types::{Address, Block};
use serde_json::{json, Value};

/// The most blocks one `generate` call may ask for.
const MAX_GENERATE: u64 = 100_000;

pub(super) fn get_mining_info(control: &dyn NodeControl) -> Value {
    let node = control.node();
    let mining = control.mining();
    json!({
        "blocks": node.chain.height(),
        "difficulty": difficulty(node.chain.next_block().bits),
        "hashespersec": mining.hashes_per_sec.unwrap_or(0.0).round() as u64,
        "pooledtx": node.mempool.len(),
        "chain": node.params().network.name(),
        "generate": mining.threads.is_some(),
        "threads": mining.threads.unwrap_or(0),
        "kernel": mining.kernel.name(),
        "restart_ms": mining
            .last_restart
            .map(|latency| latency.as_secs_f64() * 1e3),
    })
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

pub(super) fn set_generate(
    control: &mut dyn NodeControl,
    params: &[Value],
) -> Result<Value, MethodFailure> {
    let on = match params.first() {
        Some(Value::Bool(on)) => *on,
        _ => {
            return Err(
                RpcError::invalid_params("parameter 1 (generate) must be true or false").into(),
            )
        }
    };
    if on {
        let threads =
            optional_u64(params, 1, "genproclimit")?.map_or_else(default_threads, |n| n as usize);
        if threads == 0 || threads > 1024 {
            return Err(RpcError::invalid_parameter("genproclimit must be 1 to 1024").into());
        }
        control.start_mining(threads)?;
    } else {
        control.stop_mining();
    }
    Ok(Value::Null)
}

pub(in crate::node) fn parse_generate(
    method: &str,
    params: &[Value],
) -> Result<(u64, Option<Address>), RpcError> {
    let count = required_u64(params, 0, "nblocks")?;
    if count > MAX_GENERATE {
        return Err(RpcError::invalid_parameter(format!(
            "nblocks must be at most {MAX_GENERATE}"
        )));
    }
    let payout = if method == "generatetoaddress" || params.len() > 1 {
        Some(required_address(params, 1, "address")?)
    } else {
        None
    };
    Ok((count, payout))
}

pub(super) fn submit_block(node: &mut Node, params: &[Value]) -> Result<Value, MethodFailure> {
    let text = required_str(params, 0, "hexdata")?;
    let decode_failed = |reason: String| RpcError {
        code: -22,
        message: format!("Block decode failed: {reason}"),
    };
    let bytes = hex::decode(text).map_err(|error| decode_failed(error.to_string()))?;
    let block: Block =
        codec::decode(&bytes, MAX_BLOCK_BYTES).map_err(|error| decode_failed(error.to_string()))?;
    let hash = block.hash();
    match node.submit_block(block, BlockOrigin::Submitted) {
        Ok(outcome) if outcome.orphaned => Ok(json!("inconclusive")),
        Ok(outcome) => match outcome.invalid.iter().find(|(invalid, _)| *invalid == hash) {
            Some((_, error)) => Err(RpcError::verify_error(error.to_string()).into()),
            None => Ok(Value::Null),
        },
        Err(BlockError::Duplicate) => Ok(json!("duplicate")),
        Err(error) => Err(RpcError::verify_error(error.to_string()).into()),
    }
}
