//! A regtest chain for benchmarks, shared by the bench targets through `#[path]`.

use nakachain::miner::{assemble_block, solve_block, BlockSpec};
use nakachain::params::Params;
use nakachain::types::{Address, Amount, Block, CoinbaseData, Padding, Transaction, TxOut};
use std::sync::atomic::AtomicBool;

/// A chain of `n` regtest blocks on genesis whose coinbases split the subsidy over
/// `outputs_per_block` outputs (0: one output), to make blocks of a chosen size.
pub fn regtest_chain(params: &Params, n: u32, outputs_per_block: usize) -> Vec<Block> {
    let mut prev_hash = params.genesis_hash();
    let never = AtomicBool::new(false);
    (1..=n)
        .map(|height| {
            let spec = BlockSpec {
                prev_hash,
                height,
                bits: params.pow_limit_bits,
                time: params.genesis.header.time + height,
                payout: Address([height as u8; 20]),
                coinbase_value: params.subsidy(height),
                extra_nonce: 0,
            };
            let mut block = assemble_block(&spec, Vec::new());
            if outputs_per_block > 0 {
                // Pad the coinbase with outputs that split the subsidy: a bigger, valid block.
                let each = Amount(params.subsidy(height).units() / outputs_per_block as u64);
                block.transactions[0] = Transaction {
                    version: Transaction::VERSION,
                    coinbase: Some(CoinbaseData {
                        height,
                        extra_nonce: 0,
                        padding: Padding::default(),
                    }),
                    inputs: Vec::new(),
                    outputs: vec![
                        TxOut {
                            amount: each,
                            address: Address([7; 20])
                        };
                        outputs_per_block
                    ],
                };
                block.header.merkle_root = block.compute_merkle_root();
            }
            assert!(solve_block(&mut block, &never));
            prev_hash = block.hash();
            block
        })
        .collect()
}
