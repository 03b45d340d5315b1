//! The checks behind every `RuleError`: context-free block and transaction checks, the header
//! checks that need the parent's context, and the input checks that need a UTXO view.
//!
//! Pure functions over their arguments: the caller supplies the clock, the ancestors' facts and
//! the coins. Must not mutate anything or decide what happens to a failing block (the chain
//! marks, the mempool refuses).

use super::error::RuleError;
use super::pow::{check_proof_of_work, next_bits, RetargetInput};
use crate::params::{Params, BLOCK_VERSION, MAX_BLOCK_BYTES};
use crate::types::{
    Address, Amount, Block, BlockHeader, Hash256, HashedBlock, OutPoint, Transaction, TxOut,
    MAX_MONEY,
};
use ed25519_dalek::{Signature, VerifyingKey};
use std::collections::HashSet;

/// An unspent output and where it was created.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Coin {
    /// The output the coin is.
    pub output: TxOut,
    /// The height of the block that created it.
    pub height: u32,
    /// Whether it was created by a coinbase (maturity applies).
    pub is_coinbase: bool,
}

/// Read access to unspent outputs.
pub trait UtxoView {
    /// The unspent coin at `outpoint`, if there is one.
    fn coin(&self, outpoint: &OutPoint) -> Option<Coin>;
}

/// Transaction checks that need nothing but the transaction.
pub fn check_transaction(tx: &Transaction) -> Result<(), RuleError> {
    if tx.version != Transaction::VERSION {
        return Err(RuleError::BadTxVersion);
    }
    if tx.is_coinbase() {
        if !tx.inputs.is_empty() {
            return Err(RuleError::CoinbaseHasInputs);
        }
    } else if tx.inputs.is_empty() {
        return Err(RuleError::NoInputs);
    }
    if tx.outputs.is_empty() {
        return Err(RuleError::NoOutputs);
    }
    if tx.encoded_len() > MAX_BLOCK_BYTES {
        return Err(RuleError::TxTooLarge);
    }
    let mut total = Amount::ZERO;
    for output in &tx.outputs {
        if output.amount == Amount::ZERO {
            return Err(RuleError::ZeroOutput);
        }
        if !output.amount.is_in_range() {
            return Err(RuleError::OutputTooLarge);
        }
        total = total
            .checked_add(output.amount)
            .filter(|sum| sum.is_in_range())
            .ok_or(RuleError::OutputTotalTooLarge)?;
    }
    let mut seen = HashSet::with_capacity(tx.inputs.len());
    if !tx.inputs.iter().all(|input| seen.insert(input.prevout)) {
        return Err(RuleError::DuplicateInputs);
    }
    Ok(())
}

/// Block checks that need nothing but the block: size, version, proof of work against its own
/// bits, coinbase placement, duplicate transactions, merkle root, and every transaction's
/// context-free checks.
pub fn check_block(block: &Block, params: &Params) -> Result<(), RuleError> {
    check_hashed_block(&HashedBlock::new(block.clone()), params)
}

/// `check_block` with the hashes computed already (hashing is most of the cost of checking a
/// small block, and the chain keeps the hash and transaction ids). Cheap checks run first so
/// junk is refused before its transactions are looked at.
pub(crate) fn check_hashed_block(hashed: &HashedBlock, params: &Params) -> Result<(), RuleError> {
    let block = hashed.block();
    check_header_hashed(&block.header, &hashed.hash(), params)?;
    if hashed.encoded_len() > MAX_BLOCK_BYTES {
        return Err(RuleError::BlockTooLarge);
    }
    match block.transactions.first() {
        Some(first) if first.is_coinbase() => {}
        _ => return Err(RuleError::CoinbaseMissing),
    }
    if block.transactions[1..].iter().any(Transaction::is_coinbase) {
        return Err(RuleError::CoinbaseMultiple);
    }
    let txids = hashed.txids();
    let mut seen = HashSet::with_capacity(txids.len());
    if !txids.iter().all(|txid| seen.insert(*txid)) {
        return Err(RuleError::DuplicateTx);
    }
    if hashed.merkle_root() != block.header.merkle_root {
        return Err(RuleError::BadMerkleRoot);
    }
    block.transactions.iter().try_for_each(check_transaction)
}

/// Header checks that need nothing but the header: version and proof of work.
pub fn check_header(header: &BlockHeader, params: &Params) -> Result<(), RuleError> {
    check_header_hashed(header, &header.hash(), params)
}

