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
    pub header: BlockHeader,
    pub transactions: Vec<Transaction>,
}

impl Block {
    pub fn hash(&self) -> Hash256 {
        self.header.hash()
    }

    pub fn encoded_len(&self) -> usize {
        codec::encoded_len(self)
    }

    /// The merkle root of this block's transactions (not the one its header claims).
    pub fn compute_merkle_root(&self) -> Hash256 {
        let txids: Vec<Txid> = self.transactions.iter().map(Transaction::txid).collect();
        merkle_root(&txids)
    }
}

/// Merkle root over txids; the root of no transactions is all zeros.
pub fn merkle_root(txids: &[Txid]) -> Hash256 {
    let mut level: Vec<Hash256> = txids
        .iter()
        .map(|txid| sha256d_parts(&[&[0x00], &txid.0]))
        .collect();
    if level.is_empty() {
        return Hash256::ZERO;
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => sha256d_parts(&[&[0x01], &left.0, &right.0]),
                [odd] => *odd,
                _ => unreachable!("chunks(2) yields one or two items"),
            })
            .collect();
    }
    level[0]
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
    fn root_depends_on_order() {
        let mut swapped = ids(2);
        swapped.swap(0, 1);
        assert_ne!(merkle_root(&ids(2)), merkle_root(&swapped));
    }
}
