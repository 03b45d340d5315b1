//! `Chain`: accepting blocks into the tree, activating the most-work valid chain (reorgs with
//! undo data, falling back when a block fails to connect), and the manual invalidate and
//! reconsider commands.
//!
//! Owns the active chain, its undo data and the UTXO set. Must not do I/O or read the clock
//! (callers pass `now_secs`); it reports moves of the tip as `TipChanged` and lets callers react.

use super::connect::{connect_block, disconnect_block, Undo};
use super::orphans::{OrphanPool, RejectedHeaders};
use super::outcome::{BlockError, BlockOutcome, ChainError};
use super::tips::{chain_tips, ChainTip};
use super::tree::{BlockEntry, BlockStatus, BlockTree};
use super::{TipChanged, UtxoSet};
use crate::consensus::pow::{next_bits, work_from_bits};
use crate::consensus::rules::{
    check_coinbase_height, check_hashed_block, check_header_context, median_time,
};
use crate::consensus::RuleError;
use crate::params::Params;
use crate::types::{Block, Hash256, HashedBlock};
use primitive_types::U256;
use std::collections::VecDeque;
use std::sync::Arc;

/// What the next block on the active tip must carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextBlock {
    /// The active tip's hash.
    pub prev_hash: Hash256,
    /// The next block's height.
    pub height: u32,
    /// The difficulty the next block must carry.
    pub bits: u32,
    /// The earliest acceptable time: median-time-past of the tip plus one.
    pub min_time: u32,
}

/// The block tree, the active chain and its UTXO set. Cloning copies the whole state (block
/// bodies are shared), so a caller can try something on a copy.
#[derive(Clone)]
pub struct Chain {
    params: Params,
    tree: BlockTree,
    /// Tree ids of the active chain by height; never empty, genesis is never disconnected.
    active: Vec<usize>,
    /// Undo data of `active[1..]`, in the same order.
    undo: Vec<Undo>,
    utxos: UtxoSet,
    orphans: OrphanPool,
    rejected: RejectedHeaders,
}

/// Refusals that depend on the header alone (and its parent), so the hash may be remembered:
/// a peer cannot turn such a header into a valid block by changing the body.
fn is_header_rule(err: RuleError) -> bool {
    matches!(
        err,
        RuleError::BadDiffBits | RuleError::TimeTooOld | RuleError::BadPrevBlock
    )
}

impl Chain {
    /// A chain holding only genesis, which is the active tip. Genesis outputs are not added to
    /// the UTXO set (they are unspendable, as in Bitcoin).
    pub fn new(params: Params) -> Chain {
        // Genesis carries the network's valid pow-limit bits (checked by params' tests).
        let genesis_work = work_from_bits(params.genesis.header.bits).unwrap_or_default();
        Chain {
            tree: BlockTree::new(params.genesis.clone(), genesis_work),
            params,
            active: vec![0],
            undo: Vec::new(),
            utxos: UtxoSet::default(),
            orphans: OrphanPool::default(),
            rejected: RejectedHeaders::default(),
        }
    }

    /// The network parameters the chain validates against.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Checks a block, adds it (and any orphans it releases) to the tree, then moves the active
    /// chain to the most-work valid tip. `now_secs` is the node's clock in Unix seconds.
    pub fn process_block(
        &mut self,
        block: impl Into<Arc<Block>>,
        now_secs: u64,
    ) -> Result<BlockOutcome, BlockError> {
        self.process_hashed_block(HashedBlock::new(block), now_secs)
    }

    /// `process_block` for a block hashed already (the network shell hashes blocks as it
    /// decodes them, off the node's event loop).
    pub(crate) fn process_hashed_block(
        &mut self,
        block: HashedBlock,
        now_secs: u64,
    ) -> Result<BlockOutcome, BlockError> {
        let hash = block.hash();
        if let Some(id) = self.tree.id(&hash) {
            return Err(if self.tree.entry(id).status.is_invalid() {
                BlockError::DuplicateInvalid
            } else {
                BlockError::Duplicate
            });
        }
        if self.rejected.contains(&hash) {
            return Err(BlockError::DuplicateInvalid);
        }
        if self.orphans.contains(&hash) {
            return Err(BlockError::Duplicate);
        }
        check_hashed_block(&block, &self.params)?;
        let prev_hash = block.block().header.prev_hash;
        if self.rejected.contains(&prev_hash) {
            self.rejected.insert(hash);
            return Err(RuleError::BadPrevBlock.into());
        }
        let Some(parent) = self.tree.id(&prev_hash) else {
            self.orphans.insert(block);
            return Ok(BlockOutcome {
                orphaned: true,
                ..BlockOutcome::default()
            });
        };

        let old_tip = self.tip_id();
        let mut outcome = BlockOutcome::default();
        self.accept(block, parent, now_secs, &mut outcome)?;
        let mut released = VecDeque::from([hash]);
        while let Some(parent_hash) = released.pop_front() {
            for orphan in self.orphans.take_children(&parent_hash) {
                let orphan_hash = orphan.hash();
                let Some(parent) = self.tree.id(&parent_hash) else {
                    continue;
                };
                match self.accept(orphan, parent, now_secs, &mut outcome) {
                    Ok(()) => released.push_back(orphan_hash),
                    Err(err) => outcome.refused_orphans.push((orphan_hash, err)),
                }
            }
        }
        outcome.tip_changed = self.tip_change(old_tip);
        Ok(outcome)
    }

