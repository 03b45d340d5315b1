//! Blocks and header lists together with their hashes, computed once from the data they carry.
//!
//! Hashing is most of what checking a small block costs. Whoever holds a block first hashes it
//! — the network shell does so on a connection's reader task, as it decodes the message — so
//! the node's event loop, which must validate blocks one at a time, only compares. The fields
//! are private and filled only from the data itself, so a hash here is always the data's.
//! Owns no checks: `consensus` decides what the hashes must match.

use super::block::merkle_root;
use super::hash::Hash256;
use super::header::BlockHeader;
use super::tx::{Transaction, Txid};
use super::Block;
use std::sync::Arc;

/// A block with its header hash, transaction ids, the merkle root of those ids (not the one
/// its header claims) and its encoded size.
#[derive(Clone, Debug)]
pub struct HashedBlock {
    block: Arc<Block>,
    hash: Hash256,
    /// Shared: every node that keeps the block keeps the same ids.
    txids: Arc<[Txid]>,
    merkle_root: Hash256,
    encoded_len: usize,
}

impl HashedBlock {
    /// Hashes `block`'s header.
    pub fn new(block: impl Into<Arc<Block>>) -> HashedBlock {
        let block = block.into();
        let txids: Arc<[Txid]> = block.transactions.iter().map(Transaction::txid).collect();
        HashedBlock {
            hash: block.hash(),
            merkle_root: merkle_root(&txids),
            encoded_len: block.encoded_len(),
            txids,
            block,
        }
    }

    /// The block.
    pub fn block(&self) -> &Arc<Block> {
        &self.block
    }

    /// The block's hash.
    pub fn hash(&self) -> Hash256 {
        self.hash
    }

    /// The ids of the block's transactions, in block order.
    pub fn txids(&self) -> &[Txid] {
        &self.txids
    }

    /// The merkle root of `txids`, to compare with the header's.
    pub fn merkle_root(&self) -> Hash256 {
        self.merkle_root
    }

    /// Bytes of the block's encoding.
    pub fn encoded_len(&self) -> usize {
        self.encoded_len
    }

    /// The block and its transaction ids, for whoever keeps them.
    pub(crate) fn into_parts(self) -> (Arc<Block>, Arc<[Txid]>) {
        (self.block, self.txids)
    }
}

/// A list of headers with each one's hash, in the same order.
#[derive(Clone, Debug)]
pub struct HashedHeaders {
    headers: Vec<BlockHeader>,
    hashes: Vec<Hash256>,
}

impl HashedHeaders {
    /// Hashes each header.
    pub fn new(headers: Vec<BlockHeader>) -> HashedHeaders {
        HashedHeaders {
            hashes: headers.iter().map(BlockHeader::hash).collect(),
            headers,
        }
    }

    /// The headers.
    pub fn headers(&self) -> &[BlockHeader] {
        &self.headers
    }

    /// Each header with its hash.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&BlockHeader, Hash256)> {
        self.headers.iter().zip(self.hashes.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Address, Amount, CoinbaseData, Padding, TxOut};

    fn header(nonce: u32) -> BlockHeader {
        BlockHeader {
            version: 1,
            prev_hash: Hash256([7; 32]),
            merkle_root: Hash256::ZERO,
            time: 1_700_000_000,
            bits: 0x207f_ffff,
            nonce,
        }
    }

    fn block_of(transactions: u64) -> Block {
        let coinbase = |extra_nonce: u64| Transaction {
            version: Transaction::VERSION,
            coinbase: Some(CoinbaseData {
                height: 1,
                extra_nonce,
                padding: Padding::default(),
            }),
            inputs: Vec::new(),
            outputs: vec![TxOut {
                amount: Amount(1),
                address: Address([0; 20]),
            }],
        };
        Block {
            header: header(0),
            transactions: (0..transactions).map(coinbase).collect(),
        }
    }

    #[test]
    fn a_hashed_block_carries_the_hashes_of_its_own_data() {
        let block = block_of(3);
        let hashed = HashedBlock::new(block.clone());
        assert_eq!(hashed.hash(), block.hash());
        assert_eq!(hashed.merkle_root(), block.compute_merkle_root());
        assert_eq!(hashed.encoded_len(), block.encoded_len());
        let txids: Vec<Txid> = block.transactions.iter().map(Transaction::txid).collect();
        assert_eq!(hashed.txids(), txids.as_slice());
        assert_eq!(**hashed.block(), block);
    }

    #[test]
    fn hashed_headers_pair_each_header_with_its_hash() {
        let headers: Vec<BlockHeader> = (0..4).map(header).collect();
        let hashed = HashedHeaders::new(headers.clone());
        assert_eq!(hashed.headers(), headers.as_slice());
        let pairs: Vec<(BlockHeader, Hash256)> = hashed
            .iter()
            .map(|(header, hash)| (*header, hash))
            .collect();
        let expected: Vec<(BlockHeader, Hash256)> = headers
            .iter()
            .map(|header| (*header, header.hash()))
            .collect();
        assert_eq!(pairs, expected);
    }
}
