//! What a heal did, in figures: did every node end on one tip, how long that took, which nodes
//! reorged and how deep, which blocks were orphaned, and which confirmed transactions the
//! losing side saw undone.
//!
//! Owns the arithmetic over merged events and final tips. Must not fetch anything or read the
//! clock: the heal instant, the events and the tips are arguments, so a scenario can be checked
//! against hand-built data.

use super::events::NodeEvent;
use super::narrate::count;
use crate::events::{DroppedTx, EventKind};
use crate::types::{Hash256, Txid};
use primitive_types::U256;
use serde_json::Value;
use std::collections::HashSet;

/// A node's active tip with its chainwork, as `getblockchaininfo` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeTip {
    /// The node's name.
    pub node: String,
    /// Its active tip.
    pub tip: Hash256,
    /// The tip's height.
    pub height: u32,
    /// The tip's chainwork.
    pub chainwork: U256,
}

/// Why a `getblockchaininfo` answer could not be read as a tip.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the getblockchaininfo answer from {node} has a bad `{field}`")]
pub struct TipParseError {
    /// The node's name.
    pub node: String,
    /// The field that could not be read.
    pub field: &'static str,
}

impl TipParseError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        "tip-bad-field"
    }
}

impl NodeTip {
    /// Reads `bestblockhash`, `blocks` and `chainwork` (64 hex digits) from `getblockchaininfo`.
    pub fn from_blockchain_info(node: &str, info: &Value) -> Result<NodeTip, TipParseError> {
        let bad = |field| TipParseError {
            node: node.to_string(),
            field,
        };
        let tip = info
            .get("bestblockhash")
            .and_then(Value::as_str)
            .and_then(|hex| hex.parse().ok())
            .ok_or_else(|| bad("bestblockhash"))?;
        let height = info
            .get("blocks")
            .and_then(Value::as_u64)
            .and_then(|blocks| u32::try_from(blocks).ok())
            .ok_or_else(|| bad("blocks"))?;
        let chainwork = info
            .get("chainwork")
            .and_then(Value::as_str)
            .and_then(|hex| U256::from_str_radix(hex, 16).ok())
            .ok_or_else(|| bad("chainwork"))?;
        Ok(NodeTip {
            node: node.to_string(),
            tip,
            height,
            chainwork,
        })
    }
}

/// One reorg one node went through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReorgSummary {
    /// The node's name.
    pub node: String,
    /// When, by the node's clock (Unix milliseconds).
    pub time_ms: u64,
    /// Blocks taken off.
    pub depth: usize,
    /// The fork point's height.
    pub fork_height: u32,
    /// The tip before.
    pub old_tip: Hash256,
    /// The tip after.
    pub new_tip: Hash256,
    /// Blocks taken off, the old tip first.
    pub blocks_out: Vec<Hash256>,
    /// Transactions of the blocks taken out that went back to the mempool.
    pub txs_returned: Vec<Txid>,
    /// Transactions of the blocks taken out that could not (e.g. they conflict with the new
    /// branch): their confirmation is gone for good.
    pub txs_dropped: Vec<DroppedTx>,
}

/// What became of a transaction whose confirmation a reorg undid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxFate {
    /// Back in the mempool, to be confirmed again.
    ReturnedToMempool,
    /// Gone for good.
    Dropped {
        /// Why, code first.
        reason: String,
    },
}

/// A confirmation undone on one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UndoneTx {
    /// The node.
    pub node: String,
    /// The transaction.
    pub txid: Txid,
    /// What became of it.
    pub fate: TxFate,
}

/// The figures a heal is judged by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Convergence {
    /// Every node reported the same tip.
    pub converged: bool,
    /// The tip every node is on, if they agree.
    pub agreed_tip: Option<Hash256>,
    /// From the heal to the last node's tip change onto the agreed tip (0 when every node was
    /// already on it); `None` unless converged.
    pub time_to_agree_ms: Option<u64>,
    /// Distinct blocks taken off some node's active chain by a reorg after the heal.
    pub blocks_orphaned: usize,
    /// The node with the deepest reorg (the first one in time on a tie) and its depth.
    pub deepest_reorg: Option<(String, usize)>,
    /// Every reorg after the heal, in time order.
    pub reorgs: Vec<ReorgSummary>,
    /// The agreed tip has at least the chainwork of every tip given: the network chose the
    /// heaviest side. False when not converged.
    pub most_work: bool,
    /// The final tips the figures were computed from, for the report.
    pub final_tips: Vec<NodeTip>,
}

