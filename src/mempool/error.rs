//! `MempoolError`: why a transaction was refused or dropped, each with a stable code string.
//!
//! Consensus failures pass through as `Rule` with the `RuleError` code; the other variants are
//! policy (the pool's own rules). Codes follow Bitcoin Core's where one exists.

use crate::consensus::RuleError;
use crate::types::{Amount, Txid};

/// Why the mempool refused a transaction, or dropped one it held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// A consensus rule the transaction breaks, as a block would report it.
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("txn-already-in-mempool: transaction is already in the mempool")]
    /// The transaction is in the pool already.
    AlreadyInPool,
    #[error("txn-mempool-conflict: spends an output already spent by mempool transaction {0}")]
    /// It spends an output a pool transaction spends (first seen wins).
    Conflict(Txid),
    #[error("txn-already-known: transaction is already confirmed")]
    /// It is confirmed already.
    AlreadyConfirmed,
    #[error("coinbase: a coinbase is only valid inside a block")]
    /// A coinbase cannot be relayed.
    Coinbase,
    #[error("min-relay-fee-not-met: fee {fee} is below the minimum {min}")]
    /// Its fee rate is below the minimum relay fee.
    FeeTooLow {
        /// The fee it pays.
        fee: Amount,
        /// The least it must pay.
        min: Amount,
    },
    #[error("mempool-full: transaction pays too little to displace what the mempool holds")]
    /// The pool is full of transactions paying more.
    PoolFull,
    /// Only reported by `Mempool::apply_tip_change`: the transaction (or an ancestor) spends an
    /// output that this transaction of a newly connected block spent.
    #[error("txn-block-conflict: spends an output already spent by block transaction {0}")]
    ConflictsWithBlock(Txid),
}

impl MempoolError {
    /// The stable code: the text of the message before the first colon.
    pub fn code(&self) -> &'static str {
        match self {
            MempoolError::Rule(rule) => rule.code(),
            MempoolError::AlreadyInPool => "txn-already-in-mempool",
            MempoolError::Conflict(_) => "txn-mempool-conflict",
            MempoolError::AlreadyConfirmed => "txn-already-known",
            MempoolError::Coinbase => "coinbase",
            MempoolError::FeeTooLow { .. } => "min-relay-fee-not-met",
            MempoolError::PoolFull => "mempool-full",
            MempoolError::ConflictsWithBlock(_) => "txn-block-conflict",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Hash256;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_lead_the_message() {
        let policy = [
            MempoolError::AlreadyInPool,
            MempoolError::Conflict(Hash256([1; 32])),
            MempoolError::AlreadyConfirmed,
            MempoolError::Coinbase,
            MempoolError::FeeTooLow {
                fee: Amount(1),
                min: Amount(2),
            },
            MempoolError::PoolFull,
            MempoolError::ConflictsWithBlock(Hash256([2; 32])),
        ];
        let rules = RuleError::ALL.map(MempoolError::Rule);
        let all: Vec<MempoolError> = policy.into_iter().chain(rules).collect();
        let codes: HashSet<&str> = all.iter().map(MempoolError::code).collect();
        assert_eq!(codes.len(), all.len());
        for error in all {
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("{}: ", error.code())),
                "{error}"
            );
        }
    }
}
