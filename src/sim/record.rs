//! What the simulator saw of each block: who mined it, when, on which parent, and when each node
//! accepted it; and every reorg a node went through. Runs measure propagation, stale blocks and
//! reorgs from these.
//!
//! Owns the records. Must not reach into nodes: the hosts report what they saw as `Note`s.

use crate::types::Hash256;
use foldhash::HashMap;

/// Something a simulated node's host saw, reported to the simulator after each input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    /// A block entered the node's tree.
    Accepted(Hash256),
    /// The node's active chain moved off `depth` blocks onto another branch.
    Reorg {
        /// Blocks taken off the active chain.
        depth: usize,
    },
}

/// One block mined in the simulation.
#[derive(Clone, Debug)]
pub struct BlockRecord {
    /// Its hash.
    pub hash: Hash256,
    /// Its parent's hash.
    pub parent: Hash256,
    /// Its height.
    pub height: u32,
    /// The node that mined it.
    pub miner: usize,
    /// When it was mined, simulated microseconds.
    pub mined_us: u64,
    /// When each node that has it accepted it, in the order they did (the miner first).
    pub arrivals: Vec<(u32, u64)>,
}

/// One reorg at one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReorgRecord {
    /// The node.
    pub node: usize,
    /// When, simulated microseconds.
    pub at_us: u64,
    /// Blocks taken off its active chain.
    pub depth: usize,
}

/// Every block mined and every reorg, in the order they happened.
#[derive(Default)]
pub struct Records {
    blocks: Vec<BlockRecord>,
    index: HashMap<Hash256, usize>,
    reorgs: Vec<ReorgRecord>,
}

impl Records {
    /// Every block mined, in the order they were.
    pub fn blocks(&self) -> &[BlockRecord] {
        &self.blocks
    }

    /// The block mined as `hash`.
    pub fn block(&self, hash: &Hash256) -> Option<&BlockRecord> {
        self.index.get(hash).map(|at| &self.blocks[*at])
    }

    /// The blocks mined in the simulation on the chain ending at `tip`, the tip first.
    pub fn chain_to(&self, tip: Hash256) -> Vec<&BlockRecord> {
        let mut chain = Vec::new();
        let mut at = tip;
        while let Some(block) = self.block(&at) {
            chain.push(block);
            at = block.parent;
        }
        chain
    }

    /// Every reorg, in the order they happened.
    pub fn reorgs(&self) -> &[ReorgRecord] {
        &self.reorgs
    }

    pub(super) fn mined(
        &mut self,
        hash: Hash256,
        parent: Hash256,
        height: u32,
        miner: usize,
        at_us: u64,
    ) {
        self.index.insert(hash, self.blocks.len());
        self.blocks.push(BlockRecord {
            hash,
            parent,
            height,
            miner,
            mined_us: at_us,
            arrivals: Vec::new(),
        });
    }

    pub(super) fn note(&mut self, node: usize, at_us: u64, note: Note) {
        match note {
            Note::Accepted(hash) => {
                if let Some(at) = self.index.get(&hash) {
                    let node = u32::try_from(node).unwrap_or(u32::MAX);
                    self.blocks[*at].arrivals.push((node, at_us));
                }
            }
            Note::Reorg { depth } => self.reorgs.push(ReorgRecord { node, at_us, depth }),
        }
    }
}
