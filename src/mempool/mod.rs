//! Mempool: loose transactions waiting for a block.
//!
//! Owns the pool of unconfirmed transactions: admission under the same rules as a block's
//! transactions (against the tip's UTXO set plus the pool's own outputs), first-seen conflict
//! resolution, the byte bound with lowest-fee-rate eviction (`evict`), picking transactions for
//! a block template (`select`) and the reaction to a moved tip (`tip`).
//!
//! Must not touch the UTXO set or the block tree: callers pass a read-only `UtxoView` of the tip
//! and the `TipChanged` the chain reported. No I/O, no clock.

mod error;
mod evict;
mod select;
mod tip;

pub use error::MempoolError;
pub use tip::MempoolUpdate;

use crate::chain::{Chain, TipChanged};
use crate::consensus::rules::{check_transaction, check_tx_inputs, verify_signatures};
use crate::consensus::{Coin, UtxoView};
use crate::params::Params;
use crate::types::{Amount, OutPoint, Transaction, TxOut, Txid};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A transaction in the pool with the facts admission worked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MempoolEntry {
    /// The transaction.
    pub tx: Transaction,
    /// Its txid.
    pub txid: Txid,
    /// The fee it pays.
    pub fee: Amount,
    /// Encoded size in bytes.
    pub size: usize,
    seq: u64,
}

impl MempoolEntry {
    /// Admission order: a smaller number was seen first.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    fn fee_rate(&self) -> FeeRate {
        FeeRate::new(self.fee.units(), self.size)
    }
}

/// A transaction the pool took, and what it pushed out to make room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The admitted transaction's txid.
    pub txid: Txid,
    /// The fee it pays.
    pub fee: Amount,
    /// Entries evicted for it, each with its descendants, lowest fee rate first.
    pub evicted: Vec<Txid>,
}

/// Unconfirmed transactions, bounded by their total encoded size.
///
/// Parent and child links are not stored: a transaction's parents are the pool entries its
/// inputs name, and its children are the spenders of its outputs in the `spenders` index, so the
/// links can never disagree with the index.
#[derive(Clone, Debug)]
pub struct Mempool {
    max_bytes: usize,
    /// Base units per encoded byte.
    min_fee_rate: u64,
    entries: HashMap<Txid, MempoolEntry>,
    by_seq: BTreeMap<u64, Txid>,
    /// Every outpoint a pool transaction spends, and which one.
    spenders: HashMap<OutPoint, Txid>,
    total_bytes: usize,
    next_seq: u64,
}

impl Mempool {
    /// An empty pool holding at most `max_bytes` of encoded transactions, each paying at least
    /// `min_fee_rate` base units per encoded byte.
    pub fn new(max_bytes: usize, min_fee_rate: u64) -> Mempool {
        Mempool {
            max_bytes,
            min_fee_rate,
            entries: HashMap::new(),
            by_seq: BTreeMap::new(),
            spenders: HashMap::new(),
            total_bytes: 0,
            next_seq: 0,
        }
    }

    /// Admits a transaction against the tip of `chain` (see `accept`).
    pub(crate) fn accept_on_tip(
        &mut self,
        tx: Transaction,
        chain: &Chain,
    ) -> Result<Accepted, MempoolError> {
        self.accept(tx, chain.utxos(), chain.height() + 1, chain.params())
    }

    /// Follows `chain` after it moved by `change` (see `apply_tip_change`).
    pub fn follow_chain(&mut self, change: &TipChanged, chain: &Chain) -> MempoolUpdate {
        self.apply_tip_change(change, chain.utxos(), chain.height() + 1, chain.params())
    }

