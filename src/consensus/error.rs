//! `RuleError`: every consensus rule violation, each with a stable code string.
//!
//! Tests, logs and RPC replies all use `code()`. Codes follow Bitcoin Core's where one exists.
//! Must not grow variants for policy (mempool) or I/O failures; those have their own enums.

/// A consensus rule a block or transaction broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RuleError {
    // Block, context-free.
    #[error("bad-blk-length: block is over 1,000,000 encoded bytes")]
    /// The block's encoding is over `MAX_BLOCK_BYTES`.
    BlockTooLarge,
    #[error("bad-version: block version is not 1")]
    /// The block version is not the one v1 accepts.
    BadBlockVersion,
    #[error("bad-compact-bits: bits is a negative, zero or overflowing target")]
    /// The compact bits are negative, zero or overflow.
    BadCompactBits,
    #[error("high-hash: proof of work does not meet the target in bits")]
    /// The header's hash is above its target.
    HighHash,
    #[error("bad-txnmrklroot: merkle root does not match the transactions")]
    /// The merkle root does not match the transactions.
    BadMerkleRoot,
    #[error("bad-cb-missing: first transaction is not a coinbase")]
    /// The first transaction is not a coinbase.
    CoinbaseMissing,
    #[error("bad-cb-multiple: more than one coinbase")]
    /// A transaction other than the first is a coinbase.
    CoinbaseMultiple,
    #[error("bad-txns-duplicate: block contains the same transaction twice")]
    /// Two transactions share a txid.
    DuplicateTx,
    // Block, contextual.
    #[error("bad-diffbits: bits differ from the required difficulty")]
    /// The bits are not what the difficulty rule asks for.
    BadDiffBits,
    #[error("time-too-old: block time is not after the median of the last 11 blocks")]
    /// The time is not after the median of the previous 11.
    TimeTooOld,
    #[error("time-too-new: block time is too far in the future")]
    /// The time is too far ahead of the node's clock.
    TimeTooNew,
    #[error("bad-prevblk: previous block is invalid")]
    /// The parent is invalid.
    BadPrevBlock,
    #[error("bad-cb-height: coinbase height does not match the block height")]
    /// The coinbase does not carry the block's height.
    CoinbaseHeight,
    #[error("bad-cb-amount: coinbase pays more than subsidy plus fees")]
    /// The coinbase pays more than subsidy plus fees.
    CoinbaseAmount,
    // Transaction, context-free.
    #[error("bad-txns-version: transaction version is not 1")]
    /// The transaction version is unknown.
    BadTxVersion,
    #[error("bad-txns-vin-empty: transaction has no inputs")]
    /// The transaction has no inputs.
    NoInputs,
    #[error("bad-txns-vout-empty: transaction has no outputs")]
    /// The transaction has no outputs.
    NoOutputs,
    #[error("bad-txns-oversize: transaction is larger than a block")]
    /// The transaction is over the size limit.
    TxTooLarge,
    #[error("bad-txns-vout-zero: an output pays nothing")]
    /// An output pays zero.
    ZeroOutput,
    #[error("bad-txns-vout-toolarge: an output is over the money supply")]
    /// An output pays more than MAX_MONEY.
    OutputTooLarge,
    #[error("bad-txns-txouttotal-toolarge: outputs sum to more than the money supply")]
    /// The outputs together pay more than MAX_MONEY.
    OutputTotalTooLarge,
    #[error("bad-txns-inputs-duplicate: transaction spends the same outpoint twice")]
    /// An outpoint is spent twice in one transaction.
    DuplicateInputs,
    #[error("bad-cb-inputs: coinbase spends inputs")]
    /// The coinbase has inputs.
    CoinbaseHasInputs,
    // Transaction, contextual.
    #[error("bad-txns-inputs-missingorspent: an input is missing or already spent")]
    /// An input is missing or already spent.
    MissingOrSpent,
    #[error("bad-txns-premature-spend-of-coinbase: coinbase output spent before maturity")]
    /// An input spends a coinbase before it matured.
    PrematureCoinbaseSpend,
    #[error("bad-txns-inputvalues-outofrange: inputs sum to more than the money supply")]
    /// The inputs add up to more than MAX_MONEY.
    InputValuesOutOfRange,
    #[error("bad-txns-in-belowout: outputs are worth more than inputs")]
    /// The outputs pay more than the inputs hold.
    InputsBelowOutputs,
    #[error("bad-txns-pubkey-mismatch: public key does not hash to the spent output's address")]
    /// An input's public key does not own the coin.
    PubkeyMismatch,
    #[error("bad-txns-sig: signature does not verify")]
    /// A signature does not verify.
    BadSignature,
}

