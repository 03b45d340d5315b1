//! `Block` and its merkle root.
//!
//! Merkle tree (domain-separated, so no two transaction lists share a root and a leaf can never
//! pass for an inner node): leaf = SHA-256d(0x00 ‖ txid), node = SHA-256d(0x01 ‖ left ‖ right),
//! an odd node is carried up unchanged. Owns block structure only; must not validate.

use super::hash::{sha256d_parts, Hash256};
use super::header::BlockHeader;
use super::tx::{Transaction, Txid};
use crate::codec;
use serde::{Deserialize, Serialize};

/// A header and its transactions, coinbase first.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Block {
    /// The 80-byte header.
    pub header: BlockHeader,
    /// The transactions, coinbase first.
    pub transactions: Vec<Transaction>,
}

impl Block {
    /// SHA-256d of the header.
    pub fn hash(&self) -> Hash256 {
        self.header.hash()
    }

    /// Bytes of the block's encoding.
    pub fn encoded_len(&self) -> usize {
        codec::encoded_len(self)
    }

    /// The merkle root of this block's transactions (not the one its header claims).
    pub fn compute_merkle_root(&self) -> Hash256 {
        let txids: Vec<Txid> = self.transactions.iter().map(Transaction::txid).collect();
        merkle_root(&txids)
    }
}

fn merkle_leaf(txid: &Txid) -> Hash256 {
    sha256d_parts(&[&[0x00], &txid.0])
}

fn merkle_node(left: &Hash256, right: &Hash256) -> Hash256 {
    sha256d_parts(&[&[0x01], &left.0, &right.0])
}

/// One level up: pairs hashed, an odd last node carried unchanged.
fn merkle_level(level: &[Hash256]) -> Vec<Hash256> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [left, right] => merkle_node(left, right),
            [odd] => *odd,
            _ => unreachable!("chunks(2) yields one or two items"),
        })
        .collect()
}

/// Merkle root over txids; the root of no transactions is all zeros.
pub fn merkle_root(txids: &[Txid]) -> Hash256 {
    let mut level: Vec<Hash256> = txids.iter().map(merkle_leaf).collect();
    if level.is_empty() {
        return Hash256::ZERO;
    }
    while level.len() > 1 {
        level = merkle_level(&level);
    }
    level[0]
}

/// The siblings of the first leaf (the coinbase's) on its way to the root, bottom up. With
/// them a miner that changes only the coinbase recomputes the root in one hash per level.
pub fn first_leaf_branch(txids: &[Txid]) -> Vec<Hash256> {
    let mut level: Vec<Hash256> = txids.iter().map(merkle_leaf).collect();
    let mut branch = Vec::new();
    while level.len() > 1 {
        // The first node always has a right-hand partner while the level has two or more.
        branch.push(level[1]);
        level = merkle_level(&level);
    }
    branch
}

/// The merkle root of a transaction list whose first txid is `first` and whose first-leaf
/// branch is `branch`.
pub fn merkle_root_from_first(first: &Txid, branch: &[Hash256]) -> Hash256 {
    branch.iter().fold(merkle_leaf(first), |node, sibling| {
        merkle_node(&node, sibling)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u8) -> Vec<Txid> {
        (0..n).map(|i| Hash256([i; 32])).collect()
    }

    #[test]
    fn odd_node_is_carried_up_and_lists_do_not_collide() {
        let three = merkle_root(&ids(3));
        let mut four = ids(3);
        four.push(Hash256([2; 32]));
        // Bitcoin's duplicate-last-node rule would make these equal (CVE-2012-2459).
        assert_ne!(three, merkle_root(&four));
        assert_ne!(merkle_root(&ids(1)), ids(1)[0]);
        assert_ne!(merkle_root(&ids(2)), merkle_root(&ids(2)[..1]));
    }

    #[test]
    fn the_first_leaf_branch_rebuilds_the_root_for_any_first_txid() {
        for n in 1..=9u8 {
            let mut txids = ids(n);
            let branch = first_leaf_branch(&txids);
            assert_eq!(
                merkle_root_from_first(&txids[0], &branch),
                merkle_root(&txids)
            );
            txids[0] = Hash256([0xee; 32]);
            assert_eq!(
                merkle_root_from_first(&txids[0], &branch),
                merkle_root(&txids),
                "{n} txids"
            );
        }
    }

    #[test]
    fn root_depends_on_order() {
        let mut swapped = ids(2);
        swapped.swap(0, 1);
        assert_ne!(merkle_root(&ids(2)), merkle_root(&swapped));
    }
}