    /// Admits a loose transaction against `view` (the tip's UTXO set) plus the outputs of
    /// transactions already in the pool, so chained spends are allowed. `next_height` is the tip
    /// height + 1, the height the transaction would confirm at (for coinbase maturity).
    ///
    /// If the pool then holds more than its byte bound, the lowest-fee-rate entries go, each
    /// with its descendants; if that would include the new transaction, it is refused with
    /// `PoolFull` and the pool is left as it was.
    pub fn accept(
        &mut self,
        tx: Transaction,
        view: &impl UtxoView,
        next_height: u32,
        params: &Params,
    ) -> Result<Accepted, MempoolError> {
        if tx.is_coinbase() {
            return Err(MempoolError::Coinbase);
        }
        check_transaction(&tx)?;
        let txid = tx.txid();
        if self.entries.contains_key(&txid) {
            return Err(MempoolError::AlreadyInPool);
        }
        if (0u32..)
            .zip(&tx.outputs)
            .any(|(vout, _)| view.coin(&OutPoint { txid, vout }).is_some())
        {
            return Err(MempoolError::AlreadyConfirmed);
        }
        if let Some(spender) = tx
            .inputs
            .iter()
            .find_map(|input| self.spenders.get(&input.prevout))
        {
            return Err(MempoolError::Conflict(*spender));
        }
        let fee = check_tx_inputs(&tx, &self.view(view, next_height), next_height, params)?;
        let size = tx.encoded_len();
        let min = Amount(self.min_fee_rate.saturating_mul(size as u64));
        if fee < min {
            return Err(MempoolError::FeeTooLow { fee, min });
        }
        // Last, because it is the expensive check.
        verify_signatures(&tx)?;

        self.insert(MempoolEntry {
            tx,
            txid,
            fee,
            size,
            seq: self.next_seq,
        });
        self.next_seq += 1;
        let evicted = self.eviction_plan();
        if evicted.contains(&txid) {
            // The new entry has no children yet, so removing it alone restores the pool.
            self.remove_entry(&txid);
            return Err(MempoolError::PoolFull);
        }
        for victim in &evicted {
            self.remove_entry(victim);
        }
        Ok(Accepted { txid, fee, evicted })
    }

    /// The entry of `txid`.
    pub fn get(&self, txid: &Txid) -> Option<&MempoolEntry> {
        self.entries.get(txid)
    }

    /// Whether `txid` is in the pool.
    pub fn contains(&self, txid: &Txid) -> bool {
        self.entries.contains_key(txid)
    }

    /// How many transactions the pool holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sum of the encoded sizes of the pool's transactions.
    pub fn total_bytes(&self) -> usize {
        self.total_bytes
    }

    /// The byte bound.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Sum of the fees of the pool's transactions.
    pub fn total_fees(&self) -> Amount {
        // Cannot really saturate: the fees are paid out of distinct coins of one money supply.
        Amount(
            self.entries
                .values()
                .fold(0u64, |sum, entry| sum.saturating_add(entry.fee.units())),
        )
    }

    /// The pool's transactions in the order they were first seen.
    pub fn entries(&self) -> impl Iterator<Item = &MempoolEntry> {
        self.by_seq
            .values()
            .filter_map(|txid| self.entries.get(txid))
    }

    /// The pool transaction spending `outpoint`, if any.
    pub fn spender_of(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.spenders.get(outpoint).copied()
    }

