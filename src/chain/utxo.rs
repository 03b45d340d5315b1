//! `UtxoSet`: the unspent outputs of the active chain.
//!
//! Owns the coins, grouped by the transaction that created them: a transaction's outputs sit
//! together, so a block whose transaction creates thousands of outputs writes them in one place
//! instead of one hash-table slot each, and a lookup finds its transaction's outputs in one
//! probe. Must not validate; `chain` decides what to add and spend and keeps the undo data that
//! reverses it.

use crate::consensus::{Coin, UtxoView};
use crate::types::{OutPoint, TxOut, Txid};
use std::collections::HashMap;

/// foldhash instead of SipHash: coins are added and spent for every output of every block, and
/// SipHash was the larger part of connecting a block with many outputs. Its seed is random per
/// map, as std's is, so peers still cannot aim transaction ids at one bucket.
type TxidMap<V> = HashMap<Txid, V, foldhash::fast::RandomState>;

/// Outputs of a transaction kept inline: a coinbase, or any one-output transaction, costs no
/// allocation of its own. One is enough: a second inline coin made every entry bigger and a
/// replay of one-output blocks slower.
const INLINE_OUTPUTS: usize = 1;

/// The unspent outputs of one transaction, by output index (`None`: spent, or not added).
#[derive(Clone, Debug, Default)]
struct TxCoins {
    first: [Option<Coin>; INLINE_OUTPUTS],
    rest: Vec<Option<Coin>>,
    unspent: usize,
}

impl TxCoins {
    fn slot(&self, vout: usize) -> Option<&Option<Coin>> {
        match vout.checked_sub(INLINE_OUTPUTS) {
            None => self.first.get(vout),
            Some(index) => self.rest.get(index),
        }
    }

    fn slot_mut(&mut self, vout: usize) -> Option<&mut Option<Coin>> {
        match vout.checked_sub(INLINE_OUTPUTS) {
            None => self.first.get_mut(vout),
            Some(index) => self.rest.get_mut(index),
        }
    }

    /// Puts `coin` at `vout`; whether that slot was empty.
    fn put(&mut self, vout: usize, coin: Coin) -> bool {
        let slot = match vout.checked_sub(INLINE_OUTPUTS) {
            // `vout` is below INLINE_OUTPUTS here, the length of `first`.
            None => &mut self.first[vout],
            Some(index) => {
                if self.rest.len() <= index {
                    self.rest.resize(index + 1, None);
                }
                &mut self.rest[index]
            }
        };
        let empty = slot.replace(coin).is_none();
        if empty {
            self.unspent += 1;
        }
        empty
    }

    fn coins(&self) -> impl Iterator<Item = (usize, &Coin)> {
        self.first
            .iter()
            .chain(&self.rest)
            .enumerate()
            .filter_map(|(vout, coin)| coin.as_ref().map(|coin| (vout, coin)))
    }
}

/// Unspent outputs, by outpoint.
#[derive(Default, Clone, Debug)]
pub struct UtxoSet {
    txs: TxidMap<TxCoins>,
    len: usize,
}

impl UtxoSet {
    /// Adds (or replaces) the coin at `outpoint`.
    pub fn insert(&mut self, outpoint: OutPoint, coin: Coin) {
        let coins = self.txs.entry(outpoint.txid).or_default();
        if coins.put(outpoint.vout as usize, coin) {
            self.len += 1;
        }
    }

    /// Adds every output of transaction `txid` (made at `height`), as `insert` on each would.
    pub(crate) fn insert_outputs(
        &mut self,
        txid: Txid,
        outputs: &[TxOut],
        height: u32,
        is_coinbase: bool,
    ) {
        // No group without a coin in it: spending is what removes groups.
        if outputs.is_empty() {
            return;
        }
        let coins = self.txs.entry(txid).or_default();
        let beyond_inline = outputs.len().saturating_sub(INLINE_OUTPUTS);
        coins
            .rest
            .reserve(beyond_inline.saturating_sub(coins.rest.len()));
        for (vout, output) in outputs.iter().enumerate() {
            let coin = Coin {
                output: *output,
                height,
                is_coinbase,
            };
            if coins.put(vout, coin) {
                self.len += 1;
            }
        }
    }

    /// Removes and returns the coin, or `None` if it is not unspent.
    pub fn spend(&mut self, outpoint: &OutPoint) -> Option<Coin> {
        let coins = self.txs.get_mut(&outpoint.txid)?;
        let coin = coins.slot_mut(outpoint.vout as usize)?.take()?;
        coins.unspent -= 1;
        self.len -= 1;
        if coins.unspent == 0 {
            self.txs.remove(&outpoint.txid);
        }
        Some(coin)
    }