    /// Adds a context-free-checked block below `parent` after its contextual checks, then
    /// activates the best chain. Activating after every insertion (rather than once per call)
    /// makes a replay of the accepted blocks, one call each, take the same decisions.
    fn accept(
        &mut self,
        block: HashedBlock,
        parent: usize,
        now_secs: u64,
        outcome: &mut BlockOutcome,
    ) -> Result<(), RuleError> {
        let hash = block.hash();
        let work = self
            .contextual_checks(block.block(), parent, now_secs)
            .inspect_err(|err| {
                if is_header_rule(*err) {
                    self.rejected.insert(hash);
                }
            })?;
        let (block, txids) = block.into_parts();
        self.tree.insert(block, hash, txids, parent, work);
        outcome.accepted.push(hash);
        self.activate_best_chain(&mut outcome.invalid);
        Ok(())
    }

    /// The checks that need the parent; returns the block's work.
    fn contextual_checks(
        &self,
        block: &Block,
        parent: usize,
        now_secs: u64,
    ) -> Result<U256, RuleError> {
        let parent_entry = self.tree.entry(parent);
        if parent_entry.status.is_invalid() {
            return Err(RuleError::BadPrevBlock);
        }
        let context = self.tree.header_context(parent);
        check_header_context(&block.header, &context, now_secs, &self.params)?;
        check_coinbase_height(block, parent_entry.height + 1)?;
        work_from_bits(block.header.bits)
    }

    /// Moves the active chain to the best candidate, as Bitcoin Core's `ActivateBestChain`:
    /// disconnect to the fork point, connect one block at a time, and when a block fails, mark
    /// it (and its descendants) and start over with the best remaining candidate.
    fn activate_best_chain(&mut self, invalid: &mut Vec<(Hash256, RuleError)>) {
        while let Some(best) = self.tree.best_candidate() {
            if best == self.tip_id() {
                self.tree.keep_candidates_from(best);
                return;
            }
            let mut path = Vec::new();
            let mut cursor = best;
            while !self.is_active_id(cursor) {
                path.push(cursor);
                match self.tree.node(cursor).parent {
                    Some(parent) => cursor = parent,
                    None => break,
                }
            }
            let fork_height = self.tree.entry(cursor).height;
            while self.height() > fork_height {
                self.disconnect_tip();
            }
            for &id in path.iter().rev() {
                if let Err(err) = self.connect_tip(id) {
                    self.tree.mark_invalid(id, BlockStatus::Invalid(err));
                    invalid.push((self.tree.entry(id).hash, err));
                    break;
                }
            }
        }
    }

    /// Connects `id`, whose parent is the tip.
    fn connect_tip(&mut self, id: usize) -> Result<(), RuleError> {
        let node = self.tree.node(id);
        let undo = connect_block(
            &mut self.utxos,
            &node.block,
            &node.txids,
            node.entry.height,
            &self.params,
        )?;
        self.active.push(id);
        self.undo.push(undo);
        self.tree.set_connected(id);
        Ok(())
    }

    fn disconnect_tip(&mut self) {
        if self.active.len() <= 1 {
            return;
        }
        if let (Some(id), Some(undo)) = (self.active.pop(), self.undo.pop()) {
            let node = self.tree.node(id);
            disconnect_block(&mut self.utxos, &node.block, &node.txids, undo);
            self.tree.set_reorged(id);
        }
    }

    /// The net move from `old_tip` to the current tip.
    fn tip_change(&self, old_tip: usize) -> Option<TipChanged> {
        let new_tip = self.tip_id();
        if new_tip == old_tip {
            return None;
        }
        let mut disconnected = Vec::new();
        let mut cursor = old_tip;
        while !self.is_active_id(cursor) {
            let node = self.tree.node(cursor);
            disconnected.push(Arc::clone(&node.block));
            match node.parent {
                Some(parent) => cursor = parent,
                None => break,
            }
        }
        let fork_height = self.tree.entry(cursor).height as usize;
        // The walk stopped on the active chain, so `fork_height` is a valid index.
        let connected = self.active[fork_height + 1..]
            .iter()
            .map(|&id| Arc::clone(&self.tree.node(id).block))
            .collect();
        let change = TipChanged {
            old_tip: self.tree.entry(old_tip).hash,
            new_tip: self.tree.entry(new_tip).hash,
            fork_point: self.tree.entry(cursor).hash,
            disconnected,
            connected,
        };
        // Debug here: the node logs each reorg at WARN with what the mempool did, and a replay
        // at start-up must not repeat old reorgs as warnings.
        if change.is_reorg() {
            tracing::debug!(
                depth = change.disconnected.len(),
                old_tip = %change.old_tip,
                new_tip = %change.new_tip,
                fork_point = %change.fork_point,
                "reorg"
            );
        }
        Some(change)
    }

