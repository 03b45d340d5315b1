//! `UtxoSet`: the unspent outputs of the active chain.
//!
//! Owns the map from outpoint to coin. Must not validate; `chain` decides what to add and spend
//! and keeps the undo data that reverses it.

use crate::consensus::{Coin, UtxoView};
use crate::types::OutPoint;
use std::collections::HashMap;

/// Unspent outputs keyed by outpoint.
#[derive(Default, Clone, Debug)]
pub struct UtxoSet {
    coins: HashMap<OutPoint, Coin>,
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