    /// How many coins the set holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set holds no coins.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every unspent output, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (OutPoint, &Coin)> {
        self.txs.iter().flat_map(|(txid, coins)| {
            coins.coins().map(move |(vout, coin)| {
                let outpoint = OutPoint {
                    txid: *txid,
                    // A transaction's outputs number far fewer than u32::MAX.
                    vout: vout as u32,
                };
                (outpoint, coin)
            })
        })
    }
}

impl UtxoView for UtxoSet {
    fn coin(&self, outpoint: &OutPoint) -> Option<Coin> {
        self.txs
            .get(&outpoint.txid)?
            .slot(outpoint.vout as usize)?
            .as_ref()
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Address, Amount, Hash256};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn txid(index: u8) -> Txid {
        Hash256([index; 32])
    }

    fn coin(amount: u64, height: u32) -> Coin {
        Coin {
            output: TxOut {
                amount: Amount(amount),
                address: Address([1; 20]),
            },
            height,
            is_coinbase: false,
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert { tx: u8, vout: u32, amount: u64 },
        InsertOutputs { tx: u8, amounts: Vec<u64> },
        Spend { tx: u8, vout: u32 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..4u8, 0..6u32, 1..100u64).prop_map(|(tx, vout, amount)| Op::Insert {
                tx,
                vout,
                amount
            }),
            (0..4u8, proptest::collection::vec(1..100u64, 0..6))
                .prop_map(|(tx, amounts)| Op::InsertOutputs { tx, amounts }),
            (0..4u8, 0..7u32).prop_map(|(tx, vout)| Op::Spend { tx, vout }),
        ]
    }

    fn contents(set: &UtxoSet) -> BTreeMap<OutPoint, Coin> {
        set.iter()
            .map(|(outpoint, coin)| (outpoint, *coin))
            .collect()
    }

    proptest! {
        /// The grouped set behaves as a plain map from outpoint to coin.
        #[test]
        fn behaves_as_a_map_of_outpoints(ops in proptest::collection::vec(op(), 0..60)) {
            let mut set = UtxoSet::default();
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert { tx, vout, amount } => {
                        let outpoint = OutPoint { txid: txid(tx), vout };
                        set.insert(outpoint, coin(amount, 1));
                        model.insert(outpoint, coin(amount, 1));
                    }
                    Op::InsertOutputs { tx, amounts } => {
                        let outputs: Vec<TxOut> =
                            amounts.iter().map(|amount| coin(*amount, 2).output).collect();
                        set.insert_outputs(txid(tx), &outputs, 2, false);
                        for (vout, amount) in amounts.iter().enumerate() {
                            let outpoint = OutPoint { txid: txid(tx), vout: vout as u32 };
                            model.insert(outpoint, coin(*amount, 2));
                        }
                    }
                    Op::Spend { tx, vout } => {
                        let outpoint = OutPoint { txid: txid(tx), vout };
                        prop_assert_eq!(set.spend(&outpoint), model.remove(&outpoint));
                    }
                }
                prop_assert_eq!(set.len(), model.len());
                prop_assert_eq!(set.is_empty(), model.is_empty());
            }
            prop_assert_eq!(contents(&set), model.clone());
            for tx in 0..4 {
                for vout in 0..7 {
                    let outpoint = OutPoint { txid: txid(tx), vout };
                    prop_assert_eq!(set.coin(&outpoint), model.get(&outpoint).copied());
                }
            }
        }
    }

    #[test]
    fn a_transaction_whose_outputs_are_all_spent_leaves_nothing_behind() {
        let mut set = UtxoSet::default();
        let outputs = [coin(1, 3).output, coin(2, 3).output];
        set.insert_outputs(txid(9), &outputs, 3, true);
        assert_eq!(set.len(), 2);
        for vout in [1, 0] {
            let spent = set
                .spend(&OutPoint {
                    txid: txid(9),
                    vout,
                })
                .expect("unspent");
            assert!(spent.is_coinbase);
            assert_eq!(spent.height, 3);
        }
        assert!(set.is_empty());
        assert!(set.txs.is_empty(), "no empty group kept");
        assert_eq!(
            set.spend(&OutPoint {
                txid: txid(9),
                vout: 0
            }),
            None
        );
    }
}
