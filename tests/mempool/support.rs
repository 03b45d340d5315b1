//! Helpers: keys, hand-made coins, signed spends, blocks, and the by-hand UTXO updates a chain
//! would make.

use ed25519_dalek::{Signer, SigningKey};
use nakachain::chain::UtxoSet;
use nakachain::consensus::Coin;
use nakachain::mempool::{Mempool, MempoolError};
use nakachain::miner::{assemble_block, BlockSpec};
use nakachain::params::Params;
use nakachain::types::{
    Address, Amount, Block, Hash256, OutPoint, SignatureBytes, Transaction, TxIn, TxOut, Txid,
};
use std::sync::Arc;

/// Height of the block a loose transaction would land in; the hand-made coins are mature there.
pub const NEXT: u32 = 200;
pub const COIN_VALUE: u64 = 1_000_000;
/// Encoded size of a one-input, one-output transaction.
pub const SMALL_TX_BYTES: usize = 181;

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn address(seed: u8) -> Address {
    Address::from_pubkey(&key(seed).verifying_key().to_bytes())
}

/// The hand-made coin number `n`, owned by key 1.
pub fn coin(n: u8) -> OutPoint {
    OutPoint {
        txid: Hash256([n; 32]),
        vout: 0,
    }
}

/// A view holding mature coinbase coins `coin(n)` for each `n`, worth `COIN_VALUE` to key 1.
pub fn funded(coins: &[u8]) -> UtxoSet {
    let mut set = UtxoSet::default();
    for n in coins {
        set.insert(
            coin(*n),
            Coin {
                output: TxOut {
                    amount: Amount(COIN_VALUE),
                    address: address(1),
                },
                height: 1,
                is_coinbase: true,
            },
        );
    }
    set
}

/// Spends `inputs` (all owned by key 1) into `outputs` (amount, owner seed), signed.
pub fn spend(inputs: &[OutPoint], outputs: &[(u64, u8)]) -> Transaction {
    let signer = key(1);
    let mut tx = Transaction {
        version: Transaction::VERSION,
        coinbase: None,
        inputs: inputs
            .iter()
            .map(|prevout| TxIn {
                prevout: *prevout,
                pubkey: signer.verifying_key().to_bytes(),
                signature: SignatureBytes([0; 64]),
            })
            .collect(),
        outputs: outputs
            .iter()
            .map(|(amount, owner)| TxOut {
                amount: Amount(*amount),
                address: address(*owner),
            })
            .collect(),
    };
    let signature = signer.sign(tx.sighash().as_bytes()).to_bytes();
    for input in &mut tx.inputs {
        input.signature = SignatureBytes(signature);
    }
    tx
}

/// A one-input transaction paying `fee` back to key 1, whose output is spendable by `spend`.
pub fn pay(input: OutPoint, input_value: u64, fee: u64) -> Transaction {
    spend(&[input], &[(input_value - fee, 1)])
}

pub fn out(tx: &Transaction, vout: u32) -> OutPoint {
    OutPoint {
        txid: tx.txid(),
        vout,
    }
}

pub fn txids(pool: &Mempool) -> Vec<Txid> {
    pool.entries().map(|entry| entry.txid).collect()
}

pub fn accept(pool: &mut Mempool, tx: &Transaction, view: &UtxoSet) -> Result<Txid, MempoolError> {
    pool.accept(tx.clone(), view, NEXT, &Params::regtest())
        .map(|accepted| accepted.txid)
}

/// Applies a confirmed transaction to `view` by hand, as the chain would.
pub fn confirm(view: &mut UtxoSet, tx: &Transaction, height: u32) {
    for input in &tx.inputs {
        assert!(
            view.spend(&input.prevout).is_some(),
            "test spends a coin twice"
        );
    }
    for (vout, output) in (0u32..).zip(&tx.outputs) {
        view.insert(
            out(tx, vout),
            Coin {
                output: *output,
                height,
                is_coinbase: tx.is_coinbase(),
            },
        );
    }
}

pub fn block(prev: Hash256, height: u32, extra_nonce: u64, txs: &[&Transaction]) -> Arc<Block> {
    let params = Params::regtest();
    let spec = BlockSpec {
        prev_hash: prev,
        height,
        bits: params.pow_limit_bits,
        time: params.genesis.header.time + height,
        payout: address(9),
        coinbase_value: params.subsidy(height),
        extra_nonce,
    };
    Arc::new(assemble_block(
        &spec,
        txs.iter().map(|tx| (*tx).clone()).collect(),
    ))
}

pub fn connect_block(view: &mut UtxoSet, block: &Block, height: u32) {
    for tx in &block.transactions {
        confirm(view, tx, height);
    }
}
