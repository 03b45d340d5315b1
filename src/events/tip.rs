//! The story of a tip change: what a move of the active chain, and the mempool's reaction to it,
//! look like to a user, as events.
//!
//! The node and the simulator both turn every move through here, so a simulated run tells the
//! same reorg story (depth, fork point, transactions returned and dropped) a real node logs.
//! Owns the translation only. Must not change the chain or the mempool: it reads the chain
//! after the move and the update the mempool already made.

use super::{DroppedTx, EventKind};
use crate::chain::{Chain, TipChanged};
use crate::consensus::RuleError;
use crate::mempool::MempoolUpdate;
use crate::types::Hash256;

/// The events a move of the active chain makes, in this order: one `block_disconnected` per
/// block taken off (the old tip first), one `block_connected` per block put on (oldest first),
/// then for a reorg one `reorg` carrying the whole story. Outside a reorg, each transaction the
/// move dropped from the mempool gets a `tx_dropped` of its own; in a reorg they are part of
/// its story. `chain` is the chain after the move; `mempool` what the move did to the pool.
pub fn explain_tip_change(
    chain: &Chain,
    change: &TipChanged,
    mempool: &MempoolUpdate,
) -> Vec<EventKind> {
    let fork_height = chain
        .entry(&change.fork_point)
        .map_or(0, |entry| entry.height);
    let mut events = Vec::with_capacity(change.disconnected.len() + change.connected.len() + 1);
    for (offset, block) in change.disconnected.iter().enumerate() {
        let height = fork_height + to_u32(change.disconnected.len() - offset);
        events.push(EventKind::BlockDisconnected {
            hash: block.hash(),
            height,
        });
    }
    for (offset, block) in change.connected.iter().enumerate() {
        let height = fork_height + 1 + to_u32(offset);
        // The connected blocks are the active chain's now: the entry at their height holds the
        // hash already computed, once its header is seen to be this block's.
        let hash = chain
            .active_entry_at(height)
            .filter(|entry| entry.header == block.header)
            .map_or_else(|| block.hash(), |entry| entry.hash);
        events.push(EventKind::BlockConnected {
            hash,
            height,
            txs: block.transactions.len(),
        });
    }
    let dropped = mempool.dropped.iter().map(|(txid, error)| DroppedTx {
        txid: *txid,
        reason: error.to_string(),
    });
    if change.is_reorg() {
        events.push(EventKind::Reorg {
            old_tip: change.old_tip,
            new_tip: change.new_tip,
            fork_point: change.fork_point,
            fork_height,
            depth: change.disconnected.len(),
            blocks_out: change.disconnected.iter().map(|b| b.hash()).collect(),
            blocks_in: change.connected.iter().map(|b| b.hash()).collect(),
            txs_returned: mempool.returned.clone(),
            txs_dropped: dropped.collect(),
        });
    } else {
        events.extend(
            dropped.map(|DroppedTx { txid, reason }| EventKind::TxDropped { txid, reason }),
        );
    }
    events
}

/// One `block_invalid` event per block that failed to connect, with its rule's code.
pub fn explain_invalid_blocks(invalid: &[(Hash256, RuleError)]) -> Vec<EventKind> {
    invalid
        .iter()
        .map(|(hash, rule)| EventKind::BlockInvalid {
            hash: *hash,
            code: rule.code().to_string(),
            reason: rule.to_string(),
        })
        .collect()
}

