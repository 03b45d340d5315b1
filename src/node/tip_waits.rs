//! `waitforblockheight` and `waitfornewblock`: RPC calls that wait until the active chain reaches
//! a height, or until its tip moves, or until their timeout passes, and then answer with the tip
//! (as Bitcoin Core's calls do). A script can wait for a sync to finish, and a watcher for the
//! next block, with one call instead of polling.
//!
//! Owns the waiting calls and when each is answered. Must not block the node task: a waiting
//! call is a stored reply, answered when the runtime sees the tip move (`after_events`), when
//! a timer task reports its timeout, or at shutdown.

use super::command::Command;
use super::state::Node;
use crate::rpc::params::{optional_u64, required_u64};
use crate::rpc::{RpcCall, RpcError};
use crate::types::Hash256;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Most calls waiting at once; a further one is refused rather than held. Each holds one of
/// the RPC server's connections, so this matches what the server lets wait anyway.
const MAX_HEIGHT_WAITS: usize = crate::rpc::MAX_CONNECTIONS;

type Reply = oneshot::Sender<Result<Value, RpcError>>;

/// What a waiting call waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Until {
    /// The active chain at this height or higher (`waitforblockheight`).
    Height(u32),
    /// A tip other than this one (`waitfornewblock`).
    TipMovedFrom(Hash256),
}

impl Until {
    fn reached(self, node: &Node) -> bool {
        match self {
            Until::Height(height) => node.chain.height() >= height,
            Until::TipMovedFrom(tip) => node.chain.tip().hash != tip,
        }
    }
}

/// The calls waiting on the tip, each with the id its timer reports.
#[derive(Default)]
pub(super) struct TipWaits {
    waits: Vec<(u64, Until, Reply)>,
    next_id: u64,
}

impl TipWaits {
    /// Takes a `waitforblockheight height [timeout_ms]` or `waitfornewblock [timeout_ms]` call:
    /// answers at once if `node`'s chain is there already, otherwise keeps it (and starts its
    /// timer, which reports on `timers`).
    pub(super) fn wait(
        &mut self,
        call: RpcCall,
        node: &mut Node,
        timers: &mpsc::UnboundedSender<Command>,
    ) {
        let parsed = if call.method == "waitfornewblock" {
            parse_timeout(&call.params, 0)
                .map(|timeout| (Until::TipMovedFrom(node.chain.tip().hash), timeout))
        } else {
            parse_wait(&call.params).map(|(height, timeout)| (Until::Height(height), timeout))
        };
        let (until, timeout) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => {
                let _ = call.reply.send(Err(error));
                return;
            }
        };
        if until.reached(node) {
            let _ = call.reply.send(Ok(tip_json(node)));
            return;
        }
        self.waits.retain(|(_, _, reply)| !reply.is_closed());
        if self.waits.len() >= MAX_HEIGHT_WAITS {
            let _ = call.reply.send(Err(RpcError::misc(format!(
                "{MAX_HEIGHT_WAITS} calls are waiting already"
            ))));
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.waits.push((id, until, call.reply));
        if let Some(timeout) = timeout {
            let timers = timers.clone();
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                let _ = timers.send(Command::HeightWaitExpired(id));
            });
        }
    }

    /// Answers the calls waiting for what `node`'s chain has reached.
    pub(super) fn answer_reached(&mut self, node: &mut Node) {
        let reached: Vec<u64> = self
            .waits
            .iter()
            .filter(|(_, until, _)| until.reached(node))
            .map(|(id, _, _)| *id)
            .collect();
        self.answer(node, |id| reached.contains(&id));
    }

    /// Answers the call whose timer ran out, if it is still waiting.
    pub(super) fn answer_expired(&mut self, node: &mut Node, expired: u64) {
        self.answer(node, |id| id == expired);
    }

    /// Answers every waiting call with the tip as it is (the node is stopping).
    pub(super) fn answer_all(&mut self, node: &mut Node) {
        self.answer(node, |_| true);
    }

    /// Answers the waiting calls `due` picks with the tip, once the blocks behind it are
    /// written: what an answer reports must survive the node being killed.
    fn answer(&mut self, node: &mut Node, due: impl Fn(u64) -> bool) {
        let waits = std::mem::take(&mut self.waits);
        let (answered, waiting): (Vec<_>, Vec<_>) =
            waits.into_iter().partition(|(id, _, _)| due(*id));
        self.waits = waiting;
        if answered.is_empty() {
            return;
        }
        let answer = if node.flush_store() {
            Ok(tip_json(node))
        } else {
            Err(RpcError::misc("cannot store blocks"))
        };
        for (_, _, reply) in answered {
            let _ = reply.send(answer.clone());
        }
    }
}

fn tip_json(node: &Node) -> Value {
    let tip = node.chain.tip();
    json!({"hash": tip.hash, "height": tip.height})
}

/// Reads `waitforblockheight height [timeout_ms]`; a timeout of 0, or none, waits for good.
fn parse_wait(params: &[Value]) -> Result<(u32, Option<Duration>), RpcError> {
    let height = required_u64(params, 0, "height")?;
    let height = u32::try_from(height)
        .map_err(|_| RpcError::invalid_parameter(format!("height {height} is out of range")))?;
    Ok((height, parse_timeout(params, 1)?))
}

/// Reads the optional timeout in milliseconds at `index`; 0, or none, waits for good.
fn parse_timeout(params: &[Value], index: usize) -> Result<Option<Duration>, RpcError> {
    Ok(optional_u64(params, index, "timeout")?
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis))
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