    /// Outputs created by pool transactions that no pool transaction spends yet (unconfirmed
    /// change a wallet may show), in first-seen order.
    pub fn unspent_outputs(&self) -> impl Iterator<Item = (OutPoint, TxOut)> + '_ {
        self.entries().flat_map(move |entry| {
            (0u32..)
                .zip(&entry.tx.outputs)
                .map(move |(vout, output)| {
                    let outpoint = OutPoint {
                        txid: entry.txid,
                        vout,
                    };
                    (outpoint, *output)
                })
                .filter(|(outpoint, _)| !self.spenders.contains_key(outpoint))
        })
    }

    /// `chain` as a transaction entering the pool sees it: pool outputs added, outpoints the
    /// pool spends hidden. Pool outputs appear at `next_height`, where they would confirm.
    pub fn view<'a, V: UtxoView>(&'a self, chain: &'a V, next_height: u32) -> MempoolView<'a, V> {
        MempoolView {
            pool: self,
            chain,
            next_height,
        }
    }

    fn insert(&mut self, entry: MempoolEntry) {
        for input in &entry.tx.inputs {
            self.spenders.insert(input.prevout, entry.txid);
        }
        self.by_seq.insert(entry.seq, entry.txid);
        self.total_bytes += entry.size;
        self.entries.insert(entry.txid, entry);
    }

    /// Removes one entry; its children, if any, stay (the caller decides whether their inputs
    /// are now confirmed or they must go too).
    fn remove_entry(&mut self, txid: &Txid) -> Option<MempoolEntry> {
        let entry = self.entries.remove(txid)?;
        for input in &entry.tx.inputs {
            if self.spenders.get(&input.prevout) == Some(txid) {
                self.spenders.remove(&input.prevout);
            }
        }
        self.by_seq.remove(&entry.seq);
        self.total_bytes -= entry.size;
        Some(entry)
    }

    /// Removes an entry and everything that spends its outputs, directly or not. Returns the
    /// removed txids, the entry first.
    fn remove_with_descendants(&mut self, txid: &Txid) -> Vec<Txid> {
        let mut doomed = vec![*txid];
        doomed.extend(self.descendants(txid));
        doomed.retain(|id| self.remove_entry(id).is_some());
        doomed
    }

    /// Pool entries spending an output of `txid`.
    fn children(&self, txid: &Txid) -> HashSet<Txid> {
        let Some(entry) = self.entries.get(txid) else {
            return HashSet::new();
        };
        (0u32..)
            .zip(&entry.tx.outputs)
            .filter_map(|(vout, _)| self.spenders.get(&OutPoint { txid: *txid, vout }))
            .copied()
            .collect()
    }

    /// Every pool entry that spends `txid`'s outputs, directly or through others; each listed
    /// once, never `txid` itself.
    fn descendants(&self, txid: &Txid) -> Vec<Txid> {
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        let mut frontier = vec![*txid];
        while let Some(next) = frontier.pop() {
            for child in self.children(&next) {
                if seen.insert(child) {
                    found.push(child);
                    frontier.push(child);
                }
            }
        }
        found
    }

    /// Pool entries whose outputs `entry` spends.
    fn parents(&self, entry: &MempoolEntry) -> HashSet<Txid> {
        entry
            .tx
            .inputs
            .iter()
            .map(|input| input.prevout.txid)
            .filter(|txid| self.entries.contains_key(txid))
            .collect()
    }
}

/// The chain's UTXO view with the pool layered over it; see `Mempool::view`.
pub struct MempoolView<'a, V> {
    pool: &'a Mempool,
    chain: &'a V,
    next_height: u32,
}

impl<V: UtxoView> UtxoView for MempoolView<'_, V> {
    fn coin(&self, outpoint: &OutPoint) -> Option<Coin> {
        if self.pool.spenders.contains_key(outpoint) {
            return None;
        }
        match self.pool.entries.get(&outpoint.txid) {
            Some(entry) => {
                let index = usize::try_from(outpoint.vout).ok()?;
                entry.tx.outputs.get(index).map(|output| Coin {
                    output: *output,
                    height: self.next_height,
                    is_coinbase: false,
                })
            }
            None => self.chain.coin(outpoint),
        }
    }
}

/// Fee per encoded byte, compared exactly by cross-multiplying instead of dividing.
#[derive(Clone, Copy, Debug)]
struct FeeRate {
    fee: u64,
    size: u64,
}

impl FeeRate {
    fn new(fee: u64, size: usize) -> FeeRate {
        FeeRate {
            fee,
            size: size as u64,
        }
    }
}

impl Ord for FeeRate {
    fn cmp(&self, other: &Self) -> Ordering {
        (u128::from(self.fee) * u128::from(other.size))
            .cmp(&(u128::from(other.fee) * u128::from(self.size)))
    }
}

impl PartialOrd for FeeRate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for FeeRate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for FeeRate {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_rates_compare_exactly() {
        assert!(FeeRate::new(3, 2) > FeeRate::new(1, 1));
        assert_eq!(FeeRate::new(2, 2), FeeRate::new(5, 5));
        assert!(FeeRate::new(u64::MAX - 1, usize::MAX) < FeeRate::new(u64::MAX, usize::MAX));
        assert!(FeeRate::new(0, 1) < FeeRate::new(1, 1_000_000));
    }
}
