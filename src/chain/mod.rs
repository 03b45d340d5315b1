//! Chain: the tree of every valid block, most-work selection, reorgs with undo data, the UTXO
//! set of the active chain, and the orphan pool.
//!
//! Owns chain state. Must not do I/O, read the clock (callers pass `now`) or know about the
//! mempool; it reports what changed as `TipChanged` and lets the caller react.
//!
//! - `tree`: the block index and the candidate set (most chainwork, first seen on a tie)
//! - `connect`: connecting and disconnecting a block against the UTXO set, with undo data
//! - `state`: `Chain`: accepting blocks, activating the best chain, invalidate / reconsider
//! - `orphans`: the bounded orphan pool and the memory of refused headers
//! - `tips`: `getchaintips`
//! - `outcome`: result and error types
//! - `chunked`: where the tree's nodes live

mod chunked;
mod connect;
mod orphans;
mod outcome;
mod state;
mod tips;
mod tree;
mod utxo;

pub use orphans::{MAX_ORPHAN_BLOCKS, MAX_ORPHAN_BYTES, MAX_REJECTED_HEADERS};
pub use outcome::{BlockError, BlockOutcome, ChainError};
pub use state::{Chain, NextBlock};
pub use tips::{ChainTip, TipStatus};
pub use tree::{BlockEntry, BlockStatus};
pub use utxo::UtxoSet;

use crate::types::{Block, Hash256};
use std::sync::Arc;

/// A solved block on `chain`'s tip, one second after it, paying the subsidy and nothing else:
/// what tests build chains from.
#[cfg(test)]
pub(crate) fn next_test_block(chain: &Chain) -> Block {
    use crate::miner::{assemble_block, solve_block, BlockSpec};
    use crate::types::Address;
    use std::sync::atomic::AtomicBool;

    let next = chain.next_block();
    let spec = BlockSpec {
        prev_hash: next.prev_hash,
        height: next.height,
        bits: next.bits,
        time: chain.tip().header.time + 1,
        payout: Address([3; 20]),
        coinbase_value: chain.params().subsidy(next.height),
        extra_nonce: 0,
    };
    let mut block = assemble_block(&spec, Vec::new());
    // Regtest needs about two tries; the search only ends early when told to stop.
    assert!(solve_block(&mut block, &AtomicBool::new(false)));
    block
}

/// How the active chain moved: blocks taken off (tip first) and put on (fork point's child
/// first). A plain extension has an empty `disconnected`.
#[derive(Clone, Debug)]
pub struct TipChanged {
    /// The tip before the move.
    pub old_tip: Hash256,
    /// The tip after the move.
    pub new_tip: Hash256,
    /// The last block both chains share.
    pub fork_point: Hash256,
    /// Blocks taken off the active chain, the old tip first.
    pub disconnected: Vec<Arc<Block>>,
    /// Blocks put on the active chain, oldest first.
    pub connected: Vec<Arc<Block>>,
}

impl TipChanged {
    /// A reorg is a move that took blocks off the active chain.
    pub fn is_reorg(&self) -> bool {
        !self.disconnected.is_empty()
    }
}
