//! What the chain's commands return: the outcome of processing a block and the typed errors of
//! `process_block`, `invalidate_block` and `reconsider_block`, each with a stable `code()`.
//!
//! Owns result shapes only. Must not hold chain state.

use super::TipChanged;
use crate::consensus::RuleError;
use crate::types::Hash256;

/// What `process_block` did.
#[derive(Clone, Debug, Default)]
pub struct BlockOutcome {
    /// Blocks newly added to the tree, in insertion order: the block itself first, then the
    /// orphans it released. Replaying exactly these, in this order, through `process_block`
    /// rebuilds the same tree and the same tip.
    pub accepted: Vec<Hash256>,
    /// The parent is unknown: the block waits in the orphan pool and nothing was accepted.
    pub orphaned: bool,
    /// Blocks that failed when connected during this call; they stay in the tree, marked.
    pub invalid: Vec<(Hash256, RuleError)>,
    /// Released orphans that were refused (for example their parent turned out invalid).
    pub refused_orphans: Vec<(Hash256, RuleError)>,
    /// The net move of the active chain over the whole call, `None` if the tip did not move.
    pub tip_changed: Option<TipChanged>,
}

/// Why `process_block` refused a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error(transparent)]
    /// The block breaks a consensus rule.
    Rule(#[from] RuleError),
    #[error("duplicate: block is already known")]
    /// The block is in the tree already.
    Duplicate,
    #[error("duplicate-invalid: block is already known to be invalid")]
    /// The block is in the tree already, marked invalid.
    DuplicateInvalid,
}

impl BlockError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            BlockError::Rule(err) => err.code(),
            BlockError::Duplicate => "duplicate",
            BlockError::DuplicateInvalid => "duplicate-invalid",
        }
    }
}

/// Why `invalidate_block` or `reconsider_block` could not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("unknown-block: block {0} is not in the tree")]
    /// No block with this hash is in the tree.
    UnknownBlock(Hash256),
    #[error("cannot-invalidate-genesis: the genesis block cannot be invalidated")]
    /// The genesis block cannot be invalidated.
    Genesis,
}

impl ChainError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ChainError::UnknownBlock(_) => "unknown-block",
            ChainError::Genesis => "cannot-invalidate-genesis",
        }
    }
}
