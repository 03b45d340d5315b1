//! Block templates: the coinbase, the transaction list and the header a miner hashes, and the
//! single-threaded solve loop tests and `generate` use.
//!
//! Owns block assembly. Must not choose transactions' validity (the mempool hands over only
//! admitted ones) nor spawn threads (the shell runs workers over disjoint extra-nonce ranges).

use super::kernel::{Kernel, SearchOutcome};
use crate::consensus::pow::compact_to_target;
use crate::params::BLOCK_VERSION;
use crate::types::{
    first_leaf_branch, merkle_root, merkle_root_from_first, Address, Amount, Block, BlockHeader,
    CoinbaseData, Hash256, Padding, Transaction, TxOut,
};
use std::sync::atomic::AtomicBool;

/// Everything about the next block except its transactions.
#[derive(Clone, Copy, Debug)]
pub struct BlockSpec {
    /// The parent's hash.
    pub prev_hash: Hash256,
    /// The block's height.
    pub height: u32,
    /// The difficulty it must meet.
    pub bits: u32,
    /// Its time.
    pub time: u32,
    /// Where the coinbase pays.
    pub payout: Address,
    /// Subsidy plus the fees of the transactions.
    pub coinbase_value: Amount,
    /// Tells templates on one tip apart (each worker searches its own).
    pub extra_nonce: u64,
}

/// The coinbase paying `value` to `payout` at `height`.
pub fn coinbase_transaction(
    height: u32,
    extra_nonce: u64,
    payout: Address,
    value: Amount,
) -> Transaction {
    Transaction {
        version: Transaction::VERSION,
        coinbase: Some(CoinbaseData {
            height,
            extra_nonce,
            padding: Padding::default(),
        }),
        inputs: Vec::new(),
        outputs: vec![TxOut {
            amount: value,
            address: payout,
        }],
    }
}

/// A block for `spec` with the coinbase first and then `transactions`, nonce 0.
pub fn assemble_block(spec: &BlockSpec, transactions: Vec<Transaction>) -> Block {
    let mut all = Vec::with_capacity(transactions.len() + 1);
    all.push(coinbase_transaction(
        spec.height,
        spec.extra_nonce,
        spec.payout,
        spec.coinbase_value,
    ));
    all.extend(transactions);
    let txids: Vec<_> = all.iter().map(Transaction::txid).collect();
    Block {
        header: BlockHeader {
            version: BLOCK_VERSION,
            prev_hash: spec.prev_hash,
            merkle_root: merkle_root(&txids),
            time: spec.time,
            bits: spec.bits,
            nonce: 0,
        },
        transactions: all,
    }
}

/// The coinbase's merkle branch of a block, so rolling the extra nonce costs one hash per tree
/// level instead of rehashing every transaction.
#[derive(Clone, Debug)]
pub struct CoinbaseBranch(Vec<Hash256>);

impl CoinbaseBranch {
    /// The branch of the coinbase's merkle path in `block`, for setting extra nonces.
    pub fn of(block: &Block) -> CoinbaseBranch {
        let txids: Vec<_> = block.transactions.iter().map(Transaction::txid).collect();
        CoinbaseBranch(first_leaf_branch(&txids))
    }
}

/// Pads a block's coinbase so the block encodes to `bytes`, or a few bytes under where the
/// padding's length prefix grows (a block already that large is left alone); sets the merkle root.
pub fn pad_block(block: &mut Block, bytes: usize) {
    let mut padding = bytes.saturating_sub(block.encoded_len());
    if padding == 0 {
        return;
    }
    loop {
        let Some(data) = block
            .transactions
            .first_mut()
            .and_then(|coinbase| coinbase.coinbase.as_mut())
        else {
            return;
        };
        data.padding = Padding(vec![0; padding]);
        // The padding's tag and length prefix take a few bytes of their own: take them off.
        let over = block.encoded_len().saturating_sub(bytes);
        if over == 0 || padding <= over {
            break;
        }
        padding -= over;
    }
    let txids: Vec<Hash256> = block.transactions.iter().map(Transaction::txid).collect();
    block.header.merkle_root = merkle_root(&txids);
}

/// Rolls a block's extra nonce: rewrites the coinbase and the merkle root. `branch` must be
/// the block's own (`CoinbaseBranch::of`); only the coinbase may have changed since.
pub fn set_extra_nonce(block: &mut Block, extra_nonce: u64, branch: &CoinbaseBranch) {
    let Some(coinbase) = block.transactions.first_mut() else {
        return;
    };
    if let Some(data) = coinbase.coinbase.as_mut() {
        data.extra_nonce = extra_nonce;
    }
    block.header.merkle_root = merkle_root_from_first(&coinbase.txid(), &branch.0);
}