    /// Marks a block and its descendants invalid and moves to the best remaining valid chain.
    pub fn invalidate_block(&mut self, hash: &Hash256) -> Result<Option<TipChanged>, ChainError> {
        let id = self.tree.id(hash).ok_or(ChainError::UnknownBlock(*hash))?;
        if id == 0 {
            return Err(ChainError::Genesis);
        }
        let old_tip = self.tip_id();
        self.tree.mark_invalid(id, BlockStatus::Invalidated);
        self.activate_best_chain(&mut Vec::new());
        Ok(self.tip_change(old_tip))
    }

    /// Clears invalid marks on a block, its descendants and its ancestors, then moves to the
    /// best valid chain (a block that really is invalid fails again when connected).
    pub fn reconsider_block(&mut self, hash: &Hash256) -> Result<Option<TipChanged>, ChainError> {
        let id = self.tree.id(hash).ok_or(ChainError::UnknownBlock(*hash))?;
        let old_tip = self.tip_id();
        self.tree.clear_invalid(id);
        self.rejected.clear();
        self.activate_best_chain(&mut Vec::new());
        Ok(self.tip_change(old_tip))
    }

    fn tip_id(&self) -> usize {
        // `active` starts with genesis and `disconnect_tip` never pops it.
        self.active[self.active.len() - 1]
    }

    fn is_active_id(&self, id: usize) -> bool {
        let height = self.tree.entry(id).height as usize;
        self.active.get(height) == Some(&id)
    }

    /// The active chain's tip.
    pub fn tip(&self) -> &BlockEntry {
        self.tree.entry(self.tip_id())
    }

    /// The active tip's height.
    pub fn height(&self) -> u32 {
        self.tip().height
    }

    /// The tree's entry for `hash`, on any branch.
    pub fn entry(&self, hash: &Hash256) -> Option<&BlockEntry> {
        self.tree.id(hash).map(|id| self.tree.entry(id))
    }

    /// Whether block `hash` is in the tree (valid or not): `entry(hash).is_some()` without
    /// reading the entry, for checks made on every announcement.
    pub fn contains(&self, hash: &Hash256) -> bool {
        self.tree.id(hash).is_some()
    }

    /// The body of a block in the tree that is not known to be invalid: what may be served to
    /// peers, with its height. The active chain's block at `height_hint` is looked at first:
    /// a `getdata` of a sync lists blocks in chain order, so hinting the height after the one
    /// served last finds each in the array of the active chain, without a lookup by hash in a
    /// table of the whole tree.
    pub fn servable_block(&self, hash: &Hash256, height_hint: u32) -> Option<(Arc<Block>, u32)> {
        let hinted = self
            .active
            .get(height_hint as usize)
            .map(|&id| self.tree.node(id))
            .filter(|node| node.entry.hash == *hash);
        let node = match hinted {
            Some(node) => node,
            None => self.tree.node(self.tree.id(hash)?),
        };
        (!node.entry.status.is_invalid()).then(|| (Arc::clone(&node.block), node.entry.height))
    }

    /// The body of any block in the tree.
    pub fn block(&self, hash: &Hash256) -> Option<Arc<Block>> {
        self.tree
            .id(hash)
            .map(|id| Arc::clone(&self.tree.node(id).block))
    }

    /// Every block in the tree, in the order they entered it (genesis first).
    pub fn entries(&self) -> impl Iterator<Item = &BlockEntry> {
        self.tree.nodes().map(|node| &node.entry)
    }

    /// Every block at `height` or above, all branches, invalid ones included. Scans the whole
    /// tree: fine for an RPC command, not for per-block work.
    pub fn entries_from_height(&self, height: u32) -> impl Iterator<Item = &BlockEntry> {
        self.entries().filter(move |entry| entry.height >= height)
    }

    /// The active chain's block at `height`.
    pub fn active_hash_at(&self, height: u32) -> Option<Hash256> {
        self.active_entry_at(height).map(|entry| entry.hash)
    }

    /// The active chain's block at `height`, without a lookup by hash.
    pub(crate) fn active_entry_at(&self, height: u32) -> Option<&BlockEntry> {
        self.active
            .get(height as usize)
            .map(|&id| self.tree.entry(id))
    }

