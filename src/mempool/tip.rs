//! The pool's reaction to a moved tip.
//!
//! A plain extension removes what the new blocks confirmed and what conflicts with them (with
//! descendants), touching nothing else. A reorg rebuilds the pool: the transactions of the
//! disconnected blocks (oldest first) and then the previous pool (first-seen order) are admitted
//! again against the new tip, so anything the new branch made invalid is dropped and reported.
//! Must not read the block tree; everything comes from `TipChanged` and the post-move view.

use super::{Accepted, Mempool, MempoolEntry, MempoolError};
use crate::chain::TipChanged;
use crate::consensus::{RuleError, UtxoView};
use crate::params::Params;
use crate::types::{Block, OutPoint, Transaction, Txid};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// What a tip change did to the pool.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MempoolUpdate {
    /// Pool transactions the connected blocks confirmed.
    pub confirmed: Vec<Txid>,
    /// Transactions of disconnected blocks now back in the pool, oldest block first.
    pub returned: Vec<Txid>,
    /// Transactions removed or not taken back, and why: a conflict with the new branch
    /// (`ConflictsWithBlock`, also for their descendants), or any refusal on re-admission.
    pub dropped: Vec<(Txid, MempoolError)>,
}

/// The non-coinbase transactions of the connected blocks.
struct Branch {
    txids: HashSet<Txid>,
    /// Which branch transaction spent each outpoint.
    spent: HashMap<OutPoint, Txid>,
}

impl Branch {
    fn of(blocks: &[Arc<Block>]) -> Branch {
        let mut branch = Branch {
            txids: HashSet::new(),
            spent: HashMap::new(),
        };
        for tx in non_coinbase(blocks.iter()) {
            let txid = tx.txid();
            branch.txids.insert(txid);
            for input in &tx.inputs {
                branch.spent.insert(input.prevout, txid);
            }
        }
        branch
    }
}

fn non_coinbase<'a>(
    blocks: impl Iterator<Item = &'a Arc<Block>>,
) -> impl Iterator<Item = &'a Transaction> {
    blocks.flat_map(|block| block.transactions.iter().filter(|tx| !tx.is_coinbase()))
}

impl Mempool {
    /// Brings the pool in line with the chain after it moved. `view` is the UTXO set after the
    /// move and `next_height` the new tip's height + 1.
    pub fn apply_tip_change(
        &mut self,
        change: &TipChanged,
        view: &impl UtxoView,
        next_height: u32,
        params: &Params,
    ) -> MempoolUpdate {
        if change.is_reorg() {
            self.rebuild(change, view, next_height, params)
        } else {
            self.remove_confirmed(&change.connected)
        }
    }

    /// The plain extension: every other entry stays valid, because an extension only spends
    /// outputs and ages coinbases.
    fn remove_confirmed(&mut self, connected: &[Arc<Block>]) -> MempoolUpdate {
        let mut update = MempoolUpdate::default();
        for tx in non_coinbase(connected.iter()) {
            let txid = tx.txid();
            // Its children stay: the outputs they spend are now in the chain.
            if self.remove_entry(&txid).is_some() {
                update.confirmed.push(txid);
                continue;
            }
            for input in &tx.inputs {
                if let Some(conflict) = self.spender_of(&input.prevout) {
                    for dropped in self.remove_with_descendants(&conflict) {
                        update
                            .dropped
                            .push((dropped, MempoolError::ConflictsWithBlock(txid)));
                    }
                }
            }
        }
        update
    }

    fn rebuild(
        &mut self,
        change: &TipChanged,
        view: &impl UtxoView,
        next_height: u32,
        params: &Params,
    ) -> MempoolUpdate {
        let branch = Branch::of(&change.connected);
        let previous: Vec<MempoolEntry> = std::mem::take(&mut self.by_seq)
            .into_values()
            .filter_map(|txid| self.entries.remove(&txid))
            .collect();
        self.entries.clear();
        self.spenders.clear();
        self.total_bytes = 0;

        let mut rebuild = Rebuild {
            branch,
            update: MempoolUpdate::default(),
            conflict_roots: HashMap::new(),
        };
        for tx in non_coinbase(change.disconnected.iter().rev()) {
            let txid = tx.txid();
            if rebuild.branch.txids.contains(&txid) {
                continue;
            }
            let outcome = self.accept(tx.clone(), view, next_height, params);
            if rebuild.record(tx, outcome) {
                rebuild.update.returned.push(txid);
            }
        }
        for entry in previous {
            if rebuild.branch.txids.contains(&entry.txid) {
                rebuild.update.confirmed.push(entry.txid);
                continue;
            }
            let outcome = self.accept(entry.tx.clone(), view, next_height, params);
            rebuild.record(&entry.tx, outcome);
        }
        rebuild.update
    }
}

/// Bookkeeping while a reorg re-admits transactions.
struct Rebuild {
    branch: Branch,
    update: MempoolUpdate,
    /// Dropped txid → the branch transaction it (or an ancestor) conflicts with.
    conflict_roots: HashMap<Txid, Txid>,
}

impl Rebuild {
    /// Records a re-admission's outcome; returns whether it added `tx` to the pool.
    fn record(&mut self, tx: &Transaction, outcome: Result<Accepted, MempoolError>) -> bool {
        match outcome {
            Ok(accepted) => {
                for evicted in accepted.evicted {
                    self.update.returned.retain(|txid| *txid != evicted);
                    self.update.dropped.push((evicted, MempoolError::PoolFull));
                }
                true
            }
            // The same transaction in a disconnected block and in the previous pool.
            Err(MempoolError::AlreadyInPool) => false,
            Err(error) => {
                let txid = tx.txid();
                let error = self.explain(tx, error);
                if let MempoolError::ConflictsWithBlock(root) = error {
                    self.conflict_roots.insert(txid, root);
                }
                self.update.dropped.push((txid, error));
                false
            }
        }
    }

    /// A missing input is a conflict when the new branch spent it, or when it was created by a
    /// transaction dropped for such a conflict.
    fn explain(&self, tx: &Transaction, error: MempoolError) -> MempoolError {
        if error != MempoolError::Rule(RuleError::MissingOrSpent) {
            return error;
        }
        tx.inputs
            .iter()
            .find_map(|input| {
                self.branch
                    .spent
                    .get(&input.prevout)
                    .or_else(|| self.conflict_roots.get(&input.prevout.txid))
            })
            .map_or(error, |root| MempoolError::ConflictsWithBlock(*root))
    }
}
