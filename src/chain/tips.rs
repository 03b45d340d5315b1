//! Chain tips, like Bitcoin Core's `getchaintips`: every leaf of the block tree plus the active
//! tip, with the length of its branch off the active chain and its status.
//!
//! Owns the classification of tips. Must not change the tree. Listing tips scans the whole tree,
//! which is fine for an RPC command but not for per-block work.

use super::tree::{BlockStatus, BlockTree};
use crate::types::Hash256;
use std::cmp::Reverse;

/// One branch tip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainTip {
    /// The tip's hash.
    pub hash: Hash256,
    /// The tip's height.
    pub height: u32,
    /// Blocks between the tip and the active chain (0 for the active tip).
    pub branch_len: u32,
    /// Whether it is the active tip, a valid fork, or invalid.
    pub status: TipStatus,
}

/// Bitcoin Core's tip statuses, for the blocks this node keeps (it always has the bodies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TipStatus {
    /// The tip of the active chain.
    Active,
    /// Not active, but every block of the branch was fully validated.
    ValidFork,
    /// Not active, and some block of the branch was never connected.
    ValidHeaders,
    /// The branch contains an invalid block.
    Invalid,
}

impl TipStatus {
    /// The status as Bitcoin Core writes it in `getchaintips`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TipStatus::Active => "active",
            TipStatus::ValidFork => "valid-fork",
            TipStatus::ValidHeaders => "valid-headers",
            TipStatus::Invalid => "invalid",
        }
    }
}

/// The tips of `tree` whose active chain is `active` (tree ids by height), active tip first,
/// then by height, highest first, then first seen.
pub(super) fn chain_tips(tree: &BlockTree, active: &[usize]) -> Vec<ChainTip> {
    let is_active = |id: usize| active.get(tree.entry(id).height as usize) == Some(&id);
    let tip_id = active.last().copied().unwrap_or(0);
    let tip = tree.entry(tip_id);
    let mut others: Vec<ChainTip> = Vec::new();
    for (id, node) in tree.nodes().enumerate() {
        if !node.children.is_empty() || id == tip_id {
            continue;
        }
        let mut branch_valid = true;
        let mut cursor = id;
        while !is_active(cursor) {
            if tree.entry(cursor).status != BlockStatus::Connected {
                branch_valid = false;
            }
            match tree.node(cursor).parent {
                Some(parent) => cursor = parent,
                None => break,
            }
        }
        let status = if node.entry.status.is_invalid() {
            TipStatus::Invalid
        } else if branch_valid {
            TipStatus::ValidFork
        } else {
            TipStatus::ValidHeaders
        };
        others.push(ChainTip {
            hash: node.entry.hash,
            height: node.entry.height,
            branch_len: node.entry.height - tree.entry(cursor).height,
            status,
        });
    }
    others.sort_by_key(|tip| Reverse(tip.height));
    let mut tips = vec![ChainTip {
        hash: tip.hash,
        height: tip.height,
        branch_len: 0,
        status: TipStatus::Active,
    }];
    tips.extend(others);
    tips
}