    /// Whether `hash` is on the active chain.
    pub fn is_active(&self, hash: &Hash256) -> bool {
        self.tree.id(hash).is_some_and(|id| self.is_active_id(id))
    }

    /// A block locator of the active chain: the last 10 hashes, then exponentially sparser,
    /// ending with genesis.
    pub fn locator(&self) -> Vec<Hash256> {
        let mut hashes = Vec::new();
        let mut height = self.height() as usize;
        let mut step = 1;
        loop {
            // `height` starts at the tip's and only decreases.
            hashes.push(self.tree.entry(self.active[height]).hash);
            if height == 0 {
                return hashes;
            }
            if hashes.len() >= 10 {
                step *= 2;
            }
            height = height.saturating_sub(step);
        }
    }

    /// Height of the first hash in `locator` that is on the active chain (0, genesis, if none).
    pub(crate) fn locator_fork_height(&self, locator: &[Hash256]) -> u32 {
        locator
            .iter()
            .find(|hash| self.is_active(hash))
            .and_then(|hash| self.entry(hash))
            .map_or(0, |entry| entry.height)
    }

    /// The UTXO set of the active tip.
    pub fn utxos(&self) -> &UtxoSet {
        &self.utxos
    }

    /// Every branch tip, like Bitcoin's `getchaintips`, the active tip first.
    pub fn tips(&self) -> Vec<ChainTip> {
        chain_tips(&self.tree, &self.active)
    }

    /// What a block extending the tip must carry.
    pub fn next_block(&self) -> NextBlock {
        let tip = self.tip_id();
        NextBlock {
            prev_hash: self.tree.entry(tip).hash,
            height: self.height() + 1,
            bits: self.next_bits(),
            min_time: self.median_time_past().saturating_add(1),
        }
    }

    /// The difficulty a block extending the tip must meet: `next_block().bits` without the
    /// median time, for a check made on every block that arrives.
    pub fn next_bits(&self) -> u32 {
        next_bits(&self.params, self.tree.retarget_input(self.tip_id()))
    }

    /// Median time of the tip and up to 10 blocks before it.
    pub(crate) fn median_time_past(&self) -> u32 {
        median_time(&self.tree.recent_times(self.tip_id()))
    }

    /// Median time of block `hash` and up to 10 blocks before it, on any branch.
    pub(crate) fn median_time_of(&self, hash: &Hash256) -> Option<u32> {
        let id = self.tree.id(hash)?;
        Some(median_time(&self.tree.recent_times(id)))
    }

    /// Blocks waiting in the orphan pool for their parent.
    pub fn orphan_count(&self) -> usize {
        self.orphans.len()
    }

    /// Blocks in the tree, genesis and invalid blocks included.
    pub fn block_count(&self) -> usize {
        self.tree.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of `length` blocks on regtest, each one second after the previous one.
    fn chain_of(length: u32) -> Chain {
        let mut chain = Chain::new(Params::regtest());
        let now_secs = u64::from(chain.params().genesis.header.time) + 100_000;
        for _ in 0..length {
            let block = crate::chain::next_test_block(&chain);
            chain.process_block(block, now_secs).unwrap();
        }
        chain
    }

    #[test]
    fn genesis_is_the_tip_of_a_new_chain() {
        let chain = Chain::new(Params::regtest());
        assert_eq!(chain.height(), 0);
        assert_eq!(chain.tip().hash, chain.params().genesis_hash());
        assert!(chain.utxos().is_empty());
        assert_eq!(chain.block_count(), 1);
        assert_eq!(chain.locator(), vec![chain.params().genesis_hash()]);
    }

    #[test]
    fn next_block_follows_the_tip() {
        let chain = chain_of(12);
        let genesis_time = chain.params().genesis.header.time;
        // Times are genesis + 0..=12; the last 11 are genesis + 2..=12, median genesis + 7.
        assert_eq!(chain.median_time_past(), genesis_time + 7);
        let next = chain.next_block();
        assert_eq!(next.prev_hash, chain.tip().hash);
        assert_eq!(next.height, 13);
        assert_eq!(next.bits, chain.params().pow_limit_bits);
        assert_eq!(next.min_time, genesis_time + 8);
    }

    #[test]
    fn locator_is_dense_then_sparse_and_ends_at_genesis() {
        let chain = chain_of(40);
        let heights: Vec<u32> = chain
            .locator()
            .iter()
            .map(|hash| chain.entry(hash).map(|entry| entry.height).unwrap())
            .collect();
        assert_eq!(
            heights,
            vec![40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 29, 25, 17, 1, 0]
        );
        let tip = chain.tip().hash;
        assert_eq!(chain.locator_fork_height(&[Hash256([1; 32]), tip]), 40);
        assert_eq!(chain.locator_fork_height(&[Hash256([1; 32])]), 0);
    }
}
