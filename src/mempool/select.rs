//! Selection: the pool's transactions for a block template.
//!
//! Greedy by fee rate over the transactions whose pool parents are already picked, so parents
//! always come before children. A transaction that does not fit is skipped, and its descendants
//! with it. Must not mutate the pool; it is emptied by the block's connection, not by mining.

use super::{FeeRate, Mempool};
use crate::types::{Amount, Transaction, Txid};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// A transaction whose parents are all picked; the heap pops the highest fee rate, the first
/// seen on a tie.
#[derive(PartialEq, Eq)]
struct Ready {
    rate: FeeRate,
    seq: u64,
    txid: Txid,
}

impl Ord for Ready {
    fn cmp(&self, other: &Self) -> Ordering {
        // Sequence numbers are unique; the txid only keeps `Ord` in step with the derived `Eq`.
        self.rate
            .cmp(&other.rate)
            .then(other.seq.cmp(&self.seq))
            .then(self.txid.cmp(&other.txid))
    }
}

impl PartialOrd for Ready {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Mempool {
    /// Transactions for a block template, each with its fee: parents before children, highest
    /// fee rate first otherwise, their encoded sizes summing to at most `max_bytes` (the caller
    /// leaves room for the header and the coinbase).
    pub fn select_for_block(&self, max_bytes: usize) -> Vec<(Transaction, Amount)> {
        let mut waiting: HashMap<Txid, usize> = HashMap::new();
        let mut ready = BinaryHeap::new();
        for entry in self.entries.values() {
            match self.parents(entry).len() {
                0 => ready.extend(self.ready(&entry.txid)),
                parents => {
                    waiting.insert(entry.txid, parents);
                }
            }
        }
        let mut room = max_bytes;
        let mut picked = Vec::new();
        while let Some(Ready { txid, .. }) = ready.pop() {
            let Some(entry) = self.entries.get(&txid) else {
                continue;
            };
            if entry.size > room {
                continue;
            }
            room -= entry.size;
            picked.push((entry.tx.clone(), entry.fee));
            for child in self.children(&txid) {
                if let Some(parents_left) = waiting.get_mut(&child) {
                    *parents_left -= 1;
                    if *parents_left == 0 {
                        waiting.remove(&child);
                        ready.extend(self.ready(&child));
                    }
                }
            }
        }
        picked
    }

    fn ready(&self, txid: &Txid) -> Option<Ready> {
        self.entries.get(txid).map(|entry| Ready {
            rate: entry.fee_rate(),
            seq: entry.seq,
            txid: *txid,
        })
    }
}