/// A count of blocks as a height offset; no chain holds more than `u32::MAX` blocks.
fn to_u32(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::BlockOutcome;
    use crate::mempool::MempoolError;
    use crate::miner::{assemble_block, solve_block, BlockSpec};
    use crate::params::Params;
    use crate::types::{Address, Block};
    use std::sync::atomic::AtomicBool;

    /// A solved block on `parent` at `height`; `extra_nonce` tells siblings apart.
    fn block_on(chain: &Chain, parent: Hash256, extra_nonce: u64) -> Block {
        let parent_entry = chain.entry(&parent).expect("a known parent");
        let spec = BlockSpec {
            prev_hash: parent,
            height: parent_entry.height + 1,
            bits: parent_entry.header.bits,
            time: parent_entry.header.time + 1,
            payout: Address::from_pubkey(&[3; 32]),
            coinbase_value: chain.params().subsidy(parent_entry.height + 1),
            extra_nonce,
        };
        let mut block = assemble_block(&spec, Vec::new());
        assert!(solve_block(&mut block, &AtomicBool::new(false)));
        block
    }

    /// Extends `parent` by `count` blocks; returns the outcome of the last.
    fn extend(chain: &mut Chain, mut parent: Hash256, count: usize, salt: u64) -> BlockOutcome {
        let mut outcome = BlockOutcome::default();
        for index in 0..count {
            let block = block_on(chain, parent, salt + index as u64);
            parent = block.hash();
            outcome = chain
                .process_block(block, u64::MAX / 2)
                .expect("a valid block");
        }
        outcome
    }

    #[test]
    fn an_extension_connects_and_reports_drops_on_their_own() {
        let mut chain = Chain::new(Params::regtest());
        let genesis = chain.tip().hash;
        let outcome = extend(&mut chain, genesis, 1, 0);
        let change = outcome.tip_changed.expect("the tip moved");
        let dropped = Hash256([9; 32]);
        let update = MempoolUpdate {
            dropped: vec![(dropped, MempoolError::ConflictsWithBlock(change.new_tip))],
            ..MempoolUpdate::default()
        };
        let events = explain_tip_change(&chain, &change, &update);
        assert!(
            matches!(
                events.as_slice(),
                [
                    EventKind::BlockConnected { hash, height: 1, txs: 1 },
                    EventKind::TxDropped { txid, .. },
                ] if *hash == change.new_tip && *txid == dropped
            ),
            "{events:?}"
        );
    }

    #[test]
    fn a_reorg_tells_its_depth_fork_point_and_transactions() {
        let mut chain = Chain::new(Params::regtest());
        let genesis = chain.tip().hash;
        extend(&mut chain, genesis, 2, 0);
        let fork_point = chain.active_hash_at(2).expect("height 2");
        let old_tip = extend(&mut chain, fork_point, 2, 10)
            .tip_changed
            .expect("the tip moved")
            .new_tip;
        // Three blocks from the fork point beat two.
        let outcome = extend(&mut chain, fork_point, 3, 20);
        let change = outcome.tip_changed.expect("a reorg");
        let returned = Hash256([5; 32]);
        let dropped = Hash256([6; 32]);
        let update = MempoolUpdate {
            returned: vec![returned],
            dropped: vec![(dropped, MempoolError::ConflictsWithBlock(change.new_tip))],
            ..MempoolUpdate::default()
        };
        let events = explain_tip_change(&chain, &change, &update);

        let heights = |wanted: fn(&EventKind) -> Option<u32>| -> Vec<u32> {
            events.iter().filter_map(wanted).collect()
        };
        let disconnected = heights(|e| match e {
            EventKind::BlockDisconnected { height, .. } => Some(*height),
            _ => None,
        });
        let connected = heights(|e| match e {
            EventKind::BlockConnected { height, .. } => Some(*height),
            _ => None,
        });
        assert_eq!(disconnected, vec![4, 3], "old tip first");
        assert_eq!(connected, vec![3, 4, 5], "oldest first");
        let Some(EventKind::Reorg {
            old_tip: told_old,
            new_tip,
            fork_point: told_fork,
            fork_height,
            depth,
            blocks_out,
            blocks_in,
            txs_returned,
            txs_dropped,
        }) = events.last()
        else {
            panic!("the story comes last: {events:?}");
        };
        assert_eq!((*told_old, *new_tip), (old_tip, chain.tip().hash));
        assert_eq!((*told_fork, *fork_height, *depth), (fork_point, 2, 2));
        assert_eq!((blocks_out.len(), blocks_in.len()), (2, 3));
        assert_eq!(blocks_out[0], old_tip, "out from the old tip down");
        assert_eq!(blocks_in[2], chain.tip().hash, "in up to the new tip");
        assert_eq!(txs_returned, &vec![returned]);
        assert_eq!(txs_dropped.len(), 1);
        assert_eq!(txs_dropped[0].txid, dropped);
        assert!(txs_dropped[0].reason.starts_with("txn-block-conflict"));
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, EventKind::TxDropped { .. })),
            "drops are part of the story, not events of their own"
        );
    }
}