impl RuleError {
    /// Every variant, for tests that must cover each code.
    pub const ALL: [RuleError; 29] = [
        RuleError::BlockTooLarge,
        RuleError::BadBlockVersion,
        RuleError::BadCompactBits,
        RuleError::HighHash,
        RuleError::BadMerkleRoot,
        RuleError::CoinbaseMissing,
        RuleError::CoinbaseMultiple,
        RuleError::DuplicateTx,
        RuleError::BadDiffBits,
        RuleError::TimeTooOld,
        RuleError::TimeTooNew,
        RuleError::BadPrevBlock,
        RuleError::CoinbaseHeight,
        RuleError::CoinbaseAmount,
        RuleError::BadTxVersion,
        RuleError::NoInputs,
        RuleError::NoOutputs,
        RuleError::TxTooLarge,
        RuleError::ZeroOutput,
        RuleError::OutputTooLarge,
        RuleError::OutputTotalTooLarge,
        RuleError::DuplicateInputs,
        RuleError::CoinbaseHasInputs,
        RuleError::MissingOrSpent,
        RuleError::PrematureCoinbaseSpend,
        RuleError::InputValuesOutOfRange,
        RuleError::InputsBelowOutputs,
        RuleError::PubkeyMismatch,
        RuleError::BadSignature,
    ];

    /// The stable code: the text of the message before the first colon.
    pub fn code(&self) -> &'static str {
        match self {
            RuleError::BlockTooLarge => "bad-blk-length",
            RuleError::BadBlockVersion => "bad-version",
            RuleError::BadCompactBits => "bad-compact-bits",
            RuleError::HighHash => "high-hash",
            RuleError::BadMerkleRoot => "bad-txnmrklroot",
            RuleError::CoinbaseMissing => "bad-cb-missing",
            RuleError::CoinbaseMultiple => "bad-cb-multiple",
            RuleError::DuplicateTx => "bad-txns-duplicate",
            RuleError::BadDiffBits => "bad-diffbits",
            RuleError::TimeTooOld => "time-too-old",
            RuleError::TimeTooNew => "time-too-new",
            RuleError::BadPrevBlock => "bad-prevblk",
            RuleError::CoinbaseHeight => "bad-cb-height",
            RuleError::CoinbaseAmount => "bad-cb-amount",
            RuleError::BadTxVersion => "bad-txns-version",
            RuleError::NoInputs => "bad-txns-vin-empty",
            RuleError::NoOutputs => "bad-txns-vout-empty",
            RuleError::TxTooLarge => "bad-txns-oversize",
            RuleError::ZeroOutput => "bad-txns-vout-zero",
            RuleError::OutputTooLarge => "bad-txns-vout-toolarge",
            RuleError::OutputTotalTooLarge => "bad-txns-txouttotal-toolarge",
            RuleError::DuplicateInputs => "bad-txns-inputs-duplicate",
            RuleError::CoinbaseHasInputs => "bad-cb-inputs",
            RuleError::MissingOrSpent => "bad-txns-inputs-missingorspent",
            RuleError::PrematureCoinbaseSpend => "bad-txns-premature-spend-of-coinbase",
            RuleError::InputValuesOutOfRange => "bad-txns-inputvalues-outofrange",
            RuleError::InputsBelowOutputs => "bad-txns-in-belowout",
            RuleError::PubkeyMismatch => "bad-txns-pubkey-mismatch",
            RuleError::BadSignature => "bad-txns-sig",
        }
    }

    /// Whether a block failing this rule is invalid forever. A block from the future may become
    /// valid as the clock advances, so it is refused but not marked invalid.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, RuleError::TimeTooNew)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Where each variant stands in `ALL`. A new variant does not compile until it is given the
    /// next place here, and the test below fails until `ALL` holds it at that place.
    fn position(error: RuleError) -> usize {
        match error {
            RuleError::BlockTooLarge => 0,
            RuleError::BadBlockVersion => 1,
            RuleError::BadCompactBits => 2,
            RuleError::HighHash => 3,
            RuleError::BadMerkleRoot => 4,
            RuleError::CoinbaseMissing => 5,
            RuleError::CoinbaseMultiple => 6,
            RuleError::DuplicateTx => 7,
            RuleError::BadDiffBits => 8,
            RuleError::TimeTooOld => 9,
            RuleError::TimeTooNew => 10,
            RuleError::BadPrevBlock => 11,
            RuleError::CoinbaseHeight => 12,
            RuleError::CoinbaseAmount => 13,
            RuleError::BadTxVersion => 14,
            RuleError::NoInputs => 15,
            RuleError::NoOutputs => 16,
            RuleError::TxTooLarge => 17,
            RuleError::ZeroOutput => 18,
            RuleError::OutputTooLarge => 19,
            RuleError::OutputTotalTooLarge => 20,
            RuleError::DuplicateInputs => 21,
            RuleError::CoinbaseHasInputs => 22,
            RuleError::MissingOrSpent => 23,
            RuleError::PrematureCoinbaseSpend => 24,
            RuleError::InputValuesOutOfRange => 25,
            RuleError::InputsBelowOutputs => 26,
            RuleError::PubkeyMismatch => 27,
            RuleError::BadSignature => 28,
        }
    }

    #[test]
    fn all_holds_every_variant_once_in_order() {
        for (index, error) in RuleError::ALL.into_iter().enumerate() {
            assert_eq!(position(error), index, "{error:?}");
        }
    }

    #[test]
    fn codes_are_unique_and_lead_the_message() {
        let codes: HashSet<&str> = RuleError::ALL.iter().map(RuleError::code).collect();
        assert_eq!(codes.len(), RuleError::ALL.len());
        for error in RuleError::ALL {
            assert!(error
                .to_string()
                .starts_with(&format!("{}: ", error.code())));
        }
    }
}
