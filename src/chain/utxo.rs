//! `UtxoSet`: the unspent outputs of the active chain.
//!
//! Owns the map from outpoint to coin. Must not validate; `chain` decides what to add and spend
//! and keeps the undo data that reverses it.

use crate::consensus::{Coin, UtxoView};
use crate::types::OutPoint;
use std::collections::HashMap;

/// foldhash instead of SipHash: outpoints are inserted and removed for every output of every
/// block, and SipHash was the larger part of connecting a block with many outputs. Its seed is
/// random per map, as std's is, so peers still cannot aim transaction ids at one bucket.
type OutPointMap = HashMap<OutPoint, Coin, foldhash::fast::RandomState>;

/// Unspent outputs keyed by outpoint.
#[derive(Default, Clone, Debug)]
pub struct UtxoSet {
    coins: OutPointMap,
}

impl UtxoSet {
    pub fn insert(&mut self, outpoint: OutPoint, coin: Coin) {
        self.coins.insert(outpoint, coin);
    }

    /// Removes and returns the coin, or `None` if it is not unspent.
    pub fn spend(&mut self, outpoint: &OutPoint) -> Option<Coin> {
        self.coins.remove(outpoint)
    }

    pub fn len(&self) -> usize {
        self.coins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.coins.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&OutPoint, &Coin)> {
        self.coins.iter()
    }
}

impl UtxoView for UtxoSet {
    fn coin(&self, outpoint: &OutPoint) -> Option<Coin> {
        self.coins.get(outpoint).copied()
    }
}
