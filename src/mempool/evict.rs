//! Eviction: which entries leave when the pool is over its byte bound.
//!
//! An entry is ranked by the better of its own fee rate and the fee rate of it together with
//! its descendants (Bitcoin Core's descendant score), so a cheap parent that a well-paying child
//! pays for is not the first to go. The lowest-ranked entry goes with all its descendants, the
//! newest first on a tie so that the first seen stays. Must not mutate: the caller applies the
//! plan, or drops it when the plan takes the transaction being admitted.

use super::{FeeRate, Mempool, MempoolEntry};
use crate::types::Txid;
use std::collections::HashSet;

impl Mempool {
    /// Txids to remove, in order, to bring the pool under its byte bound; empty when it fits.
    pub(super) fn eviction_plan(&self) -> Vec<Txid> {
        let mut doomed = HashSet::new();
        let mut plan = Vec::new();
        let mut bytes = self.total_bytes;
        while bytes > self.max_bytes {
            let victim = self
                .entries
                .values()
                .filter(|entry| !doomed.contains(&entry.txid))
                .map(|entry| (self.eviction_score(entry, &doomed), entry))
                .min_by(|(score_a, a), (score_b, b)| score_a.cmp(score_b).then(b.seq.cmp(&a.seq)));
            let Some((_, victim)) = victim else {
                break;
            };
            let mut group = vec![victim.txid];
            group.extend(self.descendants(&victim.txid));
            for txid in group {
                if let Some(entry) = self.entries.get(&txid) {
                    if doomed.insert(txid) {
                        bytes -= entry.size;
                        plan.push(txid);
                    }
                }
            }
        }
        plan
    }

    /// The better of the entry's own fee rate and that of its package with the descendants not
    /// already doomed.
    fn eviction_score(&self, entry: &MempoolEntry, doomed: &HashSet<Txid>) -> FeeRate {
        let (fee, size) = self
            .descendants(&entry.txid)
            .iter()
            .filter(|txid| !doomed.contains(txid))
            .filter_map(|txid| self.entries.get(txid))
            .fold((entry.fee.units(), entry.size), |(fee, size), child| {
                (
                    fee.saturating_add(child.fee.units()),
                    size.saturating_add(child.size),
                )
            });
        entry.fee_rate().max(FeeRate::new(fee, size))
    }
}