/// Searches nonces on one thread with the fastest kernel, rolling the extra nonce whenever the
/// nonce range runs out, until the block meets its own bits or `stop` is set. Returns whether
/// it found one.
pub fn solve_block(block: &mut Block, stop: &AtomicBool) -> bool {
    let kernel = Kernel::detect();
    let Ok(target) = compact_to_target(block.header.bits) else {
        return false;
    };
    let mut extra_nonce = block
        .transactions
        .first()
        .and_then(|tx| tx.coinbase.as_ref())
        .map_or(0, |data| data.extra_nonce);
    let branch = CoinbaseBranch::of(block);
    loop {
        match kernel
            .search(&block.header, 0..=u32::MAX, &target, stop)
            .outcome
        {
            SearchOutcome::Found(nonce) => {
                block.header.nonce = nonce;
                return true;
            }
            SearchOutcome::Stopped => return false,
            SearchOutcome::Exhausted => {
                extra_nonce = extra_nonce.wrapping_add(1);
                set_extra_nonce(block, extra_nonce, &branch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::rules::check_block;
    use crate::params::Params;

    /// An empty block on regtest's genesis, not yet solved.
    fn first_block(params: &Params) -> Block {
        let spec = BlockSpec {
            prev_hash: params.genesis_hash(),
            height: 1,
            bits: params.pow_limit_bits,
            time: params.genesis.header.time + 1,
            payout: Address([5; 20]),
            coinbase_value: params.subsidy(1),
            extra_nonce: 0,
        };
        assemble_block(&spec, Vec::new())
    }

    #[test]
    fn a_solved_template_passes_the_block_checks() {
        let params = Params::regtest();
        let mut block = first_block(&params);
        assert!(solve_block(&mut block, &AtomicBool::new(false)));
        assert_eq!(check_block(&block, &params), Ok(()));
    }

    #[test]
    fn a_block_found_by_any_kernel_passes_the_block_checks() {
        let params = Params::regtest();
        for kernel in Kernel::available() {
            let mut block = first_block(&params);
            let target = compact_to_target(block.header.bits).unwrap();
            let never = AtomicBool::new(false);
            // Start past a few nonces so the SHA-NI lanes, not only its first, are exercised.
            let report = kernel.search(&block.header, 3..=u32::MAX, &target, &never);
            let SearchOutcome::Found(nonce) = report.outcome else {
                panic!("{kernel:?} found nothing at regtest difficulty");
            };
            block.header.nonce = nonce;
            assert_eq!(check_block(&block, &params), Ok(()), "{kernel:?}");
        }
    }

    #[test]
    fn a_block_without_transactions_is_solved_without_panicking() {
        let params = Params::regtest();
        let mut block = Block {
            header: params.genesis.header,
            transactions: Vec::new(),
        };
        assert!(solve_block(&mut block, &AtomicBool::new(false)));
        assert_eq!(
            check_block(&block, &params),
            Err(crate::consensus::RuleError::CoinbaseMissing)
        );
    }

    fn test_spec() -> BlockSpec {
        BlockSpec {
            prev_hash: Hash256::ZERO,
            height: 3,
            bits: 0x207f_ffff,
            time: 1,
            payout: Address([1; 20]),
            coinbase_value: Amount(10),
            extra_nonce: 0,
        }
    }

    #[test]
    fn a_padded_block_has_the_size_asked_for_and_a_matching_merkle_root() {
        let spec = test_spec();
        for bytes in [300, 1_000, 70_000, 535_000] {
            let mut block = assemble_block(&spec, Vec::new());
            pad_block(&mut block, bytes);
            let len = block.encoded_len();
            assert!(len <= bytes && len + 4 >= bytes, "{len} for {bytes}");
            assert_eq!(block.header.merkle_root, block.compute_merkle_root());
        }
        let mut small = assemble_block(&spec, Vec::new());
        let before = small.clone();
        pad_block(&mut small, 10);
        assert_eq!(small, before, "already larger");
    }

    #[test]
    fn rolling_the_extra_nonce_changes_the_merkle_root() {
        let spec = test_spec();
        let payment = coinbase_transaction(9, 9, Address([2; 20]), Amount(3));
        let mut block = assemble_block(&spec, vec![payment.clone(), payment]);
        let branch = CoinbaseBranch::of(&block);
        let before = block.header.merkle_root;
        set_extra_nonce(&mut block, 1, &branch);
        assert_ne!(block.header.merkle_root, before);
        assert_eq!(block.header.merkle_root, block.compute_merkle_root());
    }
}
