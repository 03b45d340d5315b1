//! Chain: the tree of every valid block, most-work selection, reorgs with undo data, the UTXO
//! set of the active chain, and the orphan pool.
//!
//! Owns chain state. Must not do I/O, read the clock (callers pass `now`) or know about the
//! mempool; it reports what changed as `TipChanged` and lets the caller react.

mod utxo;

pub use utxo::UtxoSet;

use crate::types::{Block, Hash256};
use std::sync::Arc;

/// How the active chain moved: blocks taken off (tip first) and put on (fork point's child
/// first). A plain extension has an empty `disconnected`.
#[derive(Clone, Debug)]
pub struct TipChanged {
    pub old_tip: Hash256,
    pub new_tip: Hash256,
    pub fork_point: Hash256,
    pub disconnected: Vec<Arc<Block>>,
    pub connected: Vec<Arc<Block>>,
}

impl TipChanged {
    /// A reorg is a move that took blocks off the active chain.
    pub fn is_reorg(&self) -> bool {
        !self.disconnected.is_empty()
    }
}
