//! The block index: every block in the tree (side branches and invalid blocks included) with its
//! entry, links and body, and the candidate set of blocks that could become the tip, ordered by
//! chainwork and then first seen.
//!
//! Owns tree structure and block statuses. Must not touch the UTXO set or move the active chain;
//! `state` decides which candidate to connect and reports failures back here.

use super::chunked::Chunked;
use crate::consensus::pow::RetargetInput;
use crate::consensus::rules::HeaderContext;
use crate::consensus::RuleError;
use crate::params::MEDIAN_TIME_SPAN;
use crate::types::{Block, BlockHeader, Hash256, Transaction, Txid};
use foldhash::HashMap;
use primitive_types::U256;
use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the node knows about one block in the tree.
#[derive(Clone, Debug)]
pub struct BlockEntry {
    /// The block's hash.
    pub hash: Hash256,
    /// The block's header.
    pub header: BlockHeader,
    /// The block's height.
    pub height: u32,
    /// Total work of the chain ending with this block, genesis included.
    pub chainwork: U256,
    /// What is known of the block's validity.
    pub status: BlockStatus,
    /// The order in which the block entered the tree (genesis is 0); on a chainwork tie the
    /// lower sequence wins, which is what "first seen" means.
    pub sequence: u64,
    /// The block was taken off the active chain (by a reorg or an invalidation) and has not
    /// been connected since; observers draw such blocks as what the chain gave up.
    pub reorged: bool,
}

/// How far a block in the tree has been validated.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BlockStatus {
    /// In the tree but never connected: its transactions were not checked against coins yet.
    Accepted,
    /// Fully validated: it was connected to the active chain at least once.
    Connected,
    /// Failed when connected.
    Invalid(RuleError),
    /// Some ancestor is invalid.
    InvalidAncestor,
    /// Marked invalid by hand (`invalidate_block`).
    Invalidated,
}

impl BlockStatus {
    /// Whether the block is known to be invalid (by a rule or by hand).
    pub fn is_invalid(&self) -> bool {
        matches!(
            self,
            BlockStatus::Invalid(_) | BlockStatus::InvalidAncestor | BlockStatus::Invalidated
        )
    }

    /// A stable name for RPC replies and logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            BlockStatus::Accepted => "accepted",
            BlockStatus::Connected => "connected",
            BlockStatus::Invalid(_) => "invalid",
            BlockStatus::InvalidAncestor => "invalid-ancestor",
            BlockStatus::Invalidated => "invalidated",
        }
    }
}

/// A block in the tree with its links. Ids are indexes into the tree's node list and are never
/// reused: blocks are never removed.
#[derive(Clone)]
pub(super) struct Node {
    pub(super) entry: BlockEntry,
    pub(super) parent: Option<usize>,
    pub(super) children: Vec<usize>,
    pub(super) block: Arc<Block>,
    /// The block's transaction ids, computed once when it was checked.
    pub(super) txids: Arc<[Txid]>,
    /// Whether the block was ever connected, so clearing an invalid mark restores `Connected`.
    validated: bool,
}

type CandidateKey = (U256, Reverse<u64>);

/// Every block the node keeps, indexed by hash.
#[derive(Clone)]
pub(super) struct BlockTree {
    nodes: Chunked<Node>,
    index: HashMap<Hash256, usize>,
    /// Blocks that could become the tip; the best is the last key. Invariant: every block whose
    /// status is not invalid and whose key is at least the active tip's is here, and only blocks
    /// whose status is not invalid are (then none of their ancestors is invalid either: marking
    /// covers all descendants and children of invalid blocks are refused). Blocks with less work
    /// than the tip are let go (`keep_candidates_from`), as Bitcoin Core's
    /// `setBlockIndexCandidates` lets them go: a chain of a thousand blocks held a thousand keys
    /// that could never win.
    candidates: BTreeMap<CandidateKey, usize>,
}

fn candidate_key(entry: &BlockEntry) -> CandidateKey {
    (entry.chainwork, Reverse(entry.sequence))
}

