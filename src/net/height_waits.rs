//! `waitforblockheight`: RPC calls that wait until the active chain reaches a height, or until
//! their timeout passes, and then answer with the tip (as Bitcoin Core's call does). A script
//! can wait for a sync to finish with one call instead of polling.
//!
//! Owns the waiting calls and when each is answered. Must not block the node task: a waiting
//! call is a stored reply, answered when the runtime sees the tip move (`after_events`), when
//! a timer task reports its timeout, or at shutdown.

use super::runtime::{Command, NodeTask};
use crate::rpc::params::{optional_u64, required_u64};
use crate::rpc::{RpcCall, RpcError};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::oneshot;

/// Most calls waiting at once; a further one is refused rather than held. Each holds one of
/// the RPC server's connections, so this matches what the server lets wait anyway.
const MAX_HEIGHT_WAITS: usize = crate::rpc::MAX_CONNECTIONS;

type Reply = oneshot::Sender<Result<Value, RpcError>>;

/// The calls waiting for a height, each with the id its timer reports.
#[derive(Default)]
pub(super) struct HeightWaits {
    waits: Vec<(u64, u32, Reply)>,
    next_id: u64,
}

impl NodeTask {
    /// Takes a `waitforblockheight height [timeout_ms]` call: answers at once if the chain is
    /// there already, otherwise keeps it (and starts its timer, if it has a timeout).
    pub(super) fn wait_for_height(&mut self, call: RpcCall) {
        let (height, timeout) = match parse_wait(&call.params) {
            Ok(parsed) => parsed,
            Err(error) => {
                let _ = call.reply.send(Err(error));
                return;
            }
        };
        if self.node.chain.height() >= height {
            let _ = call.reply.send(Ok(self.tip_json()));
            return;
        }
        let waits = &mut self.height_waits;
        waits.waits.retain(|(_, _, reply)| !reply.is_closed());
        if waits.waits.len() >= MAX_HEIGHT_WAITS {
            let _ = call.reply.send(Err(RpcError::misc(format!(
                "{MAX_HEIGHT_WAITS} calls are waiting already"
            ))));
            return;
        }
        let id = waits.next_id;
        waits.next_id += 1;
        waits.waits.push((id, height, call.reply));
        if let Some(timeout) = timeout {
            let commands = self.commands.clone();
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                let _ = commands.send(Command::HeightWaitExpired(id));
            });
        }
    }

    /// Answers the calls waiting for a height the chain has reached.
    pub(super) fn answer_reached_heights(&mut self) {
        let height = self.node.chain.height();
        self.answer_waits(|_, wanted| wanted <= height);
    }

    /// Answers the call whose timer ran out, if it is still waiting.
    pub(super) fn answer_expired_wait(&mut self, expired: u64) {
        self.answer_waits(|id, _| id == expired);
    }

    /// Answers every waiting call with the tip as it is (the node is stopping).
    pub(super) fn answer_all_waits(&mut self) {
        self.answer_waits(|_, _| true);
    }

    /// Answers the waiting calls `due` picks with the tip, once the blocks behind it are
    /// written: what an answer reports must survive the node being killed.
    fn answer_waits(&mut self, due: impl Fn(u64, u32) -> bool) {
        let waits = std::mem::take(&mut self.height_waits.waits);
        let (answered, waiting): (Vec<_>, Vec<_>) = waits
            .into_iter()
            .partition(|(id, height, _)| due(*id, *height));
        self.height_waits.waits = waiting;
        if answered.is_empty() {
            return;
        }
        let answer = if self.node.flush_store() {
            Ok(self.tip_json())
        } else {
            Err(RpcError::misc("cannot store blocks"))
        };
        for (_, _, reply) in answered {
            let _ = reply.send(answer.clone());
        }
    }

    fn tip_json(&self) -> Value {
        let tip = self.node.chain.tip();
        json!({"hash": tip.hash, "height": tip.height})
    }
}

/// Reads `waitforblockheight height [timeout_ms]`; a timeout of 0, or none, waits for good.
fn parse_wait(params: &[Value]) -> Result<(u32, Option<Duration>), RpcError> {
    let height = required_u64(params, 0, "height")?;
    let height = u32::try_from(height)
        .map_err(|_| RpcError::invalid_parameter(format!("height {height} is out of range")))?;
    let timeout = optional_u64(params, 1, "timeout")?
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis);
    Ok((height, timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_reads_a_height_and_an_optional_timeout_in_milliseconds() {
        assert_eq!(parse_wait(&[json!(7)]), Ok((7, None)));
        assert_eq!(parse_wait(&[json!(7), json!(0)]), Ok((7, None)));
        assert_eq!(
            parse_wait(&[json!(7), json!(250)]),
            Ok((7, Some(Duration::from_millis(250))))
        );
        for bad in [
            vec![],
            vec![json!(-1)],
            vec![json!("7")],
            vec![json!(u64::from(u32::MAX) + 1)],
            vec![json!(7), json!("soon")],
        ] {
            assert!(parse_wait(&bad).is_err(), "{bad:?}");
        }
    }
}