/// `check_header` with the header's hash already computed; `hash` must be `header.hash()`.
pub(crate) fn check_header_hashed(
    header: &BlockHeader,
    hash: &Hash256,
    params: &Params,
) -> Result<(), RuleError> {
    if header.version != BLOCK_VERSION {
        return Err(RuleError::BadBlockVersion);
    }
    check_proof_of_work(hash, header.bits, params)
}

/// What a header's contextual checks need to know about its ancestors.
#[derive(Clone, Debug)]
pub struct HeaderContext {
    /// Times of up to the last 11 blocks ending with the parent, in any order.
    pub recent_times: Vec<u32>,
    /// What the next difficulty depends on.
    pub retarget: RetargetInput,
}

/// Median of `times` (the upper median for an even count, as Bitcoin does).
pub fn median_time(times: &[u32]) -> u32 {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or(0)
}

/// Header checks against the parent's context and the node's clock (`now_secs`, Unix seconds).
pub fn check_header_context(
    header: &BlockHeader,
    context: &HeaderContext,
    now_secs: u64,
    params: &Params,
) -> Result<(), RuleError> {
    if header.bits != next_bits(params, context.retarget) {
        return Err(RuleError::BadDiffBits);
    }
    if header.time <= median_time(&context.recent_times) {
        return Err(RuleError::TimeTooOld);
    }
    if u64::from(header.time) > now_secs + u64::from(params.max_future_block_secs) {
        return Err(RuleError::TimeTooNew);
    }
    Ok(())
}

/// Checks that the coinbase claims `height`.
pub fn check_coinbase_height(block: &Block, height: u32) -> Result<(), RuleError> {
    match block
        .transactions
        .first()
        .and_then(|tx| tx.coinbase.as_ref())
    {
        Some(data) if data.height == height => Ok(()),
        _ => Err(RuleError::CoinbaseHeight),
    }
}

/// Checks that the coinbase pays at most subsidy plus fees.
pub fn check_coinbase_amount(
    coinbase: &Transaction,
    height: u32,
    fees: Amount,
    params: &Params,
) -> Result<(), RuleError> {
    let allowed = params
        .subsidy(height)
        .checked_add(fees)
        .ok_or(RuleError::CoinbaseAmount)?;
    match coinbase.output_total() {
        Some(paid) if paid <= allowed => Ok(()),
        _ => Err(RuleError::CoinbaseAmount),
    }
}

/// Checks a non-coinbase transaction's inputs against `view` for a block at `spend_height`:
/// every input exists and is mature, its key matches the output's address, and inputs cover
/// outputs. Returns the fee. Signatures are checked separately by `verify_signatures`.
pub fn check_tx_inputs(
    tx: &Transaction,
    view: &impl UtxoView,
    spend_height: u32,
    params: &Params,
) -> Result<Amount, RuleError> {
    let mut input_total = Amount::ZERO;
    for input in &tx.inputs {
        let coin = view.coin(&input.prevout).ok_or(RuleError::MissingOrSpent)?;
        if coin.is_coinbase && spend_height.saturating_sub(coin.height) < params.coinbase_maturity {
            return Err(RuleError::PrematureCoinbaseSpend);
        }
        if Address::from_pubkey(&input.pubkey) != coin.output.address {
            return Err(RuleError::PubkeyMismatch);
        }
        input_total = input_total
            .checked_add(coin.output.amount)
            .filter(|sum| *sum <= MAX_MONEY)
            .ok_or(RuleError::InputValuesOutOfRange)?;
    }
    let output_total = tx.output_total().ok_or(RuleError::OutputTotalTooLarge)?;
    input_total
        .checked_sub(output_total)
        .ok_or(RuleError::InputsBelowOutputs)
}

/// Verifies every input's strict ed25519 signature over the transaction's sighash.
pub fn verify_signatures(tx: &Transaction) -> Result<(), RuleError> {
    let sighash = tx.sighash();
    for input in &tx.inputs {
        let key = VerifyingKey::from_bytes(&input.pubkey).map_err(|_| RuleError::BadSignature)?;
        let signature = Signature::from_bytes(&input.signature.0);
        key.verify_strict(sighash.as_bytes(), &signature)
            .map_err(|_| RuleError::BadSignature)?;
    }
    Ok(())
}