impl Convergence {
    /// Measures a heal at `heal_ms` (unix ms). `events` are the merged events of all nodes;
    /// those before the heal are ignored. `final_tips` holds each node's tip now; `earlier_tips`
    /// any other tips seen (such as each side's tip just before the heal) for `most_work`.
    pub fn measure(
        heal_ms: u64,
        events: &[NodeEvent],
        final_tips: &[NodeTip],
        earlier_tips: &[NodeTip],
    ) -> Convergence {
        let after_heal: Vec<&NodeEvent> = events.iter().filter(|e| e.time_ms >= heal_ms).collect();
        let agreed_tip = match final_tips.split_first() {
            Some((first, rest)) if rest.iter().all(|tip| tip.tip == first.tip) => Some(first.tip),
            _ => None,
        };
        let time_to_agree_ms = agreed_tip.map(|agreed| {
            after_heal
                .iter()
                .filter(|event| final_tips.iter().any(|tip| tip.node == event.node))
                .filter(|event| moved_onto(event, &agreed))
                .map(|event| event.time_ms - heal_ms)
                .max()
                .unwrap_or(0)
        });
        let reorgs: Vec<ReorgSummary> = after_heal.iter().filter_map(|e| summarize(e)).collect();
        let blocks_orphaned = reorgs
            .iter()
            .flat_map(|reorg| &reorg.blocks_out)
            .collect::<HashSet<_>>()
            .len();
        let deepest_reorg = reorgs
            .iter()
            .fold(None::<&ReorgSummary>, |deepest, reorg| match deepest {
                Some(d) if d.depth >= reorg.depth => Some(d),
                _ => Some(reorg),
            })
            .map(|reorg| (reorg.node.clone(), reorg.depth));
        let most_work = agreed_tip.is_some_and(|agreed| {
            let all = || final_tips.iter().chain(earlier_tips);
            let most = all().map(|tip| tip.chainwork).max();
            all().any(|tip| tip.tip == agreed && Some(tip.chainwork) == most)
        });
        Convergence {
            converged: agreed_tip.is_some(),
            agreed_tip,
            time_to_agree_ms,
            blocks_orphaned,
            deepest_reorg,
            reorgs,
            most_work,
            final_tips: final_tips.to_vec(),
        }
    }

    /// The confirmations the reorgs undid, one entry per node and transaction, in time order.
    pub fn confirmations_undone(&self) -> Vec<UndoneTx> {
        let mut undone = Vec::new();
        for reorg in &self.reorgs {
            undone.extend(reorg.txs_returned.iter().map(|txid| UndoneTx {
                node: reorg.node.clone(),
                txid: *txid,
                fate: TxFate::ReturnedToMempool,
            }));
            undone.extend(reorg.txs_dropped.iter().map(|drop| UndoneTx {
                node: reorg.node.clone(),
                txid: drop.txid,
                fate: TxFate::Dropped {
                    reason: drop.reason.clone(),
                },
            }));
        }
        undone
    }

    /// A multi-line account for people: the outcome, who reorged and how deep, which
    /// confirmations were undone, and every node's final tip.
    pub fn report(&self) -> String {
        let mut lines = vec![self.outcome_line()];
        let deepest = self
            .deepest_reorg
            .as_ref()
            .map_or(String::new(), |(node, depth)| {
                format!(", deepest {depth} on {node}")
            });
        lines.push(format!(
            "{}, {} orphaned{deepest}",
            count(self.reorgs.len(), "reorg", "reorgs"),
            count(self.blocks_orphaned, "block", "blocks")
        ));
        lines.extend(self.reorgs.iter().map(|reorg| {
            format!(
                "  {} reorged depth {} at fork h={}: {} → {}",
                reorg.node,
                reorg.depth,
                reorg.fork_height,
                reorg.old_tip.short(),
                reorg.new_tip.short()
            )
        }));
        let undone = self.confirmations_undone();
        lines.push(if undone.is_empty() {
            "no confirmations undone".to_string()
        } else {
            "confirmations undone:".to_string()
        });
        lines.extend(undone.iter().map(|tx| {
            let fate = match &tx.fate {
                TxFate::ReturnedToMempool => "returned to the mempool".to_string(),
                TxFate::Dropped { reason } => format!("dropped ({reason})"),
            };
            format!("  tx {} on {}: {fate}", tx.txid.short(), tx.node)
        }));
        lines.push("final tips:".to_string());
        lines.extend(
            self.final_tips
                .iter()
                .map(|tip| format!("  {} h={} {}", tip.node, tip.height, tip.tip.short())),
        );
        let mut report = lines.join("\n");
        report.push('\n');
        report
    }

    fn outcome_line(&self) -> String {
        match (self.agreed_tip, self.time_to_agree_ms) {
            (Some(tip), Some(ms)) => {
                let height = self.final_tips.first().map_or(0, |t| t.height);
                let work = if self.most_work {
                    "the most-work tip"
                } else {
                    "NOT the most-work tip seen"
                };
                format!(
                    "converged on {} (h={height}), {work}, {ms} ms after the heal",
                    tip.short()
                )
            }
            _ => {
                let distinct: HashSet<_> = self.final_tips.iter().map(|t| t.tip).collect();
                format!(
                    "NOT converged: {} nodes on {} different tips",
                    self.final_tips.len(),
                    distinct.len()
                )
            }
        }
    }
}

/// The event made its node's active tip `agreed`.
fn moved_onto(event: &NodeEvent, agreed: &Hash256) -> bool {
    match event.kind.known() {
        Some(EventKind::BlockConnected { hash, .. }) => hash == agreed,
        Some(EventKind::Reorg { new_tip, .. }) => new_tip == agreed,
        Some(EventKind::NodeStarted { tip, .. }) => tip == agreed,
        _ => false,
    }
}

fn summarize(event: &NodeEvent) -> Option<ReorgSummary> {
    match event.kind.known() {
        Some(EventKind::Reorg {
            old_tip,
            new_tip,
            fork_height,
            depth,
            blocks_out,
            txs_returned,
            txs_dropped,
            ..
        }) => Some(ReorgSummary {
            node: event.node.clone(),
            time_ms: event.time_ms,
            depth: *depth,
            fork_height: *fork_height,
            old_tip: *old_tip,
            new_tip: *new_tip,
            blocks_out: blocks_out.clone(),
            txs_returned: txs_returned.clone(),
            txs_dropped: txs_dropped.clone(),
        }),
        _ => None,
    }
}
