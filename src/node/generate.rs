//! `generate` and `generatetoaddress`: mines blocks on the node's tip, one at a time, without
//! blocking the node task.
//!
//! Owns the request loop of one call. Must not touch the node's state: templates and solved
//! blocks go through the node task's commands like any other.

use super::command::Command;
use crate::rpc::RpcError;
use crate::types::Address;
use tokio::sync::{mpsc, oneshot};

/// Mines `count` blocks paying `payout` (the wallet's address if `None`). Each template is
/// solved on a blocking thread and retried on a fresh template if the tip moves meanwhile.
pub(super) async fn generate(
    commands: mpsc::UnboundedSender<Command>,
    count: u64,
    payout: Option<Address>,
) -> Result<serde_json::Value, RpcError> {
    let gone = || RpcError::misc("the node is shutting down");
    let mut hashes = Vec::new();
    while (hashes.len() as u64) < count {
        let (reply, answer) = oneshot::channel();
        commands
            .send(Command::Template { payout, reply })
            .map_err(|_| gone())?;
        let (mut block, stale) = answer.await.map_err(|_| gone())??;
        let solved = tokio::task::spawn_blocking(move || {
            crate::miner::solve_block(&mut block, &stale).then_some(block)
        })
        .await
        .map_err(|_| RpcError::misc("the solving thread panicked"))?;
        // No block means the tip moved (or the node is stopping): the next request tells which.
        let Some(block) = solved else {
            continue;
        };
        let (reply, answer) = oneshot::channel();
        commands
            .send(Command::SubmitGenerated { block, reply })
            .map_err(|_| gone())?;
        hashes.push(answer.await.map_err(|_| gone())??);
    }
    Ok(serde_json::json!(hashes))
}