impl BlockTree {
    /// A tree holding only `genesis`, connected, with `genesis_work` as its chainwork.
    pub(super) fn new(genesis: Block, genesis_work: U256) -> BlockTree {
        let entry = BlockEntry {
            hash: genesis.hash(),
            header: genesis.header,
            height: 0,
            chainwork: genesis_work,
            status: BlockStatus::Connected,
            sequence: 0,
            reorged: false,
        };
        let mut tree = BlockTree {
            nodes: Chunked::default(),
            index: HashMap::default(),
            candidates: BTreeMap::new(),
        };
        tree.index.insert(entry.hash, 0);
        tree.candidates.insert(candidate_key(&entry), 0);
        tree.nodes.push(Node {
            entry,
            parent: None,
            children: Vec::new(),
            txids: genesis.transactions.iter().map(Transaction::txid).collect(),
            block: Arc::new(genesis),
            validated: true,
        });
        tree
    }

    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }

    pub(super) fn id(&self, hash: &Hash256) -> Option<usize> {
        self.index.get(hash).copied()
    }

    /// Ids only come from this tree, which never removes nodes, so indexing cannot fail.
    pub(super) fn node(&self, id: usize) -> &Node {
        &self.nodes[id]
    }

    pub(super) fn entry(&self, id: usize) -> &BlockEntry {
        &self.nodes[id].entry
    }

    /// Nodes in the order they entered the tree.
    pub(super) fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter()
    }

    /// Adds `block` (whose hash is `hash`) below `parent` (which must not be invalid) and makes
    /// it a candidate.
    pub(super) fn insert(
        &mut self,
        block: Arc<Block>,
        hash: Hash256,
        txids: Arc<[Txid]>,
        parent: usize,
        work: U256,
    ) -> usize {
        let id = self.nodes.len();
        let parent_entry = &self.nodes[parent].entry;
        let entry = BlockEntry {
            hash,
            header: block.header,
            height: parent_entry.height + 1,
            chainwork: parent_entry.chainwork.saturating_add(work),
            status: BlockStatus::Accepted,
            sequence: id as u64,
            reorged: false,
        };
        self.index.insert(entry.hash, id);
        self.candidates.insert(candidate_key(&entry), id);
        self.nodes[parent].children.push(id);
        self.nodes.push(Node {
            entry,
            parent: Some(parent),
            children: Vec::new(),
            block,
            txids,
            validated: false,
        });
        id
    }

    /// The candidate with the most chainwork, the first seen among equals. Genesis can never be
    /// marked invalid, so there always is one.
    pub(super) fn best_candidate(&self) -> Option<usize> {
        self.candidates.last_key_value().map(|(_, id)| *id)
    }

    pub(super) fn set_connected(&mut self, id: usize) {
        let node = &mut self.nodes[id];
        node.entry.status = BlockStatus::Connected;
        node.entry.reorged = false;
        node.validated = true;
    }

    pub(super) fn set_reorged(&mut self, id: usize) {
        self.nodes[id].entry.reorged = true;
    }

    /// Lets go of the candidates with less work than `tip`, the active tip (first seen wins a
    /// tie, so one seen later with the same work goes too).
    pub(super) fn keep_candidates_from(&mut self, tip: usize) {
        let tip_key = candidate_key(&self.nodes[tip].entry);
        while let Some(entry) = self.candidates.first_entry() {
            if *entry.key() >= tip_key {
                break;
            }
            entry.remove();
        }
    }

    /// Marks `id` with `status` and every descendant as `InvalidAncestor` (keeping their own
    /// invalid marks), and drops them all from the candidates. The active chain may then go back
    /// to blocks with less work than its tip, so every valid block is a candidate again until
    /// the chain settles (a scan of the tree, as Bitcoin Core's `InvalidateBlock` does; a block
    /// fails this way only with valid proof of work).
    pub(super) fn mark_invalid(&mut self, id: usize, status: BlockStatus) {
        self.nodes[id].entry.status = status;
        for descendant in self.descendants(id) {
            let entry = &mut self.nodes[descendant].entry;
            if !entry.status.is_invalid() {
                entry.status = BlockStatus::InvalidAncestor;
            }
        }
        self.candidates = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| !node.entry.status.is_invalid())
            .map(|(id, node)| (candidate_key(&node.entry), id))
            .collect();
    }

    /// Clears invalid marks on `id`, its descendants and its ancestors (as Bitcoin Core's
    /// `reconsiderblock` does) and makes them candidates again.
    pub(super) fn clear_invalid(&mut self, id: usize) {
        let mut affected = self.descendants(id);
        let mut cursor = Some(id);
        while let Some(current) = cursor {
            affected.push(current);
            cursor = self.nodes[current].parent;
        }
        for current in affected {
            let node = &mut self.nodes[current];
            if node.entry.status.is_invalid() {
                node.entry.status = if node.validated {
                    BlockStatus::Connected
                } else {
                    BlockStatus::Accepted
                };
                self.candidates.insert(candidate_key(&node.entry), current);
            }
        }
    }

    /// Every block below `id`, `id` excluded.
    pub(super) fn descendants(&self, id: usize) -> Vec<usize> {
        let mut found = Vec::new();
        let mut stack = self.nodes[id].children.clone();
        while let Some(current) = stack.pop() {
            found.push(current);
            stack.extend_from_slice(&self.nodes[current].children);
        }
        found
    }

    /// Times of the last `MEDIAN_TIME_SPAN` blocks ending with `id`.
    pub(super) fn recent_times(&self, id: usize) -> Vec<u32> {
        let mut times = Vec::with_capacity(MEDIAN_TIME_SPAN);
        let mut cursor = Some(id);
        while let Some(current) = cursor {
            if times.len() == MEDIAN_TIME_SPAN {
                break;
            }
            times.push(self.nodes[current].entry.header.time);
            cursor = self.nodes[current].parent;
        }
        times
    }

    /// What the difficulty of a child of `parent` depends on.
    pub(super) fn retarget_input(&self, parent: usize) -> RetargetInput {
        let node = &self.nodes[parent];
        RetargetInput {
            parent_bits: node.entry.header.bits,
            parent_time: node.entry.header.time,
            grandparent_time: node.parent.map(|gp| self.nodes[gp].entry.header.time),
        }
    }

    /// The context a child of `parent` is checked against.
    pub(super) fn header_context(&self, parent: usize) -> HeaderContext {
        HeaderContext {
            recent_times: self.recent_times(parent),
            retarget: self.retarget_input(parent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;

    /// Adds a child of `parent` with one unit of work; `nonce` makes siblings differ.
    fn add(tree: &mut BlockTree, parent: usize, nonce: u32) -> usize {
        let mut block = Params::regtest().genesis;
        block.header.prev_hash = tree.entry(parent).hash;
        block.header.nonce = nonce;
        let hash = block.hash();
        let txids = block.transactions.iter().map(Transaction::txid).collect();
        tree.insert(Arc::new(block), hash, txids, parent, U256::one())
    }

    #[test]
    fn candidates_prefer_work_then_first_seen() {
        let mut tree = BlockTree::new(Params::regtest().genesis, U256::one());
        let a = add(&mut tree, 0, 1);
        let b = add(&mut tree, 0, 2);
        assert_eq!(tree.best_candidate(), Some(a));
        let c = add(&mut tree, b, 3);
        assert_eq!(tree.best_candidate(), Some(c));
        assert_eq!(tree.entry(c).height, 2);
        assert_eq!(tree.entry(c).chainwork, U256::from(3));
    }

    #[test]
    fn candidates_below_the_tip_go_and_come_back_when_the_tip_is_marked_invalid() {
        let mut tree = BlockTree::new(Params::regtest().genesis, U256::one());
        let side = add(&mut tree, 0, 1);
        let a = add(&mut tree, 0, 2);
        let b = add(&mut tree, a, 3);
        tree.keep_candidates_from(b);
        assert_eq!(tree.candidates.values().copied().collect::<Vec<_>>(), [b]);
        // Equal work seen later is no candidate either: first seen wins the tie.
        let late_rival = add(&mut tree, side, 4);
        tree.keep_candidates_from(b);
        assert_eq!(tree.best_candidate(), Some(b));
        assert!(!tree.candidates.values().any(|id| *id == late_rival));

        tree.mark_invalid(a, BlockStatus::Invalidated);
        assert_eq!(tree.best_candidate(), Some(late_rival));
        assert_eq!(tree.candidates.len(), 3, "genesis, side and its child");
    }

    #[test]
    fn marking_covers_descendants_and_clearing_restores_them() {
        let mut tree = BlockTree::new(Params::regtest().genesis, U256::one());
        let a = add(&mut tree, 0, 1);
        let b = add(&mut tree, a, 2);
        let c = add(&mut tree, b, 3);
        tree.set_connected(a);
        tree.mark_invalid(b, BlockStatus::Invalid(RuleError::CoinbaseAmount));
        tree.mark_invalid(a, BlockStatus::Invalidated);
        assert_eq!(tree.entry(a).status, BlockStatus::Invalidated);
        assert_eq!(
            tree.entry(b).status,
            BlockStatus::Invalid(RuleError::CoinbaseAmount)
        );
        assert_eq!(tree.entry(c).status, BlockStatus::InvalidAncestor);
        assert_eq!(tree.best_candidate(), Some(0));

        tree.clear_invalid(b);
        assert_eq!(tree.entry(a).status, BlockStatus::Connected);
        assert_eq!(tree.entry(b).status, BlockStatus::Accepted);
        assert_eq!(tree.entry(c).status, BlockStatus::Accepted);
        assert_eq!(tree.best_candidate(), Some(c));
    }
}
