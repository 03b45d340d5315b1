//! The orphan pool (blocks whose parent is not in the tree yet) and the bounded memory of
//! block hashes refused for header-level reasons.
//!
//! Owns both bounded sets and their eviction (oldest first). Must not check blocks: only blocks
//! that passed the context-free checks enter the pool, and `state` decides what is remembered.

use crate::types::{Hash256, HashedBlock};
use foldhash::{HashMap, HashSet};
use std::collections::{BTreeMap, VecDeque};

/// Most orphan blocks held at once.
pub const MAX_ORPHAN_BLOCKS: usize = 100;
/// Most encoded bytes of orphan blocks held at once; a peer can make valid-looking regtest
/// blocks for free, so the count alone would allow 100 MB.
pub const MAX_ORPHAN_BYTES: usize = 16 * 1024 * 1024;
/// Most block hashes remembered as refused for header-level reasons.
pub const MAX_REJECTED_HEADERS: usize = 10_000;

#[derive(Clone)]
struct Orphan {
    block: HashedBlock,
    age: u64,
}

/// Blocks waiting for their parent, evicted oldest first.
#[derive(Default, Clone)]
pub(super) struct OrphanPool {
    blocks: HashMap<Hash256, Orphan>,
    /// Children waiting on each missing parent, in arrival order.
    by_parent: HashMap<Hash256, Vec<Hash256>>,
    by_age: BTreeMap<u64, Hash256>,
    next_age: u64,
    bytes: usize,
}

impl OrphanPool {
    pub(super) fn len(&self) -> usize {
        self.blocks.len()
    }

    pub(super) fn contains(&self, hash: &Hash256) -> bool {
        self.blocks.contains_key(hash)
    }

    /// Holds `block`, evicting the oldest orphans to stay within bounds.
    pub(super) fn insert(&mut self, block: HashedBlock) {
        let hash = block.hash();
        if self.blocks.contains_key(&hash) {
            return;
        }
        let age = self.next_age;
        self.next_age += 1;
        self.by_parent
            .entry(block.block().header.prev_hash)
            .or_default()
            .push(hash);
        self.by_age.insert(age, hash);
        self.bytes += block.encoded_len();
        self.blocks.insert(hash, Orphan { block, age });
        while self.blocks.len() > MAX_ORPHAN_BLOCKS || self.bytes > MAX_ORPHAN_BYTES {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.remove(&oldest);
        }
    }

    /// Takes the orphans waiting for `parent`, in arrival order.
    pub(super) fn take_children(&mut self, parent: &Hash256) -> Vec<HashedBlock> {
        let Some(children) = self.by_parent.remove(parent) else {
            return Vec::new();
        };
        children
            .iter()
            .filter_map(|hash| {
                let orphan = self.blocks.remove(hash)?;
                self.by_age.remove(&orphan.age);
                self.bytes -= orphan.block.encoded_len();
                Some(orphan.block)
            })
            .collect()
    }

    fn remove(&mut self, hash: &Hash256) {
        let Some(orphan) = self.blocks.remove(hash) else {
            return;
        };
        self.by_age.remove(&orphan.age);
        self.bytes -= orphan.block.encoded_len();
        let parent = orphan.block.block().header.prev_hash;
        if let Some(siblings) = self.by_parent.get_mut(&parent) {
            siblings.retain(|sibling| sibling != hash);
            if siblings.is_empty() {
                self.by_parent.remove(&parent);
            }
        }
    }
}

/// Hashes of blocks refused for a header-level reason, so a resend is answered without
/// checking it again. Bounded, forgetting the oldest first.
#[derive(Default, Clone)]
pub(super) struct RejectedHeaders {
    hashes: HashSet<Hash256>,
    order: VecDeque<Hash256>,
}

impl RejectedHeaders {
    pub(super) fn contains(&self, hash: &Hash256) -> bool {
        self.hashes.contains(hash)
    }

    pub(super) fn insert(&mut self, hash: Hash256) {
        if !self.hashes.insert(hash) {
            return;
        }
        self.order.push_back(hash);
        if self.order.len() > MAX_REJECTED_HEADERS {
            if let Some(oldest) = self.order.pop_front() {
                self.hashes.remove(&oldest);
            }
        }
    }

    pub(super) fn clear(&mut self) {
        self.hashes.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;
    use crate::types::Block;

    fn orphan(parent: u8, nonce: u32) -> Block {
        let mut block = Params::regtest().genesis;
        block.header.prev_hash = Hash256([parent; 32]);
        block.header.nonce = nonce;
        block
    }

    /// An orphan of about `bytes` encoded bytes: its coinbase pays that many outputs' worth.
    fn wide_orphan(nonce: u32, bytes: usize) -> Block {
        let mut block = orphan(3, nonce);
        let coinbase = &mut block.transactions[0];
        let output = coinbase.outputs[0];
        let output_bytes = crate::codec::encoded_len(&output);
        coinbase.outputs = vec![output; bytes / output_bytes];
        block
    }

    fn add(pool: &mut OrphanPool, block: Block) {
        pool.insert(HashedBlock::new(block));
    }

    #[test]
    fn children_come_out_in_arrival_order() {
        let mut pool = OrphanPool::default();
        add(&mut pool, orphan(1, 2));
        add(&mut pool, orphan(1, 1));
        add(&mut pool, orphan(2, 3));
        let taken = pool.take_children(&Hash256([1; 32]));
        let nonces: Vec<u32> = taken.iter().map(|b| b.block().header.nonce).collect();
        assert_eq!(nonces, vec![2, 1]);
        assert_eq!(pool.len(), 1);
        assert!(pool.take_children(&Hash256([1; 32])).is_empty());
    }

    #[test]
    fn the_oldest_is_evicted_first() {
        let mut pool = OrphanPool::default();
        for nonce in 0..=MAX_ORPHAN_BLOCKS as u32 {
            add(&mut pool, orphan(1, nonce));
        }
        assert_eq!(pool.len(), MAX_ORPHAN_BLOCKS);
        assert!(!pool.contains(&orphan(1, 0).hash()));
        assert!(pool.contains(&orphan(1, 1).hash()));
    }

    #[test]
    fn the_oldest_is_evicted_first_when_bytes_run_out() {
        let mut pool = OrphanPool::default();
        let bytes = HashedBlock::new(wide_orphan(0, 900_000)).encoded_len();
        let fit = MAX_ORPHAN_BYTES / bytes;
        assert!(fit < MAX_ORPHAN_BLOCKS, "the byte bound binds first");
        for nonce in 0..=fit as u32 {
            add(&mut pool, wide_orphan(nonce, 900_000));
        }
        assert_eq!(pool.len(), fit);
        assert!(!pool.contains(&wide_orphan(0, 900_000).hash()));
        assert!(pool.contains(&wide_orphan(1, 900_000).hash()));
    }

    #[test]
    fn rejected_headers_are_bounded() {
        let mut rejected = RejectedHeaders::default();
        for i in 0..=MAX_REJECTED_HEADERS as u32 {
            let mut bytes = [0u8; 32];
            bytes[..4].copy_from_slice(&i.to_le_bytes());
            rejected.insert(Hash256(bytes));
        }
        assert!(!rejected.contains(&Hash256([0; 32])));
        let mut last = [0u8; 32];
        last[..4].copy_from_slice(&(MAX_REJECTED_HEADERS as u32).to_le_bytes());
        assert!(rejected.contains(&Hash256(last)));
    }
}
